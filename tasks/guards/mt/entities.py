"""URLs, e-mails, codes and names carried over from the source into the translation.

* URLs and e-mails must appear in the translation (case-insensitive, scheme and trailing
  slash ignored): a copied URL passes. A URL, e-mail or code in the translation that the
  source does not have is reported too (an invented link or model number).
* Codes - tokens mixing digits and capitals (A380, X.509, COVID-19) - must appear exactly
  (case and punctuation folded). Short all-caps acronyms (PKI, NATO) must appear fuzzily
  (UNO ~ UN) and count like names: acronyms are often translated (EGB -> ETUC).
* Names - capitalised words inside a sentence - are only read in source languages that do not
  capitalise every noun, not in headline-case text, only between texts of the same script,
  and match fuzzily on accent-folded letters (München ~ Munich, Wien ~ Vienna).
Names and acronyms are not checked from translation back to source: translations add
capitalised words (Council, Member States) far too often for that to mean anything.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from difflib import SequenceMatcher

import numpy as np

from tasks.guards.mt.base import Detector, TranslationBatch
from tasks.guards.mt.settings import EntitySettings
from tasks.guards.scores import DetectorResult
from tasks.guards.text import fold, main_script

_URL = re.compile(
    r"(?:https?://|www\.)[^\s<>\"')\]]+|\b[a-z0-9-]+(?:\.[a-z0-9-]+)*\.(?:com|org|net|edu|gov|int|info|biz|io|eu|[a-z]{2})(?:/[^\s<>\"')\]]*)?\b"
)
_EMAIL = re.compile(r"\b[\w.+-]+@[\w-]+(?:\.[\w-]+)+\b")
_CODE = re.compile(r"\b(?=[\w.-]*\d)(?=[\w.-]*[A-Z])[\w][\w.-]*\w\b")
_ACRONYM = re.compile(r"\b[A-ZÄÖÜ]{2,5}\b")
_CAPITALISED = re.compile(r"\b[A-ZÀ-ÖØ-Þ][^\W\d_]{2,}\b")
_SENTENCE_START = re.compile(r"(?:^\s*|[.!?:;\"'«»„“”(\[]\s*|\s[-–—]\s*)$")
_NUMBER_WITH_UNIT = re.compile(r"\d[\d.,]*[-–]?[^\W\d_]+")  # 3rd, 5km, 22-Zoll: the numbers guard's job


@dataclass(frozen=True)
class Entity:
    kind: str  # url | email | code | acronym | name
    text: str

    @property
    def strict(self) -> bool:
        """URLs, e-mails and codes: must match exactly, checked in both directions."""
        return self.kind in {"url", "email", "code"}


def _norm_url(url: str) -> str:
    url = url.casefold().rstrip(".,;:!?/")
    return re.sub(r"^(?:https?://)?(?:www\.)?", "", url)


def extract_entities(text: str, names: bool) -> list[Entity]:
    """Entities of `text`; capitalised names only when `names` (see the module doc)."""
    found: list[Entity] = []
    spans: list[tuple[int, int]] = []

    def add(kind: str, match: re.Match, value: str | None = None) -> None:
        if not any(s <= match.start() < e for s, e in spans):
            found.append(Entity(kind, value or match.group(0)))
            spans.append(match.span())

    for kind, pattern in (("email", _EMAIL), ("url", _URL)):
        for match in pattern.finditer(text):
            add(kind, match)
    for match in _CODE.finditer(text):
        if not _NUMBER_WITH_UNIT.fullmatch(match.group(0)):
            add("code", match, _trim_code(match.group(0)))
    if not _shouting(text):
        for match in _ACRONYM.finditer(text):
            add("acronym", match)
    if names and not _headline_case(text):
        for match in _CAPITALISED.finditer(text):
            if not _SENTENCE_START.search(text[: match.start()]):
                add("name", match)
    return found


def _trim_code(code: str) -> str:
    """Drop word parts glued on after the code: 'X.509-Schlüsseln' -> 'X.509'."""
    segments = code.split("-")
    digits = [i for i, segment in enumerate(segments) if any(c.isdigit() for c in segment)]
    return "-".join(segments[: digits[-1] + 1]) if digits else code


def _shouting(text: str) -> bool:
    """All-caps prose ('Er STIMMT DARIN ÜBEREIN'): its capitals are not acronyms."""
    return sum(1 for w in re.findall(r"[^\W\d_]{5,}", text) if w.isupper()) >= 2


def _headline_case(text: str) -> bool:
    """'Mutual Recognition Agreement': capitals mark a title, not names."""
    words = re.findall(r"[^\W\d_]{4,}", text)
    return len(words) >= 2 and sum(w[0].isupper() for w in words) > 0.6 * len(words)


def is_present(entity: Entity, other: str, other_words: set[str], name_ratio: float) -> bool:
    if entity.kind == "url":
        return _norm_url(entity.text) in other.casefold()
    if entity.kind == "email":
        return entity.text.casefold() in other.casefold()
    if entity.kind == "code":
        return fold(entity.text) in fold(other)
    target = fold(entity.text)
    if target in other_words:
        return True
    ratio = name_ratio if entity.kind == "name" else 0.6
    return any(_similar(target, word, ratio) for word in other_words)


def _similar(a: str, b: str, ratio: float) -> bool:
    matcher = SequenceMatcher(None, a, b, autojunk=False)
    return matcher.real_quick_ratio() >= ratio and matcher.quick_ratio() >= ratio and matcher.ratio() >= ratio


def _words(text: str) -> set[str]:
    """Folded words, and hyphenated compounds both whole and split ('PAT-tested' -> pattested, pat, tested)."""
    words: set[str] = set()
    for token in re.findall(r"[\w.-]+", text):
        words.update(fold(part) for part in [token, *re.split(r"[.-]", token)])
    words.discard("")
    return words


class EntityDetector(Detector):
    """Weighted share of source entities missing from the translation (plus invented URLs/codes)."""

    name = "entities"
    settings: EntitySettings

    def score(self, batch: TranslationBatch) -> DetectorResult:
        n = len(batch)
        scores = np.full(n, np.nan)
        details = [""] * n
        for i in range(n):
            scores[i], details[i] = self._score_row(batch.src[i], batch.mt[i], batch.src_lang[i])
        return DetectorResult(self.name, scores, details)

    def _score_row(self, src: str, mt: str, src_lang: str) -> tuple[float, str]:
        if not src.strip() or not mt.strip():
            return float("nan"), ""
        read_names = src_lang not in self.settings.noun_capitalising_languages and main_script(src) == main_script(mt)
        src_entities = extract_entities(src, names=read_names)
        mt_strict = [e for e in extract_entities(mt, names=False) if e.strict]
        if not src_entities and not mt_strict:
            return float("nan"), ""
        missing = self._absent(src_entities, mt)
        invented = self._absent(mt_strict, src)
        total = self._weight(src_entities) + self._weight(mt_strict)
        score = (self._weight(missing) + self._weight(invented)) / total
        parts = []
        if missing:
            parts.append("missing " + ", ".join(e.text for e in missing))
        if invented:
            parts.append("not in source " + ", ".join(e.text for e in invented))
        return score, ("entities " + "; ".join(parts)) if parts else ""

    def _absent(self, entities: list[Entity], other: str) -> list[Entity]:
        words = _words(other)
        return [e for e in entities if not is_present(e, other, words, self.settings.name_match_ratio)]

    def _weight(self, entities: list[Entity]) -> float:
        return sum(1.0 if e.strict else self.settings.name_weight for e in entities)
