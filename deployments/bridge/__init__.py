"""The S3 event bridge: S3 notifications (SQS) or polling -> batches of new objects, each an input list in
S3 and one Prefect `sentinel.input-list.created` event (one flow run per batch)."""
