"""Toggl Track over HTTP: Basic auth with the API token, the 1-per-second bucket, the quotas.

Toggl answers an exhausted hourly quota with 402 and a burst above about one request a
second with 429: both are retryable. A 402 waits for the quota's reset, read from the header
`quota_reset_header` (seconds; Toggl does not document its name, so it is an option) or from
`Retry-After`; without either the daemon backs off as for any retryable failure.
The Reports API pages the detailed report through the `X-Next-ID`, `X-Next-Row-Number`
and `X-Next-Timestamp` response headers, sent back as `first_id`, `first_row_number` and
`first_timestamp`.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import httpx

from connectors.base import Connector, retry_after_seconds
from connectors.imports.events import decode_json
from connectors.vendor_api import TokenBucket, VendorApi

__all__ = ["TogglApi", "ReportPage", "TRACK_URL", "REPORTS_URL", "QUOTA_STATUS",
           "DEFAULT_QUOTA_RESET_HEADER"]

TRACK_URL = "https://api.track.toggl.com/api/v9"
REPORTS_URL = "https://api.track.toggl.com/reports/api/v3"
QUOTA_STATUS = 402
DEFAULT_QUOTA_RESET_HEADER = "X-Toggl-Quota-Resets-In"
_NEXT_HEADERS = (("X-Next-ID", "first_id"), ("X-Next-Row-Number", "first_row_number"),
                 ("X-Next-Timestamp", "first_timestamp"))


@dataclass(frozen=True)
class ReportPage:
    """One page of the detailed report: its rows and where the next page starts, if any."""

    rows: tuple[Mapping[str, Any], ...]
    next: Mapping[str, int] | None


class TogglApi:
    """The Toggl calls a connector makes (Track API v9 and Reports API v3)."""

    def __init__(self, connector: Connector, *, token: str, base_url: str = TRACK_URL,
                 reports_url: str = REPORTS_URL, user_agent: str = "billflow",
                 reset_header: str = DEFAULT_QUOTA_RESET_HEADER,
                 bucket: TokenBucket | None = None) -> None:
        self.connector = connector
        basic = base64.b64encode(f"{token}:api_token".encode("utf-8")).decode("ascii")
        connector.context.mark_secret(basic)  # the header form of the token is a secret too
        shared = dict(headers={"User-Agent": user_agent, "Accept": "application/json"},
                      bucket=bucket or TokenBucket(1, 1.0),
                      authorize=lambda: {"Authorization": f"Basic {basic}"},
                      retryable_statuses=frozenset({QUOTA_STATUS}), error_detail=_quota_used_up,
                      retry_after_of=self._quota_reset)
        self.reset_header = reset_header
        self.track = VendorApi(connector, base_url, **shared)
        shared["bucket"] = self.track.bucket  # one budget for both APIs
        self.reports = VendorApi(connector, reports_url, **shared)

    def _quota_reset(self, response: httpx.Response) -> float | None:
        """Return the seconds until a used-up quota (402) resets, by `reset_header`."""
        if response.status_code != QUOTA_STATUS:
            return None
        return retry_after_seconds(response.headers.get(self.reset_header),
                                   self.connector.context.now())

    @property
    def bucket(self) -> TokenBucket | None:
        return self.track.bucket

    def get(self, path: str, params: Mapping[str, Any] | None = None, *, doing: str) -> Any:
        """GET a Track API path and return its JSON."""
        options = {"params": dict(params)} if params else {}
        return self._decode(self.track.request("GET", path, doing=doing, **options), doing)

    def report_page(self, workspace_id: str, query: Mapping[str, Any], *, doing: str) -> ReportPage:
        """POST one detailed-report search and return its rows and the next page's start."""
        response = self.reports.request("POST", f"/workspace/{workspace_id}/search/time_entries",
                                        json=dict(query), doing=doing)
        rows = self._decode(response, doing)
        if not isinstance(rows, list):
            raise self.connector.fail(f"{doing}: the reply is not a list of rows", retryable=True)
        start: dict[str, int] = {}
        for header, field in _NEXT_HEADERS:
            value = response.headers.get(header, "").strip()
            if value.isdigit():
                start[field] = int(value)
        following = start if "first_row_number" in start or "first_id" in start else None
        return ReportPage(tuple(r for r in rows if isinstance(r, Mapping)), following)

    def _decode(self, response: httpx.Response, doing: str) -> Any:
        try:
            return decode_json(response.content)
        except ValueError:
            raise self.connector.fail(f"{doing}: the reply is not JSON "
                                      f"(HTTP {response.status_code})", retryable=True) from None

    def close(self) -> None:
        self.track.close()
        self.reports.close()


def _quota_used_up(response: httpx.Response) -> str | None:
    # A 402's body says nothing more useful than this.
    return "Toggl's hourly request quota is used up" if response.status_code == QUOTA_STATUS \
        else None
