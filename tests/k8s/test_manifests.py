"""Kubernetes manifests (k8s/), work pool base job templates (deployments/work_pools/) and IAM policies.

Fast and offline: no cluster, no Prefect server, no container engine.

* every overlay is rendered with `kubectl kustomize` (or `kustomize build`) and each document is
  validated with kubernetes-validate against the Kubernetes 1.30 OpenAPI schemas in strict mode
  (unknown fields are errors). Custom resources (ServiceMonitor) have no schema there: they are
  checked structurally by hand, and say so;
* the Job that prefect-kubernetes makes for a flow run on the k8s-cpu pool is rendered with the
  worker's own code (`from_template_and_values` + `prepare_for_flow_run`) and validated the same way
  (test_gpu_placement.py does it for every Kubernetes deployment in prefect.yaml);
* cross-checks that only hold if the pieces agree: the NetworkPolicy admits the pods the work pool
  templates create, the templates' namespace/ServiceAccount/Triton URL exist in the manifests, the
  ServiceMonitor selects the Triton Service, every referenced ConfigMap exists, ...

Schema validation cannot catch what only an API server knows (admission, quotas, CRDs installed,
node labels present): docs/kubernetes.md lists what was validated and what was not.
"""
from __future__ import annotations

import json
import re
import uuid
from pathlib import Path

import pytest
import yaml

from tests.k8s.rendering import (
    CUSTOM_RESOURCES,
    K8S,
    K8S_POOLS,
    NAMESPACE,
    OVERLAYS,
    POOLS,
    ROOT,
    _containers,
    _find,
    _find_prefixed,
    _load_pool,
    _pod_specs,
    _render,
    _render_flow_run_job,
    _schema_version,
    _selector_matches,
    _strict_validate,
    _validate_job,
    kubernetes_validate,
)

TRITON_METRICS = (
    "nv_inference_request_success",
    "nv_inference_queue_duration_us",
    "nv_inference_compute_infer_duration_us",
    "nv_gpu_utilization",
    "nv_inference_exec_count",
    "nv_inference_count",
)


@pytest.fixture(params=OVERLAYS)
def overlay(request) -> str:
    return request.param


@pytest.fixture
def docs(overlay) -> tuple[dict, ...]:
    return _render(overlay)


# ------------------------------------------------------------------------------ rendered overlays


def test_every_document_validates_strictly(docs):
    version = _schema_version()
    checked, custom = 0, []
    for doc in docs:
        if (doc["apiVersion"], doc["kind"]) in CUSTOM_RESOURCES:
            custom.append(doc["kind"])  # no schema in kubernetes-validate: test_servicemonitor_* checks it
            continue
        _strict_validate(doc, version)
        checked += 1
    assert checked >= 19
    assert custom == ["ServiceMonitor"], f"unexpected custom resources {custom}: add a structural check"


def test_base_validates_strictly_too():
    """The base is only applied through an overlay, but an overlay patch must not hide a broken base."""
    version = _schema_version()
    for doc in _render("base"):
        if (doc["apiVersion"], doc["kind"]) not in CUSTOM_RESOURCES:
            _strict_validate(doc, version)


def test_no_unknown_kinds_slip_past_validation(docs):
    """Anything without a schema must be an explicitly handled CRD, never silently skipped."""
    version = _schema_version()
    for doc in docs:
        if (doc["apiVersion"], doc["kind"]) in CUSTOM_RESOURCES:
            with pytest.raises(kubernetes_validate.SchemaNotFoundError):
                kubernetes_validate.validate(doc, version, strict=True)


def test_expected_objects_all_in_one_namespace(docs):
    names = {(d["kind"], d["metadata"]["name"]) for d in docs}
    for expected in [
        ("Namespace", NAMESPACE),
        ("Deployment", "sentinel-triton"), ("Service", "sentinel-triton"), ("Service", "sentinel-triton-headless"),
        ("HorizontalPodAutoscaler", "sentinel-triton"), ("PodDisruptionBudget", "sentinel-triton"),
        ("ServiceMonitor", "sentinel-triton"), ("ConfigMap", "sentinel-triton-dashboard"),
        ("Deployment", "sentinel-worker-cpu"),
        ("Role", "sentinel-worker"), ("RoleBinding", "sentinel-worker"),
        ("Deployment", "sentinel-bridge"),
        ("ServiceAccount", "sentinel-flow-run"), ("ServiceAccount", "sentinel-triton"),
        ("ServiceAccount", "sentinel-bridge"), ("ServiceAccount", "sentinel-worker"),
        ("NetworkPolicy", "default-deny-ingress"), ("NetworkPolicy", "sentinel-triton"),
    ]:
        assert expected in names, f"missing {expected}"
    for d in docs:
        if d["kind"] != "Namespace":
            assert d["metadata"].get("namespace") == NAMESPACE, f"{d['kind']}/{d['metadata']['name']}"
    assert not [d for d in docs if d["kind"] in ("ClusterRole", "ClusterRoleBinding")], "no cluster-wide RBAC"


def test_triton_gpu_scheduling_probes_and_model_sync(overlay, docs):
    deploy = _find(docs, "Deployment", "sentinel-triton")
    assert "replicas" not in deploy["spec"], "replicas belong to the HPA"
    pod = deploy["spec"]["template"]["spec"]
    (server,) = [c for c in pod["containers"] if c["name"] == "tritonserver"]
    args = server["args"]
    assert "--model-repository=/opt/sentinel/model_repository" in args
    assert {p["name"]: p["containerPort"] for p in server["ports"]} == {"http": 8000, "grpc": 8001, "metrics": 8002}
    assert server["readinessProbe"]["exec"]["command"][-1].endswith("http://127.0.0.1:8000/v2/health/ready")
    assert "/tmp/sentinel-draining" in server["readinessProbe"]["exec"]["command"][-1]
    assert "/tmp/sentinel-draining" in server["lifecycle"]["preStop"]["exec"]["command"][-1]
    assert server["startupProbe"]["httpGet"]["path"] == "/v2/health/ready"
    assert server["livenessProbe"]["httpGet"]["path"] == "/v2/health/live"
    assert {"name": "SENTINEL_MODELS_DIR", "value": "/models"} in server["env"]

    (sync,) = pod["initContainers"]
    assert sync["command"][-1] == "/opt/sentinel/tools/sync_model_store.py"
    assert sync["args"][:4] == ["--store", "$(SENTINEL_MODEL_STORE)", "--dest", "/models"]
    assert "emptyDir" in next(v for v in pod["volumes"] if v["name"] == "models")
    # the sync tool really takes these flags
    tool = (ROOT / "triton/tools/sync_model_store.py").read_text()
    for flag in ("--store", "--dest", "--prune"):
        assert f'"{flag}"' in tool
    for container in _containers(pod):
        assert container["image"].endswith((":dev", ":0.1.0")), container["image"]

    if overlay == "prod":
        assert "--model-config-name=gpu" in args
        assert server["resources"]["limits"]["nvidia.com/gpu"] == 1
        assert pod["nodeSelector"] == {"nvidia.com/gpu.present": "true"}
        assert {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"} in pod["tolerations"]
    else:  # dev: CPU Triton with the default config.pbtxt
        assert not any(a.startswith("--model-config-name") for a in args)
        assert "nvidia.com/gpu" not in json.dumps(server["resources"])
        assert "nodeSelector" not in pod and "tolerations" not in pod


def test_gpu_config_variant_exists_for_the_gpu_flag():
    """--model-config-name=gpu needs configs/gpu.pbtxt (at least translate has one)."""
    variants = list((ROOT / "triton/model_repository").glob("*/configs/gpu.pbtxt"))
    assert variants and all("KIND_GPU" in p.read_text() for p in variants)


def test_every_pod_is_non_root_with_read_only_root_and_no_capabilities(docs):
    for obj, template in _pod_specs(docs):
        pod = template["spec"]
        assert pod["securityContext"]["runAsNonRoot"] is True, obj["metadata"]["name"]
        assert pod["securityContext"]["seccompProfile"]["type"] == "RuntimeDefault"
        for c in _containers(pod):
            sc = c["securityContext"]
            where = f"{obj['metadata']['name']}/{c['name']}"
            assert sc["allowPrivilegeEscalation"] is False, where
            assert sc["readOnlyRootFilesystem"] is True, where
            assert sc["capabilities"]["drop"] == ["ALL"], where
            assert any(m["mountPath"] == "/tmp" for m in c.get("volumeMounts", [])), f"{where}: writable /tmp"
            assert c["resources"]["requests"] and c["resources"]["limits"]["memory"], where


def test_service_hpa_pdb_target_triton(overlay, docs):
    pod_labels = _find(docs, "Deployment", "sentinel-triton")["spec"]["template"]["metadata"]["labels"]
    svc = _find(docs, "Service", "sentinel-triton")
    assert _selector_matches({"matchLabels": svc["spec"]["selector"]}, pod_labels)
    assert {p["name"]: p["port"] for p in svc["spec"]["ports"]} == {"http": 8000, "grpc": 8001, "metrics": 8002}
    pdb = _find(docs, "PodDisruptionBudget", "sentinel-triton")
    assert _selector_matches(pdb["spec"]["selector"], pod_labels)
    hpa = _find(docs, "HorizontalPodAutoscaler", "sentinel-triton")
    assert hpa["spec"]["scaleTargetRef"] == {"apiVersion": "apps/v1", "kind": "Deployment", "name": "sentinel-triton"}
    if overlay == "prod":  # GPU Triton: Triton's own signals per replica, nothing else
        assert (hpa["spec"]["minReplicas"], hpa["spec"]["maxReplicas"]) == (2, 8)
        assert {m["type"] for m in hpa["spec"]["metrics"]} == {"Pods"}
        targets = {m["pods"]["metric"]["name"]: m["pods"]["target"] for m in hpa["spec"]["metrics"]}
        assert set(targets) == {"triton_pending_requests", "triton_queue_latency_us"}
        assert all(t["type"] == "AverageValue" for t in targets.values()), "per replica"
        rules = yaml.safe_load((K8S / "monitoring/prometheus-adapter-rules.yaml").read_text())["rules"]["custom"]
        served = {r["name"]["as"]: r for r in rules}
        assert set(targets) <= set(served), "every HPA metric is served by a prometheus-adapter rule"
        assert "nv_inference_pending_request_count" in served["triton_pending_requests"]["metricsQuery"]
        assert "nv_inference_queue_duration_us" in served["triton_queue_latency_us"]["metricsQuery"]
        for rule in served.values():  # per pod: the HPA's Pods metrics need the pod resource
            assert rule["resources"]["overrides"]["pod"] == {"resource": "pod"}
    else:  # dev: one CPU replica, metrics-server only
        assert (hpa["spec"]["minReplicas"], hpa["spec"]["maxReplicas"]) == (1, 1)
        assert [m["type"] for m in hpa["spec"]["metrics"]] == ["Resource"]


def test_servicemonitor_structure(docs):
    """Custom resource, no schema in kubernetes-validate: check the fields Prometheus Operator uses."""
    sm = _find(docs, "ServiceMonitor", "sentinel-triton")
    assert sm["apiVersion"] == "monitoring.coreos.com/v1"
    assert set(sm) == {"apiVersion", "kind", "metadata", "spec"}
    assert set(sm["spec"]) <= {"selector", "endpoints", "namespaceSelector", "jobLabel"}
    svc = _find(docs, "Service", "sentinel-triton")
    assert _selector_matches(sm["spec"]["selector"], svc["metadata"]["labels"])
    svc_ports = {p["name"] for p in svc["spec"]["ports"]}
    assert sm["spec"]["endpoints"], "no endpoints"
    for ep in sm["spec"]["endpoints"]:
        assert set(ep) <= {"port", "path", "interval", "scrapeTimeout", "scheme", "honorLabels"}
        assert ep["port"] == "metrics" and ep["port"] in svc_ports
        assert ep.get("path", "/metrics") == "/metrics"
        assert re.fullmatch(r"\d+s", ep["interval"])


def test_grafana_dashboard_configmap(docs):
    cm = _find(docs, "ConfigMap", "sentinel-triton-dashboard")
    assert cm["metadata"]["labels"]["grafana_dashboard"] == "1"
    (raw,) = cm["data"].values()
    dashboard = json.loads(raw)
    exprs = " ".join(t["expr"] for p in dashboard["panels"] for t in p["targets"])
    for metric in TRITON_METRICS:
        assert metric in exprs, f"no panel uses {metric}"
    assert len({p["id"] for p in dashboard["panels"]}) == len(dashboard["panels"])


def test_dashboard_shows_the_hpa_signals_at_their_targets():
    """One panel per HPA metric, with the adapter's query (namespace from the dashboard variable) and
    the HPA's target as its threshold line, so the panel shows what the autoscaler sees."""
    hpa = _find(_render("prod"), "HorizontalPodAutoscaler", "sentinel-triton")
    targets = {m["pods"]["metric"]["name"]: float(m["pods"]["target"]["averageValue"])
               for m in hpa["spec"]["metrics"] if m["type"] == "Pods"}
    rules = {r["name"]["as"]: r for r in
             yaml.safe_load((K8S / "monitoring/prometheus-adapter-rules.yaml").read_text())["rules"]["custom"]}
    panels = json.loads((K8S / "base/dashboards/triton.json").read_text())["panels"]
    by_expr = {" ".join(t["expr"].split()): p for p in panels for t in p["targets"]}
    for name, target in targets.items():
        query = rules[name]["metricsQuery"].replace("<<.LabelMatchers>>", 'namespace="$namespace"')
        panel = by_expr.get(" ".join(query.replace("<<.GroupBy>>", "pod").split()))
        assert panel, f"no dashboard panel plots {name} as the adapter computes it"
        steps = panel["fieldConfig"]["defaults"]["thresholds"]["steps"]
        assert [st["value"] for st in steps if st["value"] is not None] == [target], name


def test_network_policy_admits_flow_run_pods_only(docs):
    np = _find(docs, "NetworkPolicy", "sentinel-triton")
    triton_labels = _find(docs, "Deployment", "sentinel-triton")["spec"]["template"]["metadata"]["labels"]
    assert _selector_matches(np["spec"]["podSelector"], triton_labels)
    assert set(np["spec"]["policyTypes"]) == {"Ingress", "Egress"}
    serving = [r for r in np["spec"]["ingress"] if {p["port"] for p in r["ports"]} & {8000, 8001}]
    assert len(serving) == 1
    (peer,) = serving[0]["from"]
    assert peer == {"podSelector": {"matchLabels": {"sentinel.io/role": "flow-run"}}}
    assert {p["port"] for p in serving[0]["ports"]} == {8000, 8001}
    # the pods that the work pool templates create carry that label, the workers and bridge do not
    for pool in K8S_POOLS:
        job_pod_labels = _render_flow_run_job(pool)["spec"]["template"]["metadata"]["labels"]
        assert _selector_matches(peer["podSelector"], job_pod_labels)
    for name in ("sentinel-worker-cpu", "sentinel-bridge"):
        labels = _find(docs, "Deployment", name)["spec"]["template"]["metadata"]["labels"]
        assert not _selector_matches(peer["podSelector"], labels)
    # egress: DNS + HTTPS (S3/STS), never the instance metadata service
    https = [r for r in np["spec"]["egress"] if any(p["port"] == 443 for p in r["ports"])]
    assert https and all("169.254.169.254/32" in r["to"][0]["ipBlock"]["except"] for r in https)
    deny = _find(docs, "NetworkPolicy", "default-deny-ingress")
    assert deny["spec"] == {"podSelector": {}, "policyTypes": ["Ingress"]}


def test_worker_rbac_is_namespaced_and_minimal(docs):
    role = _find(docs, "Role", "sentinel-worker")
    rules = {(tuple(r["apiGroups"]), tuple(r["resources"])): set(r["verbs"]) for r in role["rules"]}
    assert rules == {
        (("batch",), ("jobs",)): {"get", "list", "watch", "create", "delete"},
        (("",), ("pods",)): {"get", "list", "watch"},
        (("",), ("pods/log",)): {"get"},
        (("",), ("events",)): {"create"},
    }
    binding = _find(docs, "RoleBinding", "sentinel-worker")
    assert binding["roleRef"] == {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "sentinel-worker"}
    assert binding["subjects"] == [{"kind": "ServiceAccount", "name": "sentinel-worker", "namespace": NAMESPACE}]
    workers = [d for d in docs if d["kind"] == "Deployment" and d["metadata"]["name"].startswith("sentinel-worker")]
    assert [d["metadata"]["name"] for d in workers] == [f"sentinel-worker-{p.split('-')[1]}" for p in K8S_POOLS]
    for pool in K8S_POOLS:
        deploy = _find(docs, "Deployment", f"sentinel-worker-{pool.split('-')[1]}")
        pod = deploy["spec"]["template"]["spec"]
        assert pod["serviceAccountName"] == "sentinel-worker"
        (worker,) = pod["containers"]
        args = worker["args"]
        assert args[:3] == ["prefect", "worker", "start"]
        assert args[args.index("--pool") + 1] == pool and args[args.index("--type") + 1] == "kubernetes"
        template = args[args.index("--base-job-template") + 1]
        assert template == f"/opt/sentinel/deployments/work_pools/{pool}.json"
        assert (POOLS / Path(template).name).is_file()
        env = {e["name"]: e for e in worker["env"]}
        assert env["PREFECT_INTEGRATIONS_KUBERNETES_OBSERVER_NAMESPACES"]["valueFrom"]["fieldRef"]["fieldPath"] \
            == "metadata.namespace", "a cluster-wide observer would need a ClusterRole"
        assert worker["livenessProbe"]["httpGet"]["path"] == "/health" and "--with-healthcheck" in args


def test_bridge_runs_sqs_source(docs):
    pod = _find(docs, "Deployment", "sentinel-bridge")["spec"]["template"]["spec"]
    assert pod["serviceAccountName"] == "sentinel-bridge"
    assert pod["containers"][0]["args"] == ["sentinel", "bridge", "--source", "sqs"]


def test_references_resolve(docs):
    """ServiceAccounts, ConfigMaps (hash-suffixed by kustomize) and required Secrets exist."""
    names = {(d["kind"], d["metadata"]["name"]) for d in docs}
    for _obj, template in _pod_specs(docs):
        pod = template["spec"]
        assert ("ServiceAccount", pod["serviceAccountName"]) in names
        for c in _containers(pod):
            for src in c.get("envFrom", []):
                assert ("ConfigMap", src["configMapRef"]["name"]) in names, src
            for env in c.get("env", []):
                ref = env.get("valueFrom", {})
                if "configMapKeyRef" in ref:
                    assert ("ConfigMap", ref["configMapKeyRef"]["name"]) in names
                if "secretKeyRef" in ref:  # secrets are created out of band: they must be optional
                    assert ref["secretKeyRef"].get("optional") is True, env


def test_irsa_service_accounts(overlay, docs):
    for name in ("sentinel-flow-run", "sentinel-triton", "sentinel-bridge"):
        sa = _find(docs, "ServiceAccount", name)
        arn = sa["metadata"]["annotations"]["eks.amazonaws.com/role-arn"]
        assert re.fullmatch(r"arn:aws:iam::\d{12}:role/sentinel-" + overlay + r"-[a-z-]+", arn), arn
        assert sa["automountServiceAccountToken"] is False
    assert "annotations" not in _find(docs, "ServiceAccount", "sentinel-worker")["metadata"]


def test_config_values(overlay, docs):
    triton_cm = _find_prefixed(docs, "ConfigMap", "sentinel-triton")
    assert triton_cm["data"]["SENTINEL_MODEL_STORE"].startswith("s3://")
    assert _find_prefixed(docs, "ConfigMap", "sentinel-prefect")["data"]["PREFECT_API_URL"].endswith("/api")
    bridge = _find_prefixed(docs, "ConfigMap", "sentinel-bridge")["data"]
    assert bridge["SENTINEL_BRIDGE_SQS_QUEUE_URL"].startswith("https://sqs.")


# ------------------------------------------------------------------------ work pool job templates


@pytest.mark.parametrize("pool", [*K8S_POOLS, "local-process"])
def test_templates_pass_prefect_server_validation(pool):
    from prefect.server.schemas.actions import WorkPoolCreate

    template = _load_pool(pool)
    WorkPoolCreate(name=pool, type="process" if pool == "local-process" else "kubernetes",
                   base_job_template=template)


@pytest.mark.parametrize("pool", K8S_POOLS)
def test_templates_extend_the_upstream_default(pool):
    from prefect_kubernetes.worker import KubernetesWorker

    upstream = KubernetesWorker.get_default_base_job_template()
    ours = _load_pool(pool)
    assert set(ours["job_configuration"]) == set(upstream["job_configuration"])
    assert set(upstream["variables"]["properties"]) <= set(ours["variables"]["properties"])
    for key, value in upstream["job_configuration"].items():
        if key != "job_manifest":
            assert ours["job_configuration"][key] == value, key


def test_local_process_template_is_the_upstream_default():
    from prefect.workers.process import ProcessWorker

    assert _load_pool("local-process") == json.loads(json.dumps(ProcessWorker.get_default_base_job_template()))


def test_cpu_flow_run_job_with_job_variables():
    variables = {
        "image": "registry.example.com/sentinel-flows:1.2.3",
        "node_selector": {"eks.amazonaws.com/nodegroup": "batch-cpu"},
        "tolerations": [{"key": "dedicated", "operator": "Equal", "value": "batch", "effect": "NoSchedule"}],
        "cpu_request": "6", "memory_request": "24Gi", "memory_limit": "28Gi",
        "env": {"SENTINEL_SHARD_WORKERS": "8"},
    }
    job = _render_flow_run_job("k8s-cpu", json.dumps(variables, sort_keys=True))
    _validate_job(job)
    pod = job["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    assert container["resources"]["limits"] == {"memory": "28Gi"}, "no CPU limit unless asked for, no GPU"
    assert container["resources"]["requests"] == {"cpu": "6", "memory": "24Gi"}
    assert pod["nodeSelector"] == {"eks.amazonaws.com/nodegroup": "batch-cpu"}
    assert pod["tolerations"] == variables["tolerations"]
    assert container["image"] == variables["image"]
    assert pod["serviceAccountName"] == "sentinel-flow-run"
    assert job["metadata"]["namespace"] == NAMESPACE
    env = {e["name"]: e.get("value") for e in container["env"]}
    assert env["SENTINEL_SHARD_WORKERS"] == "8"  # deployment env merged over the pool's defaults
    assert env["SENTINEL_TRITON_URL"] == "dns:///sentinel-triton-headless.sentinel.svc.cluster.local:8001"
    assert env["PREFECT__FLOW_RUN_ID"] == str(uuid.UUID(int=7))
    assert container["args"] == ["prefect", "flow-run", "execute"]
    labels = job["spec"]["template"]["metadata"]["labels"]
    assert labels["sentinel.io/role"] == "flow-run" and labels["prefect.io/flow-run-id"] == str(uuid.UUID(int=7))
    assert job["spec"]["ttlSecondsAfterFinished"] == 3600


def test_cpu_flow_run_job():
    job = _render_flow_run_job("k8s-cpu", json.dumps({"image": "sentinel-flows:dev"}))
    _validate_job(job)
    pod = job["spec"]["template"]["spec"]
    assert "nvidia.com/gpu" not in json.dumps(job)
    assert pod["nodeSelector"] == {} and pod["tolerations"] == []
    assert pod["containers"][0]["resources"]["requests"] == {"cpu": "2", "memory": "4Gi"}


@pytest.mark.parametrize("pool", K8S_POOLS)
def test_template_defaults_match_the_manifests(pool):
    """The pool's default namespace / ServiceAccount / Triton URL are what k8s/ deploys: the URL is the
    DNS name of the headless Service (every ready replica, issue 26) in the pool's namespace."""
    docs = _render("prod")
    props = _load_pool(pool)["variables"]["properties"]
    assert props["namespace"]["default"] == NAMESPACE
    _find(docs, "ServiceAccount", props["service_account_name"]["default"])
    url = props["env"]["default"]["SENTINEL_TRITON_URL"]
    match = re.fullmatch(r"dns:///([a-z0-9-]+)\.([a-z0-9-]+)\.svc\.cluster\.local:(\d+)", url)
    assert match, f"{url}: not dns:///<service>.<namespace>.svc.cluster.local:<port>"
    service, namespace, port = match.group(1), match.group(2), int(match.group(3))
    assert namespace == props["namespace"]["default"]
    svc = _find(docs, "Service", service)
    assert svc["spec"]["clusterIP"] == "None", "a headless Service: one address per ready pod"
    assert port in {p["port"] for p in svc["spec"]["ports"] if p["name"] == "grpc"}


def test_headless_service_publishes_ready_triton_pods_on_their_grpc_port(overlay, docs):
    """DNS of the headless Service lists the Triton pods that are ready (a draining pod's readiness is
    false: it leaves the answer), and clients dial the pods' own port (no kube-proxy in between)."""
    pod = _find(docs, "Deployment", "sentinel-triton")["spec"]["template"]
    svc = _find(docs, "Service", "sentinel-triton-headless")["spec"]
    assert svc["clusterIP"] == "None" and not svc.get("publishNotReadyAddresses", False)
    assert _selector_matches({"matchLabels": svc["selector"]}, pod["metadata"]["labels"])
    (port,) = svc["ports"]
    (container,) = pod["spec"]["containers"]
    container_ports = {p["name"]: p["containerPort"] for p in container["ports"]}
    assert port["name"] == "grpc" and port["targetPort"] == "grpc" and port["appProtocol"] == "grpc"
    assert port["port"] == container_ports["grpc"], "headless: clients connect to the container port itself"
    assert "/tmp/sentinel-draining" in " ".join(container["readinessProbe"]["exec"]["command"])
    policy = _find(docs, "NetworkPolicy", "sentinel-triton")["spec"]
    assert any({"port": port["port"], "protocol": "TCP"} in rule["ports"] for rule in policy["ingress"]), \
        "flow-run pods reach the pods' gRPC port directly"


# -------------------------------------------------------------------------------- IAM + Dockerfiles


@pytest.mark.parametrize("path", sorted((K8S / "iam").glob("*.json")), ids=lambda p: p.name)
def test_iam_documents_are_least_privilege(path):
    doc = json.loads(path.read_text())
    assert doc["Version"] == "2012-10-17"
    for st in doc["Statement"]:
        assert re.fullmatch(r"[A-Za-z0-9]+", st["Sid"])
        if st["Effect"] != "Allow":
            continue
        actions = [st["Action"]] if isinstance(st["Action"], str) else st["Action"]
        resources = [st.get("Resource", "")] if isinstance(st.get("Resource", ""), str) else st["Resource"]
        assert not any("*" in a for a in actions), f"{path.name}/{st['Sid']}: wildcard action"
        assert "*" not in resources, f"{path.name}/{st['Sid']}: wildcard resource"
        assert not any(a.startswith("s3:Delete") for a in actions)


def test_iam_model_store_is_read_only():
    doc = json.loads((K8S / "iam/triton-model-store-policy.json").read_text())
    allowed = {a for st in doc["Statement"] if st["Effect"] == "Allow"
               for a in ([st["Action"]] if isinstance(st["Action"], str) else st["Action"])}
    assert allowed == {"s3:ListBucket", "s3:GetObject"}


@pytest.mark.parametrize("dockerfile", ["triton/Dockerfile", "deployments/flows.Dockerfile"])
def test_dockerfile_sources_exist(dockerfile):
    text = (ROOT / dockerfile).read_text()
    copies = re.findall(r"^COPY\s+(?:--\S+\s+)*(.+?)\s+\S+\s*$", text, flags=re.MULTILINE)
    assert copies
    for sources in copies:
        for src in sources.split():
            assert (ROOT / src).exists(), f"{dockerfile}: COPY source {src} missing"
    assert re.search(r"^USER 1000", text, flags=re.MULTILINE), "images run as uid 1000 (runAsNonRoot)"


def test_triton_image_installs_every_triton_requirement():
    """The image's python backend needs what .venv-triton has (requirements/triton.txt), less the
    local server (nvidia-pytriton); onnxruntime comes as onnxruntime-gpu (CUDA provider for GPU configs)."""
    text = (ROOT / "triton/Dockerfile").read_text()
    installed = {m.lower() for m in re.findall(r'"([A-Za-z0-9_.-]+)[<>=!~;"]', text)}
    wanted = {re.match(r"[A-Za-z0-9_.-]+", line).group(0).lower()
              for line in (ROOT / "requirements/triton.txt").read_text().splitlines()
              if line.strip() and not line.lstrip().startswith("#")}
    replaced = {"nvidia-pytriton": None, "onnxruntime": "onnxruntime-gpu"}
    missing = {replaced.get(name, name) for name in wanted} - installed - {None}
    assert not missing, f"triton/Dockerfile does not install {sorted(missing)}"
