"""Prefect block: where Triton is and how hard to push it."""
from __future__ import annotations

from typing import Literal

from prefect.blocks.core import Block
from pydantic import Field

from tasks.triton_client import TritonCallSettings


class TritonEndpoint(Block):
    """A Triton Inference Server endpoint used by Sentinel Batch flows."""

    _block_type_name = "Sentinel Triton Endpoint"
    _block_type_slug = "sentinel-triton-endpoint"
    _description = "Triton Inference Server endpoint, timeouts and client-side concurrency."

    url: str = Field("127.0.0.1:8001", description="host:port of Triton's gRPC endpoint (HTTP port if protocol=http).")
    protocol: Literal["grpc"] = Field("grpc", description="Wire protocol. gRPC is the supported data path.")
    timeout_s: float = Field(120.0, gt=0, description="Per-request client timeout in seconds.")
    concurrency: int = Field(8, ge=1, le=256, description="Requests in flight per shard task.")
    batch_size: int = Field(32, ge=1, le=1024, description="Rows per request (<= the model's max_batch_size).")
    max_retries: int = Field(6, ge=0, le=20, description="Retries on UNAVAILABLE / timeouts, with exponential backoff.")
    backoff_s: float = Field(0.5, gt=0, description="First retry delay; doubles each retry (jittered).")

    def call_settings(self, model_name: str, decoding: dict | None = None) -> TritonCallSettings:
        return TritonCallSettings(
            url=self.url, model_name=model_name, batch_size=self.batch_size, concurrency=self.concurrency,
            timeout_s=self.timeout_s, max_retries=self.max_retries, backoff_s=self.backoff_s,
            decoding=decoding or {},
        )
