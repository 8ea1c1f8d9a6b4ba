"""The echo and translate models on a real tritonserver (tiny random-weight Marian de-en / fr-en)."""
from __future__ import annotations

import math
import shutil
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
import tritonclient.grpc as grpcclient
import tritonclient.http as httpclient
from triton_fixtures import start_server, triton_launcher
from tritonclient.utils import InferenceServerException

pytestmark = pytest.mark.integration

UNICODE_ROWS = [
    ("Grüße aus Köln! Straße, Maß, Äpfel.", "de", "en"),
    ("Ça coûte 5 € — déjà payé ?", "fr", "en"),
    ("", "de", "en"),
    ("emoji 🙂👍🏽 and 中文 and العربية", "de", "en"),
    ("tab\tand\nnewline", "fr", "en"),
]


def make_inputs(module, rows):
    inputs = []
    for col, name in enumerate(("TEXT", "SRC_LANG", "TGT_LANG")):
        data = np.array([[row[col].encode("utf-8")] for row in rows], dtype=np.object_)
        tensor = module.InferInput(name, list(data.shape), "BYTES")
        tensor.set_data_from_numpy(data)
        inputs.append(tensor)
    return inputs


def infer(url, model, rows, parameters=None, module=httpclient):
    client = module.InferenceServerClient(url)
    try:  # close: an open keep-alive connection makes tritonserver wait exit_timeout on shutdown
        result = client.infer(model, make_inputs(module, rows), parameters=parameters)
    finally:
        client.close()
    texts = [t.decode("utf-8") for t in result.as_numpy("TRANSLATION").reshape(-1)]
    return texts, result.as_numpy("LOGPROB").reshape(-1), [m.decode() for m in result.as_numpy("MODEL").reshape(-1)]


def test_both_models_ready(triton_server):
    client = httpclient.InferenceServerClient(triton_server.http_url)
    assert client.is_model_ready("echo") and client.is_model_ready("translate")
    client.close()
    assert triton_server.startup_seconds < 60


@pytest.mark.parametrize("module", [httpclient, grpcclient], ids=["http", "grpc"])
def test_echo_roundtrips_a_unicode_batch(triton_server, module):
    url = triton_server.http_url if module is httpclient else triton_server.grpc_url
    texts, logprobs, models = infer(url, "echo", UNICODE_ROWS, module=module)
    assert texts == [row[0] for row in UNICODE_ROWS]
    assert logprobs.dtype == np.float32 and not logprobs.any()
    assert models == ["echo"] * len(UNICODE_ROWS)


def test_echo_large_batch(triton_server):
    rows = [(f"Satz Nummer {i} – ünïcödé", "de", "en") for i in range(256)]
    texts, _, models = infer(triton_server.http_url, "echo", rows)
    assert texts == [r[0] for r in rows] and set(models) == {"echo"}


@pytest.mark.parametrize("src, model_name", [("de", "marian-de-en"), ("fr", "marian-fr-en")])
def test_translate_pair(triton_server, src, model_name):
    sentences = {"de": ["Das Wetter ist heute schön.", "Wo ist der Bahnhof?"],
                 "fr": ["Il fait beau aujourd'hui.", "Où est la gare ?"]}[src]
    texts, logprobs, models = infer(triton_server.http_url, "translate", [(s, src, "en") for s in sentences])
    assert all(isinstance(t, str) and t.strip() for t in texts)
    assert logprobs.dtype == np.float32
    assert all(math.isfinite(lp) and lp <= 0.0 for lp in logprobs)
    assert models == [model_name] * len(sentences)


def test_nllb_serves_the_pairs_without_a_marian_model(triton_server):
    rows = [("The weather is nice today.", "en", "de"), ("Das Buch liegt auf dem Tisch.", "de", "fr"),
            ("Le chat dort.", "fr", "de"), ("Das Wetter ist schön.", "de", "en")]
    texts, logprobs, models = infer(triton_server.http_url, "translate", rows, {"beam_size": 2})
    assert models == ["nllb-tiny", "nllb-tiny", "nllb-tiny", "marian-de-en"]  # a pair's Marian model wins
    for text in texts[:3]:
        assert text.strip() and "_Latn" not in text and "\u2047" not in text  # no language codes, no unknowns
    assert all(math.isfinite(lp) and lp <= 0.0 for lp in logprobs)


def test_translate_is_deterministic_and_empty_text_is_empty(triton_server):
    rows = [("Die Kinder spielen im Garten.", "de", "en"), ("   ", "de", "en")]
    first = infer(triton_server.http_url, "translate", rows)
    second = infer(triton_server.grpc_url, "translate", rows, module=grpcclient)
    assert first[0] == second[0]
    assert first[0][1] == "" and first[1][1] == 0.0 and first[2][1] == "marian-de-en"


def test_unknown_pair_is_a_clear_error(triton_server):
    with pytest.raises(InferenceServerException) as excinfo:
        infer(triton_server.http_url, "translate", [("Hello", "en", "xx")])
    message = str(excinfo.value)
    assert "no translation model for pair en-xx" in message
    assert "available pairs: de-en, de-fr, en-de, en-fr, fr-de, fr-en" in message


def test_invalid_parameter_is_a_clear_error(triton_server):
    with pytest.raises(InferenceServerException, match="beam_size"):
        infer(triton_server.http_url, "translate", [("Hallo", "de", "en")], parameters={"beam_size": 0})


def test_decoding_parameters_are_accepted(triton_server):
    rows = [("Das Buch liegt auf dem Tisch.", "de", "en"), ("Le livre est sur la table.", "fr", "en")]
    for params in ({"beam_size": 4}, {"repetition_penalty": 1.3, "no_repeat_ngram_size": 2},
                   {"beam_size": 2, "max_decoding_length": 40}):
        texts, logprobs, models = infer(triton_server.grpc_url, "translate", rows, params, module=grpcclient)
        assert all(texts) and all(math.isfinite(lp) and lp <= 0 for lp in logprobs)
        assert models == ["marian-de-en", "marian-fr-en"]
    texts, _, _ = infer(triton_server.http_url, "translate", rows, {"max_decoding_length": 1})
    assert all(len(t.split()) <= 1 for t in texts)  # one SentencePiece token at most


def test_mixed_pair_batch_matches_single_rows(triton_server):
    rows = [("Ich habe meine Schlüssel verloren.", "de", "en"), ("J'ai perdu mes clés.", "fr", "en"),
            ("", "fr", "en"), ("Der Zug nach München fährt von Gleis drei ab.", "de", "en"),
            ("Le train pour Munich part du quai trois.", "fr", "en")]
    texts, logprobs, models = infer(triton_server.http_url, "translate", rows)
    assert models == ["marian-de-en", "marian-fr-en", "marian-fr-en", "marian-de-en", "marian-fr-en"]
    for i, row in enumerate(rows):
        single_text, single_lp, _ = infer(triton_server.http_url, "translate", [row])
        assert texts[i] == single_text[0]
        assert logprobs[i] == pytest.approx(single_lp[0], abs=1e-3)


def test_concurrent_requests_mix_pairs_params_and_errors(triton_server):
    """Requests the dynamic batcher may merge: a bad one fails alone, the others get their own rows."""
    requests = [([("Wo ist der Bahnhof?", "de", "en")], None), ([("Où est la gare ?", "fr", "en")], {"beam_size": 3}),
                ([("Hello", "en", "xx")], None), ([("See you later.", "en", "fr")], {"beam_size": 2}),
                ([("Das Glas ist halb voll.", "de", "en")] * 3, {"beam_size": 2}),
                ([("Bis später.", "de", "en"), ("À plus tard.", "fr", "en")], None)] * 4
    expected = {}
    for rows, params in requests[:6]:
        if rows[0][1:] != ("en", "xx"):
            expected[(tuple(rows), str(params))] = infer(triton_server.http_url, "translate", rows, params)[0]

    def call(item):
        rows, params = item
        try:
            return item, infer(triton_server.http_url, "translate", rows, params)[0]
        except InferenceServerException as exc:
            return item, exc

    with ThreadPoolExecutor(max_workers=10) as pool:
        for (rows, params), outcome in pool.map(call, requests):
            if rows[0][1:] == ("en", "xx"):
                assert isinstance(outcome, InferenceServerException) and "en-xx" in str(outcome)
            else:
                assert outcome == expected[(tuple(rows), str(params))]


def test_gpu_config_is_selected_by_model_config_name(tiny_models_dir, tmp_path):
    """--model-config-name=gpu loads translate/configs/gpu.pbtxt (KIND_GPU); without a GPU that fails."""
    if shutil.which("nvidia-smi"):
        pytest.skip("a GPU is present: this checks the CPU-only failure mode")
    server = start_server(tmp_path, tiny_models_dir, config_name="gpu")
    try:
        with pytest.raises(triton_launcher.TritonError, match="KIND_GPU"):
            triton_launcher.wait_ready(server.http_port, timeout=60, proc=server.proc, log_path=server.log_path)
    finally:
        triton_launcher.stop_triton(server.proc)


def test_translate_without_models_fails_to_load_clearly(triton_venv, tmp_path):
    empty_models_dir = tmp_path / "models"
    empty_models_dir.mkdir()
    server = start_server(tmp_path, empty_models_dir)
    try:
        with pytest.raises(triton_launcher.TritonError, match="translate: no models in"):
            triton_launcher.wait_ready(server.http_port, timeout=60, proc=server.proc, log_path=server.log_path)
    finally:
        triton_launcher.stop_triton(server.proc)
