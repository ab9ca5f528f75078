"""The quickbooks connector against a QuickBooks Online double (httpx.MockTransport)."""

from __future__ import annotations

import json
import logging
from datetime import timedelta
from pathlib import Path

import httpx
import pytest

from connectors.base import Delivery
from connectors.oauth import TOKENS_KEY
from connectors.quickbooks import QuickBooksConnector
from connectors.quickbooks.invoices import request_id
from connectors.sources import WebhookRequest
from connectors.state import MemoryBackend
from engine.errors import ConnectorError
from engine.ruleset.loader import load_ruleset
from tests.connectors.books_support import NOW, Clock, books_connectors, issued, voided
from tests.connectors.books_support import signed as signed_by
from tests.connectors.fixtures.quickbooks.vendor import FakeQuickBooks, REALM

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "quickbooks"
ENV = {"QBO_CLIENT_ID": "app-client-id", "QBO_CLIENT_SECRET": "app-client-secret",
       "QBO_VERIFIER_TOKEN": "verifier-token-123", "BILLFLOW_SECRET_KEY": "test-sealing-key-0123456789abcdefghij"}
SECRETS = ("app-client-secret", "verifier-token-123", "access-0", "refresh-0", "refresh-1")


@pytest.fixture(scope="module")
def rules():
    return load_ruleset(FIXTURES / "rules")


@pytest.fixture()
def vendor() -> FakeQuickBooks:
    return FakeQuickBooks()


@pytest.fixture()
def clock() -> Clock:
    return Clock()


@pytest.fixture()
def backend() -> MemoryBackend:
    return MemoryBackend()


@pytest.fixture()
def make(rules, vendor, clock, backend):
    with books_connectors(QuickBooksConnector, rules, vendor, clock, backend, ENV,
                          timedelta(hours=1)) as build:
        yield build


def posts(vendor: FakeQuickBooks, path: str) -> list[httpx.Request]:
    return [r for r in vendor.requests
            if r.method == "POST" and r.url.path == f"/v3/company/{REALM}/{path}"]


def signed(body: bytes, key: str = "verifier-token-123") -> WebhookRequest:
    return signed_by(body, key, "intuit-signature", **{"content-type": "application/json"})


def assert_no_secret(text: str) -> None:
    for secret in SECRETS:
        assert secret not in text


# -- invoices ---------------------------------------------------------------------------------

def test_an_issued_invoice_is_created_once_with_exact_amounts(make, vendor):
    action = issued(lines=[{"description": "Design", "quantity": "10.5", "unit_price": "140.00",
                            "amount": "1470.00"},
                           {"description": "Strategy", "quantity": "0.33", "unit_price": "175.00",
                            "amount": "57.75"}])
    receipt = make().deliver(Delivery.of(action))
    [create] = posts(vendor, "invoice")
    assert create.url.params["minorversion"] == "75"
    assert create.url.params["requestid"] == request_id(action["id"], "create")
    assert len(create.url.params["requestid"]) <= 50
    text = create.content.decode()
    assert '"Amount":1470.00' in text and '"UnitPrice":140.00' in text and '"Qty":10.5' in text
    body = json.loads(text)
    assert body["CustomerRef"] == {"value": "58"}
    assert (body["DocNumber"], body["TxnDate"], body["DueDate"]) == (
        "TS-2026-0001", "2026-03-02", "2026-04-01")
    assert body["BillEmail"] == {"Address": "ap@acme.example"}
    first, second = body["Line"]
    assert first["SalesItemLineDetail"] == {"ItemRef": {"value": "5"}, "Qty": 10.5,
                                            "UnitPrice": 140.0, "TaxCodeRef": {"value": "NON"}}
    # 0.33 x 175.00 = 57.75 exactly; a line whose product is not its amount carries no Qty.
    assert second["Amount"] == 57.75
    assert (receipt.external_id, receipt.detail) == ("130", "QuickBooks invoice 130 (TS-2026-0001)")
    assert vendor.created == 1


def test_a_lost_reply_is_retried_with_the_same_requestid_and_creates_nothing_new(
        make, vendor, backend):
    action = issued()
    vendor.fail_next(lambda r: r.url.path.endswith("/invoice") and r.method == "POST",
                     "lose-reply")
    with pytest.raises(ConnectorError) as caught:
        make().deliver(Delivery.of(action))
    assert caught.value.retryable is True
    # The retry comes from a new instance with nothing kept: the requestid alone dedupes.
    backend._values.pop(("books", "invoice:acme/social/2026-03"), None)
    receipt = make().deliver(Delivery.of(action))
    creates = posts(vendor, "invoice")
    assert len(creates) == 2
    assert len({r.url.params["requestid"] for r in creates}) == 1
    assert vendor.created == 1 and receipt.external_id == "130"
    # A third delivery finds the invoice in the kept state and sends nothing.
    make().deliver(Delivery.of(action))
    assert len(posts(vendor, "invoice")) == 2


def test_a_client_without_an_id_is_found_by_name_and_taxed_lines_carry_the_tax(make, vendor):
    vendor.customers["59"] = {**vendor.customers["58"], "Id": "59", "DisplayName": "Brill Coffee",
                              "PrimaryEmailAddr": {"Address": "accounts@brill.example"}}
    action = issued("brill", tax="177.50", lines=[{"description": "Care", "quantity": "1",
                                                  "unit_price": "2000.00", "amount": "2000.00"}])
    make(txn_tax_code="7").deliver(Delivery.of(action))
    query = next(r for r in vendor.requests if r.url.path.endswith("/query"))
    assert query.url.params["query"] == "select * from Customer where DisplayName = 'Brill Coffee'"
    body = json.loads(posts(vendor, "invoice")[0].content)
    assert body["CustomerRef"] == {"value": "59"}
    assert body["Line"][0]["SalesItemLineDetail"]["TaxCodeRef"] == {"value": "TAX"}
    assert body["TxnTaxDetail"] == {"TxnTaxCodeRef": {"value": "7"}, "TotalTax": 177.5}
    assert '"TotalTax":177.50' in posts(vendor, "invoice")[0].content.decode()


def test_an_unmappable_client_is_a_permanent_error_naming_the_fix(make, vendor):
    with pytest.raises(ConnectorError) as caught:
        make().deliver(Delivery.of(issued("brill")))
    assert caught.value.retryable is False
    message = str(caught.value)
    assert "client 'brill' has no external_ids.quickbooks" in message
    assert "named 'Brill Coffee' or with e-mail accounts@brill.example" in message
    assert "clients.yaml" in message
    assert posts(vendor, "invoice") == []


def test_email_invoice_sends_it_from_quickbooks_once(make, vendor):
    action = issued()
    connector = make(email_invoice=True)
    receipt = connector.deliver(Delivery.of(action))
    [send] = posts(vendor, "invoice/130/send")
    assert send.headers["Content-Type"] == "application/octet-stream"
    assert send.url.params["requestid"] == request_id(action["id"], "send")
    assert receipt.detail.endswith("e-mailed")
    connector.deliver(Delivery.of(action))
    assert len(posts(vendor, "invoice/130/send")) == 1


def test_a_voided_invoice_is_voided_with_its_current_sync_token(make, vendor):
    action = issued()
    connector = make()
    connector.deliver(Delivery.of(action))
    receipt = connector.deliver(Delivery.of(voided(action)))
    [void] = [r for r in posts(vendor, "invoice") if r.url.params.get("operation") == "void"]
    assert json.loads(void.content) == {"Id": "130", "SyncToken": "0"}
    assert receipt.detail == "QuickBooks invoice 130 (TS-2026-0001) voided"
    again = connector.deliver(Delivery.of(voided(action)))
    assert again.detail.endswith("was already void")
    draft = voided(action)
    draft["payload"]["invoice"]["number"] = None
    assert "nothing to void" in connector.deliver(Delivery.of(draft)).detail


def test_an_invoice_billflow_did_not_post_is_found_by_its_number_to_void(make, vendor):
    vendor.add_invoice("212", "TS-2026-0001")
    receipt = make().deliver(Delivery.of(voided(issued())))
    assert receipt.external_id == "212"


# -- errors -----------------------------------------------------------------------------------

def test_429_is_retryable_after_the_vendors_retry_after(make, vendor):
    vendor.fail_next(lambda r: r.method == "POST", httpx.Response(429, headers={"Retry-After": "7"},
                                                                  text="ThrottleExceeded"))
    with pytest.raises(ConnectorError) as caught:
        make().deliver(Delivery.of(issued()))
    assert (caught.value.retryable, caught.value.retry_after) == (True, 7.0)


def test_5xx_is_retried_and_the_retry_succeeds(make, vendor):
    vendor.fail_next(lambda r: r.method == "POST", httpx.Response(503, text="busy"))
    connector = make()
    with pytest.raises(ConnectorError) as caught:
        connector.deliver(Delivery.of(issued()))
    assert caught.value.retryable is True and caught.value.retry_after is None
    assert connector.deliver(Delivery.of(issued())).external_id == "130"
    assert vendor.created == 1


def test_a_validation_fault_is_permanent_and_says_why(make, vendor):
    vendor.add_invoice("99", "TS-2026-0001")  # the number is taken in the books
    with pytest.raises(ConnectorError) as caught:
        make().deliver(Delivery.of(issued()))
    assert caught.value.retryable is False
    assert "HTTP 400 ValidationFault: Duplicate Document Number Error" in str(caught.value)
    assert "(code 6140)" in str(caught.value)


def test_a_fault_in_an_http_200_is_an_error(make, vendor):
    fault = (FIXTURES / "fault_validation.json").read_bytes()
    vendor.fail_next(lambda r: r.method == "POST", httpx.Response(200, content=fault))
    with pytest.raises(ConnectorError, match="ValidationFault") as caught:
        make().deliver(Delivery.of(issued()))
    assert caught.value.retryable is False


# -- tokens -----------------------------------------------------------------------------------

def test_an_expired_token_is_refreshed_once_on_a_401_and_the_new_refresh_token_kept(
        make, vendor, caplog):
    connector = make()
    vendor.expire_access_tokens()
    with caplog.at_level(logging.DEBUG):
        assert connector.deliver(Delivery.of(issued())).external_id == "130"
    assert vendor.refreshes == 1
    kept = connector.state.get_secret(TOKENS_KEY)
    assert (kept["access_token"], kept["refresh_token"]) == ("access-1", "refresh-1")
    assert kept["refresh_expires_at"].startswith("2026-06-11")
    # At rest the tokens are sealed.
    raw = connector.state._backend.connector_value("books", TOKENS_KEY)
    assert raw.startswith("sealed:") and "refresh-1" not in raw
    assert_no_secret(caplog.text)


def test_a_token_near_expiry_is_refreshed_before_the_call(make, vendor, clock):
    connector = make()
    clock.now = NOW + timedelta(minutes=56)
    connector.deliver(Delivery.of(issued()))
    assert vendor.refreshes == 1
    assert [r.url.path for r in vendor.requests][0] == "/oauth2/v1/tokens/bearer"


def test_a_revoked_refresh_token_is_reported_clearly(make, vendor):
    connector = make()
    vendor.expire_access_tokens()
    vendor.revoke_refresh_tokens()
    with pytest.raises(ConnectorError) as caught:
        connector.deliver(Delivery.of(issued()))
    assert caught.value.retryable is False
    assert "QuickBooks refused the stored authorisation (invalid_grant" in str(caught.value)
    assert "run `billflow connect books` again" in str(caught.value)
    assert_no_secret(str(caught.value))


def test_without_tokens_it_says_to_connect(make):
    with pytest.raises(ConnectorError, match="run `billflow connect books`") as caught:
        make(seed=False).deliver(Delivery.of(issued()))
    assert caught.value.retryable is False


def test_a_refresh_token_from_the_config_starts_the_tokens_once(make, vendor):
    connector = make(seed=False, refresh_token="refresh-0")
    connector.deliver(Delivery.of(issued()))
    assert vendor.refreshes == 1
    assert connector.state.get_secret(TOKENS_KEY)["refresh_token"] == "refresh-1"
    make(seed=False, refresh_token="refresh-0").deliver(Delivery.of(issued("acme", "TS-2026-0002")))
    assert vendor.refreshes == 1  # the stored tokens win over the seed


# -- payments ---------------------------------------------------------------------------------

def test_a_full_payments_sync_pages_through_and_keeps_its_cursor(make, vendor):
    vendor.add_invoice("130", "TS-2026-0001")
    vendor.add_invoice("131", "TS-2026-0002")
    for index in range(5):
        vendor.add_payment(f"90{index}", "130" if index % 2 == 0 else "131", f"{100 + index}.50",
                           updated=f"2026-03-0{index + 3}T09:30:00-08:00")
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
    assert [e["id"] for e in events] == [f"quickbooks:{REALM}:payment:90{i}" for i in range(5)]
    first = events[0]
    assert first == {"id": f"quickbooks:{REALM}:payment:900", "type": "payment.received",
                     "at": "2026-03-03T09:30:00-08:00",
                     "payload": {"amount": "100.50", "currency": "USD", "date": "2026-03-04",
                                 "client": "acme", "source_id": "900",
                                 "reference": "TS-2026-0001", "payer": "Acme Outdoor Co."}}
    assert events[1]["payload"]["reference"] == "TS-2026-0002"
    assert cursor == {"updated_since": "2026-03-07T09:30:00-08:00", "start": 1}
    queries = [r.url.params["query"] for r in vendor.requests
               if r.url.path.endswith("/query") and "Payment" in r.url.params["query"]]
    assert queries[0] == ("select * from Payment where MetaData.LastUpdatedTime >= "
                          "'2026-03-01T00:00:00+00:00' orderby MetaData.LastUpdatedTime "
                          "startposition 1 maxresults 2")
    assert "startposition 3" in queries[1] and "startposition 5" in queries[2]
    # Nothing new: the boundary payment comes again (`>=`; intake ignores the repeated id).
    again = connector.sync(cursor)
    assert [e["id"] for e in again.events] == [events[-1]["id"]] and again.cursor == cursor


def test_an_unmappable_payment_is_reported_not_dropped(make, vendor):
    vendor.customers["77"] = {**vendor.customers["58"], "Id": "77", "DisplayName": "Zed Ltd",
                              "PrimaryEmailAddr": {"Address": "ap@zed.example"}}
    vendor.add_payment("950", "130", "80.00", customer="77")
    result = make().sync({"since": "2026-03-01"})
    assert result.events == ()
    [problem] = result.problems
    assert problem.record == "Payment 950"
    assert "QuickBooks customer 77 (Zed Ltd) is no billflow client's external_ids.quickbooks" \
        in problem.message


def test_a_payment_from_a_customer_found_by_name_maps_back_to_its_client(make, vendor):
    vendor.customers["59"] = {**vendor.customers["58"], "Id": "59", "DisplayName": "Brill Coffee",
                              "PrimaryEmailAddr": {"Address": "accounts@brill.example"}}
    vendor.add_payment("951", "130", "80.00", customer="59")
    [event] = make().sync({"since": "2026-03-01"}).events
    assert event["payload"]["client"] == "brill"


# -- webhooks ---------------------------------------------------------------------------------

def test_a_bad_webhook_signature_is_refused(make, vendor):
    body = (FIXTURES / "webhook_legacy.json").read_bytes()
    tampered = WebhookRequest("POST", "", signed(body).headers, body.replace(b"901", b"902"))
    for request in (signed(body, "wrong-key"), WebhookRequest("POST", "", {}, body), tampered):
        reply = make().webhook(request)
        assert reply.status == 401 and reply.events == ()
    assert vendor.requests == []


def test_a_legacy_webhook_brings_the_payment_it_names(make, vendor):
    vendor.add_invoice("130", "TS-2026-0001")
    vendor.add_payment("901", "130", "1500.00")
    reply = make().webhook(signed((FIXTURES / "webhook_legacy.json").read_bytes()))
    assert reply.status == 200
    [event] = reply.events
    assert event["id"] == f"quickbooks:{REALM}:payment:901"
    assert event["payload"]["reference"] == "TS-2026-0001"
    assert event["payload"]["amount"] == "1500.00"


def test_a_cloudevents_webhook_takes_its_own_company_only(make, vendor):
    vendor.add_invoice("130", "TS-2026-0001")
    vendor.add_payment("901", "130", "1500.00")
    reply = make().webhook(signed((FIXTURES / "webhook_cloudevents.json").read_bytes()))
    assert reply.status == 200
    assert [e["id"] for e in reply.events] == [f"quickbooks:{REALM}:payment:901"]
    assert [r.url.path.rsplit("/", 1)[-1] for r in vendor.requests
            if "/payment/" in r.url.path] == ["901"]


def test_a_replayed_webhook_is_ignored(make, vendor):
    vendor.add_invoice("130", "TS-2026-0001")
    vendor.add_payment("901", "130", "1500.00")
    body = (FIXTURES / "webhook_cloudevents.json").read_bytes()
    connector = make()
    assert len(connector.webhook(signed(body)).events) == 1
    seen = len(vendor.requests)
    replay = make().webhook(signed(body))
    assert (replay.status, replay.events, replay.body) == (200, (), b"")
    assert len(vendor.requests) == seen


def test_a_webhook_that_is_not_an_intuit_delivery_is_refused(make):
    reply = make().webhook(signed(b'{"hello": "world"}'))
    assert reply.status == 400


# -- check ------------------------------------------------------------------------------------

def test_check_reads_the_company_and_maps_every_client(make, vendor):
    vendor.customers["59"] = {**vendor.customers["58"], "Id": "59", "DisplayName": "Brill Coffee"}
    text = make().check()
    assert text.startswith("quickbooks connector 'books': company 'Test Studio LLC' "
                           f"(realm {REALM}) answers; 2 clients mapped to customers")


def test_check_names_the_clients_without_a_customer(make):
    with pytest.raises(ConnectorError) as caught:
        make().check()
    assert "client 'brill' has no external_ids.quickbooks" in str(caught.value)
