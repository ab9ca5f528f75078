"""End to end with the books: the real daemon posts an invoice to QuickBooks Online or Xero
exactly once, and the books' payment webhook reconciles it and stops its reminders.

An in-process `Daemon` (real SQLite store, `ManualClock`, its real HTTP server on loopback)
runs an Agency whose routing sends `invoice.issued` to a `books` connector; the vendor is a
double behind httpx.MockTransport (tests/connectors/fixtures/*/vendor.py). The first create's
reply is lost (a timeout after the vendor made the invoice): the dispatcher retries with the
same idempotency key and the double, which dedupes by it, has made one invoice. The tokens
are in the store as `billflow connect` leaves them and expire while the clock moves on.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import Callable, Iterator
from functools import partial
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import httpx
import pytest

from connectors.oauth import TOKENS_KEY, TokenSet
from connectors.state import ConnectorState, sealer_from_env
from engine.runtime.clock import ManualClock
from engine.runtime.daemon import Daemon
from engine.runtime.dispatcher import RetryPolicy
from engine.runtime.sqlite_store import SqliteStore
from tests.connectors.fixtures.quickbooks.vendor import FakeQuickBooks
from tests.connectors.fixtures.xero.vendor import TENANT, FakeXero
from tests.support import waiting
from tests.support.daemon import base_url, running_daemon
from tests.support.net import free_port

FIXTURES = Path(__file__).resolve().parents[1] / "connectors" / "fixtures"
UTC = timezone.utc
GO_LIVE = date(2026, 3, 1)
T0 = datetime(2026, 3, 2, 14, 0, tzinfo=UTC)          # 09:00 in New York, billing day
PAID = datetime(2026, 3, 4, 18, 0, tzinfo=UTC)        # after the payment was recorded
ACME = "acme/social/2026-03"
BRILL = "brill/care/2026-03"

wait_for = partial(waiting.wait_for, every=0.02)


@dataclass
class Books:
    """One accounting system's double and how to speak for it."""

    name: str
    vendor: FakeQuickBooks | FakeXero
    env: dict[str, str]
    is_create: Callable[[httpx.Request], bool]
    key_of: Callable[[httpx.Request], str]
    record_payment: Callable[[str], bytes]  # the invoice number paid -> webhook body
    signature_header: str
    webhook_key: str
    lost: list[str] = field(default_factory=list)  # the key of the create whose reply was lost


def quickbooks() -> Books:
    vendor = FakeQuickBooks()
    vendor.customers["59"] = {**vendor.customers["58"], "Id": "59", "DisplayName": "Brill Coffee",
                              "PrimaryEmailAddr": {"Address": "accounts@brill.example"}}

    def record_payment(number: str) -> bytes:
        [invoice_id] = [i for i, inv in vendor.invoices.items() if inv["DocNumber"] == number]
        vendor.add_payment("901", invoice_id, "1500.00")
        return json.dumps([{"specversion": "1.0", "id": "5a1c0d7e-e2e0-4b55-9d0d-0f5d7c1e2a90",
                            "source": "intuit.test", "type": "qbo.payment.created.v1",
                            "datacontenttype": "application/json",
                            "time": "2026-03-04T17:30:25Z", "intuitentityid": "901",
                            "intuitaccountid": vendor.realm, "data": {}}]).encode()

    return Books("quickbooks", vendor,
                 {"QBO_CLIENT_ID": "app-client-id", "QBO_CLIENT_SECRET": "app-client-secret",
                  "QBO_VERIFIER_TOKEN": "verifier-token-123"},
                 lambda r: r.method == "POST" and r.url.path.endswith("/invoice")
                 and "operation" not in r.url.params,
                 lambda r: r.url.params["requestid"], record_payment,
                 "intuit-signature", "verifier-token-123")


def xero() -> Books:
    vendor = FakeXero()
    vendor.contacts["b1"] = {"ContactID": "b1", "Name": "Brill Coffee", "ContactStatus": "ACTIVE"}

    def record_payment(number: str) -> bytes:
        [invoice_id] = [i for i, inv in vendor.invoices.items() if inv["InvoiceNumber"] == number]
        vendor.add_payment("pay-1", invoice_id, "1500.00",
                           datetime(2026, 3, 4, 17, 30, tzinfo=UTC))
        return json.dumps({"events": [{
            "resourceUrl": f"https://api.xero.com/api.xro/2.0/Invoices/{invoice_id}",
            "resourceId": invoice_id, "tenantId": TENANT, "tenantType": "ORGANISATION",
            "eventCategory": "INVOICE", "eventType": "UPDATE",
            "eventDateUtc": "2026-03-04T17:30:39.902"}],
            "firstEventSequence": 1, "lastEventSequence": 1, "entropy": "QWERTYUIOP"}).encode()

    return Books("xero", vendor,
                 {"XERO_CLIENT_ID": "xero-client-id", "XERO_CLIENT_SECRET": "xero-client-secret",
                  "XERO_WEBHOOK_KEY": "xero-webhook-key-123"},
                 lambda r: r.method == "PUT" and r.url.path.endswith("/Invoices"),
                 lambda r: r.headers["Idempotency-Key"], record_payment,
                 "x-xero-signature", "xero-webhook-key-123")


def actions(daemon: Daemon, kind: str) -> list[dict]:
    return list(daemon.store.actions(types=[kind]))


def delivered(daemon: Daemon, action_id: str) -> bool:
    return any(row.status == "delivered" for row in daemon.store.delivery_status(action_id))


@pytest.fixture(params=["quickbooks", "xero"])
def books(request, monkeypatch) -> Books:
    chosen = quickbooks() if request.param == "quickbooks" else xero()
    for key, value in {**chosen.env, "BILLFLOW_SECRET_KEY": "e2e-sealing-key-0123456789abcdefghij"}.items():
        monkeypatch.setenv(key, value)
    return chosen


@pytest.fixture()
def running(tmp_path: Path, books: Books) -> Iterator[tuple[Daemon, ManualClock, str]]:
    db = tmp_path / "billflow.db"
    store = SqliteStore(db)  # the tokens as `billflow connect` leaves them
    ConnectorState(store, "books", sealer_from_env()).put_secret(
        TOKENS_KEY, TokenSet("access-0", "refresh-0", T0 + timedelta(minutes=30)).as_json())
    store.close()
    # The first create for acme reaches the books, but its reply is lost on the way back.

    def first_acme_create(request: httpx.Request) -> bool:
        if books.is_create(request) and b"acme" in request.content.lower() and not books.lost:
            books.lost.append(books.key_of(request))
            return True
        return False

    books.vendor.fail_next(first_acme_create, "lose-reply")
    clock = ManualClock(T0)
    with running_daemon(FIXTURES / books.name / "rules", db, port=free_port(), go_live=GO_LIVE,
                        retry=RetryPolicy(base=timedelta(seconds=20)), clock=clock,
                        http_client_factory=books.vendor.client) as daemon:
        yield daemon, clock, base_url(daemon)


def test_one_invoice_in_the_books_and_the_books_payment_stops_the_reminders(books, running):
    daemon, clock, base = running
    vendor, lost = books.vendor, books.lost
    issued = f"invoice.issued:{ACME}"
    wait_for(lambda: any(row.attempts >= 1 and row.status == "pending"
                         for row in daemon.store.delivery_status(issued)),
             "the first delivery to fail and wait for its retry")
    assert not delivered(daemon, issued)
    clock.advance(timedelta(minutes=5))  # the retry falls due
    wait_for(lambda: delivered(daemon, issued) and delivered(daemon, f"invoice.issued:{BRILL}"),
             "both invoices delivered to the books")

    acme_creates = [r for r in vendor.requests if books.is_create(r) and books.key_of(r) == lost[0]]
    assert len(acme_creates) == 2  # the call and its retry, with one idempotency key
    assert vendor.creates[lost[0]] == 1  # the books made one invoice for it
    assert vendor.created == 2  # acme's and brill's

    [acme] = [a for a in actions(daemon, "invoice.issued") if a["payload"]["invoice"]["id"] == ACME]
    number = acme["payload"]["invoice"]["number"]

    # Two days later the client pays in the books; the books call the webhook, signed.
    clock.set(PAID)
    body = books.record_payment(number)
    signature = base64.b64encode(hmac.new(books.webhook_key.encode(), body,
                                          hashlib.sha256).digest()).decode()
    forged = httpx.post(f"{base}/webhooks/books", content=body,
                        headers={books.signature_header: "bm90IGl0"}, timeout=10)
    assert forged.status_code == 401
    reply = httpx.post(f"{base}/webhooks/books", content=body,
                       headers={books.signature_header: signature,
                                "Content-Type": "application/json"}, timeout=10)
    assert reply.status_code == 200
    [applied] = wait_for(lambda: actions(daemon, "payment.applied"), "the payment to be applied")
    assert applied["payload"]["allocations"] == [{"invoice": ACME, "number": number,
                                                  "amount": "1500.00"}]
    assert applied["payload"]["payment"]["reference"] == number
    # The same delivery again (a vendor retry) adds nothing.
    again = httpx.post(f"{base}/webhooks/books", content=body,
                       headers={books.signature_header: signature}, timeout=10)
    assert again.status_code == 200

    # The clock runs past every step of the cadence (due 1 April: -3d, 0d, +7d).
    for instant in (datetime(2026, 3, 30, 14, 0, tzinfo=UTC), datetime(2026, 4, 2, 14, 0, tzinfo=UTC),
                    datetime(2026, 4, 9, 14, 0, tzinfo=UTC)):
        clock.set(instant)
        wait_for(lambda: daemon.decider is not None and daemon.decider.state.clock is not None
                 and daemon.decider.state.clock >= instant, f"the engine to reach {instant}")
    reminded = {a["payload"]["invoice"]["id"] for a in actions(daemon, "reminder.sent")}
    assert BRILL in reminded  # the unpaid invoice was reminded: the steps did fall due
    assert ACME not in reminded  # the paid one never was
    assert len(actions(daemon, "payment.applied")) == 1
    # The access token expired on the way; the refresh kept the newest tokens in the store.
    assert vendor.refreshes >= 1
