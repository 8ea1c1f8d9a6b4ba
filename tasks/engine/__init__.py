"""The executor, the same for every stage: the stage contract, the shard runner, the Prefect tasks,
planning, the run record, row statuses. Never imports a modality (docs/architecture.md)."""
