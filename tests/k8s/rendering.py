"""Rendering and validation shared by the tests in tests/k8s: the kustomize builds of k8s/, strict
schema validation with kubernetes-validate, and the Job that the prefect-kubernetes worker renders for
a flow run from a work pool's base job template and a deployment's job variables."""
from __future__ import annotations

import asyncio
import copy
import functools
import json
import re
import shutil
import subprocess
import uuid
from pathlib import Path

import pytest
import yaml

try:  # the schema checks need it; the template and cross-checks run without it
    import kubernetes_validate
except ImportError:  # pragma: no cover
    kubernetes_validate = None

ROOT = Path(__file__).resolve().parents[2]
K8S = ROOT / "k8s"
POOLS = ROOT / "deployments" / "work_pools"
OVERLAYS = ("dev", "prod")
RENDERED = ("base", *OVERLAYS)  # base alone is never applied, but it is what the overlays patch
K8S_POOLS = ("k8s-cpu",)  # the Kubernetes work pools in deployments/work_pools/ (no GPU pool: test_gpu_placement.py)
NAMESPACE = "sentinel"
WANTED_K8S_VERSION = "1.30"

# Kinds kubernetes-validate has no schema for (CRDs); test_manifests.py checks each structurally.
CUSTOM_RESOURCES = {("monitoring.coreos.com/v1", "ServiceMonitor")}


def _schema_version() -> str:
    """1.30 if kubernetes-validate ships it, else the oldest shipped version above it."""
    if kubernetes_validate is None:
        pytest.skip("kubernetes-validate is not installed (pip install kubernetes-validate)")
    from packaging.version import Version

    shipped = sorted({re.match(r"(\d+\.\d+)", v).group(1) for v in kubernetes_validate.utils.all_versions()},
                     key=Version)
    candidates = [v for v in shipped if Version(v) >= Version(WANTED_K8S_VERSION)]
    if not candidates:
        pytest.skip(f"kubernetes-validate {kubernetes_validate.__version__} ships no schemas >= "
                    f"{WANTED_K8S_VERSION} (has {shipped})")
    return candidates[0]


def _kustomize_command(path: Path) -> list[str] | None:
    if kubectl := shutil.which("kubectl"):
        return [kubectl, "kustomize", str(path)]
    if kustomize := shutil.which("kustomize"):
        return [kustomize, "build", str(path)]
    return None


@functools.cache
def _render(overlay: str) -> tuple[dict, ...]:
    """Every document of `kubectl kustomize` for an overlay (or "base")."""
    cmd = _kustomize_command(K8S / "base" if overlay == "base" else K8S / "overlays" / overlay)
    if cmd is None:
        pytest.skip("neither kubectl nor kustomize is on PATH: cannot render the overlays")
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=60, check=False)
    assert out.returncode == 0, f"{' '.join(cmd)} failed:\n{out.stderr}"
    return tuple(doc for doc in yaml.safe_load_all(out.stdout) if doc)


def _find(docs, kind: str, name: str) -> dict:
    found = [d for d in docs if d["kind"] == kind and d["metadata"]["name"] == name]
    assert len(found) == 1, f"expected one {kind}/{name}, found {len(found)}"
    return found[0]


def _find_prefixed(docs, kind: str, prefix: str) -> dict:
    """A generated object (name + content hash suffix)."""
    found = [d for d in docs if d["kind"] == kind
             and re.fullmatch(re.escape(prefix) + r"(-[a-z0-9]{10})?", d["metadata"]["name"])]
    assert len(found) == 1, f"expected one {kind} named {prefix}[-hash], found {len(found)}"
    return found[0]


def _pod_specs(docs):
    for d in docs:
        if d["kind"] in ("Deployment", "StatefulSet", "DaemonSet", "Job"):
            yield d, d["spec"]["template"]


def _containers(pod_spec: dict):
    yield from pod_spec.get("initContainers", [])
    yield from pod_spec["containers"]


def _selector_matches(selector: dict, labels: dict) -> bool:
    assert not selector.get("matchExpressions"), "only matchLabels selectors are used here"
    return all(labels.get(k) == v for k, v in selector.get("matchLabels", {}).items())


def _strict_validate(doc: dict, version: str) -> None:
    try:
        kubernetes_validate.validate(doc, version, strict=True)
    except kubernetes_validate.ValidationError as exc:
        path = "/".join(str(p) for p in exc.absolute_path)
        raise AssertionError(f"{doc['kind']}/{doc['metadata'].get('name')}: {exc.message} at /{path}") from None



class _NoPrefectApi:
    """Stands in for the Prefect client: rendering must not need a server (no block/variable refs)."""

    def __getattr__(self, name):
        raise AssertionError(f"the template rendering used the Prefect API ({name})")


def _load_pool(pool: str) -> dict:
    return json.loads((POOLS / f"{pool}.json").read_text())


@functools.cache
def _render_flow_run_job(pool: str, job_variables_json: str = "{}") -> dict:
    """The Job manifest the prefect-kubernetes worker would submit for a flow run."""
    from prefect.client.schemas.objects import FlowRun
    from prefect_kubernetes.worker import KubernetesWorkerJobConfiguration

    async def render():
        config = await KubernetesWorkerJobConfiguration.from_template_and_values(
            _load_pool(pool), json.loads(job_variables_json), client=_NoPrefectApi())
        flow_run = FlowRun(id=uuid.UUID(int=7), name="sentinel-test-run", flow_id=uuid.UUID(int=8))
        config.prepare_for_flow_run(flow_run=flow_run)
        return config.job_manifest

    return asyncio.run(render())


def _validate_job(job: dict) -> None:
    """Strict validation, minus one upstream quirk: prefect-kubernetes requires parallelism/completions
    inside the *pod* spec (its manifest validator rejects templates without them); they are not PodSpec
    fields, and the API server drops them with a warning (default fieldValidation=Warn)."""
    job = copy.deepcopy(job)
    pod = job["spec"]["template"]["spec"]
    assert pod.pop("parallelism") == 1 and pod.pop("completions") == 1
    job["metadata"].setdefault("name", job["metadata"]["generateName"] + "x")  # generateName is resolved server-side
    _strict_validate(job, _schema_version())
