"""Read-only calls to the private Prefect server's REST API (plain httpx: this test process's own
Prefect settings point at the shared stack and are never used)."""
from __future__ import annotations

import httpx


class PrefectApi:
    def __init__(self, api_url: str):
        self.url = api_url.rstrip("/")
        self.http = httpx.Client(timeout=30)

    def _filter(self, what: str, body: dict, page: int = 200) -> list[dict]:
        found, offset = [], 0
        while True:
            response = self.http.post(f"{self.url}/{what}/filter", json=body | {"limit": page, "offset": offset})
            response.raise_for_status()
            chunk = response.json()
            found.extend(chunk)
            if len(chunk) < page:
                return found
            offset += page

    def task_runs(self, flow_run_id: str) -> list[dict]:
        return self._filter("task_runs", {"flow_runs": {"id": {"any_": [flow_run_id]}}})

    def logs(self, flow_run_id: str | None = None) -> list[dict]:
        body = {"logs": {"flow_run_id": {"any_": [flow_run_id]}}} if flow_run_id else {}
        return self._filter("logs", body)

    def artifacts(self, flow_run_id: str | None = None) -> list[dict]:
        body = {"artifacts": {"flow_run_id": {"any_": [flow_run_id]}}} if flow_run_id else {}
        return self._filter("artifacts", body)

    def flow_runs(self, deployment_id: str | None = None) -> list[dict]:
        body = {"deployments": {"id": {"any_": [deployment_id]}}} if deployment_id else {}
        return self._filter("flow_runs", body)

    def deployment(self, flow_name: str, name: str) -> dict:
        response = self.http.get(f"{self.url}/deployments/name/{flow_name}/{name}")
        response.raise_for_status()
        return response.json()

    def blocks(self) -> list[dict]:
        return self._filter("block_documents", {"include_secrets": False})

    def variables(self) -> list[dict]:
        return self._filter("variables", {})
