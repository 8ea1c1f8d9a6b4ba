"""Speech -> text -> translation in one run: transcribe every row's audio through Triton's
`transcribe` model, then translate the transcripts through the same `translate` path as
translate-batch, one run, one manifest and one run report (tasks/speech_translate/stage.py).

Rows are translated from the language Whisper reported; a transcript already in the target
language is copied (`translation_model` = "identity"); nothing heard (silence, noise) is
`skipped_empty`. A row's `status` is the first stage that did not succeed, and its `error` says
which (`translate: ...` for the second stage).
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any

from prefect import flow
from prefect.task_runners import ThreadPoolTaskRunner

from blocks.s3_access import DEFAULT_CREDENTIALS_BLOCK, load_s3_connection
from flows.job import SHARD_WORKERS, load_triton, run_job
from flows.parameters import LanguageCode, OptionalName, Param, S3Prefix
from flows.run_names import flow_run_name
from flows.run_steps import DEFAULT_MAX_QUARANTINED_SHARE
from flows.stage_builders import speech_translate_stage, transcribe_stage
from flows.transcribe_batch import (
    DEFAULT_AUDIO_SHARD_ROWS,
    AsrModel,
    ChannelMode,
    SpokenLanguage,
    SubtitleFormat,
    hearing,
)
from tasks.engine.stage import ShardStage


@flow(name="speech-translate", flow_run_name=flow_run_name, task_runner=ThreadPoolTaskRunner(max_workers=SHARD_WORKERS),
      log_prints=True)
def speech_translate(
    input_uri: Annotated[S3Prefix, Param("Input", description="s3:// prefix (or one object) of parquet files")],
    output_uri: Annotated[S3Prefix, Param("Output", description="s3:// prefix; the run writes <output_uri>/<run_key>/")],
    table_version: Annotated[OptionalName, Param("Table version", description="Delta Lake or Iceberg input: a version (Delta) or snapshot id (Iceberg), or an ISO timestamp; empty = the latest")] = "",
    delta_output_uri: Annotated[OptionalName, Param("Delta table for the kept rows", description="s3:// URI of a Delta Lake table (created if missing) the run's kept rows are appended to, in one commit, once per run key")] = "",
    target_lang: Annotated[LanguageCode, Param("Target language")] = "de",
    audio_column: Annotated[OptionalName, Param("Audio bytes column")] = "audio",
    audio_uri_column: Annotated[OptionalName, Param("Audio URI column", description="s3:// URIs; wins over the bytes column")] = "",
    id_column: Annotated[str, Param("Id column")] = "id",
    language: Annotated[SpokenLanguage, Param("Spoken language", description="'auto': the default model (detects when multilingual)")] = "auto",
    asr_model: Annotated[AsrModel, Param("Whisper model")] = "default",
    vad_filter: Annotated[bool, Param("Skip non-speech (silero VAD)")] = True,
    channels: Annotated[ChannelMode, Param("Channels", "'mix': one transcript of the downmix; 'split': each channel on its own (one speaker per channel, e.g. calls)")] = "mix",
    beam_size: Annotated[int, Param("ASR beam size", ge=1, le=10)] = 1,
    translate_beam_size: Annotated[int, Param("Translation beam size", ge=1, le=16)] = 1,
    max_audio_s: Annotated[float, Param("Longest audio (s)", gt=0, le=86_400)] = 3600.0,
    max_audio_bytes: Annotated[int, Param("Largest audio file (bytes)", ge=1)] = 100 * 1024 * 1024,
    passthrough_columns: Annotated[list[str], Param("Columns copied to the output")] = [],
    subtitles: Annotated[list[SubtitleFormat], Param("Subtitle files", "one file per clip and format under <run_key>/subtitles/")] = [],
    word_timestamps: Annotated[bool, Param("Word timestamps", "word-level timings in segments (and in the subtitles)")] = False,
    diarize: Annotated[bool, Param("Who spoke when", "one-channel recordings: each segment gets its speaker (S1, S2, ... in order of first speech) and the transcript marks the turns")] = False,
    num_speakers: Annotated[int, Param("Number of speakers", "with diarize: how many people speak; 0 = count them from the voices", ge=0, le=20)] = 0,
    hotwords: Annotated[OptionalName, Param("Hotwords", "names and terms Whisper should know (faster-whisper's hotwords), e.g. 'Nakagawa, Sentinel Batch'")] = "",
    initial_prompt: Annotated[OptionalName, Param("Initial prompt", "text Whisper reads before the audio: context and the spelling of names")] = "",
    prompt_column: Annotated[OptionalName, Param("Prompt column", "a text column with each clip's own prompt (read after the initial prompt)")] = "",
    shard_rows: Annotated[int, Param("Rows per shard", ge=1, le=1_000_000)] = DEFAULT_AUDIO_SHARD_ROWS,
    clips_per_request: Annotated[int, Param("Clips per Triton request", ge=1, le=16)] = 4,
    request_timeout_s: Annotated[float, Param("Triton request timeout (s)", gt=0)] = 900.0,
    guards: Annotated[bool, Param("Hallucination guards", description="check transcripts and translations; quarantine what stays flagged")] = True,
    guard_settings: Annotated[OptionalName, Param("ASR guards block", description="Sentinel ASR Guards block; empty = defaults")] = "",
    translation_guard_settings: Annotated[OptionalName, Param("MT guards block", description="Sentinel MT Guards block; empty = calibrated defaults")] = "",
    redecode_flagged: Annotated[bool, Param("Retry flagged rows", description="once: VAD + temperature fallback / beam search")] = True,
    data_quality: Annotated[bool, Param("Data-quality suites", description="Great Expectations on each shard's input and output")] = True,
    triton_endpoint: Annotated[OptionalName, Param("Triton endpoint block")] = "local-triton",
    s3_credentials: Annotated[OptionalName, Param("AWS credentials block")] = DEFAULT_CREDENTIALS_BLOCK,
    fan_out_deployment: Annotated[OptionalName, Param("Fan out to deployment", description="a shard-group deployment, e.g. shard-group/shard-group-local")] = "",
    shards_per_child: Annotated[int, Param("Shards per child run", ge=1)] = 8,
    max_quarantined_share: Annotated[float, Param("Most quarantined share", "fail the run when more than this share of the rows written is quarantined (0-1; 1 = never)", ge=0, le=1)] = DEFAULT_MAX_QUARANTINED_SHARE,
    fail_on_empty_input: Annotated[bool, Param("Fail on an empty input", "end Failed, instead of Completed with nothing to do, when the input has no objects")] = False,
) -> dict:
    """Transcribe every row's audio, then translate the transcripts into `target_lang`.

    Takes transcribe-batch's parameters (see there) and: `target_lang`, the language to translate
    into; `translate_beam_size`, the translation's beam size; `translation_guard_settings`, a
    Sentinel MT Guards block for the translations (empty = the calibrated defaults).
    With `diarize`, the speaker labels of the transcript (`[S1] ...`) stay in the translation, each
    turn translated on its own.
    """
    stage = build_stage(locals())
    return run_job(stage, conn=load_s3_connection(s3_credentials), input_uri=input_uri, output_uri=output_uri,
                   shard_rows=shard_rows, s3_credentials=s3_credentials, fan_out_deployment=fan_out_deployment,
                   shards_per_child=shards_per_child, max_quarantined_share=max_quarantined_share,
                   fail_on_empty_input=fail_on_empty_input, table_version=table_version,
                   delta_output_uri=delta_output_uri)


def build_stage(p: Mapping[str, Any]) -> ShardStage:
    """speech-translate's stage from its parameters (by name): the flow builds it here, and so does
    `sentinel speech-translate --dry-run` (deployments/dry_run.py)."""
    triton = load_triton(p["triton_endpoint"])
    heard = transcribe_stage(triton, **hearing(p), with_translation=True)
    return speech_translate_stage(triton, heard, target_lang=p["target_lang"], beam_size=p["translate_beam_size"],
                                  guards=p["guards"], guard_settings=p["translation_guard_settings"],
                                  redecode_flagged=p["redecode_flagged"])
