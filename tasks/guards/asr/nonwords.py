"""One rule for non-words (the same rule as triton/model_repository/transcribe/1/non_words.py, which
the Triton model uses without importing tasks; tests/tasks/guards/asr/test_nonwords.py keeps them equal):
a transcript, or a segment, made only of punctuation, symbols ('...', '♪', '-') and bracketed non-speech
tokens ('[Music]', '(music)', '[BLANK_AUDIO]', '*laughs*') holds no words. Its text is "" — what a silent clip
gets, in the engine and in the guards alike."""
from __future__ import annotations

import re

# a bracketed annotation: Whisper's sound-event captions, never spoken words
_BRACKETED = re.compile(r"\[[^\[\]]*\]|\([^()]*\)|\{[^{}]*\}|<[^<>]*>|\*[^*\n]*\*")


def is_non_words(text: str | None) -> bool:
    """True when `text` has no letter or digit outside bracketed annotations ('' included)."""
    if not text:
        return True
    return not any(char.isalnum() for char in _BRACKETED.sub(" ", text))


def words_or_empty(text: str | None) -> str:
    """`text` stripped, or "" when it holds no words."""
    return "" if is_non_words(text) else text.strip()
