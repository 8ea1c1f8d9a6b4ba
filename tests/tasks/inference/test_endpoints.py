"""The rules of tasks/inference/endpoints.py on stand-in clients (the same rules on real
tritonservers: test_spreading.py): round robin over the endpoints that are up, a failing endpoint
held out for a growing while, channels replaced when old and closed once their calls returned."""
from __future__ import annotations

import asyncio
import time

import grpc

from tasks.inference.endpoints import CHANNEL_ARGS, HOLD_S, Endpoint, Endpoints


class StandIn:
    def __init__(self, target: str):
        self.target, self.closed = target, False

    async def close(self):
        self.closed = True


def test_channels_balance_round_robin_over_every_address_of_a_name():
    args = dict(CHANNEL_ARGS)
    assert args["grpc.lb_policy_name"] == "round_robin"
    assert args["grpc.dns_min_time_between_resolutions_ms"] <= 30_000


def test_requests_go_round_robin_over_the_endpoints_that_are_up():
    endpoints = Endpoints(["a:1", "b:1", "c:1"], connect=StandIn)
    assert [endpoints.pick().target for _ in range(6)] == ["a:1", "b:1", "c:1"] * 2
    endpoints.all[1].failed()
    assert [endpoints.pick().target for _ in range(4)] == ["a:1", "c:1"] * 2
    assert endpoints.any_up_besides(endpoints.all[0])
    endpoints.all[1].ready_again()
    assert {endpoints.pick().target for _ in range(3)} == {"a:1", "b:1", "c:1"}


def test_a_failing_endpoint_is_held_out_longer_each_time_and_back_after_serving():
    endpoint = Endpoint("a:1", None, StandIn)
    endpoint.failed()
    first = endpoint.down_until - time.monotonic()
    endpoint.failed()  # calls in flight when it went down: the same hold
    assert abs(endpoint.down_until - time.monotonic() - first) < 0.05 and first <= HOLD_S[0]
    endpoint.down_until = 0.0  # the hold ran out; it fails again
    endpoint.failed()
    assert endpoint.down_until - time.monotonic() > HOLD_S[0] * 1.5
    endpoint.served()
    assert endpoint.up()


def test_with_every_endpoint_down_the_one_back_first_is_tried():
    endpoints = Endpoints(["a:1", "b:1"], connect=StandIn)
    endpoints.all[0].failed()
    endpoints.all[0].failed()
    endpoints.all[1].down_until = endpoints.all[0].down_until + 5
    assert endpoints.pick() is endpoints.all[0]
    assert not endpoints.any_up_besides(endpoints.all[1])


def test_an_old_channel_is_replaced_and_closed_after_its_last_call():
    async def go():
        endpoint = Endpoint("a:1", 0.05, StandIn)
        first = endpoint.client
        async with endpoint.call() as client:
            assert client is first
            await asyncio.sleep(0.06)
            async with endpoint.call() as newer:  # old now: the next call gets a new channel
                assert newer is not first and not first.closed, "a call still runs on the old one"
        assert first.closed and endpoint.replaced == 1 and not endpoint.client.closed
        await endpoint.close()
        assert endpoint.client.closed

    asyncio.run(go())


def test_a_real_channel_to_a_closed_port_counts_as_down():
    async def go():
        import socket

        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]  # nothing listens once closed
        endpoints = Endpoints([f"127.0.0.1:{port}"])
        endpoint = endpoints.all[0]
        channel = endpoint.client._channel
        channel.get_state(try_to_connect=True)
        deadline = time.monotonic() + 5
        while channel.get_state() is not grpc.ChannelConnectivity.TRANSIENT_FAILURE:
            assert time.monotonic() < deadline
            await asyncio.sleep(0.05)
        assert not endpoint.up()
        await endpoints.close()

    asyncio.run(go())
