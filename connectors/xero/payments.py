"""Xero payments on sales invoices into `payment.received` events (connectors/books_payments.py).

A payment's reference is the number of the invoice it pays (the billflow number, for
invoices billflow posted), its currency the invoice's, its client the invoice contact's
(see contacts.py). Sync reads `GET /Payments` modified since the cursor (If-Modified-Since),
oldest change first, a page at a time; webhooks name invoices, whose payments are read.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timezone
from decimal import Decimal
from typing import Any

from connectors.books_payments import PaymentReader as BooksPaymentReader
from connectors.sources import SourceProblem, SyncResult
from connectors.xero.dates import xero_instant
from engine.errors import UnmappedRecord
from engine.model.money import format_money, is_currency

__all__ = ["PaymentReader", "payment_event_id"]

Pair = tuple[Mapping[str, Any], Mapping[str, Any]]  # a payment and the invoice it pays


def payment_event_id(tenant_id: str, payment_id: str) -> str:
    return f"xero:{tenant_id}:payment:{payment_id}"


def _stamp(instant: datetime) -> str:
    return instant.astimezone(timezone.utc).replace(tzinfo=None, microsecond=0).isoformat()


class PaymentReader(BooksPaymentReader):
    """Read payments of one organisation and translate them."""

    # -- sync ------------------------------------------------------------------------------
    def sync(self, cursor: Mapping[str, Any] | None) -> SyncResult:
        since, page = self._position(cursor)
        high = str((cursor or {}).get("high") or since)
        reply = self.api.get("Payments", doing="reading payments",
                             params={"where": 'PaymentType=="ACCRECPAYMENT"',
                                     "order": "UpdatedDateUTC ASC", "page": str(page),
                                     "pageSize": str(self.page_size)},
                             headers={"If-Modified-Since": since})
        payments = [p for p in reply.get("Payments") or [] if isinstance(p, Mapping)]
        events, problems = self.translate([(p, p.get("Invoice") or {}) for p in payments])
        for payment in payments:
            updated = xero_instant(payment.get("UpdatedDateUTC"))
            if updated is not None and _stamp(updated) > high:
                high = _stamp(updated)
        if len(payments) >= self.page_size:
            return SyncResult(tuple(events), {"modified_since": since, "page": page + 1,
                                              "high": high}, tuple(problems), more=True)
        return SyncResult(tuple(events), {"modified_since": high, "page": 1}, tuple(problems))

    def _position(self, cursor: Mapping[str, Any] | None) -> tuple[str, int]:
        cursor = cursor or {}
        if cursor.get("modified_since"):
            return str(cursor["modified_since"]), int(cursor.get("page") or 1)
        return _stamp(self.first_instant(cursor)), 1

    # -- webhooks --------------------------------------------------------------------------
    def fetch(self, named: Sequence[str]) -> tuple[list[dict], list[SourceProblem]]:
        """Read the invoices a notification named; translate the payments on them."""
        pairs: list[Pair] = []
        for reply in self.read_each(named, lambda invoice_id: self.api.get(
                f"Invoices/{invoice_id}", doing=f"reading invoice {invoice_id}")):
            for invoice in reply.get("Invoices") or []:
                if isinstance(invoice, Mapping) and invoice.get("Type") == "ACCREC":
                    pairs.extend((payment, invoice) for payment in invoice.get("Payments") or []
                                 if isinstance(payment, Mapping))
        return self.translate(pairs)

    # -- translation -----------------------------------------------------------------------
    def record_of(self, item: Pair) -> str:
        return f"Payment {item[0].get('PaymentID')}"

    def event(self, item: Pair, record: str) -> dict | None:
        payment, invoice = item
        if payment.get("Status", "AUTHORISED") != "AUTHORISED":
            return None  # deleted payments bring no money
        if payment.get("PaymentType", "ACCRECPAYMENT") != "ACCRECPAYMENT":
            return None
        amount = Decimal(str(payment.get("Amount") or "0"))
        if amount <= 0:
            return None
        currency = str(invoice.get("CurrencyCode") or self.home_currency)
        if not is_currency(currency):
            raise UnmappedRecord(record, f"currency {currency!r} is not an ISO 4217 code")
        paid_on = xero_instant(payment.get("Date"))
        if paid_on is None:
            raise UnmappedRecord(record, f"its Date {payment.get('Date')!r} cannot be read")
        contact = invoice.get("Contact") or {}
        client = self.directory.client_of(record, contact)
        at = xero_instant(payment.get("UpdatedDateUTC")) or paid_on
        payload: dict[str, Any] = {
            "amount": format_money(amount, currency),
            "currency": currency,
            "date": paid_on.date().isoformat(),
            "client": client,
            "source_id": str(payment["PaymentID"]),
        }
        reference = str(invoice.get("InvoiceNumber") or payment.get("Reference") or "")
        if reference:
            payload["reference"] = reference
        if contact.get("Name"):
            payload["payer"] = str(contact["Name"])
        return {"id": payment_event_id(self.api.tenant_id, str(payment["PaymentID"])),
                "type": "payment.received", "at": at.isoformat(), "payload": payload}
