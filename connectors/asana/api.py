"""Asana's REST API as the connector uses it: `{"data": ...}` replies, pages, events, stories.

- Pages: `limit` (at most 100) and the opaque `offset` of `next_page` (null on the last page).
- Events: `GET /events?resource=<gid>&sync=<token>`. Asana answers 412 with a fresh `sync`
  token when none is given or the given one has expired; the caller then reads the resource
  in full and keeps the new token. Otherwise up to 100 events, `sync`, and `has_more`.
- Rate limit: 150 requests a minute per token on free domains, 1500 on paid ones; a 429
  carries `Retry-After` in seconds. Errors are `{"errors": [{"message": ...}]}`.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import httpx

from connectors.base import Connector
from connectors.vendor_api import TokenBucket, VendorApi

__all__ = ["AsanaApi", "EventPage", "TASK_FIELDS", "DEFAULT_BASE_URL"]

DEFAULT_BASE_URL = "https://app.asana.com/api/1.0"
PAGE_LIMIT = 100
# Compact records are the default: ask for every field milestone mapping reads.
TASK_FIELDS = ",".join((
    "name", "completed", "completed_at", "resource_subtype", "modified_at", "permalink_url",
    "projects.name", "projects.team", "custom_fields.name", "custom_fields.display_value",
    "custom_fields.text_value", "custom_fields.enum_value.name", "custom_fields.number_value",
))


@dataclass(frozen=True)
class EventPage:
    """One reply of the events endpoint; `expired` when Asana handed out a fresh token instead."""

    events: tuple[Mapping[str, Any], ...]
    sync: str
    has_more: bool
    expired: bool = False


class AsanaApi(VendorApi):
    """Calls to Asana on behalf of one connector, under its token and rate limit."""

    def __init__(self, connector: Connector, token: str, *, base_url: str = DEFAULT_BASE_URL,
                 per_minute: int = 150, timeout: float = 30.0) -> None:
        super().__init__(connector, base_url,
                         headers={"Authorization": f"Bearer {token}",
                                  "Accept": "application/json"},
                         bucket=TokenBucket(per_minute, 60.0),
                         timeout=httpx.Timeout(timeout, connect=min(timeout, 10.0)))

    def data(self, method: str, path: str, *, doing: str, **options: Any) -> Any:
        """Return the `data` member of Asana's reply."""
        body = self.json(method, path, doing=doing, **options)
        if not isinstance(body, Mapping) or "data" not in body:
            raise self.connector.fail(f"{doing}: the reply has no 'data'", retryable=True)
        return body["data"]

    def pages(self, path: str, *, doing: str, params: Mapping[str, Any]) -> Iterator[Mapping[str, Any]]:
        """Yield every record of a list endpoint, page after page."""
        query = {**params, "limit": PAGE_LIMIT}
        while True:
            body = self.json("GET", path, doing=doing, params=query)
            yield from body.get("data") or ()
            offset = (body.get("next_page") or {}).get("offset")
            if not offset:
                return
            query = {**params, "limit": PAGE_LIMIT, "offset": offset}

    def task(self, gid: str) -> Mapping[str, Any] | None:
        """Return the task with the fields mapping reads, or None if it is gone (404)."""
        doing = f"reading Asana task {gid}"
        response = self.request("GET", f"tasks/{gid}", doing=doing, accept=frozenset({404}),
                                params={"opt_fields": TASK_FIELDS})
        if response.status_code == 404:
            return None
        return response.json()["data"]

    def events(self, resource: str, sync: str | None) -> EventPage:
        """Read one page of events on `resource` after `sync` (None: ask for a first token)."""
        doing = f"reading Asana events of {resource}"
        params = {"resource": resource, **({"sync": sync} if sync else {})}
        response = self.request("GET", "events", doing=doing, accept=frozenset({412}),
                                params=params)
        try:
            body = response.json()
        except ValueError:
            raise self.connector.fail(f"{doing}: the reply is not JSON", retryable=True) from None
        token = body.get("sync") if isinstance(body, Mapping) else None
        if not token:
            raise self.connector.fail(f"{doing}: the reply carries no sync token", retryable=True)
        if response.status_code == 412:
            return EventPage((), str(token), False, expired=True)
        return EventPage(tuple(body.get("data") or ()), str(token), bool(body.get("has_more")))
