"""JSON to and from Xero with money as Decimal: written as exact numbers, read back exact."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from datetime import datetime, timezone
from decimal import Decimal
from typing import Any

__all__ = ["encode_json", "decode_json", "xero_instant"]


def encode_json(value: Any) -> bytes:
    """Return `value` as UTF-8 JSON; a Decimal becomes a number with exactly its digits."""
    return _encode(value).encode("utf-8")


def _encode(value: Any) -> str:
    if isinstance(value, Decimal):
        if not value.is_finite():
            raise ValueError(f"{value} is not an amount")
        return format(value, "f")
    if isinstance(value, Mapping):
        return "{" + ",".join(f"{json.dumps(str(key))}:{_encode(item)}"
                              for key, item in value.items()) + "}"
    if isinstance(value, (list, tuple)):
        return "[" + ",".join(_encode(item) for item in value) + "]"
    if isinstance(value, float):
        raise TypeError("money never travels as a float")
    return json.dumps(value, ensure_ascii=False)


def decode_json(content: bytes) -> Any:
    """Parse a reply; every number with a fraction becomes a Decimal."""
    return json.loads(content, parse_float=Decimal)


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
