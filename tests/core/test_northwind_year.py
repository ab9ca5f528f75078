"""The Northwind example's whole year, replayed and pinned action by action.

The snapshot is the full action stream as NDJSON (one `dump_action` line per action), so a
change to the engine or to the example shows up as a line diff. When the example's event
history is regenerated, review the diff and update with `--snapshot-update`.
"""

from __future__ import annotations

import json
from datetime import date, datetime
from pathlib import Path

import pytest
from syrupy.extensions.single_file import SingleFileSnapshotExtension, WriteMode

from engine.core.replay import Replay, read_events, replay
from engine.model.actions import dump_action
from engine.ruleset.loader import load_ruleset

NORTHWIND = Path(__file__).resolve().parents[2] / "examples" / "northwind"
MAX_SNAPSHOT_BYTES = 8 * 1024 * 1024


class NDJSONSnapshotExtension(SingleFileSnapshotExtension):
    """One snapshot per file, stored as UTF-8 text with the .ndjson suffix."""

    _write_mode = WriteMode.TEXT
    file_extension = "ndjson"


@pytest.fixture(scope="module")
def year() -> Replay:
    rules = load_ruleset(NORTHWIND)
    return replay(rules, read_events(NORTHWIND / "events.ndjson"),
                  date(2026, 1, 1), date(2026, 12, 31))


@pytest.fixture(scope="module")
def stream(year: Replay) -> str:
    return "".join(dump_action(action) + "\n" for action in year.actions)


def test_every_event_of_the_year_is_accepted(year: Replay) -> None:
    assert [str(error) for error in year.errors] == []
    assert year.events_applied > 0 and year.actions


def test_actions_come_in_time_order(stream: str) -> None:
    instants = [datetime.fromisoformat(json.loads(line)["at"]) for line in stream.splitlines()]
    assert instants == sorted(instants)


def test_the_year_stays_small_enough_to_review(stream: str) -> None:
    assert len(stream.encode("utf-8")) < MAX_SNAPSHOT_BYTES


def test_the_year_of_actions(stream: str, snapshot) -> None:
    assert stream == snapshot.use_extension(NDJSONSnapshotExtension)
