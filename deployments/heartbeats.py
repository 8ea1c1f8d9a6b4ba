"""Flow-run heartbeats, the signal that a flow-run process is alive.

Every process that runs a flow sends a heartbeat every HEARTBEAT_SECONDS: the `sentinel` program
(`sentinel translate`, `demo`, ...; `send_heartbeats`), the local process worker's flow runs and the
Kubernetes pools' jobs (`heartbeat_env`, deployments/work_pools/). The zombie automation
(deploy_local.ensure_zombie_automation) marks a run Crashed after ZOMBIE_SILENCE_S without one, so
that a run whose process died unseen (SIGKILL, a lost node) frees its concurrency slot.

Prefect's own default is one heartbeat every 180 s: a live run started from the command line would
be marked Crashed by the automation 90 s in, and shown Crashed until it ended.
"""
from __future__ import annotations

import os
import sys

HEARTBEAT_SECONDS = 30  # Prefect's minimum
ZOMBIE_SILENCE_S = 3 * HEARTBEAT_SECONDS
# Prefect's setting and its older name (what deployments/work_pools/k8s-cpu.json sets)
HEARTBEAT_SETTINGS = ("PREFECT_FLOWS_HEARTBEAT_FREQUENCY", "PREFECT_RUNNER_HEARTBEAT_FREQUENCY")


def heartbeat_env() -> dict[str, str]:
    """The environment of a process that runs flows, for its flow runs to heartbeat."""
    return {HEARTBEAT_SETTINGS[0]: str(HEARTBEAT_SECONDS)}


def send_heartbeats() -> None:
    """This process's flow runs heartbeat every HEARTBEAT_SECONDS, unless its environment already sets
    a frequency. Prefect reads its settings once, when imported: call this first."""
    if "prefect" in sys.modules:
        raise RuntimeError("send_heartbeats() must run before Prefect is imported (it reads its settings then)")
    if not any(os.environ.get(name) for name in HEARTBEAT_SETTINGS):
        os.environ.update(heartbeat_env())
