"""Small text helpers shared by the detectors: language codes, scripts, tokens, folding."""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

# ISO 639-2/3 codes seen in the wild for languages py3langid knows by their 639-1 code.
_THREE_LETTER = {
    "eng": "en",
    "deu": "de",
    "ger": "de",
    "fra": "fr",
    "fre": "fr",
    "spa": "es",
    "ita": "it",
    "por": "pt",
    "nld": "nl",
    "dut": "nl",
    "rus": "ru",
    "ukr": "uk",
    "pol": "pl",
    "ces": "cs",
    "cze": "cs",
    "zho": "zh",
    "chi": "zh",
    "cmn": "zh",
    "jpn": "ja",
    "kor": "ko",
    "tha": "th",
    "ara": "ar",
    "heb": "he",
    "tur": "tr",
    "swe": "sv",
    "dan": "da",
    "nor": "no",
    "nob": "nb",
    "fin": "fi",
    "ell": "el",
    "gre": "el",
    "hin": "hi",
    "vie": "vi",
    "ind": "id",
    "ron": "ro",
    "rum": "ro",
    "hun": "hu",
    "bul": "bg",
}


def normalise_lang(code: str | None) -> str:
    """'en-US' / 'pt_BR' / 'zh-Hant' / 'eng' -> 'en' / 'pt' / 'zh' / 'en'; '' when unknown."""
    if not code:
        return ""
    base = re.split(r"[-_]", code.strip().lower(), maxsplit=1)[0]
    return _THREE_LETTER.get(base, base)


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
