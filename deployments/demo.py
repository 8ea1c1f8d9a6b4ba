"""`make demo`: demo data into local S3, translate-batch through the Prefect server, and a
printout of where the results are."""
from __future__ import annotations

import io
import json

import pyarrow.parquet as pq

from deployments.demo_data import demo_quarantine_limit, write_demo_dataset
from deployments.stack.config import StackConfig
from tasks.io.s3 import S3Connection
from tasks.io.s3_uri import S3Uri

TINY_MODEL_NOTICE = """\
NOTE: the translate model in use is the TINY TEST MODEL built by `make models` (random weights):
its translations are noise. It proves the pipeline, not translation quality, and the
hallucination guards flag (nearly) every one of its translations and quarantine them: that is
the guards working. To use a real
OPUS-MT model where a network exists:
  .venv-triton/bin/python triton/tools/fetch_opus_mt.py --pair de-en --store .local/model-store
  .venv-triton/bin/python triton/tools/fetch_opus_mt.py --pair fr-en --store .local/model-store
  make stack-down stack-up      # Triton's models dir is filled from the store at start-up
(see triton/README.md; in production the store is s3://…)."""


def tiny_models_in_use(cfg: StackConfig) -> list[str]:
    tiny = []
    for meta in sorted((cfg.triton_models_dir / "translate").glob("*/sentinel-model.json")):
        doc = json.loads(meta.read_text())
        if doc.get("tiny"):
            tiny.append(doc.get("name", meta.parent.name))
    return tiny


ROW_COLUMNS = ["id", "source_lang", "status", "source_text", "translation"]


def first_rows(conn: S3Connection, part_uri: str, limit: int = 5, columns: list[str] = ROW_COLUMNS) -> list[dict]:
    target = S3Uri.parse(part_uri)
    body = conn.boto3_client().get_object(Bucket=target.bucket, Key=target.key)["Body"].read()
    return pq.read_table(io.BytesIO(body), columns=columns).slice(0, limit).to_pylist()


def run_demo(bucket: str = "sentinel-demo") -> int:
    from blocks.register import register_blocks
    from flows.translate_batch import translate_batch

    cfg = StackConfig()
    conn = S3Connection.from_env()
    register_blocks()
    inputs = write_demo_dataset(conn, f"s3://{bucket}/inputs/news/")
    print(f"demo dataset: {len(inputs)} objects under s3://{bucket}/inputs/news/")
    limit = demo_quarantine_limit(translate_batch) if tiny_models_in_use(cfg) else {}
    state = translate_batch(input_uri=f"s3://{bucket}/inputs/news/", output_uri=f"s3://{bucket}/outputs/news/",
                            target_lang="en", source_lang="auto", passthrough_columns=["source"],
                            shard_rows=64, return_state=True, **limit)
    flow_run_id = state.state_details.flow_run_id
    summary = state.result(raise_on_failure=False)
    print("\n=== translate-batch", state.name, "===")
    if isinstance(summary, dict):
        print(f"outcome:     {summary.get('headline', state.name)}"
              + ("  (max_quarantined_share=1.0: the tiny model's output is noise)" if limit else ""))
        print(f"output:      {summary['output_dir']}/")
        print(f"report:      {summary['written'].get('report_md', '')}")
        print(f"manifest:    {summary['written']['manifest']}")
        print(f"rows:        {summary['rows']}  {summary['status_counts']}")
        print(f"shards:      {len(summary['shards'])}   wall time {summary['seconds']} s")
        print("first rows:")
        for row in first_rows(conn, summary["shards"][0]["output_uri"]):
            print("  ", json.dumps(row, ensure_ascii=False))
        quarantined = [s["quarantine_uri"] for s in summary["shards"] if s.get("quarantine_uri")]
        print(f"quarantine:  {summary['output_dir']}/quarantine/  ({len(quarantined)} parts; failed rows and rows "
              "the hallucination guards still flagged after a beam-search retry)")
        if quarantined:
            print("first quarantined rows:")
            for row in first_rows(conn, quarantined[0], 3, ROW_COLUMNS + ["error", "hallucination_score", "reasons"]):
                print("  ", json.dumps(row, ensure_ascii=False, default=str))
    else:
        print(f"run failed: {summary}")
    print(f"Prefect UI:  http://127.0.0.1:{cfg.prefect_port}/runs/flow-run/{flow_run_id}")
    print(f"S3 endpoint: {cfg.s3_endpoint} (credentials: set -a; . {cfg.state_dir / 'stack.env'}; set +a)")
    if tiny_models_in_use(cfg):
        print("\n" + TINY_MODEL_NOTICE)
    return 0 if state.is_completed() else 1
