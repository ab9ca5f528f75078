"""One unit of deciding: the rules, the state, the engine time, and the actions so far.

Every decision function takes a Step; `emit` is the only way an action is made, so every
action carries its deterministic id, the engine time, the rule that caused it and the
rules version.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from engine.core.state import EngineState
from engine.core.timers import Timer
from engine.model.actions import Action, action_id
from engine.ruleset.types import Client, Engagement, RuleSet, Source

__all__ = ["Step"]


class Step:
    """The context of one `apply` or one timer: where decisions are made and collected."""

    # A plain slotted class: one is made per event, on the hot path.
    __slots__ = ("rules", "state", "at", "actions", "resumed", "_cause", "_timer", "_event",
                 "_today", "_local_at")

    def __init__(self, rules: RuleSet, state: EngineState, at: datetime,
                 actions: list[Action] | None = None, resumed: bool = False,
                 cause: str = "", timer: Timer | None = None, event: str | None = None) -> None:
        self.rules = rules
        self.state = state
        self.at = at  # engine time: UTC
        self.actions: list[Action] = [] if actions is None else actions
        self.resumed = resumed
        self._cause = cause
        self._timer = timer
        self._event = event
        self._today: date | None = None
        self._local_at: datetime | None = None

    @property
    def cause(self) -> str:
        """What is being decided: `event:<id>`, or `timer:<key>@<local instant>`."""
        if not self._cause:
            # Most events and timers decide nothing: a cause is written when first needed.
            if self._event is not None:
                self._cause = f"event:{self._event}"
            elif self._timer is not None:
                timer = self._timer
                # A timer usually fires at the step's own instant, already shown in local time.
                shown = (self._local_now() if timer.fire_at == self.at
                         else self.local(timer.fire_at))
                self._cause = f"timer:{timer.key}@{shown.isoformat()}"
        return self._cause

    @property
    def today(self) -> date:
        """The agency-local date of the engine time."""
        if self._today is None:
            self._today = self.rules.agency.calendar.local_date(self.at)
        return self._today

    def local(self, instant: datetime) -> datetime:
        """Return `instant` in the agency's time zone (how actions show their time)."""
        return instant.astimezone(self.rules.agency.calendar.zone)

    def _local_now(self) -> datetime:
        """Return the engine time in local time (the actions of one step share it)."""
        local_at = self._local_at
        if local_at is None:
            local_at = self._local_at = self.local(self.at)
        return local_at

    def client(self, client_id: str) -> Client:
        return self.rules.clients[client_id]

    def engagement(self, client_id: str, engagement_id: str) -> Engagement:
        return self.rules.clients[client_id].engagements[engagement_id]

    def emit(self, action_type: str, subject: str, client: str | None, rule: Source | str,
             payload: dict[str, Any], *qualifiers: object) -> Action:
        """Record one decision and return it."""
        action = Action.decided(action_id(action_type, subject, *qualifiers), action_type,
                                self._local_now(), client, str(rule), self.rules.version,
                                payload, self.cause)
        self.actions.append(action)
        return action
