"""Engine time is UTC; what the engine shows is in the agency's zone.

Events are parsed into UTC and timers armed in UTC, so instants compare at C speed. The
same instants written with any offset must decide exactly the same actions, and every
action still shows the agency's local time.
"""

from __future__ import annotations

import json
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import pytest

from engine.core.engine import Engine
from engine.core.replay import read_events, replay
from engine.core.timers import TimerQueue, utc
from engine.model.actions import dump_action
from engine.model.events import parse_event_line
from engine.ruleset.loader import load_ruleset

NORTHWIND = Path(__file__).resolve().parents[2] / "examples" / "northwind"
FIRST, LAST = date(2026, 1, 1), date(2026, 3, 31)


@pytest.fixture(scope="module")
def rules():
    return load_ruleset(NORTHWIND)


@pytest.fixture(scope="module")
def quarter(rules) -> list[str]:
    result = replay(rules, read_events(NORTHWIND / "events.ndjson"), FIRST, LAST)
    assert result.actions and not result.errors
    return [dump_action(action) for action in result.actions]


def test_an_event_is_parsed_into_utc() -> None:
    line = json.dumps({"id": "e1", "type": "time.unapproved", "at": "2026-03-02T09:30:00-05:00",
                       "payload": {"source_id": "harvest:1"}})
    event = parse_event_line(line, "events.ndjson", 1)
    assert event.at.tzinfo is timezone.utc
    assert event.at == datetime(2026, 3, 2, 14, 30, tzinfo=timezone.utc)


def test_the_same_instants_in_utc_decide_the_same_actions(rules, quarter, tmp_path: Path) -> None:
    rewritten = tmp_path / "events.ndjson"
    with open(NORTHWIND / "events.ndjson", encoding="utf-8") as source, \
            open(rewritten, "w", encoding="utf-8") as target:
        for line in source:
            body = json.loads(line)
            instant = datetime.fromisoformat(body["at"]).astimezone(timezone.utc)
            body["at"] = instant.isoformat().replace("+00:00", "Z")
            target.write(json.dumps(body) + "\n")
    again = replay(rules, read_events(rewritten), FIRST, LAST)
    assert [dump_action(action) for action in again.actions] == quarter


def test_events_built_in_another_zone_are_applied_at_the_same_instants(rules, quarter) -> None:
    plus_nine = timezone(timedelta(hours=9))
    events = [event._replace(at=event.at.astimezone(plus_nine))
              for event in read_events(NORTHWIND / "events.ndjson")]
    again = replay(rules, events, FIRST, LAST)
    assert [dump_action(action) for action in again.actions] == quarter


def test_actions_show_the_agency_zone(rules, quarter) -> None:
    zone = rules.agency.calendar.zone
    for text in quarter[:50]:
        at = datetime.fromisoformat(json.loads(text)["at"])
        assert at.utcoffset() == at.astimezone(zone).utcoffset()


def test_the_clock_and_the_timers_run_in_utc(rules) -> None:
    engine = Engine(rules)
    state = engine.new_state(FIRST)
    local_noon = datetime(2026, 2, 2, 12, 0, tzinfo=rules.agency.calendar.zone)
    engine.tick(state, local_noon)
    assert state.clock == local_noon and state.clock.tzinfo is timezone.utc
    queue = TimerQueue()
    timer = queue.arm(local_noon, "day", "escalations")
    assert timer.fire_at == local_noon and timer.fire_at.tzinfo is timezone.utc
    assert utc(timer.fire_at) is timer.fire_at
