"""Split texts into sentences for translation and put the translations back together exactly.

    doc = segment_text(text, "de", max_chars=500)
    doc.sentences        # what goes to the model, one unit each (no surrounding whitespace)
    doc.separators       # len(sentences) + 1: before the first, between each pair, after the last
    doc.starts           # character offset of each sentence in `text`
    doc.reassemble(translations) == separators[0] + t0 + separators[1] + ... + separators[-1]
    doc.reassemble(doc.sentences) == text   # always

Sentence boundaries come from sentencex (language-aware rules for ~300 languages); each sentence
is located in the text, so offsets are exact. The segmenter was chosen by measurement against pysbd,
blingfire, the Moses splitter, Punkt and syntok (docs/documents.md, bench/compare_segmenters.py).
Whitespace around a sentence (spaces, newlines, paragraph breaks) is kept as a separator, so the
layout survives translation; so are the channel labels of a split-channel transcript (`[ch1] `) and the
speaker labels of a diarized one (`[S2] `).
A sentence longer than `max_chars` is split at clause boundaries
(, ; : – — and their CJK forms), then at spaces; a run with no such boundary longer than
`max_chars` cannot be cut without breaking a word, and `TooLongSentence` says where it is.
"""
from __future__ import annotations

import logging
import math
import re
from collections.abc import Callable
from dataclasses import dataclass

import sentencex

logger = logging.getLogger(__name__)

# Characters after which a long sentence may be split (the character stays with the left part).
CLAUSE_END = re.compile(r"[,;:\u2013\u2014\u3001\uff0c\uff1b\uff1a\u060c](?=\s)|[\u3001\uff0c\uff1b\uff1a]")
SPACE = re.compile(r"\s+")
DEFAULT_MAX_SENTENCE_CHARS = 500
# The translate model bounds a row's output at 2 x its source tokens + 10, rounded up to a power of two
# and capped at 256 unless the request sets max_decoding_length (up to 1024). A sentence has at most
# about one token per character (+ </s>), so up to MODEL_BOUND_CHARS characters the model's own bound is
# never the cap; longer sentences (up to 500 characters, under the model's 512 input tokens) get an
# explicit bound of the same formula in characters.
MODEL_BOUND_CHARS = 120


def decoding_bound(chars: int) -> int | None:
    """max_decoding_length to request for a sentence of `chars` characters (None: the model's own bound
    already fits): 2 x (chars + 1) + 10, rounded up to 512 or 1024 so sentences share requests."""
    if chars <= MODEL_BOUND_CHARS:
        return None
    return 512 if 2 * (chars + 1) + 10 <= 512 else 1024


class TooLongSentence(ValueError):
    """A stretch of text longer than the limit with no clause boundary or space to split it at."""


@dataclass(frozen=True)
class SegmentedText:
    sentences: list[str]
    separators: list[str]
    starts: list[int]

    def __len__(self) -> int:
        return len(self.sentences)

    def reassemble(self, translations: list[str]) -> str:
        """The separators with `translations` (one per sentence, in order) between them."""
        if len(translations) != len(self.sentences):
            raise ValueError(f"{len(translations)} translations for {len(self.sentences)} sentences")
        return join_sentences(self.separators, translations)


def join_sentences(separators: list[str], texts: list[str]) -> str:
    """separators[0] + texts[0] + separators[1] + ... + separators[-1]: a text put back together."""
    parts = [separators[0]]
    for text, separator in zip(texts, separators[1:]):
        parts += [text, separator]
    return "".join(parts)


def length_weighted_mean(sentences: list[str], values: list[float | None]) -> float | None:
    """The mean of per-sentence values (e.g. logprobs) weighted by each source sentence's length (a
    stand-in for its token count); sentences without a value are left out, None when none has one."""
    pairs = [(len(s), v) for s, v in zip(sentences, values) if v is not None]
    total = sum(w for w, _ in pairs)
    return sum(w * v for w, v in pairs) / total if total else None


def _language(lang: str | None) -> str:
    return (lang or "en").strip().lower().split("-")[0].split("_")[0] or "en"


# Every character Python's str.splitlines breaks at: \n, \r, vertical tab, form feed, the file/group/record
# separators, NEL (U+0085) and the Unicode line and paragraph separators (U+2028, U+2029).
LINE = re.compile(r"[^\n\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029]+")
# Whitespace other than the ASCII space (no-break spaces, U+202F before French punctuation, em and
# ideographic spaces, tabs): sentencex 1.0 panics on some of it before a period ("Anhang B\u00a0."), so it
# sees each such character as a plain space; one character for one, so offsets stay those of the text.
OTHER_SPACE = re.compile(r"[^\S ]")
# A channel label of a split-channel transcript ("[ch0] Hallo. [ch1] Ja.") or a speaker label of a diarized
# one ("[S1] Hallo. [S2] Ja."): it ends the sentence before it and stays in the separator, so it comes back
# exactly and is never sent to the model.
CHANNEL_LABEL = re.compile(r"\[(?:ch|S)\d+\]")


def _stretches(text: str, line: re.Match) -> list[tuple[int, int]]:
    """(start, end) of the parts of a line between channel labels."""
    if "[" not in line.group():
        return [line.span()]
    parts, pos = [], line.start()
    for label in CHANNEL_LABEL.finditer(text, line.start(), line.end()):
        parts.append((pos, label.start()))
        pos = label.end()
    parts.append((pos, line.end()))
    return [(a, b) for a, b in parts if text[a:b].strip()]


def sentence_spans(text: str, lang: str | None) -> list[tuple[int, int]]:
    """(start, end) of each sentence in `text`, surrounding whitespace excluded. A line break always
    ends a sentence (so newlines, subtitle lines and paragraph breaks stay where they are); each line
    is split by sentencex and each sentence located in the text itself (sentencex sometimes drops
    whitespace between its pieces), so the spans and the separators between them rebuild `text` exactly."""
    spans = []
    language = _language(lang)
    plain = OTHER_SPACE.sub(" ", text)  # what sentencex reads: same length, same offsets
    for line in LINE.finditer(text):
        for first, last in _stretches(text, line):
            pos = first
            for piece in _segment(language, plain[first:last]):
                stripped = piece.strip()
                if not stripped:
                    continue
                start = plain.find(stripped, pos, last)
                if start < 0:  # never seen; a segmenter change must not cut or reorder text silently
                    raise AssertionError(f"segmenter returned text not found after offset {pos}: {stripped[:40]!r}")
                spans += _split_after_colons(text, start, start + len(stripped))
                pos = start + len(stripped)
    return spans


def _segment(language: str, stretch: str) -> list[str]:
    """sentencex's sentences of `stretch`; the whole stretch as one sentence where sentencex panics. Its
    Rust core raises pyo3's PanicException, a BaseException that no `except Exception` of a shard stops:
    a single such row crashed the whole flow run. The stretch is still translated and guarded whole
    (split at clauses if over the limit), so nothing is lost; the warning names its start."""
    try:
        return list(sentencex.segment(language, stretch))
    except BaseException as exc:
        if type(exc).__name__ != "PanicException":
            raise
        logger.warning("sentencex failed on %r... (%s); the line is kept as one sentence", stretch[:60], exc)
        return [stretch]


# A colon followed by a capitalised word starts a new statement ("Sie sagte: Das Zimmer war sauber."):
# a boundary for translation and for the guards (a detached sentence after a colon must not hide in the
# clause before it). Measured on the dev documents: docs/documents.md.
COLON_BREAK = re.compile(r"[:\uff1a]\s+(?=[\"'„“«»(]?\s?[A-ZÄÖÜÀ-ÖØ-Þ])")


def _split_after_colons(text: str, start: int, end: int) -> list[tuple[int, int]]:
    spans = []
    for match in COLON_BREAK.finditer(text, start, end):
        spans.append((start, match.start() + 1))
        start = match.end()
    spans.append((start, end))
    return spans


def _split_long(text: str, start: int, end: int, max_chars: int) -> list[tuple[int, int]]:
    """Cut text[start:end] into pieces of at most max_chars, at the last clause boundary that fits,
    else the last space; pieces exclude the whitespace between them."""
    pieces = []
    while end - start > max_chars:
        window = text[start:start + max_chars + 1]
        cut = max((m.end() for m in CLAUSE_END.finditer(window) if m.end() <= max_chars), default=0)
        if cut < max_chars // 4:  # a clause break only near the start: prefer the last space
            cut = max((m.start() for m in SPACE.finditer(window) if 0 < m.start() <= max_chars), default=cut)
        if cut <= 0:
            raise TooLongSentence(
                f"{end - start} characters at offset {start} with no space or clause break within "
                f"{max_chars} characters (max_sentence_chars)")
        piece_end = start + cut
        pieces.append((start, len(text[start:piece_end].rstrip()) + start))
        start = piece_end + (len(text[piece_end:end]) - len(text[piece_end:end].lstrip()))
    if end > start:
        pieces.append((start, end))
    return pieces


def segment_text(text: str, lang: str | None, max_chars: int = DEFAULT_MAX_SENTENCE_CHARS) -> SegmentedText:
    """Sentences of `text` (at most `max_chars` each), their offsets and the separators between them."""
    spans = []
    for start, end in sentence_spans(text, lang):
        spans += _split_long(text, start, end, max_chars) if end - start > max_chars else [(start, end)]
    separators, previous = [], 0
    for start, end in spans:
        separators.append(text[previous:start])
        previous = end
    separators.append(text[previous:])
    return SegmentedText([text[s:e] for s, e in spans], separators, [s for s, _ in spans])


# Sentence alignment of a source text and its translation (for checking translations made elsewhere,
# e.g. `sentinel check-mt` on whole documents): a monotone alignment, Gale-Church style, by length and,
# when a similarity is given, by meaning (as Bertalign/Vecalign do with sentence embeddings).
# Moves (source sentences, translation sentences) -> penalty; 1:0 leaves a source sentence untranslated
# (an omission: the guards flag its empty translation), 0:1 adds a translation sentence to its neighbour.
ALIGN_MOVES = {(1, 1): 0.0, (1, 2): 2.5, (2, 1): 2.5, (2, 2): 4.0, (1, 3): 5.0, (3, 1): 5.0,
               (1, 0): 6.0, (0, 1): 6.0}
ALIGN_SPREAD = 0.35  # sd of log(translation length / source length) around the text's own ratio
# Weight of (1 - cosine) per sentence of a unit; a sentence left out (1:0, 0:1) costs half of it. Chosen on
# documents of the MT dev set (bench/document_guards.py): 2-4 give the same alignments, 8 starts merging
# a hallucinated sentence into a neighbour to hide its low cosine.
ALIGN_MEANING_WEIGHT = 3.0
# How far (in sentences) the search first strays from the straight line between the two texts' starts and
# ends: O(sentences x band) instead of O(source x translation sentences) (a 600-sentence document took 11 s).
# An alignment that reaches the band's edge is searched again in a band twice as wide.
ALIGN_BAND = 30

# cosine of the source sentences [i, ii) and the translation sentences [j, jj), each side taken as one text
UnitSimilarity = Callable[[int, int, int, int], float]


def align_sentences(src: list[str], mt: list[str], similarity: UnitSimilarity | None = None,
                    meaning_weight: float = ALIGN_MEANING_WEIGHT) -> list[tuple[list[int], list[int]]]:
    """Monotone alignment of source sentences to translation sentences covering both: a list of
    (source indices, translation indices) units. Equal counts with plausible lengths align 1:1.
    With `similarity`, each unit also costs meaning_weight x (1 - cosine) per sentence it holds, so
    where lengths leave a choice the sentences that say the same thing are paired. The alignment keeps
    within a band around the diagonal, widened until the alignment no longer touches its edge."""
    if not src or not mt:
        return [(list(range(len(src))), list(range(len(mt))))] if src or mt else []
    src_len = [len(s) + 10 for s in src]
    mt_len = [len(m) + 10 for m in mt]
    ratio = math.log(sum(mt_len) / sum(src_len))
    m, n = len(src), len(mt)
    width = ALIGN_BAND
    while True:
        units, strayed = _best_path(src_len, mt_len, ratio, similarity, meaning_weight, width)
        if not strayed or width >= max(m, n):
            break
        width *= 2
    merged: list[tuple[list[int], list[int]]] = []
    for s_ids, m_ids in units:  # a translation sentence with no source joins the unit before (or after)
        if not s_ids and merged:
            merged[-1][1].extend(m_ids)
        elif merged and not merged[-1][0]:
            merged[-1] = (s_ids, merged[-1][1] + m_ids)
        else:
            merged.append((s_ids, m_ids))
    return merged


def _best_path(src_len: list[int], mt_len: list[int], ratio: float, similarity: UnitSimilarity | None,
               meaning_weight: float, width: int) -> tuple[list[tuple[list[int], list[int]]], bool]:
    """align_sentences' dynamic programme within `width` sentences of the diagonal: the units in order,
    and whether the path came within a sentence of the band's edge."""
    m, n = len(src_len), len(mt_len)
    inf = float("inf")
    cost = [[inf] * (n + 1) for _ in range(m + 1)]
    back: list[list[tuple[int, int] | None]] = [[None] * (n + 1) for _ in range(m + 1)]
    cost[0][0] = 0.0

    def band(i: int) -> range:
        return range(max(0, math.floor(i * n / m) - width), min(n, math.ceil(i * n / m) + width) + 1)

    for i in range(m + 1):
        for j in band(i):
            if cost[i][j] == inf:
                continue
            for (a, b), penalty in ALIGN_MOVES.items():
                ii, jj = i + a, j + b
                if ii > m or jj > n:  # a cell outside band(ii) is never expanded
                    continue
                if a and b:
                    x, y = sum(src_len[i:ii]), sum(mt_len[j:jj])
                    step = ((math.log(y / x) - ratio) / ALIGN_SPREAD) ** 2 / 2 + penalty
                    if similarity is not None:
                        step += meaning_weight * (1 - similarity(i, ii, j, jj)) * (a + b) / 2
                else:
                    step = penalty + (meaning_weight / 2 if similarity is not None else 0.0)
                if cost[i][j] + step < cost[ii][jj]:
                    cost[ii][jj], back[ii][jj] = cost[i][j] + step, (a, b)
    units, i, j, strayed = [], m, n, False
    while i or j:
        strayed = strayed or abs(j - i * n / m) >= width - 1
        a, b = back[i][j]
        units.append((list(range(i - a, i)), list(range(j - b, j))))
        i, j = i - a, j - b
    units.reverse()
    return units, strayed
