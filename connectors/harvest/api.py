"""Harvest API v2 over HTTP: its headers, its rate limit, its pages, its numbers kept exact.

Every call carries `Authorization: Bearer <token>`, `Harvest-Account-Id` and a `User-Agent`
(Harvest answers 400 without one). Calls stay under Harvest's 100 requests per 15 seconds;
a 429 waits for its `Retry-After`. Lists are read a page at a time by following `links.next`
(cursor links; `page`/`next_page` may be null in the middle) or, failing that, `next_page`.
Bodies are decoded with every fraction as a Decimal: `"hours": 1.5` never becomes a float.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode, urlsplit

from connectors.base import Connector
from connectors.imports.events import decode_json
from connectors.vendor_api import TokenBucket, VendorApi

__all__ = ["HarvestApi", "Page", "DEFAULT_BASE_URL", "RATE_LIMIT"]

DEFAULT_BASE_URL = "https://api.harvestapp.com/v2"
RATE_LIMIT = (100, 15.0)  # requests per seconds, Harvest's general limit


@dataclass(frozen=True)
class Page:
    """One page of a Harvest list: its records and the absolute URL of the next, if any."""

    records: tuple[Mapping[str, Any], ...]
    next: str | None


class HarvestApi:
    """The Harvest calls a connector makes."""

    def __init__(self, connector: Connector, *, base_url: str, token: str, account_id: str,
                 user_agent: str, bucket: TokenBucket | None = None) -> None:
        self.connector = connector
        self.base_url = base_url.rstrip("/")
        self._vendor = VendorApi(
            connector, self.base_url,
            headers={"Harvest-Account-Id": account_id, "User-Agent": user_agent,
                     "Accept": "application/json"},
            bucket=bucket or TokenBucket(*RATE_LIMIT),
            authorize=lambda: {"Authorization": f"Bearer {token}"})

    @property
    def bucket(self) -> TokenBucket | None:
        return self._vendor.bucket

    def get(self, path: str, params: Mapping[str, Any] | None, *, doing: str) -> Any:
        """GET `path` (or an absolute URL of this API) and return its JSON, fractions as Decimal."""
        # httpx drops a URL's own query when `params` is given, even empty: a next link
        # carries its cursor in the query, so it goes without.
        options = {"params": dict(params)} if params else {}
        response = self._vendor.request("GET", self._own(path), doing=doing, **options)
        try:
            return decode_json(response.content)
        except ValueError:
            raise self.connector.fail(f"{doing}: the reply is not JSON "
                                      f"(HTTP {response.status_code})", retryable=True) from None

    def page(self, collection: str, path: str, params: Mapping[str, Any] | None, *,
             doing: str) -> Page:
        """Read one page of list `collection` ("time_entries") from `path` or a next link."""
        body = self.get(path, params, doing=doing)
        records = body.get(collection) if isinstance(body, Mapping) else None
        if not isinstance(records, list):
            raise self.connector.fail(f"{doing}: the reply has no '{collection}' list",
                                      retryable=True)
        return Page(tuple(r for r in records if isinstance(r, Mapping)),
                    self._next(body, path, params))

    def every(self, collection: str, path: str, params: Mapping[str, Any] | None, *,
              doing: str) -> list[Mapping[str, Any]]:
        """Read every page of list `collection`."""
        found: list[Mapping[str, Any]] = []
        where: str | None = path
        first = True
        while where is not None:
            page = self.page(collection, where, params if first else None, doing=doing)
            found.extend(page.records)
            where, first = page.next, False
        return found

    def _next(self, body: Mapping[str, Any], path: str,
              params: Mapping[str, Any] | None) -> str | None:
        links = body.get("links")
        link = links.get("next") if isinstance(links, Mapping) else None
        if isinstance(link, str) and link:
            return self._own(link)
        next_page = body.get("next_page")
        if isinstance(next_page, int) and params is not None:
            query = urlencode({**params, "page": next_page})
            return f"{self._vendor.url(path)}?{query}"
        return None

    def _own(self, path: str) -> str:
        """Refuse to send the token to any host but the API's own (a next link is data)."""
        if path.startswith(("http://", "https://")):
            if urlsplit(path).netloc != urlsplit(self.base_url).netloc:
                raise self.connector.fail("a next-page link points away from the Harvest API",
                                          retryable=False)
        return path

    def close(self) -> None:
        self._vendor.close()
