"""What every detector gives, MT and ASR alike (a score in [0, 1] and a reason per row), and the two
maps detectors use to turn a measure into a score (`logistic`, `ramp`)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass
class DetectorResult:
    """Per-row score in [0, 1] (NaN: not applicable to that row) and a short reason ('' = none)."""

    name: str
    scores: np.ndarray
    details: list[str]
    # rows the detector is certain of (a degenerate loop): flagged whatever the combined score and in a
    # text of any length, as an empty translation is; None: none
    certain: np.ndarray | None = None
    # per row, what a reader of the row's reasons must know whatever the score, e.g. a check that could
    # not be made ('' = nothing); None: nothing for any row
    notes: list[str] | None = None


def logistic(x: np.ndarray, midpoint: float, width: float) -> np.ndarray:
    """Smooth 0..1 map that is 0.5 at `midpoint` and rises with x."""
    with np.errstate(over="ignore"):
        return 1.0 / (1.0 + np.exp(-(np.asarray(x, dtype=np.float64) - midpoint) / width))


def ramp(x: np.ndarray | float, start: float, full: float) -> np.ndarray:
    """0 up to `start`, 1 from `full`, linear in between."""
    span = max(full - start, 1e-9)
    return np.clip((np.asarray(x, dtype=np.float64) - start) / span, 0.0, 1.0)
