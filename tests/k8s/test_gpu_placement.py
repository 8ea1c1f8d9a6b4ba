"""GPU placement: no container is given a GPU unless it runs tritonserver (issue 14, design (b) in
docs/kubernetes.md: flow runs are CPU pods that call the Triton Service; only Triton holds GPUs).

The rule is checked on everything that can put a pod on a node:

* every document of the kustomize builds (base, dev, prod): Deployments, Jobs, ... including init
  containers;
* every Kubernetes work pool's base job template, rendered with its defaults;
* the Job the prefect-kubernetes worker would submit for every deployment in prefect.yaml that runs on
  a Kubernetes pool (pool template + the deployment's job_variables), which also validates strictly
  against the Kubernetes 1.30 schema.

A GPU request is any extended resource whose name says GPU (nvidia.com/gpu, nvidia.com/mig-*,
amd.com/gpu, ...). Pods without one must not select or tolerate GPU nodes either: they would take the
CPU and memory that the Triton pods on those nodes need.
"""
from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import yaml

from tests.k8s.rendering import (
    POOLS,
    RENDERED,
    ROOT,
    _containers,
    _load_pool,
    _pod_specs,
    _render,
    _render_flow_run_job,
    _validate_job,
)

GPU_RESOURCE = re.compile(r"gpu|/mig-", re.IGNORECASE)
GPU_NODE_KEYS = ("nvidia.com/gpu", "amd.com/gpu")


def _gpu_resources(container: dict) -> dict:
    resources = container.get("resources") or {}
    return {name: qty for part in ("requests", "limits") for name, qty in (resources.get(part) or {}).items()
            if GPU_RESOURCE.search(name)}


def _runs_tritonserver(container: dict) -> bool:
    """The container's program is tritonserver: its command, or without one its args (the Triton
    image's entrypoint execs them)."""
    argv = container.get("command") or container.get("args") or []
    return bool(argv) and Path(str(argv[0])).name == "tritonserver"


def _targets_gpu_nodes(pod: dict) -> list[str]:
    found = [f"nodeSelector {k}" for k in (pod.get("nodeSelector") or {}) if k.startswith(GPU_NODE_KEYS)]
    found += [f"toleration {t.get('key')}" for t in (pod.get("tolerations") or [])
              if str(t.get("key", "")).startswith(GPU_NODE_KEYS)]
    return found


def assert_gpus_only_for_triton(pod: dict, where: str) -> int:
    """The rule for one pod spec; returns how many containers hold a GPU."""
    holders = 0
    for container in _containers(pod):
        gpus = _gpu_resources(container)
        if gpus:
            assert _runs_tritonserver(container), \
                f"{where}/{container['name']} requests {gpus} but does not run tritonserver"
            holders += 1
    if not holders:
        assert not _targets_gpu_nodes(pod), f"{where}: no GPU requested, yet {_targets_gpu_nodes(pod)}"
    return holders


def _kubernetes_deployments() -> list[dict]:
    deployments = yaml.safe_load((ROOT / "prefect.yaml").read_text())["deployments"]
    pools = {p.stem for p in POOLS.glob("*.json")}
    for d in deployments:
        assert d["work_pool"]["name"] in pools, f"{d['name']}: work pool {d['work_pool']['name']} has no template"
    return [d for d in deployments if _load_pool(d["work_pool"]["name"])["job_configuration"].get("job_manifest")]


def test_the_rule_catches_a_gpu_on_a_flow_run_container():
    """The checker itself: the former k8s-gpu pool's Job would fail it, Triton passes it."""
    flow_run = {"containers": [{"name": "prefect-job", "args": ["prefect", "flow-run", "execute"],
                                "resources": {"limits": {"nvidia.com/gpu": 1}}}],
                "nodeSelector": {"nvidia.com/gpu.present": "true"}}
    with pytest.raises(AssertionError, match="does not run tritonserver"):
        assert_gpus_only_for_triton(flow_run, "job")
    on_gpu_node = {"containers": [{"name": "prefect-job", "args": ["prefect"], "resources": {}}],
                   "tolerations": [{"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}]}
    with pytest.raises(AssertionError, match="no GPU requested"):
        assert_gpus_only_for_triton(on_gpu_node, "job")
    triton = {"containers": [{"name": "tritonserver", "args": ["tritonserver", "--model-repository=/m"],
                              "resources": {"limits": {"nvidia.com/mig-1g.10gb": 1}}}]}
    assert assert_gpus_only_for_triton(triton, "triton") == 1
    sidecar_lookalike = {"containers": [{"name": "x", "command": ["/bin/sh", "-c", "tritonserver"],
                                         "resources": {"requests": {"amd.com/gpu": 1}}}]}
    with pytest.raises(AssertionError, match="does not run tritonserver"):
        assert_gpus_only_for_triton(sidecar_lookalike, "x")


@pytest.mark.parametrize("target", RENDERED)
def test_rendered_manifests_give_gpus_only_to_tritonserver(target):
    holders = {}
    for obj, template in _pod_specs(_render(target)):
        name = f"{obj['kind']}/{obj['metadata']['name']}"
        holders[name] = assert_gpus_only_for_triton(template["spec"], f"{target}: {name}")
    gpu_pods = {name for name, n in holders.items() if n}
    if target == "dev":  # CPU Triton: no GPU anywhere
        assert not gpu_pods
    else:  # base/prod: Triton and only Triton, one GPU container per pod
        assert gpu_pods == {"Deployment/sentinel-triton"} and holders["Deployment/sentinel-triton"] == 1


@pytest.mark.parametrize("pool", sorted(p.stem for p in POOLS.glob("*.json")))
def test_work_pool_templates_request_no_gpu(pool):
    template = _load_pool(pool)
    assert not GPU_RESOURCE.search(json.dumps(template["job_configuration"])), f"{pool}: GPU in the job template"
    if template["job_configuration"].get("job_manifest"):
        job = _render_flow_run_job(pool)
        _validate_job(job)
        assert assert_gpus_only_for_triton(job["spec"]["template"]["spec"], pool) == 0


@pytest.mark.parametrize("deployment", _kubernetes_deployments(), ids=lambda d: d["name"])
def test_every_kubernetes_deployment_job_validates_and_requests_no_gpu(deployment):
    """pool template + the deployment's job_variables, rendered by the worker's code, strictly valid."""
    variables = deployment["work_pool"].get("job_variables") or {}
    job = _render_flow_run_job(deployment["work_pool"]["name"], json.dumps(variables, sort_keys=True))
    _validate_job(job)
    pod = job["spec"]["template"]["spec"]
    assert assert_gpus_only_for_triton(pod, deployment["name"]) == 0
    # code from the image, not from a checkout that does not exist in the pod
    steps = [next(iter(step)) for step in deployment.get("pull") or []]
    assert steps == ["prefect.deployments.steps.set_working_directory"]
    assert deployment["pull"][0]["prefect.deployments.steps.set_working_directory"]["directory"] == "/opt/sentinel"


def test_there_are_kubernetes_deployments_to_check():
    names = {d["name"] for d in _kubernetes_deployments()}
    assert len(names) >= 2, names  # a parent and its shard-group child at least


def _flow(entrypoint: str):
    import importlib

    path, func = entrypoint.split(":")
    return getattr(importlib.import_module(path.removesuffix(".py").replace("/", ".")), func)


def test_fan_out_targets_exist_on_a_pool_of_the_same_kind():
    """`fan_out_deployment: <flow>/<deployment>` names a deployment of prefect.yaml; a Kubernetes
    parent fans out to Kubernetes Jobs, a local parent to local processes."""
    deployments = {d["name"]: d for d in yaml.safe_load((ROOT / "prefect.yaml").read_text())["deployments"]}
    kinds = {name: bool(_load_pool(d["work_pool"]["name"])["job_configuration"].get("job_manifest"))
             for name, d in deployments.items()}
    checked = 0
    for name, d in deployments.items():
        target = (d.get("parameters") or {}).get("fan_out_deployment")
        if not target:
            continue
        flow, child = target.split("/")
        assert child in deployments, f"{name}: fan_out_deployment {target} is not in prefect.yaml"
        assert _flow(deployments[child]["entrypoint"]).name == flow, f"{name}: {target} names the wrong flow"
        assert kinds[child] == kinds[name], f"{name} and its children run on different kinds of pool"
        checked += 1
    assert checked >= 1


def test_local_deploy_creates_exactly_the_pools_that_have_templates():
    from deployments.deploy_local import POOL_TYPES

    assert set(POOL_TYPES) == {p.stem for p in POOLS.glob("*.json")}


def _iam_prefixes(action: str) -> list[str]:
    """s3:// prefixes the flow-run role may use `action` on (Allow statements, `arn:aws:s3:::b/p/*`)."""
    policy = json.loads((ROOT / "k8s/iam/flow-run-policy.json").read_text())
    prefixes = []
    for st in policy["Statement"]:
        actions = [st["Action"]] if isinstance(st["Action"], str) else st["Action"]
        resources = [st["Resource"]] if isinstance(st["Resource"], str) else st["Resource"]
        if st["Effect"] == "Allow" and action in actions:
            prefixes += ["s3://" + r.removeprefix("arn:aws:s3:::").removesuffix("*")
                         for r in resources if r.endswith("/*")]
    return prefixes


@pytest.mark.parametrize("deployment", _kubernetes_deployments(), ids=lambda d: d["name"])
def test_kubernetes_deployment_parameters_fit_the_flow_and_the_iam_policy(deployment):
    """Every parameter is one the flow takes; a Kubernetes run uses the pool's Triton URL and the
    IRSA role (no local blocks), and its default input/output lie where the flow-run role may read/write."""
    import inspect

    flow = _flow(deployment["entrypoint"])
    params = deployment.get("parameters") or {}
    assert set(params) <= set(inspect.signature(flow.fn).parameters), deployment["name"]
    if "input_uri" in params:  # a parent run (shard groups get everything from their parent)
        assert params.get("triton_endpoint", "unset") == "" and params.get("s3_credentials", "unset") == ""  # empty: none
        assert any(params["input_uri"].startswith(p) for p in _iam_prefixes("s3:GetObject")), params["input_uri"]
        assert any(params["output_uri"].startswith(p) for p in _iam_prefixes("s3:PutObject")), params["output_uri"]
