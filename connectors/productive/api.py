"""Productive.io's JSON:API as the connector uses it: headers, two rate limits, pages, `included`.

- Headers: `X-Auth-Token`, `X-Organization-Id`, `Content-Type: application/vnd.api+json`
  (another content type is refused with 415).
- Limits: 100 requests per 10 s and 4000 per 30 min, on every plan: one token bucket each.
  Over a limit Productive answers 429 (whether with Retry-After is not documented; it is
  honoured when sent, else the caller backs off).
- Pages: `page[number]`, `page[size]` (at most 200); `meta.current_page` / `total_pages`, and
  `links.next` where given.
- Errors: `{"errors": [{"status", "title", "detail"}]}`; 401/403 are credentials.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import httpx

from connectors.base import Connector
from connectors.vendor_api import Buckets, TokenBucket, VendorApi

__all__ = ["ProductiveApi", "JsonApiPage", "DEFAULT_BASE_URL", "MEDIA_TYPE"]

DEFAULT_BASE_URL = "https://api.productive.io/api/v2"
MEDIA_TYPE = "application/vnd.api+json"


@dataclass(frozen=True)
class JsonApiPage:
    """One page of a JSON:API list: its records, the `included` index, where the next one is."""

    records: tuple[Mapping[str, Any], ...]
    included: Mapping[tuple[str, str], Mapping[str, Any]] = field(default_factory=dict)
    next_page: int | None = None
    next_link: str | None = None

    @property
    def has_next(self) -> bool:
        return self.next_page is not None or self.next_link is not None

    def related(self, record: Mapping[str, Any] | None, name: str) -> Mapping[str, Any] | None:
        """Return the included record `record`'s relationship `name` points at, if included."""
        if record is None:
            return None
        target = related_id(record, name)
        return self.included.get(target) if target else None


def related_id(record: Mapping[str, Any], name: str) -> tuple[str, str] | None:
    """Return (type, id) of a to-one relationship, or None when absent or not given."""
    data = ((record.get("relationships") or {}).get(name) or {}).get("data")
    if isinstance(data, Mapping) and data.get("id") is not None:
        return str(data.get("type")), str(data["id"])
    return None


class ProductiveApi(VendorApi):
    """Calls to Productive on behalf of one connector."""

    def __init__(self, connector: Connector, token: str, organization: str, *,
                 base_url: str = DEFAULT_BASE_URL, timeout: float = 30.0) -> None:
        super().__init__(connector, base_url,
                         headers={"X-Auth-Token": token, "X-Organization-Id": organization,
                                  "Content-Type": MEDIA_TYPE, "Accept": MEDIA_TYPE},
                         bucket=Buckets(TokenBucket(100, 10.0), TokenBucket(4000, 1800.0)),
                         timeout=httpx.Timeout(timeout, connect=min(timeout, 10.0)))

    def page(self, path: str, *, doing: str, params: Mapping[str, Any]) -> JsonApiPage:
        """Read one page of a list (a `links.next` URL is followed as given)."""
        body = self.json("GET", path, doing=doing, params=dict(params))
        if not isinstance(body, Mapping) or not isinstance(body.get("data"), list):
            raise self.connector.fail(f"{doing}: the reply is not a JSON:API list",
                                      retryable=True)
        included = {(str(item.get("type")), str(item.get("id"))): item
                    for item in body.get("included") or () if isinstance(item, Mapping)}
        meta = body.get("meta") or {}
        links = body.get("links") or {}
        current, total = meta.get("current_page"), meta.get("total_pages")
        next_page = (int(current) + 1 if isinstance(current, int) and isinstance(total, int)
                     and current < total else None)
        next_link = links.get("next") if isinstance(links.get("next"), str) else None
        return JsonApiPage(tuple(body["data"]), included, next_page, next_link)

    def record(self, path: str, *, doing: str, params: Mapping[str, Any] | None = None,
               missing_ok: bool = False) -> JsonApiPage:
        """Read one record (as a one-record page, with its `included`); gone (404) is an
        empty page when `missing_ok`."""
        response = self.request("GET", path, doing=doing, params=dict(params or {}),
                                accept=frozenset({404}) if missing_ok else frozenset())
        if response.status_code == 404:
            return JsonApiPage(())
        try:
            body = response.json()
        except ValueError:
            raise self.connector.fail(f"{doing}: the reply is not JSON", retryable=True) from None
        data = body.get("data") if isinstance(body, Mapping) else None
        if not isinstance(data, Mapping):
            raise self.connector.fail(f"{doing}: the reply is not a JSON:API record",
                                      retryable=True)
        included = {(str(item.get("type")), str(item.get("id"))): item
                    for item in body.get("included") or () if isinstance(item, Mapping)}
        return JsonApiPage((data,), included)
