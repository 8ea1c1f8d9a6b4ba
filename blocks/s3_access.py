"""S3 access through prefect-aws `AwsCredentials` blocks (endpoint set for S3-compatible stores).

A run reads the saved block's fields through the Prefect API (`load_block_data`) rather than
`AwsCredentials.load`: importing prefect-aws (its ECS worker, Lambda and S3 blocks come with it)
costs ~0.7 s on every run, a sixth of a small run's fixed cost (docs/benchmarks.md section 8).
The block type, its UI form and `credentials_from_env` stay prefect-aws' own."""
from __future__ import annotations

import os
from typing import TYPE_CHECKING

from blocks.loading import load_block_data
from tasks.io.s3 import S3Connection

if TYPE_CHECKING:
    from prefect_aws import AwsCredentials

DEFAULT_CREDENTIALS_BLOCK = "sentinel-s3"
CREDENTIALS_BLOCK_TYPE = "aws-credentials"  # prefect-aws' AwsCredentials


def credentials_from_env() -> AwsCredentials:
    """Build the block from the standard AWS env vars (+ AWS_ENDPOINT_URL_S3 for local stores)."""
    from prefect_aws import AwsCredentials
    from prefect_aws.client_parameters import AwsClientParameters

    conn = S3Connection.from_env()
    params = AwsClientParameters(endpoint_url=conn.endpoint_url) if conn.endpoint_url else AwsClientParameters()
    return AwsCredentials(
        aws_access_key_id=conn.access_key, aws_secret_access_key=conn.secret_key,
        aws_session_token=conn.session_token, region_name=conn.region, aws_client_parameters=params,
    )


def load_s3_connection(block_name: str | None) -> S3Connection:
    """The named AwsCredentials block; with no name (or SENTINEL_S3_FROM_ENV=1), the environment."""
    if not block_name or os.environ.get("SENTINEL_S3_FROM_ENV") == "1":
        return S3Connection.from_env()
    return S3Connection.from_block_data(load_block_data(CREDENTIALS_BLOCK_TYPE, block_name))
