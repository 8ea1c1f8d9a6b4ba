"""Typed settings of the MT hallucination guards (plain pydantic: no Prefect server needed).

`blocks.guards.MTGuardConfig` is the Prefect block that stores these settings; the plain
functions in `tasks.guards` take an `MTGuardSettings`.

Every detector turns its raw measurement into a score in [0, 1] (1 = looks like a
hallucination) and has a `weight` in [0, 1]: how much a score of 1 alone counts towards the
combined `hallucination_score` (a noisy-OR, see `tasks.guards.combine`).

The weights, `CombineSettings.leak` / `threshold` and the similarity midpoint / width defaults
are the values fitted by `bench/calibrate_mt_guards.py` on the de->en dev set (docs/guards.md);
rerun it to recalibrate. The fit is pulled towards `PRIOR_WEIGHTS`, so detectors the dev set
says little about (logprob: absent; wrong language, copies, URLs: rare) stay near their priors.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class _Settings(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)


class SimilaritySettings(_Settings):
    """Cross-lingual similarity of source and translation (multilingual USE v3 cosine)."""

    enabled: bool = Field(True, description="Embed source and translation and compare them.")
    midpoint: float = Field(
        0.30, ge=-1, le=1, description="Cosine at which the score is 0.5; lower cosine scores higher."
    )
    width: float = Field(0.06, gt=0, description="Logistic width of the cosine -> score map (smaller = sharper).")
    threads: int = Field(
        1, ge=1, le=64, description="BLAS threads for the numpy encoder (1 is fastest on small shared machines)."
    )
    triton_url: str | None = Field(
        None,
        min_length=1,
        description="Triton gRPC host:port whose `embed` model encodes (the same network on the server's CPU or "
        "GPU; cosines within 1e-5 of the in-process encoder). None: the in-process numpy encoder.",
    )
    weight: float = Field(0.90, ge=0, le=1, description="Noisy-OR weight of this detector.")


class LanguageSettings(_Settings):
    """Translation not in the target language (py3langid)."""

    enabled: bool = True
    min_letters: int = Field(
        20, ge=1, description="Letters needed for full confidence; shorter outputs are scored proportionally less."
    )
    margin_start: float = Field(
        1.0, ge=0, description="ln(P(best language) / P(target)) at which the score starts rising."
    )
    margin_full: float = Field(4.0, gt=0, description="ln(P(best language) / P(target)) at which the score is 1.")
    weight: float = Field(0.71, ge=0, le=1, description="Noisy-OR weight of this detector.")


class CopySettings(_Settings):
    """Translation is (almost) a copy of the source."""

    enabled: bool = True
    start: float = Field(
        0.5, ge=0, le=1, description="Character-trigram Jaccard overlap at which the score starts rising."
    )
    full: float = Field(0.85, ge=0, le=1, description="Overlap at which the score is 1.")
    min_letters: int = Field(
        15,
        ge=1,
        description="Sources with fewer letters (names, codes, titles) may legitimately be copied: not scored.",
    )
    weight: float = Field(0.89, ge=0, le=1, description="Noisy-OR weight of this detector.")


class RepetitionSettings(_Settings):
    """Repeated n-grams, token loops and oscillation in the translation."""

    enabled: bool = True
    max_ngram: int = Field(4, ge=1, le=8, description="Longest n-gram whose back-to-back repeats are counted.")
    full_run: int = Field(
        4, ge=2, description="Back-to-back repeats of one n-gram that give score 1 (2 repeats give a partial score)."
    )
    near_window: int = Field(
        5,
        ge=2,
        description="A content bigram coming back within this many tokens is a near repeat ('bed linen or bed linen').",
    )
    min_unit_chars: int = Field(
        3, ge=2, description="Shortest substring counted as a character loop ('WhiteWhiteWhite')."
    )
    certain_run: int = Field(
        8, ge=2,
        description="Back-to-back repeats of one n-gram, beyond the source's own, that flag the sentence "
        "whatever its combined score and in a text of any length, as an empty translation is: a degenerate loop.",
    )
    weight: float = Field(0.75, ge=0, le=1, description="Noisy-OR weight of this detector.")


class LengthSettings(_Settings):
    """Length ratio of translation to source in script-weighted characters (works for CJK, Thai...)."""

    enabled: bool = True
    low: float = Field(0.45, gt=0, description="Ratio below which the score starts rising (translation too short).")
    high: float = Field(2.2, gt=0, description="Ratio above which the score starts rising (translation too long).")
    smoothing: float = Field(
        10.0, ge=0, description="Units added to both lengths so very short rows do not swing the ratio."
    )
    script_weights: dict[str, float] = Field(
        default_factory=lambda: {
            "han": 3.0,
            "hiragana": 1.6,
            "katakana": 1.6,
            "hangul": 2.2,
            "thai": 1.0,
            "arabic": 1.2,
            "hebrew": 1.2,
            "devanagari": 1.1,
        },
        description="Latin-letter equivalents of one letter of each script (unlisted scripts count 1).",
    )
    weight: float = Field(0.36, ge=0, le=1, description="Noisy-OR weight of this detector.")


class NumberSettings(_Settings):
    """Numbers of the source are in the translation and no number is invented."""

    enabled: bool = True
    weight: float = Field(0.22, ge=0, le=1, description="Noisy-OR weight of this detector.")


class EntitySettings(_Settings):
    """URLs, e-mails, codes (A380, X.509, PKI) and names are carried over."""

    enabled: bool = True
    name_weight: float = Field(
        0.5, ge=0, le=1, description="Weight of a capitalised name relative to a URL/e-mail/code."
    )
    name_match_ratio: float = Field(0.6, ge=0, le=1, description="Fuzzy match ratio for names (München ~ Munich).")
    noun_capitalising_languages: list[str] = Field(
        default_factory=lambda: ["de", "lb"],
        description="Languages that capitalise every noun: their capitalised words are not taken for names.",
    )
    weight: float = Field(0.15, ge=0, le=1, description="Noisy-OR weight of this detector.")


class LogprobSettings(_Settings):
    """The model's mean token log-probability (optional `logprob` column)."""

    enabled: bool = True
    midpoint: float = Field(-1.6, description="Mean token log-prob at which the score is 0.5; lower scores higher.")
    width: float = Field(0.25, gt=0, description="Logistic width of the logprob -> score map.")
    weight: float = Field(
        0.3,
        ge=0,
        le=1,
        description="Noisy-OR weight: an uncalibrated prior (the dev set has no logprob), kept below "
        "the threshold so a low logprob alone does not flag.",
    )


class CombineSettings(_Settings):
    """Noisy-OR combination of detector scores and the operating point.

    Defaults: fitted by bench/calibrate_mt_guards.py (de->en dev set, FPR <= 3 % operating point);
    so are every detector's `weight` and the similarity midpoint/width. Rerun it to recalibrate.
    """

    leak: float = Field(0.010, ge=0, lt=1, description="Base rate: hallucination_score when no detector fires.")
    threshold: float = Field(0.349, gt=0, lt=1, description="hallucination_score at or above which a row is flagged.")
    flag_empty_translation: bool = Field(True, description="Always flag an empty translation of a non-empty source.")
    reason_min_score: float = Field(
        0.5, ge=0, le=1, description="Detector score at or above which its reason is reported."
    )
    several_flagged_share: float = Field(
        0.1, ge=0, le=1,
        description="The count test (combine.several_flagged): a text is also flagged when more of its sentences "
        "score at or above `threshold` than a good text of its length has; this is the share of the per-row "
        "false-positive rate the test may add. 0: a text is judged by its worst sentence alone.",
    )
    good_sentence_curve: list[tuple[float, float]] = Field(
        default_factory=lambda: [
            (0.010, 1.0), (0.0111, 0.5), (0.0141, 0.3), (0.0194, 0.2), (0.0602, 0.1), (0.2241, 0.05),
            (0.3457, 0.03), (0.3872, 0.02), (0.7129, 0.01), (0.8258, 0.005), (0.9006, 0.003),
            (0.9404, 0.002), (0.9681, 0.001),
        ],
        description="(hallucination_score, share of good sentences scoring at or above it) knots, scores rising: "
        "a text of n sentences is scored by its worst sentence mapped to the single-sentence score of equal rarity "
        "among n good ones (combine.worst_of_n), so `threshold` keeps the per-row false-positive rate at the "
        "per-sentence rate. Fitted by bench/calibrate_mt_guards.py; empty = plain worst sentence.",
    )


class MTGuardSettings(_Settings):
    """All MT hallucination-guard settings."""

    similarity: SimilaritySettings = Field(default_factory=SimilaritySettings)
    language: LanguageSettings = Field(default_factory=LanguageSettings)
    copy_source: CopySettings = Field(default_factory=CopySettings)
    repetition: RepetitionSettings = Field(default_factory=RepetitionSettings)
    length: LengthSettings = Field(default_factory=LengthSettings)
    numbers: NumberSettings = Field(default_factory=NumberSettings)
    entities: EntitySettings = Field(default_factory=EntitySettings)
    logprob: LogprobSettings = Field(default_factory=LogprobSettings)
    combine: CombineSettings = Field(default_factory=CombineSettings)

    def detector_settings(self, name: str):
        return getattr(self, name)


# Weights the calibration regularises towards (and keeps for detectors the dev set cannot inform).
PRIOR_WEIGHTS = {
    "similarity": 0.8,
    "language": 0.9,
    "copy_source": 0.9,
    "repetition": 0.8,
    "length": 0.5,
    "numbers": 0.3,
    "entities": 0.3,
    "logprob": 0.3,
}
