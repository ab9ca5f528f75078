"""Toggl webhooks through the daemon's SourceRunner into SQLite: a replay adds nothing."""

from __future__ import annotations

import shutil
from datetime import datetime, timezone
from pathlib import Path

import httpx

from connectors.base import ConnectorContext
from connectors.registry import ConnectorRegistry
from engine.runtime.intake import ingest_text
from engine.runtime.rulekeeper import RuleKeeper
from engine.runtime.sources import SourceRunner
from engine.runtime.sqlite_store import SqliteStore

from .fixtures.toggl.double import SECRET, TOKEN, TogglDouble, fixture, signed

NORTHWIND = Path(__file__).resolve().parents[2] / "examples" / "northwind"
NOW = datetime(2026, 3, 10, 14, 0, tzinfo=timezone.utc)
TOGGL = ('    toggl: {type: toggl, api_token: "${TOGGL_TOKEN}", workspace_id: "777", '
         'approved_tag: approved, webhook_secret: "${TOGGL_WEBHOOK_SECRET}", '
         'map: {projects: {"193791": atlas-outfitters-adhoc}, people: {"7": leo}}}\n')


def test_a_replayed_webhook_is_stored_once(tmp_path: Path):
    folder = tmp_path / "rules"
    shutil.copytree(NORTHWIND, folder, ignore=shutil.ignore_patterns("*.ndjson", "*.py"))
    agency = folder / "agency.yaml"
    anchor = "  connectors:                         # named connector instances; secrets come from ${ENV}\n"
    agency.write_text(agency.read_text(encoding="utf-8").replace(anchor, anchor + TOGGL),
                      encoding="utf-8")
    keeper = RuleKeeper(folder, lambda: NOW)
    assert keeper.reload().ok
    store = SqliteStore(tmp_path / "store.db", now=lambda: NOW)
    double = TogglDouble()

    def context(rules, **options):
        return ConnectorContext(rules, env={"TOGGL_TOKEN": TOKEN, "TOGGL_WEBHOOK_SECRET": SECRET},
                                http_client_factory=lambda **kw: httpx.Client(
                                    transport=httpx.MockTransport(double), **kw), **options)

    runner = SourceRunner(store, keeper, ConnectorRegistry.discover(), lambda: NOW,
                          lambda text, source: ingest_text(store, text, source, NOW),
                          context_factory=context)
    try:
        body = fixture("webhook_time_entry.json")
        assert runner.webhook("toggl", signed(body)).status == 200
        assert runner.webhook("toggl", signed(body)).status == 200  # the vendor retried
        assert runner.webhook("toggl", signed(body, "forged")).status == 401
        assert [e.id for e in store.events_after(0, 100)] == [
            "toggl:time_entry:436694106:2026-03-09T15:00:01Z"]
    finally:
        runner.close()
        store.close()
