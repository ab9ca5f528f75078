"""Aging: what each client owes at the end of a day, by how long it is past due.

An invoice counts when it was issued on or before the as-of day, was not voided by then
and still had a balance (payments dated after the as-of day do not count). Days past due
are the as-of day minus the due date: due today or later is `current`; then 1–30, 31–60,
61–90 and 90+ (91 days and more). Currencies are never added together: every row and
every total is in one currency.

Unapplied client credit (a payment's remainder not yet used) is shown beside the buckets,
not subtracted from them: it belongs to the client, not to an invoice.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from engine.reports.ledger import Ledger

__all__ = ["BUCKETS", "AgingRow", "OpenInvoice", "AgingReport", "aging_report", "bucket_of"]

BUCKETS = ("current", "1-30", "31-60", "61-90", "90+")
_ZERO = Decimal(0)


def bucket_of(days_past_due: int) -> int:
    """Return the index in BUCKETS of an invoice `days_past_due` days past its due date."""
    if days_past_due <= 0:
        return 0
    if days_past_due <= 30:
        return 1
    if days_past_due <= 60:
        return 2
    if days_past_due <= 90:
        return 3
    return 4


@dataclass(frozen=True)
class OpenInvoice:
    """One invoice with a balance open on the as-of day."""

    invoice: str
    number: str | None
    client: str
    currency: str
    issue_date: date
    due_date: date
    days_past_due: int
    bucket: str
    balance: Decimal


@dataclass(frozen=True)
class AgingRow:
    """One client's open balances in one currency (client "" for a currency's total)."""

    client: str
    currency: str
    invoices: int
    buckets: tuple[Decimal, Decimal, Decimal, Decimal, Decimal]
    total: Decimal
    credit: Decimal


@dataclass(frozen=True)
class AgingReport:
    """Open balances at the end of `as_of`: per client and currency, and per currency."""

    as_of: date
    rows: tuple[AgingRow, ...]
    totals: tuple[AgingRow, ...]
    invoices: tuple[OpenInvoice, ...]


def _sum_rows(client: str, currency: str, open_items: list[OpenInvoice],
              credit: Decimal) -> AgingRow:
    buckets = [_ZERO] * len(BUCKETS)
    for item in open_items:
        buckets[BUCKETS.index(item.bucket)] += item.balance
    return AgingRow(client, currency, len(open_items), tuple(buckets),  # type: ignore[arg-type]
                    sum(buckets, _ZERO), credit)


def aging_report(ledger: Ledger, as_of: date) -> AgingReport:
    """Age every balance open at the end of `as_of`."""
    items: list[OpenInvoice] = []
    for record in ledger.invoices:
        balance = record.balance_as_of(as_of)
        if balance <= 0:
            continue
        due = record.due_date or record.issue_date
        assert due is not None and record.issue_date is not None
        days = (as_of - due).days
        items.append(OpenInvoice(record.id, record.number, record.client, record.currency,
                                 record.issue_date, due, days, BUCKETS[bucket_of(days)], balance))
    items.sort(key=lambda item: (item.client, item.currency, item.due_date, item.invoice))
    credits = ledger.credit_as_of(as_of)
    by_client: dict[tuple[str, str], list[OpenInvoice]] = {key: [] for key in credits}
    by_currency: dict[str, list[OpenInvoice]] = {currency: [] for _, currency in credits}
    for item in items:
        by_client.setdefault((item.client, item.currency), []).append(item)
        by_currency.setdefault(item.currency, []).append(item)
    rows = tuple(_sum_rows(client, currency, by_client[(client, currency)],
                           credits.get((client, currency), _ZERO))
                 for client, currency in sorted(by_client))
    totals = tuple(_sum_rows("", currency, by_currency[currency],
                             sum((amount for (_, cur), amount in credits.items()
                                  if cur == currency), _ZERO))
                   for currency in sorted(by_currency))
    return AgingReport(as_of, rows, totals, tuple(items))
