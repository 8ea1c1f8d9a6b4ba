"""`sentinel`: the command line of Sentinel Batch.

  sentinel stack up|down|status     local SeaweedFS S3 + Triton + Prefect server
  sentinel blocks register          create the Prefect blocks the flows use
  sentinel deploy-local             work pools, blocks, limits, deployments + a process worker
  sentinel bridge --source sqs|poll S3 object-created events -> Prefect (deployment triggers)
  sentinel demo                     demo dataset -> translate-batch through the local stack
  sentinel translate --input s3://… --output s3://… [--target-lang en] [--model echo]
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

    import boto3

    from deployments.bridge.emitter import PrefectEventsEmitter
    from deployments.bridge.service import pump_once, run_bridge
    from deployments.bridge.sources import PollingSource, SqsSource
    from tasks.storage import S3Connection

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if args.source == "sqs":
        sqs = boto3.client("sqs", endpoint_url=os.environ.get("AWS_ENDPOINT_URL_SQS") or os.environ.get("AWS_ENDPOINT_URL"))
        source = SqsSource(sqs, args.queue_url)
    else:
        source = PollingSource(S3Connection.from_env().boto3_client(), args.watch, args.state)
    emitter = PrefectEventsEmitter(os.environ["PREFECT_API_URL"], os.environ.get("PREFECT_API_KEY"))
    if args.once:
        print(f"emitted {pump_once(source, emitter, args.key_prefix, args.suffix)} events")
    else:
        run_bridge(source, emitter, prefix=args.key_prefix, suffix=args.suffix, idle_sleep_s=args.interval)
    return 0


def cmd_translate(args: argparse.Namespace) -> int:
    use_local_stack_env()
    from flows.translate_batch import translate_batch

    state = translate_batch(input_uri=args.input, output_uri=args.output, target_lang=args.target_lang,
                            source_lang=args.source_lang, text_column=args.text_column, id_column=args.id_column,
                            shard_rows=args.shard_rows, model=args.model, return_state=True)
    print(state.message or state.name)
    return 0 if state.is_completed() else 1


def cmd_demo(args: argparse.Namespace) -> int:
    use_local_stack_env()
    from deployments.demo import run_demo

    return run_demo(bucket=args.bucket)


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

    translate = sub.add_parser("translate", help="run translate-batch once")
    translate.add_argument("--input", required=True)
    translate.add_argument("--output", required=True)
    translate.add_argument("--target-lang", default="en")
    translate.add_argument("--source-lang", default="auto")
    translate.add_argument("--text-column", default="text")
    translate.add_argument("--id-column", default="id")
    translate.add_argument("--shard-rows", type=int, default=5000)
    translate.add_argument("--model", default="translate", choices=["translate", "echo"])
    translate.set_defaults(func=cmd_translate)

    demo = sub.add_parser("demo", help="write the demo dataset and translate it")
    demo.add_argument("--bucket", default="sentinel-demo")
    demo.set_defaults(func=cmd_demo)

    for extension in _extensions():
        extension(sub)
    return parser


def add_check_mt_command(sub) -> None:
    from tasks.checks.mt_checker import add_check_mt_arguments, main_check_mt

    parser = sub.add_parser("check-mt", help="score translations (CSV/parquet) for hallucinations")
    add_check_mt_arguments(parser)
    parser.set_defaults(func=main_check_mt)


def _extensions():
    """Sub-commands contributed by other modules: speech (transcribe, speech-translate,
    demo-speech) and the MT hallucination checker (check-mt)."""
    from deployments.demo_speech import add_asr_commands

    return [add_asr_commands, add_check_mt_command]


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
