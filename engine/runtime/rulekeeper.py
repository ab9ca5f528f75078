"""Keep the rule set in force: load, validate in full, swap atomically, keep the last good.

A reload that fails leaves the last good rule set active and records why; every load step
(schemas, cross-checks, conditions, templates) counts towards success.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Callable

from engine.errors import BillflowError
from engine.ruleset.loader import check_ruleset
from engine.ruleset.types import RuleSet

__all__ = ["RuleKeeper", "ReloadOutcome"]


@dataclass(frozen=True)
class ReloadOutcome:
    """What one load attempt found."""

    ok: bool
    version: str | None
    errors: tuple[str, ...]
    at: datetime
    changed: bool


class RuleKeeper:
    """Hold the active RuleSet; `reload()` replaces it only with a fully valid one."""

    def __init__(self, folder: str | Path, now: Callable[[], datetime]) -> None:
        self.folder = str(folder)
        self._now = now
        self._lock = threading.Lock()
        self._active: RuleSet | None = None
        self.last_error: ReloadOutcome | None = None
        self.last_success: ReloadOutcome | None = None

    @property
    def active(self) -> RuleSet:
        with self._lock:
            if self._active is None:
                raise RuntimeError("no rule set has been loaded yet")
            return self._active

    @property
    def degraded(self) -> bool:
        """True while the newest rule files failed to load (the last good set stays)."""
        return self.last_error is not None

    def reload(self) -> ReloadOutcome:
        """Load the folder; on success make it active atomically."""
        at = self._now()
        try:
            ruleset, errors = check_ruleset(self.folder)
            messages = tuple(str(e) for e in errors)
        except BillflowError as exc:  # the folder vanished or holds no rule files
            ruleset, messages = None, (str(exc),)
        if ruleset is None:
            outcome = ReloadOutcome(False, None, messages, at, False)
            self.last_error = outcome
            return outcome
        with self._lock:
            changed = self._active is None or self._active.version != ruleset.version
            self._active = ruleset
        outcome = ReloadOutcome(True, ruleset.version, (), at, changed)
        self.last_success = outcome
        self.last_error = None
        return outcome
