"""Output-language check: is the translation in the target language? (py3langid)"""

from __future__ import annotations

import numpy as np

from tasks.guards.mt.base import Detector, TranslationBatch
from tasks.guards.mt.settings import LanguageSettings
from tasks.guards.scores import DetectorResult, ramp
from tasks.guards.text import letter_count
from tasks.text.language_id import known_languages, language_ranking

# Languages py3langid splits finely; probability mass on a sibling counts for the target.
_SIBLINGS = [
    {"no", "nb", "nn", "da"},
    {"hr", "bs", "sr"},
    {"id", "ms"},
    {"zh", "wuu", "yue"},
    {"ar", "ary", "arz"},
    {"en", "pcm"},
    {"uz", "uzs"},
    {"ku", "sdh"},
]


def accepted_labels(target: str) -> frozenset[str]:
    for group in _SIBLINGS:
        if target in group:
            return frozenset(group | {target})
    return frozenset({target})


def target_probability(ranking: list[tuple[str, float]], target: str) -> float:
    accepted = accepted_labels(target)
    return float(sum(prob for lang, prob in ranking if lang in accepted))


def log_margin(ranking: list[tuple[str, float]], target: str) -> float:
    """ln(P(best language) / P(target)): 0 when the target wins. Unlike 1 - P(target) it does
    not punish short outputs whose probability mass is spread over many languages."""
    best = ranking[0][1]
    return float(np.log(max(best, 1e-300) / max(target_probability(ranking, target), 1e-300)))


def unchecked(target: str) -> str:
    """Why a row's output language was not checked."""
    if not target:
        return "not checked: the row names no target language"
    return (f"not checked: the language identifier does not know {target!r} (nor a close variant of it; "
            "tasks/guards/text.py normalise_lang)")


class LanguageDetector(Detector):
    """Margin by which another language beats the target, damped for outputs too short to identify."""

    name = "language"
    settings: LanguageSettings

    def score(self, batch: TranslationBatch) -> DetectorResult:
        n = len(batch)
        scores = np.full(n, np.nan)
        details, notes = [""] * n, [""] * n
        known = known_languages()
        for i, (text, target) in enumerate(zip(batch.mt, batch.tgt_lang)):
            letters = letter_count(text)
            if letters == 0:
                continue
            if target not in known:  # not silently: the row's reasons say its language went unchecked
                notes[i] = unchecked(target)
                continue
            ranking = language_ranking(text)
            margin = log_margin(ranking, target)
            confidence = min(1.0, letters / self.settings.min_letters)
            scores[i] = float(ramp(margin, self.settings.margin_start, self.settings.margin_full)) * confidence
            if scores[i] > 0:
                top, prob = ranking[0]
                details[i] = f"translation looks like {top!r} ({prob:.2f}), expected {target!r}"
        return DetectorResult(self.name, scores, details, notes=notes)
