"""Client batches sized to the model: the rules on configs, and the config read from the real Triton."""
import pytest

from tasks.inference.model_config import (
    FALLBACK_BATCH_SIZE,
    FALLBACK_CONCURRENCY,
    MIN_IN_FLIGHT,
    ModelBatching,
    model_batching,
    sized_requests,
)

ECHO_CONFIG = {"name": "echo", "max_batch_size": 256,
               "dynamic_batching": {"preferred_batch_size": [64, 128, 256], "max_queue_delay_microseconds": "1000"},
               "instance_group": [{"name": "echo_0", "count": 1, "kind": "KIND_CPU"}]}


def test_config_json_to_batching():
    batching = ModelBatching.from_config(ECHO_CONFIG)
    assert batching == ModelBatching("echo", 256, (64, 128, 256), instances=1, max_queue_delay_us=1000,
                                     dynamic_batching=True)
    plain = ModelBatching.from_config({"name": "m", "max_batch_size": 8})
    assert plain.preferred_batch_sizes == () and plain.instances == 1 and not plain.dynamic_batching


def test_requests_take_the_largest_preferred_size_and_keep_each_instance_busy():
    assert sized_requests(ModelBatching.from_config(ECHO_CONFIG)) == (256, MIN_IN_FLIGHT)
    two = ModelBatching("m", 64, (16, 32), instances=3)
    assert sized_requests(two) == (32, 2 * 3 * 2)  # 2 model batches per instance, 2 requests each


def test_preferred_sizes_above_max_batch_size_are_ignored():
    assert sized_requests(ModelBatching("m", 48, (16, 64)))[0] == 16
    assert sized_requests(ModelBatching("m", 48, ()))[0] == 48


def test_sizes_the_user_set_are_kept():
    batching = ModelBatching.from_config(ECHO_CONFIG)
    assert sized_requests(batching, batch_size=32, concurrency=3) == (32, 3)
    assert sized_requests(batching, batch_size=16) == (16, 32)  # in flight: 2 model batches of 16-row requests
    assert sized_requests(batching, concurrency=2) == (256, 2)


def test_no_batching_or_no_config_keeps_the_defaults():
    assert sized_requests(None) == (FALLBACK_BATCH_SIZE, FALLBACK_CONCURRENCY)
    assert sized_requests(ModelBatching("m", 0)) == (FALLBACK_BATCH_SIZE, FALLBACK_CONCURRENCY)
    assert sized_requests(None, batch_size=5) == (5, FALLBACK_CONCURRENCY)


def test_unreachable_triton_gives_none():
    assert model_batching("127.0.0.1:1", "echo", timeout_s=2) is None


@pytest.mark.usefixtures("triton_stack")
def test_reads_the_served_models_config(stack_config):
    echo = model_batching(stack_config.triton_grpc_url, "echo")
    assert echo is not None and echo.max_batch_size > 0 and echo.instances >= 1
    # a dead endpoint first in the list: the next one answers
    assert model_batching(f"127.0.0.1:1,{stack_config.triton_grpc_url}", "echo", timeout_s=2) == echo
    assert model_batching(stack_config.triton_grpc_url, "no-such-model") is None
