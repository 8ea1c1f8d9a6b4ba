"""`sentinel blocks register`: create the blocks the flows use against the running server."""
from __future__ import annotations

import os

from prefect_aws import AwsCredentials

from blocks.guards import ASRGuardConfig, MTGuardConfig
from blocks.loading import MissingBlock, load_block
from blocks.s3_access import DEFAULT_CREDENTIALS_BLOCK, credentials_from_env
from blocks.triton_endpoint import TritonEndpoint

DEFAULT_TRITON_BLOCK = "local-triton"
DEFAULT_GUARDS_BLOCK = "mt-guards-default"
DEFAULT_ASR_GUARDS_BLOCK = "asr-guards-default"


def register_blocks(triton_url: str | None = None, overwrite: bool = True) -> list[str]:
    """Save the default blocks; returns "slug/name" of each block saved. With overwrite=False a block
    that already exists (perhaps edited in the UI) is left as it is and not listed."""
    url = triton_url or os.environ.get("SENTINEL_TRITON_URL", "127.0.0.1:8001")
    defaults = [(TritonEndpoint, DEFAULT_TRITON_BLOCK, lambda: TritonEndpoint(url=url)),
                (AwsCredentials, DEFAULT_CREDENTIALS_BLOCK, credentials_from_env),
                (MTGuardConfig, DEFAULT_GUARDS_BLOCK, MTGuardConfig),
                (ASRGuardConfig, DEFAULT_ASR_GUARDS_BLOCK, ASRGuardConfig)]
    saved = []
    for block_type, name, make in defaults:
        block_type.register_type_and_schema()
        if not overwrite and _exists(block_type, name):
            continue
        make().save(name, overwrite=overwrite)
        saved.append(f"{block_type.get_block_type_slug()}/{name}")
    return saved


def _exists(block_type, name: str) -> bool:
    try:
        load_block(block_type, name)
    except MissingBlock:
        return False
    return True
