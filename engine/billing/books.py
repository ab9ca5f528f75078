"""Closing the books: some time after a month ends, its approved work is final.

An agency closes a month once its invoices are out and its accounts reconciled; time
approved later for that month is a correction for a person to make, not something to
slip onto the next invoice. With `books_close_after` in the Agency (e.g. `60d`), the
books of each month close that long after the month ends, at the start of that day
(agency time):

- approved time and expenses dated in a closed month are refused, each with an error
  naming the entry and the day the books are closed through (an event that bills
  nothing, such as non-billable time or time on a fixed-fee project, is ignored as
  before);
- billflow forgets the ids it kept so that the month's events count once and its entries
  are billed once: from then on the date alone refuses them. A daemon that has run for
  years keeps only the ids of the months still open, not one per event ever billed.

Without `books_close_after` no month closes and every id is kept for good. The books
never reopen: a longer `books_close_after` applies to the months still open.
"""

from __future__ import annotations

from datetime import timedelta

from engine.billing.periods import month_bounds, month_of, period_key
from engine.core.state import EngineState
from engine.core.step import Step
from engine.core.timers import Timer
from engine.ruleset.types import RuleSet
from engine.workflow.timing import day_after

__all__ = ["arm_closing", "on_close_timer", "CLOSE_TIMER"]

CLOSE_TIMER = "close:books"


def arm_closing(rules: RuleSet, state: EngineState) -> None:
    """Arm the timer that closes the next open month, or stop closing (no policy)."""
    policy = rules.agency.books_close_after
    if policy is None:
        state.timers.cancel(CLOSE_TIMER)
        # Every id is kept for good from now on, the open months' with the others.
        for ids in state.seen_by_month.values():
            for value in ids:
                state.seen_events.add_new(value)
        state.seen_by_month.clear()
        state.closing_entries.clear()
        state.books_closed_through = None
        return
    if state.books_closed_through is None:
        # Nothing before go-live is billed: the first month to close is go-live's.
        state.books_closed_through = state.go_live - timedelta(days=1)
    month = month_of(state.books_closed_through + timedelta(days=1))
    closes = day_after(month_bounds(month)[1], policy, rules.agency.calendar)
    state.timers.arm(rules.agency.calendar.start_of_day(closes), "close", period_key(month),
                     key=CLOSE_TIMER)


def on_close_timer(step: Step, timer: Timer) -> None:
    """Close the books of the timer's month, then arm the next month's closing."""
    state = step.state
    year, number = (int(part) for part in timer.subject.split("-"))
    through = month_bounds((year, number))[1]
    closed = state.books_closed_through
    if closed is not None and through > closed:
        state.close_books(through)
    arm_closing(step.rules, state)
