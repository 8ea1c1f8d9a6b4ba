"""Translate every row of the parquet objects under an S3 prefix through Triton.

list objects -> plan shards from parquet footers -> translate + guard shards (mapped, cached) ->
manifest + _SUCCESS -> run report (flows/job.py). Rerunning the same inputs and config lands in
the same `<output_uri>/<run_key>/` and recomputes nothing already committed.
"""
from __future__ import annotations

from typing import Annotated

from prefect import flow
from prefect.task_runners import ThreadPoolTaskRunner
from pydantic import Field

from blocks.s3_access import DEFAULT_CREDENTIALS_BLOCK, load_s3_connection
from flows.job import SHARD_WORKERS, load_triton, run_job
from flows.parameters import LanguageCode, S3Prefix, SourceLanguage, TranslateModel
from flows.stage_builders import translate_stage
from tasks.sharding import DEFAULT_SHARD_ROWS


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
    shard_rows: Annotated[int, Field(title="Rows per shard", ge=1, le=5_000_000)] = DEFAULT_SHARD_ROWS,
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
        fan_out_deployment: run shard groups as child runs of this `shard-group` deployment
            (e.g. `shard-group/shard-group-local`) instead of in this process.
        shards_per_child: shards per child run when fanning out.
    """
    triton = load_triton(triton_endpoint)
    stage = translate_stage(
        triton, model=model, text_column=text_column, id_column=id_column, target_lang=target_lang,
        source_lang=source_lang, candidate_source_langs=candidate_source_langs,
        passthrough_columns=passthrough_columns, language_column=language_column, max_text_chars=max_text_chars,
        beam_size=beam_size, guards=guards, guard_settings=guard_settings, redecode_flagged=redecode_flagged,
        data_quality=data_quality)
    return run_job(stage, conn=load_s3_connection(s3_credentials), input_uri=input_uri, output_uri=output_uri,
                   shard_rows=shard_rows, s3_credentials=s3_credentials, fan_out_deployment=fan_out_deployment,
                   shards_per_child=shards_per_child)
