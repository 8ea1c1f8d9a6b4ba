"""A run's S3 connection comes from the saved AwsCredentials block's fields, read without importing
prefect-aws: the same connection prefect-aws' own `AwsCredentials.load` gives, and a missing block
named with the fix."""
import subprocess
import sys

import pytest

from blocks.loading import MissingBlock
from blocks.s3_access import DEFAULT_CREDENTIALS_BLOCK, credentials_from_env, load_s3_connection


@pytest.mark.usefixtures("prefect_stack", "s3_stack")
def test_the_block_read_as_data_is_the_block_prefect_aws_loads(monkeypatch):
    from prefect_aws import AwsCredentials

    monkeypatch.delenv("SENTINEL_S3_FROM_ENV", raising=False)
    saved = credentials_from_env()
    saved.aws_session_token = "a-session-token"
    saved.save("sentinel-s3-read-test", overwrite=True)
    loaded = AwsCredentials.load("sentinel-s3-read-test")
    conn = load_s3_connection("sentinel-s3-read-test")
    assert conn.access_key == loaded.aws_access_key_id
    assert conn.secret_key == loaded.aws_secret_access_key.get_secret_value()
    assert conn.session_token == "a-session-token"
    assert conn.endpoint_url == loaded.aws_client_parameters.endpoint_url
    assert conn.region == loaded.region_name
    with pytest.raises(MissingBlock, match=r"aws-credentials block named 'no-such-s3'.*sentinel blocks register"):
        load_s3_connection("no-such-s3")


@pytest.mark.usefixtures("prefect_stack")
def test_loading_the_connection_does_not_import_prefect_aws():
    script = (f"import sys; from blocks.s3_access import load_s3_connection; "
              f"load_s3_connection({DEFAULT_CREDENTIALS_BLOCK!r}); print('prefect_aws' in sys.modules)")
    found = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    assert found.stdout.strip().splitlines()[-1] == "False"
