"""The guard step's own logic (which rows are checked, retried, kept, flagged), without a server.
The real-Triton path (retry through the translate model, quarantine parts) is in
tests/flows/test_translate_batch.py."""
import asyncio

import pyarrow as pa

from tasks.engine.guard_clock import GuardClock
from tasks.inference.client import TritonCallSettings
from tasks.inference.translate_client import Translations
from tasks.translate.guard import REDECODE_PARAMETERS, TranslationGuard, guard_translations, no_guard_columns

SOURCE = "Der Vertrag wurde am 3. Mai 2021 in Berlin von beiden Parteien unterzeichnet."
GOOD = "The contract was signed by both parties in Berlin on 3 May 2021."
LOOP = "The the the the the the the the the the the the the the the the."


class RetryingTranslator:
    """Stands in for TritonTranslateClient.translate: records retries, answers `retry_text`."""

    def __init__(self, retry_text: str):
        self.settings = TritonCallSettings(decoding={"beam_size": 1, "max_decoding_length": 256})
        self.retry_text, self.calls = retry_text, []

    async def translate(self, texts, src_lang, tgt_lang, decoding=None):
        self.calls.append((list(texts), src_lang, tgt_lang, decoding))
        return Translations([self.retry_text] * len(texts), [-0.3] * len(texts), ["retry"] * len(texts))


def translated_batch(rows: list[tuple[str | None, str | None, str]]) -> pa.RecordBatch:
    n = len(rows)
    return pa.RecordBatch.from_pydict({
        "id": list(range(n)), "source_text": [r[0] for r in rows], "translation": [r[1] for r in rows],
        "source_lang": ["de"] * n, "target_lang": ["en"] * n, "logprob": pa.array([-0.5] * n, pa.float32()),
        "model": ["m"] * n, "status": [r[2] for r in rows], "error": [None] * n})


def run_guard(batch, client, guard=None):
    clock = GuardClock()
    out = asyncio.run(guard_translations(client, batch, guard or TranslationGuard(), clock))
    return out.to_pylist(), clock


def test_a_good_translation_passes_untouched_and_is_not_retried():
    client = RetryingTranslator(GOOD)
    [row], clock = run_guard(translated_batch([(SOURCE, GOOD, "ok")]), client)
    assert row["status"] == "ok" and row["translation"] == GOOD and row["redecoded"] is False
    assert 0.0 <= row["hallucination_score"] < 0.35 and client.calls == [] and clock.seconds > 0


def test_a_loop_is_retried_with_beam_search_and_the_better_output_kept():
    client = RetryingTranslator(GOOD)
    [row], _ = run_guard(translated_batch([(SOURCE, LOOP, "ok")]), client)
    [(texts, src, tgt, decoding)] = client.calls
    assert texts == [SOURCE] and (src, tgt) == ("de", "en")
    assert decoding == {"max_decoding_length": 256, **REDECODE_PARAMETERS}  # the call's own settings kept
    assert row["status"] == "ok" and row["translation"] == GOOD and row["redecoded"] is True
    assert abs(row["logprob"] - (-0.3)) < 1e-6


def test_still_flagged_after_the_retry_is_marked_flagged_with_reasons_and_the_better_output():
    client = RetryingTranslator(LOOP + " " + LOOP)
    [row], _ = run_guard(translated_batch([(SOURCE, LOOP, "ok")]), client)
    assert row["status"] == "flagged" and row["redecoded"] is True and row["reasons"]
    assert any(reason.startswith("repetition") for reason in row["reasons"])


def test_without_redecode_flagged_rows_are_not_retried():
    client = RetryingTranslator(GOOD)
    [row], _ = run_guard(translated_batch([(SOURCE, LOOP, "ok")]), client, TranslationGuard(redecode=None))
    assert row["status"] == "flagged" and row["redecoded"] is False and client.calls == []


def test_empty_and_failed_rows_are_not_checked():
    rows, _ = run_guard(translated_batch([(None, None, "skipped_empty"), (SOURCE, None, "failed")]),
                        RetryingTranslator(GOOD))
    assert [r["status"] for r in rows] == ["skipped_empty", "failed"]
    assert all(r["hallucination_score"] is None and r["reasons"] is None for r in rows)


def test_guards_off_adds_empty_guard_columns():
    out = no_guard_columns(translated_batch([(SOURCE, GOOD, "ok")]))
    assert out.schema.names[-4:] == ["hallucination_score", "reasons", "redecoded", "flagged_sentences"]
    assert out.to_pylist()[0]["hallucination_score"] is None


def test_only_the_flagged_sentence_of_a_document_is_retried_and_spliced_back():
    """A row translated as sentences (translate_record_batch's SENTENCE_FIELDS): the loop in sentence 1
    is retried alone, the better retry replaces it between the row's own separators."""
    from tasks.translate.guard import SENTENCE_FIELDS

    first = ("Die Zimmer waren sauber und das Frühstück war sehr gut.",
             "The rooms were clean and the breakfast was very good.")
    sentences, translations = [first[0], SOURCE], [first[1], LOOP]
    separators = ["", "\n\n", "\n"]
    batch = translated_batch([(f"{first[0]}\n\n{SOURCE}\n", f"{first[1]}\n\n{LOOP}\n", "ok")])
    columns = dict(zip(batch.schema.names, batch.columns))
    values = {"_sentences": [sentences], "_sentence_translations": [translations],
              "_sentence_logprobs": [[-0.4, -0.5]], "_separators": [separators]}
    for f in SENTENCE_FIELDS:
        columns[f.name] = pa.array(values[f.name], f.type)
    client = RetryingTranslator(GOOD)
    [row], _ = run_guard(pa.RecordBatch.from_pydict(columns), client)
    [(texts, *_)] = client.calls
    assert texts == [SOURCE]  # only the flagged sentence
    assert row["translation"] == f"{first[1]}\n\n{GOOD}\n" and row["status"] == "ok" and row["redecoded"] is True
    assert row["flagged_sentences"] == [] and not any(name.startswith("_") for name in row)


def test_a_document_still_flagged_names_its_sentence():
    from tasks.translate.guard import SENTENCE_FIELDS

    batch = translated_batch([(f"{SOURCE} {SOURCE}", f"{GOOD} {LOOP}", "ok")])
    columns = dict(zip(batch.schema.names, batch.columns))
    values = {"_sentences": [[SOURCE, SOURCE]], "_sentence_translations": [[GOOD, LOOP]],
              "_sentence_logprobs": [[-0.4, -0.5]], "_separators": [["", " ", ""]]}
    for f in SENTENCE_FIELDS:
        columns[f.name] = pa.array(values[f.name], f.type)
    [row], _ = run_guard(pa.RecordBatch.from_pydict(columns), RetryingTranslator(LOOP))
    assert row["status"] == "flagged" and row["flagged_sentences"] == [1]
    assert row["reasons"] and all(reason.startswith("sentence 1: ") for reason in row["reasons"])
    assert row["translation"] == f"{GOOD} {LOOP}"
