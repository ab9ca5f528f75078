"""The engine's alarm clock: a heap of timers keyed by what they are for.

A timer is re-armed by key (the same key replaces the earlier timer, which is skipped
lazily when it surfaces), so rescheduling a billing day or cancelling a reminder never
searches the heap.
"""

from __future__ import annotations

import heapq
from datetime import datetime, timezone
from typing import NamedTuple

__all__ = ["Timer", "TimerQueue", "TIMER_RANKS", "utc"]

_UTC = timezone.utc


def utc(instant: datetime) -> datetime:
    """Return `instant` in UTC, the engine's time (the same instant, one shared tzinfo).

    Aware datetimes with different tzinfo objects compare by converting both (about a
    microsecond); with the same object, at C speed. Engine time is therefore UTC
    throughout, and the agency's zone is applied only to dates and to what is shown.
    """
    return instant if instant.tzinfo is _UTC else instant.astimezone(_UTC)

# At one instant: drafts first, then what follows from them, then collections.
TIMER_RANKS = {"flush": 0, "bill": 1, "approval": 2, "reminder": 3, "day": 4, "close": 5}


class Timer(NamedTuple):
    """A moment at which the engine must look at something (`key` says what)."""

    fire_at: datetime
    rank: int
    key: str
    kind: str
    subject: str
    # A strict timer fires only once the clock has moved past its instant: a timesheet's
    # entries share one `at`, and the batch closes after the last of them.
    strict: bool = False
    detail: str = ""


class TimerQueue:
    """Timers ordered by (instant, rank, key): a deterministic order for equal instants."""

    def __init__(self) -> None:
        self._heap: list[Timer] = []
        self._live: dict[str, Timer] = {}

    def __len__(self) -> int:
        return len(self._live)

    def arm(self, fire_at: datetime, kind: str, subject: str, *, key: str | None = None,
            strict: bool = False, detail: str = "") -> Timer:
        """Set (or reset) the timer `key`; return it."""
        timer = Timer(utc(fire_at), TIMER_RANKS[kind], key or f"{kind}:{subject}", kind, subject,
                      strict, detail)
        self._live[timer.key] = timer
        heapq.heappush(self._heap, timer)
        return timer

    def cancel(self, key: str) -> None:
        self._live.pop(key, None)

    def get(self, key: str) -> Timer | None:
        return self._live.get(key)

    def may_be_due(self, limit: datetime) -> bool:
        """Tell cheaply whether any timer could be due by `limit` (False is certain)."""
        heap = self._heap
        return bool(heap) and heap[0].fire_at <= limit

    def next_due(self, limit: datetime, inclusive: bool = True) -> Timer | None:
        """Pop and return the earliest live timer due by `limit`, or None."""
        heap = self._heap
        while heap:
            timer = heap[0]
            if self._live.get(timer.key) is not timer:
                heapq.heappop(heap)  # replaced or cancelled
                continue
            due = timer.fire_at < limit or (
                timer.fire_at == limit and inclusive and not timer.strict)
            if not due:
                return None
            heapq.heappop(heap)
            del self._live[timer.key]
            return timer
        return None

    def peek_time(self) -> datetime | None:
        """Return when the next live timer fires (for the daemon's sleep), or None."""
        heap = self._heap
        while heap and self._live.get(heap[0].key) is not heap[0]:
            heapq.heappop(heap)
        return heap[0].fire_at if heap else None

    def live(self) -> list[Timer]:
        """Return every live timer in firing order (for snapshots and status)."""
        return sorted(self._live.values())
