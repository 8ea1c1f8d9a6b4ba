"""Post events to the Prefect events API; a 2xx means the server accepted them."""
from __future__ import annotations

import logging
import time

import httpx

log = logging.getLogger("sentinel.bridge")


class EmitFailed(RuntimeError):
    pass


class PrefectEventsEmitter:
    def __init__(self, api_url: str, api_key: str | None = None, retries: int = 5, timeout_s: float = 10.0):
        self.url = api_url.rstrip("/") + "/events"
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self.client = httpx.Client(headers=headers, timeout=timeout_s)
        self.retries = retries

    def emit(self, events: list[dict]) -> None:
        if not events:
            return
        for attempt in range(self.retries + 1):
            try:
                response = self.client.post(self.url, json=events)
                if response.status_code < 300:
                    return
                error = f"HTTP {response.status_code}: {response.text[:200]}"
            except httpx.HTTPError as exc:
                error = str(exc)
            if attempt < self.retries:
                delay = min(30.0, 0.5 * 2 ** attempt)
                log.warning("emitting %d events failed (%s); retry in %.1fs", len(events), error, delay)
                time.sleep(delay)
        raise EmitFailed(f"Prefect events API {self.url} did not accept {len(events)} events: {error}")
