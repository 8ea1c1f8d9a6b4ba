"""The S3 event bridge: S3 notifications (SQS) or polling -> Prefect `s3.object.created` events."""
