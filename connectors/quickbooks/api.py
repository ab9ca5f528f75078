"""QuickBooks Online's Accounting API v3 as the connector calls it.

Every path is below `/v3/company/{realmId}/`; every call carries `minorversion`; writes carry
`requestid` (Intuit answers a repeat with the original reply and creates nothing). A `Fault`
is an error even in an HTTP 200; a 401 refreshes the access token once.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from typing import Any

import httpx

from connectors.base import Connector
from connectors.oauth import TokenKeeper
from connectors.quickbooks.wire import decode_json, encode_json
from connectors.vendor_api import TokenBucket, VendorApi

__all__ = ["QuickBooksApi", "fault_text", "quote"]

_BUCKETS: dict[tuple[str, str], TokenBucket] = {}
_BUCKETS_GUARD = threading.Lock()
_RETRYABLE_FAULTS = ("SystemFault", "ServiceFault", "ThrottleExceeded")


def shared_bucket(realm: str, base_url: str, per_minute: int) -> TokenBucket:
    """One bucket per company: the dispatcher's and the poller's calls count together."""
    with _BUCKETS_GUARD:
        key = (base_url, realm)
        bucket = _BUCKETS.get(key)
        if bucket is None or bucket.refill_per_second != per_minute / 60:
            # Intuit also caps concurrent calls at 10: bursts stay below that.
            bucket = _BUCKETS[key] = TokenBucket(per_minute, 60.0, burst=10)
        return bucket


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


class _IntuitApi(VendorApi):
    """VendorApi with Intuit's fault bodies read into the error messages."""

    def _error(self, response: httpx.Response, doing: str) -> Exception:
        status = response.status_code
        if status in (408, 429) or status >= 500:
            return super()._error(response, doing)
        try:
            detail = fault_text(decode_json(response.content)) or response.reason_phrase
        except ValueError:
            detail = response.reason_phrase
        if status == 401:
            return self.connector.fail(
                f"{doing}: QuickBooks refused the access token even after a refresh (HTTP 401); "
                f"run `billflow connect {self.connector.name}` again", retryable=False)
        return self.connector.fail(f"{doing}: HTTP {status} {' '.join(str(detail).split())[:300]}",
                                   retryable=False)


class QuickBooksApi:
    """Calls to one QuickBooks company."""

    def __init__(self, connector: Connector, *, base_url: str, realm_id: str,
                 minor_version: int, tokens: TokenKeeper, requests_per_minute: int,
                 timeout: float) -> None:
        self.connector = connector
        self.realm_id = realm_id
        self.minor_version = minor_version
        self._api = _IntuitApi(
            connector, f"{base_url}/v3/company/{realm_id}",
            headers={"Accept": "application/json", "User-Agent": "billflow"},
            bucket=shared_bucket(realm_id, base_url, requests_per_minute),
            authorize=tokens.authorize, reauthorize=tokens.reauthorize,
            timeout=httpx.Timeout(timeout, connect=min(timeout, 10.0)))

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
        response = self._api.request(method, path, doing=doing, params=query, **options)
        if not response.content:
            return {}
        try:
            body = decode_json(response.content)
        except ValueError:
            raise self.connector.fail(f"{doing}: the reply is not JSON (HTTP "
                                      f"{response.status_code})", retryable=True) from None
        fault = fault_text(body)
        if fault is not None:
            retryable = any(kind in fault for kind in _RETRYABLE_FAULTS)
            raise self.connector.fail(f"{doing}: {fault}", retryable=retryable)
        return body

    def close(self) -> None:
        self._api.close()
