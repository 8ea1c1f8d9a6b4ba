"""Security: S3 credentials never appear in logs, artifacts, reports or outputs (scanned after runs
with credentials from a block, from the environment, and with a wrong secret); object keys are
validated; every listening socket of the stack binds 127.0.0.1."""
from __future__ import annotations

import json
import re
import secrets
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from tests.reliability.bad_corpus import good_table
from tests.reliability.chaos import list_keys, parquet_bytes, run_flow
from tests.reliability.conftest import BUCKET, RESULTS
from tests.reliability.prefect_api import PrefectApi
from tests.reliability.private_stack import REPO_ROOT

pytestmark = [pytest.mark.chaos, pytest.mark.integration]
LOOPBACK = {"127.0.0.1", "::ffff:127.0.0.1", "::1"}


def process_group(pgid: int) -> set[int]:
    """Every process of a service's process group (the stack starts each service in its own session)."""
    members = set()
    for stat_file in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat_file.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) == pgid:
            members.add(int(stat_file.parent.name))
    return members


def listening(pgid: int) -> dict[str, set[str]]:
    """process name -> addresses its listening TCP sockets bind (UDP too), for the whole process group."""
    members = process_group(pgid)
    found: dict[str, set[str]] = {}
    out = subprocess.run(["ss", "-ltunpH"], capture_output=True, text=True, check=True).stdout
    for line in out.splitlines():
        for name, pid in re.findall(r'\("([^"]+)",pid=(\d+)', line):
            if int(pid) in members:
                found.setdefault(name, set()).add(line.split()[4].replace("[", "").replace("]", ""))
    return found


def scan(items: dict[str, bytes], needles: dict[str, bytes]) -> dict:
    hits = [f"{name}: {what}" for name, body in items.items() for what, needle in needles.items() if needle in body]
    return {"scanned": len(items), "bytes": sum(len(b) for b in items.values()), "hits": hits}


def database_bytes(stack) -> bytes:
    from tests.reliability.private_stack import PG_DB, PG_DSN

    if stack.database == "postgresql":
        return subprocess.run(["pg_dump", f"{PG_DSN}/{PG_DB}"], capture_output=True,
                              check=True).stdout
    return (stack.cfg.state_dir / "prefect" / "prefect.db").read_bytes()


def test_credentials_never_leak_and_stack_binds_loopback(chaos_stack, chaos_results, scenario_prefix, tmp_path):
    s3 = chaos_stack.s3()
    identity = chaos_stack.identity
    wrong_secret = "wrong" + secrets.token_urlsafe(18)
    prefix = f"security/{scenario_prefix}"
    good, _ = good_table("sec", 30)
    s3.put_object(Bucket=BUCKET, Key=f"{prefix}in/good.parquet", Body=parquet_bytes(good))
    s3.put_object(Bucket=BUCKET, Key=f"{prefix}in/broken.parquet", Body=b"not parquet")  # an error path too

    # credentials from a Prefect block only (the flow's environment has none)
    block_env = {k: v for k, v in chaos_stack.env().items()
                 if k not in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "SENTINEL_S3_FROM_ENV")}
    subprocess.run([sys.executable, "-c", "from blocks.register import register_blocks; register_blocks()"],
                   env=chaos_stack.env(), cwd=REPO_ROOT, check=True, capture_output=True)
    params = dict(input_uri=f"s3://{BUCKET}/{prefix}in/", output_uri=f"s3://{BUCKET}/{prefix}out/", model="echo")
    runs = {"block": run_flow(chaos_stack, "translate", params, tmp_path, "block-creds", env=block_env),
            "env": run_flow(chaos_stack, "translate", dict(params, s3_credentials=None, triton_endpoint=None,
                                                           output_uri=f"s3://{BUCKET}/{prefix}out-env/"),
                            tmp_path, "env-creds"),
            "wrong": run_flow(chaos_stack, "translate", dict(params, s3_credentials=None, triton_endpoint=None),
                              tmp_path, "wrong-secret", env=chaos_stack.env(AWS_SECRET_ACCESS_KEY=wrong_secret))}
    assert all(r.get("flow_run_id") for r in runs.values()), {k: r.get("error") for k, r in runs.items()}
    assert runs["block"]["state"] == "Failed" and "1 objects" in runs["block"]["error"]  # broken.parquet, reported
    assert not runs["wrong"]["completed"]

    needles = {"access key": identity.access_key.encode(), "secret key": identity.secret_key.encode(),
               "wrong secret": wrong_secret.encode()}
    api = PrefectApi(chaos_stack.cfg.prefect_api_url)
    surfaces = {
        "prefect logs (all runs)": {f"log {i}": json.dumps(log).encode() for i, log in enumerate(api.logs())},
        "prefect artifacts (run reports, progress)": {a["id"]: json.dumps(a).encode() for a in api.artifacts()},
        "prefect flow-run parameters": {r["id"]: json.dumps(r["parameters"]).encode() for r in api.flow_runs()},
        "prefect blocks (API, no include_secrets)": {b["id"]: json.dumps(b).encode() for b in api.blocks()},
        "s3 outputs (parts, quarantine, manifest, quality, shard results)": {
            key: s3.get_object(Bucket=BUCKET, Key=key)["Body"].read()
            for key in list_keys(s3, BUCKET, prefix) if "/in/" not in key},
        "local log files (stack services, flow processes)": {
            str(p): p.read_bytes() for p in [*chaos_stack.cfg.state_dir.glob("logs/*.log"), *tmp_path.glob("*.log"),
                                             *tmp_path.glob("*.json")]},
        "reliability report (json, md)": {str(p): p.read_bytes()
                                          for p in (RESULTS, REPO_ROOT / "docs" / "reliability.md")
                                          if p.exists()},
    }
    surfaces["prefect database at rest (pg_dump / sqlite file)"] = {"database": database_bytes(chaos_stack)}
    # the access key id is an identifier, not a secret: block documents (and their "created" events)
    # show it by design; the secret must appear nowhere, the key id nowhere else
    secret_only = {k: v for k, v in needles.items() if k != "access key"}
    results = {name: scan(items, secret_only if name.startswith(("prefect blocks", "prefect database")) else needles)
               for name, items in surfaces.items()}
    credential_files = {p.name: oct(stat.S_IMODE(p.stat().st_mode)) for p in (
        chaos_stack.cfg.state_dir / "s3" / "identity.json", chaos_stack.cfg.state_dir / "s3" / "identities.json",
        chaos_stack.cfg.state_dir / "stack.env") if p.exists()}

    sockets = {name: listening(chaos_stack.pid(name)) for name in ("seaweedfs", "prefect-server", "triton")}
    from deployments.stack.processes import read_pid

    for name in ("seaweedfs", "prefect-server", "triton"):  # the shared stack, read-only: its sockets
        if pid := read_pid(REPO_ROOT / ".local", name):
            sockets[f"shared {name}"] = listening(pid)
    exposed = {f"{svc}/{proc}": sorted(a for a in addrs if a.rsplit(":", 1)[0] not in LOOPBACK)
               for svc, procs in sockets.items() for proc, addrs in procs.items()}
    exposed = {k: v for k, v in exposed.items() if v}

    from tasks.io.s3_uri import InvalidS3Uri, S3Uri

    key_checks = {}
    for bad in ("s3://b-k/a/../x.parquet", "s3://b-k/./x", "s3://b-k/a\x00b", "s3://b-k/a\nb", "s3://B_K/x",
                "s3://b-k/" + "k" * 1100, "file:///etc/passwd"):
        try:
            S3Uri.parse(bad)
            key_checks[repr(bad[:40])] = "accepted"
        except InvalidS3Uri as exc:
            key_checks[repr(bad[:40])] = f"rejected: {exc}"[:120]
    try:
        S3Uri.parse("s3://b-k/out").join("..", "x")
        key_checks["join('..')"] = "accepted"
    except InvalidS3Uri:
        key_checks["join('..')"] = "rejected"

    leaks = {name: r["hits"] for name, r in results.items() if r["hits"]}
    accepted = [k for k, v in key_checks.items() if v == "accepted"]
    wide_files = {k: v for k, v in credential_files.items() if v != "0o600"}
    chaos_results.record(
        "security", title="Credentials, key validation, loopback binding",
        outcome="held" if not leaks and not exposed and not accepted and not wide_files else "lost",
        surfaces={name: {k: v for k, v in r.items() if k != "hits"} | {"hits": len(r["hits"])}
                  for name, r in results.items()},
        leaks=leaks, credential_files=credential_files, listening=
        {svc: {p: sorted(a) for p, a in procs.items()} for svc, procs in sockets.items()},
        not_loopback=exposed, key_checks=key_checks,
        runs={k: {"state": r["state"], "error": (r.get("error") or "")[:160]} for k, r in runs.items()})
    assert not leaks, leaks
    assert not exposed, exposed
    assert not accepted, key_checks
    assert not wide_files, credential_files
