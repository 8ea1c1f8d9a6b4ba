"""Shared pieces of the benchmarks: the local stack's environment, bench datasets in S3 (made
once, reused), process-tree RSS sampling, measurements in child processes, results files."""
from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from deployments.cli import use_local_stack_env  # noqa: E402

use_local_stack_env()

RESULTS = ROOT / "bench" / "results"
IMG = ROOT / "docs" / "img"
BUCKET = "sentinel-bench"
DATASET_VERSION = 1  # bump when the generator changes: datasets are reused by name


def machine() -> dict:
    return {"cpus": os.cpu_count(), "platform": platform.platform(), "python": platform.python_version(),
            "gpu": None, "load_1m": round(os.getloadavg()[0], 2)}  # load when the part finished


def flow_default_shard_rows() -> int:
    """translate-batch's own `shard_rows` default (what a user gets without choosing)."""
    import inspect

    from flows.translate_batch import translate_batch

    return inspect.signature(translate_batch.fn).parameters["shard_rows"].default


def now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def human(rows: int) -> str:
    """10000 -> 10k, 1000000 -> 1M."""
    for unit, size in (("M", 1_000_000), ("k", 1_000)):
        if rows >= size and rows % size == 0:
            return f"{rows // size}{unit}"
    return str(rows)


def parse_rows(text: str) -> int:
    """'10k' -> 10000, '1M' -> 1000000, '2500' -> 2500."""
    text = text.strip().lower()
    scale = {"k": 1_000, "m": 1_000_000}.get(text[-1:], 1)
    return int(float(text[:-1] if scale > 1 else text) * scale)


# --- datasets ---------------------------------------------------------------------------------

def bench_texts(rows: int, seed: int = 1):
    """`rows` German sentences (the demo vocabulary), built with numpy: 1M rows in about a second."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    from deployments.demo_data import GERMAN

    rng = np.random.default_rng(seed)
    parts = [pa.array(np.array(GERMAN[k], dtype=object)[rng.integers(0, len(GERMAN[k]), rows)], pa.string())
             for k in ("subjects", "verbs", "tails")]
    return pc.binary_join_element_wise(*parts, " ")


def s3():
    from tasks.io.s3 import S3Connection

    return S3Connection.from_env()


def ensure_dataset(name: str, rows: int, objects: int, row_group_size: int = 5_000) -> str:
    """`s3://sentinel-bench/inputs/<name>/part-NNN.parquet`: `rows` rows over `objects` objects.
    Reused when its marker (`_dataset.json`, hidden from listings) says it is the same."""
    import io

    import pyarrow as pa
    import pyarrow.parquet as pq

    from deployments.demo_data import ensure_bucket

    conn = s3()
    client = conn.boto3_client()
    ensure_bucket(conn, BUCKET)
    prefix = f"inputs/{name}/"
    spec = {"rows": rows, "objects": objects, "row_group_size": row_group_size, "version": DATASET_VERSION}
    try:
        marker = json.loads(client.get_object(Bucket=BUCKET, Key=prefix + "_dataset.json")["Body"].read())
        if marker == spec:
            return f"s3://{BUCKET}/{prefix}"
    except client.exceptions.NoSuchKey:
        pass
    delete_prefix(f"s3://{BUCKET}/{prefix}")
    texts = bench_texts(rows)
    bounds = [rows * n // objects for n in range(objects + 1)]

    def upload(n: int) -> None:
        lo, hi = bounds[n], bounds[n + 1]
        table = pa.table({"id": pa.array([f"{n:03d}-{i:07d}" for i in range(lo, hi)], pa.string()),
                          "text": texts.slice(lo, hi - lo)})
        buffer = io.BytesIO()
        pq.write_table(table, buffer, row_group_size=row_group_size, compression="zstd")
        client.put_object(Bucket=BUCKET, Key=f"{prefix}part-{n:03d}.parquet", Body=buffer.getvalue())

    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(16) as pool:  # many small objects (issue 28's inputs): uploaded 16 at a time
        list(pool.map(upload, range(objects)))
    client.put_object(Bucket=BUCKET, Key=prefix + "_dataset.json", Body=json.dumps(spec).encode())
    return f"s3://{BUCKET}/{prefix}"


def delete_prefix(uri: str) -> int:
    """Delete every object under an s3:// prefix (bench outputs, stale datasets)."""
    from tasks.io.s3_uri import S3Uri

    root = S3Uri.parse(uri)
    client = s3().boto3_client()
    deleted = 0
    for page in client.get_paginator("list_objects_v2").paginate(Bucket=root.bucket, Prefix=root.key):
        keys = [{"Key": item["Key"]} for item in page.get("Contents", [])]
        for i in range(0, len(keys), 1000):
            client.delete_objects(Bucket=root.bucket, Delete={"Objects": keys[i:i + 1000], "Quiet": True})
        deleted += len(keys)
    return deleted


def read_manifest(output_dir: str) -> dict:
    from tasks.io.s3_uri import S3Uri

    target = S3Uri.parse(output_dir).join("manifest.json")
    body = s3().boto3_client().get_object(Bucket=target.bucket, Key=target.key)["Body"].read()
    return json.loads(body)


# --- memory -----------------------------------------------------------------------------------

class RssSampler:
    """Samples the RSS of process trees (a root pid + its descendants) every `interval` s in a
    thread; `peaks()` gives each tree's peak of the summed RSS, in MB. RSS counts shared pages
    (Triton's shared-memory tensors) in every process that maps them: an upper bound."""

    def __init__(self, roots: dict[str, int], interval: float = 0.25):
        import psutil

        self.roots = {name: psutil.Process(pid) for name, pid in roots.items() if pid}
        self.interval = interval
        self.peak = {name: 0.0 for name in self.roots}
        self.first = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def add(self, name: str, pid: int) -> None:
        import psutil

        self.roots[name] = psutil.Process(pid)
        self.peak.setdefault(name, 0.0)

    def _tree(self, root):
        import psutil

        try:
            return [root, *root.children(recursive=True)]
        except psutil.Error:
            return []

    def sample(self) -> dict[str, float]:
        import psutil

        out = {}
        for name, root in list(self.roots.items()):
            total = 0
            for proc in self._tree(root):
                try:
                    total += proc.memory_info().rss
                except psutil.Error:
                    pass
            if total:
                out[name] = total / 2**20
        return out

    def cpu_seconds(self) -> dict[str, float]:
        """User + system CPU seconds so far of each tree (live processes only)."""
        import psutil

        out = {}
        for name, root in self.roots.items():
            total = 0.0
            for proc in self._tree(root):
                try:
                    times = proc.cpu_times()
                    total += times.user + times.system
                except psutil.Error:
                    pass
            out[name] = total
        return out

    def _run(self) -> None:
        while not self._stop.is_set():
            for name, mb in self.sample().items():
                self.first.setdefault(name, mb)
                self.peak[name] = max(self.peak.get(name, 0.0), mb)
            self._stop.wait(self.interval)

    def __enter__(self) -> RssSampler:
        self._cpu_start = self.cpu_seconds()
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()
        end = self.cpu_seconds()
        self.cpu_used = {name: round(end[name] - self._cpu_start.get(name, 0.0), 3) for name in end}

    def peaks(self) -> dict[str, float]:
        return {name: round(mb, 1) for name, mb in self.peak.items()}

    def baselines(self) -> dict[str, float]:
        return {name: round(mb, 1) for name, mb in self.first.items()}


def pid_from_file(state_dir: Path, name: str) -> int | None:
    from deployments.stack.processes import read_pid

    return read_pid(state_dir, name)


def pid_listening(port: int) -> int | None:
    """The process listening on 127.0.0.1:`port` (or any address), if this user may see it."""
    import psutil

    try:
        for conn in psutil.net_connections(kind="tcp"):
            if conn.status == psutil.CONN_LISTEN and conn.laddr and conn.laddr.port == port and conn.pid:
                return conn.pid
    except psutil.Error:
        pass
    return None


def default_triton_pid() -> int | None:
    from deployments.stack.config import StackConfig

    cfg = StackConfig()
    return pid_from_file(cfg.state_dir, "triton") or pid_listening(cfg.triton_grpc_port)


def default_s3_pid() -> int | None:
    from deployments.stack.config import StackConfig

    cfg = StackConfig()
    return pid_listening(cfg.s3_port) or pid_from_file(cfg.state_dir, "seaweedfs")


# --- child processes --------------------------------------------------------------------------

def run_sampled(cmd: list[str], env: dict, roots: dict[str, int], name: str,
                timeout: float) -> tuple[int, str, str, RssSampler]:
    """Run `cmd` (killed after `timeout`) while sampling the RSS and CPU of the `roots` process
    trees and of the command's own tree (as `name`); (exit status, stdout, stderr, sampler)."""
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    sampler = RssSampler(roots | {name: proc.pid})
    with sampler:
        try:
            out, err = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            out, err = proc.communicate()
    return proc.returncode, out, err, sampler


def run_measure(args: list[str], env: dict | None = None, sampler_roots: dict[str, int] | None = None,
                timeout: float = 1800) -> dict:
    """`python bench/measure.py <args>` in its own process; its last stdout line is JSON. With
    `sampler_roots`, the RSS of those trees and of the child's own tree is sampled meanwhile."""
    cmd = [sys.executable, str(ROOT / "bench" / "measure.py"), *args]
    full_env = dict(os.environ) | (env or {})
    full_env.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")
    returncode, out, err, sampler = run_sampled(cmd, full_env, dict(sampler_roots or {}), "flow_process", timeout)
    if returncode != 0:
        raise RuntimeError(f"measure.py {' '.join(args)} failed ({returncode}):\n{err[-4000:]}")
    result = json.loads(out.strip().splitlines()[-1])
    result["sampled_peak_rss_mb"] = sampler.peaks()
    result["sampled_start_rss_mb"] = sampler.baselines()
    # servers' CPU during the run (the child's own CPU is its `cpu_s`, from getrusage)
    result["server_cpu_s"] = {k: v for k, v in sampler.cpu_used.items() if k != "flow_process"}
    return result


def write_result(name: str, doc: dict) -> Path:
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"{name}.json"
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(doc, indent=2) + "\n")
    tmp.replace(path)
    return path


def load_result(name: str) -> dict | None:
    path = RESULTS / f"{name}.json"
    return json.loads(path.read_text()) if path.exists() else None
