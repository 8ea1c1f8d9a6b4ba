"""The Triton endpoint block sizes requests to the model unless its fields are set."""
import pytest

from blocks.triton_endpoint import TritonEndpoint
from tasks.inference.model_config import model_batching, sized_requests


@pytest.mark.usefixtures("triton_stack")
def test_unset_sizes_come_from_the_model_config(stack_config):
    url = stack_config.triton_grpc_url
    settings = TritonEndpoint(url=url).call_settings("echo")
    assert (settings.batch_size, settings.concurrency) == sized_requests(model_batching(url, "echo"))
    assert settings.batch_size <= model_batching(url, "echo").max_batch_size


@pytest.mark.usefixtures("triton_stack")
def test_sizes_set_on_the_block_win(stack_config):
    settings = TritonEndpoint(url=stack_config.triton_grpc_url, batch_size=32, concurrency=8).call_settings("echo")
    assert (settings.batch_size, settings.concurrency) == (32, 8)


def test_unreachable_triton_keeps_the_old_defaults():
    settings = TritonEndpoint(url="127.0.0.1:1", timeout_s=1).call_settings("echo", {"beam_size": 2})
    assert (settings.batch_size, settings.concurrency) == (32, 8) and settings.decoding == {"beam_size": 2}


def test_channel_age_reaches_the_clients_and_can_be_left_to_lost_connections():
    block = TritonEndpoint(url="dns:///triton.example:8001", batch_size=4, concurrency=2, channel_max_age_s=7)
    assert block.call_settings("echo").channel_max_age_s == 7
    assert TritonEndpoint(url="x:1", batch_size=4, concurrency=2, channel_max_age_s=None).call_settings(
        "echo").channel_max_age_s is None
    assert TritonEndpoint().channel_max_age_s == 20.0
