"""`sentinel blocks register`: create the blocks the flows use against the running server."""
from __future__ import annotations

import os

from blocks.guards import ASRGuardConfig, MTGuardConfig
from blocks.s3_access import DEFAULT_CREDENTIALS_BLOCK, credentials_from_env
from blocks.triton_endpoint import TritonEndpoint

DEFAULT_TRITON_BLOCK = "local-triton"
DEFAULT_GUARDS_BLOCK = "mt-guards-default"
DEFAULT_ASR_GUARDS_BLOCK = "asr-guards-default"


def register_blocks(triton_url: str | None = None, overwrite: bool = True) -> list[str]:
    TritonEndpoint.register_type_and_schema()
    url = triton_url or os.environ.get("SENTINEL_TRITON_URL", "127.0.0.1:8001")
    TritonEndpoint(url=url).save(DEFAULT_TRITON_BLOCK, overwrite=overwrite)
    credentials_from_env().save(DEFAULT_CREDENTIALS_BLOCK, overwrite=overwrite)
    MTGuardConfig.register_type_and_schema()
    MTGuardConfig().save(DEFAULT_GUARDS_BLOCK, overwrite=overwrite)
    ASRGuardConfig.register_type_and_schema()
    ASRGuardConfig().save(DEFAULT_ASR_GUARDS_BLOCK, overwrite=overwrite)
    return [f"sentinel-triton-endpoint/{DEFAULT_TRITON_BLOCK}", f"aws-credentials/{DEFAULT_CREDENTIALS_BLOCK}",
            f"sentinel-mt-guards/{DEFAULT_GUARDS_BLOCK}", f"sentinel-asr-guards/{DEFAULT_ASR_GUARDS_BLOCK}"]
