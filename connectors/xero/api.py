"""Xero's Accounting API as the connector calls it.

Every call names the organisation in `xero-tenant-id`; writes carry an `Idempotency-Key`
derived from the action id (Xero answers a repeat with the first reply). Limits are per
organisation (60 a minute, 5 at once, 5000 a day): a 429 names the limit in
X-Rate-Limit-Problem and says when to come back in Retry-After.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any

import httpx

from connectors.base import Connector
from connectors.books_api import BooksApi, account_bucket
from connectors.oauth import TokenKeeper
from connectors.vendor_api import reply_text
from connectors.wire import decode_json, encode_json

__all__ = ["XeroApi", "error_text", "idempotency_key", "xero_error_detail"]

_NAMESPACE = uuid.UUID("0f8e54a2-0b7c-4d35-8c3e-4f1b5a9e6d21")


def idempotency_key(action_id: str, step: str) -> str:
    """Return the Idempotency-Key of one step of one action (stable, 36 characters)."""
    return str(uuid.uuid5(_NAMESPACE, f"{action_id}\n{step}"))


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


def xero_error_detail(response: httpx.Response) -> str | None:
    """Read a refused request's error body, or name the rate limit a 429 hit."""
    status = response.status_code
    if status == 429:
        problem = (response.headers.get("X-Rate-Limit-Problem") or "").lower()
        return f"{reply_text(response)} (the {problem} limit)" if problem else None
    if status == 408 or status >= 500:
        return None
    try:
        detail = error_text(decode_json(response.content)) or response.reason_phrase
    except ValueError:
        detail = reply_text(response)
    return " ".join(str(detail).split())[:300]


class XeroApi(BooksApi):
    """Calls to one Xero organisation."""

    vendor = "Xero"

    def __init__(self, connector: Connector, *, base_url: str, tenant_id: str,
                 tokens: TokenKeeper, requests_per_minute: int, timeout: float) -> None:
        super().__init__(connector, base_url,
                         bucket=account_bucket(tenant_id, base_url, requests_per_minute, burst=5),
                         tokens=tokens, timeout=timeout, headers={"xero-tenant-id": tenant_id},
                         error_detail=xero_error_detail)
        self.tenant_id = tenant_id

    def get(self, path: str, *, doing: str, params: Mapping[str, str] | None = None,
            headers: Mapping[str, str] | None = None) -> Any:
        return self.call("GET", path, doing, params=dict(params or {}),
                         headers=dict(headers or {}))

    def write(self, method: str, path: str, body: Any, *, doing: str, key: str) -> Any:
        return self.call(method, path, doing, content=encode_json(body),
                         headers={"Content-Type": "application/json", "Idempotency-Key": key})
