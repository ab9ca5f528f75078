"""DSO and days-to-pay over a period of days (both ends included).

- **DSO** per currency = receivables at the end of the period ÷ invoiced in the period ×
  days in the period. Receivables are every balance open at the end of the last day (as in
  the aging report, whenever the invoice was issued); invoiced is the total of the invoices
  issued in the period and not voided by its end. With nothing invoiced DSO is undefined
  (None), never infinite.
- **Days to pay** of an invoice = the date of the payment that settled it in full minus its
  issue date (0 when client credit settled it at issue; never negative). The average is
  over the invoices settled in full within the period, per currency and over all of them.

Results are rounded half-up to a tenth of a day.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_UP, Decimal

from engine.reports.ledger import Ledger

__all__ = ["DsoRow", "DsoReport", "dso_report", "TENTH"]

TENTH = Decimal("0.1")
_ZERO = Decimal(0)


@dataclass(frozen=True)
class DsoRow:
    """DSO and days-to-pay in one currency."""

    currency: str
    receivables: Decimal
    invoiced: Decimal
    dso: Decimal | None
    paid: int
    avg_days_to_pay: Decimal | None


@dataclass(frozen=True)
class DsoReport:
    """The period, its rows per currency, and days-to-pay over every currency."""

    start: date
    end: date
    days: int
    rows: tuple[DsoRow, ...]
    paid: int
    avg_days_to_pay: Decimal | None


def _mean(values: list[int]) -> Decimal | None:
    if not values:
        return None
    return (Decimal(sum(values)) / len(values)).quantize(TENTH, rounding=ROUND_HALF_UP)


def dso_report(ledger: Ledger, start: date, end: date) -> DsoReport:
    """Compute DSO and average days-to-pay for the period `start`..`end`."""
    days = (end - start).days + 1
    receivables: dict[str, Decimal] = {}
    invoiced: dict[str, Decimal] = {}
    to_pay: dict[str, list[int]] = {}
    for record in ledger.invoices:
        balance = record.balance_as_of(end)
        if balance > 0:
            receivables[record.currency] = receivables.get(record.currency, _ZERO) + balance
        if (record.issue_date is not None and start <= record.issue_date <= end
                and not record.voided_by(end)):
            invoiced[record.currency] = invoiced.get(record.currency, _ZERO) + record.total
        settled = record.paid_in_full_on()
        if settled is not None and start <= settled <= end and record.issue_date is not None:
            days_to_pay = max(0, (settled - record.issue_date).days)
            to_pay.setdefault(record.currency, []).append(days_to_pay)
    rows = []
    for currency in sorted(set(receivables) | set(invoiced) | set(to_pay)):
        owed = receivables.get(currency, _ZERO)
        billed = invoiced.get(currency, _ZERO)
        value = ((owed / billed * days).quantize(TENTH, rounding=ROUND_HALF_UP)
                 if billed > 0 else None)
        paid = to_pay.get(currency, [])
        rows.append(DsoRow(currency, owed, billed, value, len(paid), _mean(paid)))
    every = [d for values in to_pay.values() for d in values]
    return DsoReport(start, end, days, tuple(rows), len(every), _mean(every))
