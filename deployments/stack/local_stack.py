"""Bring the whole local stack up or down: SeaweedFS S3, Triton, Prefect server."""
from __future__ import annotations

import subprocess
import sys

from deployments.stack import prefect_server, seaweedfs
from deployments.stack.config import StackConfig, client_env
from deployments.stack.processes import http_ok, pid_file, read_pid, stop_process

SERVICES = ("seaweedfs", "triton", "prefect-server")
STOP_TIMEOUTS_S = {"seaweedfs": seaweedfs.STOP_TIMEOUT_S, "triton": 40.0, "prefect-server": 20.0,
                   "prefect-worker": 20.0}


def stop(cfg: StackConfig, name: str) -> bool:
    return stop_process(cfg.state_dir, name, timeout=STOP_TIMEOUTS_S[name])


def triton_healthy(cfg: StackConfig) -> bool:
    return http_ok(f"http://127.0.0.1:{cfg.triton_http_port}/v2/health/ready")


def sync_models(cfg: StackConfig) -> None:
    """Fill Triton's models dir from the model store (the same tool the k8s init container runs)."""
    tool = cfg.repo_root / "triton" / "tools" / "sync_model_store.py"
    python = cfg.repo_root / ".venv-triton" / "bin" / "python"
    subprocess.run(
        [str(python), str(tool), "--store", str(cfg.model_store), "--dest", str(cfg.triton_models_dir)],
        check=True,
    )


def start_triton(cfg: StackConfig, timeout: float = 180.0) -> None:
    from deployments.stack import triton

    if read_pid(cfg.state_dir, "triton") and triton_healthy(cfg):
        return
    sync_models(cfg)
    log_path = cfg.state_dir / "logs" / "triton.log"
    proc = triton.start_triton(
        repo_root=cfg.repo_root, state_dir=cfg.state_dir, model_repository=cfg.model_repository,
        models_dir=cfg.triton_models_dir, http_port=cfg.triton_http_port, grpc_port=cfg.triton_grpc_port,
        metrics_port=cfg.triton_metrics_port, log_path=log_path,
    )
    pid_file(cfg.state_dir, "triton").parent.mkdir(parents=True, exist_ok=True)
    pid_file(cfg.state_dir, "triton").write_text(str(proc.pid))
    triton.wait_ready(cfg.triton_http_port, timeout, proc=proc, log_path=log_path)


def up(cfg: StackConfig | None = None, services: tuple[str, ...] = SERVICES) -> StackConfig:
    cfg = cfg or StackConfig()
    if "seaweedfs" in services:
        seaweedfs.start(cfg)
    if "prefect-server" in services:
        prefect_server.start(cfg)
    if "triton" in services:
        start_triton(cfg)
    write_env_file(cfg)
    return cfg


def down(cfg: StackConfig | None = None, services: tuple[str, ...] = SERVICES) -> None:
    """Stop `services` (all by default, and then the local Prefect worker too)."""
    cfg = cfg or StackConfig()
    everything = set(services) >= set(SERVICES)
    for name in ("prefect-worker", *reversed(SERVICES)):
        if name not in services and not (everything and name == "prefect-worker"):
            continue
        if stop(cfg, name):
            print(f"stopped {name}")


def status(cfg: StackConfig | None = None) -> dict[str, bool]:
    cfg = cfg or StackConfig()
    return {
        "seaweedfs": seaweedfs.s3_healthy(cfg),
        "triton": triton_healthy(cfg),
        "prefect-server": prefect_server.healthy(cfg),
    }


def write_env_file(cfg: StackConfig) -> None:
    """`.local/stack.env`: `set -a; . .local/stack.env` points a shell at the local stack."""
    lines = [f"{key}={value}" for key, value in client_env(cfg).items()]
    path = cfg.state_dir / "stack.env"
    path.write_text("\n".join(lines) + "\n")
    path.chmod(0o600)


if __name__ == "__main__":  # python -m deployments.stack.local_stack up|down|status
    action = sys.argv[1] if len(sys.argv) > 1 else "status"
    {"up": lambda: up(), "down": lambda: down(), "status": lambda: print(status())}[action]()
