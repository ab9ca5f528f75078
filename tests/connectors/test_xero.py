"""The xero connector against a Xero double (httpx.MockTransport)."""

from __future__ import annotations

import json
import logging
from datetime import datetime, timedelta, timezone
from pathlib import Path

import httpx
import pytest

from connectors.base import Delivery
from connectors.oauth import TOKENS_KEY
from connectors.sources import WebhookRequest
from connectors.state import MemoryBackend
from connectors.xero import XeroConnector
from connectors.xero.api import idempotency_key
from engine.errors import ConnectorError
from engine.ruleset.loader import load_ruleset
from tests.connectors.books_support import NOW, Clock, books_connectors, issued, voided
from tests.connectors.books_support import signed as signed_by
from tests.connectors.fixtures.xero.vendor import ACME, TENANT, FakeXero

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "xero"
ENV = {"XERO_CLIENT_ID": "xero-client-id", "XERO_CLIENT_SECRET": "xero-client-secret",
       "XERO_WEBHOOK_KEY": "xero-webhook-key-123", "BILLFLOW_SECRET_KEY": "test-sealing-key-0123456789abcdefghij"}
SECRETS = ("xero-client-secret", "xero-webhook-key-123", "access-0", "refresh-0", "refresh-1")
FIRST = "00000000-0000-0000-0000-000000000001"  # the double's first InvoiceID


@pytest.fixture(scope="module")
def rules():
    return load_ruleset(FIXTURES / "rules")


@pytest.fixture()
def vendor() -> FakeXero:
    return FakeXero()


@pytest.fixture()
def clock() -> Clock:
    return Clock()


@pytest.fixture()
def make(rules, vendor, clock):
    with books_connectors(XeroConnector, rules, vendor, clock, MemoryBackend(), ENV,
                          timedelta(minutes=30)) as build:
        yield build


def calls(vendor: FakeXero, method: str, path: str) -> list[httpx.Request]:
    return [r for r in vendor.requests
            if r.method == method and r.url.path == f"/api.xro/2.0/{path}"]


def signed(body: bytes, key: str = "xero-webhook-key-123") -> WebhookRequest:
    return signed_by(body, key, "x-xero-signature")


# -- invoices ---------------------------------------------------------------------------------

def test_an_issued_invoice_is_created_once_as_an_authorised_sales_invoice(make, vendor):
    action = issued(tax="133.13", lines=[
        {"description": "Design", "quantity": "10.5", "unit_price": "140.00", "amount": "1470.00"},
        {"description": "Strategy", "quantity": "0.333", "unit_price": "175.00", "amount": "58.28"}])
    receipt = make().deliver(Delivery.of(action))
    [create] = calls(vendor, "PUT", "Invoices")
    assert create.headers["xero-tenant-id"] == TENANT
    assert create.headers["Idempotency-Key"] == idempotency_key(action["id"], "create")
    text = create.content.decode()
    assert '"UnitAmount":140.00' in text and '"Quantity":10.5' in text
    [body] = json.loads(text)["Invoices"]
    assert {k: body[k] for k in ("Type", "Contact", "InvoiceNumber", "Reference", "Date",
                                 "DueDate", "CurrencyCode", "LineAmountTypes", "Status")} == {
        "Type": "ACCREC", "Contact": {"ContactID": ACME}, "InvoiceNumber": "TS-2026-0001",
        "Reference": "acme/social/2026-03", "Date": "2026-03-02", "DueDate": "2026-04-01",
        "CurrencyCode": "USD", "LineAmountTypes": "Exclusive", "Status": "AUTHORISED"}
    design, strategy = body["LineItems"]
    assert design == {"Description": "Design", "Quantity": 10.5, "UnitAmount": 140.0,
                      "AccountCode": "200", "TaxType": "OUTPUT2"}
    # 0.333 x 175.00 is not 58.28: the line goes as one unit of its billed amount.
    assert (strategy["Quantity"], strategy["UnitAmount"]) == (1, 58.28)
    assert (receipt.external_id, receipt.detail) == (FIRST, f"Xero invoice {FIRST} (TS-2026-0001)")


def test_a_lost_reply_is_retried_with_the_same_idempotency_key(make, vendor):
    action = issued()
    vendor.fail_next(lambda r: r.method == "PUT", "lose-reply")
    with pytest.raises(ConnectorError) as caught:
        make().deliver(Delivery.of(action))
    assert caught.value.retryable is True
    assert make().deliver(Delivery.of(action)).external_id == FIRST
    creates = calls(vendor, "PUT", "Invoices")
    assert len(creates) == 2 and len({r.headers["Idempotency-Key"] for r in creates}) == 1
    assert vendor.created == 1


def test_a_client_without_an_id_is_found_by_name(make, vendor):
    vendor.contacts["b1"] = {"ContactID": "b1", "Name": "Brill Coffee", "ContactStatus": "ACTIVE"}
    make().deliver(Delivery.of(issued("brill")))
    lookup = calls(vendor, "GET", "Contacts")[0]
    assert lookup.url.params["where"] == 'Name=="Brill Coffee"'
    [body] = json.loads(calls(vendor, "PUT", "Invoices")[0].content)["Invoices"]
    assert body["Contact"] == {"ContactID": "b1"}
    assert body["LineItems"][0]["TaxType"] == "NONE"


def test_an_unmappable_client_is_a_permanent_error_naming_the_fix(make, vendor):
    with pytest.raises(ConnectorError) as caught:
        make().deliver(Delivery.of(issued("brill")))
    assert caught.value.retryable is False
    assert "client 'brill' has no external_ids.xero and no Xero contact is named 'Brill Coffee'" \
        " or with e-mail accounts@brill.example" in str(caught.value)
    assert calls(vendor, "PUT", "Invoices") == []


def test_email_and_void(make, vendor):
    action = issued()
    connector = make(email_invoice=True)
    assert connector.deliver(Delivery.of(action)).detail.endswith("e-mailed")
    [email] = calls(vendor, "POST", f"Invoices/{FIRST}/Email")
    assert email.content == b"{}" and email.headers["Idempotency-Key"] == idempotency_key(
        action["id"], "email")
    receipt = connector.deliver(Delivery.of(voided(action)))
    [void] = calls(vendor, "POST", f"Invoices/{FIRST}")
    assert json.loads(void.content) == {"Invoices": [{"InvoiceID": FIRST, "Status": "VOIDED"}]}
    assert receipt.detail == f"Xero invoice {FIRST} (TS-2026-0001) voided"
    assert connector.deliver(Delivery.of(voided(action))).detail.endswith("already void")


# -- errors -----------------------------------------------------------------------------------

def test_429_is_retryable_after_retry_after_and_names_the_limit(make, vendor):
    vendor.fail_next(lambda r: r.method == "PUT", httpx.Response(
        429, headers={"Retry-After": "42", "X-Rate-Limit-Problem": "minute"}))
    with pytest.raises(ConnectorError) as caught:
        make().deliver(Delivery.of(issued()))
    assert (caught.value.retryable, caught.value.retry_after) == (True, 42.0)
    assert "(the minute limit)" in str(caught.value)


def test_5xx_is_retried_and_the_retry_succeeds(make, vendor):
    vendor.fail_next(lambda r: r.method == "PUT", httpx.Response(500, text="oops"))
    connector = make()
    with pytest.raises(ConnectorError) as caught:
        connector.deliver(Delivery.of(issued()))
    assert caught.value.retryable is True
    assert connector.deliver(Delivery.of(issued())).external_id == FIRST
    assert vendor.created == 1


def test_a_validation_error_is_permanent_and_says_why(make, vendor):
    vendor.add_invoice("dup", "TS-2026-0001")
    with pytest.raises(ConnectorError) as caught:
        make().deliver(Delivery.of(issued()))
    assert caught.value.retryable is False
    assert ("HTTP 400 ValidationException: A validation exception occurred — Invoice # must be "
            "unique.") in str(caught.value)


# -- tokens -----------------------------------------------------------------------------------

def test_an_expired_token_is_refreshed_and_the_rotated_refresh_token_kept(make, vendor, caplog):
    connector = make()
    vendor.expire_access_tokens()
    with caplog.at_level(logging.DEBUG):
        connector.deliver(Delivery.of(issued()))
    kept = connector.state.get_secret(TOKENS_KEY)
    assert (kept["access_token"], kept["refresh_token"]) == ("access-1", "refresh-1")
    # The old refresh token is spent: another instance must use the kept one.
    vendor.expire_access_tokens()
    make().sync({"since": "2026-03-01"})
    assert vendor.refreshes == 2
    assert make().state.get_secret(TOKENS_KEY)["refresh_token"] == "refresh-2"
    for secret in SECRETS:
        assert secret not in caplog.text


def test_a_revoked_refresh_token_is_reported_clearly(make, vendor, clock):
    connector = make()
    vendor.revoke_refresh_tokens()
    clock.now = NOW + timedelta(hours=1)  # the access token has expired: a refresh is due
    with pytest.raises(ConnectorError) as caught:
        connector.deliver(Delivery.of(issued()))
    assert caught.value.retryable is False
    assert "Xero refused the stored authorisation (invalid_grant" in str(caught.value)
    assert "run `billflow connect books` again" in str(caught.value)
    assert calls(vendor, "PUT", "Invoices") == []


# -- payments ---------------------------------------------------------------------------------

def test_a_full_payments_sync_pages_through_and_keeps_its_cursor(make, vendor):
    vendor.add_invoice("inv-1", "TS-2026-0001")
    vendor.add_invoice("inv-2", "TS-2026-0002")
    for index in range(5):
        vendor.add_payment(f"pay-{index}", "inv-1" if index % 2 == 0 else "inv-2",
                           f"{100 + index}.50", datetime(2026, 3, 3 + index, 17, 30, tzinfo=timezone.utc))
    connector = make(page_size=2)
    cursor, batches, events = {"since": "2026-03-01"}, 0, []
    while True:
        result = connector.sync(cursor)
        batches += 1
        events.extend(result.events)
        cursor = result.cursor
        if not result.more:
            break
    assert batches == 3
    assert [e["id"] for e in events] == [f"xero:{TENANT}:payment:pay-{i}" for i in range(5)]
    assert events[0] == {
        "id": f"xero:{TENANT}:payment:pay-0", "type": "payment.received",
        "at": "2026-03-03T17:30:00+00:00",
        "payload": {"amount": "100.50", "currency": "USD", "date": "2026-03-04",
                    "client": "acme", "source_id": "pay-0", "reference": "TS-2026-0001",
                    "payer": "Acme Outdoor Co."}}
    assert cursor == {"modified_since": "2026-03-07T17:30:00", "page": 1}
    pages = calls(vendor, "GET", "Payments")
    assert [r.url.params["page"] for r in pages] == ["1", "2", "3"]
    assert pages[0].headers["If-Modified-Since"] == "2026-03-01T00:00:00"
    assert pages[0].url.params["order"] == "UpdatedDateUTC ASC"


def test_an_unmappable_payment_is_reported_not_dropped(make, vendor):
    vendor.contacts["z9"] = {"ContactID": "z9", "Name": "Zed Ltd", "ContactStatus": "ACTIVE"}
    vendor.add_invoice("inv-9", "ZED-1", contact="z9")
    vendor.add_payment("pay-9", "inv-9", "80.00", datetime(2026, 3, 3, tzinfo=timezone.utc))
    result = make().sync({"since": "2026-03-01"})
    assert result.events == ()
    [problem] = result.problems
    assert problem.record == "Payment pay-9"
    assert "Xero contact z9 (Zed Ltd) is no billflow client's external_ids.xero" in problem.message


# -- webhooks ---------------------------------------------------------------------------------

def test_intent_to_receive_good_signature_200_empty_bad_401(make, vendor):
    body = (FIXTURES / "webhook_intent.json").read_bytes()
    connector = make()
    good = connector.webhook(signed(body))
    assert (good.status, good.body, good.events) == (200, b"", ())
    bad = connector.webhook(signed(body, "not-the-key"))
    assert bad.status == 401
    unsigned = connector.webhook(WebhookRequest("POST", "", {}, body))
    assert unsigned.status == 401
    assert vendor.requests == []


def test_an_invoice_event_brings_its_payments_for_this_tenant_only(make, vendor):
    vendor.add_invoice("ed255415-0000-4000-8000-000000000001", "TS-2026-0001")
    vendor.add_payment("pay-1", "ed255415-0000-4000-8000-000000000001", "1500.00",
                       datetime(2026, 3, 4, 17, 30, tzinfo=timezone.utc))
    reply = make().webhook(signed((FIXTURES / "webhook_invoice.json").read_bytes()))
    assert (reply.status, reply.body) == (200, b"")
    [event] = reply.events
    assert event["id"] == f"xero:{TENANT}:payment:pay-1"
    assert event["payload"]["reference"] == "TS-2026-0001"
    assert event["payload"]["date"] == "2026-03-04"
    assert [r.url.path for r in vendor.requests] == [
        "/api.xro/2.0/Invoices/ed255415-0000-4000-8000-000000000001"]


def test_a_replayed_webhook_is_ignored(make, vendor):
    vendor.add_invoice("ed255415-0000-4000-8000-000000000001", "TS-2026-0001")
    vendor.add_payment("pay-1", "ed255415-0000-4000-8000-000000000001", "1500.00",
                       datetime(2026, 3, 4, 17, 30, tzinfo=timezone.utc))
    body = (FIXTURES / "webhook_invoice.json").read_bytes()
    assert len(make().webhook(signed(body)).events) == 1
    seen = len(vendor.requests)
    replay = make().webhook(signed(body))
    assert (replay.status, replay.events) == (200, ())
    assert len(vendor.requests) == seen


# -- check ------------------------------------------------------------------------------------

def test_check_reads_the_organisation_and_maps_every_client(make, vendor):
    vendor.contacts["b1"] = {"ContactID": "b1", "Name": "Brill Coffee", "ContactStatus": "ACTIVE"}
    assert make().check() == ("xero connector 'books': organisation 'Test Studio Ltd' (tenant "
                              f"{TENANT}) answers; 2 clients mapped to contacts")


def test_check_fails_naming_unmapped_clients(make):
    with pytest.raises(ConnectorError, match="client 'brill' has no external_ids.xero"):
        make().check()
