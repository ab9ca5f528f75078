"""The asana connector against an Asana double: sync tokens, webhooks, the project log, check."""

from __future__ import annotations

import json
import logging

import pytest

from connectors.asana import AsanaConnector
from connectors.signatures import hmac_signature
from connectors.sources import WebhookRequest
from connectors.state import MemoryBackend
from engine.errors import ConnectorError

from .fixtures.asana.double import TOKEN, AsanaDouble, asana, fixture

KICKOFF = {"id": "asana:task:3001:completed", "type": "milestone.completed",
           "at": "2026-03-03T02:30:00+00:00",
           "payload": {"client": "harbor-arts", "engagement": "annual-report",
                       "milestone": "kickoff", "completed_on": "2026-03-02"}}
CONTENT = {"id": "asana:task:3002:completed", "type": "milestone.completed",
           "at": "2026-03-05T15:00:00+00:00",
           "payload": {"client": "harbor-arts", "engagement": "annual-report",
                       "milestone": "content", "completed_on": "2026-03-05"}}
PROOF = {"id": "asana:task:3006:completed", "type": "milestone.completed",
         "at": "2026-03-08T16:45:00+00:00",
         "payload": {"client": "harbor-arts", "engagement": "annual-report",
                     "milestone": "proof", "completed_on": "2026-03-08"}}


def signed(connector: AsanaConnector, body: bytes, secret: str, path: str = "harbor") -> WebhookRequest:
    return WebhookRequest("POST", path, {"x-hook-signature": hmac_signature(secret, body)}, body)


def handshake(connector: AsanaConnector, secret: str, path: str = "harbor"):
    return connector.webhook(WebhookRequest("POST", path, {"x-hook-secret": secret}, b""))


# -- polling ---------------------------------------------------------------------------------

def test_a_first_sync_takes_a_token_then_reads_every_page_of_the_project(rules):
    double = AsanaDouble()
    result = asana(rules, double).sync({"since": "2026-03-01"})
    assert double.paths() == ["GET /events", "GET /projects/1201/tasks",
                              "GET /projects/1201/tasks", "GET /projects/1201/tasks"]
    listing = double.requests[1].url.params
    assert listing["completed_since"] == "2026-03-01T00:00:00-05:00"  # agency time
    assert listing["limit"] == "100" and "custom_fields.name" in listing["opt_fields"]
    assert double.requests[2].url.params["offset"] == "2"
    assert list(result.events) == [KICKOFF, CONTENT, PROOF]
    assert [str(p) for p in result.problems] == [
        "task 3003: its name 'Mystery phase' is no milestone id or name of "
        "harbor-arts/annual-report; rename it, or pin the task in map.milestones"]
    assert result.cursor["sync"] == {"1201": "sync-1"}
    assert result.cursor["since"] == "2026-03-01" and not result.more


def test_events_are_read_while_has_more_and_only_touched_tasks_are_fetched(rules):
    double = AsanaDouble()
    result = asana(rules, double).sync({"sync": {"1201": "sync-1"}})
    assert double.paths() == ["GET /events", "GET /events", "GET /tasks/3001",
                              "GET /tasks/3004", "GET /tasks/3002", "GET /tasks/3003"]
    assert [r.url.params["sync"] for r in double.requests[:2]] == ["sync-1", "sync-2"]
    assert list(result.events) == [KICKOFF, CONTENT]  # 3004 is no milestone: passed over
    assert [p.record for p in result.problems] == ["task 3003"]
    assert result.cursor["sync"] == {"1201": "sync-3"}


def test_an_expired_sync_token_reads_the_project_again_from_its_last_read(rules):
    double = AsanaDouble()
    cursor = {"sync": {"1201": "expired-token"}, "read_at": {"1201": "2026-03-04T09:00:00+00:00"}}
    result = asana(rules, double).sync(cursor)
    assert double.paths()[:2] == ["GET /events", "GET /projects/1201/tasks"]
    assert double.requests[1].url.params["completed_since"] == "2026-03-04T09:00:00+00:00"
    assert result.cursor["sync"] == {"1201": "sync-1"}  # the fresh token of the 412
    assert {e["id"] for e in result.events} >= {KICKOFF["id"], PROOF["id"]}


def test_a_429_is_retryable_after_asanas_retry_after(rules):
    double = AsanaDouble()
    double.fail("/events", 429, "error_429.json", {"Retry-After": "30"})
    with pytest.raises(ConnectorError) as caught:
        asana(rules, double).sync({"sync": {"1201": "sync-1"}})
    assert caught.value.retryable and caught.value.retry_after == 30.0


def test_a_5xx_is_retryable_and_a_4xx_is_not(rules):
    double = AsanaDouble()
    double.fail("/tasks/3002", 503)
    with pytest.raises(ConnectorError) as caught:
        asana(rules, double).sync({"sync": {"1201": "sync-1"}})
    assert caught.value.retryable
    double = AsanaDouble()
    double.fail("/events", 403, "error_401.json")
    with pytest.raises(ConnectorError) as caught:
        asana(rules, double).sync({"sync": {"1201": "sync-1"}})
    assert not caught.value.retryable
    assert len(double.requests) == 1  # nothing repeated by the connector itself


def test_the_token_never_appears_in_errors_or_logs(rules, caplog):
    double = AsanaDouble()
    double.fail("/events", 400, "error_401.json")
    connector = asana(rules, double)
    with caplog.at_level(logging.DEBUG), pytest.raises(ConnectorError) as caught:
        connector.sync({"sync": {"1201": "sync-1"}})
    assert TOKEN not in str(caught.value) and TOKEN not in caplog.text


def test_a_pinned_task_and_a_client_project_are_placed_without_map_projects(rules):
    double = AsanaDouble()
    connector = asana(rules, double, map={"milestones": {"3003": "harbor-arts/annual-report/design"}})
    task = fixture("tasks.json")["3003"]
    assert connector.milestone_event(task, [])["payload"]["milestone"] == "design"
    connector = asana(rules, double, map={"milestones": {"3003": "harbor-arts/annual-report/nope"}})
    problems: list = []
    assert connector.milestone_event(task, problems) is None
    assert "map.milestones sends it to 'harbor-arts/annual-report/nope'" in str(problems[0])


# -- webhooks --------------------------------------------------------------------------------

def test_the_handshake_echoes_the_secret_and_keeps_it_sealed():
    state = MemoryBackend()
    connector = asana(None, AsanaDouble(), state=state)
    reply = handshake(connector, "b9d1e0f3a7c2")
    assert reply.status == 204 and reply.headers == (("X-Hook-Secret", "b9d1e0f3a7c2"),)
    stored = state.connector_value("asana", "hook_secret:harbor")
    assert stored.startswith("sealed:") and "b9d1e0f3a7c2" not in stored
    assert handshake(connector, "b9d1e0f3a7c2").status == 204  # Asana repeating it
    assert handshake(connector, "someone-else").status == 409  # never replaced
    assert handshake(connector, "other-webhook", path="maison").status == 204


def test_a_signed_delivery_reads_the_task_and_a_bad_signature_is_refused(rules):
    double = AsanaDouble()
    connector = asana(rules, double)
    handshake(connector, "b9d1e0f3a7c2")
    body = json.dumps(fixture("webhook_completed.json")).encode()
    refused = connector.webhook(signed(connector, body, "not-the-secret"))
    assert refused.status == 401 and not refused.events and double.requests == []
    unsigned = connector.webhook(WebhookRequest("POST", "harbor", {}, body))
    assert unsigned.status == 401
    reply = connector.webhook(signed(connector, body, "b9d1e0f3a7c2"))
    assert reply.status == 200 and list(reply.events) == [PROOF]
    assert double.paths() == ["GET /tasks/3006"]
    tampered = connector.webhook(WebhookRequest(
        "POST", "harbor", {"x-hook-signature": hmac_signature("b9d1e0f3a7c2", body)}, body + b" "))
    assert tampered.status == 401


def test_a_heartbeat_is_answered_without_events(rules):
    double = AsanaDouble()
    connector = asana(rules, double)
    handshake(connector, "b9d1e0f3a7c2")
    reply = connector.webhook(signed(connector, b'{"events":[]}', "b9d1e0f3a7c2"))
    assert reply.status == 200 and not reply.events and double.requests == []


def test_a_path_without_a_handshake_takes_no_events(rules):
    connector = asana(rules, AsanaDouble())
    body = json.dumps(fixture("webhook_completed.json")).encode()
    assert connector.webhook(signed(connector, body, "guess")).status == 401


# -- the project log -------------------------------------------------------------------------

def milestone_invoice(first_of) -> dict:
    """An issued invoice of Harbor Arts' kickoff milestone (the quiet replay issues none)."""
    action = json.loads(json.dumps(first_of("invoice.issued")))
    invoice = action["payload"]["invoice"]
    invoice.update(id="harbor-arts/annual-report/kickoff", client="harbor-arts",
                   engagement="annual-report")
    action.update(id="invoice.issued:harbor-arts/annual-report/kickoff", client="harbor-arts")
    return action


def test_an_issued_milestone_invoice_is_commented_on_its_task_once(rules, first_of):
    from connectors.base import Delivery

    action = milestone_invoice(first_of)
    invoice = action["payload"]["invoice"]
    double = AsanaDouble()
    connector = asana(rules, double)
    connector.sync({"since": "2026-03-01"})  # sees task 3001 complete the kickoff milestone
    gid = "3001"
    first = connector.deliver(Delivery.of(action))
    second = connector.deliver(Delivery.of(action))
    posts = [r for r in double.requests if r.method == "POST"]
    assert len(posts) == 1 and posts[0].url.path == f"/api/1.0/tasks/{gid}/stories"
    text = json.loads(posts[0].content)["data"]["text"]
    assert text.startswith(f"Invoice {invoice['number']} issued to Harbor Arts Council on "
                           f"{invoice['issue_date']}: ")
    assert f"due {invoice['due_date']}." in text.splitlines()[0]
    assert text.splitlines()[-1] == f"billflow action {action['id']}"
    assert first.external_id == second.external_id == f"{gid}-s1"
    assert second.detail == f"already logged on Asana task {gid}"
    # A crash after Asana's reply and before the state write: the comment is found, not doubled.
    fresh = asana(rules, double, state=MemoryBackend(), map={"log_tasks": {"harbor-arts": gid}})
    again = fresh.deliver(Delivery.of(action))
    assert again.external_id == f"{gid}-s1"
    assert len([r for r in double.requests if r.method == "POST"]) == 1


def test_an_invoice_with_no_task_to_log_on_is_refused_naming_the_fix(rules, first_of):
    from connectors.base import Delivery

    action = first_of("invoice.issued")
    with pytest.raises(ConnectorError) as caught:
        asana(rules, AsanaDouble()).deliver(Delivery.of(action))
    assert not caught.value.retryable and "map.log_tasks" in str(caught.value)
    logged = asana(rules, AsanaDouble(), log_task="4100").deliver(Delivery.of(action))
    assert logged.detail == "commented on Asana task 4100"


# -- check -----------------------------------------------------------------------------------

def test_check_names_the_account_and_the_projects(rules):
    text = asana(rules, AsanaDouble()).check()
    assert "signed in as Northwind billing bot" in text
    assert "watching 1 project(s): Harbor Arts annual report" in text


def test_check_fails_on_a_refused_token_and_on_bad_mappings(rules):
    with pytest.raises(ConnectorError) as caught:
        asana(rules, AsanaDouble(), token="wrong-token-123").check()
    assert not caught.value.retryable and "HTTP 401" in str(caught.value)
    assert "wrong-token-123" not in str(caught.value)
    with pytest.raises(ConnectorError) as caught:
        asana(rules, AsanaDouble(), workspace_id="42",
              map={"projects": {"1201": "harbor-arts-annual-report", "1299": "no-such-project"},
                   "milestones": {"3001": "harbor-arts/annual-report/nope"}}).check()
    message = str(caught.value)
    assert "no access to workspace 42" in message
    assert "project 1299 cannot be read" in message
    assert "'no-such-project', which no engagement lists" in message
    assert "harbor-arts/annual-report/nope" in message
