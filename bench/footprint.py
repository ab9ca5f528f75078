"""What the engine state holds, in bytes, by what it grows with.

RSS says how much the process holds; this says what for. Each field of EngineState is
walked (containers, records, the packs of the digest sets) and every object is counted
once, the rule set's own objects excluded (the state refers to them, it does not own
them). The fields are then grouped by what makes them grow:

- remembered ids: the digests of the events seen and the entries billed, so that intake
  stays idempotent and an entry is billed once (with `books_close_after`, only those of
  the months whose books are still open, by month; without it, every id for good: then
  they grow with events);
- invoices: every invoice drafted, with its lines (grow with clients x months);
- working set: what is waiting to be billed, approved or paid (pool, retainer hours of
  unsettled periods, supporting rows, timers, ...): bounded by what is in flight.
"""

from __future__ import annotations

import dataclasses
import sys
from collections.abc import Iterator
from typing import Any

__all__ = ["GROUPS", "state_footprint"]

GROUPS = {
    "remembered ids": ("seen_events", "billed_entries", "seen_by_month",
                       "closing_entries"),
    "invoices": ("invoices", "by_client", "numbers", "sequences", "clients_invoiced",
                 "milestones_done"),
}


def _children(value: Any) -> Iterator[Any]:
    if isinstance(value, dict):
        yield from value.keys()
        yield from value.values()
    elif isinstance(value, (list, tuple, set, frozenset)):
        yield from value
    else:
        slots = getattr(type(value), "__slots__", ())
        for name in (slots,) if isinstance(slots, str) else slots:
            if hasattr(value, name):
                yield getattr(value, name)
        if hasattr(value, "__dict__") and not isinstance(value, type):
            yield value.__dict__


def _size(root: Any, seen: set[int]) -> int:
    total = 0
    stack = [root]
    while stack:
        value = stack.pop()
        if id(value) in seen or isinstance(value, type):
            continue
        seen.add(id(value))
        total += sys.getsizeof(value)
        stack.extend(_children(value))
    return total


def state_footprint(state: Any, rules: Any) -> dict[str, Any]:
    """Return the bytes of each state field and of each group (see the module docstring)."""
    seen: set[int] = set()
    _size(rules, seen)  # what the rules own is not the state's
    fields = {field.name: _size(getattr(state, field.name), seen)
              for field in dataclasses.fields(state)}
    grouped = {group: sum(fields[name] for name in names) for group, names in GROUPS.items()}
    named = {name for names in GROUPS.values() for name in names}
    grouped["working set"] = sum(size for name, size in fields.items() if name not in named)
    return {"fields": fields, "groups": grouped}
