"""`sentinel translate | transcribe | speech-translate`: run a batch flow once, in this process.

Their options are the flow's parameters, generated from its signature (deployments/flow_options.py);
`--dry-run` prints the plan instead of running (deployments/dry_run.py). Only the options given
reach the flow, so its own defaults apply to the rest.
"""
from __future__ import annotations

import argparse
import importlib
import sys
import textwrap
from dataclasses import dataclass

from deployments.flow_options import FlowOptions, add_options, build_options
from deployments.stack.config import use_local_stack_env


@dataclass(frozen=True)
class RunCommand:
    name: str
    module: str  # defines the flow and `build_stage(params)`
    flow: str
    help: str


RUN_COMMANDS = (
    RunCommand("translate", "flows.translate_batch", "translate_batch", "run translate-batch once"),
    RunCommand("transcribe", "flows.transcribe_batch", "transcribe_batch", "run transcribe-batch once"),
    RunCommand("speech-translate", "flows.speech_translate", "speech_translate",
               "run speech-translate (transcribe + translate) once"),
)

# Spellings the CLI had before its options were generated from the flows; README, docs, bench and
# scripts use them. Each is one more flag of the parameter (skipped where a flow has a parameter of
# that name, e.g. translate-batch's own `model`).
ALIASES = {"input_uri": ("--input",), "output_uri": ("--output",), "asr_model": ("--model",)}
NEGATIVE_ALIASES = {"vad_filter": ("--no-vad",)}


def load_flow(command: RunCommand):
    module = importlib.import_module(command.module)
    return getattr(module, command.flow), module.build_stage


def add_run_commands(sub, expand=None) -> None:
    """The run commands; those in `expand` (None: all) get their flow's options. Importing the flows
    takes seconds, so `main` expands only the command it runs and `sentinel stack …` imports none."""
    for command in RUN_COMMANDS:
        parser = sub.add_parser(command.name, help=f"{command.help} (every flow parameter is an option; --dry-run)",
                                argument_default=argparse.SUPPRESS,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
        if expand is None or command.name in expand:
            add_flow_options(parser, command)


def add_flow_options(parser: argparse.ArgumentParser, command: RunCommand) -> None:
    use_local_stack_env()  # before the flow imports Prefect, which reads its settings (the API URL) then
    flow, _ = load_flow(command)
    summary = (flow.description or "").strip().splitlines()[0] if flow.description else ""
    parser.description = "\n\n".join(textwrap.fill(text, 100) for text in (
        f"{command.help}, in this process, with a progress bar on stderr: {summary}",
        "Every parameter of the flow is an option, grouped and ordered as in its Prefect run form; an option "
        "left out is not passed, so the flow's default applies. A list takes the option repeated or commas; "
        "an empty value is the empty list."))
    options = add_options(parser, build_options(flow, ALIASES, NEGATIVE_ALIASES))
    parser.add_argument_group("run").add_argument(
        "--dry-run", action="store_true", default=False,
        help="list the objects and the planned shards (rows, bytes, objects per shard), the run key and "
             "where the outputs will go; no inference, nothing written")
    parser.set_defaults(func=cmd_run, command=command, options=options, parser=parser)


def flow_kwargs(args: argparse.Namespace) -> dict:
    """The parameters given on the command line, checked by the run form's rules and the flow's model;
    a bad value exits with the option, the form's words and what the option accepts."""
    options: FlowOptions = args.options
    given = options.parameters(args)
    errors = options.errors(given)
    if errors:
        args.parser.error("\n  ".join(["invalid parameters:", *errors]))
    return given


def cmd_run(args: argparse.Namespace) -> int:
    given = flow_kwargs(args)
    flow, build_stage = load_flow(args.command)
    if args.dry_run:
        from deployments.dry_run import dry_run

        try:
            print(dry_run(flow.name, build_stage, args.options.validated(given)))
        except ValueError as exc:  # a missing block, output inside input, a key that is not safe
            print(f"sentinel {args.command.name} --dry-run: {exc}", file=sys.stderr)
            return 2
        return 0
    return run_with_progress(flow, given)


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
