"""Add a rule's duration to an instant the way people mean it, in the agency's calendar."""

from __future__ import annotations

from datetime import datetime

from engine.model.calendar import AgencyCalendar
from engine.model.duration import Duration

__all__ = ["after"]


def after(instant: datetime, duration: Duration, calendar: AgencyCalendar) -> datetime:
    """Return `instant` + `duration`; business days keep the local time of day."""
    if not duration.is_business:
        return instant + duration.as_timedelta()
    local = instant.astimezone(calendar.zone)
    day = calendar.add_business_days(local.date(), duration.amount)
    return calendar.at_local(day, local.time().replace(second=0, microsecond=0))
