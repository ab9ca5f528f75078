"""What the tests of the books connectors (QuickBooks Online, Xero) share: a movable clock,
a connector maker with stored tokens, issued and voided invoice actions, signed webhooks."""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from datetime import datetime, timedelta, timezone
from decimal import Decimal

from connectors.base import Connector, ConnectorContext
from connectors.oauth import TOKENS_KEY, TokenSet
from connectors.registry import ConnectorRegistry
from connectors.sources import WebhookRequest
from connectors.state import StateBackend
from engine.ruleset.types import ConnectorConfig, RuleSet

NOW = datetime(2026, 3, 2, 14, 0, tzinfo=timezone.utc)


class Clock:
    def __init__(self) -> None:
        self.now = NOW

    def __call__(self) -> datetime:
        return self.now


@contextmanager
def books_connectors(connector_type: type[Connector], rules: RuleSet, vendor, clock: Clock,
                     backend: StateBackend, env: Mapping[str, str], token_life: timedelta
                     ) -> Iterator[Callable[..., Connector]]:
    """Yield a maker of the rules' `books` connector with `options` over it; unless told
    `seed=False`, the tokens `access-0`/`refresh-0` are stored as `billflow connect` leaves
    them. Every connector made is closed afterwards."""
    registry = ConnectorRegistry()
    registry.register(connector_type, connector_type.type)
    made: list[Connector] = []

    def build(*, seed: bool = True, **options) -> Connector:
        config = {**rules.agency.connectors["books"].options, **options}
        context = ConnectorContext(rules, env=env, http_client_factory=vendor.client,
                                   clock=clock, state=backend)
        connector = registry.build(ConnectorConfig("books", connector_type.type, config), context)
        if seed and connector.state.get_secret(TOKENS_KEY) is None:
            connector.tokens.store(TokenSet("access-0", "refresh-0", NOW + token_life))
        made.append(connector)
        return connector

    try:
        yield build
    finally:
        for connector in made:
            connector.close()


def issued(client: str = "acme", number: str = "TS-2026-0001", *, tax: str = "0.00",
           lines=None) -> dict:
    lines = lines or [{"description": "Retainer — March 2026", "quantity": "1",
                       "unit_price": "1500.00", "amount": "1500.00"}]
    subtotal = sum(Decimal(line["amount"]) for line in lines)
    total = subtotal + Decimal(tax)
    invoice = {"id": f"{client}/social/2026-03", "number": number, "status": "issued",
               "client": client, "engagement": "social", "currency": "USD", "lines": lines,
               "subtotal": str(subtotal), "tax": tax, "total": str(total), "balance": str(total),
               "issue_date": "2026-03-02", "due_date": "2026-04-01"}
    return {"id": f"invoice.issued:{invoice['id']}", "type": "invoice.issued",
            "at": "2026-03-02T09:00:00-05:00", "client": client, "payload": {"invoice": invoice}}


def voided(action: dict) -> dict:
    invoice = {**action["payload"]["invoice"], "status": "voided", "balance": "0.00"}
    return {"id": f"invoice.voided:{invoice['id']}", "type": "invoice.voided",
            "at": "2026-03-03T09:00:00-05:00", "client": action["client"],
            "payload": {"invoice": invoice}}


def signed(body: bytes, key: str, header: str, **headers: str) -> WebhookRequest:
    """Return a webhook POST of `body` signed as both vendors sign: base64 HMAC-SHA256."""
    signature = base64.b64encode(hmac.new(key.encode(), body, hashlib.sha256).digest()).decode()
    return WebhookRequest("POST", "", {header: signature, **headers}, body)
