"""The `webhook` connector: POST each action as JSON, signed, with the action id as the key.

Request:
    body                    the action object, compact JSON (UTF-8)
    X-Billflow-Signature    sha256=<hex HMAC-SHA256 of the raw body, keyed with `secret`>
    X-Billflow-Timestamp    Unix seconds at sending (receivers may refuse stale requests)
    X-Billflow-Action       the action type
    Idempotency-Key         the action id: the same on every retry

Any 2xx is success. 429 (honouring Retry-After), 408 and 5xx are retryable; other 4xx are
permanent; no reply at all (refused, reset, timed out) is retryable.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from urllib.parse import urlsplit

import httpx

from connectors.base import (
    Connector, ConnectorContext, Delivery, DeliveryReceipt, http_status_error, http_transport_error,
)

__all__ = ["WebhookConnector", "sign_body", "action_body"]

_DEFAULT_TIMEOUT = 10.0


def action_body(delivery: Delivery) -> bytes:
    """Return the request body: the action as compact UTF-8 JSON."""
    return json.dumps(_plain(delivery.action), ensure_ascii=False,
                      separators=(",", ":")).encode("utf-8")


def _plain(value: object) -> object:
    """Return `value` with read-only mappings turned into dicts, so json can write it."""
    if hasattr(value, "items"):
        return {str(key): _plain(item) for key, item in value.items()}  # type: ignore[attr-defined]
    if isinstance(value, (list, tuple)):
        return [_plain(item) for item in value]
    return value


def sign_body(secret: str, body: bytes) -> str:
    """Return the X-Billflow-Signature value for `body`."""
    digest = hmac.new(secret.encode("utf-8"), body, hashlib.sha256).hexdigest()
    return f"sha256={digest}"


class WebhookConnector(Connector):
    """POST every action it receives to one URL."""

    type = "webhook"
    consumes = frozenset({
        "invoice.drafted", "approval.requested", "approval.reminded", "approval.escalated",
        "invoice.issued", "invoice.voided", "invoice.flagged", "reminder.sent",
        "escalation.triggered", "payment.applied", "payment.unmatched",
    })
    produces = frozenset()

    def __init__(self, name: str, config, context: ConnectorContext) -> None:
        super().__init__(name, config, context)
        self.url = str(config["url"])
        parts = urlsplit(self.url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise self.fail("url is not an http(s) URL", retryable=False)
        self.secret = str(config["secret"])
        context.mark_secret(self.secret)
        self.timeout = self.number_option("timeout", _DEFAULT_TIMEOUT, float)
        self._client: httpx.Client | None = None

    @property
    def client(self) -> httpx.Client:
        if self._client is None:
            self._client = self.context.http_client(timeout=self.timeout)
        return self._client

    @property
    def host(self) -> str:
        # Only the host is ever shown: paths and queries of webhook URLs often hold tokens.
        return urlsplit(self.url).hostname or "the webhook"

    def deliver(self, delivery: Delivery) -> DeliveryReceipt:
        """POST the action, signed."""
        self.require_consumed(delivery)
        body = action_body(delivery)
        headers = {
            "Content-Type": "application/json",
            "User-Agent": "billflow",
            "X-Billflow-Signature": sign_body(self.secret, body),
            "X-Billflow-Timestamp": str(int(self.context.now().timestamp())),
            "X-Billflow-Action": delivery.type,
            "Idempotency-Key": delivery.idempotency_key,
        }
        doing = f"posting {delivery.idempotency_key} to {self.host}"
        try:
            response = self.client.post(self.url, content=body, headers=headers)
        except (httpx.HTTPError, httpx.InvalidURL) as exc:
            raise http_transport_error(self, exc, doing) from None
        if not response.is_success:
            raise http_status_error(self, response, doing)
        self.log.info("%s: HTTP %s from %s", delivery.idempotency_key, response.status_code,
                      self.host)
        return DeliveryReceipt(external_id=None,
                               detail=f"HTTP {response.status_code} from {self.host}")

    def check(self) -> str:
        """Report where actions go; posting a test action could set off the receiver's side effects."""
        parts = urlsplit(self.url)
        return (f"webhook connector '{self.name}': posts to {parts.scheme}://{parts.hostname} "
                f"(not contacted)")

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None
