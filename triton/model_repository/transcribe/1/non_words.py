"""One rule for non-words (stdlib only; the same rule as tasks/guards/asr/nonwords.py, kept equal by
tests/tasks/guards/asr/test_nonwords.py): a transcript, or a segment, made only of punctuation, symbols
('...', '♪', '-') and bracketed non-speech tokens ('[Music]', '(music)', '[BLANK_AUDIO]', '*laughs*')
holds no words. Its text is "" — what a silent clip gets."""
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
