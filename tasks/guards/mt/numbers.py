"""Numbers preserved: every number of the source appears in the translation and none is invented.

Formats differ by language, so a number is read as the set of values it can mean:
`1,000` / `1.000` -> {1000, 1.0}; `1 000` -> {1000}; `3,5` / `3.5` -> {3.5}; `1.234,5` -> {1234.5};
`2,5 Mio.` / `2.5 million` -> {2.5, 2500000}. Two mentions match when their value sets meet.
Small number words (`three`, `drei`, `trois`) and the day/month parts of dates are "soft": they
can match a digit but are never counted missing.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

from tasks.guards.mt.base import Detector, TranslationBatch
from tasks.guards.mt.settings import NumberSettings
from tasks.guards.scores import DetectorResult

_NUMBER = re.compile(r"(?<![\w.,:])(?:\d{1,3}(?:[ \u00a0\u202f\u2009]\d{3})+(?![\d])|\d+(?:[.,:'\u2019]\d+)*)")
_NEXT_WORD = re.compile(r"\s*([^\W\d_]+)")

_SCALE_WORDS = (  # a number followed by one of these may also mean number x factor
    (1e3, "thousand tausend mille mil k"),
    (1e6, "million millions millionen mio mn m millones millón milioni milhões miljoen"),
    (1e9, "billion billions bn milliarde milliarden mrd milliard milliards miliardi"),
    (1e12, "billion billions billionen trillion"),  # English vs German/French 'billion'
    (1e18, "trillion"),
)
_SCALES: dict[str, tuple[float, ...]] = {}
for _factor, _words in _SCALE_WORDS:
    for _word in _words.split():
        _SCALES[_word] = (*_SCALES.get(_word, ()), _factor)

_NUMBER_WORDS = (  # 0..12 in en, de, fr, es, it, pt, nl
    "zero null zéro cero nul",
    "one eins ein eine un une uno una um uma een",
    "two zwei deux dos due dois duas twee",
    "three drei trois tres tre três drie",
    "four vier quatre cuatro quattro quatro",
    "five fünf cinq cinco cinque vijf",
    "six sechs seis sei zes",
    "seven sieben sept siete sette sete zeven",
    "eight acht huit ocho otto oito",
    "nine neun neuf nueve nove negen",
    "ten zehn dix diez dieci dez tien",
    "eleven elf onze once undici",
    "twelve zwölf douze doce dodici doze twaalf",
)
_WORDS = {word: value for value, words in enumerate(_NUMBER_WORDS) for word in words.split()}
_TIME_WORDS = frozenset("uhr h hrs pm am p a heures horas ore o".split())  # 19.30 Uhr, 7.30 p.m., 5 o'clock
_WORD_TOKEN = re.compile(r"[^\W\d_]+")


@dataclass(frozen=True)
class NumberMention:
    text: str
    values: frozenset[float]
    soft: bool = False


def _key(value: float) -> float:
    return float(f"{value:.6g}")


def read_values(token: str) -> list[frozenset[float]]:
    """Possible values of a number token; a date or version ('12.05.2018') gives one set per part."""
    token = re.sub(r"[\s'\u2019]", "", token)  # space / apostrophe thousands grouping: 1 000, 1'000
    if ":" in token:
        clock = clock_values(token)
        return [clock] if clock else [frozenset({_key(float(p))}) for p in re.split(r"[.,:]", token) if p]
    separators = set(re.findall(r"[.,]", token))
    if not separators:
        return [frozenset({_key(float(token))})]
    if len(separators) == 2:
        decimal = max(token.rfind("."), token.rfind(","))
        whole = re.sub(r"[.,]", "", token[:decimal])
        return [frozenset({_key(float(f"{whole}.{token[decimal + 1 :]}"))})]
    parts = re.split(r"[.,]", token)
    if len(parts) == 2:
        head, tail = parts
        values = {_key(float(f"{head}.{tail}"))}
        if len(tail) == 3 and len(head) <= 3 and head != "0":
            values.add(_key(float(head + tail)))
        return [frozenset(values)]
    if len(parts[0]) <= 3 and all(len(part) == 3 for part in parts[1:]):
        return [frozenset({_key(float("".join(parts)))})]
    return [frozenset({_key(float(part))}) for part in parts]  # date / version: part by part


def clock_values(token: str) -> frozenset[float] | None:
    """A clock time as 24 h and 12 h readings: '19.30' / '19:30' ~ '7.30' ~ '7:30' (p.m.); None if not a time."""
    match = re.fullmatch(r"(\d{1,2})[.:,](\d{2})", token)
    if not match or int(match.group(1)) > 24 or int(match.group(2)) > 59:
        return None
    hour, minute = int(match.group(1)), int(match.group(2)) / 100
    hours = {hour, hour % 12 or 12}
    return frozenset(_key(h + minute) for h in hours) | (frozenset(map(float, hours)) if minute == 0 else frozenset())


def _next_word(text: str, end: int) -> str:
    following = _NEXT_WORD.match(text, end)
    return following.group(1).casefold() if following else ""


def _scaled(values: frozenset[float], text: str, end: int) -> frozenset[float]:
    factors = _SCALES.get(_next_word(text, end), ())
    return values | {_key(v * f) for v in values for f in factors}


def extract_numbers(text: str) -> list[NumberMention]:
    mentions: list[NumberMention] = []
    for match in _NUMBER.finditer(text):
        clock = clock_values(match.group(0)) if _next_word(text, match.end()) in _TIME_WORDS else None
        parts = [clock] if clock else read_values(match.group(0))
        compound = len(parts) > 1
        for values in parts:
            soft = compound and max(values) <= 59  # day / month of a date, hour / minute of a time
            mentions.append(NumberMention(match.group(0), _scaled(values, text, match.end()), soft))
    for match in _WORD_TOKEN.finditer(text):
        value = _WORDS.get(match.group(0).casefold())
        if value is not None:
            mentions.append(NumberMention(match.group(0), frozenset({float(value)}), soft=True))
    return mentions


def unmatched(src: list[NumberMention], mt: list[NumberMention]) -> tuple[list[NumberMention], list[NumberMention]]:
    """Hard source mentions with no partner in the translation, and hard translation mentions with
    none in the source (each mention pairs with at most one on the other side)."""
    free_mt = list(mt)
    missing: list[NumberMention] = []
    for mention in sorted(src, key=lambda m: m.soft):
        partner = next((m for m in sorted(free_mt, key=lambda m: m.soft) if m.values & mention.values), None)
        if partner is not None:
            free_mt.remove(partner)
        elif not mention.soft:
            missing.append(mention)
    extra = [m for m in free_mt if not m.soft]
    return missing, extra


class NumberDetector(Detector):
    """Share of numbers missing from, or invented in, the translation."""

    name = "numbers"
    settings: NumberSettings

    def score(self, batch: TranslationBatch) -> DetectorResult:
        n = len(batch)
        scores = np.full(n, np.nan)
        details = [""] * n
        for i, (src, mt) in enumerate(zip(batch.src, batch.mt)):
            src_numbers, mt_numbers = extract_numbers(src), extract_numbers(mt)
            hard = sum(not m.soft for m in src_numbers) + sum(not m.soft for m in mt_numbers)
            if not hard:
                continue
            missing, extra = unmatched(src_numbers, mt_numbers)
            scores[i] = (len(missing) + len(extra)) / hard
            details[i] = _describe(missing, extra)
        return DetectorResult(self.name, scores, details)


def _describe(missing: list[NumberMention], extra: list[NumberMention]) -> str:
    parts = []
    if missing:
        parts.append("missing " + ", ".join(m.text for m in missing))
    if extra:
        parts.append("not in source " + ", ".join(m.text for m in extra))
    return "numbers " + "; ".join(parts) if parts else ""
