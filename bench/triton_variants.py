"""The tuning bench's own Triton: a copy of the model repository where each server-side setting
to compare is its own model name (same model.py, edited config.pbtxt), all in one server on its
own ports (SENTINEL_BENCH_TRITON_HTTP_PORT, default 8100; gRPC +1, metrics +2). The shared
local stack's Triton is never touched.

    with tuning_triton(VARIANTS) as url:   # "127.0.0.1:8101"
        ...  # infer on model "echo_i2", "translate_q0", ...
"""
from __future__ import annotations

import os
import re
import shutil
from contextlib import contextmanager
from dataclasses import dataclass

from common import ROOT

HTTP_PORT = int(os.environ.get("SENTINEL_BENCH_TRITON_HTTP_PORT", "8100"))
STATE_DIR = ROOT / ".local" / "bench"
REPO = STATE_DIR / "tuning-model-repository"


@dataclass(frozen=True)
class Variant:
    """`base` model's config with these settings; None keeps the base config's value."""

    name: str
    base: str  # echo | translate
    max_batch_size: int
    instances: int = 1
    preferred: tuple[int, ...] | None = None  # () = no preferred sizes
    queue_delay_us: int | None = None
    dynamic_batching: bool = True
    intra_threads: int | None = None  # translate: CTranslate2 threads per instance (0 = its default)

    def describe(self) -> str:
        if not self.dynamic_batching:
            batching = "no dynamic batching"
        else:
            preferred = "base" if self.preferred is None else (list(self.preferred) or "none")
            delay = "base" if self.queue_delay_us is None else f"{self.queue_delay_us} µs"
            batching = f"preferred {preferred}, max queue delay {delay}"
        threads = "" if self.intra_threads is None else f", intra_threads {self.intra_threads}"
        return f"{self.instances} instance(s), {batching}{threads}"


def variant_config(text: str, v: Variant) -> str:
    text = re.sub(r'^name:\s*"[^"]+"', f'name: "{v.name}"', text, flags=re.M)
    text = re.sub(r"^max_batch_size:\s*\d+", f"max_batch_size: {v.max_batch_size}", text, flags=re.M)
    text = re.sub(r"count:\s*\d+", f"count: {v.instances}", text)
    if not v.dynamic_batching:
        text = re.sub(r"dynamic_batching\s*\{[^}]*\}", "", text)
    else:
        if v.preferred is not None:
            sizes = f"preferred_batch_size: [ {', '.join(map(str, v.preferred))} ]" if v.preferred else ""
            text = re.sub(r"preferred_batch_size:\s*\[[^\]]*\]", sizes, text)
        if v.queue_delay_us is not None:
            text = re.sub(r"max_queue_delay_microseconds:\s*\d+", f"max_queue_delay_microseconds: {v.queue_delay_us}",
                          text)
    if v.intra_threads is not None:
        text = re.sub(r'(key: "intra_threads", value: \{ string_value: )"[^"]*"', rf'\1"{v.intra_threads}"', text)
    return text


def build_repository(variants: list[Variant]) -> None:
    if REPO.exists():
        shutil.rmtree(REPO)
    source = ROOT / "triton" / "model_repository"
    for v in variants:
        target = REPO / v.name
        (target / "1").mkdir(parents=True)
        shutil.copy2(source / v.base / "1" / "model.py", target / "1" / "model.py")
        (target / "config.pbtxt").write_text(variant_config((source / v.base / "config.pbtxt").read_text(), v))


@contextmanager
def tuning_triton(variants: list[Variant], timeout: float = 300.0):
    from deployments.stack import triton
    from deployments.stack.config import StackConfig

    build_repository(variants)
    log_path = STATE_DIR / "logs" / "triton-tuning.log"
    log_path.parent.mkdir(parents=True, exist_ok=True)
    log_path.write_text("")
    proc = triton.start_triton(
        repo_root=ROOT, state_dir=STATE_DIR, model_repository=REPO, models_dir=StackConfig().triton_models_dir,
        http_port=HTTP_PORT, grpc_port=HTTP_PORT + 1, metrics_port=HTTP_PORT + 2, log_path=log_path)
    try:
        triton.wait_ready(HTTP_PORT, timeout, proc=proc, log_path=log_path)
        yield f"127.0.0.1:{HTTP_PORT + 1}", proc.pid
    finally:
        triton.stop_triton(proc)
