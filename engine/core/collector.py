"""Garbage collection while a replay runs: young objects often, the whole heap never.

The engine's state is a tree of values (dicts, tuples, frozen dataclasses) that grows
with the history and almost never forms a reference cycle. CPython's default thresholds
(700, 10, 10) run a full collection whenever the long-lived objects have grown by a
quarter since the last one: a replay's state grows steadily, so each full collection
walks the whole state once more and finds nothing to free. Over a million events that
was about a sixth of the replay's time (16.1 s of CPU against 13.5 s without it).

While a replay runs, `few_collections` collects the youngest generation once 100,000
more container objects are alive than at the last collection (the rare cycle, such as a
rejected event's traceback, is still freed within a few megabytes), the middle one every
20 of those, and leaves the oldest alone; the thresholds in force before are restored
when the last replay in the process ends.

Why so few young collections: a replay's state gains about 400,000 containers over a
million events, while the short-lived ones (an event, its payload) die before any
collection sees them. Each young collection walks every container born since the last
one; at every 10,000 that was 43 collections and 0.77 s of a 14 s replay, at every
100,000 it is 3 collections and 0.23 s.
"""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator
from contextlib import contextmanager

__all__ = ["few_collections", "REPLAY_THRESHOLDS"]

REPLAY_THRESHOLDS = (100_000, 20, 1_000_000)
"""gc thresholds during a replay: young, middle, oldest (practically never)."""

_lock = threading.Lock()
_running = 0
_saved: tuple[int, int, int] | None = None


@contextmanager
def few_collections() -> Iterator[None]:
    """Run the body with REPLAY_THRESHOLDS; nested and concurrent uses share one setting."""
    global _running, _saved
    with _lock:
        if _running == 0:
            _saved = gc.get_threshold()
            gc.set_threshold(*REPLAY_THRESHOLDS)
        _running += 1
    try:
        yield
    finally:
        with _lock:
            _running -= 1
            if _running == 0 and _saved is not None:
                gc.set_threshold(*_saved)
                _saved = None
