"""`sentinel deploy-local`: everything a user needs on the running local Prefect server —
work pools from deployments/work_pools/, blocks, the Triton concurrency limit, the
deployments of prefect.yaml, and a process worker."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from deployments.heartbeats import ZOMBIE_SILENCE_S, heartbeat_env
from deployments.stack.config import StackConfig
from deployments.stack.processes import read_pid, spawn_detached
from tasks.inference.client import TRITON_CONCURRENCY_LIMIT as TRITON_LIMIT

POOLS_DIR = Path(__file__).resolve().parent / "work_pools"
POOL_TYPES = {"local-process": "process", "k8s-cpu": "kubernetes"}
WORKER = "prefect-worker"


def base_job_template(pool: str) -> dict | None:
    path = POOLS_DIR / f"{pool}.json"
    return json.loads(path.read_text()) if path.exists() else None


def ensure_work_pools() -> list[str]:
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.actions import WorkPoolCreate, WorkPoolUpdate
    from prefect.exceptions import ObjectAlreadyExists

    made = []
    with get_client(sync_client=True) as client:
        for pool, pool_type in POOL_TYPES.items():
            template = base_job_template(pool)
            try:
                client.create_work_pool(WorkPoolCreate(name=pool, type=pool_type, base_job_template=template or {}))
            except ObjectAlreadyExists:
                if template:
                    client.update_work_pool(pool, WorkPoolUpdate(base_job_template=template))
            made.append(pool)
    return made


def ensure_triton_limit(limit: int) -> None:
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.actions import GlobalConcurrencyLimitCreate, GlobalConcurrencyLimitUpdate
    from prefect.exceptions import ObjectAlreadyExists

    with get_client(sync_client=True) as client:
        try:
            client.create_global_concurrency_limit(GlobalConcurrencyLimitCreate(name=TRITON_LIMIT, limit=limit))
        except ObjectAlreadyExists:
            client.update_global_concurrency_limit(TRITON_LIMIT, GlobalConcurrencyLimitUpdate(limit=limit))


ZOMBIE_AUTOMATION = "sentinel-crash-zombie-flow-runs"


def ensure_zombie_automation(silence_s: int = ZOMBIE_SILENCE_S) -> str:
    """Prefect's recipe for flow runs whose process died unseen (SIGKILL, lost node): with every
    flow-run process sending heartbeats (deployments/heartbeats.py: the workers started here, the
    work pools' job env, the `sentinel` program), a run with no heartbeat for `silence_s` after one
    is marked Crashed, so it does not hold a deployment concurrency slot for ever."""
    from datetime import timedelta

    from prefect.automations import Automation
    from prefect.client.schemas.objects import StateType
    from prefect.events.actions import ChangeFlowRunState
    from prefect.events.schemas.automations import EventTrigger, Posture

    automation = Automation(
        name=ZOMBIE_AUTOMATION,
        description="Mark flow runs Crashed when their heartbeats stop (the process is gone).",
        trigger=EventTrigger(
            after={"prefect.flow-run.heartbeat"},
            expect={"prefect.flow-run.heartbeat", "prefect.flow-run.Completed", "prefect.flow-run.Failed",
                    "prefect.flow-run.Cancelled", "prefect.flow-run.Crashed"},
            match={"prefect.resource.id": ["prefect.flow-run.*"]},
            for_each={"prefect.resource.id"}, posture=Posture.Proactive, threshold=1,
            within=timedelta(seconds=silence_s)),
        actions=[ChangeFlowRunState(state=StateType.CRASHED,
                                    message=f"no heartbeat for {silence_s} s: the flow-run process is gone")],
    )
    try:
        Automation.read(name=ZOMBIE_AUTOMATION).delete()  # re-create: the settings may have changed
    except ValueError:
        pass  # none yet
    automation.create()
    return ZOMBIE_AUTOMATION


def deploy_all(repo_root: Path) -> None:
    env = dict(os.environ, SENTINEL_CODE_DIR=str(repo_root))
    prefect = str(Path(sys.executable).parent / "prefect")
    subprocess.run([prefect, "--no-prompt", "deploy", "--all"], cwd=repo_root, env=env, check=True)


def start_worker(cfg: StackConfig, pool: str = "local-process") -> int:
    pid = read_pid(cfg.state_dir, WORKER)
    if pid:
        return pid
    prefect = str(Path(sys.executable).parent / "prefect")
    env = dict(os.environ, PREFECT_API_URL=cfg.prefect_api_url, **heartbeat_env())  # flow runs inherit it
    proc = spawn_detached(WORKER, [prefect, "worker", "start", "--pool", pool, "--type", "process"],
                          state_dir=cfg.state_dir, env=env, cwd=cfg.repo_root)
    return proc.pid


def deploy_local(triton_limit: int = 4, worker: bool = True, cfg: StackConfig | None = None) -> None:
    from blocks.register import register_blocks

    cfg = cfg or StackConfig()
    for name in register_blocks():
        print(f"block     {name}")
    for pool in ensure_work_pools():
        print(f"work pool {pool}")
    ensure_triton_limit(triton_limit)
    print(f"limit     {TRITON_LIMIT} = {triton_limit}")
    print(f"automation {ensure_zombie_automation()}")
    deploy_all(cfg.repo_root)
    if worker:
        print(f"worker    local-process (pid {start_worker(cfg)}, log {cfg.state_dir / 'logs' / (WORKER + '.log')})")
