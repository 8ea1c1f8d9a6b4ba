"""A fault-injecting HTTP proxy in front of an S3 endpoint: forwards every request unchanged (the
Host header too, so SigV4 signatures stay valid) and, during a fault window, answers 503 SlowDown
(S3's throttling reply) instead. Runs in a thread of the test process, on 127.0.0.1.

    with S3FaultProxy("http://127.0.0.1:10001") as proxy:   # proxy.endpoint -> clients
        proxy.fail_for(5.0)
"""
from __future__ import annotations

import http.client
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlparse

SLOWDOWN = (b'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>SlowDown</Code>'
            b"<Message>Please reduce your request rate.</Message></Error>")
HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "te", "trailer", "upgrade", "proxy-connection",
              "expect"}


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def log_message(self, *args) -> None:  # quiet
        pass

    def _body(self) -> bytes:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            chunks = []
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip(), 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return b"".join(chunks)
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _handle(self) -> None:
        proxy = self.server.proxy
        body = self._body()
        if proxy.failing():
            proxy.count("refused")
            self.send_response(503)
            self.send_header("Content-Type", "application/xml")
            self.send_header("Content-Length", str(len(SLOWDOWN)))
            self.send_header("Retry-After", "1")
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(SLOWDOWN)
            return
        headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP_BY_HOP}
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            headers["Content-Length"] = str(len(body))
        try:
            conn = http.client.HTTPConnection(proxy.upstream.hostname, proxy.upstream.port, timeout=60)
            conn.putrequest(self.command, self.path, skip_host=True, skip_accept_encoding=True)
            for key, value in headers.items():
                conn.putheader(key, value)
            conn.endheaders(body or None)
            response = conn.getresponse()
            payload = response.read()
        except OSError:
            proxy.count("upstream_error")
            self.send_error(502)
            return
        proxy.count("forwarded")
        self.send_response(response.status)
        for key, value in response.getheaders():
            if key.lower() not in HOP_BY_HOP and key.lower() != "content-length":
                self.send_header(key, value)
        self.send_header("Content-Length", response.getheader("Content-Length", "0") if self.command == "HEAD"
                         else str(len(payload)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(payload)
        conn.close()

    do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = _handle


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    proxy: S3FaultProxy


class S3FaultProxy:
    def __init__(self, upstream: str, port: int = 0):
        self.upstream = urlparse(upstream)
        self._server = _Server(("127.0.0.1", port), _Handler)
        self._server.proxy = self
        self._until = 0.0
        self._lock = threading.Lock()
        self.counts = {"forwarded": 0, "refused": 0, "upstream_error": 0}
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def fail_for(self, seconds: float) -> None:
        self._until = time.monotonic() + seconds

    def failing(self) -> bool:
        return time.monotonic() < self._until

    def count(self, what: str) -> None:
        with self._lock:
            self.counts[what] += 1

    def __enter__(self) -> S3FaultProxy:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._server.shutdown()
        self._server.server_close()
