"""Actions: the decisions the engine records before any connector is called.

An action's id is derived from the decision itself (its type and what it is about),
never from a clock or a counter, so a replay of the same events decides the same ids;
connectors use the id as their idempotency key.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Mapping

__all__ = ["Action", "action_id", "ACTION_TYPES", "dump_action"]

ACTION_TYPES = (
    "invoice.drafted", "approval.requested", "approval.reminded", "approval.escalated",
    "invoice.flagged", "invoice.issued", "invoice.voided", "reminder.sent",
    "escalation.triggered", "payment.applied", "payment.unmatched",
)


def action_id(action_type: str, subject: str, *qualifiers: object) -> str:
    """Return the deterministic id of a decision: `type:subject[:qualifier...]`."""
    if not qualifiers:
        return f"{action_type}:{subject}"
    return ":".join([action_type, subject, *map(str, qualifiers)])


@dataclass(frozen=True)
class Action:
    """One decision: what, when (engine time), for whom, which rule, and what caused it.

    `cause` is the event (`event:<id>`) or timer (`timer:<key>@<instant>`) that led to it.
    """

    id: str
    type: str
    at: datetime
    client: str | None  # None only for a payment nobody could attribute
    rule: str
    rules_version: str
    payload: Mapping[str, Any]
    cause: str = ""

    @classmethod
    def decided(cls, id: str, type: str, at: datetime, client: str | None, rule: str,
                rules_version: str, payload: Mapping[str, Any], cause: str) -> "Action":
        """Return Action(id, type, ...), built without the frozen dataclass's field-by-field
        __init__: one is made for every decision, a third of the cost."""
        action = object.__new__(cls)
        action.__dict__.update(id=id, type=type, at=at, client=client, rule=rule,
                               rules_version=rules_version, payload=payload, cause=cause)
        return action

    def as_json(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "id": self.id,
            "type": self.type,
            "at": self.at.isoformat(),
            "client": self.client,
            "rule": self.rule,
            "rules_version": self.rules_version,
        }
        if self.cause:
            body["cause"] = self.cause
        body["payload"] = self.payload
        return body


def dump_action(action: Action) -> str:
    """Serialise one action as a single JSON line, byte-stable across replays."""
    return json.dumps(action.as_json(), ensure_ascii=False, separators=(",", ":"))
