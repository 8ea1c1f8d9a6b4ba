"""The replica-spreading scenario (issue 26, tests/reliability/test_triton_spread.py) in
docs/reliability.md: its line in the results table and a section with the before/after figures."""
from __future__ import annotations


def _pct(shares: list[float]) -> str:
    return " / ".join(f"{100 * s:.0f} %" for s in shares)


def _part(p: dict | None) -> str:
    if not p:
        return "not measured"
    spread, scale = p.get("spread", {}), p.get("scale_and_drain", {})
    joined = scale.get("new_replica_first_request_s")
    return (f"three replicas: {_pct(spread.get('shares', []))} of the requests; replica added mid-run: "
            + (f"first request after {joined:.0f} s" if joined is not None else "no request within 60 s")
            + f"; drained mid-run: {scale.get('rows_failed', '?')} rows failed, run {scale.get('flow_state', '?')}")


def _drain(scale: dict) -> str:
    """What the drain met: calls to the replica while it was out of DNS, calls of the run after SIGTERM."""
    after = sum(scale.get("requests_per_replica", [])) - sum(scale.get("served_at_sigterm", []))
    text = f"{scale.get('drained_replica_requests_during_wait', '?')} requests to it during the wait, "
    if after <= 0:
        return text + "the run had made its last Triton call before the SIGTERM"
    return text + f"{after:,} requests of the run after the SIGTERM, {scale.get('rows_retried_by_client', 0)} rows " \
                  "retried by the client"


def spread_summary(s: dict) -> str:
    return f"before: {_part(s.get('before'))}; after: {_part(s.get('after'))}"


def spread_section(s: dict | None) -> list[str]:
    if not s:
        return []
    lines = ["## One run over every Triton replica (issue 26)", "",
             "translate-batch (echo, 16-row requests, 4 in flight per shard, two shards) against three "
             "tritonservers on 127.0.0.2-4 that share one gRPC port behind one DNS name, answered by a private DNS "
             "server the way a headless Service answers (ready pods only), Triton's connection age 30 s as in the "
             "Deployment. Requests per replica from each server's own `nv_inference_request_success`.", "",
             "| code | requests per replica (3 from the start) | replica added mid-run: first request | "
             "drained mid-run (out of DNS, 5 s, SIGTERM): rows failed |", "|---|---|---|---|"]
    for label in ("before", "after"):
        p = s.get(label)
        if not p:
            lines.append(f"| {label} | not measured | | |")
            continue
        spread, scale = p["spread"], p["scale_and_drain"]
        joined = scale.get("new_replica_first_request_s")
        lines.append(f"| {label} | {', '.join(map(str, spread['requests_per_replica']))} "
                     f"({_pct(spread['shares'])}) | "
                     + (f"{joined:.1f} s" if joined is not None else "none within 60 s")
                     + f" | {scale['rows_failed']} of {scale['rows']:,} ({scale['flow_state']}; {_drain(scale)}) |")
    lines.append("")
    return lines
