"""The Harvest source: polling approved time and expenses against a Harvest API double."""

from __future__ import annotations

import copy
import json

import httpx
import pytest

from connectors.harvest import HarvestConnector
from connectors.harvest.api import RATE_LIMIT
from connectors.sources import WebhookRequest
from engine.errors import ConnectorError
from engine.model.events import parse_event

from .fixtures.harvest.double import TOKEN, HarvestDouble, body, harvest, sync_all


def by_id(events):
    return {event["id"]: event for event in events}


def test_full_sync_follows_pages_and_maps_every_entry(rules):
    double = HarvestDouble()
    events, problems, cursor = sync_all(harvest(rules, double), {"since": "2026-03-01"})
    found = by_id(events)
    assert sorted(found) == [
        "harvest:expense:15296442:2026-03-04T10:00:00Z",
        "harvest:time_entry:636709355:2026-03-04T09:12:00Z",
        "harvest:time_entry:636709356:2026-03-04T09:15:30Z",
        "harvest:time_entry:636709359:2026-03-06T08:00:00Z",
    ]
    assert found["harvest:time_entry:636709355:2026-03-04T09:12:00Z"] == {
        "id": "harvest:time_entry:636709355:2026-03-04T09:12:00Z", "type": "time.approved",
        "at": "2026-03-04T09:12:00+00:00",
        "payload": {"client": "atlas-outfitters", "project": "atlas-outfitters-adhoc",
                    "person": "leo", "role": "designer", "date": "2026-03-02", "hours": "1.5",
                    "billable": True, "task": "Graphic Design",
                    "notes": "Hero banner, second round",
                    "source_id": "harvest:time_entry:636709355"}}
    # Nora is not in map.people: found by her Harvest e-mail; her role is her first one.
    nora = found["harvest:time_entry:636709356:2026-03-04T09:15:30Z"]["payload"]
    assert (nora["person"], nora["role"], nora["client"], nora["hours"]) == \
        ("nora", "strategist", "gotham-health", "2.25")
    assert "notes" not in nora
    assert found["harvest:expense:15296442:2026-03-04T10:00:00Z"]["payload"] == {
        "client": "atlas-outfitters", "project": "atlas-outfitters-adhoc", "date": "2026-03-03",
        "amount": "133.37", "currency": "USD", "description": "Travel: Train to the Catskills shoot",
        "billable": True, "source_id": "harvest:expense:15296442"}
    for event in events:
        parse_event(event, "test")  # every event is valid against its schema
    assert double.paths() == [
        "/v2/time_entries?per_page=2000&from=2026-03-01",
        "/v2/users?per_page=2000",
        "/v2/time_entries?cursor=eyJhZnRlciI6eyJpZCI6NjM2NzA5MzU3fX0%3D&per_page=3&ref=next_cursor",
        "/v2/expenses?per_page=2000&from=2026-03-01",
    ]
    assert [str(p) for p in problems] == [
        "time_entry 636709358: Harvest project 99999999 (Internal) is not in the connector's "
        "map.projects"]
    assert cursor["time_entries"] == {"updated_since": "2026-03-06T09:25:00Z", "next": None,
                                      "newest": None}
    assert cursor["expenses"]["updated_since"] == "2026-03-04T21:00:00Z"
    assert (cursor["list"], cursor["since"]) == ("time_entries", "2026-03-01")


def test_every_request_carries_the_harvest_headers(rules):
    double = HarvestDouble()
    sync_all(harvest(rules, double))
    for request in double.requests:
        assert request.headers["Authorization"] == f"Bearer {TOKEN}"
        assert request.headers["Harvest-Account-Id"] == "123456"
        assert request.headers["User-Agent"] == "billflow (ops@northwind.example)"


def test_hours_are_exact_decimal_strings_never_floats(rules):
    events, _, _ = sync_all(harvest(rules, HarvestDouble()))
    hours = by_id(events)["harvest:time_entry:636709359:2026-03-06T08:00:00Z"]["payload"]["hours"]
    assert hours == "7.123456789012345678"  # a float would have kept 7.123456789012346


def test_the_next_poll_asks_only_for_what_changed_since(rules):
    double = HarvestDouble()
    connector = harvest(rules, double)
    _, _, cursor = sync_all(connector, {"since": "2026-03-01"})
    double.requests.clear()
    events, _, again = sync_all(connector, cursor)
    assert double.paths()[0] == ("/v2/time_entries?per_page=2000"
                                 "&updated_since=2026-03-06T09%3A25%3A00Z&from=2026-03-01")
    assert double.paths()[-1] == ("/v2/expenses?per_page=2000"
                                  "&updated_since=2026-03-04T21%3A00%3A00Z&from=2026-03-01")
    assert again == cursor
    assert len(events) == 4  # the double ignores the filter; the ids repeat, intake ignores them


def test_next_page_numbers_are_followed_when_there_is_no_link(rules):
    double = HarvestDouble()
    first = body("expenses.json")
    second = copy.deepcopy(first)
    first.update(links={"next": None}, next_page=2, total_pages=2)
    second["expenses"] = [dict(first["expenses"][0], id=15296444)]
    double.overrides.append(lambda r: httpx.Response(
        200, json=second if r.url.params.get("page") == "2" else first)
        if r.url.path == "/v2/expenses" else None)
    events, _, _ = sync_all(harvest(rules, double))
    assert "/v2/expenses?per_page=2000&page=2" in double.paths()
    assert {e["payload"]["source_id"] for e in events if e["type"] == "expense.approved"} == \
        {"harvest:expense:15296442", "harvest:expense:15296444"}


def test_a_next_link_to_another_host_is_refused(rules):
    double = HarvestDouble()
    page = body("time_entries_page1.json")
    page["links"]["next"] = "https://collector.example/v2/time_entries?page=2"
    double.pages["/v2/time_entries"] = json.dumps(page).encode()
    with pytest.raises(ConnectorError) as caught:
        sync_all(harvest(rules, double))
    assert not caught.value.retryable
    assert all(r.url.host == "api.harvestapp.com" for r in double.requests)


def test_a_429_is_retryable_after_harvests_retry_after(rules):
    double = HarvestDouble()
    double.fail_once(429, "/v2/time_entries", **{"Retry-After": "17"})
    connector = harvest(rules, double)
    with pytest.raises(ConnectorError) as caught:
        connector.sync(None)
    assert (caught.value.retryable, caught.value.retry_after) == (True, 17.0)
    assert connector.api.bucket._tokens < 0  # the bucket waits out the Retry-After too


def test_the_bucket_keeps_to_harvests_published_limit(rules):
    bucket = harvest(rules, HarvestDouble()).api.bucket
    assert RATE_LIMIT == (100, 15.0)
    assert (bucket.capacity, bucket.refill_per_second) == (100.0, 100 / 15.0)


def test_a_5xx_is_retryable_and_a_4xx_permanent(rules):
    double = HarvestDouble()
    double.fail_once(502)
    with pytest.raises(ConnectorError) as caught:
        harvest(rules, double).sync(None)
    assert caught.value.retryable
    double.fail_once(403)
    with pytest.raises(ConnectorError) as caught:
        harvest(rules, double).sync(None)
    assert not caught.value.retryable
    assert "HTTP 403" in str(caught.value)


def test_the_token_never_appears_in_an_error(rules):
    double = HarvestDouble()
    double.overrides.append(lambda r: httpx.Response(401, text=f"invalid token {TOKEN}"))
    with pytest.raises(ConnectorError) as caught:
        harvest(rules, double).sync(None)
    assert TOKEN not in str(caught.value)
    assert "***" in str(caught.value)


def test_a_reopened_entry_is_withdrawn_once_and_an_edit_replaces_it(rules):
    double = HarvestDouble()
    connector = harvest(rules, double, expenses=False)
    sync_all(connector)
    page = body("time_entries_page1.json")
    reopened = page["time_entries"][0]
    reopened.update(is_closed=False, approval_status="unsubmitted",
                    updated_at="2026-03-07T11:00:00Z")
    edited = page["time_entries"][1]
    edited.update(hours=3.5, updated_at="2026-03-07T12:00:00Z")
    page["links"]["next"] = None
    double.pages["/v2/time_entries"] = json.dumps(page).encode()
    events, _, _ = sync_all(connector)
    assert [(e["id"], e["type"]) for e in events] == [
        ("harvest:time_entry:636709355:unapproved:2026-03-07T11:00:00Z", "time.unapproved"),
        ("harvest:time_entry:636709356:2026-03-07T12:00:00Z", "time.approved"),
    ]
    assert events[0]["payload"] == {"source_id": "harvest:time_entry:636709355"}
    assert events[1]["payload"]["source_id"] == "harvest:time_entry:636709356"
    assert events[1]["payload"]["hours"] == "3.5"
    # Fetched again (same version): the same withdrawal id, a repeat intake ignores.
    again, _, _ = sync_all(connector)
    assert [e["id"] for e in again] == [e["id"] for e in events]
    # Touched again while open: billflow holds no approval of it any more, nothing to send.
    reopened["updated_at"] = "2026-03-08T09:00:00Z"
    double.pages["/v2/time_entries"] = json.dumps(page).encode()
    later, _, _ = sync_all(connector)
    assert [e["type"] for e in later] == ["time.approved"]


def test_an_entry_never_approved_is_not_withdrawn(rules):
    events, _, _ = sync_all(harvest(rules, HarvestDouble()))
    assert not [e for e in events if e["type"] == "time.unapproved"]


def test_a_reopened_expense_is_reported_not_dropped(rules):
    double = HarvestDouble()
    connector = harvest(rules, double)
    sync_all(connector)
    expenses = body("expenses.json")
    expenses["expenses"][0].update(is_closed=False, approval_status="unsubmitted",
                                   updated_at="2026-03-09T10:00:00Z")
    double.pages["/v2/expenses"] = json.dumps(expenses).encode()
    _, problems, _ = sync_all(connector)
    assert [p.record for p in problems if "re-opened" in p.message] == ["expense 15296442"]


def test_a_project_filed_under_another_harvest_client_is_a_problem(rules):
    double = HarvestDouble()
    page = body("time_entries_page1.json")
    page["time_entries"][0]["client"] = {"id": 777, "name": "Someone Else"}
    page["links"]["next"] = None
    double.pages["/v2/time_entries"] = json.dumps(page).encode()
    events, problems, _ = sync_all(harvest(rules, double, expenses=False))
    assert [p.record for p in problems] == ["time_entry 636709355"]
    assert "external_ids.harvest 20418120" in problems[0].message
    assert len(events) == 1


def test_harvest_takes_no_webhooks(rules):
    reply = harvest(rules, HarvestDouble()).webhook(
        WebhookRequest("POST", "", {"content-type": "application/json"}, b"{}"))
    assert reply.status == 404
    assert b"Harvest has none" in reply.body


def test_check_signs_in_and_finds_every_mapped_project_and_person(rules):
    double = HarvestDouble()
    report = harvest(rules, double).check()
    assert report == ("harvest connector 'harvest': account 123456, signed in as Dana Ortiz; "
                      "2 mapped projects and 1 mapped people found")
    assert [r.url.path for r in double.requests] == ["/v2/users/me", "/v2/projects", "/v2/users"]


def test_check_fails_on_a_missing_project_or_a_bad_mapping(rules):
    mapping = {"projects": {"14307913": "atlas-outfitters-adhoc", "555": "no-such-project"},
               "people": {"1782959": "leo", "42": "nobody"}}
    with pytest.raises(ConnectorError) as caught:
        harvest(rules, HarvestDouble(), map=mapping).check()
    message = str(caught.value)
    assert "map.projects sends 555 to 'no-such-project'" in message
    assert "map.people sends 42 to 'nobody'" in message
    assert "Harvest project 555, which the account does not have" in message
    assert "Harvest user 42, who is not in the account" in message


def test_check_fails_on_bad_credentials(rules):
    double = HarvestDouble()
    double.fail_once(401, "/v2/users/me")
    with pytest.raises(ConnectorError) as caught:
        harvest(rules, double).check()
    assert not caught.value.retryable
    assert "HTTP 401" in str(caught.value)


def test_per_page_above_harvests_maximum_is_refused(rules):
    with pytest.raises(ConnectorError, match="at most 2000"):
        harvest(rules, HarvestDouble(), per_page=5000)


def test_the_class_is_registered_under_its_entry_point():
    from connectors.registry import ConnectorRegistry

    registry = ConnectorRegistry.discover()
    assert registry.connector_class("harvest") is HarvestConnector
    assert HarvestConnector.polls()
