"""Triton replicas behind one DNS name, as a Kubernetes headless Service shows them: tritonservers
that share one gRPC port, each on its own loopback address (127.0.0.2, .3, ...), and a private DNS
server on 127.0.0.1 whose answer for the name lists the replicas that are "ready" (the endpoints
of the Service). Clients reach them as `dns://127.0.0.1:<dns port>/<name>:<grpc port>`: gRPC asks
that server, not the system resolver, so nothing outside the test sees the name.

    with ReplicaSet(state_dir, replicas=3) as rs:
        client_url = rs.target
        rs.served()            # echo requests served per replica, from each server's own /metrics
        rs.add()               # a new replica, published once ready (scale-up)
        rs.drain(0)            # out of the answer, a wait, then SIGTERM (a pod deleted)

Each server's HTTP and metrics ports are its own, on 127.0.0.1. Every process stopped here is one
this module started.
"""
from __future__ import annotations

import re
import socket
import threading
import time
import urllib.request
from pathlib import Path

from dnslib import QTYPE, RR, A
from dnslib.server import BaseResolver, DNSLogger, DNSServer

from tests.reliability.triton_servers import TritonServer

NAME = "triton.sentinel.test"
TTL_S = 1  # CoreDNS answers a headless Service's records with TTL 5 s; shorter here, time is scaled


class LocalDns(BaseResolver):
    """A DNS server on 127.0.0.1 (UDP, a free port) answering A queries for the names in `records`;
    every query is logged with its time in `queries`."""

    def __init__(self) -> None:
        self.records: dict[str, list[str]] = {}
        self.queries: list[tuple[float, str]] = []
        self._lock = threading.Lock()
        self._server = DNSServer(self, port=_free_udp_port(), address="127.0.0.1",
                                 logger=DNSLogger("-request,-reply,-truncated,-recv,-send,-data", prefix=False))
        self.port = self._server.server.server_address[1]
        self._server.start_thread()

    def resolve(self, request, handler):
        reply, question = request.reply(), request.q
        name = str(question.qname).rstrip(".")
        with self._lock:
            self.queries.append((time.monotonic(), f"{name} {QTYPE[question.qtype]}"))
            addresses = list(self.records.get(name, ())) if question.qtype == QTYPE.A else []
        for address in addresses:
            reply.add_answer(RR(question.qname, QTYPE.A, rdata=A(address), ttl=TTL_S))
        return reply

    def publish(self, name: str, addresses: list[str]) -> None:
        with self._lock:
            self.records[name] = list(addresses)

    def a_queries_since(self, since: float) -> int:
        with self._lock:
            return sum(1 for t, q in self.queries if t >= since and q.endswith(" A"))

    def stop(self) -> None:
        self._server.stop()


def _free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _shared_grpc_port(hosts: list[str]) -> int:
    """A TCP port free on every one of `hosts`."""
    for _ in range(50):
        with socket.socket() as sock:
            sock.bind((hosts[0], 0))
            port = sock.getsockname()[1]
        if all(_tcp_free(h, port) for h in hosts[1:]):
            return port
    raise RuntimeError(f"no TCP port free on all of {hosts}")


def _tcp_free(host: str, port: int) -> bool:
    with socket.socket() as sock:
        try:
            sock.bind((host, port))
            return True
        except OSError:
            return False


def echo_successes(metrics_port: int) -> int:
    """nv_inference_request_success of `echo` from a server's own /metrics (0 when it is down)."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{metrics_port}/metrics", timeout=3) as response:
            text = response.read().decode()
    except OSError:
        return 0
    match = re.search(r'^nv_inference_request_success\{model="echo",version="1"\} (\d+)', text, re.MULTILINE)
    return int(match.group(1)) if match else 0


class ReplicaSet:
    """Echo-only tritonservers on 127.0.0.2.. sharing one gRPC port, published under `name` by a
    private DNS server; `connection_age_ms`: Triton's --grpc-max-connection-age (None: not set)."""

    MAX_REPLICAS = 8

    def __init__(self, state_dir: Path, replicas: int = 3, name: str = NAME, models: tuple[str, ...] = ("echo",),
                 connection_age_ms: int | None = None):
        self.state_dir, self.name, self.models = Path(state_dir), name, models
        self.extra_args = () if connection_age_ms is None else (
            f"--grpc-max-connection-age={connection_age_ms}", "--grpc-max-connection-age-grace=120000")
        self.hosts = [f"127.0.0.{2 + i}" for i in range(self.MAX_REPLICAS)]
        self.grpc_port = _shared_grpc_port(self.hosts)
        self.dns = LocalDns()
        self.servers: list[TritonServer] = []
        self.published: list[int] = []  # indexes of the replicas in the DNS answer
        self._baseline: list[int] = []
        self._last: dict[int, int] = {}  # a replica's count when last read (kept once it stopped)
        try:
            for _ in range(replicas):
                self.add()
        except BaseException:
            self.close()
            raise

    @property
    def target(self) -> str:
        """The gRPC target of the name (the headless Service's DNS name, here answered privately)."""
        return f"dns://127.0.0.1:{self.dns.port}/{self.name}:{self.grpc_port}"

    def _publish(self) -> None:
        self.dns.publish(self.name, [self.servers[i].grpc_host for i in self.published])

    def add(self) -> int:
        """Start one more replica; it enters the DNS answer once ready. Returns its index."""
        index = len(self.servers)
        state = self.state_dir / f"replica-{index}"
        if set(self.models) <= {"echo"}:
            (state / "triton" / "models").mkdir(parents=True, exist_ok=True)  # echo needs no model store
        server = TritonServer.start(state, models=self.models, grpc_host=self.hosts[index], grpc_port=self.grpc_port,
                                    extra_args=self.extra_args)
        self.servers.append(server)
        self._baseline.append(echo_successes(server.metrics_port))
        self.published.append(index)
        self._publish()
        return index

    def unpublish(self, index: int) -> None:
        """Out of the DNS answer (the pod's readiness turned false)."""
        self.published.remove(index)
        self._publish()

    def drain(self, index: int, wait_s: float) -> tuple[str, float]:
        """A pod deleted: out of the answer, `wait_s` (the preStop wait), then SIGTERM."""
        self.unpublish(index)
        time.sleep(wait_s)
        return self.servers[index].graceful_stop()

    def served(self) -> list[int]:
        """Echo requests each replica served since it started here (its own metrics; a stopped
        replica keeps what it last reported)."""
        for i, server in enumerate(self.servers):
            if server.running():
                self._last[i] = echo_successes(server.metrics_port) - self._baseline[i]
        return [self._last.get(i, 0) for i in range(len(self.servers))]

    def close(self) -> None:
        for server in self.servers:
            server.stop()
        self.dns.stop()

    def __enter__(self) -> ReplicaSet:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
