"""The `slack` connector: a one-line notification per action, posted to an incoming webhook.

Slack answers 200 `ok` on success. A 429 (with Retry-After) and any 5xx are retryable; any
other 4xx (`invalid_payload`, `channel_not_found`, `channel_is_archived`, a revoked URL) is
permanent. The webhook URL is the credential: it never appears in a log line or an error.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any
from urllib.parse import urlsplit

import httpx

from connectors.base import (
    MESSAGE_ACTION_TYPES, Connector, ConnectorContext, Delivery, DeliveryReceipt,
    http_status_error, http_transport_error,
)
from engine.model.money import display_money
from engine.ruleset.templates import longdate

__all__ = ["SlackConnector", "slack_text"]

_TIMEOUT = 10.0


def _escape(text: object) -> str:
    """Escape the three characters Slack's mrkdwn treats as markup."""
    return str(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


class _Names:
    """Turn client and person ids into names, when the rule set knows them."""

    def __init__(self, context: ConnectorContext) -> None:
        self.rules = context.rules

    def client(self, client_id: object) -> str:
        client = self.rules.clients.get(str(client_id)) if self.rules else None
        return client.name if client else str(client_id)

    def person(self, person_id: object) -> str:
        person = self.rules.agency.people.get(str(person_id)) if self.rules else None
        return person.name if person else str(person_id)


def _amount(invoice: Mapping[str, Any], key: str) -> str:
    currency = str(invoice["currency"])
    return f"{display_money(Decimal(str(invoice[key])), currency)} {currency}"


def slack_text(delivery: Delivery, names: _Names) -> str:
    """Return the notification for one action, in Slack mrkdwn."""
    payload, invoice = delivery.payload, delivery.invoice or {}
    e = _escape
    client = e(names.client(delivery.action.get("client") or invoice.get("client")))
    number = e(invoice.get("number") or invoice.get("id", ""))
    draft = e(invoice.get("id", ""))
    due = f", due {longdate(invoice['due_date'])}" if invoice.get("due_date") else ""
    kind = delivery.type
    if kind == "approval.requested":
        text = (f"Approval needed from {e(names.person(payload['approver']))}: {client} draft "
                f"`{draft}` for *{_amount(invoice, 'total')}*")
    elif kind == "approval.reminded":
        text = (f"Reminder: {client} draft `{draft}` ({_amount(invoice, 'total')}) is still "
                f"waiting for {e(names.person(payload['approver']))}")
    elif kind == "approval.escalated":
        text = (f"Escalated to {e(names.person(payload['escalate_to']))}: {client} draft "
                f"`{draft}` ({_amount(invoice, 'total')}) has waited too long for "
                f"{e(names.person(payload['approver']))}")
    elif kind == "invoice.issued":
        text = f"Invoice *{number}* sent to {client}: *{_amount(invoice, 'total')}*{due}"
    elif kind == "reminder.sent":
        text = (f"Payment reminder ({e(payload.get('step', ''))}) sent to {client} for invoice "
                f"*{number}*: {_amount(invoice, 'balance')} open{due}")
    elif kind == "escalation.triggered":
        days = payload.get("days_overdue")
        late = f" is {days} days overdue" if days is not None else " is overdue"
        text = (f":rotating_light: Invoice *{number}* for {client}{late}: "
                f"{_amount(invoice, 'balance')} open")
        if payload.get("late_fee_invoice"):
            text += f"; late-fee draft `{e(payload['late_fee_invoice'])}` sent for approval"
    elif kind == "invoice.flagged":
        text = (f"{client} draft `{draft}` was flagged for edits by "
                f"{e(names.person(payload['by']))}: \u201c{e(payload.get('comment', ''))}\u201d")
    else:
        text = f"{e(kind)}: {client} `{draft}`"
    if delivery.link:
        text += f" <{delivery.link}|Open>"
    return text


class SlackConnector(Connector):
    """Post a short notification for each action to a Slack incoming webhook."""

    type = "slack"
    consumes = MESSAGE_ACTION_TYPES
    produces = frozenset()

    def __init__(self, name: str, config, context: ConnectorContext) -> None:
        super().__init__(name, config, context)
        self.webhook_url = str(config["webhook_url"])
        context.mark_secret(self.webhook_url)
        if urlsplit(self.webhook_url).scheme not in ("http", "https"):
            raise self.fail("webhook_url is not an http(s) URL", retryable=False)
        self.channel = config.get("channel")
        self._client: httpx.Client | None = None
        self._names = _Names(context)

    @property
    def client(self) -> httpx.Client:
        if self._client is None:
            self._client = self.context.http_client(timeout=_TIMEOUT)
        return self._client

    def _where(self) -> str:
        return f"#{str(self.channel).lstrip('#')}" if self.channel else "Slack"

    def deliver(self, delivery: Delivery) -> DeliveryReceipt:
        """Post the action's notification."""
        self.require_consumed(delivery)
        doing = f"posting {delivery.idempotency_key} to {self._where()}"
        try:
            response = self.client.post(self.webhook_url,
                                        json={"text": slack_text(delivery, self._names)})
        except (httpx.HTTPError, httpx.InvalidURL) as exc:
            raise http_transport_error(self, exc, doing) from None
        if not response.is_success:
            raise http_status_error(self, response, doing)
        self.log.info("%s: posted to %s", delivery.idempotency_key, self._where())
        return DeliveryReceipt(external_id=None, detail=f"posted to {self._where()}")

    def check(self) -> str:
        """Check the webhook URL's form; Slack offers no way to test it without posting."""
        parts = urlsplit(self.webhook_url)
        if parts.scheme != "https" or not parts.netloc or not parts.path.strip("/"):
            raise self.fail("webhook_url is not an https URL", retryable=False)
        return (f"slack connector '{self.name}': webhook for {self._where()} on {parts.hostname} "
                f"(not contacted: an incoming webhook cannot be tested without posting)")

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None
