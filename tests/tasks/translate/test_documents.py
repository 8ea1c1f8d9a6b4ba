"""Documents through translate_record_batch on the real Triton (the shared local stack): a
20,000-character multi-paragraph text is split into sentences, the sentences of every row go to
Triton together, and the translation is put back together around the original separators."""
from __future__ import annotations

import asyncio
import csv
from pathlib import Path

import pyarrow as pa
import pytest

from deployments.stack.config import StackConfig
from tasks.engine.guard_clock import GuardClock
from tasks.inference.client import TritonCallSettings
from tasks.inference.translate_client import TritonTranslateClient
from tasks.text.segmentation import DEFAULT_MAX_SENTENCE_CHARS
from tasks.translate.batch import TranslateSettings, translate_record_batch
from tasks.translate.guard import SENTENCE_COLUMNS, TranslationGuard, guard_translations, no_guard_columns

DEV = Path(__file__).resolve().parents[4] / "shared" / "data" / "mt_hallucination_dev.csv"
RUN_ON = ", ".join(f"und dann kam der {n}. Zug aus der Stadt in das Tal" for n in range(1, 16)) + "."


def long_document(limit: int = 20_000) -> str:
    """Paragraphs of 6 dev-set source sentences (a single newline inside some), one run-on sentence
    over the sentence limit, paragraphs separated by blank lines; as close to `limit` characters as fits."""
    with DEV.open(newline="") as f:
        sentences = [r["src"].strip() for r in csv.DictReader(f) if r["src"].strip().endswith((".", "!", "?"))]
    paragraphs, text, k = [], "", 0
    while True:
        body = " ".join(sentences[k:k + 6])
        if k == 12:
            body = f"{body} Das ist lang: {RUN_ON}"
        if k % 18 == 6:
            body = body.replace(". ", ".\n", 1)
        candidate = "\n\n".join([*paragraphs, body])
        if len(candidate) > limit:
            return text
        paragraphs.append(body)
        text, k = candidate, k + 6


def translate(model: str, texts: list[str], guard: TranslationGuard | None = None, lang: str = "de"):
    settings = TranslateSettings(text_column="text", id_column="id", target_lang="en", source_lang=lang,
                                 triton=TritonCallSettings(url=StackConfig().triton_grpc_url, model_name=model), guard=guard)
    record = pa.RecordBatch.from_pydict({"id": list(range(len(texts))), "text": texts})

    async def run():
        async with TritonTranslateClient(settings.triton) as client:
            out = await translate_record_batch(client, record, settings)
            guarded = await guard_translations(client, out, guard, GuardClock()) if guard else no_guard_columns(out)
            return out, guarded

    return asyncio.run(run())


@pytest.fixture(scope="module")
def document() -> str:
    text = long_document()
    assert 19_000 < len(text) <= 20_000 and text.count("\n\n") >= 15 and len(RUN_ON) > DEFAULT_MAX_SENTENCE_CHARS
    return text


def test_echo_gives_back_every_sentence_and_the_layout_exactly(triton_stack, document):
    detail, out = translate("echo", [document, "Kurz.", "  Zwei Sätze.\n\nIn zwei Absätzen.  "])
    rows = out.to_pylist()
    assert [r["translation"] for r in rows] == [document, "Kurz.", "  Zwei Sätze.\n\nIn zwei Absätzen.  "]
    assert all(r["status"] == "ok" for r in rows)
    sentences, echoed = detail.column("_sentences").to_pylist(), detail.column("_sentence_translations").to_pylist()
    assert sentences == echoed and len(sentences[0]) > 100 and len(sentences[2]) == 2
    assert max(map(len, sentences[0])) <= DEFAULT_MAX_SENTENCE_CHARS  # the run-on sentence was split
    assert not set(SENTENCE_COLUMNS) & set(out.schema.names)  # internal columns never reach a part


def test_translate_keeps_paragraphs_and_translates_every_sentence_within_the_model_limits(triton_stack, document):
    detail, out = translate("translate", [document])
    [row] = out.to_pylist()
    [sentences] = detail.column("_sentences").to_pylist()
    [translations] = detail.column("_sentence_translations").to_pylist()
    [separators] = detail.column("_separators").to_pylist()
    assert row["status"] == "ok" and row["model"] == "marian-de-en"
    assert len(translations) == len(sentences) > 100 and all(t is not None for t in translations)
    assert max(map(len, sentences)) <= DEFAULT_MAX_SENTENCE_CHARS  # each under the model's input limit
    # reassembled from per-sentence outputs: every paragraph break and newline of the source is there
    assert row["translation"].count("\n\n") == document.count("\n\n")
    assert row["translation"].count("\n") == document.count("\n")
    assert "".join(separators).strip() == ""  # separators are the source's whitespace, nothing else
    rebuilt = separators[0] + "".join(t + sep for t, sep in zip(translations, separators[1:]))
    assert rebuilt == row["translation"]
    # one output of at most 256 tokens (the old whole-text limit) could not hold this much text
    assert len(row["translation"]) > 256 * 8


def test_guards_name_the_flagged_sentences_of_a_document(triton_stack, document):
    _, out = translate("translate", [document, "Der Vertrag wurde unterzeichnet."], guard=TranslationGuard())
    rows = out.to_pylist()
    for row in rows:
        assert row["status"] in ("ok", "flagged") and row["hallucination_score"] is not None
        assert (row["status"] == "flagged") == bool(row["flagged_sentences"])
    document_row = rows[0]
    assert all(reason.startswith(("sentence ", "sentences ")) for reason in document_row["reasons"])
    named = {int(label.split("+")[0]) for reason in document_row["reasons"]
             for label in reason.split(":")[0].split(" ", 1)[1].split(", ") if label != "…"}
    assert set(document_row["flagged_sentences"]) <= named


def test_a_stretch_that_cannot_be_split_fails_the_row_with_the_reason(triton_stack):
    _, out = translate("echo", ["Gut. " + "x" * (DEFAULT_MAX_SENTENCE_CHARS + 1), "Auch gut."])
    bad, good = out.to_pylist()
    assert bad["status"] == "failed" and "cannot be translated whole" in bad["error"] and bad["translation"] is None
    assert good["status"] == "ok" and good["translation"] == "Auch gut."


def test_a_row_with_a_no_break_space_before_a_period_is_translated_with_the_others(triton_stack):
    # sentencex panicked on "B\u00a0." (a Rust panic, a BaseException): the whole flow run crashed
    texts = ["Guten Morgen.", "Siehe Anhang B\u00a0. Vitamin C\u202f. Danke.", "Bis bald."]
    detail, out = translate("echo", texts)
    assert [r["translation"] for r in out.to_pylist()] == texts
    assert all(r["status"] == "ok" for r in out.to_pylist())
    assert "".join(detail.column("_sentences").to_pylist()[1]).replace(" ", "") == texts[1].replace(" ", "")
