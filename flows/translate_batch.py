"""Translate every row of the parquet objects under an S3 prefix through Triton.

list objects -> plan shards from parquet footers -> translate shards (mapped, cached) ->
manifest + _SUCCESS -> run report. Rerunning the same inputs and config lands in the same
`<output_uri>/<run_key>/` and recomputes nothing already committed.
"""
from __future__ import annotations

import hashlib
import os
import time
from dataclasses import asdict, replace
from datetime import timezone

from prefect import flow, get_run_logger, unmapped
from prefect.task_runners import ThreadPoolTaskRunner
from prefect_aws import AwsCredentials, S3Bucket
from pydantic import Field
from typing import Annotated, get_args

from blocks.s3_access import DEFAULT_CREDENTIALS_BLOCK, credentials_from_env, load_s3_connection
from blocks.guards import MTGuardConfig, MTGuardSettings
from blocks.triton_endpoint import TritonEndpoint
from flows.parameters import LanguageCode, S3Prefix, SourceLanguage, TranslateModel
from flows.fan_out import run_shard_groups
from flows.run_report import ShardProgress
from flows.run_steps import collect_plans, collect_shards, finish_run
from tasks.listing import list_objects_task
from tasks.run_manifest import RunRecord, config_hash, run_key
from tasks.s3_uri import S3Uri
from tasks.sharding import plan_object_task
from tasks.quality import InputSpec, OutputSpec, warm_up_in_background
from tasks.shard_quality import ShardQualityChecks
from tasks.translate_shard import TranslateSettings, translate_shard_task, triton_slot_limit
from tasks.translation_guard import REDECODE_PARAMETERS, TranslationGuard

SHARD_WORKERS = int(os.environ.get("SENTINEL_SHARD_WORKERS", "4"))


def load_triton(block_name: str | None) -> TritonEndpoint:
    if block_name:
        return TritonEndpoint.load(block_name)
    return TritonEndpoint(url=os.environ.get("SENTINEL_TRITON_URL", "127.0.0.1:8001"))


def shard_result_storage(output: S3Uri, credentials_block: str | None) -> S3Bucket:
    """Cached shard results live next to the outputs, so any machine's rerun can find them.
    Prefect needs result storage saved server-side: one block per output location."""
    from_env = not credentials_block or os.environ.get("SENTINEL_S3_FROM_ENV") == "1"
    credentials = credentials_from_env() if from_env else AwsCredentials.load(credentials_block)
    folder = output.join("_sentinel", "shard-results")
    storage = S3Bucket(bucket_name=output.bucket, credentials=credentials, bucket_folder=folder.key)
    storage.save(f"sentinel-results-{hashlib.sha256(str(folder).encode()).hexdigest()[:16]}", overwrite=True)
    return storage


def translation_guard(model: str, enabled: bool, block_name: str | None, redecode: bool) -> TranslationGuard | None:
    if not enabled or model == "echo":  # echo returns its input: every row would look like a copy
        return None
    checks = MTGuardConfig.load(block_name).to_settings() if block_name else MTGuardSettings()
    return TranslationGuard(checks, dict(REDECODE_PARAMETERS) if redecode else None)


def translation_quality_checks(id_column: str, text_column: str, language_column: str | None) -> ShardQualityChecks:
    return ShardQualityChecks(
        InputSpec(suite_name="translate-input", id_column=id_column, text_column=text_column,
                  expected_columns={text_column: "string|large_string"}, language_column=language_column,
                  allowed_languages=get_args(LanguageCode) if language_column else None),
        OutputSpec.for_translation())


def settings_config(settings: TranslateSettings) -> dict:
    """What changes the output bytes (for the config hash); JSON-ready."""
    config = {k: v for k, v in asdict(replace(settings, guard=None, quality=None)).items() if k != "triton"}
    config["guard"] = settings.guard.config() if settings.guard else None
    config["quality"] = settings.quality.config() if settings.quality else None
    return config


def with_scheduled_date(uri: str) -> str:
    """`{scheduled_date}` in a URI becomes this run's scheduled date (UTC, YYYY-MM-DD)."""
    if "{scheduled_date}" not in uri:
        return uri
    from prefect.runtime import flow_run

    when = flow_run.scheduled_start_time  # a timezone-aware datetime
    return uri.replace("{scheduled_date}", when.astimezone(timezone.utc).strftime("%Y-%m-%d"))


def check_locations(input_uri: str, output_uri: str) -> tuple[S3Uri, S3Uri]:
    source, target = S3Uri.parse(input_uri), S3Uri.parse(output_uri)
    if source.bucket == target.bucket and target.prefix.startswith(source.prefix):
        raise ValueError(f"output_uri {output_uri} is inside input_uri {input_uri}: outputs would become inputs")
    return source, target


@flow(name="translate-batch", task_runner=ThreadPoolTaskRunner(max_workers=SHARD_WORKERS), log_prints=True)
def translate_batch(
    input_uri: Annotated[S3Prefix, Field(title="Input", description="s3:// prefix (or one object) of parquet files")],
    output_uri: Annotated[S3Prefix, Field(title="Output", description="s3:// prefix; the run writes <output_uri>/<run_key>/")],
    target_lang: Annotated[LanguageCode, Field(title="Target language")] = "en",
    source_lang: Annotated[SourceLanguage, Field(title="Source language", description="'auto' detects per row")] = "auto",
    text_column: Annotated[str, Field(title="Text column")] = "text",
    id_column: Annotated[str, Field(title="Id column")] = "id",
    passthrough_columns: Annotated[list[str], Field(title="Columns copied to the output")] = [],
    language_column: Annotated[str | None, Field(title="Language column", description="each row's source language code; empty cells use source_lang")] = None,
    candidate_source_langs: Annotated[list[LanguageCode], Field(title="Languages 'auto' may detect")] = ["de", "fr"],
    shard_rows: Annotated[int, Field(title="Rows per shard", ge=1, le=5_000_000)] = 20_000,
    model: Annotated[TranslateModel, Field(title="Triton model", description="'echo' measures pipeline overhead")] = "translate",
    beam_size: Annotated[int, Field(title="Beam size", ge=1, le=16)] = 1,
    max_text_chars: Annotated[int, Field(title="Longest text translated", ge=1)] = 20_000,
    guards: Annotated[bool, Field(title="Hallucination guards", description="check every translation; quarantine what stays flagged")] = True,
    guard_settings: Annotated[str | None, Field(title="MT guards block", description="Sentinel MT Guards block; empty = calibrated defaults")] = None,
    redecode_flagged: Annotated[bool, Field(title="Retry flagged rows", description="once, with beam search and a repetition guard")] = True,
    data_quality: Annotated[bool, Field(title="Data-quality suites", description="Great Expectations on each shard's input and output")] = True,
    triton_endpoint: Annotated[str | None, Field(title="Triton endpoint block")] = "local-triton",
    s3_credentials: Annotated[str | None, Field(title="AWS credentials block")] = DEFAULT_CREDENTIALS_BLOCK,
    fan_out_deployment: Annotated[str | None, Field(title="Fan out to deployment")] = None,
    shards_per_child: Annotated[int, Field(title="Shards per child run", ge=1)] = 8,
) -> dict:
    """Translate every row of the parquet objects under `input_uri` through Triton.

    Args:
        input_uri: s3:// prefix (or one object) of the parquet inputs; `{scheduled_date}` is replaced
            by the run's scheduled date (UTC).
        output_uri: s3:// prefix for results; the run writes `<output_uri>/<run_key>/`.
        target_lang: language to translate into.
        source_lang: language of the texts, or `auto` to detect it per row.
        text_column: column holding the text to translate.
        id_column: column identifying each row (string or integer).
        passthrough_columns: input columns copied unchanged to the output.
        language_column: column with each row's source language (a supported code; checked by the
            input suite before inference); rows where it is empty use `source_lang`.
        candidate_source_langs: languages `auto` may choose from.
        shard_rows: about this many rows per shard task (row groups are never split unless larger).
        model: Triton model: `translate`, or `echo` to measure the pipeline's own overhead.
        beam_size: beam size for decoding (1 = greedy).
        max_text_chars: longer texts are marked failed instead of being sent to Triton.
        guards: run the hallucination checks on every translation (never on `echo`); rows still
            flagged after the retry go to `<run_key>/quarantine/` with their reasons.
        guard_settings: name of a Sentinel MT Guards block with thresholds; empty = the calibrated defaults.
        redecode_flagged: retry a flagged translation once with beam search and a repetition guard.
        data_quality: run the input suite on each shard before inference and the output suite
            before commit (Great Expectations; results under `<run_key>/quality/`).
        triton_endpoint: name of the Sentinel Triton Endpoint block.
        s3_credentials: name of the AWS Credentials block (empty = the environment's credentials).
        fan_out_deployment: run shard groups as child runs of this `translate-shard-group` deployment
            (e.g. on the k8s-gpu pool) instead of in this process.
        shards_per_child: shards per child run when fanning out.
    """
    logger = get_run_logger()
    started = time.perf_counter()
    input_uri, output_uri = with_scheduled_date(input_uri), with_scheduled_date(output_uri)
    _, output = check_locations(input_uri, output_uri)
    conn = load_s3_connection(s3_credentials)
    triton = load_triton(triton_endpoint)

    if data_quality:
        warm_up_in_background()  # GE's first import takes seconds: overlap it with listing and planning
    objects = list_objects_task(conn, input_uri)
    if not objects:
        raise ValueError(f"no input objects under {input_uri}")
    settings = TranslateSettings(
        text_column=text_column, id_column=id_column, target_lang=target_lang, source_lang=source_lang,
        candidate_source_langs=tuple(candidate_source_langs), passthrough_columns=tuple(passthrough_columns),
        language_column=language_column,
        max_text_chars=max_text_chars, guard=translation_guard(model, guards, guard_settings, redecode_flagged),
        quality=translation_quality_checks(id_column, text_column, language_column) if data_quality else None,
        triton=triton.call_settings(model, {"beam_size": beam_size} if model == "translate" else {}),
    )
    config = settings_config(settings)
    config.update(model=model, decoding=settings.triton.decoding, shard_rows=shard_rows)
    cfg_hash = config_hash(config)
    key = run_key(objects, cfg_hash)
    run_dir = str(output.join(key))
    record = RunRecord(run_key=key, config_hash=cfg_hash, config=config, input_uri=input_uri,
                       output_dir=run_dir, model=model)
    logger.info("run %s: %d objects -> %s", key, len(objects), run_dir)

    plans = plan_object_task.map(unmapped(conn), objects, unmapped(text_column), unmapped(id_column),
                                 unmapped(shard_rows), unmapped([*passthrough_columns, *filter(None, [language_column])]))
    shards = collect_plans(plans, objects, record)

    progress = ShardProgress(len(shards), f"shards of run {key}")
    if fan_out_deployment:
        record.shards = run_shard_groups(conn, fan_out_deployment, shards, settings, run_dir, key, s3_credentials,
                                         shards_per_child, progress)
        return finish_run(conn, record, started, report_prefix="translate", check_object_ids=data_quality)
    shard_task = translate_shard_task.with_options(result_storage=shard_result_storage(output, s3_credentials))
    futures = shard_task.map(unmapped(conn), shards, unmapped(settings), unmapped(run_dir), unmapped(key),
                             unmapped(triton_slot_limit()))
    collect_shards(futures, shards, record, progress)
    return finish_run(conn, record, started, report_prefix="translate", check_object_ids=data_quality)
