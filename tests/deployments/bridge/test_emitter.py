"""The emitter's retries (tenacity): a refused post is retried with backoff, and after the last
try EmitFailed names the last error. Against a small real HTTP server that refuses on purpose,
and the real Prefect events API."""
from __future__ import annotations

import http.server
import threading
from contextlib import contextmanager

import pytest

from deployments.bridge.emitter import EmitFailed, PrefectEventsEmitter


@contextmanager
def server_refusing(times: int):
    """An events API answering 503 to the first `times` posts, then 204; yields (api_url, posts)."""
    posts: list[bytes] = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self):
            posts.append(self.rfile.read(int(self.headers["Content-Length"])))
            refused = len(posts) <= times
            self.send_response(503 if refused else 204)
            body = b"draining" if refused else b""
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}/api", posts
    finally:
        server.shutdown()
        server.server_close()


def test_a_refused_post_is_retried_until_accepted():
    with server_refusing(2) as (url, posts):
        PrefectEventsEmitter(url, retries=3, backoff_s=0.01).emit([{"event": "x"}])
    assert len(posts) == 3 and posts[0] == posts[2]


def test_after_the_last_retry_the_error_names_the_api_and_the_last_answer():
    with server_refusing(99) as (url, posts), pytest.raises(EmitFailed) as failed:
        PrefectEventsEmitter(url, retries=2, backoff_s=0.01).emit([{"event": "x"}])
    assert len(posts) == 3
    assert f"{url}/events did not accept 1 events: HTTP 503: draining" in str(failed.value)


def test_nothing_to_emit_posts_nothing():
    with server_refusing(0) as (url, posts):
        PrefectEventsEmitter(url).emit([])
    assert posts == []


def test_an_unreachable_api_fails_after_its_retries():
    with pytest.raises(EmitFailed, match="did not accept 1 events"):
        PrefectEventsEmitter("http://127.0.0.1:9/api", retries=1, backoff_s=0.01, timeout_s=1).emit([{"event": "x"}])


@pytest.mark.integration
def test_the_prefect_events_api_accepts_an_event(prefect_stack):
    import os
    import uuid
    from datetime import UTC, datetime

    event = {"id": str(uuid.uuid4()), "occurred": datetime.now(UTC).isoformat(), "event": "sentinel.test.emitter",
             "resource": {"prefect.resource.id": "sentinel.test"}, "payload": {}}
    PrefectEventsEmitter(os.environ["PREFECT_API_URL"], retries=0).emit([event])
