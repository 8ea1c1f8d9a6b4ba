"""Typed settings of the ASR hallucination guards (plain pydantic: no Prefect server needed).

`blocks.guards.ASRGuardConfig` is the Prefect block that stores these settings; the functions in
`tasks.guards.asr.checker` take an `ASRGuardSettings`.

Every detector turns one measurement of a transcript into a score in [0, 1] (1 = looks like a
hallucination) and has a `weight` in [0, 1]: how much a score of 1 alone counts towards the
combined `hallucination_score` (the noisy-OR of `tasks.guards.combine`, as for MT).

The defaults are set by hand from Whisper's own rules (no-speech 0.6 / log-prob -1.0, compression
ratio 2.4), silero VAD's behaviour (it pads every speech span by 0.4 s, so real speech never reads
as under ~0.3 s) and speaking rates (conversational English ~12-15 letters/s, fast ~20-22); they are
checked, not fitted, by `bench/measure_asr_guards.py` (docs/guards.md, "ASR guards").
"""

from __future__ import annotations

import re

from pydantic import BaseModel, ConfigDict, Field, field_validator

from tasks.guards.mt.settings import LengthSettings


class _Settings(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)


class NoSpeechTextSettings(_Settings):
    """Transcript text where voice-activity detection (silero, `speech_s`) found no speech."""

    enabled: bool = Field(True, description="Score transcripts by the seconds of speech VAD found in the clip.")
    silent_speech_s: float = Field(
        0.05, ge=0, description="Seconds of VAD speech at or below which text scores 1 (nothing was said)."
    )
    some_speech_s: float = Field(
        0.3,
        gt=0,
        description="Seconds of VAD speech at or above which text scores 0 (silero pads real speech by 0.4 s, "
        "so a spoken word never reads as less).",
    )
    weight: float = Field(0.9, ge=0, le=1, description="Noisy-OR weight of this detector.")


class NoSpeechProbSettings(_Settings):
    """Whisper's own silence rule as a score: high NO_SPEECH_PROB together with low AVG_LOGPROB."""

    enabled: bool = True
    no_speech_start: float = Field(0.5, ge=0, le=1, description="no_speech_prob at which the score starts rising.")
    no_speech_full: float = Field(
        0.8, ge=0, le=1, description="no_speech_prob at which this half of the score is 1 (Whisper drops at 0.6)."
    )
    logprob_start: float = Field(-0.6, le=0, description="avg_logprob below which the score starts rising.")
    logprob_full: float = Field(
        -1.0, le=0, description="avg_logprob at or below which this half of the score is 1 (Whisper's -1.0)."
    )
    weight: float = Field(
        0.75, ge=0, le=1, description="Noisy-OR weight; the score is the product of the two halves."
    )


class CompressionRatioSettings(_Settings):
    """gzip compression ratio of the text: loops and repeated phrases compress far better than speech."""

    enabled: bool = True
    start: float = Field(2.0, gt=0, description="Compression ratio at which the score starts rising.")
    full: float = Field(2.4, gt=0, description="Compression ratio at which the score is 1 (Whisper's threshold).")
    window_chars: int = Field(
        400,
        ge=50,
        description="Texts longer than this are measured in windows of this many characters (about one 30 s "
        "Whisper window), max over windows: a long transcript compresses better without being a loop.",
    )
    weight: float = Field(0.9, ge=0, le=1, description="Noisy-OR weight of this detector.")


class SpeechRateSettings(_Settings):
    """Letters per second of speech: more text than the audio can hold. Little text for a lot of speech
    (a missed passage) is not a hallucination and is not scored."""

    enabled: bool = True
    start_letters_per_s: float = Field(
        25.0, gt=0, description="Rate at which the score starts rising (fast English speech is ~20-22 letters/s)."
    )
    full_letters_per_s: float = Field(40.0, gt=0, description="Rate at which the score is 1.")
    min_speech_s: float = Field(
        1.0,
        gt=0,
        description="Floor on the seconds divided by, so one word on a short clip never reads as fast speech.",
    )
    script_weights: dict[str, float] = Field(
        default_factory=lambda: dict(LengthSettings().script_weights),
        description="Latin-letter equivalents of one letter of each script (a Han character ~3), as the MT "
        "length check uses; unlisted scripts count 1, digits 1, spaces and punctuation 0.",
    )
    weight: float = Field(0.8, ge=0, le=1, description="Noisy-OR weight of this detector.")


class ASRRepetitionSettings(_Settings):
    """Back-to-back n-gram loops, near repeats, repeated phrases and character loops in the transcript
    (the MT repetition measures, with no source to compare to, so with more tolerance: people repeat)."""

    enabled: bool = True
    max_ngram: int = Field(4, ge=1, le=8, description="Longest n-gram whose back-to-back repeats are counted.")
    run_start: int = Field(
        3, ge=1, description="Back-to-back repeats of one n-gram that still score 0 ('no, no, no')."
    )
    full_run: int = Field(6, ge=2, description="Back-to-back repeats of one n-gram that score 1.")
    near_window: int = Field(
        5, ge=2, description="A content bigram coming back within this many tokens is a near repeat."
    )
    near_start: int = Field(1, ge=0, description="Near repeats (per window) that still score 0 (a self-correction).")
    near_full: int = Field(3, ge=1, description="Near repeats (per window) that score 1.")
    bigram_start: float = Field(
        0.15, ge=0, le=1, description="Share of repeated content bigrams (per window) at which the score starts rising."
    )
    bigram_full: float = Field(0.4, ge=0, le=1, description="Share of repeated content bigrams that scores 1.")
    min_unit_chars: int = Field(
        3, ge=2, description="Shortest substring counted as a character loop ('1.1.1.1', 'WhiteWhiteWhite')."
    )
    window_tokens: int = Field(
        60,
        ge=10,
        description="Tokens per window (about 20-30 s of speech; windows overlap by half): repeats are counted "
        "within a window so a long transcript that keeps its topic does not look repetitive.",
    )
    weight: float = Field(0.8, ge=0, le=1, description="Noisy-OR weight of this detector.")


# Regular expressions over the normalised transcript (case-folded, punctuation -> spaces, music
# symbols -> '♪'); each must cover the text it stands for, and matches are taken at word boundaries.
LOW_SPEECH_PHRASES = [
    # English closers and fillers Whisper writes on silence, noise and music
    r"(thank you|thanks)( (so|very) much)?( (all|everyone|guys))?"
    r"( for (watching|listening|your (attention|time)|joining( us)?|viewing))?",
    r"(please )?(don t forget to )?(like( and| &)? )?(share( and)? )?subscribe( to (my|our|the) channel)?",
    r"see you (next time|later|soon|in the next (video|one|episode))",
    r"(good)?bye( bye)*",
    r"you",
    r"(okay|ok|so|oh|uh|um|hmm|mm|ah)",
    r"(music|upbeat music|soft music|applause|laughter|laughs|silence|blank audio|no audio|inaudible|noise)",
    r"♪( ♪)*",
    r"(subtitles|subtitled|captions|captioned|transcribed|translated) by( [a-z0-9]+){0,6}",
    # German, French, Spanish, Italian, Portuguese, Dutch
    r"(vielen )?dank(e)?( sch[öo]n)?( f[üu]rs (zuschauen|zuh[öo]ren)| f[üu]r ihre aufmerksamkeit)?",
    r"tsch[üu]ss|bis zum n[äa]chsten mal",
    r"merci( beaucoup)?( (d avoir regard[ée]|de votre attention|à tous))?|au revoir",
    r"(muchas )?gracias( por (ver|mirar)( el video)?)?|suscr[íi]bete( al canal)?|hasta la pr[óo]xima",
    r"grazie( (a tutti|per la visione|per l attenzione))?",
    r"obrigad[oa]( por assistir)?",
    r"bedankt voor het kijken|dank (je|u) wel",
    # Japanese / Chinese / Korean "thank you for watching"
    r"ご視聴ありがとうございました|ありがとうございました",
    r"谢谢(大家)?(观看|收看)?|感谢(您的)?(观看|收看)",
    r"시청해\s?주셔서 감사합니다|감사합니다",
]
CREDIT_PHRASES = [
    # subtitle credits from Whisper's training data: never spoken, a hallucination wherever they appear
    r"amara org( community| gemeinschaft)?",
    r"untertitel(ung)? (im auftrag )?(des|der|von der) (zdf|ard|ndr|wdr|swr|mdr|rbb|br|hr)( f[üu]r funk)?",
    r"sous titrage (st ?501|soci[ée]t[ée] radio canada|fr)",
    r"sous titres r[ée]alis[ée]s par",
    r"sottotitoli (creati|a cura) d",
    r"subt[íi]tulos (realizados|hechos) por",
    r"字幕由|字幕提供|中文字幕志愿者",
    r"请不吝点赞",
]


class NonSpeechPhraseSettings(_Settings):
    """Known non-speech outputs: closers and fillers ('Thank you for watching', 'you', '♪') making up most of
    a transcript of near-silent audio, and subtitle credits ('Untertitel der Amara.org-Community') anywhere."""

    enabled: bool = True
    phrases: list[str] = Field(
        default_factory=lambda: list(LOW_SPEECH_PHRASES),
        description="Regular expressions (over case-folded text, punctuation as spaces) of phrases that are "
        "hallucinations only on near-silent audio.",
    )
    credit_phrases: list[str] = Field(
        default_factory=lambda: list(CREDIT_PHRASES),
        description="Regular expressions of subtitle credits ('Untertitel der Amara.org-Community'): score 1 "
        "wherever they appear, whatever the audio.",
    )
    coverage_start: float = Field(
        0.4, ge=0, le=1, description="Share of the transcript's letters inside known phrases where the score starts."
    )
    coverage_full: float = Field(
        0.8, ge=0, le=1, description="Share of the transcript's letters inside known phrases that scores 1."
    )
    near_silent_s: float = Field(
        0.3, ge=0, description="Seconds of VAD speech at or below which a closer/filler scores fully."
    )
    enough_speech_s: float = Field(
        1.5, gt=0, description="Seconds of VAD speech at or above which a closer/filler is taken as really said."
    )
    weight: float = Field(0.9, ge=0, le=1, description="Noisy-OR weight of this detector.")

    @field_validator("phrases", "credit_phrases")
    @classmethod
    def _patterns_compile(cls, patterns: list[str]) -> list[str]:
        for pattern in patterns:
            try:
                re.compile(pattern)
            except re.error as exc:
                raise ValueError(f"phrase pattern {pattern!r} is not a valid regular expression: {exc}") from exc
        return patterns


class SpeechCoverageSettings(_Settings):
    """Speech left out: VAD speech regions that no transcript segment covers (tasks/transcribe/coverage.py).
    Defaults measured on fully transcribed espeak-ng clips (docs/asr.md, "Speech left out")."""

    enabled: bool = Field(True, description="Compare the VAD speech regions with the segment timestamps.")
    segment_pad_s: float = Field(
        1.5,
        ge=0,
        description="Seconds a segment covers beyond each of its ends: a VAD region holds pauses of up to 2 s "
        "(silero's min_silence) plus its 0.4 s padding on each side, so two segments of one region can be up to "
        "~2.8 s apart with nothing left out (measured: 0.96 s between espeak-ng sentences 0.6 s apart, 0.2-0.35 s "
        "after a clip's last segment).",
    )
    min_gap_s: float = Field(0.5, ge=0, description="Shortest uncovered piece of a region that counts.")
    min_missing_s: float = Field(
        1.5, ge=0, description="Uncovered speech seconds (all pieces) from which a row is flagged."
    )
    retry: bool = Field(
        True,
        description="Re-decode the uncovered regions on their own (language detected per region) and splice them in.",
    )


class ASRCombineSettings(_Settings):
    """Noisy-OR combination of detector scores and the operating point (hand-set, see the module doc)."""

    leak: float = Field(0.01, ge=0, lt=1, description="Base rate: hallucination_score when no detector fires.")
    threshold: float = Field(0.5, gt=0, lt=1, description="hallucination_score at or above which a row is flagged.")
    reason_min_score: float = Field(
        0.5, ge=0, le=1, description="Detector score at or above which its reason is reported."
    )


class ASRGuardSettings(_Settings):
    """All ASR hallucination-guard settings: one section per detector plus the combination."""

    no_speech_text: NoSpeechTextSettings = Field(default_factory=NoSpeechTextSettings)
    no_speech_prob: NoSpeechProbSettings = Field(default_factory=NoSpeechProbSettings)
    compression_ratio: CompressionRatioSettings = Field(default_factory=CompressionRatioSettings)
    speech_rate: SpeechRateSettings = Field(default_factory=SpeechRateSettings)
    repetition: ASRRepetitionSettings = Field(default_factory=ASRRepetitionSettings)
    non_speech_phrase: NonSpeechPhraseSettings = Field(default_factory=NonSpeechPhraseSettings)
    combine: ASRCombineSettings = Field(default_factory=ASRCombineSettings)

    def detector_settings(self, name: str):
        return getattr(self, name)


ASR_DETECTOR_SECTIONS = (
    "no_speech_text",
    "no_speech_prob",
    "compression_ratio",
    "speech_rate",
    "repetition",
    "non_speech_phrase",
)
