"""The metrics of SPEC §7 over the last twelve months, month by month and as a whole.

Each month is reported as its own period (the current one up to today) with the same
functions as `billflow report`: DSO and days to pay (`dso_report`), the on-time rate
(`on_time_report`), the approval wait and the touches per invoice (`approval_report`),
and the aging at the month's end (`aging_report`). The window as a whole is one more
period, from the first day of the earliest month to today.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

from engine.reports.aging import AgingReport, aging_report
from engine.reports.approvals import approval_report
from engine.reports.dso import dso_report
from engine.reports.on_time import on_time_report
from engine.reports.render import hours
from engine.web.views.clients import AgingBuckets
from engine.web.views.history import History
from engine.web.views.money import Money

__all__ = ["CurrencyDso", "PeriodMetrics", "Trends", "trends", "MONTHS"]

MONTHS = 12


@dataclass(frozen=True)
class CurrencyDso:
    """DSO in one currency: receivables at the end ÷ invoiced in the period × days."""

    currency: str
    dso: Decimal | None
    receivables: Money
    invoiced: Money


@dataclass(frozen=True)
class PeriodMetrics:
    """Every metric for one period (a month, or the whole window)."""

    start: date
    end: date
    dso: tuple[CurrencyDso, ...]
    avg_days_to_pay: Decimal | None
    paid: int
    issued: int
    on_time: int
    on_time_rate: Decimal | None
    approved: int
    auto_approved: int
    approval_median_hours: Decimal | None
    approval_p90_hours: Decimal | None
    touches: int
    touches_per_invoice: Decimal | None
    aging: tuple[AgingBuckets, ...]  # per currency, at the end of the period

    @property
    def label(self) -> str:
        return self.start.strftime("%b %Y")

    def dso_in(self, currency: str) -> Decimal | None:
        return next((row.dso for row in self.dso if row.currency == currency), None)

    def aging_in(self, currency: str) -> AgingBuckets | None:
        return next((row for row in self.aging if row.currency == currency), None)


@dataclass(frozen=True)
class Trends:
    """The last twelve months: one PeriodMetrics per month, and the window as a whole."""

    currencies: tuple[str, ...]
    months: tuple[PeriodMetrics, ...]
    window: PeriodMetrics
    pending_approvals: int
    oldest_pending_hours: Decimal | None


def _month_starts(today: date, count: int) -> list[date]:
    first = today.replace(day=1)
    starts = []
    for _ in range(count):
        starts.append(first)
        first = (first - timedelta(days=1)).replace(day=1)
    return starts[::-1]


def _aging_totals(report: AgingReport) -> tuple[AgingBuckets, ...]:
    return tuple(AgingBuckets(row.currency, tuple(Money(a, row.currency) for a in row.buckets),
                              Money(row.total, row.currency), Money(row.credit, row.currency),
                              row.invoices)
                 for row in report.totals)


def _period(history: History, events: list, start: date, end: date) -> PeriodMetrics:
    ledger, agency = history.ledger, history.rules.agency
    dso = dso_report(ledger, start, end)
    on_time = on_time_report(ledger, start, end, agency.defaults.send_within, agency.calendar)
    approvals = approval_report(ledger, events, start, end, agency.calendar)
    return PeriodMetrics(
        start, end,
        tuple(CurrencyDso(row.currency, row.dso, Money(row.receivables, row.currency),
                          Money(row.invoiced, row.currency)) for row in dso.rows),
        dso.avg_days_to_pay, dso.paid, on_time.total.issued, on_time.total.on_time,
        on_time.total.rate, approvals.wait.approved, approvals.auto_approved,
        hours(approvals.wait.median), hours(approvals.wait.p90), approvals.touches.touches,
        approvals.touches.mean, _aging_totals(aging_report(ledger, end)))


def trends(history: History, months: int = MONTHS) -> Trends:
    """Compute the metrics of each of the last `months` months and of the whole window."""
    today = history.today
    events = list(history.human_events())
    starts = _month_starts(today, months)
    series = []
    for start in starts:
        following = (start + timedelta(days=32)).replace(day=1)
        series.append(_period(history, events, start, min(following - timedelta(days=1), today)))
    window = _period(history, events, starts[0], today)
    agency = history.rules.agency
    whole = approval_report(history.ledger, events, starts[0], today, agency.calendar)
    currencies = sorted({record.currency for record in history.ledger.invoices}
                        | {agency.currency})
    # The agency's own currency first: it is the one most people read.
    currencies.sort(key=lambda code: code != agency.currency)
    return Trends(tuple(currencies), tuple(series), window, whole.pending,
                  hours(whole.oldest_pending))
