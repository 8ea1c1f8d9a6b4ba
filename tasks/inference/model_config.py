"""Client batches sized to the model: read a model's batching from Triton's model config
(tritonclient `get_model_config`) once per process, and size requests to it.

    batching = model_batching("127.0.0.1:8001", "echo")   # ModelBatching(max_batch_size=256, ...)
    batch_size, concurrency = sized_requests(batching)      # 256 rows a request, 4 in flight

Rules (`sized_requests`), unless the user set a value:
* rows per request = the largest preferred batch size the model's dynamic batcher lists (it is
  what the server wants to run), else `max_batch_size`; never above `max_batch_size`;
* requests in flight = enough that every model instance has one batch running and one waiting
  (the dynamic batcher merges what is queued), counted in full model batches, at least
  MIN_IN_FLIGHT. Each request costs ~0.4 ms of client CPU whatever its size, so fewer, fuller
  requests leave the client's CPU to the rest of the pipeline.
A model without batching (`max_batch_size` 0) or a config that cannot be read keeps the
defaults (FALLBACK_BATCH_SIZE × FALLBACK_CONCURRENCY).
"""
from __future__ import annotations

import functools
import logging
import math
from dataclasses import dataclass

log = logging.getLogger(__name__)

FALLBACK_BATCH_SIZE = 32  # the sizes used before the model config was read (and when it cannot be)
FALLBACK_CONCURRENCY = 8
MIN_IN_FLIGHT = 4  # one response travelling back, one being built, two at the server
MAX_IN_FLIGHT = 64
CONFIG_TIMEOUT_S = 10.0


@dataclass(frozen=True)
class ModelBatching:
    """What Triton's config says about batching for one model."""

    model_name: str
    max_batch_size: int  # 0: the model does not batch
    preferred_batch_sizes: tuple[int, ...] = ()
    instances: int = 1
    max_queue_delay_us: int = 0
    dynamic_batching: bool = False

    @classmethod
    def from_config(cls, config: dict) -> ModelBatching:
        """From `get_model_config(..., as_json=True)["config"]` (int64 fields come as strings)."""
        dynamic = config.get("dynamic_batching")
        groups = config.get("instance_group") or []
        instances = sum(int(g.get("count") or 1) for g in groups) or 1
        return cls(
            model_name=str(config.get("name", "")), max_batch_size=int(config.get("max_batch_size") or 0),
            preferred_batch_sizes=tuple(sorted(int(s) for s in (dynamic or {}).get("preferred_batch_size") or [])),
            instances=instances, max_queue_delay_us=int((dynamic or {}).get("max_queue_delay_microseconds") or 0),
            dynamic_batching=dynamic is not None)


def sized_requests(batching: ModelBatching | None, batch_size: int | None = None,
                   concurrency: int | None = None) -> tuple[int, int]:
    """(rows per request, requests in flight) for this model; a value given is kept as given."""
    if batching is None or batching.max_batch_size <= 0:
        return batch_size or FALLBACK_BATCH_SIZE, concurrency or FALLBACK_CONCURRENCY
    if batch_size is None:
        fitting = [s for s in batching.preferred_batch_sizes if 0 < s <= batching.max_batch_size]
        batch_size = max(fitting) if fitting else batching.max_batch_size
    if concurrency is None:
        # each instance: one full model batch running, one queued; in requests of `batch_size` rows
        per_batch = math.ceil(batching.max_batch_size / batch_size)
        concurrency = min(MAX_IN_FLIGHT, max(MIN_IN_FLIGHT, 2 * batching.instances * per_batch))
    return batch_size, concurrency


def model_batching(url: str, model_name: str, timeout_s: float = CONFIG_TIMEOUT_S) -> ModelBatching | None:
    """The model's batching from the Triton at `url` (gRPC host:port; several comma-separated:
    the first that answers), cached per process; None (logged) when no server can be asked:
    callers keep their defaults, and the shard tasks report Triton's own error when they call it."""
    errors = []
    for one in [u.strip() for u in url.split(",") if u.strip()]:
        try:
            return _read_batching(one, model_name, timeout_s)
        except Exception as exc:
            errors.append(f"{one}: {exc}")
    log.warning("could not read Triton model config of %r (%s); using batch %d x %d in flight",
                model_name, "; ".join(errors) or "no url", FALLBACK_BATCH_SIZE, FALLBACK_CONCURRENCY)
    return None


@functools.lru_cache(maxsize=64)
def _read_batching(url: str, model_name: str, timeout_s: float) -> ModelBatching:
    import tritonclient.grpc as grpcclient

    client = grpcclient.InferenceServerClient(url)
    try:
        config = client.get_model_config(model_name, as_json=True, client_timeout=timeout_s)["config"]
    finally:
        client.close()
    return ModelBatching.from_config(config)
