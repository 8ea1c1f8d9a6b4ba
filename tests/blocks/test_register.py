"""The default blocks: saved when missing, an edited one left alone, a missing one named with the fix."""
import pytest

from blocks.guards import MTGuardConfig
from blocks.loading import MissingBlock, load_block
from blocks.register import DEFAULT_GUARDS_BLOCK, register_blocks
from blocks.triton_endpoint import TritonEndpoint


@pytest.mark.usefixtures("prefect_stack", "s3_stack")
def test_registering_without_overwrite_keeps_an_edited_block(stack_config):
    register_blocks(triton_url=stack_config.triton_grpc_url)
    edited = load_block(MTGuardConfig, DEFAULT_GUARDS_BLOCK)
    edited.combine.threshold = 0.123  # as if changed in the UI
    edited.save(DEFAULT_GUARDS_BLOCK, overwrite=True)
    try:
        assert register_blocks(triton_url=stack_config.triton_grpc_url, overwrite=False) == []
        assert load_block(MTGuardConfig, DEFAULT_GUARDS_BLOCK).combine.threshold == 0.123
    finally:
        register_blocks(triton_url=stack_config.triton_grpc_url)
    assert load_block(MTGuardConfig, DEFAULT_GUARDS_BLOCK).combine.threshold != 0.123


@pytest.mark.usefixtures("prefect_stack")
def test_a_missing_block_names_itself_and_the_fix():
    with pytest.raises(MissingBlock, match=r"sentinel-triton-endpoint block named 'no-such-triton'.*sentinel blocks register"):
        load_block(TritonEndpoint, "no-such-triton")
