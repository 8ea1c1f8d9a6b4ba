"""What every MT detector takes (a batch of translations, languages normalised) and the `Detector`
interface each implements; what it gives is a `tasks.guards.scores.DetectorResult`."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from tasks.guards.scores import DetectorResult
from tasks.guards.text import normalise_lang


@dataclass(frozen=True)
class TranslationBatch:
    """Rows to check. Languages are normalised ISO 639-1 codes; `logprob` is NaN where unknown."""

    src: list[str]
    mt: list[str]
    src_lang: list[str]
    tgt_lang: list[str]
    logprob: np.ndarray
    # unit vectors already computed for some of the texts (check-mt's sentence alignment): not encoded again
    known_embeddings: Mapping[str, np.ndarray] | None = None

    def __len__(self) -> int:
        return len(self.src)

    @classmethod
    def build(
        cls,
        src: Sequence[str | None],
        mt: Sequence[str | None],
        src_lang: Sequence[str | None],
        tgt_lang: Sequence[str | None],
        logprob: Sequence[float | None] | None = None,
        known_embeddings: Mapping[str, np.ndarray] | None = None,
    ) -> TranslationBatch:
        n = len(src)
        for name, column in (("mt", mt), ("src_lang", src_lang), ("tgt_lang", tgt_lang)):
            if len(column) != n:
                raise ValueError(f"column {name!r} has {len(column)} rows, src has {n}")
        if logprob is not None and len(logprob) != n:
            raise ValueError(f"column 'logprob' has {len(logprob)} rows, src has {n}")
        values = (
            np.full(n, np.nan)
            if logprob is None
            else np.array([np.nan if v is None else float(v) for v in logprob], dtype=np.float64)
        )
        return cls(
            src=[s or "" for s in src],
            mt=[m or "" for m in mt],
            src_lang=[normalise_lang(code) for code in src_lang],
            tgt_lang=[normalise_lang(code) for code in tgt_lang],
            logprob=values,
            known_embeddings=known_embeddings,
        )


class Detector(ABC):
    """One hallucination signal. Subclasses set `name` and implement `score` over a whole batch."""

    name: ClassVar[str]

    def __init__(self, settings) -> None:
        self.settings = settings

    @abstractmethod
    def score(self, batch: TranslationBatch) -> DetectorResult: ...
