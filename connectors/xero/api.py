"""Xero's Accounting API as the connector calls it.

Every call names the organisation in `xero-tenant-id`; writes carry an `Idempotency-Key`
derived from the action id (Xero answers a repeat with the first reply). Limits are per
organisation (60 a minute, 5 at once, 5000 a day): a 429 names the limit in
X-Rate-Limit-Problem and says when to come back in Retry-After.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Mapping
from typing import Any

import httpx

from connectors.base import Connector
from connectors.oauth import TokenKeeper
from connectors.vendor_api import TokenBucket, VendorApi
from connectors.xero.wire import decode_json, encode_json

__all__ = ["XeroApi", "error_text", "idempotency_key"]

_BUCKETS: dict[tuple[str, str], TokenBucket] = {}
_BUCKETS_GUARD = threading.Lock()
_NAMESPACE = uuid.UUID("0f8e54a2-0b7c-4d35-8c3e-4f1b5a9e6d21")


def idempotency_key(action_id: str, step: str) -> str:
    """Return the Idempotency-Key of one step of one action (stable, 36 characters)."""
    return str(uuid.uuid5(_NAMESPACE, f"{action_id}\n{step}"))


def shared_bucket(tenant: str, base_url: str, per_minute: int) -> TokenBucket:
    """One bucket per organisation: the dispatcher's and the poller's calls count together."""
    with _BUCKETS_GUARD:
        key = (base_url, tenant)
        bucket = _BUCKETS.get(key)
        if bucket is None or bucket.refill_per_second != per_minute / 60:
            bucket = _BUCKETS[key] = TokenBucket(per_minute, 60.0, burst=5)
        return bucket


def error_text(body: Any) -> str | None:
    """Return what a Xero error body says (validation messages included)."""
    if not isinstance(body, Mapping):
        return None
    messages = []
    for element in body.get("Elements") or []:
        for error in (element or {}).get("ValidationErrors") or []:
            if isinstance(error, Mapping) and error.get("Message"):
                messages.append(str(error["Message"]))
    head = body.get("Message") or body.get("Detail") or body.get("Title")
    if head is None and not messages:
        return None
    kind = body.get("Type")
    text = f"{kind}: {head}" if kind and head else str(head or kind or "error")
    return text + (" — " + "; ".join(messages) if messages else "")


class _XeroVendorApi(VendorApi):
    """VendorApi with Xero's error bodies and rate-limit problems in the messages."""

    def _error(self, response: httpx.Response, doing: str) -> Exception:
        status = response.status_code
        if status == 429:
            problem = (response.headers.get("X-Rate-Limit-Problem") or "").lower()
            error = super()._error(response, doing)
            if problem:
                error.args = (f"{error.args[0]} (the {problem} limit)",)
            return error
        if status == 408 or status >= 500:
            return super()._error(response, doing)
        try:
            detail = error_text(decode_json(response.content)) or response.reason_phrase
        except ValueError:
            detail = " ".join(response.text.split())[:200] or response.reason_phrase
        if status == 401:
            return self.connector.fail(
                f"{doing}: Xero refused the access token even after a refresh (HTTP 401); "
                f"run `billflow connect {self.connector.name}` again", retryable=False)
        return self.connector.fail(f"{doing}: HTTP {status} {' '.join(str(detail).split())[:300]}",
                                   retryable=False)


class XeroApi:
    """Calls to one Xero organisation."""

    def __init__(self, connector: Connector, *, base_url: str, tenant_id: str,
                 tokens: TokenKeeper, requests_per_minute: int, timeout: float) -> None:
        self.connector = connector
        self.tenant_id = tenant_id
        self._api = _XeroVendorApi(
            connector, base_url,
            headers={"Accept": "application/json", "User-Agent": "billflow",
                     "xero-tenant-id": tenant_id},
            bucket=shared_bucket(tenant_id, base_url, requests_per_minute),
            authorize=tokens.authorize, reauthorize=tokens.reauthorize,
            timeout=httpx.Timeout(timeout, connect=min(timeout, 10.0)))

    def get(self, path: str, *, doing: str, params: Mapping[str, str] | None = None,
            headers: Mapping[str, str] | None = None) -> Any:
        return self._call("GET", path, doing, params=dict(params or {}),
                          headers=dict(headers or {}))

    def write(self, method: str, path: str, body: Any, *, doing: str, key: str) -> Any:
        return self._call(method, path, doing, content=encode_json(body),
                          headers={"Content-Type": "application/json", "Idempotency-Key": key})

    def _call(self, method: str, path: str, doing: str, **options: Any) -> Any:
        response = self._api.request(method, path, doing=doing, **options)
        if not response.content:
            return {}
        try:
            return decode_json(response.content)
        except ValueError:
            raise self.connector.fail(f"{doing}: the reply is not JSON (HTTP "
                                      f"{response.status_code})", retryable=True) from None

    def close(self) -> None:
        self._api.close()
