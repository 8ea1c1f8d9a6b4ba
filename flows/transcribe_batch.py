"""Transcribe the audio of every row of the parquet objects under an S3 prefix through Triton.

list objects -> plan shards from parquet footers (audio bytes or s3:// URI column) -> transcribe
shards (mapped, cached) -> manifest + _SUCCESS -> run report. Same run identity as translate-batch:
the same inputs and config land in the same `<output_uri>/<run_key>/`, and committed parts are
reused. `run_audio_job` is shared with speech-translate.
"""
from __future__ import annotations

import time
from dataclasses import asdict, replace
from typing import Annotated, Literal

from prefect import flow, get_run_logger, unmapped
from prefect.task_runners import ThreadPoolTaskRunner
from pydantic import Field

from blocks.s3_access import DEFAULT_CREDENTIALS_BLOCK, load_s3_connection
from blocks.triton_endpoint import TritonEndpoint
from flows.parameters import LanguageCode, S3Prefix
from flows.run_report import ShardProgress
from flows.run_steps import collect_plans, collect_shards, finish_run
from flows.translate_batch import SHARD_WORKERS, check_locations, load_triton, shard_result_storage
from tasks.audio import AudioColumns, plan_audio_object_task
from tasks.listing import list_objects_task
from blocks.guards import ASRGuardConfig
from tasks.checks.asr_checker import ASR_REDECODE_PARAMETERS
from tasks.checks.asr_settings import ASRGuardSettings
from tasks.quality import InputSpec, OutputSpec, warm_up_in_background
from tasks.transcript_guard import TranscriptGuard
from tasks.run_manifest import RunRecord, config_hash, run_key
from tasks.shard_quality import ShardQualityChecks
from tasks.storage import S3Connection
from tasks.transcribe_shard import TranscribeSettings, transcribe_shard_task
from tasks.triton_asr_client import ASR_MODEL, asr_parameters

SpokenLanguage = Literal["auto"] | LanguageCode
AsrModel = Literal["default", "whisper-tiny.en", "whisper-base"]


def audio_columns(audio_column: str | None, audio_uri_column: str | None, id_column: str,
                  passthrough: list[str]) -> AudioColumns:
    """A URI column, when named, wins over the bytes column."""
    if audio_uri_column:
        return AudioColumns(id=id_column, audio=None, audio_uri=audio_uri_column, passthrough=tuple(passthrough))
    return AudioColumns(id=id_column, audio=audio_column, passthrough=tuple(passthrough))


def asr_call_settings(triton: TritonEndpoint, *, asr_model: str, vad_filter: bool, beam_size: int,
                      max_audio_s: float, clips_per_request: int, request_timeout_s: float):
    params = asr_parameters(vad_filter=vad_filter, beam_size=beam_size, max_audio_s=max_audio_s,
                            model=None if asr_model == "default" else asr_model)
    settings = triton.call_settings(ASR_MODEL, params)
    return replace(settings, batch_size=clips_per_request, timeout_s=max(request_timeout_s, settings.timeout_s))


def audio_quality_checks(columns: AudioColumns, with_translation: bool) -> ShardQualityChecks:
    """Ids (and the URI column, when audio is held by URI) before inference; audio bytes are not
    read twice: the bytes column's presence and type are checked from the footer at planning."""
    return ShardQualityChecks(
        InputSpec(suite_name="audio-input", id_column=columns.id, audio_column=columns.audio_uri),
        OutputSpec.for_transcription(with_translation=with_translation))


def transcript_guard(enabled: bool, block_name: str | None, redecode: bool) -> TranscriptGuard | None:
    if not enabled:
        return None
    checks = ASRGuardConfig.load(block_name).to_settings() if block_name else ASRGuardSettings()
    return TranscriptGuard(checks, dict(ASR_REDECODE_PARAMETERS) if redecode else None)


def settings_config(settings: TranscribeSettings, **extra) -> dict:
    """What changes the output bytes: columns, language, limits, model and decoding parameters."""
    config = {"columns": asdict(settings.columns), "language": settings.language,
              "max_audio_bytes": settings.max_audio_bytes, "asr": settings.triton.decoding}
    config["quality"] = settings.quality.config() if settings.quality else None
    config["guard"] = settings.guard.config() if settings.guard else None
    if settings.translate is not None:
        config["translate"] = {k: v for k, v in asdict(settings.translate).items() if k not in ("triton", "guard")}
        config["translate"]["decoding"] = settings.translate.triton.decoding
        config["translate"]["guard"] = settings.translate.guard.config() if settings.translate.guard else None
    return config | extra


def run_audio_job(flow_kind: str, *, conn: S3Connection, input_uri: str, output_uri: str,
                  settings: TranscribeSettings, shard_rows: int, model_label: str,
                  s3_credentials: str | None) -> dict:
    """list -> plan -> process shards -> manifest + report; raises RunIncomplete when anything failed."""
    logger = get_run_logger()
    started = time.perf_counter()
    _, output = check_locations(input_uri, output_uri)
    if settings.quality is not None:
        warm_up_in_background()  # GE's first import takes seconds: overlap it with listing and planning
    objects = list_objects_task(conn, input_uri)
    if not objects:
        raise ValueError(f"no input objects under {input_uri}")
    config = settings_config(settings, flow=flow_kind, shard_rows=shard_rows)
    cfg_hash = config_hash(config)
    key = run_key(objects, cfg_hash)
    run_dir = str(output.join(key))
    record = RunRecord(run_key=key, config_hash=cfg_hash, config=config, input_uri=input_uri,
                       output_dir=run_dir, model=model_label)
    logger.info("%s run %s: %d objects -> %s", flow_kind, key, len(objects), run_dir)

    plans = plan_audio_object_task.map(unmapped(conn), objects, unmapped(settings.columns), unmapped(shard_rows))
    shards = collect_plans(plans, objects, record)

    progress = ShardProgress(len(shards), f"shards of {flow_kind} run {key}")
    shard_task = transcribe_shard_task.with_options(result_storage=shard_result_storage(output, s3_credentials))
    futures = shard_task.map(unmapped(conn), shards, unmapped(settings), unmapped(run_dir), unmapped(key),
                             unmapped(flow_kind))
    collect_shards(futures, shards, record, progress)
    return finish_run(conn, record, started, report_prefix=flow_kind,
                      check_object_ids=settings.quality is not None)


@flow(name="transcribe-batch", task_runner=ThreadPoolTaskRunner(max_workers=SHARD_WORKERS), log_prints=True)
def transcribe_batch(
    input_uri: Annotated[S3Prefix, Field(title="Input", description="s3:// prefix (or one object) of parquet files")],
    output_uri: Annotated[S3Prefix, Field(title="Output", description="s3:// prefix; the run writes <output_uri>/<run_key>/")],
    audio_column: Annotated[str | None, Field(title="Audio bytes column", description="encoded audio files (wav, flac, ogg, mp3, ...)")] = "audio",
    audio_uri_column: Annotated[str | None, Field(title="Audio URI column", description="s3:// URIs of audio objects; wins over the bytes column")] = None,
    id_column: Annotated[str, Field(title="Id column")] = "id",
    language: Annotated[SpokenLanguage, Field(title="Spoken language", description="'auto': the default model (detects when multilingual)")] = "auto",
    asr_model: Annotated[AsrModel, Field(title="Whisper model", description="'default': chosen by the server from the language")] = "default",
    vad_filter: Annotated[bool, Field(title="Skip non-speech (silero VAD)")] = True,
    beam_size: Annotated[int, Field(title="Beam size", ge=1, le=10)] = 1,
    max_audio_s: Annotated[float, Field(title="Longest audio (s)", gt=0, le=86_400)] = 600.0,
    max_audio_bytes: Annotated[int, Field(title="Largest audio file (bytes)", ge=1)] = 100 * 1024 * 1024,
    passthrough_columns: Annotated[list[str], Field(title="Columns copied to the output")] = [],
    shard_rows: Annotated[int, Field(title="Rows per shard", ge=1, le=1_000_000)] = 200,
    clips_per_request: Annotated[int, Field(title="Clips per Triton request", ge=1, le=16)] = 4,
    request_timeout_s: Annotated[float, Field(title="Triton request timeout (s)", gt=0)] = 900.0,
    guards: Annotated[bool, Field(title="Hallucination guards", description="check every transcript; quarantine what stays flagged")] = True,
    guard_settings: Annotated[str | None, Field(title="ASR guards block", description="Sentinel ASR Guards block; empty = defaults")] = None,
    redecode_flagged: Annotated[bool, Field(title="Retry flagged clips", description="once, with VAD and temperature fallback")] = True,
    data_quality: Annotated[bool, Field(title="Data-quality suites", description="Great Expectations on each shard's input and output")] = True,
    triton_endpoint: Annotated[str | None, Field(title="Triton endpoint block")] = "local-triton",
    s3_credentials: Annotated[str | None, Field(title="AWS credentials block")] = DEFAULT_CREDENTIALS_BLOCK,
) -> dict:
    conn = load_s3_connection(s3_credentials)
    triton = load_triton(triton_endpoint)
    columns = audio_columns(audio_column, audio_uri_column, id_column, passthrough_columns)
    settings = TranscribeSettings(
        columns=columns,
        language=None if language == "auto" else language, max_audio_bytes=max_audio_bytes,
        triton=asr_call_settings(triton, asr_model=asr_model, vad_filter=vad_filter, beam_size=beam_size,
                                 max_audio_s=max_audio_s, clips_per_request=clips_per_request,
                                 request_timeout_s=request_timeout_s),
        quality=audio_quality_checks(columns, with_translation=False) if data_quality else None,
        guard=transcript_guard(guards, guard_settings, redecode_flagged),
    )
    return run_audio_job("transcribe", conn=conn, input_uri=input_uri, output_uri=output_uri, settings=settings,
                         shard_rows=shard_rows, model_label=f"{ASR_MODEL}:{asr_model}", s3_credentials=s3_credentials)
