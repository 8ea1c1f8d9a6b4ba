"""Source-language identification for `source_lang=auto` (py3langid, restricted to the
languages the run may contain, so short rows are not sent to exotic languages)."""
from __future__ import annotations

import threading
from functools import lru_cache

_LOCK = threading.Lock()


@lru_cache(maxsize=8)
def _identifier(candidates: tuple[str, ...]):
    from py3langid.langid import MODEL_FILE, LanguageIdentifier

    identifier = LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)
    if candidates:
        identifier.set_languages(list(candidates))
    return identifier


def detect_languages(texts: list[str], candidates: tuple[str, ...]) -> list[tuple[str, float]]:
    """(language, probability) per text; candidates () means any language py3langid knows."""
    identifier = _identifier(tuple(sorted(candidates)))
    with _LOCK:  # the identifier keeps scratch state: one caller at a time
        return [identifier.classify(text) for text in texts]
