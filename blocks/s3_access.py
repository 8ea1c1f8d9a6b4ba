"""S3 access through prefect-aws `AwsCredentials` (endpoint set for S3-compatible stores)."""
from __future__ import annotations

import os

from prefect_aws import AwsCredentials
from prefect_aws.client_parameters import AwsClientParameters

from blocks.loading import load_block
from tasks.io.s3 import S3Connection

DEFAULT_CREDENTIALS_BLOCK = "sentinel-s3"


def credentials_from_env() -> AwsCredentials:
    """Build the block from the standard AWS env vars (+ AWS_ENDPOINT_URL_S3 for local stores)."""
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
    return S3Connection.from_aws_credentials(load_block(AwsCredentials, block_name))
