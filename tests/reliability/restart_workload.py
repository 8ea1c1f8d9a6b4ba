"""A steady stream of requests through the pipeline's own clients (TritonTranslateClient on `echo`,
TritonAsrClient on `transcribe`) while a fault is injected; what it counts: rows done, rows failed
(a rejection or an unavailable error reaching the caller), the clients' retries and failovers."""
from __future__ import annotations

import asyncio
import time

from tasks.inference.asr_client import TritonAsrClient
from tasks.inference.client import TritonCallSettings, TritonRequestRejected, TritonUnavailable
from tasks.inference.translate_client import TritonTranslateClient

TEXT_ROWS = 16  # rows per translate call
CLIPS = 2  # clips per transcribe call


def spoken_clips(count: int) -> list[bytes]:
    """`count` spoken fixture clips (tests/fixtures/audio, 3.4-3.8 s each), repeated as needed."""
    from deployments.demo_speech import fixture_clips

    spoken = [c["bytes"] for c in fixture_clips() if c["speech"]]
    return [spoken[i % len(spoken)] for i in range(count)]


class Workload:
    """`translate_loops` + `asr_loops` concurrent callers, until finish() (then one more round each)."""

    def __init__(self, translate: TritonCallSettings, asr: TritonCallSettings | None = None,
                 translate_loops: int = 3, asr_loops: int = 2):
        self.translate_settings, self.asr_settings = translate, asr
        self.translate_loops, self.asr_loops = translate_loops, asr_loops if asr else 0
        self.rows_done = self.rows_failed = 0
        self.errors: list[str] = []
        self.slowest_s = 0.0
        self._stop = asyncio.Event()
        self._clients: list = []

    async def __aenter__(self) -> Workload:
        self.mt = TritonTranslateClient(self.translate_settings)
        self._clients = [self.mt]
        if self.asr_settings:
            self.asr = TritonAsrClient(self.asr_settings)
            self._clients.append(self.asr)
        self.started = time.monotonic()
        return self

    async def __aexit__(self, *exc) -> None:
        await asyncio.gather(*(c.close() for c in self._clients))

    async def finish(self) -> None:
        self._stop.set()

    async def run(self) -> None:
        clips = spoken_clips(CLIPS)
        texts = [f"Satz {i}: Der Zug kommt heute in München an." for i in range(TEXT_ROWS)]

        async def loop(call, rows: int) -> None:
            last_round = False
            while not last_round:
                last_round = self._stop.is_set()  # after finish(): one more call, on the recovered server
                began = time.monotonic()
                try:
                    await call()
                    self.rows_done += rows
                except (TritonRequestRejected, TritonUnavailable) as exc:
                    self.rows_failed += rows
                    self.errors.append(f"{type(exc).__name__}: {exc}")
                self.slowest_s = max(self.slowest_s, time.monotonic() - began)

        async def translate():
            out = await self.mt.translate(texts, "de", "en")
            assert out.texts == texts  # echo

        async def transcribe():
            results = await self.asr.transcribe(clips)
            bad = [r.error for r in results if r.error]
            if bad:
                raise TritonRequestRejected(f"clips rejected: {bad}")

        await asyncio.gather(*(loop(translate, TEXT_ROWS) for _ in range(self.translate_loops)),
                             *(loop(transcribe, CLIPS) for _ in range(self.asr_loops)))

    def figures(self) -> dict:
        counts = [c.retried for c in self._clients]
        return {"rows_done": self.rows_done, "rows_failed": self.rows_failed, "errors": self.errors,
                "requests_retried": sum(c.requests_retried for c in counts),
                "rows_retried": sum(c.rows_retried for c in counts),
                "failovers": sum(c.failovers for c in counts),
                "waited_s": round(sum(c.waited_s for c in counts), 1),
                "slowest_request_s": round(self.slowest_s, 1), "wall_s": round(time.monotonic() - self.started, 1)}
