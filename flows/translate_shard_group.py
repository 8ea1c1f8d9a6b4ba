"""Fan-out: a group of shards of a translate-batch run, as its own flow run.

translate-batch in-process maps shard tasks on one machine (the default). With
`fan_out_deployment` set, it instead starts one run of this flow's deployment per group of
shards (on `k8s-gpu`, one Job per group on a GPU node next to Triton). Children write the same
deterministic parts and use the same shard cache, so the parent's manifest reads what they
committed, and reruns recompute nothing.
"""
from __future__ import annotations

from dataclasses import asdict, replace

from prefect import flow, unmapped

from blocks.s3_access import load_s3_connection
from tasks.checks.settings import MTGuardSettings
from tasks.listing import ObjectRef
from tasks.sharding import RowGroupSlice, Shard
from tasks.translate_shard import TranslateSettings, translate_shard_task, triton_slot_limit
from tasks.quality import InputSpec, OutputSpec
from tasks.shard_quality import ShardQualityChecks
from tasks.translation_guard import TranslationGuard
from tasks.triton_client import TritonCallSettings


def shard_to_dict(shard: Shard) -> dict:
    return asdict(shard)


def shard_from_dict(doc: dict) -> Shard:
    return Shard(ObjectRef(**doc["object"]), doc["row_start"], doc["row_stop"],
                 tuple(RowGroupSlice(**piece) for piece in doc["slices"]))


def settings_to_dict(settings: TranslateSettings) -> dict:
    """JSON-ready settings for a child run's parameters."""
    doc = asdict(replace(settings, guard=None, quality=None))
    doc["guard"] = settings.guard.config() if settings.guard else None
    doc["quality"] = settings.quality.config() if settings.quality else None
    return doc


def settings_from_dict(doc: dict) -> TranslateSettings:
    doc = dict(doc)
    triton = TritonCallSettings(**doc.pop("triton"))
    guard, quality = doc.pop("guard", None), doc.pop("quality", None)
    if guard is not None:
        guard = TranslationGuard(MTGuardSettings.model_validate(guard["checks"]), guard["redecode"])
    if quality is not None:
        quality = ShardQualityChecks(InputSpec.model_validate(quality["input"]),
                                     OutputSpec.model_validate(quality["output"]))
    for name in ("candidate_source_langs", "passthrough_columns"):
        doc[name] = tuple(doc[name])
    return TranslateSettings(**doc, triton=triton, guard=guard, quality=quality)


@flow(name="translate-shard-group", log_prints=True)
def translate_shard_group(shards: list[dict], settings: dict, run_dir: str, run_key: str,
                          s3_credentials: str | None = None) -> list[dict]:
    """Translate some shards of a translate-batch run (started by the parent, not by hand).

    Args:
        shards: the shards, as the parent planned them.
        settings: the parent's translate settings.
        run_dir: the parent run's output directory.
        run_key: the parent run's key (shard cache keys derive from it).
        s3_credentials: name of the AWS Credentials block (empty = the environment's credentials).
    """
    from flows.translate_batch import shard_result_storage
    from tasks.s3_uri import S3Uri

    conn = load_s3_connection(s3_credentials)
    output = S3Uri.parse(run_dir.rsplit("/", 1)[0])
    task = translate_shard_task.with_options(result_storage=shard_result_storage(output, s3_credentials))
    futures = task.map(unmapped(conn), [shard_from_dict(d) for d in shards], unmapped(settings_from_dict(settings)),
                       unmapped(run_dir), unmapped(run_key), unmapped(triton_slot_limit()))
    return [asdict(result) for result in futures.result()]
