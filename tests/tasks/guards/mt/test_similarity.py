import math

import numpy as np

from tasks.guards.mt.base import TranslationBatch
from tasks.guards.mt.settings import SimilaritySettings
from tasks.guards.mt.similarity import SimilarityDetector, cosine_similarity, embed

SRC = "Die Phoneme werden dem übergeordneten Sprachsystem zugeordnet."


def test_encoder_runs_offline_from_packaged_weights_and_deduplicates():
    vectors = embed(["Hallo Welt", "Hello world", "Hallo Welt"])
    assert vectors.shape == (3, 512)
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-3)
    assert np.array_equal(vectors[0], vectors[2])


def test_translation_is_closer_than_a_detached_output():
    good, detached = cosine_similarity(
        [SRC, SRC],
        ["Phonemes are assigned to the superordinate language system.", "The staff were very friendly and helpful."],
    )
    assert good > 0.6 > detached


def test_cross_lingual_for_cjk():
    src = ["The staff were very friendly and helpful."] * 4
    ja, zh, ja_other, zh_other = cosine_similarity(
        src,
        [
            "スタッフはとても親切でした。",
            "员工非常友好和乐于助人。",
            "株価は昨日大きく下落した。",
            "明天的会议取消了。",
        ],
    )
    assert ja > ja_other + 0.2 and zh > zh_other + 0.2


def test_detector_scores_detached_high_and_skips_empty_rows():
    batch = TranslationBatch.build(
        [SRC, SRC, ""],
        [
            "Phonemes are assigned to the superordinate language system.",
            "The staff were very friendly and helpful.",
            "",
        ],
        ["de"] * 3,
        ["en"] * 3,
    )
    result = SimilarityDetector(SimilaritySettings()).score(batch)
    assert result.scores[0] < 0.5 < result.scores[1]
    assert math.isnan(result.scores[2])
    assert "cosine" in result.details[1]


def test_shard_threads_embed_concurrently_with_the_same_results():
    """embed() takes no lock for the process's own thread count: four threads at once get what one
    thread gets (up to float rounding of a different micro-batch layout)."""
    from concurrent.futures import ThreadPoolExecutor

    texts = [f"{SRC} ({i})" for i in range(64)] + [f"Satz Nummer {i} über das Wetter." for i in range(64)]
    alone = embed(texts)
    chunks = [texts[i::4] for i in range(4)]
    with ThreadPoolExecutor(4) as pool:
        together = list(pool.map(embed, chunks))
    for i, vectors in enumerate(together):
        assert np.allclose(vectors, alone[i::4], atol=1e-5)


class _RecordingEmbedder:
    """Stands in for Triton's embedder in these unit tests of the routing (the real client and
    model are tested on a real Triton: tests/tasks/inference/test_embed_client.py, tests/triton/test_embed_model.py)."""

    def __init__(self):
        self.calls: list[list[str]] = []

    def embed(self, texts):
        self.calls.append(list(texts))
        return embed(list(texts))


def _route_to(monkeypatch) -> tuple[_RecordingEmbedder, list[str]]:
    import tasks.inference.embed_client

    recorder, urls = _RecordingEmbedder(), []
    monkeypatch.setattr(tasks.inference.embed_client, "triton_embedder", lambda url: urls.append(url) or recorder)
    return recorder, urls


def test_without_a_triton_url_the_encoder_runs_in_process(monkeypatch):
    recorder, urls = _route_to(monkeypatch)
    batch = TranslationBatch.build([SRC], ["Phonemes are assigned to the language system."], ["de"], ["en"])
    result = SimilarityDetector(SimilaritySettings()).score(batch)
    assert SimilaritySettings().triton_url is None
    assert not recorder.calls and not urls and result.scores[0] < 0.5


def test_with_a_triton_url_distinct_texts_go_to_triton_once(monkeypatch):
    recorder, urls = _route_to(monkeypatch)
    vectors = embed(["Hallo Welt", "Hello world", "Hallo Welt"], triton_url="triton:8001")
    assert urls == ["triton:8001"] and recorder.calls == [["Hallo Welt", "Hello world"]]
    assert vectors.shape == (3, 512) and np.array_equal(vectors[0], vectors[2])
    settings = SimilaritySettings(triton_url="triton:8001")
    batch = TranslationBatch.build([SRC, ""], ["The staff were very friendly and helpful.", ""], ["de"] * 2, ["en"] * 2)
    result = SimilarityDetector(settings).score(batch)
    assert recorder.calls[-1] == [SRC, "The staff were very friendly and helpful."]  # empty rows not sent
    assert result.scores[0] > 0.5 and math.isnan(result.scores[1])


def test_an_empty_triton_url_is_refused():
    import pytest
    from pydantic import ValidationError

    with pytest.raises(ValidationError, match="triton_url"):
        SimilaritySettings(triton_url="")


def test_known_vectors_are_used_instead_of_encoding_again():
    marker = np.zeros(512, dtype=np.float32)
    marker[0] = 1.0
    vectors = embed(["Guten Morgen.", "Good morning."], known={"Guten Morgen.": marker})
    assert np.array_equal(vectors[0], marker)
    assert np.allclose(vectors[1], embed(["Good morning."])[0], atol=1e-6)
