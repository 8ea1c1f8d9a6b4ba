"""Guard transcripts.

1. Non-words: a transcript of only punctuation, symbols or bracketed non-speech tokens ('...', '♪',
   '[Music]') is empty text, as a silent clip gets (`drop_non_words`, before any status is set).
2. Hallucinations: score every `ok` transcript with words by the ASR hallucination checks, retry the
   flagged clips once through Triton with VAD on and temperature fallback (ASR_REDECODE_PARAMETERS),
   re-check, keep the better of the two.
3. Speech left out: VAD speech regions no segment covers (tasks/transcribe/coverage.py) are re-decoded on
   their own (`regions` request parameter: one language detection per region) and spliced in time
   order; what stays uncovered flags the row with the seconds missing.
Flagged rows go to the shard's quarantine part with their reasons. With channels="split" every
channel is checked on its own (its left-out speech re-decoded from that channel alone); the row is
flagged when one channel is, its reasons name the channel.

    results, verdicts = await guard_transcripts_of_clips(client, clips, results, checked, language, guard, clock)
"""
from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass, field, replace

import numpy as np

from tasks.engine.guard_clock import GuardClock
from tasks.guards.asr.checker import ASR_REDECODE_PARAMETERS, score_transcripts
from tasks.guards.asr.nonwords import is_non_words, words_or_empty
from tasks.guards.asr.settings import ASRGuardSettings, SpeechCoverageSettings
from tasks.inference.asr_client import AsrResult, TritonAsrClient
from tasks.transcribe.coverage import merge_channels, missing_reason, splice, uncovered_speech


@dataclass(frozen=True)
class TranscriptGuard:
    """What to check (ASR guard settings, speech coverage) and how to retry (request parameters, or None)."""

    checks: ASRGuardSettings = field(default_factory=ASRGuardSettings)
    redecode: dict | None = field(default_factory=lambda: dict(ASR_REDECODE_PARAMETERS))
    coverage: SpeechCoverageSettings = field(default_factory=SpeechCoverageSettings)

    def config(self) -> dict:
        return {"checks": self.checks.model_dump(), "redecode": self.redecode, "coverage": self.coverage.model_dump()}


@dataclass
class GuardVerdict:
    """One clip's guard outcome (None fields: the clip was not checked)."""

    score: float | None = None
    reasons: list[str] | None = None
    flagged: bool = False
    redecoded: bool = False
    missing_s: float | None = None  # speech seconds no segment covers (after the retry)


def drop_non_words(result: AsrResult | None) -> AsrResult | None:
    """The result with non-word text as "" and non-word segments removed (channels too); None/errors as is."""
    if result is None or result.error is not None or result.text is None:
        return result
    segments = [s for s in result.segment_list if not is_non_words(s.get("text"))]
    channels = [drop_non_words(c) for c in result.channels] if result.channels else result.channels
    text = words_or_empty(result.text)
    if text == result.text and len(segments) == len(result.segment_list) and channels == result.channels:
        return result
    silent = {"no_speech_prob": 1.0, "compression_ratio": 0.0, "avg_logprob": 0.0} if not text else {}
    return replace(result, text=text, segments=json.dumps(segments, ensure_ascii=False), channels=channels, **silent)


def _score(results: list[AsrResult], guard: TranscriptGuard) -> tuple[np.ndarray, np.ndarray, list[list[str]]]:
    columns = {name: [getattr(r, name) for r in results] for name in
               ("avg_logprob", "no_speech_prob", "compression_ratio", "duration_s", "speech_s", "language")}
    return score_transcripts({"text": [r.text for r in results], **columns}, guard.checks)


async def _hallucination_pass(client: TritonAsrClient, clips: list[bytes], results: list[AsrResult],
                              language: str | None, guard: TranscriptGuard, prompts: list[str | None] | None = None
                              ) -> tuple[list[AsrResult], list[GuardVerdict]]:
    """Score the results with words; retry the flagged ones; keep the better result of each."""
    verdicts = [GuardVerdict() for _ in results]
    heard = [i for i, r in enumerate(results) if not is_non_words(r.text)]
    if not heard:
        return results, verdicts
    results = list(results)
    score, flagged, reasons = await asyncio.to_thread(_score, [results[i] for i in heard], guard)
    for j, i in enumerate(heard):
        verdicts[i] = GuardVerdict(float(score[j]), reasons[j], bool(flagged[j]))
    retry = [i for i in heard if verdicts[i].flagged]
    if retry and guard.redecode is not None:
        decoding = {**client.settings.decoding, **guard.redecode}
        again = await client.transcribe([clips[i] for i in retry], language, decoding=decoding,
                                        prompts=[prompts[i] for i in retry] if prompts else None)
        usable = [(i, drop_non_words(r)) for i, r in zip(retry, again) if r.error is None]
        heard_again = [(i, r) for i, r in usable if not is_non_words(r.text)]
        for i, result in usable:
            verdicts[i].redecoded = True
            if is_non_words(result.text):  # the retry (VAD on) heard nothing: the silent clip's answer
                results[i], verdicts[i] = result, GuardVerdict(redecoded=True)
        if heard_again:
            score2, flagged2, reasons2 = await asyncio.to_thread(_score, [r for _, r in heard_again], guard)
            for (i, result), s, f, why in zip(heard_again, score2, flagged2, reasons2):
                if s < verdicts[i].score:
                    results[i] = result
                    verdicts[i] = GuardVerdict(float(s), why, bool(f), True)
    return results, verdicts


async def _coverage_pass(client: TritonAsrClient, clips: list[bytes], results: list[AsrResult],
                         verdicts: list[GuardVerdict], language: str | None, guard: TranscriptGuard,
                         prompts: list[str | None] | None = None) -> list[AsrResult]:
    """Retry each result's uncovered speech on its own and splice it in; flag what stays uncovered."""
    settings = guard.coverage
    gaps = [uncovered_speech(r.region_list, r.segment_list, settings) for r in results]
    retry = [i for i, g in enumerate(gaps) if sum(x.seconds for x in g) >= settings.min_missing_s]
    results = list(results)
    if retry and settings.retry:
        decoding = {**client.settings.decoding, **(guard.redecode or {})}
        decoding.pop("channels", None)  # regions are retried on the one channel they came from

        async def again(i: int) -> AsrResult:
            regions = json.dumps([[round(g.start, 3), round(g.end, 3)] for g in gaps[i]])
            [result] = await client.transcribe([clips[i]], language, decoding={**decoding, "regions": regions},
                                               prompts=[prompts[i]] if prompts else None)
            return result

        for i, extra in zip(retry, await asyncio.gather(*(again(i) for i in retry))):
            verdicts[i].redecoded = True
            if extra.error is None and not is_non_words(extra.text):
                results[i] = splice(results[i], drop_non_words(extra))
                gaps[i] = uncovered_speech(results[i].region_list, results[i].segment_list, settings)
    for i in range(len(results)):
        verdicts[i].missing_s = round(sum(g.seconds for g in gaps[i]), 3)
        if verdicts[i].missing_s >= settings.min_missing_s:
            verdicts[i].flagged = True
            verdicts[i].reasons = [*(verdicts[i].reasons or []), missing_reason(gaps[i])]
    return results


async def _guard_group(client: TritonAsrClient, clips: list[bytes], results: list[AsrResult],
                       language: str | None, guard: TranscriptGuard, prompts: list[str | None] | None = None
                       ) -> tuple[list[AsrResult], list[GuardVerdict]]:
    results, verdicts = await _hallucination_pass(client, clips, results, language, guard, prompts)
    if guard.coverage.enabled:
        spliced = await _coverage_pass(client, clips, results, verdicts, language, guard, prompts)
        rescore = [i for i, (a, b) in enumerate(zip(results, spliced)) if a is not b and not is_non_words(b.text)]
        if rescore:  # the spliced text is new text: the hallucination checks see it too
            score, flagged, reasons = await asyncio.to_thread(_score, [spliced[i] for i in rescore], guard)
            for j, i in enumerate(rescore):
                kept = [r for r in (verdicts[i].reasons or []) if r.startswith("untranscribed speech")]
                verdicts[i].score = float(score[j])
                verdicts[i].reasons = [*reasons[j], *kept]
                verdicts[i].flagged = bool(flagged[j]) or bool(kept)
        results = spliced
    return results, verdicts


async def guard_transcripts_of_clips(client: TritonAsrClient, clips: list[bytes | None],
                                     results: list[AsrResult | None], checked: list[int], language: str | None,
                                     guard: TranscriptGuard, clock: GuardClock,
                                     prompts: list[str | None] | None = None
                                     ) -> tuple[list[AsrResult | None], list[GuardVerdict]]:
    """Check results[checked] (rows transcribed `ok`, with or without text); clips[i] are their audio,
    prompts[i] their own prompts (retries send them again). Returns the kept results and one verdict
    per clip. Split-channel results are checked per channel."""
    verdicts = [GuardVerdict() for _ in results]
    if not checked:
        return results, verdicts
    results = list(results)
    with clock.timed():
        mixed = [i for i in checked if not results[i].channels]
        if mixed:
            kept, found = await _guard_group(client, [clips[i] for i in mixed], [results[i] for i in mixed],
                                             language, guard, [prompts[i] for i in mixed] if prompts else None)
            for i, result, verdict in zip(mixed, kept, found):
                results[i], verdicts[i] = result, verdict
        for i in (i for i in checked if results[i].channels):
            results[i], verdicts[i] = await _guard_channels(client, clips[i], results[i], language, guard,
                                                            prompts[i] if prompts else None)
    return results, verdicts


async def _guard_channels(client: TritonAsrClient, clip: bytes, result: AsrResult, language: str | None,
                          guard: TranscriptGuard, prompt: str | None = None) -> tuple[AsrResult, GuardVerdict]:
    """Hallucination checks (no re-decoding) and speech coverage per channel: a channel's uncovered
    speech is re-decoded from that channel alone (`channel` + `regions`) and spliced in; the row is
    rebuilt from its channels and flagged when one channel is, each reason naming its channel."""
    channels = list(result.channels or [])
    verdict = GuardVerdict(redecoded=False)
    if guard.coverage.enabled:
        settings = guard.coverage
        decoding = {**client.settings.decoding, **(guard.redecode or {})}
        decoding.pop("channels", None)
        gaps = [uncovered_speech(c.region_list, c.segment_list, settings) for c in channels]
        for c, channel_gaps in enumerate(gaps):
            if not settings.retry or sum(g.seconds for g in channel_gaps) < settings.min_missing_s:
                continue
            regions = json.dumps([[round(g.start, 3), round(g.end, 3)] for g in channel_gaps])
            [extra] = await client.transcribe([clip], language, decoding={**decoding, "channel": c, "regions": regions},
                                              prompts=[prompt] if prompt else None)
            verdict.redecoded = True
            if extra.error is None and not is_non_words(extra.text):
                channels[c] = splice(channels[c], drop_non_words(extra))
                gaps[c] = uncovered_speech(channels[c].region_list, channels[c].segment_list, settings)
        if verdict.redecoded:
            result = merge_channels(result, channels)
    heard = [c for c, r in enumerate(channels) if not is_non_words(r.text)]
    reasons: list[str] = []
    if heard:
        score, flagged, why = await asyncio.to_thread(_score, [channels[c] for c in heard], guard)
        verdict.score = float(np.max(score))
        verdict.flagged = bool(np.any(flagged))
        reasons = [f"channel {c}: {w}" for c, row in zip(heard, why) for w in row]
    if guard.coverage.enabled:
        verdict.missing_s = round(sum(g.seconds for channel_gaps in gaps for g in channel_gaps), 3)
        for c, channel_gaps in enumerate(gaps):
            if sum(g.seconds for g in channel_gaps) >= guard.coverage.min_missing_s:
                verdict.flagged = True
                reasons.append(f"channel {c}: {missing_reason(channel_gaps)}")
    verdict.reasons = reasons if heard or reasons else None
    return result, verdict
