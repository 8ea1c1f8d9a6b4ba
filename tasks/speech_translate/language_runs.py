"""A transcript in the languages it was spoken in, for speech-translate.

    runs = language_runs(transcript, segments_json, row_language)   # [LanguageRun(start, end, "de"), ...]
    merged = merge_runs(transcript, runs, outputs)                   # one row's translation columns

A code-switched clip ("Guten Morgen. ... Bonjour à tous.") has segments in several languages, and a
row's `language` is only the one spoken longest. Translating the whole transcript from that language
would send the other languages' sentences to the wrong model pair. So the transcript is cut into runs
of consecutive segments that share a language; each run is translated (and guarded) from its own
language, and the row's translation is the transcript with each run replaced by its translation: what
lies between runs (spaces, `[chN]` channel labels) is kept as it is. A transcript whose segments
cannot all be found in it in order, or whose text outside the segments is more than spaces and
labels, is one run in the row's language, as before.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass

from tasks.engine.row_status import RowStatus
from tasks.text.segmentation import CHANNEL_LABEL

SENTENCE_REASON = re.compile(r"^sentence (\d+(?:\+\d+)*): ")


@dataclass(frozen=True)
class LanguageRun:
    start: int
    end: int
    language: str


def language_runs(transcript: str, segments_json: str | None, language: str) -> list[LanguageRun]:
    """Stretches of `transcript` spoken in one language, in order; one run when there is one language."""
    whole = [LanguageRun(0, len(transcript), language)]
    try:
        segments = json.loads(segments_json) if segments_json else []
    except ValueError:
        return whole
    runs: list[LanguageRun] = []
    pos = 0
    for segment in segments if isinstance(segments, list) else []:
        text = str(segment.get("text") or "").strip() if isinstance(segment, dict) else ""
        if not text:
            continue
        at = transcript.find(text, pos)
        if at < 0 or not _only_layout(transcript[pos:at]):
            return whole
        spoken = segment.get("language") or (runs[-1].language if runs else language)
        if runs and runs[-1].language == spoken:
            runs[-1] = LanguageRun(runs[-1].start, at + len(text), spoken)
        else:
            runs.append(LanguageRun(at, at + len(text), spoken))
        pos = at + len(text)
    if len(runs) <= 1 or not _only_layout(transcript[pos:]):
        return whole
    return runs


def _only_layout(text: str) -> bool:
    return not CHANNEL_LABEL.sub("", text).strip()


def merge_runs(transcript: str, runs: list[LanguageRun], outputs: list[dict]) -> dict:
    """One row's translation columns from its runs' outputs (each: translation, logprob, model, status,
    error, hallucination_score, reasons, redecoded, flagged_sentences, sentences = its sentence count).
    A run that failed fails the row, one flagged flags it; scores take the worst run; flagged sentences
    and the reasons' sentence numbers count from the start of the transcript."""
    if len(outputs) == 1:
        return {k: v for k, v in outputs[0].items() if k != "sentences"}
    parts, previous = [], 0
    for run, out in zip(runs, outputs, strict=True):
        parts += [transcript[previous:run.start], out["translation"] or ""]
        previous = run.end
    parts.append(transcript[previous:])
    statuses = [out["status"] for out in outputs]
    status = next((s for s in (RowStatus.FAILED, RowStatus.FLAGGED) if s in statuses), RowStatus.OK)
    errors = [f"{run.language} part: {out['error']}" for run, out in zip(runs, outputs) if out.get("error")]
    weights = [(run.end - run.start, out["logprob"]) for run, out in zip(runs, outputs) if out["logprob"] is not None]
    scores = [out["hallucination_score"] for out in outputs if out["hallucination_score"] is not None]
    reasons, flagged, offset = [], [], 0
    for out in outputs:
        for reason in out["reasons"] or []:
            reasons.append(_renumbered(reason, offset, out["sentences"]))
        flagged += [offset + i for i in out["flagged_sentences"] or []]
        offset += out["sentences"]
    guarded = any(out["hallucination_score"] is not None for out in outputs)
    return {
        "translation": "".join(parts),
        "logprob": sum(w * lp for w, lp in weights) / sum(w for w, _ in weights) if weights else None,
        "model": ",".join(dict.fromkeys(out["model"] for out in outputs if out["model"])) or None,
        "status": status, "error": "; ".join(errors) or None,
        "hallucination_score": max(scores) if scores else None,
        "reasons": reasons if guarded else None,
        "redecoded": any(out["redecoded"] for out in outputs) if guarded else None,
        "flagged_sentences": flagged if guarded else None,
    }


def _renumbered(reason: str, offset: int, sentences: int) -> str:
    """A run's reason with its sentence numbers counted from the transcript's start."""
    match = SENTENCE_REASON.match(reason)
    if match:
        ids = "+".join(str(offset + int(i)) for i in match.group(1).split("+"))
        return f"sentence {ids}: {reason[match.end():]}"
    return f"sentence {offset}: {reason}" if sentences == 1 else reason
