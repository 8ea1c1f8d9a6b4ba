"""Flow parameters -> shard stages (tasks/registry.py): the guards and their blocks, the data-quality
suites, the Triton call settings. Each batch flow builds its stage here and hands it to run_job."""
from __future__ import annotations

import logging
from dataclasses import replace
from typing import get_args

from blocks.guards import ASRGuardConfig, MTGuardConfig, MTGuardSettings
from blocks.loading import load_block
from blocks.triton_endpoint import TritonEndpoint
from flows.parameters import LanguageCode, blank_is_none
from tasks.diarization.speakers import DiarizeSettings
from tasks.guards.asr.checker import ASR_REDECODE_PARAMETERS
from tasks.guards.asr.settings import ASRGuardSettings
from tasks.inference.asr_client import ASR_MODEL, asr_parameters
from tasks.inference.client import TritonCallSettings
from tasks.inference.embed_client import embed_model_ready
from tasks.inference.speaker_client import SPEAKER_MODEL, speaker_model_ready
from tasks.speech_translate.stage import SpeechTranslateStage
from tasks.transcribe.audio_columns import AudioColumns
from tasks.transcribe.batch import TranscribeSettings
from tasks.transcribe.guard import TranscriptGuard
from tasks.transcribe.stage import TranscribeStage, audio_quality_checks
from tasks.translate.batch import TranslateSettings
from tasks.translate.guard import REDECODE_PARAMETERS, TranslationGuard
from tasks.translate.stage import TranslateStage, translation_quality_checks

log = logging.getLogger(__name__)


def translation_guard(model: str, enabled: bool, block_name: str | None, redecode: bool,
                      triton: TritonEndpoint | None = None) -> TranslationGuard | None:
    """The MT guards (a Sentinel MT Guards block, else the calibrated defaults); never on `echo`,
    which returns its input: every row would look like a copy. The similarity encoder runs in
    Triton's `embed` model when the run's Triton serves it (and the settings name no other), else
    in this process; the run's log says which."""
    if not enabled or model == "echo":
        return None
    block_name = blank_is_none(block_name)
    checks = load_block(MTGuardConfig, block_name).to_settings() if block_name else MTGuardSettings()
    if triton is not None and checks.similarity.enabled and not checks.similarity.triton_url:
        if embed_model_ready(triton.url):
            checks.similarity.triton_url = triton.url
        log.info("similarity encoder: %s", f"Triton `embed` at {triton.url}" if checks.similarity.triton_url
                 else f"in process (no ready `embed` model at {triton.url})")
    return TranslationGuard(checks, dict(REDECODE_PARAMETERS) if redecode else None)


def transcript_guard(enabled: bool, block_name: str | None, redecode: bool) -> TranscriptGuard | None:
    """The ASR guards (a Sentinel ASR Guards block, else the defaults)."""
    if not enabled:
        return None
    block_name = blank_is_none(block_name)
    checks = load_block(ASRGuardConfig, block_name).to_settings() if block_name else ASRGuardSettings()
    return TranscriptGuard(checks, dict(ASR_REDECODE_PARAMETERS) if redecode else None)


def translate_stage(triton: TritonEndpoint, *, model: str, text_column: str, id_column: str, target_lang: str,
                    source_lang: str, candidate_source_langs: list[str], passthrough_columns: list[str],
                    language_column: str | None, max_text_chars: int, beam_size: int, guards: bool,
                    guard_settings: str | None, redecode_flagged: bool, data_quality: bool,
                    segment: bool = True) -> TranslateStage:
    """translate-batch's stage."""
    language_column = blank_is_none(language_column)
    quality = None
    if data_quality:
        quality = translation_quality_checks(id_column, text_column, language_column, get_args(LanguageCode))
    return TranslateStage(TranslateSettings(
        text_column=text_column, id_column=id_column, target_lang=target_lang, source_lang=source_lang,
        candidate_source_langs=tuple(candidate_source_langs), passthrough_columns=tuple(passthrough_columns),
        language_column=language_column, max_text_chars=max_text_chars, segment=segment,
        guard=translation_guard(model, guards, guard_settings, redecode_flagged, triton), quality=quality,
        triton=triton.call_settings(model, {"beam_size": beam_size} if model == "translate" else {}),
    ))


def audio_columns(audio_column: str | None, audio_uri_column: str | None, id_column: str,
                  passthrough: list[str], prompt_column: str | None = None) -> AudioColumns:
    """A URI column, when named, wins over the bytes column."""
    audio_column, audio_uri_column = blank_is_none(audio_column), blank_is_none(audio_uri_column)
    prompt = blank_is_none(prompt_column)
    if audio_uri_column:
        return AudioColumns(id=id_column, audio=None, audio_uri=audio_uri_column, passthrough=tuple(passthrough),
                            prompt=prompt)
    return AudioColumns(id=id_column, audio=audio_column, passthrough=tuple(passthrough), prompt=prompt)


def asr_call_settings(triton: TritonEndpoint, *, asr_model: str, vad_filter: bool, beam_size: int,
                      max_audio_s: float, clips_per_request: int, request_timeout_s: float, channels: str = "mix",
                      word_timestamps: bool = False, hotwords: str | None = None,
                      initial_prompt: str | None = None) -> TritonCallSettings:
    """The `transcribe` request parameters (only those off their default enter the run's config)."""
    extra = {"word_timestamps": True} if word_timestamps else {}
    params = asr_parameters(vad_filter=vad_filter, beam_size=beam_size, max_audio_s=max_audio_s,
                            model=None if asr_model == "default" else asr_model, channels=channels,
                            hotwords=blank_is_none(hotwords), initial_prompt=blank_is_none(initial_prompt), **extra)
    settings = triton.call_settings(ASR_MODEL, params)
    return replace(settings, batch_size=clips_per_request, timeout_s=max(request_timeout_s, settings.timeout_s))


def transcribe_stage(triton: TritonEndpoint, *, audio_column: str | None, audio_uri_column: str | None,
                     id_column: str, passthrough_columns: list[str], language: str, asr_model: str, vad_filter: bool,
                     beam_size: int, max_audio_s: float, max_audio_bytes: int, clips_per_request: int,
                     request_timeout_s: float, guards: bool, guard_settings: str | None, redecode_flagged: bool,
                     data_quality: bool, with_translation: bool = False, channels: str = "mix",
                     subtitles: list[str] | tuple[str, ...] = (), word_timestamps: bool = False,
                     diarize: bool = False, num_speakers: int = 0, hotwords: str | None = None,
                     initial_prompt: str | None = None, prompt_column: str | None = None) -> TranscribeStage:
    """transcribe-batch's stage (and the hearing half of speech-translate's, `with_translation`)."""
    columns = audio_columns(audio_column, audio_uri_column, id_column, passthrough_columns, prompt_column)
    diarization, speaker = speaker_settings(triton, diarize=diarize, num_speakers=num_speakers, channels=channels)
    return TranscribeStage(TranscribeSettings(
        columns=columns, language=None if language == "auto" else language, max_audio_bytes=max_audio_bytes,
        triton=asr_call_settings(triton, asr_model=asr_model, vad_filter=vad_filter, beam_size=beam_size,
                                 max_audio_s=max_audio_s, clips_per_request=clips_per_request,
                                 request_timeout_s=request_timeout_s, channels=channels,
                                 word_timestamps=word_timestamps, hotwords=hotwords, initial_prompt=initial_prompt),
        subtitles=tuple(dict.fromkeys(subtitles)), diarize=diarization, speaker=speaker,
        quality=audio_quality_checks(columns, with_translation=with_translation) if data_quality else None,
        guard=transcript_guard(guards, guard_settings, redecode_flagged),
    ), asr_model=asr_model)


def speaker_settings(triton: TritonEndpoint, *, diarize: bool, num_speakers: int, channels: str
                     ) -> tuple[DiarizeSettings | None, TritonCallSettings | None]:
    """The diarization settings and the `speaker` model's call settings (None, None when off). Refused
    up front: `num_speakers` without `diarize`, `diarize` with channels="split" (a channel is one
    speaker already), and a Triton without a ready `speaker` model."""
    if num_speakers and not diarize:
        raise ValueError(f"num_speakers={num_speakers} needs diarize on")
    if not diarize:
        return None, None
    if channels != "mix":
        raise ValueError(f"diarize needs channels='mix' (channels={channels!r} transcribes one speaker per channel)")
    if not speaker_model_ready(triton.url):
        raise ValueError(f"diarize needs Triton model {SPEAKER_MODEL!r} at {triton.url}, and it is not ready there "
                         "(install the encoder with triton/tools/install_speaker_model.py, then sync the model store)")
    call = triton.call_settings(SPEAKER_MODEL)
    call = replace(call, batch_size=1, concurrency=min(call.concurrency, 4))
    return DiarizeSettings(num_speakers=num_speakers or None), call


def speech_translate_stage(triton: TritonEndpoint, asr: TranscribeStage, *, target_lang: str, beam_size: int,
                           guards: bool, guard_settings: str | None, redecode_flagged: bool) -> SpeechTranslateStage:
    """speech-translate's stage: `asr` (built with_translation) composed with a translate stage
    reading the transcripts."""
    mt = TranslateStage(TranslateSettings(
        text_column="transcript", id_column="id", target_lang=target_lang,
        triton=triton.call_settings("translate", {"beam_size": beam_size}),
        guard=translation_guard("translate", guards, guard_settings, redecode_flagged, triton)))
    return SpeechTranslateStage(asr, mt)
