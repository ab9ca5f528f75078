"""Engine snapshots: exact round trips, and a replay cut anywhere continues byte for byte."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Collection
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from functools import lru_cache
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.core import snapshot
from engine.core.digests import DigestSet
from engine.core.engine import Engine
from engine.core.replay import read_events, replay
from engine.core.snapshot import FORMAT, dump_state, load_state, snapshot_gaps
from engine.core.state import (ApprovalWait, Billable, EngineState, PeriodHours, Payment,
                               RetainerEntry, digest)
from engine.core.timers import TimerQueue
from engine.errors import EventError, StaleSnapshot, StoreError
from engine.model.actions import Action, dump_action
from engine.model.events import Event
from engine.model.invoice import Invoice, make_line
from engine.ruleset.loader import load_ruleset
from engine.ruleset.types import RuleSet

ROOT = Path(__file__).resolve().parents[2]
NORTHWIND = ROOT / "examples" / "northwind"
WORKFLOW_EVENTS = Path(__file__).with_name("fixtures") / "workflow_events.ndjson"
WORK_EVENTS = {"time.approved", "time.unapproved", "expense.approved", "milestone.completed"}
NEW_YORK = ZoneInfo("America/New_York")
EST = timezone(timedelta(hours=-5))
D = Decimal


@lru_cache(maxsize=1)
def northwind_rules() -> RuleSet:
    return load_ruleset(NORTHWIND)


@lru_cache(maxsize=1)
def northwind_events() -> tuple[Event | EventError, ...]:
    return tuple(read_events(NORTHWIND / "events.ndjson"))


@lru_cache(maxsize=1)
def small_history() -> tuple[Event | EventError, ...]:
    """Two months of Northwind's time, expenses and milestones, and a workflow on top.

    The fixture approves, flags, adjusts, disputes and voids invoices, and brings payments
    (by reference, by client, overpaid into credit, unmatched, assigned), so every part of
    the state is in play at some cut.
    """
    early = [e for e in northwind_events() if isinstance(e, Event) and e.at.month < 3
             and e.type in WORK_EVENTS]
    return tuple(early) + tuple(read_events(WORKFLOW_EVENTS))


SMALL_SPAN = (date(2026, 1, 1), date(2026, 3, 31))


def restart(state: EngineState) -> EngineState:
    """Stand in for a daemon restart: the state survives only as its snapshot text."""
    return load_state(dump_state(state))


def drive(rules: RuleSet, events: tuple[Event | EventError, ...], start: date, end: date, *,
          restart_before: Collection[int] = (), pause_at: datetime | None = None,
          ) -> tuple[list[Action], EngineState, list[int]]:
    """Replay as `replay` does, restarting from a snapshot before the given steps.

    Each event is two steps (tick to its time, apply it) and the final tick is the last;
    `pause_at` ticks the clock to that instant before the first step that passes it and
    restarts there, as the daemon does when it commits at "now". Return the actions, the
    final state and how many actions had been decided at each restart.
    """
    calendar = rules.agency.calendar
    engine = Engine(rules)
    state = engine.new_state(start)
    state.clock = calendar.start_of_day(start)
    finish = calendar.start_of_day(end + timedelta(days=1))
    ordered = sorted(((e, i) for i, e in enumerate(events) if isinstance(e, Event)),
                     key=lambda pair: (pair[0].at, pair[1]))
    steps: list[tuple[str, object]] = []
    for event, _ in ordered:
        if event.at < finish:
            steps += [("tick", event.at), ("apply", event)]
    steps.append(("finish", finish))
    actions: list[Action] = []
    cuts: list[int] = []
    for index, (kind, item) in enumerate(steps):
        if pause_at is not None and kind != "apply" and item >= pause_at:  # type: ignore[operator]
            actions += engine.tick(state, pause_at)
            pause_at = None
            state, engine = restart(state), Engine(rules)
            cuts.append(len(actions))
        if index in restart_before:
            state, engine = restart(state), Engine(rules)
            cuts.append(len(actions))
        if kind == "tick":
            actions += engine.tick(state, item)  # type: ignore[arg-type]
        elif kind == "apply":
            try:
                actions += engine.apply(state, item)  # type: ignore[arg-type]
            except EventError:
                pass
        else:
            actions += engine.tick(state, item, inclusive=False)  # type: ignore[arg-type]
    return actions, state, cuts


def lines(actions: list[Action]) -> list[str]:
    return [dump_action(action) for action in actions]


@lru_cache(maxsize=1)
def small_reference() -> tuple[list[str], str]:
    result = replay(northwind_rules(), small_history(), *SMALL_SPAN)
    assert result.state is not None
    rejected = [error.source for error in result.errors]
    assert rejected == [f"{WORKFLOW_EVENTS}:15"], "the workflow fixture no longer fits the Northwind history"
    return lines(result.actions), dump_state(result.state)


def test_public_names() -> None:
    assert set(snapshot.__all__) == {"FORMAT", "dump_state", "load_state", "snapshot_gaps"}


def test_every_field_of_the_state_is_written() -> None:
    assert snapshot_gaps() == ()
    names = {f.name for f in dataclasses.fields(EngineState)}
    assert set(snapshot.STATE_FIELDS) == names
    # The queue is written as its live timers; anything else it kept would be lost.
    assert set(vars(TimerQueue())) == {"_heap", "_live"}


def test_a_field_the_snapshot_misses_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    fields = dict(snapshot.STATE_FIELDS)
    del fields["disputed"]
    monkeypatch.setattr(snapshot, "STATE_FIELDS", fields)
    snapshot.snapshot_gaps.cache_clear()
    try:
        with pytest.raises(StoreError, match="disputed"):
            dump_state(EngineState(go_live=date(2026, 1, 1)))
    finally:
        monkeypatch.undo()
        snapshot.snapshot_gaps.cache_clear()


def billable(key: str, *, kind: str = "time", person: str | None = "zoe") -> Billable:
    return Billable(key, f"ev-{key}", kind, date(2026, 1, 2), "acme-social", person,
                    "designer" if person else None, None, D("1.50"), D("187.50"),
                    "Design", datetime(2026, 1, 5, 10, 0, tzinfo=EST))


def populated_state() -> EngineState:
    """A state with every field set to something other than its default."""
    line = make_line("Retainer", D("1"), D("8000.00"), "USD")
    invoice = Invoice.draft(id="acme/social/2026-01", client="acme", engagement="social",
                            currency="USD", lines=(line, make_line("Hours", D("2.25"),
                                                                   D("120.125"), "USD")),
                            tax_rate=D("8.875"), tax_label="NY sales tax", trigger="schedule",
                            period_start=date(2026, 1, 1), period_end=date(2026, 1, 31),
                            warnings=("cap reached",))
    issued = invoice.replace(status="issued", number="NW-2026-00001",
                             issue_date=date(2026, 2, 1), due_date=date(2026, 3, 3))
    yen = Invoice.draft(id="kumo/brand/2026-01", client="kumo", engagement="brand",
                        currency="JPY", lines=(make_line("Retainer", D("1"), D("1500000"),
                                                         "JPY"),),
                        tax_rate=None, tax_label=None, trigger="schedule")
    state = EngineState(go_live=date(2026, 1, 1))
    state.clock = datetime(2026, 3, 8, 1, 30, tzinfo=NEW_YORK)  # a zone, kept by name
    state.seen_events.add_text("harvest-te-000011")
    state.seen_events.add_text("bank:0001")
    state.put_invoice(issued)
    state.put_invoice(yen)
    state.supporting[issued.id] = (billable("h:1"), billable("x:2", kind="expense", person=None))
    state.awaiting[yen.id] = ApprovalWait("marcus", datetime(2026, 1, 25, 9, 0, 0, 123456,
                                                             tzinfo=timezone.utc),
                                          2, "default", "theo", reminded=True)
    state.flagged_by["acme/adhoc/2026-01-30"] = "marcus"
    state.pool["acme/adhoc"] = {"h:3": billable("h:3"), "h:4": billable("h:4")}
    state.pool_index["h:3"] = "acme/adhoc"
    state.billed_entries.add(digest("harvest:2418300247"))
    state.retainer_hours["acme/social"] = {
        "2026-01": PeriodHours(D("39.62"), D("0"), {}),
        "2026-02": PeriodHours(D("12.0"), D("-0.00"), {"h:5": D("1E+1"), "h:6": D("2.500")})}
    state.retainer_index["h:5"] = RetainerEntry("acme/social", "2026-02", D("1E+1"))
    state.cursors["acme/social"] = (2026, 3)
    state.milestones_done |= {"acme/site/launch", "acme/site/design"}
    state.sequences["2026"] = 130
    state.clients_invoiced |= {"kumo", "acme"}
    state.timers.arm(datetime(2026, 3, 15, 0, 0, tzinfo=EST), "bill", "acme/social")
    state.timers.arm(datetime(2026, 3, 9, 9, 0, tzinfo=EST), "approval", yen.id,
                     key=f"approval:remind:{yen.id}", detail="remind")
    state.timers.arm(datetime(2026, 3, 9, 9, 0, tzinfo=EST), "flush", "acme/adhoc", strict=True)
    state.timers.arm(datetime(2026, 3, 10, 0, 0, tzinfo=EST), "day", "day")
    state.timers.arm(datetime(2026, 3, 20, 0, 0, tzinfo=EST), "day", "day")  # re-armed
    state.credits[("acme", "USD")] = D("500.00")
    state.credits[("kumo", "JPY")] = D("0")
    state.unmatched["wf-013"] = Payment("wf-013", D("99.00"), "EUR", date(2026, 3, 3), None,
                                        "Unbekannt GmbH", None,
                                        datetime(2026, 3, 3, 8, 40, tzinfo=EST))
    state.escalations_fired[issued.id] = {"over-30": (date(2026, 4, 2), 1)}
    state.disputed.add(issued.id)
    state.rules_version = "3f9a0c1d2e4b"
    state.books_closed_through = date(2026, 1, 31)
    state.seen_by_month["2026-02"] = DigestSet([digest("evt-0001")], prefix_bits=12)
    state.closing_entries["2026-01"] = bytearray(digest("harvest:2418300247"))
    return state


def comparable(state: EngineState) -> dict[str, object]:
    values = {f.name: getattr(state, f.name) for f in dataclasses.fields(EngineState)}
    values["timers"] = state.timers.live()
    return values


def test_a_state_with_every_field_set_round_trips_exactly() -> None:
    state = populated_state()
    defaults = comparable(EngineState(go_live=date(2000, 1, 1)))
    unset = [name for name, value in comparable(state).items() if value == defaults[name]]
    assert unset == [], "give populated_state() a value for these fields"
    text = dump_state(state)
    restored = load_state(text)
    assert comparable(restored) == comparable(state)
    assert dump_state(restored) == text  # same digits, same key order, same zones
    assert restored.clock.tzinfo == NEW_YORK
    period = restored.retainer_hours["acme/social"]["2026-02"]
    assert str(period.entries["h:5"]) == "1E+1" and str(period.overage_billed) == "-0.00"
    assert list(restored.pool["acme/adhoc"]) == ["h:3", "h:4"]
    later = datetime(2026, 3, 9, 9, 1, tzinfo=EST)
    assert [restored.timers.next_due(later).kind for _ in range(2)] == ["flush", "approval"]
    assert restored.timers.next_due(later) is None
    assert restored.timers.get("day:day").fire_at == datetime(2026, 3, 20, 0, 0, tzinfo=EST)


def test_the_document_is_versioned_and_readable() -> None:
    document = json.loads(dump_state(populated_state()))
    assert document["format"] == FORMAT == 3
    assert document["layouts"]["Invoice"][:2] == ["id", "client"]
    state = document["state"]
    assert state["go_live"] == "2026-01-01"
    assert state["clock"] == "2026-03-08T01:30:00-05:00[America/New_York]"
    assert state["milestones_done"] == ["acme/site/design", "acme/site/launch"]
    assert state["credits"] == [[["acme", "USD"], "500.00"], [["kumo", "JPY"], "0"]]
    assert [t[2] for t in state["timers"]] == [
        "flush:acme/adhoc", "approval:remind:kumo/brand/2026-01", "bill:acme/social",
        "day:day"]


@pytest.mark.parametrize("change, message", [
    (lambda d: d.update(format=1), "format 1"),
    (lambda d: d.update(format=4), "format 4"),
    (lambda d: d["state"].update(closing_entries={"2026-02": "abc"}), "closing_entries"),
    (lambda d: d.pop("format"), "no 'format'"),
    (lambda d: d["layouts"]["Billable"].append("rate"), "layouts"),
    (lambda d: d["state"].pop("disputed"), "expected"),
    (lambda d: d["state"].update(surprise=1), "surprise"),
    (lambda d: d["state"]["invoices"]["acme/social/2026-01"].__setitem__(5, "lots"), "invoices"),
    (lambda d: d["state"]["cursors"].update({"acme/social": [2026]}), "cursors"),
    (lambda d: d["state"].update(clock="2026-03-08T01:30:00"), "clock"),
    (lambda d: d["state"].update(go_live=20260101), "go_live"),
])
def test_a_foreign_or_damaged_snapshot_is_refused(change, message: str) -> None:
    document = json.loads(dump_state(populated_state()))
    change(document)
    with pytest.raises(StoreError, match=message):
        load_state(json.dumps(document))


def test_text_that_is_not_a_snapshot_is_refused() -> None:
    for text in ("", "[1, 2]", "{\"format\": 1"):
        with pytest.raises(StoreError) as refused:
            load_state(text)
        assert not isinstance(refused.value, StaleSnapshot)


def test_an_older_format_is_stale_and_names_its_go_live() -> None:
    document = json.loads(dump_state(populated_state()))
    document["format"] = 1
    with pytest.raises(StaleSnapshot, match="format 1") as stale:
        load_state(json.dumps(document))
    assert (stale.value.format, stale.value.go_live) == (1, date(2026, 1, 1))
    document["state"] = ["no go-live to read"]
    with pytest.raises(StaleSnapshot) as stale:
        load_state(json.dumps(document))
    assert stale.value.go_live is None


@pytest.mark.parametrize("found", [FORMAT + 1, 0, -1, True, "1", 1.0, None])
def test_a_newer_or_unknown_format_is_refused_not_stale(found: object) -> None:
    document = json.loads(dump_state(populated_state()))
    document["format"] = found
    with pytest.raises(StoreError, match="format") as refused:
        load_state(json.dumps(document))
    assert not isinstance(refused.value, StaleSnapshot)


def test_a_value_that_could_not_come_back_is_refused_on_dump() -> None:
    naive = populated_state()
    naive.clock = datetime(2026, 3, 8, 1, 30)
    with pytest.raises(StoreError, match="clock"):
        dump_state(naive)
    floaty = populated_state()
    floaty.credits[("acme", "USD")] = 500.0  # type: ignore[assignment]
    with pytest.raises(StoreError, match="credits"):
        dump_state(floaty)


@pytest.mark.slow
def test_northwind_year_continues_byte_for_byte_after_a_mid_year_restart() -> None:
    rules = northwind_rules()
    start, end = date(2026, 1, 1), date(2026, 12, 31)
    reference = replay(rules, northwind_events(), start, end)
    cut_at = rules.agency.calendar.start_of_day(date(2026, 7, 1))
    actions, state, (cut,) = drive(rules, northwind_events(), start, end, pause_at=cut_at)
    expected = lines(reference.actions)
    assert 0 < cut < len(expected)
    assert lines(actions[cut:]) == expected[cut:]
    assert lines(actions) == expected
    assert dump_state(state) == dump_state(reference.state)


@settings(max_examples=8, deadline=None)
@given(st.data())
def test_a_restart_anywhere_in_a_history_changes_nothing(data: st.DataObject) -> None:
    expected, final = small_reference()
    events = [e for e in small_history() if isinstance(e, Event)]
    last_step = 2 * len(events)
    restarts = data.draw(st.lists(st.integers(0, last_step), min_size=1, max_size=4,
                                  unique=True), label="restart before steps")
    actions, state, cuts = drive(northwind_rules(), small_history(), *SMALL_SPAN,
                                 restart_before=restarts)
    assert len(cuts) == len(restarts)
    assert lines(actions) == expected
    assert dump_state(state) == final
