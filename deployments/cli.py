"""`sentinel`: the command line of Sentinel Batch.

  sentinel stack up|down|status     local SeaweedFS S3 + Triton + Prefect server
  sentinel blocks register          create the Prefect blocks the flows use
  sentinel deploy-local             work pools, blocks, limits, deployments + a process worker
  sentinel bridge --source sqs|poll new S3 objects -> one input list + Prefect event per batch (triggers)
  sentinel demo                     demo dataset -> translate-batch through the local stack
  sentinel translate --input s3://… --output s3://… [--target-lang en] [--model echo] [--no-guards] [--dry-run]
  sentinel transcribe | speech-translate --input s3://… --output s3://…   (speech)
      every parameter of the flow is an option (`sentinel translate --help`); --dry-run prints the plan
  sentinel runs list --output s3://… [--input NAME]    runs under an output prefix, newest first
  sentinel runs show RUN_KEY_OR_PREFIX --output s3://… the report and first kept / quarantined rows
  sentinel demo-speech                  spoken demo clips -> transcribe-batch and speech-translate
  sentinel check-mt --input FILE --output OUT.parquet   hallucination scores for src/mt rows
"""
from __future__ import annotations

import argparse
import gc
import json
import os
import sys

from deployments.heartbeats import send_heartbeats
from deployments.run_commands import add_run_commands
from deployments.stack.config import use_local_stack_env

__all__ = ["build_parser", "main", "program", "use_local_stack_env"]


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

    from deployments.bridge.batcher import Batcher, Window
    from deployments.bridge.batches import root_prefix
    from deployments.bridge.emitter import PrefectEventsEmitter
    from deployments.bridge.service import pump_once, run_bridge, stop_on_signals
    from deployments.bridge.sources import PollingSource, SqsSource
    from tasks.io.s3 import S3Connection
    from tasks.io.s3_uri import S3Uri

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        window = Window(args.batch_seconds, args.batch_objects)
    except ValueError as exc:
        raise SystemExit(f"sentinel bridge: {exc}") from None
    conn = S3Connection.from_env()
    if args.source == "sqs":
        if not args.queue_url:
            raise SystemExit("sentinel bridge --source sqs needs --queue-url (or $SENTINEL_BRIDGE_SQS_QUEUE_URL)")
        endpoint = os.environ.get("AWS_ENDPOINT_URL_SQS") or os.environ.get("AWS_ENDPOINT_URL")
        sqs = boto3.client("sqs", endpoint_url=endpoint)
        # held unacknowledged for the window, then posted (retries up to ~2 min): not handed out again meanwhile
        source = SqsSource(sqs, args.queue_url, visibility_s=int(window.seconds) + 300)
        root = root_prefix("", args.key_prefix)
    else:
        if not (args.watch and args.state):
            raise SystemExit("sentinel bridge --source poll needs --watch s3://… and --state s3://…")
        source = PollingSource(conn.boto3_client(), args.watch, args.state)
        root = root_prefix(S3Uri.parse(args.watch).prefix, args.key_prefix)
    emitter = PrefectEventsEmitter(os.environ["PREFECT_API_URL"], os.environ.get("PREFECT_API_KEY"))
    batcher = Batcher(conn, emitter, source, window, root=root)
    if args.once:
        print(f"emitted {pump_once(source, batcher, args.key_prefix, args.suffix, flush_all=True)} objects in batches")
    else:
        stop = threading.Event()
        received = stop_on_signals(stop)
        run_bridge(source, batcher, prefix=args.key_prefix, suffix=args.suffix, idle_sleep_s=args.interval,
                   stop=stop, received=received)
    return 0


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


def build_parser(run_commands=None) -> argparse.ArgumentParser:
    """`run_commands`: the run commands (translate, transcribe, speech-translate) to give their flow's
    options (None: all; importing the flows takes seconds, so `main` names only the one it runs)."""
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

    bridge = sub.add_parser("bridge", help="S3 notifications (SQS) or polling -> one input list + Prefect event "
                                           "(sentinel.input-list.created) per batch of new objects")
    bridge.add_argument("--source", choices=["sqs", "poll"], required=True)
    bridge.add_argument("--queue-url", default=os.environ.get("SENTINEL_BRIDGE_SQS_QUEUE_URL"),
                        help="SQS queue fed by S3 notifications (--source sqs; default $SENTINEL_BRIDGE_SQS_QUEUE_URL)")
    bridge.add_argument("--watch", help="s3:// prefix to poll (--source poll)")
    bridge.add_argument("--state", help="s3:// JSON object remembering what was seen (--source poll)")
    bridge.add_argument("--key-prefix", default=os.environ.get("SENTINEL_BRIDGE_KEY_PREFIX", ""),
                        help="only keys starting with this (default $SENTINEL_BRIDGE_KEY_PREFIX or every key)")
    bridge.add_argument("--suffix", default=".parquet", help="only keys ending with this")
    bridge.add_argument("--interval", type=float, default=5.0, help="seconds between idle polls")
    bridge.add_argument("--batch-seconds", type=float,
                        default=float(os.environ.get("SENTINEL_BRIDGE_BATCH_SECONDS", 30)),
                        help="a batch closes this many seconds after its first object arrived (default 30; "
                             "$SENTINEL_BRIDGE_BATCH_SECONDS)")
    bridge.add_argument("--batch-objects", type=int,
                        default=int(os.environ.get("SENTINEL_BRIDGE_BATCH_OBJECTS", 500)),
                        help="... or as soon as it holds this many objects (default 500; "
                             "$SENTINEL_BRIDGE_BATCH_OBJECTS); 1: one run per object, as before batching")
    bridge.add_argument("--once", action="store_true", help="one round, then exit (what it received is one batch)")
    bridge.set_defaults(func=cmd_bridge)

    add_run_commands(sub, run_commands)

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


def parse_args(argv: list[str]) -> argparse.Namespace:
    return build_parser(run_commands=[a for a in argv if not a.startswith("-")][:1]).parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    """The command `argv` names, in this process (tests and scripts call it; the program is `program`)."""
    args = parse_args(sys.argv[1:] if argv is None else argv)
    return args.func(args)


def program() -> int:
    """The `sentinel` program (its console script and `python -m deployments.cli`): `main` in a process
    of its own. Its flow runs heartbeat (deployments/heartbeats.py). What the imports made (a run
    command imports its flow: Prefect, pyarrow, boto3, ~300,000 objects) lives as long as the process,
    so the garbage collector is told to skip it (`gc.freeze`): each full collection during the run,
    and the interpreter's last ones at exit, would walk all of it again (~0.2 s each, ~1 s a run)."""
    send_heartbeats()
    args = parse_args(sys.argv[1:])
    gc.freeze()
    try:
        return args.func(args)
    finally:
        gc.freeze()  # the run's own objects too: the process ends here


if __name__ == "__main__":
    sys.exit(program())
