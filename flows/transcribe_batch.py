"""Transcribe the audio of every row of the parquet objects under an S3 prefix through Triton.

list objects -> plan shards from parquet footers (audio bytes or s3:// URI column) -> transcribe +
guard shards (mapped, cached) -> manifest + _SUCCESS -> run report (flows/job.py). Same run
identity as translate-batch: the same inputs and config land in the same
`<output_uri>/<run_key>/`, and committed parts are reused.
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any, Literal

from prefect import flow
from prefect.task_runners import ThreadPoolTaskRunner

from blocks.s3_access import DEFAULT_CREDENTIALS_BLOCK, load_s3_connection
from flows.job import SHARD_WORKERS, load_triton, run_job
from flows.parameters import OptionalName, Param, S3Prefix, SpokenLanguage
from flows.run_names import flow_run_name
from flows.run_steps import DEFAULT_MAX_QUARANTINED_SHARE
from flows.stage_builders import transcribe_stage
from tasks.engine.stage import ShardStage

AsrModel = Literal["default", "whisper-tiny.en", "whisper-base"]
ChannelMode = Literal["mix", "split"]
SubtitleFormat = Literal["vtt", "srt"]
# Audio rows are large and slow: far fewer per shard than text rows.
DEFAULT_AUDIO_SHARD_ROWS = 200


@flow(name="transcribe-batch", flow_run_name=flow_run_name, task_runner=ThreadPoolTaskRunner(max_workers=SHARD_WORKERS),
      log_prints=True)
def transcribe_batch(
    input_uri: Annotated[S3Prefix, Param("Input", description="s3:// prefix (or one object) of parquet files")],
    output_uri: Annotated[S3Prefix, Param("Output", description="s3:// prefix; the run writes <output_uri>/<run_key>/")],
    table_version: Annotated[OptionalName, Param("Table version", description="Delta Lake or Iceberg input: a version (Delta) or snapshot id (Iceberg), or an ISO timestamp; empty = the latest")] = "",
    delta_output_uri: Annotated[OptionalName, Param("Delta table for the kept rows", description="s3:// URI of a Delta Lake table (created if missing) the run's kept rows are appended to, in one commit, once per run key")] = "",
    audio_column: Annotated[OptionalName, Param("Audio bytes column", description="encoded audio files (wav, flac, ogg, mp3, ...)")] = "audio",
    audio_uri_column: Annotated[OptionalName, Param("Audio URI column", description="s3:// URIs of audio objects; wins over the bytes column")] = "",
    id_column: Annotated[str, Param("Id column")] = "id",
    language: Annotated[SpokenLanguage, Param("Spoken language", description="'auto': the default model (detects when multilingual)")] = "auto",
    asr_model: Annotated[AsrModel, Param("Whisper model", description="'default': chosen by the server from the language")] = "default",
    vad_filter: Annotated[bool, Param("Skip non-speech (silero VAD)")] = True,
    channels: Annotated[ChannelMode, Param("Channels", "'mix': one transcript of the downmix; 'split': each channel on its own (one speaker per channel, e.g. calls)")] = "mix",
    beam_size: Annotated[int, Param("Beam size", ge=1, le=10)] = 1,
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
    guards: Annotated[bool, Param("Hallucination guards", description="check every transcript; quarantine what stays flagged")] = True,
    guard_settings: Annotated[OptionalName, Param("ASR guards block", description="Sentinel ASR Guards block; empty = defaults")] = "",
    redecode_flagged: Annotated[bool, Param("Retry flagged clips", description="once, with VAD and temperature fallback")] = True,
    data_quality: Annotated[bool, Param("Data-quality suites", description="Great Expectations on each shard's input and output")] = True,
    triton_endpoint: Annotated[OptionalName, Param("Triton endpoint block")] = "local-triton",
    s3_credentials: Annotated[OptionalName, Param("AWS credentials block")] = DEFAULT_CREDENTIALS_BLOCK,
    fan_out_deployment: Annotated[OptionalName, Param("Fan out to deployment", description="a shard-group deployment, e.g. shard-group/shard-group-local")] = "",
    shards_per_child: Annotated[int, Param("Shards per child run", ge=1)] = 8,
    max_quarantined_share: Annotated[float, Param("Most quarantined share", "fail the run when more than this share of the rows written is quarantined (0-1; 1 = never)", ge=0, le=1)] = DEFAULT_MAX_QUARANTINED_SHARE,
    fail_on_empty_input: Annotated[bool, Param("Fail on an empty input", "end Failed, instead of Completed with nothing to do, when the input has no objects")] = False,
) -> dict:
    """Transcribe the audio of every row of the parquet objects under `input_uri` through Triton.

    Args:
        input_uri: s3:// prefix (or one object) of the parquet inputs.
        output_uri: s3:// prefix for results; the run writes `<output_uri>/<run_key>/`.
        table_version: for a Delta Lake or Iceberg table: the version (Delta), snapshot id (Iceberg)
            or ISO timestamp to read; empty = the latest. The run key pins the version read.
        delta_output_uri: also append the run's kept rows to this Delta Lake table (created if missing),
            in one commit carrying the run key: once per run key, however often the run is retried.
        audio_column: column of encoded audio file bytes.
        audio_uri_column: column of s3:// URIs of audio objects; wins over `audio_column`.
        id_column: column identifying each row (string or integer).
        language: spoken language, or `auto` (the server's default model, detecting when multilingual).
        asr_model: Whisper model, or `default` (chosen by the server from the language).
        vad_filter: skip non-speech with silero VAD before decoding.
        channels: `mix` transcribes the downmix; `split` transcribes each channel on its own
            (`channel_transcripts`, one per channel; `transcript` merges them in time order, each
            segment labelled with its channel; the guards run per channel).
        beam_size: beam size for decoding (1 = greedy).
        max_audio_s: longer audio is marked failed instead of being decoded.
        max_audio_bytes: larger audio files are marked failed instead of being sent to Triton.
        passthrough_columns: input columns copied unchanged to the output.
        subtitles: write `<run_key>/subtitles/<id>.vtt` / `.srt` per transcribed clip.
        word_timestamps: word-level timings in `segments` and in the subtitles.
        diarize: who spoke when in a one-channel recording (the `speaker` model's voice embeddings of
            the speech, clustered): each segment gets `speaker` (S1, S2, ... in order of first speech;
            a segment whose words change speaker is split there), `speakers` lists them, the
            transcript marks each turn (`[S1] ... [S2] ...`) and subtitles carry the speaker. A clip
            whose assignment is unreliable keeps it and says so in `reasons`. Needs channels `mix`.
        num_speakers: with `diarize`, how many speakers there are; 0 counts them from the voices.
        hotwords: names and terms Whisper should know (faster-whisper's `hotwords`, put before every
            30-s window's prompt).
        initial_prompt: text Whisper reads before the first window (context, spelling of names).
        prompt_column: a text column holding each clip's own prompt, read after `initial_prompt`.
        shard_rows: about this many rows per shard task.
        clips_per_request: clips per Triton request.
        request_timeout_s: client timeout of one Triton request.
        guards: run the ASR hallucination checks on every transcript; rows still flagged after the
            retry go to `<run_key>/quarantine/` with their reasons.
        guard_settings: name of a Sentinel ASR Guards block; empty = the defaults.
        redecode_flagged: retry a flagged clip once with VAD and temperature fallback.
        data_quality: run the input suite on each shard before inference and the output suite before commit.
        triton_endpoint: name of the Sentinel Triton Endpoint block.
        s3_credentials: name of the AWS Credentials block (empty = the environment's credentials).
        fan_out_deployment: run shard groups as child runs of this `shard-group` deployment instead
            of in this process.
        shards_per_child: shards per child run when fanning out.
        max_quarantined_share: the run ends Failed when more than this share of the rows written
            went to quarantine (1 = never); the report says so.
        fail_on_empty_input: end Failed, instead of Completed with a "nothing to do" report, when
            the input has no objects.
    """
    stage = build_stage(locals())
    return run_job(stage, conn=load_s3_connection(s3_credentials), input_uri=input_uri, output_uri=output_uri,
                   shard_rows=shard_rows, s3_credentials=s3_credentials, fan_out_deployment=fan_out_deployment,
                   shards_per_child=shards_per_child, max_quarantined_share=max_quarantined_share,
                   fail_on_empty_input=fail_on_empty_input, table_version=table_version,
                   delta_output_uri=delta_output_uri)


def build_stage(p: Mapping[str, Any]) -> ShardStage:
    """transcribe-batch's stage from its parameters (by name): the flow builds it here, and so does
    `sentinel transcribe --dry-run` (deployments/dry_run.py)."""
    return transcribe_stage(load_triton(p["triton_endpoint"]), **hearing(p))


def hearing(p: Mapping[str, Any]) -> dict:
    """transcribe_stage's keywords from transcribe-batch's (and speech-translate's) parameters."""
    return dict(
        audio_column=p["audio_column"], audio_uri_column=p["audio_uri_column"], id_column=p["id_column"],
        passthrough_columns=p["passthrough_columns"], language=p["language"], asr_model=p["asr_model"],
        vad_filter=p["vad_filter"], beam_size=p["beam_size"], max_audio_s=p["max_audio_s"],
        max_audio_bytes=p["max_audio_bytes"], clips_per_request=p["clips_per_request"],
        request_timeout_s=p["request_timeout_s"], channels=p["channels"], subtitles=p["subtitles"],
        word_timestamps=p["word_timestamps"], diarize=p["diarize"], num_speakers=p["num_speakers"],
        hotwords=p["hotwords"], initial_prompt=p["initial_prompt"], prompt_column=p["prompt_column"],
        guards=p["guards"], guard_settings=p["guard_settings"], redecode_flagged=p["redecode_flagged"],
        data_quality=p["data_quality"])
