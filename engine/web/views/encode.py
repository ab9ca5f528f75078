"""Read models as JSON: money as {"amount": "1234.50", "currency": "USD"}, never a float.

Dataclasses become objects (their fields, then their listed properties), tuples become
arrays, dates and instants ISO 8601, Decimals their exact decimal string.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from engine.web.views.money import Money

__all__ = ["to_json"]

# Derived values worth sending beside a read model's fields.
_PROPERTIES: dict[str, tuple[str, ...]] = {
    "ClientStatus": ("outstanding", "overdue_total"),
    "FinanceQueue": ("degraded", "size"),
}


def to_json(value: Any) -> Any:
    """Return `value` as plain JSON types."""
    if isinstance(value, Money):
        return {"amount": value.text, "currency": value.currency}
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        body = {field.name: to_json(getattr(value, field.name))
                for field in dataclasses.fields(value)}
        for name in _PROPERTIES.get(type(value).__name__, ()):
            body[name] = to_json(getattr(value, name))
        return body
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if isinstance(value, Mapping):
        return {str(key): to_json(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_json(item) for item in value]
    return value
