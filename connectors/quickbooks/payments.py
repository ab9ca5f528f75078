"""QuickBooks payments into `payment.received` events (connectors/books_payments.py).

A payment's reference is the DocNumber of every invoice it is applied to (the billflow
numbers, for invoices billflow posted), else its PaymentRefNum; its client is its customer's
(see customers.py). Sync reads payments changed since the cursor with Intuit's query
language, oldest change first, a page at a time.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timezone
from decimal import Decimal
from typing import Any

from connectors.books_payments import PaymentReader as BooksPaymentReader
from connectors.quickbooks.api import quote
from connectors.sources import SourceProblem, SyncResult
from engine.errors import UnmappedRecord
from engine.model.money import format_money, is_currency

__all__ = ["PaymentReader", "payment_event_id"]


def payment_event_id(realm_id: str, payment_id: str) -> str:
    return f"quickbooks:{realm_id}:payment:{payment_id}"


class PaymentReader(BooksPaymentReader):
    """Read payments of one company and translate them."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._numbers: dict[str, str | None] = {}

    # -- sync ------------------------------------------------------------------------------
    def sync(self, cursor: Mapping[str, Any] | None) -> SyncResult:
        since, start = self._position(cursor)
        high = str((cursor or {}).get("high") or since)
        statement = (f"select * from Payment where MetaData.LastUpdatedTime >= {quote(since)} "
                     f"orderby MetaData.LastUpdatedTime startposition {start} "
                     f"maxresults {self.page_size}")
        page = self.api.query(statement, doing="reading payments")
        payments = [p for p in page.get("Payment") or [] if isinstance(p, Mapping)]
        events, problems = self.translate(payments)
        for payment in payments:
            stamp = str((payment.get("MetaData") or {}).get("LastUpdatedTime") or "")
            if stamp and _instant(stamp) > _instant(high):
                high = stamp
        if len(payments) >= self.page_size:
            return SyncResult(tuple(events), {"updated_since": since, "start": start + len(payments),
                                              "high": high}, tuple(problems), more=True)
        return SyncResult(tuple(events), {"updated_since": high, "start": 1}, tuple(problems))

    def _position(self, cursor: Mapping[str, Any] | None) -> tuple[str, int]:
        cursor = cursor or {}
        if cursor.get("updated_since"):
            return str(cursor["updated_since"]), int(cursor.get("start") or 1)
        return self.first_instant(cursor).replace(microsecond=0).isoformat(), 1

    # -- webhooks --------------------------------------------------------------------------
    def fetch(self, named: Sequence[str]) -> tuple[list[dict], list[SourceProblem]]:
        """Read the payments a notification named and translate them (deleted ones are skipped)."""
        payments = []
        for body in self.read_each(named, lambda payment_id: self.api.get(
                f"payment/{payment_id}", doing=f"reading payment {payment_id}")):
            payment = body.get("Payment") if isinstance(body, Mapping) else None
            if isinstance(payment, Mapping):
                payments.append(payment)
        return self.translate(payments)

    # -- translation -----------------------------------------------------------------------
    def record_of(self, item: Mapping[str, Any]) -> str:
        return f"Payment {item.get('Id')}"

    def event(self, payment: Mapping[str, Any], record: str) -> dict | None:
        amount = Decimal(str(payment.get("TotalAmt") or "0"))
        if amount <= 0:
            return None  # only credits moved: no money arrived
        currency = str((payment.get("CurrencyRef") or {}).get("value") or self.home_currency)
        if not is_currency(currency):
            raise UnmappedRecord(record, f"currency {currency!r} is not an ISO 4217 code")
        customer = payment.get("CustomerRef") or {}
        client = self.directory.client_of(record, customer.get("value"))
        numbers = [n for n in (self._number(txn) for txn in _linked_invoices(payment)) if n]
        reference = " ".join(dict.fromkeys(numbers)) or str(payment.get("PaymentRefNum") or "")
        meta = payment.get("MetaData") or {}
        at = str(meta.get("CreateTime") or f"{payment['TxnDate']}T00:00:00+00:00")
        payload: dict[str, Any] = {
            "amount": format_money(amount, currency),
            "currency": currency,
            "date": str(payment["TxnDate"]),
            "client": client,
            "source_id": str(payment["Id"]),
        }
        if reference:
            payload["reference"] = reference
        if customer.get("name"):
            payload["payer"] = str(customer["name"])
        return {"id": payment_event_id(self.api.realm_id, str(payment["Id"])),
                "type": "payment.received", "at": at, "payload": payload}

    def _number(self, invoice_id: str) -> str | None:
        if invoice_id in self._numbers:
            return self._numbers[invoice_id]
        number = self.state.get(f"number:{invoice_id}")
        if number is None:
            page = self.api.query(f"select * from Invoice where Id = {quote(invoice_id)}",
                                  doing=f"reading invoice {invoice_id}")
            found = [i for i in page.get("Invoice") or [] if isinstance(i, Mapping)]
            number = str(found[0].get("DocNumber") or "") or None if found else None
        self._numbers[invoice_id] = number
        return number


def _linked_invoices(payment: Mapping[str, Any]) -> list[str]:
    found = []
    for line in payment.get("Line") or []:
        for txn in (line.get("LinkedTxn") or []) if isinstance(line, Mapping) else []:
            if isinstance(txn, Mapping) and txn.get("TxnType") == "Invoice" and txn.get("TxnId"):
                found.append(str(txn["TxnId"]))
    return found


def _instant(stamp: str) -> datetime:
    try:
        parsed = datetime.fromisoformat(stamp)
    except ValueError:
        return datetime.min.replace(tzinfo=timezone.utc)
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)
