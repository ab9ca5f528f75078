"""The source runner's own duties: problems kept, webhooks routed, resync, health and metrics."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import date, datetime, timezone
from pathlib import Path

import httpx
import pytest

from connectors.sources import WebhookRequest
from connectors.state import ConnectorState
from engine.runtime.daemon import Daemon, DaemonOptions
from engine.runtime.sources import CURSOR_KEY, SourceRunner, resync
from engine.runtime.sqlite_store import SqliteStore
from tests.connectors.runner_support import northwind_with, source_runner, sqlite_store

REPO = Path(__file__).resolve().parents[2]
NOW = datetime(2026, 3, 10, 14, 0, tzinfo=timezone.utc)
HARVEST = ('    harvest: {type: harvest, account_id: "123456", token: "${HARVEST_TOKEN}", '
           'user_agent: "billflow (ops@northwind.example)"}\n')


@pytest.fixture()
def rules(tmp_path: Path) -> Path:
    return northwind_with(tmp_path / "rules", HARVEST)


@pytest.fixture()
def store(tmp_path: Path):
    with sqlite_store(tmp_path / "store.db", NOW) as store:
        yield store


def unreachable(request: httpx.Request) -> httpx.Response:
    raise AssertionError(f"no vendor call was expected: {request.method} {request.url}")


def runner(rules: Path, store, env: dict[str, str]) -> SourceRunner:
    return source_runner(rules, store, unreachable, env=env, now=NOW)


def test_a_source_that_cannot_start_is_a_visible_problem(rules: Path, store) -> None:
    sources = runner(rules, store, env={})  # HARVEST_TOKEN is not set
    assert sources.sources() == {}
    [problem] = store.source_problems()
    assert (problem.connector, problem.record) == ("harvest", "configuration")
    assert "environment variable HARVEST_TOKEN is not set" in problem.message
    assert sources.next_wake() is None  # nothing polls, nothing spins


def test_webhooks_reach_only_a_declared_source_that_takes_them(rules: Path, store) -> None:
    sources = runner(rules, store, env={"HARVEST_TOKEN": "hv-token-123456"})
    request = WebhookRequest("POST", "", {"content-type": "application/json"}, b"{}")
    unknown = sources.webhook("books", request)
    assert unknown.status == 404 and b"no source connector named 'books'" in unknown.body
    harvest = sources.webhook("harvest", request)  # Harvest has no webhooks
    assert harvest.status == 404 and b"takes no webhooks" in harvest.body
    assert store.counts().events == 0


def test_resync_resets_the_cursor_and_clears_the_problems(store) -> None:
    state = ConnectorState(store, "harvest")
    state.put(CURSOR_KEY, {"updated_since": "2026-03-01T00:00:00Z", "page": 3})
    store.record_source_problems("harvest", [("time_entry 1", "unmapped project"),
                                             ("time_entry 2", "unmapped person")], NOW)
    store.record_source_problems("toggl", [("time_entry 9", "unmapped project")], NOW)
    assert resync(store, "harvest", date(2026, 2, 1)) == 2
    assert state.get(CURSOR_KEY) == {"since": "2026-02-01"}
    assert [row.connector for row in store.source_problems()] == ["toggl"]
    assert resync(store, "toggl", None) == 1
    assert ConnectorState(store, "toggl").get(CURSOR_KEY) is None


def test_a_repeated_problem_is_one_row_that_counts(store) -> None:
    later = datetime(2026, 3, 10, 15, 0, tzinfo=timezone.utc)
    store.record_source_problems("harvest", [("time_entry 1", "unmapped project 5")], NOW)
    store.record_source_problems("harvest", [("time_entry 1", "unmapped project 5 (Web)")], later)
    [row] = store.source_problems("harvest")
    assert (row.seen, row.first_seen, row.last_seen) == (2, NOW, later)
    assert row.message == "unmapped project 5 (Web)"


def test_health_metrics_and_status_show_problems(rules: Path, tmp_path: Path) -> None:
    db = tmp_path / "daemon.db"
    store = SqliteStore(db, now=lambda: NOW)
    store.record_source_problems("harvest", [("time_entry 1", "unmapped project 5")], NOW)
    daemon = Daemon(DaemonOptions(rules=str(rules), db=str(db), http=None, watch=False),
                    store=store)
    try:
        assert daemon.reload_rules("test")
        ok, detail = daemon.health()
        assert ok and detail["source_problems"] == 1
        assert 'billflow_source_problems{connector="harvest"} 1' in daemon.metrics()
    finally:
        store.close()

    def cli(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "engine.cli", *args, "--db", str(db)],
                              cwd=REPO, capture_output=True, text=True, timeout=60)

    status = cli("status", "--format", "json")
    assert status.returncode == 0, status.stderr
    assert json.loads(status.stdout)["source_problems"][0]["record"] == "time_entry 1"
    listed = cli("connectors", "problems")
    assert listed.returncode == 1
    assert listed.stdout.startswith("harvest: time_entry 1: unmapped project 5 (seen 1x")
    done = cli("connectors", "resync", "harvest", "--since", "2026-03-01")
    assert done.returncode == 0, done.stderr
    assert "1 problem(s) cleared" in done.stdout
    assert cli("connectors", "problems").returncode == 0
    bad = cli("connectors", "resync", "harvest", "--since", "March")
    assert bad.returncode != 0 and "--since 'March' is not a date" in bad.stderr
