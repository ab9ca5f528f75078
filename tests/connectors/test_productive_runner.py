"""A Productive source run by the daemon's SourceRunner into a real SQLite store."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest

from connectors.signatures import hmac_signature
from connectors.sources import WebhookRequest
from connectors.state import ConnectorState
from engine.runtime.sources import CURSOR_KEY, SourceRunner
from tests.connectors.runner_support import northwind_with, source_runner, sqlite_store

from .fixtures.productive.double import ENV, NOW, WEBHOOK_TOKEN, ProductiveDouble, fixture

PRODUCTIVE = ('    productive: {type: productive, api_token: "${PRODUCTIVE_TOKEN}", '
              'organization_id: "4242", webhook_token: "${PRODUCTIVE_WEBHOOK_TOKEN}", '
              'page_size: 2, poll_interval: 5m, '
              'map: {budgets: {"34": gotham-health-campaigns}, '
              'projects: {"7001": thames-and-finch-adhoc}, people: {"8779": nora}, '
              'roles: {Strategy: strategist}}}\n')


@pytest.fixture()
def rules_with_productive(tmp_path: Path) -> Path:
    return northwind_with(tmp_path / "rules", PRODUCTIVE)


@pytest.fixture()
def store(tmp_path: Path):
    with sqlite_store(tmp_path / "store.db", NOW) as store:
        yield store


def runner_for(folder: Path, store, double: ProductiveDouble) -> SourceRunner:
    return source_runner(folder, store, double, env=ENV, now=NOW)


def stored(store) -> dict[str, str]:
    return {event.id: event.type for event in store.events_after(0, 1000)}


def signed(body: bytes) -> WebhookRequest:
    stamp = int(NOW.timestamp())
    signature = hmac_signature(WEBHOOK_TOKEN, f"{stamp}.".encode() + body)
    return WebhookRequest("POST", "", {"productive-signature": f"t={stamp}, s={signature}"}, body)


def test_a_poll_pages_through_stores_each_entry_once_and_reports_the_unmapped(
        rules_with_productive, store):
    runner = runner_for(rules_with_productive, store, ProductiveDouble())
    outcome = runner.poll("productive")
    assert outcome.error is None and outcome.accepted == 3
    assert sorted(stored(store).values()) == ["time.approved"] * 3
    assert {p.record for p in store.source_problems("productive")} == {"time_entry 264"}
    cursor = ConnectorState(store, "productive").get(CURSOR_KEY)
    assert cursor["updated_since"] == "2026-03-06T09:00:00.000+01:00"
    assert cursor["since"] == "2026-03-01"
    again = runner.poll("productive")
    assert again.accepted == 0 and again.duplicates == 1  # the boundary entry, a repeat


def test_a_5xx_mid_sync_keeps_the_cursor_of_the_last_stored_page(rules_with_productive, store):
    double = ProductiveDouble()
    runner = runner_for(rules_with_productive, store, double)
    double.script(lambda r: "/time_entries" in double.path_of(r), lambda: httpx.Response(200, json={
        "data": [double.entries["262"]], "included": double.included,
        "links": {"next": "https://api.productive.io/api/v2/time_entries?page[number]=2"},
        "meta": {"current_page": 1, "total_pages": 2}}))
    double.fail("/time_entries", 503)
    failed = runner.poll("productive")
    assert failed.error is not None and "HTTP 503" in failed.error and failed.accepted == 1
    kept = ConnectorState(store, "productive").get(CURSOR_KEY)
    assert kept["updated_since"] == "2026-03-04T10:00:00.000+01:00"  # not past what was stored
    assert store.source_problems("productive") == []
    resumed = runner.poll("productive")
    assert resumed.error is None and len(stored(store)) == 3


def test_a_replayed_webhook_is_stored_once(rules_with_productive, store):
    double = ProductiveDouble()
    runner = runner_for(rules_with_productive, store, double)
    body = json.dumps(fixture("webhook_time_entry_updated.json")).encode()
    assert runner.webhook("productive", signed(body)).status == 200
    assert runner.webhook("productive", signed(body)).status == 200  # Productive's retry
    assert list(stored(store).values()) == ["time.approved"]
    bad = WebhookRequest("POST", "", {"productive-signature": "t=1, s=00"}, body)
    assert runner.webhook("productive", bad).status == 401
    assert len(stored(store)) == 1
