"""Add a rule's duration to an instant or a day the way people mean it, in the agency's
calendar."""

from __future__ import annotations

from datetime import date, datetime

from engine.model.calendar import AgencyCalendar
from engine.model.duration import Duration

__all__ = ["after", "day_after"]


def after(instant: datetime, duration: Duration, calendar: AgencyCalendar) -> datetime:
    """Return `instant` + `duration`; business days keep the local time of day."""
    if not duration.is_business:
        return instant + duration.as_timedelta()
    local = instant.astimezone(calendar.zone)
    day = calendar.add_business_days(local.date(), duration.amount)
    return calendar.at_local(day, local.time().replace(second=0, microsecond=0))


def day_after(day: date, duration: Duration, calendar: AgencyCalendar) -> date:
    """Return the day `duration` after `day`; business days skip weekends and holidays."""
    if duration.is_business:
        return calendar.add_business_days(day, duration.amount)
    return day + duration.as_timedelta()
