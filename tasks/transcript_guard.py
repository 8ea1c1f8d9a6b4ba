"""Guard transcripts: score every `ok` transcript with the ASR hallucination checks, retry the
flagged clips once through Triton with VAD on and temperature fallback (ASR_REDECODE_PARAMETERS),
re-check, keep the better of the two, and mark what is still flagged (it goes to the shard's
quarantine part with its reasons).

    results, guarded = await guard_transcripts_of_clips(client, clips, results, language, guard, clock)
"""
from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

import numpy as np

from tasks.checks.asr_checker import ASR_REDECODE_PARAMETERS, score_transcripts
from tasks.checks.asr_settings import ASRGuardSettings
from tasks.shard_runner import GuardClock
from tasks.triton_asr_client import AsrResult, TritonAsrClient


@dataclass(frozen=True)
class TranscriptGuard:
    """What to check (ASR guard settings) and how to retry (request parameters, or None)."""

    checks: ASRGuardSettings = field(default_factory=ASRGuardSettings)
    redecode: dict | None = field(default_factory=lambda: dict(ASR_REDECODE_PARAMETERS))

    def config(self) -> dict:
        return {"checks": self.checks.model_dump(), "redecode": self.redecode}


@dataclass
class GuardVerdict:
    """One clip's guard outcome (None fields: the clip was not checked)."""

    score: float | None = None
    reasons: list[str] | None = None
    flagged: bool = False
    redecoded: bool = False


def _score(results: list[AsrResult], guard: TranscriptGuard) -> tuple[np.ndarray, np.ndarray, list[list[str]]]:
    columns = {name: [getattr(r, name) for r in results] for name in
               ("avg_logprob", "no_speech_prob", "compression_ratio", "duration_s", "speech_s", "language")}
    return score_transcripts({"text": [r.text for r in results], **columns}, guard.checks)


async def guard_transcripts_of_clips(client: TritonAsrClient, clips: list[bytes | None],
                                     results: list[AsrResult | None], checked: list[int], language: str | None,
                                     guard: TranscriptGuard, clock: GuardClock
                                     ) -> tuple[list[AsrResult | None], list[GuardVerdict]]:
    """Check results[checked]; retry the flagged ones (clips[i] are their audio); return the kept
    results and one verdict per clip."""
    verdicts = [GuardVerdict() for _ in results]
    if not checked:
        return results, verdicts
    results = list(results)
    with clock.timed():
        score, flagged, reasons = await asyncio.to_thread(_score, [results[i] for i in checked], guard)
        for j, i in enumerate(checked):
            verdicts[i] = GuardVerdict(float(score[j]), reasons[j], bool(flagged[j]))
        retry = [i for i in checked if verdicts[i].flagged]
        if retry and guard.redecode is not None:
            decoding = {**client.settings.decoding, **guard.redecode}
            again = await client.transcribe([clips[i] for i in retry], language, decoding=decoding)
            usable = [(i, r) for i, r in zip(retry, again) if r.error is None]
            if usable:
                score2, flagged2, reasons2 = await asyncio.to_thread(_score, [r for _, r in usable], guard)
                for (i, result), s, f, why in zip(usable, score2, flagged2, reasons2):
                    verdicts[i].redecoded = True
                    if s < verdicts[i].score:
                        results[i] = result
                        verdicts[i] = GuardVerdict(float(s), why, bool(f), True)
    return results, verdicts
