"""The slack connector against a mock incoming webhook (httpx.MockTransport)."""

from __future__ import annotations

import json
from datetime import datetime, timezone

from decimal import Decimal

import httpx
import pytest

from connectors.base import ConnectorContext, Delivery
from connectors.slack import SlackConnector
from engine.errors import ConnectorError
from engine.model.money import display_money
from engine.ruleset.templates import longdate
from engine.runtime.messages import build_delivery

WEBHOOK = "https://hooks.slack.com/services/T000/B000/XXXXsecretXXXX"
NOW = datetime(2026, 3, 2, 14, 0, tzinfo=timezone.utc)


class Webhook:
    """A mock Slack webhook that answers with the queued replies, then 200 ok."""

    def __init__(self, *replies: httpx.Response) -> None:
        self.replies = list(replies)
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        return self.replies.pop(0) if self.replies else httpx.Response(200, text="ok")

    def texts(self) -> list[str]:
        return [json.loads(request.content)["text"] for request in self.requests]


def slack(rules, webhook: Webhook, **config) -> SlackConnector:
    context = ConnectorContext(rules, clock=lambda: NOW, http_client_factory=lambda **kw: httpx.Client(
        transport=httpx.MockTransport(webhook), **kw))
    return SlackConnector("chat", {"webhook_url": WEBHOOK, "channel": "#billing", **config}, context)


def amount(invoice: dict, key: str) -> str:
    return f"{display_money(Decimal(invoice[key]), invoice['currency'])} {invoice['currency']}"


def client_name(rules, action: dict) -> str:
    return rules.clients[action["client"]].name.replace("&", "&amp;")


def person(rules, action: dict, key: str) -> str:
    return rules.agency.people[action["payload"][key]].name


def test_posts_the_invoice_number_and_amount(rules, first_of):
    webhook = Webhook()
    action = first_of("invoice.issued", taxed=True)
    invoice = action["payload"]["invoice"]
    receipt = slack(rules, webhook).deliver(build_delivery(rules, action))
    [request] = webhook.requests
    assert str(request.url) == WEBHOOK
    assert request.headers["content-type"] == "application/json"
    [text] = webhook.texts()
    assert text == (f"Invoice *{invoice['number']}* sent to {client_name(rules, action)}: "
                    f"*{amount(invoice, 'total')}*, due {longdate(invoice['due_date'])}")
    assert receipt.detail == "posted to #billing"


def test_approval_posts_carry_the_link(rules, first_of):
    webhook = Webhook()
    action = first_of("approval.requested")
    delivery = build_delivery(rules, action, approval_url=lambda i, r, p: f"https://bill.example/a/{r}")
    slack(rules, webhook).deliver(delivery)
    [text] = webhook.texts()
    assert text.startswith(f"Approval needed from {person(rules, action, 'approver')}: "
                           f"{client_name(rules, action)} draft")
    assert f"*{amount(action['payload']['invoice'], 'total')}*" in text
    assert text.endswith(" <https://bill.example/a/1|Open>")


def sentence(rules, action: dict) -> str:
    """Return the words each action type's post must contain."""
    invoice, payload = action["payload"]["invoice"], action["payload"]
    kind, client = action["type"], client_name(rules, action)
    if kind == "approval.reminded":
        return f"is still waiting for {person(rules, action, 'approver')}"
    if kind == "approval.escalated":
        return f"Escalated to {person(rules, action, 'escalate_to')}: {client} draft"
    if kind == "reminder.sent":
        return (f"Payment reminder ({payload['step']}) sent to {client} for invoice "
                f"*{invoice['number']}*: {amount(invoice, 'balance')} open")
    return (f"Invoice *{invoice['number']}* for {client} is {payload['days_overdue']} days "
            f"overdue: {amount(invoice, 'balance')} open")


@pytest.mark.parametrize("action_type", ["approval.reminded", "approval.escalated",
                                         "reminder.sent", "escalation.triggered"])
def test_every_consumed_type_has_a_sentence(rules, first_of, action_type):
    webhook = Webhook()
    action = first_of(action_type)
    slack(rules, webhook).deliver(Delivery.of(action))
    assert sentence(rules, action) in webhook.texts()[0]


def test_flagged_drafts_quote_the_comment(rules, first_of):
    webhook = Webhook()
    action = first_of("invoice.flagged")
    action = {**action, "payload": {**action["payload"], "comment": "Use <the> PO number"}}
    slack(rules, webhook).deliver(Delivery.of(action))
    assert (f"flagged for edits by {person(rules, action, 'by')}: "
            "\u201cUse &lt;the&gt; PO number\u201d") in webhook.texts()[0]


def test_429_is_retryable_with_its_retry_after(rules, first_of):
    webhook = Webhook(httpx.Response(429, headers={"Retry-After": "30"}, text="rate_limited"))
    with pytest.raises(ConnectorError) as caught:
        slack(rules, webhook).deliver(Delivery.of(first_of("invoice.issued")))
    assert caught.value.retryable is True
    assert caught.value.retry_after == 30.0


@pytest.mark.parametrize("status, body", [(500, "rollup_error"), (503, "")])
def test_5xx_is_retryable(rules, first_of, status, body):
    webhook = Webhook(httpx.Response(status, text=body))
    with pytest.raises(ConnectorError) as caught:
        slack(rules, webhook).deliver(Delivery.of(first_of("invoice.issued")))
    assert caught.value.retryable is True
    assert caught.value.retry_after is None


@pytest.mark.parametrize("status, body", [(400, "invalid_payload"), (403, "action_prohibited"),
                                          (404, "channel_not_found"), (410, "channel_is_archived")])
def test_other_4xx_is_permanent_and_says_why_without_the_url(rules, first_of, status, body):
    webhook = Webhook(httpx.Response(status, text=body))
    with pytest.raises(ConnectorError) as caught:
        slack(rules, webhook).deliver(Delivery.of(first_of("invoice.issued")))
    assert caught.value.retryable is False
    assert f"HTTP {status} {body}" in str(caught.value)
    assert "XXXXsecretXXXX" not in str(caught.value)


def test_no_reply_is_retryable_and_hides_the_url(rules, first_of):
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError(f"cannot reach {request.url}", request=request)

    context = ConnectorContext(rules, http_client_factory=lambda **kw: httpx.Client(
        transport=httpx.MockTransport(refuse), **kw))
    connector = SlackConnector("chat", {"webhook_url": WEBHOOK}, context)
    with pytest.raises(ConnectorError) as caught:
        connector.deliver(Delivery.of(first_of("invoice.issued")))
    assert caught.value.retryable is True
    assert "XXXXsecretXXXX" not in str(caught.value)


def test_unconsumed_types_are_refused(rules, first_of):
    with pytest.raises(ConnectorError) as caught:
        slack(rules, Webhook()).deliver(Delivery.of(first_of("invoice.drafted")))
    assert caught.value.retryable is False


def test_check_validates_the_url_without_posting(rules):
    webhook = Webhook()
    assert "not contacted" in slack(rules, webhook).check()
    assert webhook.requests == []
    with pytest.raises(ConnectorError, match="not an https URL"):
        slack(rules, webhook, webhook_url="http://example.test/hook").check()
