"""A rule's duration after a day: calendar days count every day, business days skip weekends
and the agency's holidays."""

from __future__ import annotations

from datetime import date

from engine.model.calendar import AgencyCalendar
from engine.model.duration import parse_duration
from engine.workflow.timing import day_after

CALENDAR = AgencyCalendar("America/New_York", "US")


def test_calendar_days_count_weekends() -> None:
    assert day_after(date(2026, 7, 2), parse_duration("7d"), CALENDAR) == date(2026, 7, 9)
    assert day_after(date(2026, 7, 2), parse_duration("-3d"), CALENDAR) == date(2026, 6, 29)


def test_business_days_skip_weekends_and_holidays() -> None:
    # Thursday 2 July 2026, then Friday 3 July (Independence Day observed) and the weekend.
    assert day_after(date(2026, 7, 2), parse_duration("1 business day"), CALENDAR) == date(2026, 7, 6)
    assert day_after(date(2026, 7, 6), parse_duration("-1 business day"), CALENDAR) == date(2026, 7, 2)
