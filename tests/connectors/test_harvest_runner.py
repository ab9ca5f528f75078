"""A Harvest source run by the daemon's SourceRunner into a real SQLite store."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path

import httpx
import pytest

from connectors.state import ConnectorState
from engine.runtime.sources import CURSOR_KEY, SourceRunner
from tests.connectors.runner_support import (northwind_with, source_runner, sqlite_store,
                                             stored_ids)

from .fixtures.harvest.double import TOKEN, HarvestDouble

NOW = datetime(2026, 3, 10, 14, 0, tzinfo=timezone.utc)
HARVEST = ('    harvest: {type: harvest, account_id: "123456", token: "${HARVEST_TOKEN}", '
           'user_agent: "billflow (ops@northwind.example)", poll_interval: 10m, '
           'map: {projects: {"14307913": atlas-outfitters-adhoc, '
           '"14307914": gotham-health-campaigns}, people: {"1782959": leo}, '
           'roles: {"Graphic Design": designer}}}\n')


@pytest.fixture()
def rules_with_harvest(tmp_path: Path) -> Path:
    return northwind_with(tmp_path / "rules", HARVEST)


@pytest.fixture()
def store(tmp_path: Path):
    with sqlite_store(tmp_path / "store.db", NOW) as store:
        yield store


def runner_for(folder: Path, store, double: HarvestDouble) -> SourceRunner:
    return source_runner(folder, store, double, env={"HARVEST_TOKEN": TOKEN}, now=NOW)


def test_events_land_in_the_log_and_a_second_poll_adds_nothing(rules_with_harvest, store):
    double = HarvestDouble()
    runner = runner_for(rules_with_harvest, store, double)
    first = runner.poll("harvest")
    assert (first.accepted, first.duplicates, first.problems, first.error) == (4, 0, 1, None)
    assert sorted(stored_ids(store)) == [
        "harvest:expense:15296442:2026-03-04T10:00:00Z",
        "harvest:time_entry:636709355:2026-03-04T09:12:00Z",
        "harvest:time_entry:636709356:2026-03-04T09:15:30Z",
        "harvest:time_entry:636709359:2026-03-06T08:00:00Z",
    ]
    assert all(e.source.startswith("connector:harvest") for e in store.events_after(0, 1000))
    [problem] = store.source_problems("harvest")
    assert problem.record == "time_entry 636709358"
    cursor = ConnectorState(store, "harvest").get(CURSOR_KEY)
    assert cursor["time_entries"]["updated_since"] == "2026-03-06T09:25:00Z"
    assert "updated_since=" not in double.paths()[0]

    second = runner.poll("harvest")
    assert (second.accepted, second.duplicates) == (0, 4)
    assert len(stored_ids(store)) == 4
    assert "updated_since=2026-03-06T09%3A25%3A00Z" in double.paths()[-4]


def test_a_5xx_keeps_the_cursor_and_the_next_poll_resumes(rules_with_harvest, store):
    double = HarvestDouble()
    runner = runner_for(rules_with_harvest, store, double)
    double.fail_once(503, "/v2/time_entries")
    failed = runner.poll("harvest")
    assert failed.error is not None and "HTTP 503" in failed.error
    assert ConnectorState(store, "harvest").get(CURSOR_KEY) is None
    assert stored_ids(store) == []
    assert store.source_problems("harvest") == []  # retryable: waited out, not a problem

    # The second page fails: the first page's events are kept, and so is its position.
    double.overrides.append(lambda r: httpx.Response(500)
                            if r.url.params.get("ref") == "next_cursor" else None)
    partial = runner.poll("harvest")
    assert partial.accepted == 2 and partial.error is not None
    cursor = ConnectorState(store, "harvest").get(CURSOR_KEY)
    assert cursor["time_entries"]["next"].endswith("ref=next_cursor")
    assert cursor["time_entries"]["updated_since"] is None

    double.overrides.clear()
    resumed = runner.poll("harvest")
    assert resumed.error is None and resumed.accepted == 2
    assert len(stored_ids(store)) == 4


def test_a_4xx_is_noted_as_a_problem_and_not_retried_early(rules_with_harvest, store):
    double = HarvestDouble()
    runner = runner_for(rules_with_harvest, store, double)
    double.overrides.append(lambda r: httpx.Response(403, json={"message": "forbidden"}))
    outcome = runner.poll("harvest")
    assert "HTTP 403" in outcome.error
    [problem] = store.source_problems("harvest")
    assert problem.record == "sync"
    assert runner.next_wake() == NOW + timedelta(minutes=10)  # its poll_interval, no backoff
