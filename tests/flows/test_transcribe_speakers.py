"""transcribe-batch and speech-translate with `diarize` (who spoke when) and the vocabulary options,
end to end on the real stack: SeaweedFS S3 and the Prefect server of the session, and a tritonserver
of this module's own (free ports) serving `transcribe` (whisper-tiny.en), `speaker` (the GE2E
encoder) and `translate` (Marian en-de) from the repository's model configs. The recordings are mixes
of real read speech (../shared/data/speech, bench/diarization_mixes.py) with known turns."""
from __future__ import annotations

import json
import re

import pyarrow as pa
import pytest

from bench.diarization_mixes import DATA, build_mixes, single_speaker_clips
from deployments.demo_data import upload_table
from deployments.demo_speech import read_run_rows
from tasks.io.s3_uri import S3Uri

pytestmark = [pytest.mark.integration,
              pytest.mark.skipif(not (DATA / "spk1_snt1.wav").exists(), reason=f"no real speech in {DATA}")]

COLUMNS = ["id", "transcript", "segments", "speakers", "status", "reasons", "hallucination_score"]
LABEL = re.compile(r"\[S\d+\] ")


@pytest.fixture(scope="module")
def speech_triton(tmp_path_factory):
    """tritonserver with transcribe + speaker + translate, models from .local/model-store (the speaker
    encoder installed there if missing); SENTINEL_TRITON_URL points the flows at it."""
    from tests.triton.triton_fixtures import REPO_ROOT, TRITON_PYTHON, free_port, run_tool, triton_launcher

    if not TRITON_PYTHON.exists():
        pytest.skip(".venv-triton missing (run `make setup`)")
    shared = REPO_ROOT / ".local" / "model-store"
    needed = [shared / "transcribe" / "whisper-tiny.en", shared / "translate" / "marian-en-de"]
    if not all(p.exists() for p in needed):
        pytest.skip("whisper-tiny.en / marian-en-de not in .local/model-store (run `make models`)")
    run_tool("install_speaker_model.py", "--store", str(shared), timeout=600)
    root = tmp_path_factory.mktemp("speech-triton")
    store, models, repository = root / "store", root / "models", root / "repository"
    for kind, name in (("transcribe", "whisper-tiny.en"), ("translate", "marian-en-de"),
                       ("speaker", "resemblyzer-ge2e")):
        (store / kind).mkdir(parents=True, exist_ok=True)
        (store / kind / name).symlink_to(shared / kind / name, target_is_directory=True)
    run_tool("sync_model_store.py", "--store", str(store), "--dest", str(models), "--quiet")
    repository.mkdir()
    for model in ("transcribe", "speaker", "translate"):
        (repository / model).symlink_to(REPO_ROOT / "triton" / "model_repository" / model, target_is_directory=True)
    ports = free_port(), free_port(), free_port()
    log_path = root / "tritonserver.log"
    proc = triton_launcher.start_triton(repo_root=REPO_ROOT, state_dir=root, model_repository=repository,
                                        models_dir=models, http_port=ports[0], grpc_port=ports[1],
                                        metrics_port=ports[2], log_path=log_path)
    try:
        triton_launcher.wait_ready(ports[0], timeout=180, proc=proc, log_path=log_path)
        yield f"127.0.0.1:{ports[1]}"
    finally:
        triton_launcher.stop_triton(proc)


@pytest.fixture()
def on_speech_triton(speech_triton, monkeypatch):
    monkeypatch.setenv("SENTINEL_TRITON_URL", speech_triton)
    return speech_triton


@pytest.fixture(scope="module")
def mixes():
    two, three = build_mixes(2, 1, 11)[0], build_mixes(3, 1, 12)[0]
    one = single_speaker_clips()[0]
    return {"two": two, "three": three, "one": one}


@pytest.fixture(scope="module")
def speakers_input(s3_conn, bucket, mixes):
    silence = mixes["one"].__class__("silence", mixes["one"].samples[:16000] * 0)
    clips = {**mixes, "silence": silence}
    table = pa.table({"id": list(clips), "audio": pa.array([m.wav_bytes() for m in clips.values()], pa.binary())})
    upload_table(s3_conn, S3Uri(bucket, "speakers-in/mixes.parquet"), table)
    return f"s3://{bucket}/speakers-in/"


def transcribe(**params):
    from flows.transcribe_batch import transcribe_batch

    state = transcribe_batch(return_state=True, triton_endpoint="", **params)
    return state, state.result(raise_on_failure=False)


def agreement(segments: list[dict], reference: list[tuple[float, float, str]]) -> float:
    """Share of the labelled segments' time whose speaker is the reference speaker its label stands for
    (each label mapped to the reference speaker it overlaps most)."""
    overlap: dict[tuple[str, str], float] = {}
    for s in segments:
        for a, b, who in reference:
            shared = min(b, s["end"]) - max(a, s["start"])
            if shared > 0:
                overlap[(s["speaker"], who)] = overlap.get((s["speaker"], who), 0.0) + shared
    labels = {label for label, _ in overlap}
    best = {label: max((v, who) for (lab, who), v in overlap.items() if lab == label) for label in labels}
    if len({who for _, who in best.values()}) < len(best):  # two labels for one voice
        return 0.0
    return sum(v for v, _ in best.values()) / max(sum(overlap.values()), 1e-9)


def test_diarize_labels_segments_turns_and_subtitles(full_stack, on_speech_triton, s3_conn, bucket,
                                                     speakers_input, mixes):
    state, summary = transcribe(input_uri=speakers_input, output_uri=f"s3://{bucket}/out-speakers/", diarize=True,
                                word_timestamps=True, subtitles=["vtt", "srt"], max_quarantined_share=1.0)
    assert state.is_completed(), summary
    rows = {r["id"]: r for r in read_run_rows(s3_conn, summary, COLUMNS)}
    for name, count in (("two", 2), ("three", 3), ("one", 1)):
        row = rows[name]
        segments = json.loads(row["segments"])
        assert row["speakers"] == [f"S{i}" for i in range(1, count + 1)], (name, row)
        assert all(s["speaker"] in row["speakers"] for s in segments)
        assert segments[0]["speaker"] == "S1"  # named in order of first speech
        assert not any("speakers unreliable" in r for r in row["reasons"] or []), row["reasons"]
        assert agreement(segments, mixes[name].reference) >= 0.9, (name, segments)
        # the transcript marks each turn: a label where the speaker changes, then that speaker's text
        turns = [s["speaker"] for s in segments if s["text"].strip()]
        changes = [turns[0], *(b for a, b in zip(turns, turns[1:]) if b != a)]
        assert re.findall(r"\[(S\d+)\] ", row["transcript"]) == changes
        assert LABEL.sub("", row["transcript"]) == " ".join(s["text"].strip() for s in segments if s["text"].strip())
    assert rows["silence"]["speakers"] == [] and rows["silence"]["transcript"] == ""
    client = s3_conn.boto3_client()
    out = S3Uri.parse(summary["output_dir"])
    vtt = client.get_object(Bucket=out.bucket, Key=f"{out.key}/subtitles/two.vtt")["Body"].read().decode()
    srt = client.get_object(Bucket=out.bucket, Key=f"{out.key}/subtitles/two.srt")["Body"].read().decode()
    assert "<v S1>" in vtt and "<v S2>" in vtt and "\n[S1] " in srt and "\n[S2] " in srt


def test_diarize_off_changes_nothing_and_on_changes_only_the_speakers(full_stack, on_speech_triton, s3_conn,
                                                                      bucket, speakers_input):
    state_off, off = transcribe(input_uri=speakers_input, output_uri=f"s3://{bucket}/out-speakers-off/",
                                max_quarantined_share=1.0)
    state_on, on = transcribe(input_uri=speakers_input, output_uri=f"s3://{bucket}/out-speakers-off/",
                              diarize=True, max_quarantined_share=1.0)
    assert state_off.is_completed() and state_on.is_completed()
    assert off["run_key"] != on["run_key"]
    plain = {r["id"]: r for r in read_run_rows(s3_conn, off, COLUMNS)}
    labelled = {r["id"]: r for r in read_run_rows(s3_conn, on, COLUMNS)}
    for clip_id, row in plain.items():
        assert row["speakers"] is None and "[S" not in row["transcript"]
        assert not any("speaker" in s for s in json.loads(row["segments"] or "[]"))
        # no word timestamps: segments are not split, only labelled; the text is Whisper's either way
        assert LABEL.sub("", labelled[clip_id]["transcript"]) == row["transcript"]
        assert [s["text"] for s in json.loads(labelled[clip_id]["segments"])] == [
            s["text"] for s in json.loads(row["segments"])]
        assert labelled[clip_id]["status"] == row["status"]


def test_asking_two_speakers_of_one_voice_keeps_the_transcript_and_says_why(full_stack, on_speech_triton,
                                                                            s3_conn, bucket, mixes):
    table = pa.table({"id": ["one"], "audio": pa.array([mixes["one"].wav_bytes()], pa.binary())})
    upload_table(s3_conn, S3Uri(bucket, "speakers-one/one.parquet"), table)
    state, summary = transcribe(input_uri=f"s3://{bucket}/speakers-one/", output_uri=f"s3://{bucket}/out-one/",
                                diarize=True, num_speakers=2)
    assert state.is_completed(), summary
    [row] = read_run_rows(s3_conn, summary, COLUMNS)
    assert row["status"] == "ok" and row["transcript"]
    assert "speakers unreliable: 2 speakers asked, but the voices form one cluster" in row["reasons"]


def test_speech_translate_keeps_the_turns_in_the_translation(full_stack, on_speech_triton, s3_conn, bucket,
                                                            speakers_input):
    from flows.speech_translate import speech_translate

    state = speech_translate(return_state=True, triton_endpoint="", input_uri=speakers_input,
                             output_uri=f"s3://{bucket}/out-speakers-de/", target_lang="de", diarize=True,
                             max_quarantined_share=1.0)  # the tiny en-de model's noise is quarantined
    summary = state.result(raise_on_failure=False)
    assert state.is_completed(), summary
    rows = {r["id"]: r for r in read_run_rows(s3_conn, summary, ["id", "transcript", "translation", "speakers"])}
    for name in ("two", "three"):
        heard = re.findall(r"\[S\d+\]", rows[name]["transcript"])
        assert len(heard) >= 2 and re.findall(r"\[S\d+\]", rows[name]["translation"]) == heard


def test_diarize_is_refused_where_it_cannot_work():
    from blocks.triton_endpoint import TritonEndpoint
    from flows.stage_builders import speaker_settings
    from tests.triton.triton_fixtures import free_port

    triton = TritonEndpoint(url=f"127.0.0.1:{free_port()}", batch_size=4, concurrency=2)  # nothing listens
    with pytest.raises(ValueError, match="num_speakers=2 needs diarize on"):
        speaker_settings(triton, diarize=False, num_speakers=2, channels="mix")
    with pytest.raises(ValueError, match="diarize needs channels='mix'"):
        speaker_settings(triton, diarize=True, num_speakers=0, channels="split")
    with pytest.raises(ValueError, match="diarize needs Triton model .speaker. at .*install_speaker_model.py"):
        speaker_settings(triton, diarize=True, num_speakers=0, channels="mix")
    assert speaker_settings(triton, diarize=False, num_speakers=0, channels="split") == (None, None)


def test_the_cli_passes_diarize_and_vocabulary_to_the_flow():
    """The options come from transcribe-batch's own signature (deployments/flow_options.py)."""
    from deployments.cli import build_parser
    from deployments.run_commands import flow_kwargs

    args = build_parser().parse_args(["transcribe", "--input", "s3://bucket-a/in/", "--output", "s3://bucket-a/out/", "--diarize",
                                      "--num-speakers", "3", "--hotwords", "Nakagawa", "--initial-prompt", "Minutes.",
                                      "--prompt-column", "context"])
    given = flow_kwargs(args)
    assert {k: given[k] for k in ("diarize", "num_speakers", "hotwords", "initial_prompt", "prompt_column")} == {
        "diarize": True, "num_speakers": 3, "hotwords": "Nakagawa", "initial_prompt": "Minutes.",
        "prompt_column": "context"}
    plain = build_parser().parse_args(["transcribe", "--input", "s3://bucket-a/in/", "--output", "s3://bucket-a/out/"])
    assert "diarize" not in flow_kwargs(plain)


def test_vocabulary_reaches_whisper_through_the_flow(full_stack, on_speech_triton, s3_conn, bucket, tmp_path):
    """`prompt_column` gives one row its own prompt, `hotwords` every row; a prompt column that is not
    text fails its object before any inference, naming the column."""
    import sys

    from tests.triton.triton_fixtures import REPO_ROOT

    sys.path.insert(0, str(REPO_ROOT / "tests" / "fixtures" / "audio"))
    import recordings

    if why := recordings.tools_missing():
        pytest.skip(why)
    clip = recordings.rare_name(tmp_path, 0)
    name = clip.scripts["names"]
    table = pa.table({"id": ["prompted", "plain"], "audio": pa.array([clip.wav, clip.wav], pa.binary()),
                      "context": [f"A note for Mister {name}.", None]})
    upload_table(s3_conn, S3Uri(bucket, "vocab-in/names.parquet"), table)
    upload_table(s3_conn, S3Uri(bucket, "vocab-bad/names.parquet"),
                 pa.table({"id": ["x"], "audio": pa.array([clip.wav], pa.binary()), "context": [7]}))
    state, summary = transcribe(input_uri=f"s3://{bucket}/vocab-in/", output_uri=f"s3://{bucket}/out-vocab/",
                                prompt_column="context", max_quarantined_share=1.0)
    assert state.is_completed(), summary
    rows = {r["id"]: r for r in read_run_rows(s3_conn, summary, ["id", "transcript"])}
    assert name in rows["prompted"]["transcript"]
    state, hot = transcribe(input_uri=f"s3://{bucket}/vocab-in/", output_uri=f"s3://{bucket}/out-vocab/",
                            hotwords=name, max_quarantined_share=1.0)
    assert state.is_completed() and hot["run_key"] != summary["run_key"]
    assert all(name in r["transcript"] for r in read_run_rows(s3_conn, hot, ["id", "transcript"]))
    state, bad = transcribe(input_uri=f"s3://{bucket}/vocab-bad/", output_uri=f"s3://{bucket}/out-vocab-bad/",
                            prompt_column="context")
    assert state.is_failed() and "prompt column 'context' has type int64, expected string" in str(bad)
