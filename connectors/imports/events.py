"""billflow events built from vendor records, exactly: hours and money never pass through float.

Event ids are derived from the vendor record alone (`harvest:time_entry:636709355:<version>`),
so fetching a record again, or a replayed webhook, repeats an id that intake ignores. The
`source_id` (`harvest:time_entry:636709355`) stays the same across versions of one entry: a
later `time.approved` with the same `source_id` replaces the earlier one while it is unbilled,
and `time.unapproved` names it to take it back.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from datetime import date, datetime, timezone
from decimal import ROUND_DOWN, Decimal, InvalidOperation
from typing import Any

from connectors.state import ConnectorState

__all__ = [
    "time_approved", "time_unapproved", "expense_approved", "decimal_text", "exact_decimal",
    "hours_from_seconds", "decode_json", "instant", "instant_text", "ApprovalLedger",
]

_MICRO_HOUR = Decimal("0.000001")


def decode_json(content: bytes) -> Any:
    """Decode a vendor's JSON with every fractional number as a Decimal (never a float)."""
    return json.loads(content, parse_float=Decimal)


def exact_decimal(value: Any) -> Decimal:
    """Return a vendor number (int, Decimal from `decode_json`, or text) as a Decimal.

    A float is refused: it would already have lost the vendor's digits.
    """
    if isinstance(value, bool) or isinstance(value, float):
        raise ValueError(f"{value!r} is not an exact number")
    try:
        number = Decimal(str(value).strip()) if not isinstance(value, Decimal) else value
    except InvalidOperation:
        raise ValueError(f"{value!r} is not a number") from None
    if not number.is_finite():
        raise ValueError(f"{value!r} is not a number")
    return number


def decimal_text(number: Decimal) -> str:
    """Write a Decimal as plain digits ("1.5", "1234.50", "8"), never in exponent form."""
    text = format(number, "f")
    return "0" if text in ("-0", "") else text


def hours_from_seconds(seconds: int) -> Decimal:
    """Return hours for a whole number of seconds, cut (not rounded) to a millionth of an hour.

    seconds / 3600 rarely ends (60 s is 0.01666...); cutting keeps an exact minute just
    below its boundary, so rounding up to `increment_minutes` gives that minute and not the
    next, and loses under 4 ms an entry.
    """
    return (Decimal(seconds) / Decimal(3600)).quantize(_MICRO_HOUR, rounding=ROUND_DOWN).normalize()


_FRACTION = re.compile(r"(\.\d{6})\d+")


def instant(text: str) -> datetime:
    """Read a vendor timestamp ("...Z", "+00:00", nanoseconds cut to micro) as an aware UTC datetime."""
    parsed = datetime.fromisoformat(_FRACTION.sub(r"\1", str(text).strip()))
    if parsed.tzinfo is None:
        raise ValueError(f"{text!r} has no UTC offset")
    return parsed.astimezone(timezone.utc)


def instant_text(when: datetime) -> str:
    """Write a UTC instant the one way ids use: 2026-03-04T09:12:00Z."""
    return when.astimezone(timezone.utc).isoformat().replace("+00:00", "Z")


def _event(event_id: str, kind: str, at: str, payload: Mapping[str, Any]) -> dict[str, Any]:
    return {"id": event_id, "type": kind, "at": at, "payload": dict(payload)}


def time_approved(event_id: str, at: str, *, client: str, project: str, person: str,
                  role: str, day: date, hours: Decimal, billable: bool,
                  task: str | None = None, notes: str | None = None,
                  source_id: str | None = None) -> dict[str, Any]:
    """Return a `time.approved` event."""
    payload: dict[str, Any] = {
        "client": client, "project": project, "person": person, "role": role,
        "date": day.isoformat(), "hours": decimal_text(hours), "billable": bool(billable),
    }
    if task:
        payload["task"] = task
    if notes:
        payload["notes"] = notes
    if source_id:
        payload["source_id"] = source_id
    return _event(event_id, "time.approved", at, payload)


def time_unapproved(event_id: str, at: str, source_id: str) -> dict[str, Any]:
    """Return a `time.unapproved` event withdrawing the entry `source_id`."""
    return _event(event_id, "time.unapproved", at, {"source_id": source_id})


def expense_approved(event_id: str, at: str, *, client: str, project: str, day: date,
                     amount: Decimal, currency: str, description: str, billable: bool,
                     source_id: str | None = None) -> dict[str, Any]:
    """Return an `expense.approved` event."""
    payload: dict[str, Any] = {
        "client": client, "project": project, "date": day.isoformat(),
        "amount": decimal_text(amount), "currency": currency, "description": description,
        "billable": bool(billable),
    }
    if source_id:
        payload["source_id"] = source_id
    return _event(event_id, "expense.approved", at, payload)


class ApprovalLedger:
    """Which vendor entries billflow was told were approved, kept in the connector's state.

    A vendor list says what an entry is now, not what it was: an open entry may be new or
    re-opened after approval. Only an entry this ledger has seen approved is withdrawn, and
    once per version of the entry: a fetch of the same version repeats the same withdrawal
    (same event id, ignored by intake), a crash between fetching and storing loses nothing.
    """

    def __init__(self, state: ConnectorState) -> None:
        self._state = state

    def _key(self, source_id: str) -> str:
        return f"approval:{source_id}"

    def approved(self, source_id: str) -> None:
        """Note that `source_id` went to billflow as approved."""
        if self._state.get(self._key(source_id)) != {"status": "approved"}:
            self._state.put(self._key(source_id), {"status": "approved"})

    def withdraw(self, source_id: str, version: str) -> bool:
        """Return True when `source_id` at `version` takes back an approval billflow holds."""
        kept = self._state.get(self._key(source_id))
        if kept is None:
            return False  # never approved as far as billflow knows: nothing to take back
        if kept.get("status") == "approved":
            self._state.put(self._key(source_id), {"status": "withdrawn", "version": version})
            return True
        return kept.get("version") == version  # the same withdrawal fetched again
