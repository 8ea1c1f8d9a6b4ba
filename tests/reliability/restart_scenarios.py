"""What the Triton restart scenarios share: their inputs (echo text rows, spoken clips), the flow
parameters of each kind, a run with a fault injected once the first parts are committed, and the
figures each records — rows failed (must be 0), rows retried, seconds lost against an undisturbed
run of the same inputs."""
from __future__ import annotations

import json
import re
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa

from tests.reliability.chaos import (
    FlowProcess,
    account,
    ensure_bucket,
    parquet_bytes,
    part_keys,
    run_dirs_under,
    start_flow,
    upload_echo_inputs,
    wait_for,
)
from tests.reliability.conftest import BUCKET
from tests.reliability.prefect_api import PrefectApi
from tests.reliability.private_stack import PrivateStack
from tests.reliability.restart_workload import spoken_clips

FLOW_KINDS = {"translate-batch": "translate", "transcribe-batch": "transcribe", "speech-translate": "speech-translate"}
AUDIO_FLOW_OPTIONS = dict(triton_endpoint=None, s3_credentials=None, data_quality=False)


def upload_inputs(s3, flow: str, prefix: str, rows: int, shard_rows: int) -> set[str]:
    """`rows` rows for `flow` under s3://chaos/<prefix>: echo text rows, or spoken fixture clips."""
    ensure_bucket(s3, BUCKET)
    if flow == "translate-batch":
        objects = 2
        return upload_echo_inputs(s3, BUCKET, prefix, objects, rows // objects, shard_rows)
    ids = [f"clip-{i:04d}" for i in range(rows)]
    table = pa.table({"id": ids, "audio": pa.array(spoken_clips(rows), pa.binary())})
    s3.put_object(Bucket=BUCKET, Key=f"{prefix}clips.parquet", Body=parquet_bytes(table, shard_rows))
    return set(ids)


def flow_params(flow: str, input_uri: str, output_uri: str, shard_rows: int) -> dict:
    common = dict(input_uri=input_uri, output_uri=output_uri, shard_rows=shard_rows)
    if flow == "translate-batch":
        return common | dict(model="echo", triton_endpoint=None, s3_credentials=None)
    if flow == "speech-translate":
        # guards off: the tiny test Marian's translations of the clips are all flagged, every row would
        # go to quarantine and the run end Failed whatever the restarts do
        return common | AUDIO_FLOW_OPTIONS | dict(target_lang="de", guards=False)
    return common | AUDIO_FLOW_OPTIONS


@dataclass
class FaultRun:
    """Runs of one flow on the same inputs (uploaded once, under `prefix`in/), each with its own
    output prefix; `fault()` runs (in a thread) once `after_parts` parts of that run are committed."""

    stack: PrivateStack
    flow: str
    rows: int
    shard_rows: int
    work_dir: Path
    prefix: str
    env: dict[str, str] | None = None
    after_parts: int = 1
    code_tree: Path | None = None  # run the flows of another checkout (e.g. an older commit), same stack
    extra_params: dict = field(default_factory=dict)  # flow parameters over flow_params' (e.g. a Triton block)
    ids: set[str] = field(default_factory=set)

    def __post_init__(self) -> None:
        self.ids = upload_inputs(self.stack.s3(), self.flow, f"{self.prefix}in/", self.rows, self.shard_rows)

    def run(self, name: str, fault: Callable[[], dict] | None = None, output_name: str | None = None) -> dict:
        """Run the flow; `output_name`: the output prefix of an earlier run (a rerun of the same command)."""
        s3 = self.stack.s3()
        output_uri = f"s3://{BUCKET}/{self.prefix}{output_name or name}/out/"
        params = flow_params(self.flow, f"s3://{BUCKET}/{self.prefix}in/", output_uri, self.shard_rows)
        params |= self.extra_params
        if self.code_tree is None:
            proc = start_flow(self.stack, FLOW_KINDS[self.flow], params, self.work_dir, name, env=self.env)
        else:
            proc = start_flow_of(self.code_tree, self.stack, FLOW_KINDS[self.flow], params, self.work_dir, name,
                                 self.env)
        fault_figures: dict = {}
        if fault is not None:
            def committed() -> int:
                return sum(len(part_keys(s3, d)) for d in run_dirs_under(s3, output_uri))

            wait_for(lambda: committed() >= self.after_parts or proc.proc.poll() is not None, 300,
                     "the first committed parts")
            assert proc.proc.poll() is None, "the run ended before the fault: use more rows"
            fault_figures["parts_committed_before_fault"] = committed()
            box: dict = {}
            thread = threading.Thread(target=lambda: box.update(fault() or {}), daemon=True)
            started = time.monotonic()
            thread.start()
            thread.join()
            fault_figures |= box | {"fault_s": round(time.monotonic() - started, 1)}
        result = proc.wait()
        return self.figures(result, output_uri, self.ids) | fault_figures

    def figures(self, result: dict, output_uri: str, ids: set[str]) -> dict:
        s3 = self.stack.s3()
        log = Path(result["log"]).read_text(errors="replace")
        served = re.findall(r"Triton request of (\d+) rows served by .* after \d+ failed attempts \(([\d.]+) s\)", log)
        served_after_retry = [int(rows) for rows, _ in served]
        api = PrefectApi(self.stack.cfg.prefect_api_url)
        task_runs = api.task_runs(result["flow_run_id"]) if result.get("flow_run_id") else []
        shard_retries = sum(max(t["run_count"] - 1, 0) for t in task_runs if "shard" in t.get("name", ""))
        dirs = run_dirs_under(s3, output_uri)
        run_dir = (result.get("result") or {}).get("output_dir") or (dirs[0] if dirs else None)
        figures = account(s3, run_dir).check(ids) if run_dir else {"found_once": 0, "lost": len(ids), "statuses": {}}
        return figures | {
            "flow_state": result["state"], "flow_completed": result["completed"], "flow_wall_s": result["wall_s"],
            "error": result.get("error"), "rows_failed": figures.get("statuses", {}).get("failed", 0),
            "rows_retried_by_client": sum(served_after_retry), "requests_retried_by_client": len(served_after_retry),
            "longest_request_stall_s": max((float(s) for _, s in served), default=0.0),
            "client_failovers": len(re.findall(r"failing over to", log)),
            "client_waits_for_ready": len(re.findall(r"not ready: waiting for it", log)),
            "shard_task_retries": shard_retries, "rows_retried_by_shard_retries": shard_retries * self.shard_rows,
            "log": str(result["log"]),
        }


def start_flow_of(tree: Path, stack: PrivateStack, kind: str, params: dict, work_dir: Path, name: str,
                  env: dict[str, str] | None = None) -> FlowProcess:
    """start_flow with the flow runner and the code of checkout `tree`."""
    work_dir.mkdir(parents=True, exist_ok=True)
    out_path = work_dir / f"{name}.json"
    out_path.unlink(missing_ok=True)
    env = dict(env or stack.env(), PYTHONPATH=str(tree))
    with open(work_dir / f"{name}.log", "wb") as log:
        proc = subprocess.Popen([sys.executable, str(tree / "tests" / "reliability" / "flow_runner.py"), kind,
                                 json.dumps(params), str(out_path)], cwd=tree, env=env, stdout=log,
                                stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    return FlowProcess(proc, out_path)


def seconds_lost(faulted: dict, baseline: dict) -> float:
    return round(faulted["flow_wall_s"] - baseline["flow_wall_s"], 1)


def outcome(figures: dict, rows: int) -> str:
    ok = figures["flow_completed"] and figures["rows_failed"] == 0 and figures["found_once"] == rows \
        and not figures.get("duplicated")
    return "survived" if ok else "lost"


def assert_no_row_lost_or_failed(figures: dict, rows: int) -> None:
    assert figures["flow_completed"], figures.get("error")
    assert figures["rows_failed"] == 0, figures["statuses"]
    assert figures["lost"] == 0 and figures["duplicated"] == 0 and figures["unexpected"] == 0, figures
    assert figures["found_once"] == rows
