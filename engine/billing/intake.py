"""Work that becomes billable: approved time, approved expenses, completed milestones.

Approved expenses are billed on their engagement's next invoice: with the T&M markup on
a time-and-materials engagement, at cost on a retainer's or a project's.

Approved time, approved expenses and unapprovals only record: nothing is decided on
their arrival (the drafts come on billing days), so their handlers take the rules, the
state, the event and the engine time, and make no Step. Each handler checks the event's
references against the rules first and raises EventError before changing anything, so a
rejected event leaves the state untouched.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from decimal import Decimal

from engine.billing import project_fixed
from engine.billing.drafting import record_draft, unique_draft_id
from engine.billing.periods import period_of
from engine.billing.time_materials import expense_line
from engine.core.state import BILLING_ORDER, Billable, EngineState, PeriodHours, RetainerEntry
from engine.core.step import Step
from engine.errors import EventError
from engine.model.events import Event, ExpenseApproved, MilestoneCompleted, TimeApproved, TimeUnapproved
from engine.model.invoice import Invoice
from engine.ruleset.schema_check import did_you_mean
from engine.ruleset.types import (Client, Engagement, ProjectFixed, Retainer, RuleSet,
                                  TimeAndMaterials)

_ZERO = Decimal(0)

__all__ = ["time_approved", "time_unapproved", "expense_approved", "milestone_completed",
           "known_client", "take_expenses"]


def known_client(rules: RuleSet, event: Event, client_id: str) -> Client:
    """Return the client an event names, or reject the event."""
    client = rules.clients.get(client_id)
    if client is None:
        raise EventError(event.origin, None, f"unknown client '{client_id}'"
                                             f"{did_you_mean(client_id, rules.clients)}")
    return client


def _engagement_of(rules: RuleSet, event: Event, client_id: str, project: str) -> Engagement:
    """Return the engagement of `project`, checking the client and the project in turn."""
    client = known_client(rules, event, client_id)
    owner = rules.projects.get(project)
    if owner is None:
        raise EventError(event.origin, None, f"unknown project '{project}'"
                                             f"{did_you_mean(project, rules.projects)}")
    if owner[0] != client.id:
        raise EventError(event.origin, None, f"project '{project}' belongs to client "
                                             f"'{owner[0]}', not '{client.id}'")
    return client.engagements[owner[1]]


def time_approved(rules: RuleSet, state: EngineState, event: Event, at: datetime) -> None:
    """Put an approved billable entry in its engagement's unbilled pool (or retainer hours)."""
    entry: TimeApproved = event.payload
    engagement = rules.project_engagements.get(entry.project)
    if engagement is None or engagement.client != entry.client:
        # Not the client's project: say exactly what is wrong.
        engagement = _engagement_of(rules, event, entry.client, entry.project)
    key = entry.source_id or event.id
    closed = state.books_closed_through
    if closed is not None and state.go_live <= entry.date <= closed:
        _refuse_in_closed_books(state, event, key, entry.date, entry.billable and bool(
            entry.hours) and type(engagement) in _BILLED_BY_THE_HOUR)
        return
    # A billed entry is never in the pool or the retainer hours (billing takes it out), so
    # a re-approval first replaces an unbilled earlier version of the entry...
    if key in state.pool_index or key in state.retainer_index:
        _release(state, key)
    hours = entry.hours
    if not entry.billable or not hours or entry.date < state.go_live:
        return  # not billable, nothing to bill, or billed elsewhere before go-live
    if state.billed_entries.has_text(key):
        return  # ...and an entry already billed stays billed once, ever
    if type(engagement) is TimeAndMaterials:
        state.add_unbilled(engagement.key, tuple.__new__(Billable, (
            key, event.id, "time", entry.date, entry.project, entry.person, entry.role,
            entry.task, hours, _ZERO, entry.notes or "", at)))
        if engagement.cadence == "on_approval":
            _close_timesheet_after(state, engagement, at)
    elif type(engagement) is Retainer:
        period = period_of(entry.date)
        periods = state.retainer_hours.get(engagement.key)
        if periods is None:
            periods = state.retainer_hours[engagement.key] = {}
        record = periods.get(period)
        if record is None:
            record = periods[period] = PeriodHours()
        record.hours += hours
        record.entries[key] = hours
        state.retainer_index[key] = tuple.__new__(RetainerEntry, (engagement.key, period, hours))
    # Time on a fixed-fee project is not billed by the hour.


_BILLED_BY_THE_HOUR = (TimeAndMaterials, Retainer)


def _refuse_in_closed_books(state: EngineState, event: Event, key: str, day: date,
                            bills: bool) -> None:
    """Handle work dated in a month whose books are closed (engine/billing/books.py).

    Work that would bill, or change an entry still unbilled, is refused; work that bills
    nothing is ignored, as it would have been (its id is not kept: see remember_event).
    """
    if bills or key in state.pool_index or key in state.retainer_index:
        raise EventError(event.origin, None, f"'{key}' is dated {day.isoformat()}, and the "
                         f"books are closed through {state.books_closed_through}: billflow "
                         "no longer bills that month; if this is new work, invoice it by hand")


def _close_timesheet_after(state: EngineState, engagement: TimeAndMaterials,
                           at: datetime) -> None:
    """On-approval billing: draft once the clock moves past this timesheet's instant."""
    if engagement.cadence == "on_approval":
        state.timers.arm(at, "flush", engagement.key, key=f"flush:{engagement.key}",
                         strict=True)


def _release(state: EngineState, key: str) -> bool:
    """Take an unbilled entry out of the pool or the retainer hours; return whether found."""
    engagement_key = state.pool_index.pop(key, None)
    if engagement_key is not None:
        state.pool.get(engagement_key, {}).pop(key, None)
        return True
    counted = state.retainer_index.pop(key, None)
    if counted is not None:
        record = state.retainer_hours[counted.engagement][counted.period]
        record.hours -= counted.hours
        record.entries.pop(key, None)
        return True
    return False


def time_unapproved(rules: RuleSet, state: EngineState, event: Event, at: datetime) -> None:
    """Take an entry that is not yet billed out of the unbilled pool."""
    payload: TimeUnapproved = event.payload
    if _release(state, payload.source_id):
        return
    if state.billed_entries.has_text(payload.source_id):
        raise EventError(event.origin, None, f"time entry '{payload.source_id}' is on an "
                                             "invoice already; void that invoice to release it")
    raise EventError(event.origin, None, f"unknown time entry '{payload.source_id}' (no "
                                         "unbilled entry has that source_id)")


def expense_approved(rules: RuleSet, state: EngineState, event: Event, at: datetime) -> None:
    """Put an approved billable expense in its T&M engagement's unbilled pool."""
    expense: ExpenseApproved = event.payload
    engagement = _engagement_of(rules, event, expense.client, expense.project)
    client = rules.clients[expense.client]
    if expense.currency != client.currency:
        raise EventError(event.origin, None, f"the expense is in {expense.currency} but "
                                             f"{client.id} is billed in {client.currency}")
    key = expense.source_id or event.id
    closed = state.books_closed_through
    if closed is not None and state.go_live <= expense.date <= closed:
        _refuse_in_closed_books(state, event, key, expense.date, expense.billable)
        return
    if state.billed_entries.has_text(key):
        return  # billed already
    _release(state, key)
    if not expense.billable or expense.date < state.go_live:
        return
    state.add_unbilled(engagement.key, Billable(
        key, event.id, "expense", expense.date, expense.project, None, None, None, _ZERO,
        expense.amount, expense.description, at))
    if isinstance(engagement, TimeAndMaterials):
        _close_timesheet_after(state, engagement, at)


def milestone_completed(step: Step, event: Event) -> None:
    """Draft a completed milestone's invoice at once; a milestone is billed at most once."""
    payload: MilestoneCompleted = event.payload
    client = known_client(step.rules, event, payload.client)
    engagement = client.engagements.get(payload.engagement)
    if not isinstance(engagement, ProjectFixed):
        what = "unknown engagement" if engagement is None else "not a fixed-fee engagement:"
        raise EventError(event.origin, None, f"{what} '{payload.engagement}' of {client.id}"
                                             f"{did_you_mean(payload.engagement, client.engagements)}")
    completed_on: date = payload.completed_on or step.today
    terms = engagement.in_force(completed_on)
    assert isinstance(terms, ProjectFixed)
    milestone = project_fixed.find_milestone(terms, payload.milestone)
    if milestone is None:
        known = [m.id for m in terms.milestones]
        raise EventError(event.origin, None, f"unknown milestone '{payload.milestone}' of "
                                             f"{engagement.key}{did_you_mean(payload.milestone, known)}")
    milestone_key = f"{engagement.key}/{milestone.id}"
    state = step.state
    if milestone_key in state.milestones_done:
        return  # billed at most once
    state.milestones_done.add(milestone_key)
    # A milestone completed again after its draft was voided gets a new id (and new actions).
    invoice_id = unique_draft_id(step, milestone_key)
    if completed_on < state.go_live:
        return  # completed before go-live: billed elsewhere
    line = project_fixed.milestone_line(terms, milestone.id, client.currency)
    expenses = take_expenses(step, engagement, completed_on + timedelta(days=1))
    lines = (line,) + tuple(expense_line(item, None, client.currency) for item in expenses)
    invoice = Invoice.draft(id=invoice_id, client=client.id, engagement=engagement.id,
                            currency=client.currency, lines=lines, tax_rate=client.tax.rate,
                            tax_label=client.tax.label, trigger="milestone")
    record_draft(step, invoice, engagement.source, expenses)


def take_expenses(step: Step, engagement: Engagement, before: date) -> tuple[Billable, ...]:
    """Take an engagement's unbilled expenses dated before `before` out of the pool."""
    state = step.state
    pool = state.pool.get(engagement.key, {})
    taken = tuple(sorted((item for item in pool.values()
                          if item.kind == "expense" and item.date < before),
                         key=BILLING_ORDER))
    state.bill(engagement.key, taken)
    return taken
