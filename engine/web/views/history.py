"""What every read model stands on: the store's history, read once per request.

The pages never ask the engine anything: they read what it committed. The engine state
snapshot says where each invoice stands now (draft, awaiting approval, issued, paid) and
which payments wait for a person; the action log says what happened (reminders sent,
escalations, payments applied) and is folded into the same ledger the reports use, so the
page's aging and DSO equal `billflow report --db`'s.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from functools import cached_property
from typing import Any

from engine.core.snapshot import load_state
from engine.core.state import EngineState
from engine.reports.approvals import HUMAN_EVENTS
from engine.reports.ledger import Ledger, build_ledger
from engine.ruleset.types import RuleSet
from engine.runtime.store import Store

__all__ = ["History", "read_history", "history_of", "FOLLOW_UP_ACTIONS"]

# The actions that chase an issued invoice, shown as its reminder history.
FOLLOW_UP_ACTIONS = ("reminder.sent", "escalation.triggered")
_PAGE = 5_000


@dataclass(frozen=True)
class History:
    """The store as one request sees it, and the agency-local day that request is on."""

    store: Store
    rules: RuleSet
    now: datetime
    state: EngineState | None
    actions: tuple[Mapping[str, Any], ...] = field(repr=False)

    @property
    def today(self) -> date:
        """The agency-local day of `now`."""
        return self.rules.agency.calendar.local_date(self.now)

    @cached_property
    def ledger(self) -> Ledger:
        """The action log folded per invoice, exactly as the reports fold it."""
        return build_ledger(self.actions)

    @cached_property
    def follow_ups(self) -> Mapping[str, tuple[Mapping[str, Any], ...]]:
        """The reminders and escalations of each invoice, oldest first."""
        found: dict[str, list[Mapping[str, Any]]] = {}
        for action in self.actions:
            if action["type"] in FOLLOW_UP_ACTIONS:
                found.setdefault(action["payload"]["invoice"]["id"], []).append(action)
        return {key: tuple(value) for key, value in found.items()}

    @cached_property
    def unmatched_reasons(self) -> Mapping[str, str]:
        """Why each payment was left for a person, by payment id."""
        return {action["payload"]["payment"]["id"]: action["payload"]["reason"]
                for action in self.actions if action["type"] == "payment.unmatched"}

    def human_events(self) -> Iterator[Mapping[str, Any]]:
        """Yield the accepted events people caused (approvals, flags, assignments...)."""
        position = 0
        while True:
            page = self.store.events_after(position, _PAGE)
            for stored in page:
                if stored.rejection is None and stored.type in HUMAN_EVENTS:
                    yield json.loads(stored.body)
            if len(page) < _PAGE:
                return
            position = page[-1].position


def read_history(store: Store, rules: RuleSet, now: datetime) -> History:
    """Read the latest snapshot and the action log of `store`."""
    snapshot = store.load_snapshot()
    state = load_state(snapshot.state_json) if snapshot is not None else None
    return History(store, rules, now, state, tuple(store.actions()))


def history_of(backend: Any) -> History:
    """Read the history of the daemon `backend` (its store, rules in force and clock)."""
    return read_history(backend.store, backend.keeper.active, backend.clock.now())
