"""Post events to the Prefect events API; a 2xx means the server accepted them.

A refused or failed post is retried with exponential backoff (tenacity): 0.5 s, 1 s, 2 s, … up to
30 s between tries, `retries` times, then EmitFailed names the last error. The caller (the bridge's
pump) does not acknowledge the events it could not emit, so they come back later.
"""
from __future__ import annotations

import logging

import httpx
from tenacity import RetryError, Retrying, retry_if_exception_type, stop_after_attempt, wait_exponential

log = logging.getLogger("sentinel.bridge")


class EmitFailed(RuntimeError):
    pass


class NotAccepted(Exception):
    """The events API answered, but not with a 2xx."""


class PrefectEventsEmitter:
    def __init__(self, api_url: str, api_key: str | None = None, retries: int = 5, timeout_s: float = 10.0,
                 backoff_s: float = 0.5, max_backoff_s: float = 30.0):
        self.url = api_url.rstrip("/") + "/events"
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self.client = httpx.Client(headers=headers, timeout=timeout_s)
        self.retries = retries
        self.backoff_s, self.max_backoff_s = backoff_s, max_backoff_s

    def _post(self, events: list[dict]) -> None:
        response = self.client.post(self.url, json=events)
        if response.status_code >= 300:
            raise NotAccepted(f"HTTP {response.status_code}: {response.text[:200]}")

    def emit(self, events: list[dict]) -> None:
        if not events:
            return
        retrying = Retrying(
            retry=retry_if_exception_type((httpx.HTTPError, NotAccepted)),
            stop=stop_after_attempt(self.retries + 1),
            wait=wait_exponential(multiplier=self.backoff_s, max=self.max_backoff_s),
            before_sleep=lambda state: log.warning("emitting %d events failed (%s); retry in %.1fs", len(events),
                                                   state.outcome.exception(), state.next_action.sleep),
        )
        try:
            retrying(self._post, events)
        except RetryError as exc:
            error = exc.last_attempt.exception()
            raise EmitFailed(f"Prefect events API {self.url} did not accept {len(events)} events: {error}") from error
