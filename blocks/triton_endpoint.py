"""Prefect block: where Triton is and how hard to push it."""
from __future__ import annotations

from typing import Literal

from prefect.blocks.core import Block
from pydantic import Field

from tasks.inference.client import TritonCallSettings
from tasks.inference.model_config import CONFIG_TIMEOUT_S, model_batching, sized_requests


class TritonEndpoint(Block):
    """A Triton Inference Server endpoint used by Sentinel Batch flows."""

    _block_type_name = "Sentinel Triton Endpoint"
    _block_type_slug = "sentinel-triton-endpoint"
    _description = "Triton Inference Server endpoint, timeouts and client-side concurrency."

    url: str = Field(
        "127.0.0.1:8001",
        description="Triton's gRPC endpoint: host:port, or dns:///name:port (on Kubernetes the headless Service, "
                    "dns:///sentinel-triton-headless.<namespace>.svc.cluster.local:8001). Calls go round robin over "
                    "every address the name resolves to; several endpoints, comma-separated: round robin over "
                    "those that are up.")
    protocol: Literal["grpc"] = Field("grpc", description="Wire protocol. gRPC is the supported data path.")
    timeout_s: float = Field(120.0, gt=0, description="Per-request client timeout in seconds.")
    concurrency: int | None = Field(
        None, ge=1, le=256,
        description="Requests in flight per shard task; empty = enough to keep every model instance busy.")
    batch_size: int | None = Field(
        None, ge=1, le=1024,
        description="Rows per request; empty = the model's largest preferred batch size (else its max_batch_size), "
                    "read from Triton's model config at the start of a run.")
    max_retries: int = Field(
        6, ge=0, le=20,
        description="Retries of a request a ready server failed (queue full, timeout), with exponential backoff.")
    ready_timeout_s: float = Field(
        180.0, gt=0,
        description="How long a request waits in all for a server or model that is not ready (restart, drain, "
                    "reload) before its shard fails (no row fails; a rerun finishes it).")
    backoff_s: float = Field(0.5, gt=0, description="First retry delay; doubles each retry (jittered).")
    channel_max_age_s: float | None = Field(
        20.0, gt=0,
        description="A gRPC channel this old is replaced by a new one (the name resolved again; calls in flight "
                    "finish on the old one), so replicas added during a run get calls within about this long; "
                    "empty = only when a connection is lost.")

    def call_settings(self, model_name: str, decoding: dict | None = None) -> TritonCallSettings:
        """The settings a run's clients use. Rows per request and requests in flight that are not
        set here are sized to the model (tasks/inference/model_config.py: one model-config read per
        process and model; Triton unreachable: 32 rows x 8 in flight)."""
        batch_size, concurrency = self.batch_size, self.concurrency
        if batch_size is None or concurrency is None:
            batching = model_batching(self.url, model_name, timeout_s=min(self.timeout_s, CONFIG_TIMEOUT_S))
            batch_size, concurrency = sized_requests(batching, batch_size, concurrency)
        return TritonCallSettings(
            url=self.url, model_name=model_name, batch_size=batch_size, concurrency=concurrency,
            timeout_s=self.timeout_s, max_retries=self.max_retries, backoff_s=self.backoff_s,
            ready_timeout_s=self.ready_timeout_s, channel_max_age_s=self.channel_max_age_s, decoding=decoding or {},
        )
