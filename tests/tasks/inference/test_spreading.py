"""One client spreads its calls over every Triton replica (issue 26), on real tritonservers: three
echo-only servers on 127.0.0.2-4 behind one DNS name answered by a private DNS server, as a
headless Service shows the ready pods (tests/reliability/triton_replicas.py). Requests per replica
come from each server's own metrics. ~30 s; the flow-level scenario is in the chaos suite
(tests/reliability/test_triton_spread.py)."""
from __future__ import annotations

import asyncio
import time

import pytest

from deployments.stack import triton as launcher
from tasks.inference.client import TritonCallSettings
from tasks.inference.endpoints import CHANNEL_ARGS
from tasks.inference.translate_client import TritonTranslateClient
from tests.reliability.private_stack import REPO_ROOT

pytestmark = pytest.mark.integration


def replica_set():
    """tests/reliability/triton_replicas.ReplicaSet, or a skip saying what is missing."""
    try:
        launcher.pytriton_dir(REPO_ROOT)
        from tests.reliability.triton_replicas import ReplicaSet
    except (launcher.TritonError, ImportError) as exc:
        pytest.skip(f"needs .venv-triton and dnslib: {exc}")
    return ReplicaSet


@pytest.fixture(scope="module")
def replicas(tmp_path_factory):
    with replica_set()(tmp_path_factory.mktemp("spread"), replicas=3) as rs:
        yield rs


def settings(url: str, **overrides) -> TritonCallSettings:
    return TritonCallSettings(**{"url": url, "model_name": "echo", "batch_size": 4, "concurrency": 6,
                                 "backoff_s": 0.05, "ready_timeout_s": 30.0, **overrides})


async def call(client: TritonTranslateClient, stop: asyncio.Event | None = None, requests: int | None = None,
               failures: list | None = None) -> int:
    """Echo requests of 4 rows, `concurrency` at a time, until `stop` is set or `requests` are served."""
    done = [0]

    async def worker():
        while not (stop is not None and stop.is_set()) and (requests is None or done[0] < requests):
            try:
                await client.translate(["a", "b", "c", "d"], "de", "en")
                done[0] += 1
            except Exception as exc:  # counted: the test asserts there is none
                (failures if failures is not None else []).append(repr(exc))
                if failures is None:
                    raise

    await asyncio.gather(*(worker() for _ in range(client.settings.concurrency)))
    return done[0]


def spread(replicas, before: list[int]) -> list[float]:
    after = replicas.served()
    got = [a - b for a, b in zip(after, before + [0] * (len(after) - len(before)), strict=True)]
    return [g / max(1, sum(got)) for g in got]


def test_one_dns_name_spreads_over_every_replica(replicas):
    before = replicas.served()
    asyncio.run(_calls(settings(replicas.target), requests=150))
    shares = spread(replicas, before)
    assert len(shares) == 3 and min(shares) >= 0.25, shares


def test_control_the_channel_without_round_robin_sends_everything_to_one_replica(replicas):
    """gRPC's default (pick_first), as every client did before: one replica gets it all."""
    import tritonclient.grpc.aio as grpcclient

    args = [a for a in CHANNEL_ARGS if a[0] != "grpc.lb_policy_name"]
    before = replicas.served()
    asyncio.run(_calls(settings(replicas.target), requests=60,
                       connect=lambda target: grpcclient.InferenceServerClient(target, channel_args=args)))
    assert sorted(spread(replicas, before)) == [0.0, 0.0, 1.0]


def test_an_endpoint_list_spreads_round_robin_too(replicas):
    url = ",".join(s.grpc_url for s in replicas.servers[:3])
    before = replicas.served()
    asyncio.run(_calls(settings(url), requests=150))
    shares = spread(replicas, before)
    assert min(shares) >= 0.25, shares


async def _calls(s: TritonCallSettings, connect=None, **how) -> int:
    async with TritonTranslateClient(s, connect) as client:
        return await call(client, **how)


def test_a_replica_added_mid_run_gets_calls_after_the_channel_is_replaced(replicas):
    """No connection is ever lost here (no connection age on these servers): only the channel's
    replacement after `channel_max_age_s` resolves the name again."""

    async def go():
        async with TritonTranslateClient(settings(replicas.target, channel_max_age_s=1.0)) as client:
            failures, stop = [], asyncio.Event()
            caller = asyncio.create_task(call(client, stop, failures=failures))
            await asyncio.sleep(1.0)
            index = await asyncio.to_thread(replicas.add)
            published = time.monotonic()
            while not (await asyncio.to_thread(replicas.served))[index]:
                assert time.monotonic() - published < 8, "the new replica got no call"
                await asyncio.sleep(0.1)
            joined_s = time.monotonic() - published
            replicas.unpublish(index)  # leave the set as the other tests know it
            await asyncio.sleep(1.0)
            stop.set()
            await caller
            return joined_s, failures, sum(e.replaced for e in client.endpoints.all)

    joined_s, failures, replaced = asyncio.run(go())
    print(f"new replica served its first call {joined_s:.1f} s after it entered the DNS answer; "
          f"{replaced} channel replacements")
    assert not failures and replaced >= 2


def test_a_drained_replica_fails_no_request(replicas):
    """A pod deleted: its address leaves the answer, a wait, SIGTERM while calls go on: 0 failed."""

    async def go():
        async with TritonTranslateClient(settings(replicas.target, channel_max_age_s=0.5)) as client:
            failures, stop = [], asyncio.Event()
            caller = asyncio.create_task(call(client, stop, failures=failures))
            await asyncio.sleep(1.0)
            how = await asyncio.to_thread(replicas.drain, 0, 1.5)
            await asyncio.sleep(0.5)
            stop.set()
            served = await caller
            return served, failures, how

    served, failures, (how, _) = asyncio.run(go())
    assert how == "SIGTERM" and served > 0
    assert not failures, failures[:3]


def test_a_lost_connection_resolves_the_name_again(tmp_path):
    """The other way a new replica is found: Triton's connection age (the Deployment's
    --grpc-max-connection-age, 1 s here) ends each connection with GOAWAY, gRPC resolves the name
    again; the client's own channel replacement is off."""
    ReplicaSet = replica_set()

    async def go(rs):
        async with TritonTranslateClient(settings(rs.target, channel_max_age_s=None)) as client:
            stop = asyncio.Event()
            caller = asyncio.create_task(call(client, stop))
            await asyncio.sleep(1.0)
            index = await asyncio.to_thread(rs.add)
            published = time.monotonic()
            while not (await asyncio.to_thread(rs.served))[index]:
                assert time.monotonic() - published < 5, "the new replica got no call"
                await asyncio.sleep(0.1)
            stop.set()
            await caller
            return time.monotonic() - published, sum(e.replaced for e in client.endpoints.all)

    with ReplicaSet(tmp_path, replicas=1, connection_age_ms=1000) as rs:
        joined_s, replaced = asyncio.run(go(rs))
        print(f"new replica joined {joined_s:.1f} s after it entered the answer (connection age 1 s, "
              f"resolutions at most every 5 s)")
        assert replaced == 0 and min(rs.served()) > 0
