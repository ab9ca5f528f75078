"""JSON to and from a vendor with money as Decimal: written as exact numbers, read back exact.

The accounting APIs (QuickBooks Online, Xero) take amounts as JSON numbers; a float would
round 0.1 + 0.2, so a Decimal goes out with exactly its digits, a float not at all, and every
number with a fraction comes back a Decimal.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

__all__ = ["encode_json", "decode_json"]


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
