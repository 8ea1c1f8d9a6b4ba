"""speech-translate end to end on the real stack: Whisper tiny.en, then the tiny Marian en-de model."""
import pytest

from deployments.demo_speech import read_run_rows, upload_uri_dataset
from tasks.io.s3_uri import S3Uri

pytestmark = pytest.mark.integration

COLUMNS = ["id", "transcript", "language", "asr_model", "translation", "target_lang", "translation_logprob",
           "translation_model", "status", "error", "hallucination_score", "reasons", "translation_hallucination_score",
           "translation_reasons", "translation_redecoded"]


@pytest.fixture(scope="module")
def uri_input(s3_conn, bucket):
    upload_uri_dataset(s3_conn, S3Uri(bucket, "chain-in"))
    return f"s3://{bucket}/chain-in/"


def run(**params):
    from flows.speech_translate import speech_translate

    state = speech_translate(return_state=True, audio_uri_column="audio_uri", **params)
    return state, state.result(raise_on_failure=False)


def test_transcripts_are_translated_in_the_same_run(full_stack, s3_conn, bucket, uri_input):
    state, summary = run(input_uri=uri_input, output_uri=f"s3://{bucket}/chain-de/", target_lang="de",
                         max_quarantined_share=1.0)  # the tiny en-de model's noise is quarantined
    assert state.is_completed(), summary
    # the tiny en-de model's output is noise: the MT guards flag it (after a retry), the ASR guards pass the speech
    assert summary["status_counts"] == {"flagged": 5, "skipped_empty": 2, "failed": 1}
    rows = {r["id"]: r for r in read_run_rows(s3_conn, summary, COLUMNS)}
    spoken = [rows[i] for i in ("fox", "report", "weather", "library", "stereo")]
    assert all(r["hallucination_score"] < 0.5 and not r["reasons"] for r in spoken)
    assert all(r["translation_reasons"] and r["translation_redecoded"] for r in spoken)
    assert all(r["asr_model"] == "whisper-tiny.en" and r["language"] == "en" for r in spoken)
    assert all(r["translation_model"] == "marian-en-de" and r["target_lang"] == "de" for r in spoken)
    assert all(isinstance(r["translation"], str) and r["translation_logprob"] <= 0 for r in spoken)
    assert "send the report" in rows["report"]["transcript"].lower()
    assert rows["silence"]["status"] == "skipped_empty" and rows["silence"]["translation"] is None
    assert rows["bad-missing-object"]["error"].endswith("missing.wav not found")


def test_a_translation_failure_is_a_row_status_not_a_crashed_shard(full_stack, s3_conn, bucket, uri_input):
    state, summary = run(input_uri=uri_input, output_uri=f"s3://{bucket}/chain-fr/", target_lang="fr",
                         max_quarantined_share=1.0)
    assert state.is_completed(), summary  # every shard committed; the rows say what failed
    rows = {r["id"]: r for r in read_run_rows(s3_conn, summary, COLUMNS)}
    assert summary["status_counts"] == {"failed": 6, "skipped_empty": 2}
    assert rows["fox"]["transcript"] and rows["fox"]["translation"] is None
    assert rows["fox"]["error"].startswith("translate: ") and "no translation model for pair en-fr" in rows["fox"]["error"]


def test_a_code_switched_clip_is_translated_from_each_language_it_holds(full_stack, s3_conn, bucket, tmp_path):
    """English then German in one clip, target English: the English stretch stays as it was heard
    (identity), the German one goes to the de-en model; before, the whole transcript was taken as its
    dominant language (English) and the German passed through untranslated as `ok`."""
    import io

    import pyarrow as pa
    import pyarrow.parquet as pq

    from tests.fixtures.audio.recordings import code_switched

    code_switched(tmp_path, languages=("en", "de"))
    client = s3_conn.boto3_client()
    client.put_object(Bucket=bucket, Key="switch/audio/clip.wav", Body=(tmp_path / "code_switched.wav").read_bytes())
    rows = io.BytesIO()
    pq.write_table(pa.table({"id": ["clip"], "audio_uri": [f"s3://{bucket}/switch/audio/clip.wav"]}), rows)
    client.put_object(Bucket=bucket, Key="switch/in/rows.parquet", Body=rows.getvalue())
    state, summary = run(input_uri=f"s3://{bucket}/switch/in/", output_uri=f"s3://{bucket}/switch/out/",
                         target_lang="en", language="auto", asr_model="whisper-base", max_quarantined_share=1.0)
    assert state.is_completed(), summary
    [row] = read_run_rows(s3_conn, summary, [*COLUMNS, "languages", "translation_flagged_sentences"])
    assert row["languages"] == ["en", "de"], row["transcript"]  # what the recordings tests hold whisper-base to
    assert row["translation_model"] == "identity,marian-de-en"
    english_end = row["transcript"].index("office.") + len("office.")
    assert row["translation"].startswith(row["transcript"][:english_end])  # the English stretch, as heard
    # the tiny de-en model's noise is flagged, and the flagged sentences are German ones, numbered in the row
    from tasks.text.segmentation import segment_text

    english_sentences = len(segment_text(row["transcript"][:english_end], "en"))
    assert row["translation_flagged_sentences"] and min(row["translation_flagged_sentences"]) >= english_sentences
