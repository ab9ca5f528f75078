"""An Asana source run by the daemon's SourceRunner into a real SQLite store."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from connectors.registry import ConnectorRegistry
from connectors.signatures import hmac_signature
from connectors.sources import WebhookRequest
from connectors.state import ConnectorState
from engine.runtime.sources import CURSOR_KEY, SourceRunner
from tests.connectors.runner_support import (northwind_with, source_runner, sqlite_store,
                                             stored_ids)

from .fixtures.asana.double import ENV, NOW, AsanaDouble, fixture

ASANA = ('    asana: {type: asana, token: "${ASANA_TOKEN}", workspace_id: "9001", '
         'milestone_field: Billflow milestone, poll_interval: 5m, '
         'map: {projects: {"1201": harbor-arts-annual-report}}}\n')
SECRET = "b9d1e0f3a7c2"


@pytest.fixture()
def rules_with_asana(tmp_path: Path) -> Path:
    return northwind_with(tmp_path / "rules", ASANA)


@pytest.fixture()
def store(tmp_path: Path):
    with sqlite_store(tmp_path / "store.db", NOW) as store:
        yield store


def runner_for(folder: Path, store, double: AsanaDouble) -> SourceRunner:
    assert "asana" in ConnectorRegistry.discover()
    return source_runner(folder, store, double, env=ENV, now=NOW)


def delivery(body: bytes) -> WebhookRequest:
    return WebhookRequest("POST", "harbor", {"x-hook-signature": hmac_signature(SECRET, body)},
                          body)


def test_a_poll_stores_the_milestones_and_reports_the_unmappable_one(rules_with_asana, store):
    runner = runner_for(rules_with_asana, store, AsanaDouble())
    outcome = runner.poll("asana")
    assert (outcome.accepted, outcome.duplicates, outcome.problems, outcome.error) == (3, 0, 1, None)
    assert sorted(stored_ids(store)) == ["asana:task:3001:completed", "asana:task:3002:completed",
                                         "asana:task:3006:completed"]
    [problem] = store.source_problems("asana")
    assert problem.record == "task 3003" and "Mystery phase" in problem.message
    assert ConnectorState(store, "asana").get(CURSOR_KEY)["sync"] == {"1201": "sync-1"}
    again = runner.poll("asana")  # the events endpoint now: the same tasks again, repeats
    assert again.accepted == 0 and again.duplicates == 2
    assert ConnectorState(store, "asana").get(CURSOR_KEY)["sync"] == {"1201": "sync-3"}


def test_a_5xx_keeps_the_cursor_and_the_next_poll_catches_up(rules_with_asana, store):
    double = AsanaDouble()
    runner = runner_for(rules_with_asana, store, double)
    ConnectorState(store, "asana").put(CURSOR_KEY, {"sync": {"1201": "sync-1"}})
    double.fail("/tasks/3002", 502)
    failed = runner.poll("asana")
    assert failed.error is not None and "HTTP 502" in failed.error
    assert stored_ids(store) == []
    assert ConnectorState(store, "asana").get(CURSOR_KEY) == {"sync": {"1201": "sync-1"}}
    assert store.source_problems("asana") == []  # retryable: not a problem to fix
    caught_up = runner.poll("asana")
    assert caught_up.accepted == 2
    assert ConnectorState(store, "asana").get(CURSOR_KEY)["sync"] == {"1201": "sync-3"}


def test_a_replayed_webhook_is_stored_once(rules_with_asana, store):
    double = AsanaDouble()
    runner = runner_for(rules_with_asana, store, double)
    shake = runner.webhook("asana", WebhookRequest("POST", "harbor", {"x-hook-secret": SECRET}))
    assert shake.status == 204 and dict(shake.headers)["X-Hook-Secret"] == SECRET
    body = json.dumps(fixture("webhook_completed.json")).encode()
    assert runner.webhook("asana", delivery(body)).status == 200
    assert runner.webhook("asana", delivery(body)).status == 200  # Asana's retry
    assert stored_ids(store) == ["asana:task:3006:completed"]
    assert runner.webhook("asana", WebhookRequest(
        "POST", "harbor", {"x-hook-signature": "0" * 64}, body)).status == 401


def test_a_webhook_the_vendor_cannot_answer_is_refused_for_a_retry(rules_with_asana, store):
    double = AsanaDouble()
    runner = runner_for(rules_with_asana, store, double)
    runner.webhook("asana", WebhookRequest("POST", "harbor", {"x-hook-secret": SECRET}))
    double.fail("/tasks/3006", 500)
    body = json.dumps(fixture("webhook_completed.json")).encode()
    assert runner.webhook("asana", delivery(body)).status == 503
    assert stored_ids(store) == []
