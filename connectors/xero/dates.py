"""Xero's dates: `/Date(1552262400000+0000)/` in replies (or ISO text), read as UTC instants."""

from __future__ import annotations

import re
from datetime import datetime, timezone
from typing import Any

__all__ = ["xero_instant"]

_MS_DATE = re.compile(r"^/Date\((-?\d+)([+-]\d{4})?\)/$")


def xero_instant(value: Any) -> datetime | None:
    """Read Xero's `/Date(1552262400000+0000)/` (or an ISO text) as an aware UTC datetime."""
    text = str(value or "").strip()
    match = _MS_DATE.match(text)
    if match:
        return datetime.fromtimestamp(int(match.group(1)) / 1000, timezone.utc)
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)
