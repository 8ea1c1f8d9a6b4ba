"""Sentence embeddings from Triton's `embed` model (multilingual USE v3, the similarity guard's
encoder: triton/model_repository/embed/README.md).

`TritonEmbedClient` is a `TritonClient` (a channel per endpoint of `settings.url`, at most
`concurrency` requests in flight, retries decided by cause): `await client.embed(texts)` sends
`batch_size` texts per request, concurrently, and returns one L2-normalised 512-d float32 row per
text.

The guards run in worker threads (`asyncio.to_thread` from a shard's loop), so
`triton_embedder(url).embed(texts)` is the blocking form: one private event loop per process and
URL, on a daemon thread, owns the client; any thread submits to it and waits. Shard threads share
its channels and its in-flight limit.
"""
from __future__ import annotations

import asyncio
import atexit
import os
import threading

import numpy as np
import tritonclient.grpc.aio as grpcclient

from tasks.inference.client import TritonCallSettings, TritonClient, TritonRequestRejected
from tasks.inference.wire import encode_bytes_tensor, raw_input

EMBED_MODEL = "embed"
EMBEDDING_DIM = 512


def embed_settings(url: str, **overrides) -> TritonCallSettings:
    """Call settings for `embed`: 128 texts per request, 4 in flight, 60 s per request."""
    return TritonCallSettings(**{"url": url, "model_name": EMBED_MODEL, "batch_size": 128, "concurrency": 4,
                                 "timeout_s": 60.0, **overrides})


class TritonEmbedClient(TritonClient):
    """`embed()` over TritonClient's channels, slots and retries."""

    def __init__(self, settings: TritonCallSettings, connect=None):
        super().__init__(settings, connect)
        self._outputs = [grpcclient.InferRequestedOutput("EMBEDDING")]

    async def embed(self, texts: list[str]) -> np.ndarray:
        """float32 [len(texts), 512], row i the embedding of texts[i] (TritonUnavailable when Triton
        stays unreachable, TritonRequestRejected when it refuses a request)."""
        if not texts:
            return np.zeros((0, EMBEDDING_DIM), dtype=np.float32)
        size = max(1, self.settings.batch_size)
        chunks = [texts[i:i + size] for i in range(0, len(texts), size)]
        return np.concatenate(await asyncio.gather(*(self._infer(chunk) for chunk in chunks)))

    async def _infer(self, texts: list[str]) -> np.ndarray:
        async with self._slots:
            result = await self._with_retries([raw_input("TEXT", len(texts), encode_bytes_tensor(texts))],
                                              self._outputs, decoding={})
        return _embeddings(result, len(texts), self.settings.model_name)


def _embeddings(result, rows: int, model: str) -> np.ndarray:
    response = result.get_response()
    raw = response.raw_output_contents[0] if response.raw_output_contents else None
    vectors = (np.frombuffer(raw, dtype=np.float32) if raw is not None
               else result.as_numpy("EMBEDDING").astype(np.float32, copy=False).reshape(-1))
    if vectors.size != rows * EMBEDDING_DIM:
        raise TritonRequestRejected(f"Triton model {model!r} returned {vectors.size} floats for {rows} texts "
                                    f"(expected {rows} x {EMBEDDING_DIM})")
    return vectors.reshape(rows, EMBEDDING_DIM)


class TritonEmbedder:
    """Blocking `embed()` for worker threads: a private event loop on a daemon thread owns one
    TritonEmbedClient; calls from any thread run on it, sharing its channels and slots."""

    def __init__(self, settings: TritonCallSettings):
        self.settings = settings
        self.pid = os.getpid()
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name=f"embed-{settings.url}", daemon=True)
        self._thread.start()
        self._client = self._run(self._open())

    async def _open(self) -> TritonEmbedClient:
        return TritonEmbedClient(self.settings)  # created on the loop that will use its channel

    def _run(self, coroutine):
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop).result()

    def embed(self, texts: list[str]) -> np.ndarray:
        return self._run(self._client.embed(list(texts)))

    def close(self) -> None:
        if self._loop.is_closed() or self.pid != os.getpid():
            return
        try:
            self._run(self._client.close())
        finally:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(5)
            if not self._thread.is_alive():
                self._loop.close()


_EMBEDDERS: dict[str, TritonEmbedder] = {}
_EMBEDDERS_LOCK = threading.Lock()


def triton_embedder(url: str) -> TritonEmbedder:
    """The process's embedder for `url` (created on first use, closed at exit). A forked child
    gets its own: the parent's loop thread does not exist in it."""
    with _EMBEDDERS_LOCK:
        embedder = _EMBEDDERS.get(url)
        if embedder is None or embedder.pid != os.getpid():
            embedder = _EMBEDDERS[url] = TritonEmbedder(embed_settings(url))
        return embedder


def close_embedders() -> None:
    with _EMBEDDERS_LOCK:
        embedders = list(_EMBEDDERS.values())
        _EMBEDDERS.clear()
    for embedder in embedders:
        embedder.close()


atexit.register(close_embedders)


def embed_model_ready(url: str, timeout_s: float = 5.0) -> bool:
    """Whether Triton at `url` serves a ready `embed` model (a run asks once, at its start)."""
    import tritonclient.grpc as grpc_sync

    try:
        client = grpc_sync.InferenceServerClient(url.split(",")[0].strip())
        try:
            return bool(client.is_model_ready(EMBED_MODEL, client_timeout=timeout_s))
        finally:
            client.close()
    except Exception:
        return False
