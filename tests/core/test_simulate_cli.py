"""`billflow simulate`: NDJSON in time order, an aligned table, bad events reported and skipped."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from datetime import datetime
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCENARIOS = ROOT / "tests" / "scenarios"
DST = SCENARIOS / "dst-new-york"           # actions in both EST and EDT, several per instant
BAD = SCENARIOS / "bad-events"             # lines 2-6 are bad, lines 1 and 7 are good


def simulate(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "engine.cli", "simulate", *args],
                          cwd=ROOT, capture_output=True, text=True, encoding="utf-8", timeout=120)


def scenario_args(folder: Path, start: str, end: str, *extra: str) -> list[str]:
    return [str(folder / "rules"), "--events", str(folder / "events.ndjson"),
            "--from", start, "--until", end, *extra]


def test_ndjson_is_one_action_object_a_line_in_time_order() -> None:
    done = simulate(*scenario_args(DST, "2026-03-01", "2026-11-30", "--format", "ndjson"))
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""
    actions = [json.loads(line) for line in done.stdout.splitlines()]
    assert len(actions) > 10
    assert all(isinstance(action, dict) and {"id", "type", "at", "client", "rule",
                                             "rules_version", "payload"} <= set(action)
               for action in actions)
    # Compare instants, not strings: the offsets change with daylight saving time.
    instants = [datetime.fromisoformat(action["at"]) for action in actions]
    assert instants == sorted(instants)
    assert {action["at"][-6:] for action in actions} == {"-05:00", "-04:00"}


def test_ndjson_is_the_default_format() -> None:
    args = scenario_args(DST, "2026-03-01", "2026-03-31")
    assert simulate(*args).stdout == simulate(*args, "--format", "ndjson").stdout


def test_table_is_aligned_with_amounts_right_aligned() -> None:
    done = simulate(*scenario_args(DST, "2026-03-01", "2026-11-30", "--format", "table"))
    assert done.returncode == 0, done.stderr
    header, *rows = done.stdout.splitlines()
    assert header.split() == ["at", "action", "client", "invoice", "number", "amount", "detail"]
    assert len(rows) > 10
    # Left-aligned columns start at the same place on every row.
    for column in ("action", "client", "invoice"):
        start = header.index(column)
        assert all(row[start - 2:start] == "  " and row[start] != " " for row in rows), column
    # Every amount ends exactly where the "amount" header ends, whatever its length.
    end = header.index("amount") + len("amount")
    amounts = [re.search(r"(-?[0-9]+\.[0-9]{2} [A-Z]{3})$", row[:end]) for row in rows]
    assert all(found is not None for found in amounts), rows
    assert all(row[end:end + 2] == "  " for row in rows)
    assert {found.group(1) for found in amounts} >= {"1000.00 USD", "100.00 USD"}


def test_a_bad_event_is_reported_with_its_line_and_the_rest_still_bills() -> None:
    events = BAD / "events.ndjson"
    done = simulate(*scenario_args(BAD, "2026-03-01", "2026-03-31"))
    assert done.returncode == 1
    problems = done.stderr.splitlines()
    assert [p.split(": ", 1)[0] for p in problems] == [f"{events}:{n}" for n in (2, 3, 4, 5, 6)]
    assert problems[2] == f"{events}:4: unknown client 'acne' (did you mean 'acme'?)"
    assert problems[4] == f"{events}:6: unknown invoice 'acme/adhoc/2026-02-28'"
    assert "Traceback" not in done.stderr
    drafted = [json.loads(line) for line in done.stdout.splitlines()
               if json.loads(line)["type"] == "invoice.drafted"]
    assert len(drafted) == 1
    assert [row["event"] for row in drafted[0]["payload"]["supporting"]["time"]] == ["te-1", "te-7"]
    assert drafted[0]["payload"]["invoice"]["total"] == "500.00"


@pytest.mark.parametrize("start, end", [("2026-03-01", "2026-02-28"), ("2026-03-01", "2026-13-01")])
def test_an_impossible_range_is_a_usage_error(start: str, end: str) -> None:
    done = simulate(*scenario_args(BAD, start, end))
    assert done.returncode == 2
    assert done.stdout == ""
    assert done.stderr.startswith("billflow: ") and "--until" in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1
