"""Small text helpers shared by the detectors: language codes (langcodes), scripts, tokens, folding."""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

# langcodes' tag distance up to which a language the identifier does not know is checked as one it
# does (< 10: "the same language, or a regional or dialect variant": nb -> no, cmn -> zh, gsw -> de);
# further (haw -> en is 20) is another language, and the row's language is said to be unchecked.
CLOSE_ENOUGH = 9


def normalise_lang(code: str | None) -> str:
    """A language code as the language identifier (tasks/text/language_id.py) knows it, '' for none.

    BCP 47 / ISO 639 tags of any form are standardised by langcodes ('en-US', 'pt_BR', 'zh-Hant',
    'deu', 'fas', 'iw', 'in' -> 'en', 'pt', 'zh', 'de', 'fa', 'he', 'id'), then matched to the
    closest language py3langid knows ('nob' -> 'nb' -> 'no'). A language it does not know stays as
    its standard code: the detectors that need it skip the row and its `reasons` say so."""
    if not code or not code.strip():
        return ""
    return _normalised(code.strip())


@lru_cache(maxsize=4096)
def _normalised(code: str) -> str:
    import langcodes

    from tasks.text.language_id import known_languages

    try:
        language = langcodes.get(code.replace("_", "-")).language or ""
    except (langcodes.LanguageTagError, ValueError):
        return code.lower()  # not a language tag ('english', '??'): kept, so a reason can name it
    if language in ("", "und"):
        return ""
    known = known_languages()
    if language in known:
        return language
    return langcodes.closest_supported_match(language, sorted(known), max_distance=CLOSE_ENOUGH) or language


# Scripts written without spaces between words: one character is one token.
UNSPACED_SCRIPTS = frozenset({"han", "hiragana", "katakana", "thai", "lao", "khmer", "myanmar", "tibetan"})
_SCRIPT_ALIASES = {"cjk": "han", "ideographic": "han", "katakana-hiragana": "katakana"}
_WIDTH_PREFIXES = ("fullwidth", "halfwidth")


@lru_cache(maxsize=65536)
def script_of(char: str) -> str:
    """Lower-case Unicode script family of a letter ('latin', 'han', 'hangul', ...); '' otherwise."""
    if not char.isalpha():
        return ""
    try:
        words = unicodedata.name(char).lower().split(" ")
    except ValueError:
        return ""
    first = words[1] if words[0] in _WIDTH_PREFIXES and len(words) > 1 else words[0]
    return _SCRIPT_ALIASES.get(first, first)


def script_profile(text: str) -> dict[str, int]:
    """Letter count per script."""
    counts: dict[str, int] = {}
    for char in text:
        script = script_of(char)
        if script:
            counts[script] = counts.get(script, 0) + 1
    return counts


def main_script(text: str) -> str:
    profile = script_profile(text)
    return max(profile, key=profile.get) if profile else ""


def letter_count(text: str) -> int:
    return sum(1 for char in text if char.isalpha())


_WORD = re.compile(r"\w+", re.UNICODE)


def tokens(text: str) -> list[str]:
    """Case-folded word tokens; characters of unspaced scripts (CJK, Thai, ...) are one token each."""
    out: list[str] = []
    for word in _WORD.findall(text.casefold()):
        if any(script_of(char) in UNSPACED_SCRIPTS for char in word):
            out.extend(_split_unspaced(word))
        else:
            out.append(word)
    return out


def _split_unspaced(word: str) -> list[str]:
    out: list[str] = []
    run = ""
    for char in word:
        if script_of(char) in UNSPACED_SCRIPTS:
            if run:
                out.append(run)
                run = ""
            out.append(char)
        else:
            run += char
    if run:
        out.append(run)
    return out


def fold(text: str) -> str:
    """Case-folded, accent-stripped letters and digits only ('München!' -> 'munchen')."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return "".join(char for char in decomposed if char.isalnum())


def char_ngrams(text: str, n: int = 3) -> set[str]:
    folded = fold(text)
    if len(folded) < n:
        return {folded} if folded else set()
    return {folded[i : i + n] for i in range(len(folded) - n + 1)}
