"""Issue 17's failure, isolated to the client: a steady stream of requests (echo, 16 rows each, and
transcribe, 2 clips each) through the Triton client of an older checkout and through today's, while a
private tritonserver is stopped with SIGTERM (drain, unload, exit) and restarted 10 s later. Counts the
rows whose request ended rejected (would be `failed` rows) or unavailable (a failed shard, retried).
Each caller sends its next call 0.1 s after a rejection (as the next batch of a shard would follow):
counts are per call of 16 rows / 2 clips, not distinct input rows.

    .venv/bin/python -m tests.reliability.client_before_after /tmp/before   # a checkout of 858cd1a

A whole flow run meets the drain's short "unknown model" window only by chance (the client's backoff
may step over it); a steady stream meets it every time. Merged into bench/results/reliability.json
as `triton_client_before_after` and re-rendered into docs/reliability.md.
"""
from __future__ import annotations

import asyncio
import importlib.util
import json
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace

from tests.reliability.conftest import RESULTS
from tests.reliability.restart_workload import spoken_clips
from tests.reliability.triton_servers import TritonServer

DOWN_S, LOOPS = 10.0, 4


def load_client_module(path: Path, name: str):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def client_of_tree(tree: Path, name: str):
    """The translate client and its settings class of a checkout: one file before the layout of
    tasks/ by concern (tasks/triton_client.py), the inference package after it."""
    single = tree / "tasks" / "triton_client.py"
    if single.exists():
        return load_client_module(single, name)
    if tree.resolve() != Path(__file__).resolve().parents[2]:
        raise SystemExit(f"{tree}: give a checkout from before the tasks/ layout change, or this one")
    from tasks.inference import client, translate_client

    return SimpleNamespace(TritonCallSettings=client.TritonCallSettings,
                           TritonTranslateClient=translate_client.TritonTranslateClient)


async def stream(module, url: str, stop: threading.Event) -> dict:
    """LOOPS echo callers and LOOPS // 2 transcribe callers until `stop`, then one more call each."""
    texts = [f"Satz {i}: Der Zug kommt heute an." for i in range(16)]
    clips = spoken_clips(2)
    counts = {"rows_ok": 0, "rows_rejected": 0, "rows_unavailable": 0, "calls": 0, "calls_rejected": 0,
              "messages": {}}
    echo = module.TritonTranslateClient(module.TritonCallSettings(url=url, model_name="echo"))
    asr = module.TritonTranslateClient(module.TritonCallSettings(url=url, model_name="transcribe"))

    async def call_echo():
        await echo.translate(texts, "de", "en")

    async def call_asr():
        inputs = [module.raw_input("AUDIO", len(clips), module.encode_bytes_tensor(clips))]
        async with asr._slots:
            await asr._with_retries(inputs, None, {})

    async def loop(call, rows: int):
        last = False
        while not last:
            last = stop.is_set()
            counts["calls"] += 1
            try:
                await call()
                counts["rows_ok"] += rows
            except module.TritonRequestRejected as exc:
                counts["rows_rejected"] += rows
                counts["calls_rejected"] += 1
                key = str(exc.__cause__ or exc)[:160]
                counts["messages"][key] = counts["messages"].get(key, 0) + rows
                await asyncio.sleep(0.1)  # the next batch's rows come after some work: no tight loop
            except module.TritonUnavailable:
                counts["rows_unavailable"] += rows

    await asyncio.gather(*(loop(call_echo, len(texts)) for _ in range(LOOPS)),
                         *(loop(call_asr, len(clips)) for _ in range(LOOPS // 2)))
    await echo.close()
    await asr.close()
    return counts


def measure(module, server: TritonServer) -> dict:
    stop = threading.Event()
    box: dict = {}
    runner = threading.Thread(target=lambda: box.update(asyncio.run(stream(module, server.grpc_url, stop))))
    runner.start()
    time.sleep(2.0)
    started = time.monotonic()
    how, stop_s = server.graceful_stop()
    time.sleep(DOWN_S)
    restart_s = server.restart()
    stop.set()
    runner.join(600)
    return box | {"stopped_by": how, "stop_s": round(stop_s, 1), "restart_s": round(restart_s, 1),
                  "down_s": round(time.monotonic() - started, 1)}


def main(before_tree: str) -> None:
    repo = Path(__file__).resolve().parents[2]
    modules = {"before": client_of_tree(Path(before_tree), "before_client"), "after": client_of_tree(repo, "after_client")}
    with tempfile.TemporaryDirectory(prefix="sentinel-client-ba-") as tmp:
        server = TritonServer.start(Path(tmp), models=("echo", "transcribe"))
        try:
            figures = {label: measure(module, server) for label, module in modules.items()}
        finally:
            server.stop()
    doc = json.loads(RESULTS.read_text()) if RESULTS.exists() else {"scenarios": {}}
    ok = figures["after"]["rows_rejected"] == 0 and figures["after"]["rows_unavailable"] == 0
    doc["scenarios"]["triton_client_before_after"] = {
        "title": "Issue 17 before/after, the client alone: a steady request stream through a SIGTERM drain and "
                 "restart", "outcome": "survived" if ok else "lost",
        "measured_at": datetime.now(UTC).isoformat(timespec="seconds"), "before_code": before_tree, **figures}
    RESULTS.write_text(json.dumps(doc, indent=2, sort_keys=True, default=str) + "\n")
    from tests.reliability.report import write_markdown

    write_markdown(doc)
    print(json.dumps(figures, indent=1))


if __name__ == "__main__":
    main(sys.argv[1])
