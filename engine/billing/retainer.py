"""Retainers: one invoice per calendar month, in advance or in arrears, with overage.

- In advance (default) the period is the month of the billing day; in arrears, the
  month before it.
- A partial first or last period is prorated by calendar days (unless `proration: none`);
  in advance, a partial first period is drafted on the start date, and a partial last
  period no later than the end date.
- The values in force for a period are those effective on its first day.
- Hours logged above `included_hours` in a period are billed at `overage_rate` on the
  first invoice drafted after that period has ended; hours approved later still count,
  on a later invoice. In advance, the month after the end drafts once more, for the last
  period's overage only (and nothing at all when there is none).
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import NamedTuple

from engine.billing.periods import (
    Month, month_bounds, month_label, next_month, period_of, service_window,
)
from engine.core.state import PeriodHours
from engine.model.calendar import AgencyCalendar
from engine.model.invoice import Line, make_line
from engine.model.money import round_money
from engine.ruleset.types import Retainer

_ZERO = Decimal(0)

__all__ = ["draft_date", "period_lines", "OverageCharge", "overage_charges", "first_month"]


def first_month(engagement: Retainer, go_live: date) -> Month:
    """Return the first month that could be billed: the start's, or the month before go-live."""
    if engagement.start is not None:
        return (engagement.start.year, engagement.start.month)
    # In arrears, the month before go-live is billed on a billing day after it.
    year, month = go_live.year, go_live.month
    return (year - 1, 12) if month == 1 else (year, month - 1)


def draft_date(engagement: Retainer, calendar: AgencyCalendar, month: Month) -> date | None:
    """Return the day the invoice for `month` is drafted, or None if nothing is served then."""
    window = service_window(month, engagement.start, engagement.end)
    if window is None:
        return _closing_date(engagement, calendar, month)
    terms = engagement.in_force(window[0])
    assert isinstance(terms, Retainer)
    billing_day = terms.billing_day
    assert billing_day is not None
    if terms.bill == "in_arrears":
        following = next_month(month)
        return calendar.billing_date(following[0], following[1], billing_day)
    month_start, _ = month_bounds(month)
    if window[0] > month_start:
        return window[0]
    day = calendar.billing_date(month[0], month[1], billing_day)
    return min(day, window[1])


def _closing_date(engagement: Retainer, calendar: AgencyCalendar, month: Month) -> date | None:
    """In advance, the month after the end drafts once more: the last period's overage."""
    if engagement.end is None or engagement.bill == "in_arrears":
        return None
    if month != next_month((engagement.end.year, engagement.end.month)):
        return None
    terms = engagement.in_force(engagement.end)
    assert isinstance(terms, Retainer) and terms.billing_day is not None
    return calendar.billing_date(month[0], month[1], terms.billing_day)


def period_lines(engagement: Retainer, month: Month, currency: str) -> tuple[Line, ...]:
    """Return the retainer fee line for `month` (prorated when partial); () when zero."""
    window = service_window(month, engagement.start, engagement.end)
    if window is None:
        return ()
    terms = engagement.in_force(window[0])
    assert isinstance(terms, Retainer)
    first, last = month_bounds(month)
    served = (window[1] - window[0]).days + 1
    days = (last - first).days + 1
    amount = terms.amount
    description = f"Retainer — {month_label(month)}"
    if served < days and terms.proration == "calendar_days":
        amount = round_money(amount * served / days, currency)
        description = (f"Retainer — {month_label(month)}, {window[0].isoformat()} to "
                       f"{window[1].isoformat()} ({served}/{days} days)")
    if amount == 0:
        return ()
    return (make_line(description, Decimal(1), amount, currency),)


class OverageCharge(NamedTuple):
    """Overage hours of one ended period, billed on this invoice."""

    period: str
    hours: Decimal
    line: Line


def overage_charges(engagement: Retainer, periods: dict[str, PeriodHours], drafted_on: date,
                    currency: str) -> list[OverageCharge]:
    """Return the overage not yet billed for every period that ended before `drafted_on`."""
    charges = []
    current = period_of(drafted_on)
    for period in sorted(periods):
        if period >= current:
            break  # this period and the later ones have not ended
        year, month = int(period[:4]), int(period[5:7])
        terms = engagement.in_force(date(year, month, 1))
        assert isinstance(terms, Retainer)
        if terms.included_hours is None or terms.overage_rate is None:
            continue
        record = periods[period]
        over = max(record.hours - terms.included_hours, _ZERO) - record.overage_billed
        if over <= 0:
            continue
        label = month_label((year, month))
        line = make_line(f"Overage — {label}: hours above the {terms.included_hours.normalize():f} "
                         "included", over, terms.overage_rate, currency)
        charges.append(OverageCharge(period, over, line))
    return charges
