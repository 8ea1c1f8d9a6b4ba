"""Language identification with py3langid, loaded once per process for every caller: the source
language of `source_lang=auto` rows (translate) and the output-language guard (guards/mt/language.py).

    detect_languages(texts, candidates)  -> [(language, probability)]   restricted to `candidates`
    language_ranking(text)               -> every known language, most likely first
    known_languages()                    -> the codes py3langid knows
"""
from __future__ import annotations

import threading
from functools import lru_cache

_LOCK = threading.Lock()  # an identifier keeps scratch state: one caller at a time, whichever identifier


@lru_cache(maxsize=8)
def identifier(candidates: tuple[str, ...] = ()):
    """A py3langid identifier with normalised probabilities, restricted to `candidates` (sorted; ()
    means every language it knows), so short rows are not sent to exotic languages."""
    from py3langid.langid import MODEL_FILE, LanguageIdentifier

    found = LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)
    if candidates:
        found.set_languages(list(candidates))
    return found


def detect_languages(texts: list[str], candidates: tuple[str, ...]) -> list[tuple[str, float]]:
    """(language, probability) per text; candidates () means any language py3langid knows."""
    found = identifier(tuple(sorted(candidates)))
    with _LOCK:
        return [found.classify(text) for text in texts]


def known_languages() -> frozenset[str]:
    return frozenset(identifier().nb_classes)


def language_ranking(text: str) -> list[tuple[str, float]]:
    """All languages py3langid knows, most likely first, with normalised probabilities."""
    with _LOCK:
        return identifier().rank(text)
