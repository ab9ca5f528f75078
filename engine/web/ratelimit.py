"""Sliding-window attempt limits, in memory (one daemon serves a store): sign-in by address and by IP."""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable

__all__ = ["AttemptLimit"]


class AttemptLimit:
    """Allow at most `limit` attempts per key within `window` seconds."""

    def __init__(self, limit: int, window: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.limit = limit
        self.window = window
        self._clock = clock
        self._seen: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def allow(self, key: str) -> bool:
        """Count an attempt for `key`; False once the key is over its limit."""
        now = self._clock()
        with self._lock:
            if len(self._seen) > 50_000:  # a flood of distinct keys must not grow memory forever
                self._forget_idle(now)
            attempts = self._seen.setdefault(key, deque())
            while attempts and attempts[0] <= now - self.window:
                attempts.popleft()
            if len(attempts) >= self.limit:
                return False
            attempts.append(now)
            return True

    def _forget_idle(self, now: float) -> None:
        for key in [k for k, v in self._seen.items() if not v or v[-1] <= now - self.window]:
            del self._seen[key]
