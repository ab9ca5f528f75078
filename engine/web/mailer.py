"""Mail a person a link (sign-in) through the Agency's own mail connector.

The connector is the one that carries approval requests (routing `approval.requested`),
if it is an smtp or files connector, else the first such connector the Agency declares:
people receive sign-in links the way they receive approval links. The link is not an
action of the engine: it is not logged in the store, and a failure is not retried (the
person asks again).
"""

from __future__ import annotations

import hashlib
import secrets
from typing import Any

from connectors.base import ConnectorContext, Delivery, Message
from engine.errors import ConnectorError
from engine.ruleset.types import Person, RuleSet

__all__ = ["mail_link", "mail_connector_name", "MAIL_TYPES"]

MAIL_TYPES = ("smtp", "files")
# Connectors carry out engine actions; a personal link rides as the type whose channel it shares.
_CARRIER = "approval.requested"


def mail_connector_name(rules: RuleSet) -> str | None:
    agency = rules.agency
    routed = [name for name in agency.routing.get(_CARRIER, ())
              if name in agency.connectors and agency.connectors[name].type in MAIL_TYPES]
    declared = [name for name, config in agency.connectors.items() if config.type in MAIL_TYPES]
    return (routed or declared or [None])[0]


def mail_link(backend: Any, person: Person, subject: str, body: str) -> str:
    """Send `body` to `person`; return the connector's note. Raise ConnectorError on failure."""
    rules: RuleSet = backend.keeper.active
    name = mail_connector_name(rules)
    if name is None:
        raise ConnectorError("the Agency declares no smtp or files connector to mail links with",
                             retryable=False)
    now = backend.clock.now()
    key = f"signin:{secrets.token_hex(8)}"
    message = Message(
        to=((person.name, person.email),), subject=subject, body=body,
        headers=(("Message-ID", f"<{hashlib.sha256(key.encode()).hexdigest()[:32]}@billflow>"),
                 ("Auto-Submitted", "auto-generated"), ("X-Billflow-Link", "sign-in")))
    action = {"id": key, "type": _CARRIER, "at": now.isoformat(), "client": None,
              "payload": {}}
    connector = backend.registry.build(rules.agency.connectors[name],
                                       ConnectorContext(rules, clock=backend.clock.now))
    try:
        receipt = connector.deliver(Delivery.of(action, message))
    finally:
        connector.close()
    return receipt.detail
