"""Every action the engine decides matches its published JSON Schema (the contract)."""

from __future__ import annotations

import json
from datetime import date

from jsonschema import Draft202012Validator

from engine.core.replay import read_events, replay
from engine.model.actions import dump_action
from engine.ruleset.loader import load_ruleset
from engine.ruleset.schema_check import SCHEMA_ROOT, schema_registry


def test_every_action_of_the_northwind_year_matches_its_schema() -> None:
    rules = load_ruleset("examples/northwind")
    result = replay(rules, read_events("examples/northwind/events.ndjson"),
                    date(2026, 1, 1), date(2026, 12, 31))
    schema = json.loads((SCHEMA_ROOT / "actions" / "v1" / "action.json").read_text())
    validator = Draft202012Validator(schema, registry=schema_registry())
    types = set()
    for action in result.actions:
        document = json.loads(dump_action(action))
        problems = [error.message for error in validator.iter_errors(document)]
        assert not problems, (action.id, problems)
        types.add(action.type)
    # The year exercises every kind of decision the contract names.
    assert types >= {"invoice.drafted", "approval.requested", "approval.reminded",
                     "approval.escalated", "invoice.flagged", "invoice.issued",
                     "invoice.voided", "reminder.sent", "escalation.triggered",
                     "payment.applied", "payment.unmatched"}
