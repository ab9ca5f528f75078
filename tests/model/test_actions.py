"""Actions: deterministic ids, and the fast constructor the engine uses is the same value."""

from __future__ import annotations

import dataclasses
from datetime import datetime, timedelta, timezone

from engine.model.actions import Action, action_id, dump_action

EST = timezone(timedelta(hours=-5))


def test_an_action_id_is_its_type_subject_and_qualifiers() -> None:
    assert action_id("invoice.issued", "acme/social/2026-03") == "invoice.issued:acme/social/2026-03"
    assert action_id("reminder.sent", "acme/social/2026-03", "+7d") == \
        "reminder.sent:acme/social/2026-03:+7d"
    assert action_id("escalation.triggered", "x", "late", 2) == "escalation.triggered:x:late:2"


def test_decided_builds_the_same_frozen_value_as_the_constructor() -> None:
    fields = dict(id="invoice.issued:acme/social/2026-03", type="invoice.issued",
                  at=datetime(2026, 3, 2, 9, 0, tzinfo=EST), client="acme",
                  rule="clients/acme.yaml#/engagements/0", rules_version="abc123",
                  payload={"number": "NW-2026-000001"}, cause="event:approval-1")
    fast, slow = Action.decided(**fields), Action(**fields)
    assert fast == slow and repr(fast) == repr(slow)
    assert dump_action(fast) == dump_action(slow)
    assert dataclasses.asdict(fast) == dataclasses.asdict(slow)
    try:
        fast.client = "other"  # type: ignore[misc]
    except dataclasses.FrozenInstanceError:
        pass
    else:  # pragma: no cover - the assertion below explains
        raise AssertionError("an action built by decided() must stay frozen")
