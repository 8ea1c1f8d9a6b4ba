"""Translate every row of the parquet objects under an S3 prefix through Triton.

list objects -> plan shards from parquet footers -> translate + guard shards (mapped, cached) ->
manifest + _SUCCESS -> run report (flows/job.py). Rerunning the same inputs and config lands in
the same `<output_uri>/<run_key>/` and recomputes nothing already committed.
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any

from prefect import flow
from prefect.task_runners import ThreadPoolTaskRunner

from blocks.s3_access import DEFAULT_CREDENTIALS_BLOCK, load_s3_connection
from flows.job import SHARD_WORKERS, load_triton, run_job
from flows.parameters import LanguageCode, OptionalName, Param, S3Prefix, SourceLanguage, TranslateModel
from flows.run_names import flow_run_name
from flows.run_steps import DEFAULT_MAX_QUARANTINED_SHARE
from flows.stage_builders import translate_stage
from tasks.engine.planning import DEFAULT_SHARD_BYTES, DEFAULT_SHARD_ROWS
from tasks.engine.stage import ShardStage


@flow(name="translate-batch", flow_run_name=flow_run_name, task_runner=ThreadPoolTaskRunner(max_workers=SHARD_WORKERS),
      log_prints=True)
def translate_batch(
    input_uri: Annotated[S3Prefix, Param("Input", description="s3:// prefix (or one object) of parquet files")],
    output_uri: Annotated[S3Prefix, Param("Output", description="s3:// prefix; the run writes <output_uri>/<run_key>/")],
    table_version: Annotated[OptionalName, Param("Table version", description="Delta Lake or Iceberg input: a version (Delta) or snapshot id (Iceberg), or an ISO timestamp; empty = the latest")] = "",
    delta_output_uri: Annotated[OptionalName, Param("Delta table for the kept rows", description="s3:// URI of a Delta Lake table (created if missing) the run's kept rows are appended to, in one commit, once per run key")] = "",
    target_lang: Annotated[LanguageCode, Param("Target language")] = "en",
    source_lang: Annotated[SourceLanguage, Param("Source language", description="'auto' detects per row")] = "auto",
    text_column: Annotated[str, Param("Text column")] = "text",
    id_column: Annotated[str, Param("Id column")] = "id",
    passthrough_columns: Annotated[list[str], Param("Columns copied to the output")] = [],
    language_column: Annotated[OptionalName, Param("Language column", description="each row's source language code; empty cells use source_lang")] = "",
    candidate_source_langs: Annotated[list[LanguageCode], Param("Languages 'auto' may detect")] = ["de", "fr"],
    shard_rows: Annotated[int, Param("Rows per shard", ge=1, le=5_000_000)] = DEFAULT_SHARD_ROWS,
    shard_bytes: Annotated[int, Param("Bytes per shard", "at most this many uncompressed bytes of the columns read", ge=1)] = DEFAULT_SHARD_BYTES,
    model: Annotated[TranslateModel, Param("Triton model", description="'echo' measures pipeline overhead")] = "translate",
    beam_size: Annotated[int, Param("Beam size", ge=1, le=16)] = 1,
    max_text_chars: Annotated[int, Param("Longest text translated", ge=1)] = 20_000,
    segment_sentences: Annotated[bool, Param("Split texts into sentences", "translate and guard documents sentence by sentence; paragraph breaks and spacing are kept")] = True,
    guards: Annotated[bool, Param("Hallucination guards", description="check every translation; quarantine what stays flagged")] = True,
    guard_settings: Annotated[OptionalName, Param("MT guards block", description="Sentinel MT Guards block; empty = calibrated defaults")] = "",
    redecode_flagged: Annotated[bool, Param("Retry flagged rows", description="once, with beam search and a repetition guard")] = True,
    data_quality: Annotated[bool, Param("Data-quality suites", description="Great Expectations on each shard's input and output")] = True,
    triton_endpoint: Annotated[OptionalName, Param("Triton endpoint block")] = "local-triton",
    s3_credentials: Annotated[OptionalName, Param("AWS credentials block")] = DEFAULT_CREDENTIALS_BLOCK,
    fan_out_deployment: Annotated[OptionalName, Param("Fan out to deployment")] = "",
    shards_per_child: Annotated[int, Param("Shards per child run", ge=1)] = 8,
    max_quarantined_share: Annotated[float, Param("Most quarantined share", "fail the run when more than this share of the rows written is quarantined (0-1; 1 = never)", ge=0, le=1)] = DEFAULT_MAX_QUARANTINED_SHARE,
    fail_on_empty_input: Annotated[bool, Param("Fail on an empty input", "end Failed, instead of Completed with nothing to do, when the input has no objects")] = False,
) -> dict:
    """Translate every row of the parquet objects under `input_uri` through Triton.

    Args:
        input_uri: s3:// prefix (or one object) of the parquet inputs; `{scheduled_date}` is replaced
            by the run's scheduled date (UTC).
        output_uri: s3:// prefix for results; the run writes `<output_uri>/<run_key>/`.
        table_version: for a Delta Lake or Iceberg table: the version (Delta), snapshot id (Iceberg)
            or ISO timestamp to read; empty = the latest. The run key pins the version read.
        delta_output_uri: also append the run's kept rows to this Delta Lake table (created if missing),
            in one commit carrying the run key: once per run key, however often the run is retried.
        target_lang: language to translate into.
        source_lang: language of the texts, or `auto` to detect it per row.
        text_column: column holding the text to translate (a field inside a struct column by its
            path, e.g. `payload.text`).
        id_column: column identifying each row (string, integer or UUID).
        passthrough_columns: input columns copied unchanged to the output.
        language_column: column with each row's source language (a supported code; checked by the
            input suite before inference); rows where it is empty use `source_lang`.
        candidate_source_langs: languages `auto` may choose from.
        shard_rows: at most this many rows per shard task (whole row groups; one larger than the
            bounds is a shard of its own).
        shard_bytes: at most this many uncompressed bytes of the columns a shard reads.
        model: Triton model: `translate`, or `echo` to measure the pipeline's own overhead.
        beam_size: beam size for decoding (1 = greedy).
        max_text_chars: longer texts are marked failed instead of being sent to Triton.
        segment_sentences: split each text into sentences (tasks/text/segmentation.py), translate them in
            one batch and reassemble them with the text's own spacing; the guards score every sentence
            and `flagged_sentences` names the flagged ones.
        guards: run the hallucination checks on every translation (never on `echo`); rows still
            flagged after the retry go to `<run_key>/quarantine/` with their reasons.
        guard_settings: name of a Sentinel MT Guards block with thresholds; empty = the calibrated defaults.
        redecode_flagged: retry a flagged translation once with beam search and a repetition guard.
        data_quality: run the input suite on each shard before inference and the output suite
            before commit (Great Expectations; summaries in the manifest, failed results under `<run_key>/quality/`).
        triton_endpoint: name of the Sentinel Triton Endpoint block.
        s3_credentials: name of the AWS Credentials block (empty = the environment's credentials).
        fan_out_deployment: run shard groups as child runs of this `shard-group` deployment
            (e.g. `shard-group/shard-group-local`) instead of in this process.
        shards_per_child: shards per child run when fanning out.
        max_quarantined_share: the run ends Failed when more than this share of the rows written
            went to quarantine (1 = never); the report says so.
        fail_on_empty_input: end Failed, instead of Completed with a "nothing to do" report, when
            the input has no objects.
    """
    stage = build_stage(locals())
    return run_job(stage, conn=load_s3_connection(s3_credentials), input_uri=input_uri, output_uri=output_uri,
                   shard_rows=shard_rows, shard_bytes=shard_bytes, s3_credentials=s3_credentials, fan_out_deployment=fan_out_deployment,
                   shards_per_child=shards_per_child, max_quarantined_share=max_quarantined_share,
                   fail_on_empty_input=fail_on_empty_input, table_version=table_version,
                   delta_output_uri=delta_output_uri)


def build_stage(p: Mapping[str, Any]) -> ShardStage:
    """translate-batch's stage from its parameters (by name): the flow builds it here, and so does
    `sentinel translate --dry-run` (deployments/dry_run.py)."""
    return translate_stage(
        load_triton(p["triton_endpoint"]), model=p["model"], text_column=p["text_column"], id_column=p["id_column"],
        target_lang=p["target_lang"], source_lang=p["source_lang"], candidate_source_langs=p["candidate_source_langs"],
        passthrough_columns=p["passthrough_columns"], language_column=p["language_column"],
        max_text_chars=p["max_text_chars"], beam_size=p["beam_size"], guards=p["guards"],
        guard_settings=p["guard_settings"], redecode_flagged=p["redecode_flagged"], data_quality=p["data_quality"],
        segment=p["segment_sentences"])
