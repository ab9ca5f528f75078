"""QuickBooks Online's Accounting API v3 as the connector calls it.

Every path is below `/v3/company/{realmId}/`; every call carries `minorversion`; writes carry
`requestid` (Intuit answers a repeat with the original reply and creates nothing). A `Fault`
is an error even in an HTTP 200; a 401 refreshes the access token once.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import httpx

from connectors.base import Connector
from connectors.books_api import BooksApi, account_bucket
from connectors.oauth import TokenKeeper
from connectors.wire import decode_json, encode_json

__all__ = ["QuickBooksApi", "fault_text", "intuit_error_detail", "quote"]

_RETRYABLE_FAULTS = ("SystemFault", "ServiceFault", "ThrottleExceeded")


def quote(text: str) -> str:
    """Return `text` as a literal of Intuit's query language."""
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


def fault_text(body: Any) -> str | None:
    """Return the messages of a `Fault` reply, or None when there is none."""
    if not isinstance(body, Mapping):
        return None
    fault = body.get("Fault") or body.get("fault")
    if not isinstance(fault, Mapping):
        return None
    errors = fault.get("Error") or fault.get("error") or []
    parts = []
    for error in errors if isinstance(errors, list) else []:
        if isinstance(error, Mapping):
            code = error.get("code")
            text = error.get("Detail") or error.get("Message") or "error"
            parts.append(f"{text} (code {code})" if code else str(text))
    kind = fault.get("type") or "Fault"
    return f"{kind}: " + "; ".join(parts) if parts else str(kind)


def intuit_error_detail(response: httpx.Response) -> str | None:
    """Read a refused request's `Fault` for the error message (None: the body as it is)."""
    status = response.status_code
    if status in (408, 429) or status >= 500:
        return None
    try:
        detail = fault_text(decode_json(response.content)) or response.reason_phrase
    except ValueError:
        detail = response.reason_phrase
    return " ".join(str(detail).split())[:300]


class QuickBooksApi(BooksApi):
    """Calls to one QuickBooks company."""

    vendor = "QuickBooks"

    def __init__(self, connector: Connector, *, base_url: str, realm_id: str,
                 minor_version: int, tokens: TokenKeeper, requests_per_minute: int,
                 timeout: float) -> None:
        # Intuit also caps concurrent calls at 10: bursts stay below that.
        super().__init__(connector, f"{base_url}/v3/company/{realm_id}",
                         bucket=account_bucket(realm_id, base_url, requests_per_minute, burst=10),
                         tokens=tokens, timeout=timeout, error_detail=intuit_error_detail)
        self.realm_id = realm_id
        self.minor_version = minor_version

    def get(self, path: str, *, doing: str, params: Mapping[str, str] | None = None) -> Any:
        return self._call("GET", path, doing, params=params)

    def post(self, path: str, body: Any, *, doing: str, requestid: str | None = None,
             params: Mapping[str, str] | None = None) -> Any:
        query = dict(params or {})
        if requestid is not None:
            query["requestid"] = requestid
        if body is None:  # /send takes no body
            return self._call("POST", path, doing, params=query,
                              headers={"Content-Type": "application/octet-stream"})
        return self._call("POST", path, doing, params=query, content=encode_json(body),
                          headers={"Content-Type": "application/json"})

    def query(self, statement: str, *, doing: str) -> Mapping[str, Any]:
        """Run one query; return its QueryResponse (an empty page may omit the entity list)."""
        body = self.get("query", doing=doing, params={"query": statement})
        found = body.get("QueryResponse") if isinstance(body, Mapping) else None
        return found if isinstance(found, Mapping) else {}

    def _call(self, method: str, path: str, doing: str, *,
              params: Mapping[str, str] | None = None, **options: Any) -> Any:
        query = {"minorversion": str(self.minor_version), **(params or {})}
        body = self.call(method, path, doing, params=query, **options)
        fault = fault_text(body)
        if fault is not None:
            retryable = any(kind in fault for kind in _RETRYABLE_FAULTS)
            raise self.connector.fail(f"{doing}: {fault}", retryable=retryable)
        return body
