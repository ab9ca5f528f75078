"""How the pages say waits, instants and aging buckets to people."""

from __future__ import annotations

from datetime import datetime, tzinfo
from decimal import Decimal

__all__ = ["wait_text", "local_time", "bucket_label"]

_BUCKET_LABELS = {"current": "Current", "1-30": "1–30 days", "31-60": "31–60 days",
                  "61-90": "61–90 days", "90+": "90+ days"}


def wait_text(hours: Decimal) -> str:
    """Say a wait in whole days and hours: "under an hour", "5 h", "2 days 3 h"."""
    whole = int(hours)
    if whole < 1:
        return "under an hour"
    days, rest = divmod(whole, 24)
    if not days:
        return f"{rest} h"
    noun = "day" if days == 1 else "days"
    return f"{days} {noun} {rest} h" if rest else f"{days} {noun}"


def local_time(instant: datetime, zone: tzinfo) -> str:
    """Say an instant in the agency's time zone: "2026-12-28 10:00 EST"."""
    local = instant.astimezone(zone)
    return f"{local:%Y-%m-%d %H:%M} {local.tzname()}"


def bucket_label(bucket: str) -> str:
    """Say an aging bucket: "1-30" → "1–30 days"."""
    return _BUCKET_LABELS.get(bucket, bucket)
