"""Waiting for a condition the daemon's threads or processes bring about, with a deadline."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")

TIMEOUT = 30.0


def wait_for(predicate: Callable[[], T], what: str, timeout: float = TIMEOUT, *,
             every: float = 0.05) -> T:
    """Call `predicate` every `every` seconds until it returns something truthy, and return
    that; fail the test, naming `what`, once `timeout` seconds have passed."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(every)
