"""The Toggl source: the detailed report, quotas, approval by tag, webhooks, check."""

from __future__ import annotations

import base64
import json

import httpx
import pytest

from connectors.toggl import TogglConnector
from engine.errors import ConnectorError
from engine.model.events import parse_event

from .fixtures.toggl.double import (
    REPORT, TOKEN, TogglDouble, fixture, signed, sync_all, toggl,
)


def test_full_sync_pages_the_detailed_report_and_maps_each_entry(rules):
    double = TogglDouble()
    events, problems, cursor = sync_all(toggl(rules, double), {"since": "2026-02-20"})
    assert [e["id"] for e in events] == [
        "toggl:time_entry:436694100:2026-03-03T09:00:00Z",
        "toggl:time_entry:436694101:2026-03-03T09:00:01Z",
        "toggl:time_entry:436694102:2026-03-03T09:05:00Z",
    ]
    assert events[0] == {
        "id": "toggl:time_entry:436694100:2026-03-03T09:00:00Z", "type": "time.approved",
        "at": "2026-03-03T09:00:00Z",
        "payload": {"client": "atlas-outfitters", "project": "atlas-outfitters-adhoc",
                    "person": "leo", "role": "designer", "date": "2026-03-02", "hours": "1.5",
                    "billable": True, "notes": "Homepage layout",
                    "source_id": "toggl:time_entry:436694100"}}
    nora = events[2]["payload"]
    # Found by e-mail; 3601 s is cut, not rounded, to a millionth of an hour; the work date is
    # the start in New York (03:30 UTC on the 3rd is the evening of the 2nd there).
    assert (nora["person"], nora["role"], nora["hours"], nora["date"]) == \
        ("nora", "strategist", "1.000277", "2026-03-02")
    for event in events:
        parse_event(event, "test")
    assert [str(p) for p in problems] == [
        "time_entry 436694104: Toggl project 555 is not in the connector's map.projects"]
    first, second = double.report_queries()
    assert first == {"start_date": "2026-02-20", "end_date": "2026-03-10", "page_size": 50,
                     "order_by": "date", "order_dir": "ASC"}
    assert second == {**first, "first_id": 436694103, "first_row_number": 4,
                      "first_timestamp": 1772632800}
    # The next poll re-reads the last 35 days, where late approvals land.
    assert cursor == {"since": "2026-02-20", "next_start": "2026-02-20"}
    _, _, later = sync_all(toggl(rules, TogglDouble()), {"since": "2026-01-01"})
    assert later == {"since": "2026-01-01", "next_start": "2026-02-03"}


def test_requests_use_basic_auth_with_the_api_token(rules):
    double = TogglDouble()
    sync_all(toggl(rules, double))
    expected = "Basic " + base64.b64encode(f"{TOKEN}:api_token".encode()).decode()
    assert {r.headers["Authorization"] for r in double.requests} == {expected}
    assert {r.url.path for r in double.requests} == {
        REPORT, "/api/v9/workspaces/777/tags", "/api/v9/workspaces/777/users"}


def test_a_long_history_is_read_in_windows_of_a_year(rules):
    double = TogglDouble()
    double.pages = [b"[]"]
    sync_all(toggl(rules, double), {"since": "2024-06-01"})
    spans = [(q["start_date"], q["end_date"]) for q in double.report_queries()]
    assert spans == [("2024-06-01", "2025-06-01"), ("2025-06-01", "2026-03-10")]


def test_without_an_approval_tag_billable_entries_count(rules):
    events, _, _ = sync_all(toggl(rules, TogglDouble(), approved_tag=None))
    assert "toggl:time_entry:436694103:2026-03-04T15:00:00Z" in {e["id"] for e in events}


def test_a_402_waits_for_the_quota_reset(rules):
    double = TogglDouble()
    double.fail_once(402, **{"X-Toggl-Quota-Resets-In": "1200"})
    connector = toggl(rules, double, approved_tag=None)
    with pytest.raises(ConnectorError) as caught:
        connector.sync(None)
    assert (caught.value.retryable, caught.value.retry_after) == (True, 1200.0)
    assert "quota" in str(caught.value)
    assert connector.api.bucket._tokens < 0


def test_the_quota_header_is_configurable_and_retry_after_also_counts(rules):
    double = TogglDouble()
    double.fail_once(402, **{"X-Quota-Reset": "90"})
    with pytest.raises(ConnectorError) as caught:
        toggl(rules, double, approved_tag=None, quota_reset_header="X-Quota-Reset").sync(None)
    assert caught.value.retry_after == 90.0
    double.fail_once(402, **{"Retry-After": "60"})
    with pytest.raises(ConnectorError) as caught:
        toggl(rules, double, approved_tag=None).sync(None)
    assert caught.value.retry_after == 60.0


def test_a_429_is_retryable_after_retry_after(rules):
    double = TogglDouble()
    double.fail_once(429, **{"Retry-After": "2"})
    with pytest.raises(ConnectorError) as caught:
        toggl(rules, double, approved_tag=None).sync(None)
    assert (caught.value.retryable, caught.value.retry_after) == (True, 2.0)


def test_a_5xx_is_retryable_and_a_4xx_permanent(rules):
    double = TogglDouble()
    double.fail_once(503)
    with pytest.raises(ConnectorError) as caught:
        toggl(rules, double, approved_tag=None).sync(None)
    assert caught.value.retryable
    double.fail_once(403)
    with pytest.raises(ConnectorError) as caught:
        toggl(rules, double, approved_tag=None).sync(None)
    assert not caught.value.retryable


def test_the_bucket_keeps_to_about_one_request_a_second(rules):
    bucket = toggl(rules, TogglDouble()).api.bucket
    assert (bucket.capacity, bucket.refill_per_second) == (1.0, 1.0)


def test_removing_the_tag_withdraws_an_approved_entry(rules):
    double = TogglDouble()
    connector = toggl(rules, double)
    sync_all(connector)
    rows = json.loads(fixture("report_page1.json"))
    rows[0]["tag_ids"] = []
    for item in rows[0]["time_entries"]:
        item["at"] = "2026-03-09T08:00:00+00:00"
    double.pages = [json.dumps(rows).encode()]
    events, _, _ = sync_all(connector)
    withdrawn = [e for e in events if e["type"] == "time.unapproved"]
    assert [e["id"] for e in withdrawn] == [
        "toggl:time_entry:436694100:unapproved:2026-03-09T08:00:00Z",
        "toggl:time_entry:436694101:unapproved:2026-03-09T08:00:00Z"]
    assert withdrawn[0]["payload"] == {"source_id": "toggl:time_entry:436694100"}


def test_a_missing_approval_tag_is_a_permanent_error(rules):
    with pytest.raises(ConnectorError) as caught:
        toggl(rules, TogglDouble(), approved_tag="signed-off").sync(None)
    assert not caught.value.retryable
    assert "no tag named 'signed-off'" in str(caught.value)


def test_a_signed_webhook_becomes_an_event(rules):
    reply = toggl(rules, TogglDouble()).webhook(signed(fixture("webhook_time_entry.json")))
    assert reply.status == 200
    [event] = reply.events
    assert event["id"] == "toggl:time_entry:436694106:2026-03-09T15:00:01Z"
    assert event["payload"]["hours"] == "1.25"
    assert event["payload"]["person"] == "leo"


def test_a_bad_signature_is_refused(rules):
    body = fixture("webhook_time_entry.json")
    connector = toggl(rules, TogglDouble())
    forged = signed(body, secret="not-the-secret")
    assert connector.webhook(forged).status == 401
    tampered = signed(body)
    tampered = type(tampered)("POST", "", tampered.headers, body.replace(b"4500", b"9000"))
    reply = connector.webhook(tampered)
    assert (reply.status, reply.events) == (401, ())
    unsigned = type(tampered)("POST", "", {"content-type": "application/json"}, body)
    assert connector.webhook(unsigned).status == 401


def test_a_replayed_webhook_repeats_the_same_event_id(rules):
    connector = toggl(rules, TogglDouble())
    first = connector.webhook(signed(fixture("webhook_time_entry.json")))
    again = connector.webhook(signed(fixture("webhook_time_entry.json")))
    assert [e["id"] for e in first.events] == [e["id"] for e in again.events]


def test_the_ping_is_answered_with_its_validation_code(rules):
    reply = toggl(rules, TogglDouble()).webhook(signed(fixture("webhook_ping.json")))
    assert reply.status == 200
    assert json.loads(reply.body) == {"validation_code": "b7e0c5e2-3f55-4b6a-9c51-ffb2f1c40d6e"}
    assert reply.events == ()


def test_a_deleted_entry_is_withdrawn_by_webhook(rules):
    connector = toggl(rules, TogglDouble())
    connector.webhook(signed(fixture("webhook_time_entry.json")))
    envelope = json.loads(fixture("webhook_time_entry.json"))
    envelope["metadata"]["action"] = "deleted"
    envelope["payload"]["at"] = "2026-03-09T16:00:00Z"
    reply = connector.webhook(signed(json.dumps(envelope).encode()))
    assert [(e["type"], e["payload"]) for e in reply.events] == [
        ("time.unapproved", {"source_id": "toggl:time_entry:436694106"})]


def test_webhooks_need_a_secret(rules):
    reply = toggl(rules, TogglDouble(), webhook_secret=None).webhook(
        signed(fixture("webhook_ping.json")))
    assert reply.status == 404


def test_check_succeeds_against_the_workspace(rules):
    report = toggl(rules, TogglDouble()).check()
    assert report == ("toggl connector 'toggl': workspace 777, signed in as Dana Ortiz; "
                      "2 mapped projects and 1 mapped people found; approved by tag 'approved'")


def test_check_fails_on_unknown_projects_people_and_tag(rules):
    mapping = {"projects": {"193791": "atlas-outfitters-adhoc", "404": "atlas-outfitters-adhoc"},
               "people": {"99": "leo"}}
    with pytest.raises(ConnectorError) as caught:
        toggl(rules, TogglDouble(), map=mapping, approved_tag="signed-off").check()
    message = str(caught.value)
    assert "Toggl project 404, which workspace 777 does not have" in message
    assert "Toggl user 99, who is not in workspace 777" in message
    assert "no tag named 'signed-off'" in message


def test_check_fails_on_a_bad_token_without_showing_it(rules):
    double = TogglDouble()
    double.overrides.append(lambda r: httpx.Response(403, text=f"bad token {TOKEN}"))
    with pytest.raises(ConnectorError) as caught:
        toggl(rules, double).check()
    assert not caught.value.retryable
    assert TOKEN not in str(caught.value)


def test_the_class_is_registered_under_its_entry_point():
    from connectors.registry import ConnectorRegistry

    assert ConnectorRegistry.discover().connector_class("toggl") is TogglConnector
