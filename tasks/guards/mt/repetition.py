"""Repetition and oscillation: n-gram loops ('mucous mucous mucous'), repeated phrases, and
character loops inside a token ('WhiteWhiteWhite'), in excess of what the source repeats."""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass

import numpy as np

from tasks.guards.mt.base import Detector, TranslationBatch
from tasks.guards.mt.settings import RepetitionSettings
from tasks.guards.scores import DetectorResult, ramp
from tasks.guards.text import UNSPACED_SCRIPTS, script_of, tokens


def longest_run(toks: list[str], max_ngram: int) -> tuple[int, str]:
    """Most back-to-back repeats of any n-gram (n <= max_ngram) and that n-gram; (1, '') if none.

    A repeated single CJK/Thai character counts one less ('人人', 'いろいろ' are ordinary words).
    """
    best, what = 1, ""
    for n in range(1, max_ngram + 1):
        i = 0
        while i + 2 * n <= len(toks):
            unit = toks[i : i + n]
            repeats = 1
            while toks[i + repeats * n : i + (repeats + 1) * n] == unit:
                repeats += 1
            if n == 1 and script_of(unit[0][:1]) in UNSPACED_SCRIPTS:
                repeats -= 1
            if repeats > best:
                best, what = repeats, " ".join(unit)
            i += max(1, (repeats - 1) * n) if repeats > 1 else 1
    return best, what


def _is_content_bigram(a: str, b: str) -> bool:
    return a.isalpha() and b.isalpha() and max(len(a), len(b)) >= 4


def repeated_bigrams(toks: list[str]) -> tuple[float, str]:
    """Share of content-bigram occurrences that repeat an earlier one, and the most repeated bigram."""
    pairs = [pair for pair in zip(toks, toks[1:]) if _is_content_bigram(*pair)]
    counts = Counter(pairs)
    extra = sum(count - 1 for count in counts.values())
    if not extra:
        return 0.0, ""
    pair, _ = counts.most_common(1)[0]
    return extra / len(pairs), " ".join(pair)


def near_repeats(toks: list[str], window: int) -> tuple[int, str]:
    """Content bigrams that come back within `window` tokens ('bed linen or bed linen') and long
    words that come back after one token ('change and change'): oscillation that is not back to back."""
    count, example = 0, ""
    last_seen: dict[tuple[str, str], int] = {}
    for i, gram in enumerate(zip(toks, toks[1:])):
        if not _is_content_bigram(*gram):
            continue
        previous = last_seen.get(gram)
        if previous is not None and 2 < i - previous <= window:
            count, example = count + 1, example or " ".join(gram)
        last_seen[gram] = i
    for i in range(len(toks) - 2):
        word = toks[i]
        if len(word) >= 5 and word.isalpha() and toks[i + 2] == word and toks[i + 1] != word:
            count, example = count + 1, example or word
    return count, example


def char_loops(text: str, min_unit: int) -> set[str]:
    """Substrings of >= min_unit word characters repeated 3+ times back to back."""
    pattern = re.compile(rf"(\w{{{min_unit},}}?)\1{{2,}}")
    return {match.group(1) for match in pattern.finditer(text.casefold())}


@dataclass
class RepetitionProfile:
    run: int
    run_unit: str
    near: int
    near_unit: str
    bigram_repeats: float
    bigram: str
    loops: set[str]


def profile(text: str, settings: RepetitionSettings) -> RepetitionProfile:
    toks = tokens(text)
    run, unit = longest_run(toks, settings.max_ngram)
    near, near_unit = near_repeats(toks, settings.near_window)
    repeats, bigram = repeated_bigrams(toks)
    return RepetitionProfile(run, unit, near, near_unit, repeats, bigram, char_loops(text, settings.min_unit_chars))


class RepetitionDetector(Detector):
    """Loops and repeated phrases in the translation that the source does not have."""

    name = "repetition"
    settings: RepetitionSettings

    def score(self, batch: TranslationBatch) -> DetectorResult:
        n = len(batch)
        scores = np.full(n, np.nan)
        details = [""] * n
        certain = np.zeros(n, dtype=bool)
        for i, (src, mt) in enumerate(zip(batch.src, batch.mt)):
            if not mt.strip():
                continue
            src_profile, mt_profile = profile(src, self.settings), profile(mt, self.settings)
            scores[i], details[i] = self._score_row(src_profile, mt_profile)
            certain[i] = mt_profile.run - max(src_profile.run, 1) >= self.settings.certain_run
        return DetectorResult(self.name, scores, details, certain)

    def _score_row(self, src: RepetitionProfile, mt: RepetitionProfile) -> tuple[float, str]:
        """Max of: back-to-back run, nearby repeat, repeated phrase anywhere, character loop (each vs the source)."""
        excess_run = mt.run - max(src.run, 1)
        excess_near = mt.near - src.near
        excess_bigrams = mt.bigram_repeats - src.bigram_repeats
        new_loops = mt.loops - src.loops
        candidates = [
            (1.0 if new_loops else 0.0, lambda: f"character loop {sorted(new_loops)[0]!r} repeated"),
            (
                float(ramp(excess_run, 0, self.settings.full_run - 1)),
                lambda: f"{mt.run_unit!r} repeated {mt.run} times in a row",
            ),
            (
                float(ramp(excess_near, 0, 2)),
                lambda: f"{mt.near_unit!r} comes back within {self.settings.near_window} words",
            ),
            (
                float(ramp(excess_bigrams, 0.05, 0.3)),
                lambda: f"phrase {mt.bigram!r} repeated ({mt.bigram_repeats:.0%} of phrases are repeats)",
            ),
        ]
        score, describe = max(candidates, key=lambda c: c[0])
        return (score, describe()) if score > 0 else (0.0, "")
