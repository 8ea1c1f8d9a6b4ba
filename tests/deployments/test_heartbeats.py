"""Every flow-run process heartbeats often enough for the zombie automation (deployments/heartbeats.py):
the `sentinel` program included, whose runs Prefect's 180 s default let the automation mark Crashed
90 s in while they ran."""
import os
import subprocess
import sys

from deployments.heartbeats import HEARTBEAT_SECONDS, ZOMBIE_SILENCE_S

# the `sentinel` program with its `stack` command swapped for a probe of what its flow runs would see
PROBE = """
import gc, sys
sys.argv = ["sentinel", "stack", "status"]
from deployments import cli

def probe(args):
    from prefect.settings import get_current_settings
    print(get_current_settings().flows.heartbeat_frequency, gc.get_freeze_count() > 0)
    return 0

cli.cmd_stack = probe
sys.exit(cli.program())
"""


def run_probe(**env: str) -> str:
    clean = {k: v for k, v in os.environ.items() if "HEARTBEAT" not in k}
    done = subprocess.run([sys.executable, "-c", PROBE], env=clean | env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return done.stdout.split()


def test_the_program_heartbeats_within_the_automations_silence():
    frequency, frozen = run_probe()
    assert int(frequency) == HEARTBEAT_SECONDS and HEARTBEAT_SECONDS < ZOMBIE_SILENCE_S
    assert frozen == "True"  # the imports' objects are left out of garbage collections (~1 s a run)


def test_a_frequency_the_environment_sets_is_kept():
    assert run_probe(PREFECT_RUNNER_HEARTBEAT_FREQUENCY="45")[0] == "45"
    assert run_probe(PREFECT_FLOWS_HEARTBEAT_FREQUENCY="60")[0] == "60"


def test_asking_after_prefect_is_imported_is_an_error():
    code = "import prefect; from deployments.heartbeats import send_heartbeats; send_heartbeats()"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode != 0 and "before Prefect is imported" in done.stderr
