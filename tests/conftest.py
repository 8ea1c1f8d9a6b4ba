"""Session fixtures: the real local stack (SeaweedFS S3, Triton, Prefect server).

Services already running (e.g. after `make stack-up`) are reused and left running;
services the fixtures start are stopped at the end of the session.
"""
from __future__ import annotations

import os
import uuid

import pytest

from deployments.stack.config import StackConfig, client_env

CFG = StackConfig()
# Point every client in this process at the local stack before prefect is imported by tests.
for _key, _value in client_env(CFG).items():
    os.environ[_key] = _value
os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")


@pytest.fixture(scope="session")
def stack_config() -> StackConfig:
    return CFG


def _service_fixture(name: str):
    from deployments.stack import local_stack

    was_up = local_stack.status(CFG)[name]
    if not was_up:
        local_stack.up(CFG, services=(name,))
    yield CFG
    if not was_up:
        local_stack.stop(CFG, name)


@pytest.fixture(scope="session")
def s3_stack():
    yield from _service_fixture("seaweedfs")


@pytest.fixture(scope="session")
def prefect_stack():
    yield from _service_fixture("prefect-server")


@pytest.fixture(scope="session")
def triton_stack():
    yield from _service_fixture("triton")


@pytest.fixture(scope="session")
def s3_conn(s3_stack):
    from tasks.io.s3 import S3Connection

    return S3Connection.from_env()


@pytest.fixture(scope="session")
def bucket(s3_conn) -> str:
    """A fresh bucket per test session."""
    name = f"test-{uuid.uuid4().hex[:12]}"
    s3_conn.boto3_client().create_bucket(Bucket=name)
    return name


@pytest.fixture(scope="session")
def full_stack(s3_stack, prefect_stack, triton_stack):
    from blocks.register import register_blocks

    register_blocks(triton_url=CFG.triton_grpc_url)
    return CFG
