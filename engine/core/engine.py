"""The pure core: (rules, state, event or clock tick) -> (state, actions).

`simulate`, `plan`, `test` and the daemon all drive this one class:

    engine = Engine(rules)
    state = engine.new_state(go_live)
    actions = engine.tick(state, until)          # the clock reached `until`
    actions = engine.apply(state, event, at)     # an event arrived at engine time `at`

No wall clock, I/O or randomness inside: the caller says what time it is. A rejected
event raises EventError and leaves the state as it was.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime, timezone

from engine.billing import intake
from engine.billing.books import arm_closing, on_close_timer
from engine.billing.schedule import arm_billing_timers, on_bill_timer, on_flush_timer
from engine.core.state import EngineState
from engine.core.step import Step
from engine.core.timers import Timer, utc
from engine.errors import EventError
from engine.model.actions import Action
from engine.model.events import Event
from engine.ruleset.types import RuleSet
from engine.workflow import approval, reconciliation, voiding
from engine.workflow.collections import arm_day_timer, on_day_timer, on_reminder_timer

__all__ = ["Engine"]

_UTC = timezone.utc

EventHandler = Callable[[Step, Event], None]
Recorder = Callable[[RuleSet, EngineState, Event, datetime], None]
TimerHandler = Callable[[Step, Timer], None]

# Events that only record: nothing is decided on their arrival, so no Step is made.
RECORDERS: dict[str, Recorder] = {
    "time.approved": intake.time_approved,
    "time.unapproved": intake.time_unapproved,
    "expense.approved": intake.expense_approved,
    "rules.changed": lambda rules, state, event, at: None,  # logged by the runtime
}

# Events that decide: what they cause is emitted through a Step.
EVENT_HANDLERS: dict[str, EventHandler] = {
    "milestone.completed": intake.milestone_completed,
    "invoice.approved": approval.approve,
    "invoice.flagged": approval.flag,
    "invoice.adjusted": approval.adjust,
    "invoice.voided": voiding.void,
    "invoice.disputed": voiding.dispute,
    "invoice.undisputed": voiding.undispute,
    "payment.received": reconciliation.payment_received,
    "payment.assigned": reconciliation.payment_assigned,
}

TIMER_HANDLERS: dict[str, TimerHandler] = {
    "bill": on_bill_timer,
    "flush": on_flush_timer,
    "approval": approval.on_approval_timer,
    "reminder": on_reminder_timer,
    "day": on_day_timer,
    "close": on_close_timer,
}


class Engine:
    """Decide actions from one rule set; the state is passed in and changed in place."""

    def __init__(self, rules: RuleSet) -> None:
        self.rules = rules

    def new_state(self, go_live: date) -> EngineState:
        """Return an empty state billing nothing dated before `go_live` or the Agency's go-live.

        `go_live` is when billing by billflow could start at all (the store's creation, a
        replay's first day); an Agency `go_live` can only move it later, never into the past.
        """
        agency_go_live = self.rules.agency.go_live
        state = EngineState(go_live=max(agency_go_live, go_live) if agency_go_live else go_live)
        self.adopt(state)
        return state

    def adopt(self, state: EngineState) -> None:
        """Make this rule set the one in force for `state` (first start or hot reload)."""
        state.rules_version = self.rules.version
        arm_billing_timers(self.rules, state)
        arm_closing(self.rules, state)
        if state.clock is not None and state.open_ids:
            arm_day_timer(Step(self.rules, state, state.clock))

    def tick(self, state: EngineState, until: datetime, *, resumed: bool = False,
             inclusive: bool = True) -> list[Action]:
        """Fire every timer due by `until`, in order; `resumed` means the engine was down."""
        until = utc(until)
        actions: list[Action] = []
        if not state.timers.may_be_due(until):
            if state.clock is None or until > state.clock:
                state.clock = until
            return actions
        while True:
            timer = state.timers.next_due(until, inclusive)
            if timer is None:
                break
            at = until if resumed else timer.fire_at
            if state.clock is not None and at < state.clock:
                at = state.clock
            state.clock = at
            step = Step(self.rules, state, at, actions, resumed=resumed, timer=timer)
            TIMER_HANDLERS[timer.kind](step, timer)
        if state.clock is None or until > state.clock:
            state.clock = until
        return actions

    def apply(self, state: EngineState, event: Event, at: datetime | None = None) -> list[Action]:
        """Apply one event at engine time `at` (default: the event's own time).

        A repeated event id is ignored. A rejected event raises EventError and changes
        nothing; call `tick` first so the timers due before the event have fired.
        """
        if at is None:
            at = event.at
        if at.tzinfo is not _UTC:
            at = utc(at)
        clock = state.clock
        if clock is not None and at < clock:
            at = clock
        if not state.remember_event(event):
            return []
        record = RECORDERS.get(event.type)
        try:
            if record is not None:
                record(self.rules, state, event, at)
                actions: list[Action] = []
            else:
                step = Step(self.rules, state, at, event=event.id)
                EVENT_HANDLERS[event.type](step, event)
                actions = step.actions
        except EventError:
            state.forget_event(event)
            raise
        state.clock = at
        return actions
