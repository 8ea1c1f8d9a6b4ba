"""Where a Triton client's requests go: spread over every replica, not stuck on the first one.

`TritonCallSettings.url` names one endpoint or several, comma-separated. Each endpoint is a gRPC
target: `host:port` or `dns:///name:port` (a DNS name, resolved by gRPC), or an address.

- Inside one endpoint, the channel balances its calls `round_robin` over every address the name
  resolves to, one connection each: a Kubernetes headless Service (one A record per *ready* Triton
  pod) gets every replica its share of one flow process's calls. gRPC resolves the name again when a
  connection is lost — Triton's `--grpc-max-connection-age` GOAWAY, a replica gone — at most every
  `DNS_MIN_RESOLUTION_MS`; and the channel itself is replaced once it is `channel_max_age_s` old, so
  the name is resolved afresh even when no connection is ever lost (a server without a connection
  age). Replacement is make-before-break: the new channel connects while calls still go to the old
  one, takes the calls once it is ready, and the old one is closed when its last call has returned.
  New replicas thus join a running client within `channel_max_age_s` plus a connect; a draining
  pod leaves the DNS answer (readiness false) and the next resolution drops it.
- Across endpoints, requests go round robin over the endpoints that are up. One whose call failed
  for a transient reason is skipped for a hold (1 s, doubling to 30 s while it keeps failing) or
  until a readiness poll finds its model ready again; an endpoint whose channel cannot connect at
  all (TRANSIENT_FAILURE) is skipped too. With none up, the client's retry policy waits for one
  (tasks/inference/client.py).
"""
from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import grpc
import tritonclient.grpc.aio as grpcclient

# A resolution at most every 5 s per channel (gRPC's default is 30 s): with Triton recycling its
# connections every ~30 s, a channel over N replicas asks DNS about N times per 30 s, at most every 5 s.
DNS_MIN_RESOLUTION_MS = 5_000
# what tritonclient sets by default, plus a short reconnect backoff (after a restart, calls reach the
# server within ~2 s; gRPC's default reconnect backoff grows to 120 s while a server is down) and
# round_robin over every address of the target's name (gRPC's default, pick_first, uses one)
CHANNEL_ARGS = [
    ("grpc.max_send_message_length", 2**31 - 1), ("grpc.max_receive_message_length", 2**31 - 1),
    ("grpc.keepalive_time_ms", 2**31 - 1), ("grpc.keepalive_timeout_ms", 20_000),
    ("grpc.keepalive_permit_without_calls", False), ("grpc.http2.max_pings_without_data", 2),
    ("grpc.initial_reconnect_backoff_ms", 250), ("grpc.min_reconnect_backoff_ms", 250),
    ("grpc.max_reconnect_backoff_ms", 2_000),
    ("grpc.lb_policy_name", "round_robin"),
    ("grpc.dns_min_time_between_resolutions_ms", DNS_MIN_RESOLUTION_MS),
]
HOLD_S = (1.0, 30.0)  # how long a failing endpoint is skipped: first hold, longest hold


def grpc_client(target: str) -> grpcclient.InferenceServerClient:
    return grpcclient.InferenceServerClient(target, channel_args=CHANNEL_ARGS)


def _state(client: Any, connect: bool = False) -> grpc.ChannelConnectivity | None:
    """The channel's connectivity (None where the client has no gRPC channel to ask)."""
    channel = getattr(client, "_channel", None)  # tritonclient keeps its grpc.aio channel there
    try:
        return channel.get_state(try_to_connect=connect) if channel is not None else None
    except Exception:  # closed, or not a grpc.aio channel
        return None


@dataclass(eq=False)
class _Channel:
    client: Any
    opened: float
    in_flight: int = 0


class Endpoint:
    """One target: its current channel (replaced when `max_age_s` old), the channels being
    replaced until their calls have returned, and whether it is up."""

    def __init__(self, target: str, max_age_s: float | None, connect: Callable[[str], Any]):
        self.target = target
        self._connect, self._max_age_s = connect, max_age_s
        self._current = self._open()
        self._next: _Channel | None = None
        self._retiring: list[_Channel] = []
        self.down_until = 0.0
        self._holds = 0  # failed holds in a row
        self.replaced = 0  # channels replaced so far (a fresh name resolution each)

    @property
    def client(self) -> Any:
        return self._current.client

    def _open(self) -> _Channel:
        return _Channel(self._connect(self.target), time.monotonic())

    def up(self, now: float | None = None) -> bool:
        if self.down_until > (time.monotonic() if now is None else now):
            return False
        return _state(self._current.client) is not grpc.ChannelConnectivity.TRANSIENT_FAILURE

    def failed(self) -> None:
        """A call here failed for a transient reason: skip this endpoint for a (growing) hold."""
        now = time.monotonic()
        if self.down_until <= now:  # the calls in flight when it went down count once
            self._holds += 1
            self.down_until = now + min(HOLD_S[1], HOLD_S[0] * 2 ** (self._holds - 1))

    def served(self) -> None:
        self._holds, self.down_until = 0, 0.0

    ready_again = served  # a readiness poll found its model ready

    async def _renew(self) -> None:
        """Open the next channel when the current one is old; switch once it is ready."""
        if not self._max_age_s:
            return
        now = time.monotonic()
        if self._next is None:
            if now - self._current.opened >= self._max_age_s:
                self._next = self._open()
                if _state(self._next.client, connect=True) is None:  # cannot tell when it is ready: now
                    await self._switch()
            return
        state = _state(self._next.client)
        if state is grpc.ChannelConnectivity.READY or \
                _state(self._current.client) is grpc.ChannelConnectivity.TRANSIENT_FAILURE:
            await self._switch()
        elif now - self._next.opened >= self._max_age_s:  # never became ready: try a fresh one later
            stale, self._next = self._next, None
            await stale.client.close()

    async def _switch(self) -> None:
        old, self._current, self._next = self._current, self._next, None
        self.replaced += 1
        if old.in_flight:
            self._retiring.append(old)
        else:
            await old.client.close()

    @asynccontextmanager
    async def call(self) -> AsyncIterator[Any]:
        """The client to send one call with; its channel is closed after the call if it was replaced."""
        await self._renew()
        channel = self._current
        channel.in_flight += 1
        try:
            yield channel.client
        finally:
            channel.in_flight -= 1
            if not channel.in_flight and channel in self._retiring:
                self._retiring.remove(channel)
                await channel.client.close()

    async def close(self) -> None:
        for channel in (self._current, self._next, *self._retiring):
            if channel is not None:
                await channel.client.close()
        self._retiring = []


class Endpoints:
    """The endpoints of one client, in round-robin turn over those that are up."""

    def __init__(self, targets: list[str], max_age_s: float | None = None,
                 connect: Callable[[str], Any] = grpc_client):
        if not targets:
            raise ValueError("TritonCallSettings.url names no endpoint")
        self.all = [Endpoint(t, max_age_s, connect) for t in targets]
        self._turn = 0

    def __len__(self) -> int:
        return len(self.all)

    def pick(self) -> Endpoint:
        """The next endpoint that is up, in turn; with none up, the one whose hold ends first."""
        now, n = time.monotonic(), len(self.all)
        for offset in range(n):
            index = (self._turn + offset) % n
            if self.all[index].up(now):
                self._turn = (index + 1) % n
                return self.all[index]
        return min(self.all, key=lambda e: e.down_until)

    def any_up_besides(self, endpoint: Endpoint) -> bool:
        now = time.monotonic()
        return any(e.up(now) for e in self.all if e is not endpoint)

    def in_turn(self) -> list[Endpoint]:
        """Every endpoint, the next in turn first (readiness polls ask them in this order)."""
        return self.all[self._turn:] + self.all[:self._turn]

    async def close(self) -> None:
        for endpoint in self.all:
            await endpoint.close()
