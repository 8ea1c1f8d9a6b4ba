"""The `embed` client on the stack's real Triton: chunked requests come back in order, the
blocking embedder serves many threads over one channel, the similarity guard and
`sentinel check-mt --triton-url` score through it like the in-process encoder; an unreachable
Triton or an unknown model is an error, never a silent fallback."""
from __future__ import annotations

import asyncio
import socket
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pyarrow.parquet as pq
import pytest
import tritonclient.grpc as grpcclient

from tasks.guards.mt.base import TranslationBatch
from tasks.guards.mt.cli import add_check_mt_arguments, main_check_mt
from tasks.guards.mt.settings import SimilaritySettings
from tasks.guards.mt.similarity import SimilarityDetector, embed
from tasks.inference.client import TritonUnavailable
from tasks.inference.embed_client import TritonEmbedClient, TritonEmbedder, embed_settings, triton_embedder

pytestmark = pytest.mark.integration

SRC = ["Die Phoneme werden dem übergeordneten Sprachsystem zugeordnet.", "Das Hotel liegt direkt am Strand.",
       "Die Sitzung wurde auf Montag verschoben.", ""]
MT = ["Phonemes are assigned to the superordinate language system.", "The staff were very friendly and helpful.",
      "The meeting was postponed to Monday.", ""]
TEXTS = [f"Satz {i}: {s}" for i, s in enumerate(SRC[:3] * 4)] + ["", "日本語のテキスト"]


@pytest.fixture(scope="module")
def embed_url(triton_stack) -> str:
    url = triton_stack.triton_grpc_url
    client = grpcclient.InferenceServerClient(url)
    try:
        if not client.is_model_ready("embed"):
            pytest.fail(f"Triton at {url} has no ready `embed` model: restart the stack's Triton "
                        "(it was started before triton/model_repository/embed existed)")
    finally:
        client.close()
    return url


def test_chunked_requests_come_back_in_order(embed_url):
    async def both():
        async with TritonEmbedClient(embed_settings(embed_url, batch_size=3, concurrency=2)) as small, \
                TritonEmbedClient(embed_settings(embed_url)) as whole:
            return await small.embed(TEXTS), await whole.embed(TEXTS), await whole.embed([])

    chunked, one_request, empty = asyncio.run(both())
    assert chunked.shape == (len(TEXTS), 512) and empty.shape == (0, 512)
    assert np.allclose(chunked, one_request, atol=1e-5)
    assert np.einsum("ij,ij->i", chunked, embed(TEXTS)).min() >= 0.9999


def test_blocking_embedder_serves_many_threads(embed_url):
    embedder = TritonEmbedder(embed_settings(embed_url, batch_size=4, concurrency=2))
    try:
        expected = embedder.embed(TEXTS)
        with ThreadPoolExecutor(6) as pool:
            results = list(pool.map(lambda i: (i, embedder.embed(TEXTS[i:])), range(6)))
        for i, vectors in results:
            assert np.allclose(vectors, expected[i:], atol=1e-5)
    finally:
        embedder.close()
    assert triton_embedder(embed_url) is triton_embedder(embed_url)  # one per process and URL


def test_similarity_guard_scores_through_triton_like_in_process(embed_url):
    batch = TranslationBatch.build(SRC, MT, ["de"] * 4, ["en"] * 4)
    local = SimilarityDetector(SimilaritySettings()).score(batch)
    remote = SimilarityDetector(SimilaritySettings(triton_url=embed_url)).score(batch)
    assert np.allclose(local.scores, remote.scores, atol=1e-4, equal_nan=True)
    assert np.isnan(remote.scores[3]) and remote.scores[0] < 0.5 < remote.scores[1]


def test_check_mt_scores_through_triton(embed_url, tmp_path):
    import argparse

    source = tmp_path / "rows.csv"
    rows = "".join(f'"{s}","{m}",de,en\n' for s, m in zip(SRC, MT, strict=True))
    source.write_text("src,mt,src_lang,tgt_lang\n" + rows)
    outputs = {}
    for name, extra in (("local", []), ("triton", ["--triton-url", embed_url])):
        args = add_check_mt_arguments(argparse.ArgumentParser()).parse_args(
            ["--input", str(source), "--output", str(tmp_path / f"{name}.parquet"), "--detector-scores", *extra])
        assert main_check_mt(args) == 0
        outputs[name] = pq.read_table(tmp_path / f"{name}.parquet").to_pydict()
    assert outputs["local"]["flagged"] == outputs["triton"]["flagged"]
    assert np.allclose(np.array(outputs["local"]["similarity_score"], dtype=float),
                       np.array(outputs["triton"]["similarity_score"], dtype=float), atol=1e-4, equal_nan=True)


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _quick(url: str, **overrides):
    """Settings that give up within seconds (the defaults wait up to 180 s for a restarting Triton)."""
    return embed_settings(url, **{"max_retries": 1, "backoff_s": 0.01, "timeout_s": 5, "ready_timeout_s": 1,
                                  **overrides})


def test_unreachable_triton_is_an_error_after_waiting():
    embedder = TritonEmbedder(_quick(f"127.0.0.1:{_closed_port()}"))
    try:
        with pytest.raises(TritonUnavailable, match="not ready"):
            embedder.embed(["Hallo"])
    finally:
        embedder.close()


def test_unknown_model_is_unavailable_not_a_bad_row(embed_url):
    """A Triton without the model is a set-up problem (TritonUnavailable: the shard is rerun), not
    the rows' fault (TritonRequestRejected)."""
    async def call():
        async with TritonEmbedClient(_quick(embed_url, model_name="no-such-embed")) as client:
            return await client.embed(["Hallo"])

    with pytest.raises(TritonUnavailable, match="no-such-embed"):
        asyncio.run(call())


def test_check_mt_reports_an_unreachable_triton(tmp_path, capsys):
    import argparse

    source = tmp_path / "rows.csv"
    source.write_text(f'src,mt,src_lang,tgt_lang\n"{SRC[0]}","{MT[0]}",de,en\n')
    from tasks.inference import embed_client

    url = f"127.0.0.1:{_closed_port()}"
    embed_client._EMBEDDERS[url] = TritonEmbedder(_quick(url))  # the CLI's own would wait 180 s
    args = add_check_mt_arguments(argparse.ArgumentParser()).parse_args(
        ["--input", str(source), "--output", str(tmp_path / "out.parquet"), "--triton-url", url])
    assert main_check_mt(args) == 3
    assert "similarity encoder on Triton" in capsys.readouterr().out
    assert not (tmp_path / "out.parquet").exists()

