"""Where a Harvest sync stands: per list, the `updated_since` reached and the page in progress.

    {"since": "2026-01-01",                      # the first sync's day: entries spent from it
     "list": "time_entries",                     # the list the next batch reads
     "time_entries": {"updated_since": "2026-03-02T10:00:00Z", "next": null, "newest": null},
     "expenses": {...}}

A poll reads time entries page by page, then expenses, one batch a page. While a list is
paged, `next` is the next page's link and `newest` the latest `updated_at` seen so far; when
its last page is read, `newest` becomes its `updated_since`. Records updated at exactly that
instant are read again next time: their event ids repeat, which intake ignores.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

__all__ = ["ListPosition", "HarvestCursor", "LISTS"]

LISTS = ("time_entries", "expenses")


@dataclass(frozen=True)
class ListPosition:
    """How far one Harvest list has been read."""

    updated_since: str | None = None
    next: str | None = None
    newest: str | None = None

    @classmethod
    def parse(cls, value: Any) -> "ListPosition":
        if not isinstance(value, Mapping):
            return cls()
        return cls(*(str(value[key]) if value.get(key) else None
                     for key in ("updated_since", "next", "newest")))

    def dump(self) -> dict[str, Any]:
        return {"updated_since": self.updated_since, "next": self.next, "newest": self.newest}


@dataclass(frozen=True)
class HarvestCursor:
    """The whole position of a Harvest source."""

    since: str | None = None
    list: str = LISTS[0]
    positions: Mapping[str, ListPosition] = field(default_factory=dict)

    @classmethod
    def parse(cls, cursor: Mapping[str, Any] | None) -> "HarvestCursor":
        """Read a kept cursor, or the `{"since": day}` of a first sync, or None."""
        cursor = cursor or {}
        current = cursor.get("list") if cursor.get("list") in LISTS else LISTS[0]
        since = str(cursor["since"]) if cursor.get("since") else None
        return cls(since, current, {name: ListPosition.parse(cursor.get(name)) for name in LISTS})

    def at(self, name: str) -> ListPosition:
        return self.positions.get(name) or ListPosition()

    def moved(self, name: str, position: ListPosition, next_list: str) -> "HarvestCursor":
        return replace(self, list=next_list, positions={**self.positions, name: position})

    def dump(self) -> dict[str, Any]:
        dumped: dict[str, Any] = {"list": self.list}
        if self.since:
            dumped["since"] = self.since
        for name in LISTS:
            dumped[name] = self.at(name).dump()
        return dumped
