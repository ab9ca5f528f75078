"""Calls to the daemon's HTTP surface that answer with the status instead of raising."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import Any, NamedTuple


class Reply(NamedTuple):
    status: int
    content_type: str
    text: str

    def json(self) -> Any:
        return json.loads(self.text)


def call(url: str, *, method: str | None = None, body: bytes | None = None,
         headers: dict[str, str] | None = None, timeout: float = 10.0) -> Reply:
    """Send one request (GET, or POST with a body, unless `method` says otherwise)."""
    request = urllib.request.Request(url, data=body, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return Reply(response.status, response.headers.get("Content-Type", ""),
                         response.read().decode("utf-8"))
    except urllib.error.HTTPError as exc:
        return Reply(exc.code, exc.headers.get("Content-Type", ""), exc.read().decode("utf-8"))


def bearer(token: str | None) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"} if token else {}


def ndjson(*events: dict) -> bytes:
    return "".join(json.dumps(event) + "\n" for event in events).encode("utf-8")


def post_events(base: str, *events: dict, token: str | None) -> Reply:
    """POST `events` to the daemon's intake as NDJSON with the bearer `token`."""
    return call(f"{base}/events", body=ndjson(*events),
                headers={**bearer(token), "Content-Type": "application/x-ndjson"})
