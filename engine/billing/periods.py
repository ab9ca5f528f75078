"""Calendar-month billing periods: naming, stepping and service windows."""

from __future__ import annotations

import calendar as _calendar
from datetime import date

__all__ = ["Month", "month_of", "period_of", "next_month", "previous_month", "month_bounds", "month_label",
           "period_key", "service_window"]

Month = tuple[int, int]


def month_of(day: date) -> Month:
    return (day.year, day.month)


def next_month(month: Month) -> Month:
    year, number = month
    return (year + 1, 1) if number == 12 else (year, number + 1)


def previous_month(month: Month) -> Month:
    year, number = month
    return (year - 1, 12) if number == 1 else (year, number - 1)


def month_bounds(month: Month) -> tuple[date, date]:
    """Return the first and last day of a month."""
    year, number = month
    return date(year, number, 1), date(year, number, _calendar.monthrange(year, number)[1])


def month_label(month: Month) -> str:
    """Return 'March 2026'."""
    return f"{_calendar.month_name[month[1]]} {month[0]}"


_PERIODS: dict[date, str] = {}


def period_of(day: date) -> str:
    """Return the period key of the month `day` falls in ('2026-03').

    Remembered, for hot paths (every approved entry asks): the days of a few years are a
    small set, and the memo is emptied whenever it holds 4,096 of them.
    """
    period = _PERIODS.get(day)
    if period is None:
        if len(_PERIODS) >= 4096:
            _PERIODS.clear()
        period = _PERIODS[day] = day.isoformat()[:7]
    return period


def period_key(month: Month) -> str:
    """Return '2026-03', the period part of a retainer invoice id."""
    return f"{month[0]:04d}-{month[1]:02d}"


def service_window(month: Month, start: date | None, end: date | None) -> tuple[date, date] | None:
    """Return the part of `month` inside [start, end], or None when they do not overlap."""
    first, last = month_bounds(month)
    if start is not None and start > first:
        first = start
    if end is not None and end < last:
        last = end
    return (first, last) if first <= last else None
