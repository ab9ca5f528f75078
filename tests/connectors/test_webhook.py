"""The webhook connector: signed JSON POSTs against httpx.MockTransport."""

from __future__ import annotations

import hashlib
import hmac
import json
from datetime import datetime, timezone

import httpx
import pytest

from connectors.base import ConnectorContext, Delivery
from connectors.webhook import WebhookConnector, action_body, sign_body
from engine.errors import ConnectorError

SECRET = "whsec-0123456789"
NOW = datetime(2026, 3, 2, 14, 0, tzinfo=timezone.utc)


def receiver(*replies: httpx.Response):
    requests: list[httpx.Request] = []
    queue = list(replies)

    def handle(request: httpx.Request) -> httpx.Response:
        requests.append(request)
        return queue.pop(0) if queue else httpx.Response(202)

    return handle, requests


def webhook(handler, **config) -> WebhookConnector:
    context = ConnectorContext(clock=lambda: NOW, http_client_factory=lambda **kw: httpx.Client(
        transport=httpx.MockTransport(handler), **kw))
    return WebhookConnector("hook", {"url": "https://erp.example/billflow?token=abc",
                                     "secret": SECRET, **config}, context)


def test_posts_the_action_signed_with_its_idempotency_key(first_of):
    handler, requests = receiver()
    action = first_of("invoice.issued")
    receipt = webhook(handler).deliver(Delivery.of(action))
    [request] = requests
    assert request.method == "POST"
    assert json.loads(request.content) == action
    expected = hmac.new(SECRET.encode(), request.content, hashlib.sha256).hexdigest()
    assert request.headers["X-Billflow-Signature"] == f"sha256={expected}"
    assert request.headers["X-Billflow-Timestamp"] == str(int(NOW.timestamp()))
    assert request.headers["Idempotency-Key"] == action["id"]
    assert request.headers["X-Billflow-Action"] == "invoice.issued"
    assert request.headers["Content-Type"] == "application/json"
    assert receipt.detail == "HTTP 202 from erp.example"


def test_a_retry_sends_the_same_body_and_key(first_of):
    handler, requests = receiver()
    connector = webhook(handler)
    action = first_of("reminder.sent")
    connector.deliver(Delivery.of(action))
    connector.deliver(Delivery.of(action))
    assert requests[0].content == requests[1].content
    assert requests[0].headers["Idempotency-Key"] == requests[1].headers["Idempotency-Key"]


def test_body_is_compact_utf8_json_and_signature_helper_matches():
    delivery = Delivery.of({"id": "a", "type": "invoice.voided",
                            "payload": {"invoice": {"id": "x", "lines": [{"description": "Café — €"}]}}})
    body = action_body(delivery)
    assert body == ('{"id":"a","type":"invoice.voided","payload":{"invoice":{"id":"x","lines":'
                    '[{"description":"Café — €"}]}}}').encode("utf-8")
    assert sign_body("k", b"body") == "sha256=" + hmac.new(b"k", b"body", hashlib.sha256).hexdigest()


def test_429_is_retryable_with_retry_after(first_of):
    handler, _ = receiver(httpx.Response(429, headers={"Retry-After": "12"}))
    with pytest.raises(ConnectorError) as caught:
        webhook(handler).deliver(Delivery.of(first_of("invoice.issued")))
    assert (caught.value.retryable, caught.value.retry_after) == (True, 12.0)


@pytest.mark.parametrize("status, retryable", [(500, True), (502, True), (408, True),
                                               (400, False), (401, False), (404, False),
                                               (422, False)])
def test_status_mapping(first_of, status, retryable):
    handler, _ = receiver(httpx.Response(status, text="nope"))
    with pytest.raises(ConnectorError) as caught:
        webhook(handler).deliver(Delivery.of(first_of("invoice.issued")))
    assert caught.value.retryable is retryable
    assert f"HTTP {status} nope" in str(caught.value)
    assert "token=abc" not in str(caught.value)
    assert SECRET not in str(caught.value)


def test_timeouts_are_retryable(first_of):
    def slow(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("timed out", request=request)

    with pytest.raises(ConnectorError) as caught:
        webhook(slow).deliver(Delivery.of(first_of("invoice.issued")))
    assert caught.value.retryable is True
    assert "timed out" in str(caught.value)


def test_a_bad_url_is_refused_when_built():
    handler, _ = receiver()
    for url in ("ftp://erp.example/x", "erp.example"):
        with pytest.raises(ConnectorError, match="not an http") as caught:
            webhook(handler, url=url)
        assert caught.value.retryable is False
    assert webhook(handler).check() == ("webhook connector 'hook': posts to https://erp.example "
                                        "(not contacted)")


def test_consumes_every_action_type_but_nothing_else(first_of):
    handler, requests = receiver()
    webhook(handler).deliver(Delivery.of(first_of("invoice.drafted")))
    assert len(requests) == 1
    with pytest.raises(ConnectorError):
        webhook(handler).deliver(Delivery.of({"id": "x", "type": "rules.changed", "payload": {}}))
