"""Collections scenarios, one per rule of SPEC §4 after the draft: approval timers, approval,
flags and edits, voids, disputes, reminders, escalation and payments.

The `collections-*` folders beside this file have the billing scenarios' layout (`rules/`,
`events.ndjson`, `scenario.yaml`), so `test_scenarios.py` replays and snapshots each of them
with the rest. The hand-written checks below are registered in that module's `CHECKS`, so
its `test_key_numbers` runs each of them once (an expected failure while the scenario names a
`known_bug`); nothing is replayed or snapshotted twice.

Two things a plain replay cannot show are driven here and snapshotted here:

- `outage: {from: DATE, days: N}` in `scenario.yaml`: the engine is stopped at the start of
  `from` and resumed N days later with `tick(..., resumed=True)`, as the daemon resumes after
  downtime; the events dated inside the outage arrive after the restart.
- `clock: hourly`: the engine clock is woken every hour, as a daemon polling its clock would;
  the decisions must be exactly those of the plain replay.
"""

from __future__ import annotations

import functools
import importlib.util
import json
import sys
from collections import Counter
from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from engine.core.engine import Engine
from engine.core.replay import read_events
from engine.errors import EventError
from engine.model.actions import dump_action
from engine.model.events import Event
from engine.ruleset.loader import load_ruleset
from tests.support.ledger import owed_over_time

HERE = Path(__file__).resolve().parent
PREFIX = "collections-"
_BASE = "tests.scenarios.test_scenarios"  # the name pytest gives test_scenarios.py


def _scenario_module() -> ModuleType:
    """Return test_scenarios.py as pytest imports it (one module, one CHECKS registry)."""
    if _BASE in sys.modules:
        return sys.modules[_BASE]
    # Import it the way pytest does, through the import hooks (assertion rewriting included),
    # under the same name, so pytest finds it in sys.modules and does not import it again.
    for finder in sys.meta_path:
        spec = finder.find_spec(_BASE, [str(HERE)])
        if spec is not None:
            break
    else:  # pragma: no cover - the file is beside this one
        spec = importlib.util.spec_from_file_location(_BASE, HERE / "test_scenarios.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[_BASE] = module
    spec.loader.exec_module(module)
    return module


_base = _scenario_module()
Outcome = _base.Outcome
checks = _base.checks
lines = _base.lines
settings = _base.settings

COLLECTIONS = [name for name in _base.SCENARIOS if name.startswith(PREFIX)]


def test_every_collections_scenario_has_its_checks() -> None:
    assert COLLECTIONS, "no collections scenarios found"
    assert sorted(n for n in _base.CHECKS if n.startswith(PREFIX)) == COLLECTIONS


# --------------------------------------------------------------------------- helpers

def sent(o: Outcome, action_type: str) -> list[tuple[str, str]]:
    """Return (invoice id, at) of every action of a type, in order."""
    return [(invoice_id(a), a["at"]) for a in o.of_type(action_type)]


def invoice_id(action: dict[str, Any]) -> str:
    invoice = action["payload"].get("invoice")
    return invoice["id"] if isinstance(invoice, dict) else invoice


def reminders(o: Outcome) -> list[tuple[str, str, str, str]]:
    """Return (invoice number, step, at, balance) of every reminder, in order."""
    return [(a["payload"]["invoice"]["number"], a["payload"]["step"], a["at"],
             a["payload"]["balance"]) for a in o.of_type("reminder.sent")]


def allocations(o: Outcome) -> dict[str, tuple[list[tuple[str, str]], str, str]]:
    """Return, by payment id, ([(invoice, amount)], credit, rule) of each payment.applied."""
    found = {}
    for action in o.of_type("payment.applied"):
        payload = action["payload"]
        found[payload["payment"]["id"]] = (
            [(row["invoice"], row["amount"]) for row in payload["allocations"]],
            payload["credit"], action["rule"])
    return found


def assert_ids_unique(o: Outcome) -> None:
    repeated = [i for i, n in Counter(a["id"] for a in o.actions).items() if n > 1]
    assert repeated == []


def assert_allocations_add_up(o: Outcome) -> None:
    for action in o.of_type("payment.applied"):
        payload = action["payload"]
        allocated = sum((Decimal(row["amount"]) for row in payload["allocations"]), Decimal(0))
        assert allocated + Decimal(payload["credit"]) == Decimal(payload["payment"]["amount"])


# --------------------------------------------------------------------------- outages and clocks

def _events(name: str) -> tuple[list[Event], list[str]]:
    path = HERE / name / "events.ndjson"
    events, errors = [], []
    for index, item in enumerate(read_events(path)):
        if isinstance(item, EventError):
            errors.append(str(item).replace(str(path), "events.ndjson"))
        else:
            events.append((item.at, index, item))
    return [event for _, _, event in sorted(events, key=lambda t: t[:2])], errors


def _outcome(name: str, actions: list, errors: list[str]) -> Outcome:
    return Outcome(settings(name)["rule"], [json.loads(dump_action(a)) for a in actions], errors)


def _apply(engine: Engine, state, event: Event, actions: list, errors: list[str]) -> None:
    try:
        actions.extend(engine.apply(state, event))
    except EventError as exc:
        errors.append(str(exc).replace(event.origin.rsplit(":", 1)[0], "events.ndjson"))


def replay_with_outage(name: str, down: date, days: int) -> Outcome:
    """Replay a scenario with the engine stopped from the start of `down` for `days` days.

    Events before the outage are applied as in any replay; at the restart the clock jumps
    with `resumed=True` (the daemon's catch-up); events dated inside the outage arrive then,
    late, and the replay goes on to the end of `until`.
    """
    scenario = settings(name)
    rules = load_ruleset(HERE / name / "rules")
    calendar = rules.agency.calendar
    engine = Engine(rules)
    state = engine.new_state(scenario["from"])
    state.clock = calendar.start_of_day(scenario["from"])
    stop = calendar.start_of_day(down)
    restart = calendar.start_of_day(down + timedelta(days=days))
    finish = calendar.start_of_day(scenario["until"] + timedelta(days=1))
    events, errors = _events(name)
    actions: list = []
    before = [e for e in events if e.at < stop]
    after = [e for e in events if stop <= e.at < finish]
    for event in before:
        actions += engine.tick(state, event.at)
        _apply(engine, state, event, actions, errors)
    actions += engine.tick(state, stop, inclusive=False)  # the last moment before the stop
    actions += engine.tick(state, restart, resumed=True)  # the restart catches up once
    for event in after:
        actions += engine.tick(state, max(event.at, restart))
        _apply(engine, state, event, actions, errors)
    actions += engine.tick(state, finish, inclusive=False)
    return _outcome(name, actions, errors)


def replay_hourly(name: str) -> Outcome:
    """Replay a scenario with the clock woken every hour as well as at every event."""
    scenario = settings(name)
    rules = load_ruleset(HERE / name / "rules")
    calendar = rules.agency.calendar
    engine = Engine(rules)
    state = engine.new_state(scenario["from"])
    clock = state.clock = calendar.start_of_day(scenario["from"])
    finish = calendar.start_of_day(scenario["until"] + timedelta(days=1))
    events, errors = _events(name)
    actions: list = []
    pending = [e for e in events if e.at < finish]
    while clock < finish:
        clock = min(clock + timedelta(hours=1), finish)
        while pending and pending[0].at <= clock:
            event = pending.pop(0)
            actions += engine.tick(state, event.at)
            _apply(engine, state, event, actions, errors)
        actions += engine.tick(state, clock, inclusive=clock < finish)
    return _outcome(name, actions, errors)


@functools.cache
def outage_run(name: str) -> Outcome:
    outage = settings(name)["outage"]
    return replay_with_outage(name, outage["from"], outage["days"])


def _outage_params() -> list[Any]:
    return [name for name in COLLECTIONS if "outage" in settings(name)]


def _hourly_params() -> list[Any]:
    return [name for name in COLLECTIONS if settings(name).get("clock") == "hourly"]


@pytest.mark.parametrize("name", _outage_params())
def test_action_stream_after_an_outage(name: str, snapshot) -> None:
    outcome = outage_run(name)
    assert {"rule": outcome.rule, "outage": settings(name)["outage"],
            "actions": outcome.actions, "errors": outcome.errors} == snapshot


@pytest.mark.parametrize("name", _hourly_params())
def test_an_hourly_clock_decides_exactly_what_the_replay_decides(name: str) -> None:
    assert replay_hourly(name).actions == _base.run(name).actions


# --------------------------------------------------------------------------- invariants

def stream_invariants(o: Outcome) -> None:
    """What holds in every collections stream, whatever the scenario is about."""
    assert_ids_unique(o)
    assert_allocations_add_up(o)
    for action, owed in owed_over_time(o.actions):  # what the actions say each invoice owes
        kind, payload = action["type"], action["payload"]
        if kind == "payment.applied":
            for row in payload["allocations"]:
                assert owed[row["invoice"]] >= 0, (action["id"], row)
        elif kind == "reminder.sent":
            invoice = payload["invoice"]["id"]
            assert owed[invoice] > 0, f"{action['id']}: reminded after it was paid or voided"
            assert Decimal(payload["balance"]) == owed[invoice], action["id"]


def _invariant_params() -> list[Any]:
    return [name for name in COLLECTIONS if not settings(name).get("known_bug")]


@pytest.mark.parametrize("name", _invariant_params())
def test_every_collections_stream_is_consistent(name: str) -> None:
    stream_invariants(_base.run(name))


# --------------------------------------------------------------------------- approval

@checks("collections-approval-timers")
def check_approval_timers(o: Outcome) -> None:
    assert sent(o, "approval.reminded") == [
        ("acme/site/design", "2026-03-04T10:00:00-05:00"),
        ("acme/site/build", "2026-03-07T10:00:00-05:00"),
        ("acme/site/launch", "2026-03-11T10:00:00-04:00"),
        ("bolt/launch/all", "2026-03-16T10:00:00-04:00"),   # Fri + 1 business day
    ]
    escalated = [(invoice_id(a), a["at"], a["payload"]["approver"], a["payload"]["escalate_to"])
                 for a in o.of_type("approval.escalated")]
    assert escalated == [
        ("acme/site/build", "2026-03-08T11:00:00-04:00", "lee", "kim"),
        ("acme/site/launch", "2026-03-12T10:00:00-04:00", "lee", "kim"),
        ("bolt/launch/all", "2026-03-17T10:00:00-04:00", "sam", "dana"),
    ]
    # 48 elapsed hours, though the wall clock moved 49 (the clocks went forward on 8 Mar).
    assert (datetime.fromisoformat("2026-03-08T11:00:00-04:00")
            - datetime.fromisoformat("2026-03-06T10:00:00-05:00")) == timedelta(hours=48)
    # discovery approved within 24 h, design flagged within 48 h: their timers stopped.
    assert "acme/site/discovery" not in dict(sent(o, "approval.reminded"))
    assert "acme/site/design" not in dict(sent(o, "approval.escalated"))
    assert {i: d["number"] for i, d in o.issued().items()} == {
        "acme/site/discovery": "TS-2026-0001", "acme/site/build": "TS-2026-0002"}
    assert o.errors == []


@checks("collections-approved")
def check_approved(o: Outcome) -> None:
    issued = {i: (d["number"], d["issue_date"], d["due_date"], d["total"])
              for i, d in o.issued().items()}
    assert issued == {
        # approved by lee, by fran (finance), by kim (the route's escalate_to)
        "acme/site/discovery": ("TS-2026-0001", "2026-03-02", "2026-04-01", "400.00"),
        "acme/site/design": ("TS-2026-0002", "2026-03-03", "2026-04-02", "300.00"),
        "acme/site/build": ("TS-2026-0003", "2026-03-04", "2026-04-03", "200.00"),
    }
    assert sent(o, "invoice.issued") == [
        ("acme/site/discovery", "2026-03-02T12:00:00-05:00"),
        ("acme/site/design", "2026-03-03T15:00:00-05:00"),
        ("acme/site/build", "2026-03-04T18:00:00-05:00"),
    ]
    assert o.of_type("approval.reminded") == [] and o.of_type("approval.escalated") == []
    assert o.errors == [
        "events.ndjson:2: 'ana' may not approve this invoice: it waits on lee",
        "events.ndjson:8: invoice 'acme/site/discovery' is issued, not awaiting approval",
        "events.ndjson:9: unknown invoice 'acme/site/launch'",
    ]


@checks("collections-flagged")
def check_flagged(o: Outcome) -> None:
    [flagged] = o.of_type("invoice.flagged")
    assert flagged["at"] == "2026-03-02T15:00:00-05:00"
    payload = flagged["payload"]
    assert (payload["by"], payload["author"]) == ("fran", "lee")
    assert payload["comment"] == "Discovery ran two weeks over: bill the extra workshop"
    assert payload["invoice"]["status"] == "flagged"
    assert o.of_type("approval.reminded") == [] and o.of_type("approval.escalated") == []
    assert o.issued() == {}
    assert [e.split(": ", 1)[0] for e in o.errors] == [
        "events.ndjson:2", "events.ndjson:4", "events.ndjson:5"]
    assert o.errors[0].startswith("events.ndjson:2: 'ana' may not")
    assert o.errors[1] == ("events.ndjson:4: invoice 'acme/site/discovery' is flagged, "
                           "not awaiting approval")


@checks("collections-adjusted")
def check_adjusted(o: Outcome) -> None:
    requests = [(a["id"].split(":", 1)[1], a["at"], a["payload"]["approver"],
                 a["payload"]["invoice"]["total"]) for a in o.of_type("approval.requested")]
    assert requests == [
        ("acme/site/discovery:r1", "2026-03-02T10:00:00-05:00", "lee", "1650.00"),
        ("acme/site/discovery:r2", "2026-03-02T14:00:00-05:00", "lee", "2200.00"),
        ("acme/site/launch:r1", "2026-03-09T10:00:00-04:00", "lee", "1100.00"),
        # 880.00 would be auto-approved by the route; an edited draft goes to who flagged it.
        ("acme/site/launch:r2", "2026-03-09T13:00:00-04:00", "fran", "880.00"),
    ]
    issued = o.issued()
    assert lines(issued["acme/site/discovery"]) == [
        ("Milestone: Discovery (60% of the 2,500.00 fee)", "1", "1500.00", "1500.00"),
        ("Extra workshop", "2", "250.00", "500.00")]
    assert [issued["acme/site/discovery"][k] for k in ("subtotal", "tax", "total")] == [
        "2000.00", "200.00", "2200.00"]
    assert lines(issued["acme/site/launch"]) == [("Launch, first half", "1", "800.00", "800.00")]
    assert [issued["acme/site/launch"][k] for k in ("subtotal", "tax", "total")] == [
        "800.00", "80.00", "880.00"]
    # Issued only on a person's approval: never in the instant of the edit.
    assert sent(o, "invoice.issued") == [
        ("acme/site/discovery", "2026-03-02T16:00:00-05:00"),
        ("acme/site/launch", "2026-03-11T09:00:00-04:00")]
    assert sent(o, "approval.reminded") == [("acme/site/launch", "2026-03-10T13:00:00-04:00")]
    assert o.errors == [
        "events.ndjson:2: invoice 'acme/site/discovery' is awaiting_approval; only a flagged "
        "draft can be adjusted",
        "events.ndjson:8: invoice 'acme/site/launch' has no line 'Launch' to remove",
        "events.ndjson:9: the adjusted invoice would bill nothing; void it instead",
    ]


# --------------------------------------------------------------------------- voids and disputes

@checks("collections-void-draft")
def check_void_draft(o: Outcome) -> None:
    [voided] = o.of_type("invoice.voided")
    assert voided["at"] == "2026-03-31T15:00:00-04:00"
    invoice = voided["payload"]["invoice"]
    assert (invoice["id"], invoice["number"], invoice["status"], invoice["balance"]) == (
        "acme/adhoc/2026-03-31", None, "voided", "0.00")
    assert o.billed_entries("acme/adhoc/2026-03-31") == ["te-1", "te-2"]
    assert o.billed_entries("acme/adhoc/2026-04-30") == ["te-1", "te-2", "te-3"]
    assert o.drafts()["acme/adhoc/2026-04-30"]["total"] == "600.00"
    assert o.of_type("approval.reminded") == []  # voided 9 hours into lee's 24
    assert {i: d["number"] for i, d in o.issued().items()} == {
        "acme/adhoc/2026-04-30": "TS-2026-0001"}
    assert [e.split(": ", 1)[0] for e in o.errors] == ["events.ndjson:4", "events.ndjson:5"]


@checks("collections-void-issued")
def check_void_issued(o: Outcome) -> None:
    [voided] = o.of_type("invoice.voided")
    invoice = voided["payload"]["invoice"]
    assert (invoice["id"], invoice["number"], invoice["status"], invoice["balance"]) == (
        "acme/adhoc/2026-03-31", "TS-2026-0002", "voided", "0.00")
    assert o.billed_entries("acme/adhoc/2026-04-30") == ["te-1", "te-2", "te-3"]
    assert {i: (d["number"], d["total"]) for i, d in o.issued().items()} == {
        "acme/site/launch": ("TS-2026-0001", "1000.00"),
        "acme/adhoc/2026-03-31": ("TS-2026-0002", "500.00"),
        "acme/adhoc/2026-04-30": ("TS-2026-0003", "600.00"),
    }
    assert "TS-2026-0002" not in {r[0] for r in reminders(o)}
    assert reminders(o) == [
        ("TS-2026-0001", "-3d", "2026-04-21T09:00:00-04:00", "750.00"),
        ("TS-2026-0001", "0d", "2026-04-24T09:00:00-04:00", "750.00"),
        ("TS-2026-0001", "7d", "2026-05-01T09:00:00-04:00", "750.00"),
        ("TS-2026-0003", "-3d", "2026-05-27T09:00:00-04:00", "600.00"),
        ("TS-2026-0003", "0d", "2026-05-30T09:00:00-04:00", "600.00"),
    ]
    assert o.errors == ["events.ndjson:5: invoice 'acme/site/launch' is partly paid; record a "
                        "credit note instead of voiding it"]


@checks("collections-void-milestone-again")
def check_void_milestone_again(o: Outcome) -> None:
    drafted = [(invoice_id(a), a["at"]) for a in o.of_type("invoice.drafted")]
    assert drafted == [("acme/site/launch", "2026-04-20T10:00:00-04:00"),
                       ("acme/site/launch-2", "2026-04-27T10:00:00-04:00")]
    assert [a["payload"]["approver"] for a in o.of_type("approval.requested")] == ["lee", "lee"]
    assert [r[1] for r in sent(o, "approval.reminded")] == ["2026-04-28T10:00:00-04:00"]
    assert [d["number"] for d in o.issued().values()] == ["TS-2026-0001"]
    assert_ids_unique(o)  # each decision must reach the connectors


@checks("collections-dispute")
def check_dispute(o: Outcome) -> None:
    assert reminders(o) == [
        ("TS-2026-0002", "-3d", "2026-03-29T09:00:00-04:00", "2000.00"),
        ("TS-2026-0002", "0d", "2026-04-01T09:00:00-04:00", "2000.00"),
        ("TS-2026-0001", "7d", "2026-04-08T09:00:00-04:00", "1000.00"),
        ("TS-2026-0002", "7d", "2026-04-08T09:00:00-04:00", "2000.00"),
        ("TS-2026-0001", "14d", "2026-04-15T09:00:00-04:00", "1000.00"),
        ("TS-2026-0002", "14d", "2026-04-15T09:00:00-04:00", "2000.00"),
    ]
    escalations = [(invoice_id(a), a["at"], a["payload"]["days_overdue"])
                   for a in o.of_type("escalation.triggered")]
    assert escalations == [("bolt/site/launch", "2026-04-04T00:00:00-04:00", 3),
                           ("acme/site/launch", "2026-04-06T00:00:00-04:00", 5)]
    assert o.errors == ["events.ndjson:4: invoice 'bolt/site/launch' is not disputed"]


# --------------------------------------------------------------------------- reminders

@checks("collections-reminder-cadence")
def check_reminder_cadence(o: Outcome) -> None:
    assert reminders(o) == [
        ("TS-2026-0002", "-3d", "2026-05-17T09:30:00-04:00", "2000.00"),  # a Sunday: calendar days
        ("TS-2026-0001", "-3d", "2026-05-18T09:30:00-04:00", "1000.00"),  # Sun -> Mon
        ("TS-2026-0001", "0d", "2026-05-20T09:30:00-04:00", "1000.00"),
        ("TS-2026-0002", "0d", "2026-05-20T09:30:00-04:00", "2000.00"),
        ("TS-2026-0002", "5d", "2026-05-25T09:30:00-04:00", "2000.00"),   # Memorial Day
        ("TS-2026-0001", "5d", "2026-05-26T09:30:00-04:00", "1000.00"),   # holiday -> Tue
    ]
    assert [(a["payload"]["step"], a["payload"]["template"]) for a in o.of_type("reminder.sent")
            if a["client"] == "acme"] == [
        ("-3d", "friendly_nudge"), ("0d", "due_today"), ("5d", "overdue")]
    assert {i: d["due_date"] for i, d in o.issued().items()} == {
        "acme/site/launch": "2026-05-20", "bolt/site/launch": "2026-05-20"}


@checks("collections-reminder-only-while-open")
def check_reminder_only_while_open(o: Outcome) -> None:
    assert [(n, s) for n, s, _, _ in reminders(o)] == [
        ("TS-2026-0003", "-3d"), ("TS-2026-0004", "-3d"), ("TS-2026-0001", "-3d"),
        ("TS-2026-0002", "-3d"),
        ("TS-2026-0004", "0d"), ("TS-2026-0004", "7d"), ("TS-2026-0004", "14d"),
    ]


@checks("collections-reminder-partial-payment")
def check_reminder_partial_payment(o: Outcome) -> None:
    assert reminders(o) == [
        ("TS-2026-0001", "-3d", "2026-03-29T09:00:00-04:00", "600.00"),
        ("TS-2026-0001", "0d", "2026-04-01T09:00:00-04:00", "100.00"),
        ("TS-2026-0001", "7d", "2026-04-08T09:00:00-04:00", "100.00"),
    ]
    assert [a["payload"]["invoice"]["balance"] for a in o.of_type("reminder.sent")] == [
        "600.00", "100.00", "100.00"]
    assert allocations(o)["pay-2"] == ([("acme/site/launch", "500.00")], "0.00",
                                       "reconciliation#oldest_first")


@checks("collections-reminder-downtime")
def check_reminder_downtime(o: Outcome) -> None:
    # Replayed without the outage, every step goes out on its day (the outage run is below).
    steps = Counter(number for number, _, _, _ in reminders(o))
    assert steps == {"TS-2026-0001": 5, "TS-2026-0003": 5, "TS-2026-0004": 3}
    assert sent(o, "approval.reminded") == [("acme/site/e", "2026-03-27T10:00:00-04:00")]
    assert sent(o, "approval.escalated") == [("acme/site/e", "2026-03-28T10:00:00-04:00")]
    assert sent(o, "escalation.triggered")[0] == ("acme/site/a", "2026-04-12T00:00:00-04:00")


def test_after_downtime_only_the_latest_missed_step_is_sent() -> None:
    o = outage_run("collections-reminder-downtime")
    restart = "2026-04-16T00:00:00-04:00"
    at_restart = [(a["type"], invoice_id(a), a["payload"].get("step"))
                  for a in o.actions if a["at"] == restart]
    assert at_restart == [
        ("approval.escalated", "acme/site/e", None),   # not also its missed reminder
        ("reminder.sent", "acme/site/a", "14d"),       # not -3d, 0d, 7d
        ("reminder.sent", "acme/site/b", "7d"),        # not -3d, 0d
        ("escalation.triggered", "acme/site/a", None),  # one check, for the restart day
    ]
    assert [a["payload"]["days_overdue"] for a in o.of_type("escalation.triggered")] == [15, 11, 11]
    assert reminders(o) == [
        ("TS-2026-0001", "14d", restart, "1000.00"),
        ("TS-2026-0003", "7d", restart, "1000.00"),
        ("TS-2026-0004", "-3d", "2026-04-16T09:00:00-04:00", "1000.00"),
        ("TS-2026-0004", "0d", "2026-04-19T09:00:00-04:00", "1000.00"),
        ("TS-2026-0001", "21d", "2026-04-22T09:00:00-04:00", "1000.00"),
        ("TS-2026-0003", "14d", "2026-04-22T09:00:00-04:00", "1000.00"),
        ("TS-2026-0004", "7d", "2026-04-26T09:00:00-04:00", "1000.00"),
        ("TS-2026-0003", "21d", "2026-04-29T09:00:00-04:00", "1000.00"),
    ]
    assert o.of_type("approval.reminded") == []
    assert o.errors == []
    stream_invariants(o)


@checks("collections-peer-no-reminder-burst")
def check_peer_no_reminder_burst(o: Outcome) -> None:
    # Replayed without the outage: the weekly rhythm, one step and one escalation at a time.
    design = [(s, at) for n, s, at, _ in reminders(o) if n == "TS-2026-0001"]
    assert design == [("0d", "2026-04-01T09:00:00-04:00"), ("7d", "2026-04-08T09:00:00-04:00"),
                      ("14d", "2026-04-15T09:00:00-04:00"), ("21d", "2026-04-22T09:00:00-04:00"),
                      ("28d", "2026-04-29T09:00:00-04:00")]
    fees = [a["payload"]["late_fee_invoice"] for a in o.of_type("escalation.triggered")
            if invoice_id(a) == "acme/site/design" and a["at"] < "2026-05-05"]
    assert fees == ["acme/site/design/late-fee-weekly-fee", "acme/site/design/late-fee-weekly-fee-2",
                    "acme/site/design/late-fee-weekly-fee-3",
                    "acme/site/design/late-fee-weekly-fee-4"]


def test_no_burst_of_reminders_or_escalations_after_an_outage() -> None:
    o = outage_run("collections-peer-no-reminder-burst")
    restart = "2026-05-05T00:00:00-04:00"
    at_restart = Counter(a["type"] for a in o.actions if a["at"] == restart)
    # Two invoices: one reminder, one escalation, one late fee each; not five weeks' worth.
    assert at_restart == {"reminder.sent": 2, "escalation.triggered": 2, "invoice.drafted": 2,
                          "invoice.issued": 2}
    assert [(n, s) for n, s, at, _ in reminders(o) if at == restart] == [
        ("TS-2026-0002", "14d"), ("TS-2026-0001", "28d")]
    escalations = [(invoice_id(a), a["at"], a["payload"]["days_overdue"],
                    a["payload"]["late_fee_invoice"]) for a in o.of_type("escalation.triggered")]
    assert escalations == [
        ("acme/site/build", restart, 20, "acme/site/build/late-fee-weekly-fee"),
        ("acme/site/design", restart, 34, "acme/site/design/late-fee-weekly-fee"),
        ("acme/site/build", "2026-05-12T00:00:00-04:00", 27,
         "acme/site/build/late-fee-weekly-fee-2"),
        ("acme/site/design", "2026-05-12T00:00:00-04:00", 41,
         "acme/site/design/late-fee-weekly-fee-2"),
    ]
    assert reminders(o)[2:] == [
        ("TS-2026-0002", "21d", "2026-05-06T09:00:00-04:00", "1500.00"),
        ("TS-2026-0002", "28d", "2026-05-13T09:00:00-04:00", "1500.00"),
    ]
    stream_invariants(o)


# --------------------------------------------------------------------------- escalation

def escalations(o: Outcome) -> list[tuple[str, str, str, int]]:
    return [(a["payload"]["invoice"]["number"], a["payload"]["rule"], a["at"][:10],
             a["payload"]["days_overdue"]) for a in o.of_type("escalation.triggered")]


@checks("collections-escalation")
def check_escalation(o: Outcome) -> None:
    assert escalations(o) == [
        ("TS-2026-0003", "over-30", "2026-05-02", 31),
        ("TS-2026-0001", "over-30", "2026-05-02", 31),
        ("TS-2026-0003", "over-45-weekly", "2026-05-17", 46),
        ("TS-2026-0001", "over-45-weekly", "2026-05-17", 46),
        ("TS-2026-0003", "over-45-weekly", "2026-05-24", 53),
        ("TS-2026-0001", "over-45-weekly", "2026-05-24", 53),
        ("TS-2026-0001", "over-45-weekly", "2026-05-31", 60),   # TS-2026-0003 paid on 26 May
        ("TS-2026-0001", "over-45-weekly", "2026-06-07", 67),
        ("TS-2026-0001", "over-45-weekly", "2026-06-14", 74),
    ]
    # At the start of the agency's day, New York time.
    assert {a["at"][10:] for a in o.of_type("escalation.triggered")} == {"T00:00:00-04:00"}
    assert {a["payload"]["rule"]: a["payload"]["notify"] for a in o.of_type(
        "escalation.triggered")} == {"over-30": ["lee"], "over-45-weekly": ["fran", "dana"]}
    assert [a["id"] for a in o.of_type("escalation.triggered")][-3:] == [
        "escalation.triggered:acme/site/unpaid:over-45-weekly:3",
        "escalation.triggered:acme/site/unpaid:over-45-weekly:4",
        "escalation.triggered:acme/site/unpaid:over-45-weekly:5"]


@checks("collections-escalation-notify")
def check_escalation_notify(o: Outcome) -> None:
    notified = [(invoice_id(a), a["payload"]["rule"], a["payload"]["notify"])
                for a in o.of_type("escalation.triggered")]
    assert notified == [
        ("acme/site/launch", "team", ["lee", "fran", "dana", "kim"]),
        ("acme/site/launch", "partners", ["dana", "lee"]),
        ("bolt/site/launch", "partners", ["dana", "sam"]),
    ]
    assert {a["at"] for a in o.of_type("escalation.triggered")} == {"2026-04-02T00:00:00-04:00"}


@checks("collections-late-fee")
def check_late_fee(o: Outcome) -> None:
    [escalation] = o.of_type("escalation.triggered")
    assert escalation["at"] == "2026-05-02T00:00:00-04:00"
    assert escalation["payload"]["notify"] == ["lee", "fran", "dana"]
    assert escalation["payload"]["late_fee_invoice"] == "acme/site/launch/late-fee-over-30"
    assert escalation["payload"]["invoice"]["balance"] == "800.00"
    fee = o.drafts()["acme/site/launch/late-fee-over-30"]
    assert [a["payload"]["trigger"] for a in o.of_type("invoice.drafted")] == ["milestone",
                                                                                "late_fee"]
    assert lines(fee) == [("Late fee on invoice TS-2026-0001 (1.5% of the open balance)", "1",
                           "12.00", "12.00")]
    assert (fee["subtotal"], fee["tax"], fee["total"]) == ("12.00", "0.00", "12.00")
    assert o.approvers()["acme/site/launch/late-fee-over-30"] == "fran"
    assert sent(o, "approval.reminded") == [("acme/site/launch/late-fee-over-30",
                                             "2026-05-03T00:00:00-04:00")]
    issued = o.issued()["acme/site/launch/late-fee-over-30"]
    assert (issued["number"], issued["issue_date"], issued["due_date"]) == (
        "TS-2026-0002", "2026-05-04", "2026-06-03")
    assert sent(o, "invoice.issued")[-1] == ("acme/site/launch/late-fee-over-30",
                                             "2026-05-04T10:00:00-04:00")


@checks("collections-late-fee-two-rules")
def check_late_fee_two_rules(o: Outcome) -> None:
    fees = [a["payload"]["invoice"] for a in o.of_type("invoice.issued")
            if a["payload"]["invoice"]["number"] != "TS-2026-0001"]
    assert [(f["number"], f["total"]) for f in fees] == [("TS-2026-0002", "15.00"),
                                                         ("TS-2026-0003", "25.00")]
    assert len({f["id"] for f in fees}) == 2
    [paid] = allocations(o)["pay-fee"][0]
    assert paid == (fees[0]["id"], "15.00")  # the invoice the client quoted
    assert_ids_unique(o)


@checks("collections-peer-late-fee-once")
def check_peer_late_fee_once(o: Outcome) -> None:
    assert escalations(o) == [
        ("TS-2026-0001", "over-30", "2026-05-02", 31),
        ("TS-2026-0002", "weekly", "2026-05-07", 36),
        ("TS-2026-0002", "weekly", "2026-05-14", 43),
        ("TS-2026-0002", "weekly", "2026-05-21", 50),
        ("TS-2026-0002", "weekly", "2026-05-28", 57),
    ]
    fees = {i: d["total"] for i, d in o.drafts().items() if "/late-fee" in i}
    assert fees == {"acme/site/launch/late-fee-over-30": "15.00",
                    "bolt/site/launch/late-fee-weekly": "25.00",
                    "bolt/site/launch/late-fee-weekly-2": "25.00",
                    "bolt/site/launch/late-fee-weekly-3": "25.00",
                    "bolt/site/launch/late-fee-weekly-4": "25.00"}
    # The invoices the hourly wake-ups could have escalated again are still open.
    assert allocations(o)["pay-acme"][0] == [("acme/site/launch", "100.00")]


# --------------------------------------------------------------------------- late issue

@checks("collections-peer-late-issue")
def check_peer_late_issue(o: Outcome) -> None:
    issued = {i: (d["issue_date"], d["due_date"]) for i, d in o.issued().items()}
    assert issued == {"cod/site/launch": ("2026-03-10", "2026-03-10"),
                      "net/site/launch": ("2026-03-10", "2026-04-09"),
                      "eom/site/launch": ("2026-03-30", "2026-03-31")}
    by_number: dict[str, list[tuple[str, str]]] = {}
    for number, step, at, _ in reminders(o):
        by_number.setdefault(number, []).append((step, at[:10]))
    assert by_number == {
        "TS-2026-0001": [("7d", "2026-03-17"), ("14d", "2026-03-24")],           # cod
        "TS-2026-0003": [("0d", "2026-03-31"), ("7d", "2026-04-07"), ("14d", "2026-04-14")],
        "TS-2026-0002": [("-3d", "2026-04-06"), ("0d", "2026-04-09"), ("7d", "2026-04-16"),
                         ("14d", "2026-04-23")],
    }
    # Nothing the day after sending: the first reminder of cod's is a week later.
    assert not any(at.startswith("2026-03-11") for _, _, at, _ in reminders(o))


# --------------------------------------------------------------------------- payments

@checks("collections-pay-reference")
def check_pay_reference(o: Outcome) -> None:
    assert allocations(o) == {
        "pay-1": ([("acme/site/c", "300.00")], "0.00", "reconciliation#reference"),
        "pay-2": ([("acme/site/a", "500.00")], "0.00", "reconciliation#exact_amount"),
        "pay-4": ([("acme/site/b", "300.00")], "50.00", "reconciliation#reference"),
        "pay-5": ([], "300.00", "reconciliation#oldest_first"),
    }
    assert {a["payload"]["payment"]["id"]: a["client"] for a in o.of_type("payment.applied")} == {
        "pay-1": "acme", "pay-2": "acme", "pay-4": "acme", "pay-5": "acme"}
    assert o.of_type("payment.unmatched") == []


@checks("collections-pay-exact-amount")
def check_pay_exact_amount(o: Outcome) -> None:
    assert allocations(o) == {
        "pay-1": ([("acme/site/b", "500.00")], "0.00", "reconciliation#exact_amount"),
        "pay-2": ([("acme/site/c", "500.00")], "0.00", "reconciliation#exact_amount"),
    }


@checks("collections-pay-exact-set")
def check_pay_exact_set(o: Outcome) -> None:
    assert allocations(o) == {
        "pay-1": ([("acme/site/a", "100.00"), ("acme/site/c", "400.00")], "0.00",
                  "reconciliation#exact_set"),
        "pay-2": ([("acme/site/b", "250.00"), ("acme/site/d", "150.00"),
                   ("acme/site/e", "350.00")], "0.00", "reconciliation#exact_set"),
    }


@checks("collections-pay-oldest-first")
def check_pay_oldest_first(o: Outcome) -> None:
    assert allocations(o) == {
        "pay-1": ([("acme/site/a", "400.00"), ("acme/site/b", "250.00")], "0.00",
                  "reconciliation#oldest_first"),
        "pay-2": ([("acme/site/b", "50.00"), ("acme/site/c", "50.00")], "0.00",
                  "reconciliation#oldest_first"),
    }


@checks("collections-pay-credit")
def check_pay_credit(o: Outcome) -> None:
    assert allocations(o) == {
        "pay-1": ([("acme/site/a", "400.00"), ("acme/site/b", "200.00")], "100.00",
                  "reconciliation#oldest_first"),
        "credit:acme/site/c": ([("acme/site/c", "100.00")], "0.00", "reconciliation#credit"),
    }
    [used] = [a for a in o.of_type("payment.applied") if a["payload"]["payment"]["id"].startswith(
        "credit:")]
    assert used["at"] == "2026-03-16T10:00:00-04:00" and used["client"] == "acme"
    assert used["payload"]["payment"]["amount"] == "100.00"
    assert o.issued()["bolt/site/a"]["balance"] == "300.00"  # another client's credit: untouched


@checks("collections-pay-payer")
def check_pay_payer(o: Outcome) -> None:
    assert {p: rows for p, (rows, _, _) in allocations(o).items()} == {
        "pay-client": [("acme/site/a", "100.00")],
        "pay-name": [("acme/site/b", "200.00")],
        "pay-email": [("acme/site/c", "300.00")],
        "pay-quickbooks": [("acme/site/d", "400.00")],
        "pay-harvest": [("acme/site/e", "500.00")],
        "pay-bolt": [("bolt/site/a", "100.00")],
    }
    assert o.of_type("payment.unmatched") == []


@checks("collections-pay-unmatched")
def check_pay_unmatched(o: Outcome) -> None:
    unmatched = {a["payload"]["payment"]["id"]: a["payload"]["reason"]
                 for a in o.of_type("payment.unmatched")}
    assert set(unmatched) == {"pay-globex", "pay-eur", "pay-anon"}
    assert unmatched["pay-globex"].startswith("unknown payer")
    assert unmatched["pay-anon"].startswith("unknown payer")
    assert unmatched["pay-eur"] == "currency EUR matches no open invoice of acme (billed in USD)"
    assert allocations(o) == {
        "pay-globex": ([("acme/site/c", "500.00")], "0.00", "reconciliation#assigned_by:fran"),
        "pay-anon": ([("acme/site/a", "300.00"), ("acme/site/b", "50.00")], "0.00",
                     "reconciliation#assigned_by:fran"),
    }
    assert o.errors == [
        "events.ndjson:7: unknown client 'globex'",
        "events.ndjson:9: invoice 'acme/site/a' is in USD, the payment in EUR",
        "events.ndjson:11: no unmatched payment 'pay-globex'",
    ]


@checks("collections-pay-reference-two-invoices")
def check_pay_reference_two_invoices(o: Outcome) -> None:
    assert allocations(o) == {"pay-acme": (
        [("acme/site/photos", "500.00"), ("acme/site/build", "800.00")], "0.00",
        "reconciliation#reference")}
    assert [(n, at[:10]) for n, _, at, _ in reminders(o)] == [("TS-2026-0001", "2026-04-01")]


@checks("collections-pay-sub-cent-amount")
def check_pay_sub_cent_amount(o: Outcome) -> None:
    assert [e.split(": ", 1)[0] for e in o.errors] == ["events.ndjson:2"]
    assert o.of_type("payment.applied") == [] and o.of_type("payment.unmatched") == []
    assert reminders(o) == [("TS-2026-0001", "7d", "2026-04-08T09:00:00-04:00", "300.00")]


@checks("collections-pay-assigned-by-stranger")
def check_pay_assigned_by_stranger(o: Outcome) -> None:
    assert [e.split(": ", 1)[0] for e in o.errors] == ["events.ndjson:3"]
    assert "mallory" in o.errors[0]
    assert allocations(o) == {"pay-anon": ([("acme/site/a", "300.00")], "0.00",
                                           "reconciliation#assigned_by:fran")}


@checks("collections-peer-overpayment-kept")
def check_peer_overpayment_kept(o: Outcome) -> None:
    assert allocations(o) == {
        "pay-1": ([("acme/site/a", "1000.00")], "200.00", "reconciliation#reference"),
        "credit:acme/site/b": ([("acme/site/b", "150.00")], "0.00", "reconciliation#credit"),
        "credit:acme/site/c": ([("acme/site/c", "50.00")], "0.00", "reconciliation#credit"),
    }
    applied = sum(Decimal(amount) for rows, _, _ in allocations(o).values() for _, amount in rows)
    assert applied == Decimal("1200.00")  # every cent of the payment is on an invoice
    assert reminders(o) == [
        ("TS-2026-0003", "-3d", "2026-04-28T09:00:00-04:00", "450.00"),
        ("TS-2026-0003", "0d", "2026-05-01T09:00:00-04:00", "450.00"),
        ("TS-2026-0003", "7d", "2026-05-08T09:00:00-04:00", "450.00"),
    ]


@checks("collections-peer-one-payment-two-invoices")
def check_peer_one_payment_two_invoices(o: Outcome) -> None:
    assert allocations(o) == {"pay-acme": (
        [("acme/site/design", "1200.00"), ("acme/site/build", "800.00")], "0.00",
        "reconciliation#exact_set")}
    assert [(n, at[:10], balance) for n, _, at, balance in reminders(o)] == [
        ("TS-2026-0001", "2026-04-01", "800.00"),   # bolt's, never considered for acme's money
        ("TS-2026-0003", "2026-04-04", "500.00"),   # photos, not named by the amount
    ]


@checks("collections-peer-paid-no-reminder")
def check_peer_paid_no_reminder(o: Outcome) -> None:
    by_day: dict[str, list[str]] = {}
    for number, _, at, _ in reminders(o):
        by_day.setdefault(at[:10], []).append(number)
    assert by_day == {
        "2026-03-29": ["TS-2026-0002", "TS-2026-0003", "TS-2026-0004", "TS-2026-0005",
                       "TS-2026-0006", "TS-2026-0007"],
        "2026-04-01": ["TS-2026-0003", "TS-2026-0004", "TS-2026-0006", "TS-2026-0007"],
        "2026-04-08": ["TS-2026-0007"],
    }
    assert reminders(o)[-1][3] == "150.00"
    assert {p: rule for p, (_, _, rule) in allocations(o).items()} == {
        "pay-a": "reconciliation#reference", "pay-anon": "reconciliation#assigned_by:fran",
        "pay-b": "reconciliation#exact_amount", "credit:acme/site/f": "reconciliation#credit",
        "pay-cd": "reconciliation#exact_set", "pay-gh": "reconciliation#oldest_first"}
    assert o.issued()["acme/site/f"]["number"] == "TS-2026-0008"


@checks("collections-pay-ambiguous-payer")
def check_pay_ambiguous_payer(o: Outcome) -> None:
    [unmatched] = o.of_type("payment.unmatched")
    assert unmatched["payload"]["payment"]["id"] == "pay-group"
    assert o.of_type("payment.applied") == []
