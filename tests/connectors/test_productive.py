"""The productive connector against a Productive double: pages, approvals, webhooks, the log, check."""

from __future__ import annotations

import json
import logging
from decimal import Decimal

import pytest

from connectors.base import Delivery
from connectors.productive.time_entries import hours_of, source_id
from connectors.signatures import hmac_signature
from connectors.sources import WebhookRequest
from connectors.state import MemoryBackend
from engine.errors import ConnectorError
from engine.model.events import parse_event

from .fixtures.productive.double import (
    NOW, TOKEN, WEBHOOK_TOKEN, ProductiveDouble, fixture, productive,
)


def sync_all(connector, cursor=None):
    """Sync batch after batch as the runner does; return events, problems, the last cursor."""
    events, problems = [], []
    while True:
        result = connector.sync(cursor)
        events += result.events
        problems += result.problems
        cursor = result.cursor
        if not result.more:
            return events, problems, cursor


def signed(body: bytes, stamp: int = int(NOW.timestamp()), token: str = WEBHOOK_TOKEN) -> WebhookRequest:
    signature = hmac_signature(token, f"{stamp}.".encode() + body)
    return WebhookRequest("POST", "", {"productive-signature": f"t={stamp}, s={signature}"}, body)


@pytest.mark.parametrize(("minutes", "hours"), [
    (480, "8"), (90, "1.5"), (15, "0.25"), (0, "0"), (3, "0.05"),
    (40, "0.66666666"), (20, "0.33333333"), (1, "0.01666666"),
])
def test_minutes_become_hours_exactly_or_cut_after_eight_places(minutes, hours):
    assert hours_of(minutes) == hours
    assert Decimal(hours) <= Decimal(minutes) / 60  # never more than was worked


def test_a_full_sync_pages_through_every_entry(rules):
    double = ProductiveDouble()
    events, problems, cursor = sync_all(productive(rules, double))
    params = [r.url.params for r in double.requests]
    assert params[0]["filter[updated_at][gt_eq]"] == "2026-01-01T00:00:00-05:00"  # go-live
    assert params[0]["sort"] == "updated_at" and params[0]["page[size]"] == "2"
    assert params[0]["include"] == "person,service,service.deal,service.deal.project"
    assert params[1]["filter[updated_at][gt_eq]"] == "2026-03-04T10:05:00.000+01:00"
    by_id = {e["payload"]["source_id"]: e for e in events}
    assert sorted(by_id) == [source_id("262"), source_id("263"), source_id("266")]
    assert by_id[source_id("262")]["payload"] == {
        "client": "gotham-health", "project": "gotham-health-campaigns", "person": "leo",
        "role": "designer", "date": "2026-03-02", "hours": "8", "billable": True,
        "task": "Design", "notes": "Campaign key visuals", "source_id": source_id("262")}
    assert by_id[source_id("263")]["payload"]["project"] == "thames-and-finch-adhoc"
    assert by_id[source_id("263")]["payload"]["hours"] == "0.66666666"
    assert by_id[source_id("263")]["payload"]["role"] == "strategist"
    assert (by_id[source_id("266")]["payload"]["billable"], by_id[source_id("266")]["payload"]["hours"]) \
        == (False, "1.5")
    assert by_id[source_id("262")]["at"] == "2026-03-04T10:00:00.000+01:00"
    assert by_id[source_id("262")]["id"].startswith("productive:time_entry:262:approved:")
    for event in events:
        parse_event(event, "test")  # valid against the event schemas
    assert {str(p) for p in problems} == {
        "time_entry 264: Productive user 8780 <pat@freelance.example> is not in map.people "
        "and no Agency person has that e-mail"}
    assert cursor["updated_since"] == "2026-03-06T09:00:00.000+01:00"


def test_a_refetch_gives_the_same_ids_and_an_unapproval_withdraws_the_entry(rules):
    double = ProductiveDouble()
    state = MemoryBackend()
    first, _, cursor = sync_all(productive(rules, double, state=state))
    again, _, _ = sync_all(productive(rules, double, state=state))
    assert {e["id"] for e in again} == {e["id"] for e in first}
    entry = double.entries["263"]["attributes"]
    entry.update(approved=False, approved_at=None, updated_at="2026-03-09T08:00:00.000+01:00")
    double.entries["265"]["attributes"]["updated_at"] = "2026-03-09T08:01:00.000+01:00"
    events, _, _ = sync_all(productive(rules, double, state=state), cursor)
    # 266 again (the cursor's boundary: a repeat); 265 was never approved: nothing to withdraw.
    assert {e["id"] for e in events if e["type"] == "time.approved"} <= {e["id"] for e in first}
    withdrawals = {e["id"]: e for e in events if e["type"] == "time.unapproved"}
    [withdrawn] = withdrawals.values()  # met on two pages: one id, a repeat for intake
    assert withdrawn["type"] == "time.unapproved"
    assert withdrawn["payload"] == {"source_id": source_id("263")}
    assert withdrawn["id"].startswith("productive:time_entry:263:unapproved:")
    entry.update(approved=True, approved_at="2026-03-09T09:00:00.000+01:00",
                 updated_at="2026-03-09T09:00:00.000+01:00", time=45, billable_time=45)
    events, _, _ = sync_all(productive(rules, double, state=state), cursor)
    [approved] = {e["id"]: e for e in events if e["type"] == "time.approved"
                  and e["payload"]["source_id"] == source_id("263")}.values()
    assert approved["payload"]["hours"] == "0.75"
    assert approved["id"] not in {e["id"] for e in first}  # a new version replaces the old


def test_a_page_of_one_instant_is_left_by_page_number(rules):
    double = ProductiveDouble()
    for entry in double.entries.values():
        entry["attributes"]["updated_at"] = "2026-03-04T10:00:00.000+01:00"
    events, _, cursor = sync_all(productive(rules, double))
    assert [r.url.params["page[number]"] for r in double.requests] == ["1", "1", "2", "3"]
    assert len({e["payload"]["source_id"] for e in events}) == 3
    assert cursor == {"updated_since": "2026-03-04T10:00:00.000+01:00", "page": 1}


def test_a_429_is_retryable_after_retry_after_a_5xx_retryable_a_4xx_not(rules):
    double = ProductiveDouble()
    double.fail("/time_entries", 429, "error_429.json", {"Retry-After": "10"})
    with pytest.raises(ConnectorError) as caught:
        productive(rules, double).sync(None)
    assert caught.value.retryable and caught.value.retry_after == 10.0
    double.fail("/time_entries", 500)
    with pytest.raises(ConnectorError) as caught:
        productive(rules, double).sync(None)
    assert caught.value.retryable
    double = ProductiveDouble()
    double.fail("/time_entries", 400, "error_400.json")
    with pytest.raises(ConnectorError) as caught:
        productive(rules, double).sync(None)
    assert not caught.value.retryable and "Unsupported Filter" in str(caught.value)
    assert len(double.requests) == 1


def test_requests_carry_the_jsonapi_headers_and_the_token_stays_out_of_logs(rules, caplog):
    double = ProductiveDouble()
    with caplog.at_level(logging.DEBUG):
        sync_all(productive(rules, double))
        with pytest.raises(ConnectorError) as caught:
            productive(rules, double, api_token="wrong-token-xyz").sync(None)
    request = double.requests[0]
    assert request.headers["content-type"] == "application/vnd.api+json"
    assert request.headers["x-organization-id"] == "4242"
    assert "HTTP 401" in str(caught.value) and not caught.value.retryable
    for secret in (TOKEN, "wrong-token-xyz", WEBHOOK_TOKEN):
        assert secret not in str(caught.value) and secret not in caplog.text


# -- webhooks --------------------------------------------------------------------------------

def test_a_signed_webhook_reads_the_entry_again(rules):
    double = ProductiveDouble()
    body = json.dumps(fixture("webhook_time_entry_updated.json")).encode()
    reply = productive(rules, double).webhook(signed(body))
    assert reply.status == 200
    assert double.paths() == ["GET /time_entries/263"]
    [event] = reply.events  # the entry as Productive has it now: approved
    assert event["type"] == "time.approved" and event["payload"]["source_id"] == source_id("263")


def test_a_bad_or_missing_signature_is_refused_before_any_call(rules):
    double = ProductiveDouble()
    connector = productive(rules, double)
    body = json.dumps(fixture("webhook_time_entry_updated.json")).encode()
    assert connector.webhook(signed(body, token="not-the-token")).status == 401
    assert connector.webhook(WebhookRequest("POST", "", {}, body)).status == 401
    good = signed(body)
    tampered = WebhookRequest("POST", "", good.headers, body.replace(b"263", b"262"))
    assert connector.webhook(tampered).status == 401
    assert double.requests == []


def test_the_signature_scheme_and_age_are_adjustable(rules):
    body = json.dumps(fixture("webhook_time_entry_updated.json")).encode()
    plain = productive(rules, ProductiveDouble(), signature={"message": "body",
                                                             "header": "X-Productive-Sig"})
    request = WebhookRequest("POST", "", {
        "x-productive-sig": f"t=1, s={hmac_signature(WEBHOOK_TOKEN, body)}"}, body)
    assert plain.webhook(request).status == 200
    strict = productive(rules, ProductiveDouble(), signature={"max_age_seconds": 300})
    assert strict.webhook(signed(body, stamp=int(NOW.timestamp()) - 3600)).status == 401
    assert strict.webhook(signed(body)).status == 200


def test_a_deleted_entry_billflow_saw_approved_is_withdrawn(rules):
    double = ProductiveDouble()
    state = MemoryBackend()
    sync_all(productive(rules, double, state=state))
    del double.entries["263"]
    body = json.dumps(fixture("webhook_time_entry_updated.json")).encode()
    reply = productive(rules, double, state=state).webhook(signed(body))
    [event] = reply.events
    assert event["type"] == "time.unapproved" and event["payload"]["source_id"] == source_id("263")


# -- the project log -------------------------------------------------------------------------

def campaign_invoice(rules, first_of) -> dict:
    """An issued invoice of Gotham Health's campaign engagement (budget 34 in the map)."""
    action = json.loads(json.dumps(first_of("invoice.issued")))
    client, engagement = rules.projects["gotham-health-campaigns"]
    invoice = action["payload"]["invoice"]
    invoice.update(id=f"{client}/{engagement}/2026-03-31", client=client, engagement=engagement)
    action.update(id=f"invoice.issued:{invoice['id']}", client=client)
    return action


def test_an_issued_invoice_is_commented_on_its_budget_once(rules, first_of):
    double = ProductiveDouble()
    connector = productive(rules, double)
    action = campaign_invoice(rules, first_of)
    invoice = action["payload"]["invoice"]
    first = connector.deliver(Delivery.of(action))
    second = connector.deliver(Delivery.of(action))
    [comment] = double.comments
    assert comment["relationships"] == {"deal": {"data": {"type": "deals", "id": "34"}}}
    body = comment["attributes"]["body"]
    assert body.startswith(f"Invoice {invoice['number']} issued to Gotham Health")
    assert f"due {invoice['due_date']}" in body and action["id"] in body
    assert first.external_id == second.external_id == "900"
    assert second.detail == "already logged on Productive deal 34"


def test_log_deals_win_and_an_unplaceable_invoice_is_refused(rules, first_of):
    action = first_of("invoice.issued")
    with pytest.raises(ConnectorError) as caught:
        productive(rules, ProductiveDouble()).deliver(Delivery.of(action))
    assert not caught.value.retryable and "map.log_deals" in str(caught.value)
    double = ProductiveDouble()
    connector = productive(rules, double, map={"log_deals": {action["client"]: "77"}})
    assert connector.deliver(Delivery.of(action)).detail == "commented on Productive deal 77"


# -- check -----------------------------------------------------------------------------------

def test_check_reaches_the_organization_and_the_mapped_budgets(rules):
    text = productive(rules, ProductiveDouble()).check()
    assert "organization 4242 reachable" in text and "2 budget(s)/project(s) mapped" in text


def test_check_fails_on_bad_credentials_and_bad_mappings(rules):
    with pytest.raises(ConnectorError) as caught:
        productive(rules, ProductiveDouble(), organization_id="1").check()
    assert "HTTP 401" in str(caught.value) and not caught.value.retryable
    with pytest.raises(ConnectorError) as caught:
        productive(rules, ProductiveDouble(), map={
            "budgets": {"34": "gotham-health-campaigns", "99": "nowhere"},
            "people": {"8779": "nobody"}}).check()
    message = str(caught.value)
    assert "Productive budget 99 cannot be read" in message
    assert "'nowhere', which no engagement lists" in message
    assert "'nobody', who is no Agency person" in message
