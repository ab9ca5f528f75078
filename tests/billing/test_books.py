"""Closing the books: work dated in a closed month is refused, and its ids are forgotten."""

from __future__ import annotations

import shutil
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import pytest

from engine.core.engine import Engine
from engine.core.snapshot import dump_state, load_state
from engine.core.state import EngineState, digest
from engine.core.timers import utc
from engine.errors import EventError, RuleSetInvalid
from engine.model.events import Event, parse_event
from engine.ruleset.loader import load_ruleset

NORTHWIND = Path(__file__).resolve().parents[2] / "examples" / "northwind"
GO_LIVE = date(2026, 1, 1)


def rules_with(tmp_path: Path, setting: str | None):
    folder = tmp_path / "rules"
    shutil.copytree(NORTHWIND, folder, ignore=shutil.ignore_patterns("events.ndjson", "*.py"))
    agency = folder / "agency.yaml"
    if setting is not None:
        text = agency.read_text(encoding="utf-8")
        agency.write_text(text.replace("  go_live: 2026-01-01",
                                       f"  go_live: 2026-01-01\n  books_close_after: {setting}"),
                          encoding="utf-8")
    return load_ruleset(folder)


@pytest.fixture
def closing(tmp_path: Path):
    return rules_with(tmp_path, "30d")


def time_entry(n: int, day: str, at: str, *, billable: bool = True,
               project: str = "atlas-outfitters-adhoc", source: str | None = None) -> Event:
    return parse_event({
        "id": f"te-{n}", "type": "time.approved", "at": at,
        "payload": {"client": "atlas-outfitters", "project": project, "person": "leo",
                    "role": "designer", "date": day, "hours": "2.5", "billable": billable,
                    "task": "Revisions", "source_id": source or f"harvest:{n}"}}, f"events:{n}")


def run(engine: Engine, state: EngineState, events: list[Event], until: datetime) -> list:
    """Apply the events in order, ticking the clock up to each, then up to `until`."""
    actions = []
    for event in events:
        actions += engine.tick(state, event.at)
        actions += engine.apply(state, event)
    actions += engine.tick(state, until)
    return actions


def at(text: str) -> datetime:
    return utc(datetime.fromisoformat(text))


def test_a_month_closes_its_set_time_after_it_ends(closing) -> None:
    engine = Engine(closing)
    state = engine.new_state(GO_LIVE)
    assert state.books_closed_through == date(2025, 12, 31)
    # January ends on the 31st: 30 days later is 2 March, whose day starts at 05:00 UTC.
    engine.tick(state, at("2026-03-02T04:59:00+00:00"))
    assert state.books_closed_through == date(2025, 12, 31)
    engine.tick(state, at("2026-03-02T05:00:00+00:00"))
    assert state.books_closed_through == date(2026, 1, 31)
    # 28 February + 30 days is 30 March, after the switch to summer time (04:00 UTC).
    engine.tick(state, at("2026-03-30T03:59:00+00:00"))
    assert state.books_closed_through == date(2026, 1, 31)
    engine.tick(state, at("2026-03-30T04:00:00+00:00"))
    assert state.books_closed_through == date(2026, 2, 28)


def test_time_dated_in_a_closed_month_is_refused_and_changes_nothing(closing) -> None:
    engine = Engine(closing)
    state = engine.new_state(GO_LIVE)
    run(engine, state, [], at("2026-03-10T12:00:00+00:00"))
    before = dump_state(state)
    late = time_entry(1, "2026-01-20", "2026-03-10T12:00:00+00:00")
    with pytest.raises(EventError) as refused:
        engine.apply(state, late)
    assert str(refused.value) == (
        "events:1: 'harvest:1' is dated 2026-01-20, and the books are closed through "
        "2026-01-31: billflow no longer bills that month; if this is new work, invoice it by hand")
    assert dump_state(state) == before  # not even its id is kept: a fix may be resent


def test_work_that_bills_nothing_in_a_closed_month_is_ignored_and_not_remembered(closing) -> None:
    engine = Engine(closing)
    state = engine.new_state(GO_LIVE)
    run(engine, state, [], at("2026-03-10T12:00:00+00:00"))
    seen = len(state.seen_events)
    assert engine.apply(state, time_entry(2, "2026-01-20", "2026-03-10T12:00:00+00:00",
                                          billable=False)) == []
    assert len(state.seen_events) == seen and not state.seen_by_month


def test_closing_forgets_the_ids_of_the_month_and_keeps_the_open_ones(closing) -> None:
    engine = Engine(closing)
    state = engine.new_state(GO_LIVE)
    january = [time_entry(n, "2026-01-1%d" % n, "2026-01-2%dT15:00:00+00:00" % n)
               for n in range(1, 4)]
    february = [time_entry(n, "2026-02-0%d" % (n - 3), "2026-02-1%dT15:00:00+00:00" % n)
                for n in range(4, 6)]
    actions = run(engine, state, january + february, at("2026-02-20T12:00:00+00:00"))
    drafted = [a for a in actions if a.type == "invoice.drafted"
               and a.payload["invoice"]["id"].startswith("atlas-outfitters/adhoc/")]
    assert [len(a.payload["supporting"]["time"]) for a in drafted] == [3]  # January's
    # January's 3 events and 3 billed entries, February's 2 events, by month.
    assert {month: len(ids) for month, ids in state.seen_by_month.items()} == {
        "2026-01": 3, "2026-02": 2}
    assert {month: len(log) // 8 for month, log in state.closing_entries.items()} == {
        "2026-01": 3}
    assert digest("harvest:1") in state.billed_entries
    run(engine, state, [], at("2026-03-05T12:00:00+00:00"))  # January closed on 2 March
    assert state.books_closed_through == date(2026, 1, 31)
    # February's two entries were billed on its last business day; February is open.
    assert {month: len(log) // 8 for month, log in state.closing_entries.items()} == {
        "2026-02": 2}
    assert list(state.seen_by_month) == ["2026-02"]
    assert digest("harvest:1") not in state.billed_entries
    assert digest("te-4") in state.seen_by_month["2026-02"]  # February is still open
    # A repeat of a January entry is refused by its date, not billed again.
    with pytest.raises(EventError, match="closed through 2026-01-31"):
        engine.apply(state, time_entry(1, "2026-01-11", "2026-03-05T12:00:00+00:00"))


def test_an_entry_billed_in_an_open_month_is_still_billed_once(closing) -> None:
    engine = Engine(closing)
    state = engine.new_state(GO_LIVE)
    first = time_entry(1, "2026-02-03", "2026-02-04T15:00:00+00:00")
    again = time_entry(9, "2026-02-03", "2026-03-03T15:00:00+00:00", source="harvest:1")
    actions = run(engine, state, [first, again], at("2026-03-31T23:00:00+00:00"))
    billed = [row["source_id"] for a in actions if a.type == "invoice.drafted"
              for row in a.payload["supporting"]["time"]]
    assert billed == ["harvest:1"]


def test_without_the_setting_nothing_closes_and_nothing_is_logged(tmp_path: Path) -> None:
    rules = rules_with(tmp_path, None)
    engine = Engine(rules)
    state = engine.new_state(GO_LIVE)
    run(engine, state, [time_entry(1, "2026-01-12", "2026-01-13T15:00:00+00:00")],
        at("2026-06-01T12:00:00+00:00"))
    assert state.books_closed_through is None
    assert not state.seen_by_month and not state.closing_entries
    assert digest("harvest:1") in state.billed_entries
    engine.apply(state, time_entry(2, "2026-01-20", "2026-06-01T12:00:00+00:00"))
    assert "harvest:2" in state.pool_index  # late hours are never lost


def test_a_snapshot_between_closings_continues_exactly(closing) -> None:
    events = [time_entry(n, f"2026-0{1 + n % 3}-1{n % 10}", f"2026-0{2 + n % 3}-0{1 + n % 9}T15:00:00+00:00")
              for n in range(1, 10)]
    events.sort(key=lambda e: e.at)
    engine = Engine(closing)
    whole = engine.new_state(GO_LIVE)
    straight = run(engine, whole, events, at("2026-07-01T12:00:00+00:00"))
    halved = engine.new_state(GO_LIVE)
    first = run(engine, halved, events[:5], events[5].at)
    resumed = load_state(dump_state(halved))
    second = run(engine, resumed, events[5:], at("2026-07-01T12:00:00+00:00"))
    assert [a.id for a in first + second] == [a.id for a in straight]
    assert dump_state(resumed) == dump_state(whole)
    loaded = load_state(dump_state(halved))
    assert loaded.seen_by_month and all(ids.prefix_bits == 12
                                        for ids in loaded.seen_by_month.values())


def test_turning_the_setting_off_keeps_every_id_for_good(closing, tmp_path: Path) -> None:
    engine = Engine(closing)
    state = engine.new_state(GO_LIVE)
    run(engine, state, [time_entry(1, "2026-02-03", "2026-02-04T15:00:00+00:00")],
        at("2026-02-10T12:00:00+00:00"))
    Engine(rules_with(tmp_path / "off", None)).adopt(state)
    assert state.books_closed_through is None
    assert not state.seen_by_month and not state.closing_entries
    assert digest("te-1") in state.seen_events
    assert state.timers.get("close:books") is None


@pytest.mark.parametrize("setting", ["12h", "0d", "-3d"])
def test_a_closing_that_is_not_days_after_the_month_is_a_rule_error(tmp_path: Path,
                                                                    setting: str) -> None:
    with pytest.raises(RuleSetInvalid) as failed:
        rules_with(tmp_path, setting)
    [error] = failed.value.errors
    assert error.path.endswith("agency.yaml") and error.line == 15 and error.col > 1
    assert "books_close_after" in error.message


def test_a_retainers_settled_entries_are_forgotten_when_their_month_closes(closing) -> None:
    engine = Engine(closing)
    state = engine.new_state(GO_LIVE)
    entry = time_entry(1, "2026-01-12", "2026-01-13T15:00:00+00:00",
                       project="atlas-outfitters-creative")
    run(engine, state, [entry], at("2026-01-20T12:00:00+00:00"))
    assert "harvest:1" in state.retainer_index  # counted against January's hours
    run(engine, state, [], at("2026-02-10T12:00:00+00:00"))  # February's draft settles January
    assert "harvest:1" not in state.retainer_index
    assert digest("harvest:1") in state.billed_entries
    assert state.closing_entries["2026-01"] == bytearray(digest("harvest:1"))
    run(engine, state, [], at("2026-03-05T12:00:00+00:00"))
    assert digest("harvest:1") not in state.billed_entries and not state.closing_entries
