"""`sentinel`: the command line of Sentinel Batch.

  sentinel stack up|down|status     local SeaweedFS S3 + Triton + Prefect server
  sentinel blocks register          create the Prefect blocks the flows use
  sentinel deploy-local             work pools, blocks, limits, deployments + a process worker
  sentinel bridge --source sqs|poll S3 object-created events -> Prefect (deployment triggers)
  sentinel demo                     demo dataset -> translate-batch through the local stack
  sentinel translate --input s3://… --output s3://… [--target-lang en] [--model echo] [--no-guards]
  sentinel transcribe | speech-translate --input s3://… --output s3://…   (speech; same switches)
  sentinel runs list --output s3://… [--input NAME]    runs under an output prefix, newest first
  sentinel runs show RUN_KEY_OR_PREFIX --output s3://… the report and first kept / quarantined rows
  sentinel demo-speech                  spoken demo clips -> transcribe-batch and speech-translate
  sentinel check-mt --input FILE --output OUT.parquet   hallucination scores for src/mt rows
"""
from __future__ import annotations

import argparse
import json
import os
import sys


def use_local_stack_env() -> None:
    """Point this process at the local stack unless the environment already points elsewhere."""
    from deployments.stack.config import StackConfig, client_env

    for key, value in client_env(StackConfig()).items():
        os.environ.setdefault(key, value)


def cmd_stack(args: argparse.Namespace) -> int:
    from deployments.stack import local_stack

    services = tuple(args.services.split(",")) if args.services else local_stack.SERVICES
    unknown = set(services) - set(local_stack.SERVICES)
    if unknown:
        raise SystemExit(f"unknown services {sorted(unknown)}; choose from {', '.join(local_stack.SERVICES)}")
    if args.action == "up":
        cfg = local_stack.up(services=services)
        print(f"stack up: S3 {cfg.s3_endpoint}  Prefect {cfg.prefect_api_url.removesuffix('/api')}  "
              f"Triton grpc {cfg.triton_grpc_url}\nclient env: set -a; . {cfg.state_dir / 'stack.env'}; set +a")
        if {"prefect-server", "seaweedfs"} <= set(services):  # the blocks `sentinel translate` & co. load by default
            use_local_stack_env()
            from blocks.register import register_blocks

            for name in register_blocks(triton_url=cfg.triton_grpc_url, overwrite=False):
                print(f"saved default block {name}")
    elif args.action == "down":
        local_stack.down(services=services)
    else:
        status = local_stack.status()
        print(json.dumps(status, indent=2))
        return 0 if all(status.values()) else 1
    return 0


def cmd_blocks(args: argparse.Namespace) -> int:
    use_local_stack_env()
    from blocks.register import register_blocks

    for name in register_blocks(triton_url=args.triton_url):
        print(f"saved block {name}")
    return 0


def cmd_deploy_local(args: argparse.Namespace) -> int:
    use_local_stack_env()
    from deployments.deploy_local import deploy_local

    deploy_local(triton_limit=args.triton_limit, worker=not args.no_worker)
    return 0


def cmd_bridge(args: argparse.Namespace) -> int:
    import logging
    import threading

    import boto3

    from deployments.bridge.emitter import PrefectEventsEmitter
    from deployments.bridge.service import pump_once, run_bridge, stop_on_signals
    from deployments.bridge.sources import PollingSource, SqsSource
    from tasks.io.s3 import S3Connection

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if args.source == "sqs":
        endpoint = os.environ.get("AWS_ENDPOINT_URL_SQS") or os.environ.get("AWS_ENDPOINT_URL")
        sqs = boto3.client("sqs", endpoint_url=endpoint)
        source = SqsSource(sqs, args.queue_url)
    else:
        source = PollingSource(S3Connection.from_env().boto3_client(), args.watch, args.state)
    emitter = PrefectEventsEmitter(os.environ["PREFECT_API_URL"], os.environ.get("PREFECT_API_KEY"))
    if args.once:
        print(f"emitted {pump_once(source, emitter, args.key_prefix, args.suffix)} events")
    else:
        stop = threading.Event()
        received = stop_on_signals(stop)
        run_bridge(source, emitter, prefix=args.key_prefix, suffix=args.suffix, idle_sleep_s=args.interval,
                   stop=stop, received=received)
    return 0


def run_with_progress(flow, kwargs: dict) -> int:
    """Run a flow in this process with a progress bar on stderr; print its outcome, exit 0 if Completed."""
    from deployments.progress import ProgressBar
    from flows.run_report import progress_listener

    with progress_listener(ProgressBar()):
        state = flow(return_state=True, **kwargs)
    summary = state.result(raise_on_failure=False) if state.is_completed() else None
    if isinstance(summary, dict) and summary.get("headline"):
        report = (summary.get("written") or {}).get("report_md", summary["output_dir"])
        print(f"{summary['headline']}\nreport: {report}")
    else:
        print(state.message or state.name)
    return 0 if state.is_completed() else 1


def common_run_kwargs(args: argparse.Namespace) -> dict:
    """Only what the user gave: the flows' own defaults (shard rows, guards, quality) apply otherwise."""
    given = {name: getattr(args, name) for name in RUN_OPTIONS if hasattr(args, name)}
    if getattr(args, "no_guards", False):
        given["guards"] = False
    if getattr(args, "no_data_quality", False):
        given["data_quality"] = False
    return given


RUN_OPTIONS = ("input_uri", "output_uri", "shard_rows", "id_column", "max_quarantined_share",
               "fail_on_empty_input", "target_lang", "source_lang", "text_column", "model", "audio_column",
               "audio_uri_column", "language", "asr_model", "max_audio_s", "vad_filter", "channels", "subtitles",
               "word_timestamps", "diarize", "num_speakers", "hotwords", "initial_prompt", "prompt_column")


def cmd_translate(args: argparse.Namespace) -> int:
    use_local_stack_env()
    from flows.translate_batch import translate_batch

    return run_with_progress(translate_batch, common_run_kwargs(args))


def cmd_transcribe(args: argparse.Namespace) -> int:
    use_local_stack_env()
    from flows.transcribe_batch import transcribe_batch

    return run_with_progress(transcribe_batch, common_run_kwargs(args))


def cmd_speech_translate(args: argparse.Namespace) -> int:
    use_local_stack_env()
    from flows.speech_translate import speech_translate

    return run_with_progress(speech_translate, common_run_kwargs(args))


def cmd_runs(args: argparse.Namespace) -> int:
    use_local_stack_env()
    from deployments import runs
    from tasks.io.s3 import S3Connection

    conn = S3Connection.from_env()
    if args.action == "list":
        if not args.output:
            raise SystemExit("sentinel runs list needs --output s3://… (the flows' output_uri)")
        print(runs.format_table(runs.list_runs(conn, args.output, args.input)[: args.limit]))
        return 0
    if not args.run:
        raise SystemExit("sentinel runs show needs RUN_KEY_OR_PREFIX (or the run's s3:// directory)")
    try:
        run_dir = runs.find_run(conn, args.run, args.output)
    except runs.RunNotFound as exc:
        raise SystemExit(str(exc)) from None
    print(runs.show_run(conn, run_dir, rows=args.rows))
    return 0


def cmd_demo_speech(args: argparse.Namespace) -> int:
    use_local_stack_env()
    from deployments.demo_speech import run_speech_demo

    return run_speech_demo(bucket=args.bucket, target_lang=args.target_lang)


def cmd_demo(args: argparse.Namespace) -> int:
    use_local_stack_env()
    from deployments.demo import run_demo

    return run_demo(bucket=args.bucket)


def add_run_arguments(parser: argparse.ArgumentParser) -> None:
    """Switches every run command shares; a switch left out is not passed, so the flow's default applies."""
    parser.add_argument("--input", dest="input_uri", required=True, help="s3:// prefix (or one object)")
    parser.add_argument("--output", dest="output_uri", required=True, help="s3:// prefix; writes <output>/<run_key>/")
    parser.add_argument("--shard-rows", dest="shard_rows", type=int,
                        help="rows per shard (default: the flow's; translate: planning.DEFAULT_SHARD_ROWS)")
    parser.add_argument("--id-column", dest="id_column")
    parser.add_argument("--no-guards", action="store_true", help="skip the hallucination guards")
    parser.add_argument("--no-data-quality", action="store_true", help="skip the Great Expectations suites")
    parser.add_argument("--max-quarantined-share", dest="max_quarantined_share", type=float,
                        help="fail the run when more than this share of the rows is quarantined (0-1)")
    parser.add_argument("--fail-on-empty-input", dest="fail_on_empty_input", action="store_true",
                        help="fail, instead of completing with nothing to do, when the input has no objects")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="sentinel", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)

    stack = sub.add_parser("stack", help="manage the local stack")
    stack.add_argument("action", choices=["up", "down", "status"])
    stack.add_argument("--services", help="comma-separated subset: seaweedfs,triton,prefect-server")
    stack.set_defaults(func=cmd_stack)

    blocks = sub.add_parser("blocks", help="Prefect blocks")
    blocks.add_argument("action", choices=["register"])
    blocks.add_argument("--triton-url", help="Triton gRPC host:port (default $SENTINEL_TRITON_URL)")
    blocks.set_defaults(func=cmd_blocks)

    deploy = sub.add_parser("deploy-local", help="work pools, blocks, limits, deployments + a process worker")
    deploy.add_argument("--triton-limit", type=int, default=4, help="shard tasks in flight against Triton")
    deploy.add_argument("--no-worker", action="store_true")
    deploy.set_defaults(func=cmd_deploy_local)

    bridge = sub.add_parser("bridge", help="S3 notifications (SQS) or polling -> Prefect s3.object.created events")
    bridge.add_argument("--source", choices=["sqs", "poll"], required=True)
    bridge.add_argument("--queue-url", default=os.environ.get("SENTINEL_BRIDGE_SQS_QUEUE_URL"),
                        help="SQS queue fed by S3 notifications (--source sqs; default $SENTINEL_BRIDGE_SQS_QUEUE_URL)")
    bridge.add_argument("--watch", help="s3:// prefix to poll (--source poll)")
    bridge.add_argument("--state", help="s3:// JSON object remembering what was seen (--source poll)")
    bridge.add_argument("--key-prefix", default="", help="only keys starting with this")
    bridge.add_argument("--suffix", default=".parquet", help="only keys ending with this")
    bridge.add_argument("--interval", type=float, default=5.0, help="seconds between idle polls")
    bridge.add_argument("--once", action="store_true", help="one round, then exit")
    bridge.set_defaults(func=cmd_bridge)

    translate = sub.add_parser("translate", help="run translate-batch once (progress bar on stderr)",
                               argument_default=argparse.SUPPRESS)
    add_run_arguments(translate)
    translate.add_argument("--target-lang", dest="target_lang", help="default: the flow's (en)")
    translate.add_argument("--source-lang", dest="source_lang", help="a language code or 'auto' (the flow's default)")
    translate.add_argument("--text-column", dest="text_column")
    translate.add_argument("--model", choices=["translate", "echo"])
    translate.set_defaults(func=cmd_translate)

    for name, func, what in (("transcribe", cmd_transcribe, "transcribe-batch"),
                             ("speech-translate", cmd_speech_translate, "speech-translate (transcribe + translate)")):
        speech = sub.add_parser(name, help=f"run {what} once (progress bar on stderr)",
                                argument_default=argparse.SUPPRESS)
        add_run_arguments(speech)
        speech.add_argument("--audio-column", dest="audio_column")
        speech.add_argument("--audio-uri-column", dest="audio_uri_column",
                            help="s3:// URIs of audio objects (wins over --audio-column)")
        speech.add_argument("--language", help="spoken language or 'auto'")
        speech.add_argument("--model", dest="asr_model", choices=["default", "whisper-tiny.en", "whisper-base"])
        speech.add_argument("--no-vad", dest="vad_filter", action="store_false", help="transcribe non-speech too")
        speech.add_argument("--max-audio-s", dest="max_audio_s", type=float)
        speech.add_argument("--channels", choices=["mix", "split"],
                            help="split: transcribe each channel on its own (one speaker per channel)")
        speech.add_argument("--subtitles", type=lambda v: [f.strip() for f in v.split(",") if f.strip()],
                            help="comma-separated subtitle formats (vtt,srt) written per clip")
        speech.add_argument("--word-timestamps", dest="word_timestamps", action="store_true", help="word-level timings")
        speech.add_argument("--diarize", action="store_true",
                            help="who spoke when (one-channel recordings): a speaker per segment, turns marked")
        speech.add_argument("--num-speakers", dest="num_speakers", type=int,
                            help="with --diarize: how many speakers (default: counted from the voices)")
        speech.add_argument("--hotwords", help="names and terms Whisper should know, e.g. 'Nakagawa, Sentinel'")
        speech.add_argument("--initial-prompt", dest="initial_prompt", help="text Whisper reads before the audio")
        speech.add_argument("--prompt-column", dest="prompt_column", help="a text column: each clip's own prompt")
        if name == "speech-translate":
            speech.add_argument("--target-lang", dest="target_lang", help="default: the flow's")
        speech.set_defaults(func=func)

    runs = sub.add_parser("runs", help="find runs under an output prefix and show their reports")
    runs.add_argument("action", choices=["list", "show"])
    runs.add_argument("run", nargs="?", help="show: a run key, its first characters, or the run's s3:// directory")
    runs.add_argument("--output", help="s3:// prefix the runs wrote under (the flows' output_uri), any depth")
    runs.add_argument("--input", help="list: only runs whose input URI contains this (e.g. x1.parquet)")
    runs.add_argument("--limit", type=int, default=50, help="list: at most this many runs")
    runs.add_argument("--rows", type=int, default=5, help="show: kept and quarantined rows to print")
    runs.set_defaults(func=cmd_runs)

    demo_speech = sub.add_parser("demo-speech", help="spoken demo clips -> transcribe-batch and speech-translate")
    demo_speech.add_argument("--bucket", default="sentinel-demo")
    demo_speech.add_argument("--target-lang", default="de")
    demo_speech.set_defaults(func=cmd_demo_speech)

    demo = sub.add_parser("demo", help="write the demo dataset and translate it")
    demo.add_argument("--bucket", default="sentinel-demo")
    demo.set_defaults(func=cmd_demo)

    for extension in _extensions():
        extension(sub)
    return parser


def add_check_mt_command(sub) -> None:
    from tasks.guards.mt.cli import add_check_mt_arguments, main_check_mt

    parser = sub.add_parser("check-mt", help="score translations (CSV/parquet) for hallucinations")
    add_check_mt_arguments(parser)
    parser.set_defaults(func=main_check_mt)


def _extensions():
    """Sub-commands contributed by other modules: the MT hallucination checker (check-mt)."""
    return [add_check_mt_command]


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
