"""The `sentinel` run commands: the flows' defaults, the switches, the progress bar."""
import io
import subprocess
import sys

import pytest

from deployments.cli import build_parser
from deployments.progress import ProgressBar, progress_line
from deployments.run_commands import flow_kwargs
from flows.run_report import ProgressUpdate


def kwargs(*argv: str) -> dict:
    return flow_kwargs(build_parser([argv[0]]).parse_args(list(argv)))


def test_only_given_switches_reach_the_flow_so_its_defaults_apply():
    """The spellings README, docs and bench use (tests/deployments/test_run_commands.py walks every parameter)."""
    given = kwargs("translate", "--input", "s3://bkt/in/", "--output", "s3://bkt/out/")
    assert given == {"input_uri": "s3://bkt/in/", "output_uri": "s3://bkt/out/"}  # no shard_rows: the flow's
    given = kwargs("translate", "--input", "s3://bkt/in/", "--output", "s3://bkt/out/", "--no-guards",
                   "--no-data-quality", "--shard-rows", "500", "--model", "echo", "--max-quarantined-share", "0.2",
                   "--source-lang", "de", "--fail-on-empty-input")
    assert given["guards"] is False and given["data_quality"] is False and given["shard_rows"] == 500
    assert given["model"] == "echo" and given["max_quarantined_share"] == 0.2 and given["source_lang"] == "de"
    assert given["fail_on_empty_input"] is True
    for command in ("transcribe", "speech-translate"):
        given = kwargs(command, "--input", "s3://bkt/in/", "--output", "s3://bkt/out/", "--no-vad", "--no-guards")
        assert given == {"input_uri": "s3://bkt/in/", "output_uri": "s3://bkt/out/", "vad_filter": False,
                         "guards": False}
        given = kwargs(command, "--input", "s3://bkt/in/", "--output", "s3://bkt/out/", "--channels", "split",
                       "--subtitles", "vtt,srt", "--word-timestamps", "--model", "whisper-base")
        assert (given["channels"], given["subtitles"], given["word_timestamps"]) == ("split", ["vtt", "srt"], True)
        assert given["asr_model"] == "whisper-base"


def test_other_commands_do_not_import_the_flows():
    code = ("import sys; from deployments.cli import build_parser; build_parser([]).parse_args(['stack', 'status']); "
            "sys.exit(any(m.startswith('flows.') for m in sys.modules))")
    assert subprocess.run([sys.executable, "-c", code]).returncode == 0


def test_demo_speech_does_not_import_the_cli():
    code = "import sys, deployments.demo_speech; sys.exit('deployments.cli' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code]).returncode == 0


def test_progress_line_counts_rows_and_estimates_the_rest():
    update = ProgressUpdate("run", shards_done=3, shards_total=8, rows_done=12_000, rows_total=40_000, failed=1)
    line = progress_line(update, elapsed_s=30.0)
    assert "12,000/40,000 rows  30%" in line and "3/8 shards" in line and "1 failed" in line
    assert line.endswith("ETA 01:10")
    assert "2/4 shards" in progress_line(ProgressUpdate("run", 2, 4, 0, None, 0), 5.0)


def test_progress_bar_prints_lines_when_not_a_terminal():
    out = io.StringIO()
    bar = ProgressBar(out, every_s=0)
    bar(ProgressUpdate("run", 1, 2, 10, 20, 0))
    bar(ProgressUpdate("run", 2, 2, 20, 20, 0, finished=True, headline="Completed: 20 rows kept"))
    lines = out.getvalue().splitlines()
    assert "10/20 rows" in lines[0] and "20/20 rows" in lines[-2] and lines[-1] == "Completed: 20 rows kept"


@pytest.mark.integration
def test_translate_command_runs_the_flow_with_a_progress_bar(full_stack, s3_conn, bucket, capfd):
    from deployments.cli import main
    from deployments.demo_data import demo_tables, upload_table
    from tasks.io.s3_uri import S3Uri

    for name, table in demo_tables(objects=2, rows_per_object=30).items():
        upload_table(s3_conn, S3Uri(bucket, f"cli-in/{name}"), table, row_group_size=10)
    code = main(["translate", "--input", f"s3://{bucket}/cli-in/", "--output", f"s3://{bucket}/cli-out/",
                 "--model", "echo", "--shard-rows", "10", "--no-data-quality"])
    captured = capfd.readouterr()
    assert code == 0, captured
    assert "6/6 shards" in captured.err and "ETA 00:00" in captured.err  # rows once the flow tells ShardProgress
    assert "Completed: 60 rows kept, 0 quarantined, 0 failed" in captured.out and "/report.md" in captured.out


def test_the_bridge_batches_by_default_and_keeps_its_options():
    base = ["bridge", "--source", "poll", "--watch", "s3://bkt/in/", "--state", "s3://bkt/_state.json"]
    args = build_parser(["bridge"]).parse_args(base)
    assert (args.batch_seconds, args.batch_objects) == (30.0, 500)
    assert (args.suffix, args.interval, args.key_prefix, args.once) == (".parquet", 5.0, "", False)
    args = build_parser(["bridge"]).parse_args([*base, "--batch-seconds", "5", "--batch-objects", "1"])
    assert (args.batch_seconds, args.batch_objects) == (5.0, 1)


def test_a_bad_bridge_window_is_refused_in_words():
    from deployments.cli import main

    with pytest.raises(SystemExit, match=r"sentinel bridge: a batch window needs seconds >= 0 and objects >= 1 "
                                         r"\(got 30 s, 0 objects\)"):
        main(["bridge", "--source", "poll", "--watch", "s3://bkt/in/", "--state", "s3://bkt/s.json",
              "--batch-objects", "0"])
