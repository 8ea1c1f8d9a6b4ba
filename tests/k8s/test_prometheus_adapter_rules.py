"""The prometheus-adapter rules behind the Triton HPA (k8s/monitoring/prometheus-adapter-rules.yaml),
evaluated by Prometheus' own engine: `promtool test rules` on synthetic Triton series shaped like
tritonserver 2.51's /metrics (model/version labels, plus the namespace/pod labels the ServiceMonitor
adds). Each rule's metricsQuery is expanded the way the adapter does for a Pods metric
(<<.LabelMatchers>> = namespace + pod matchers, <<.GroupBy>> = pod) and recorded under its served name.

Needs `promtool` (Debian package `prometheus`); skipped without it. A second or so.
"""
from __future__ import annotations

import shutil
import subprocess

import pytest
import yaml

from tests.k8s.rendering import K8S, NAMESPACE, RENDERED, _find, _render

RULES = K8S / "monitoring" / "prometheus-adapter-rules.yaml"
PODS = ("sentinel-triton-a", "sentinel-triton-b")


def _adapter_rules() -> dict[str, dict]:
    return {r["name"]["as"]: r for r in yaml.safe_load(RULES.read_text())["rules"]["custom"]}


def _expand(query: str) -> str:
    matchers = f'namespace="{NAMESPACE}",pod=~"{"|".join(PODS)}"'
    return query.replace("<<.LabelMatchers>>", matchers).replace("<<.GroupBy>>", "pod")


def _series(name: str, pod: str, model: str, values: str) -> dict:
    return {"series": f'{name}{{namespace="{NAMESPACE}",pod="{pod}",model="{model}",version="1"}}',
            "values": values}


@pytest.mark.parametrize("target", RENDERED)
def test_every_hpa_pods_metric_has_a_rule(target):
    hpa = _find(_render(target), "HorizontalPodAutoscaler", "sentinel-triton")
    names = {m["pods"]["metric"]["name"] for m in hpa["spec"]["metrics"] if m["type"] == "Pods"}
    assert names <= set(_adapter_rules())


def test_rules_compute_per_pod_values(tmp_path):
    promtool = shutil.which("promtool")
    if not promtool:
        pytest.skip("promtool is not installed (Debian package prometheus)")
    rules = _adapter_rules()
    for rule in rules.values():
        assert rule["seriesQuery"].split("{")[0] in rule["metricsQuery"]
        assert rule["resources"]["overrides"] == {"namespace": {"resource": "namespace"}, "pod": {"resource": "pod"}}
    (tmp_path / "rules.yaml").write_text(yaml.safe_dump({"groups": [{
        "name": "sentinel-triton-adapter",
        "rules": [{"record": name, "expr": _expand(rule["metricsQuery"])} for name, rule in rules.items()],
    }]}))
    a, b = PODS
    series = [
        # pod a: 6 translate + 2 transcribe requests waiting, all the time -> 8 pending
        _series("nv_inference_pending_request_count", a, "translate", "6+0x20"),
        _series("nv_inference_pending_request_count", a, "transcribe", "2+0x20"),
        # pod b: one request waiting
        _series("nv_inference_pending_request_count", b, "translate", "1+0x20"),
        # pod a: 30 requests / 15 s that waited 3 s in all -> 100 ms per request; echo idle
        _series("nv_inference_queue_duration_us", a, "translate", "0+3000000x20"),
        _series("nv_inference_request_success", a, "translate", "0+30x20"),
        _series("nv_inference_queue_duration_us", a, "echo", "0+0x20"),
        _series("nv_inference_request_success", a, "echo", "0+0x20"),
        # pod b: no requests at all -> 0, not a division by zero
        _series("nv_inference_queue_duration_us", b, "translate", "0+0x20"),
        _series("nv_inference_request_success", b, "translate", "0+0x20"),
        # another namespace's Triton is not counted
        {"series": 'nv_inference_pending_request_count{namespace="other",pod="sentinel-triton-a",model="x",'
                   'version="1"}', "values": "100+0x20"},
    ]
    expected = {
        "triton_pending_requests": {a: 8, b: 1},
        "triton_queue_latency_us": {a: 100000, b: 0},
    }
    assert set(expected) == set(rules), "a new rule needs expected values here"
    tests = {"rule_files": ["rules.yaml"], "evaluation_interval": "15s", "tests": [{
        "interval": "15s",
        "input_series": series,
        "promql_expr_test": [
            {"expr": name, "eval_time": "4m",
             "exp_samples": [{"labels": f'{name}{{pod="{pod}"}}', "value": value} for pod, value in values.items()]}
            for name, values in expected.items()
        ],
    }]}
    (tmp_path / "tests.yaml").write_text(yaml.safe_dump(tests))
    out = subprocess.run([promtool, "test", "rules", "tests.yaml"], cwd=tmp_path, capture_output=True, text=True,
                         timeout=60)
    assert out.returncode == 0, out.stdout + out.stderr
