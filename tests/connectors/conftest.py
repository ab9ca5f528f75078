"""Fixtures for connector tests: the Northwind rule set and real actions from its replay.

The replay keeps only Northwind's work events (time, expenses, milestones): with no approval
and no payment, every draft waits for its approver and every invoice runs its whole reminder
cadence into escalation, so each message-bearing action type occurs. One flag is added, on
the first draft that waits for approval.
"""

from __future__ import annotations

import json
from datetime import date, timedelta
from pathlib import Path

import pytest

from engine.core.replay import read_events, replay
from engine.model.actions import dump_action
from engine.model.events import Event, parse_event
from engine.ruleset.loader import load_ruleset
from engine.ruleset.types import RuleSet

NORTHWIND = Path(__file__).resolve().parents[2] / "examples" / "northwind"
WORK_EVENTS = frozenset({"time.approved", "time.unapproved", "expense.approved",
                         "milestone.completed"})
START, END = date(2026, 1, 1), date(2026, 3, 31)


def quiet_northwind(rules: RuleSet) -> list[dict]:
    """Replay Northwind's work events plus one flag; return the actions as JSON objects."""
    events = [e for e in read_events(NORTHWIND / "events.ndjson")
              if isinstance(e, Event) and e.type in WORK_EVENTS]
    first = replay(rules, events, START, END)
    request = next(a for a in first.actions if a.type == "approval.requested")
    flag = parse_event({
        "id": "test-flag-1", "type": "invoice.flagged",
        "at": (request.at + timedelta(hours=1)).isoformat(),
        "payload": {"invoice": request.payload["invoice"]["id"],
                    "by": request.payload["approver"],
                    "comment": "Please add PO 4471.\nAnd name the campaign."},
    }, "test")
    result = replay(rules, [*events, flag], START, END)
    assert not result.errors
    return [json.loads(dump_action(action)) for action in result.actions]


@pytest.fixture(scope="session")
def rules() -> RuleSet:
    return load_ruleset(NORTHWIND)


@pytest.fixture(scope="session")
def northwind_actions(rules: RuleSet) -> list[dict]:
    return quiet_northwind(rules)


@pytest.fixture(scope="session")
def first_of(northwind_actions: list[dict]):
    """Return the first action of a type, optionally one whose invoice is taxed."""

    def find(action_type: str, *, taxed: bool = False) -> dict:
        for action in northwind_actions:
            invoice = action["payload"].get("invoice") or {}
            if action["type"] == action_type and (not taxed or invoice.get("tax") != "0.00"):
                return action
        raise LookupError(action_type)

    return find
