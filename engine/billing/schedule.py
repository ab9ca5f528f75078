"""Recurring billing: when each retainer and monthly T&M engagement drafts next.

Each recurring engagement has a cursor: the next calendar month it has not yet drafted.
Its timer fires at the start of that month's draft day (agency time); firing drafts the
month, moves the cursor on and arms the next timer. A catch-up after downtime is simply
the same timers firing in order, so every missed draft is created once. A draft day
before go-live moves the cursor on without drafting: a first deployment never bills the
past. The cursor, not the timer, is the memory: after a rule change the timers are
re-derived from the cursors with the new rules.
"""

from __future__ import annotations

from bisect import bisect_left
from datetime import date, datetime
from operator import attrgetter

from engine.billing import retainer, time_materials
from engine.billing.drafting import record_draft, unique_draft_id
from engine.billing.intake import take_expenses
from engine.billing.time_materials import expense_line
from engine.billing.periods import (
    Month, month_of, next_month, period_key, period_of, previous_month, service_window,
)
from engine.core.state import BILLING_ORDER, EngineState, PeriodHours
from engine.core.step import Step
from engine.core.timers import Timer
from engine.model.invoice import Invoice
from engine.ruleset.types import Client, Engagement, Retainer, RuleSet, TimeAndMaterials

__all__ = ["arm_billing_timers", "on_bill_timer", "on_flush_timer", "draft_time_invoice",
           "is_recurring"]

_DATE = attrgetter("date")


def is_recurring(engagement: Engagement) -> bool:
    return isinstance(engagement, Retainer) or (
        isinstance(engagement, TimeAndMaterials) and engagement.cadence == "monthly")


def _draft_day(rules: RuleSet, engagement: Engagement, month: Month) -> date | None:
    """Return the day `engagement` drafts `month`, or None when it drafts nothing then.

    Worked out when the timer is armed and looked up again when it fires: remembered
    with the rules it comes from.
    """
    key = ("draft day", engagement.key, month)
    memo = rules.memo
    if key not in memo:
        memo[key] = _work_out_draft_day(rules, engagement, month)
    return memo[key]  # type: ignore[no-any-return]


def _work_out_draft_day(rules: RuleSet, engagement: Engagement, month: Month) -> date | None:
    calendar = rules.agency.calendar
    if isinstance(engagement, Retainer):
        return retainer.draft_date(engagement, calendar, month)
    assert isinstance(engagement, TimeAndMaterials)
    # The month after the end still drafts, to bill the hours of the last month.
    if engagement.end is not None and month > next_month(month_of(engagement.end)):
        return None
    return time_materials.draft_date(engagement, calendar, month)


def _draft_start(rules: RuleSet, day: date) -> datetime:
    """Return the first instant of draft day `day` (the many engagements drafting on one
    day share it): remembered with the rules, like the day itself."""
    key = ("draft start", day)
    memo = rules.memo
    start = memo.get(key)
    if start is None:
        start = memo[key] = rules.agency.calendar.start_of_day(day)
    return start  # type: ignore[no-any-return]


def _first_month(rules: RuleSet, state: EngineState, engagement: Engagement) -> Month:
    floor = state.go_live if state.clock is None else max(
        state.go_live, rules.agency.calendar.local_date(state.clock))
    if isinstance(engagement, Retainer):
        return retainer.first_month(engagement, floor)
    start = engagement.start or floor
    return month_of(max(start, floor))


def arm_billing_timers(rules: RuleSet, state: EngineState) -> None:
    """(Re-)arm the draft-day timer of every recurring engagement from its cursor."""
    for client in rules.clients.values():
        for engagement in client.engagements.values():
            _arm(rules, state, engagement)


def _arm(rules: RuleSet, state: EngineState, engagement: Engagement) -> None:
    key = f"bill:{engagement.key}"
    day = None
    if is_recurring(engagement):
        month = state.cursors.get(engagement.key)
        if month is None:
            month = state.cursors[engagement.key] = _first_month(rules, state, engagement)
        day = _draft_day(rules, engagement, month)
    if day is None:
        state.timers.cancel(key)
    else:
        state.timers.arm(_draft_start(rules, day), "bill", engagement.key, key=key)


def on_bill_timer(step: Step, timer: Timer) -> None:
    """Draft the cursor's month of one engagement, then arm the next month."""
    client_id, engagement_id = timer.subject.split("/", 1)
    client = step.rules.clients.get(client_id)
    engagement = client.engagements.get(engagement_id) if client else None
    if client is None or engagement is None or not is_recurring(engagement):
        return  # the engagement left the rules
    state = step.state
    month = state.cursors[engagement.key]
    day = _draft_day(step.rules, engagement, month)
    if day is not None and day >= state.go_live:
        if isinstance(engagement, Retainer):
            _draft_retainer(step, client, engagement, month, day)
        else:
            assert isinstance(engagement, TimeAndMaterials)
            draft_time_invoice(step, client, engagement, day, f"{engagement.key}/{day.isoformat()}",
                               "billing_day")
    state.cursors[engagement.key] = next_month(month)
    _arm(step.rules, state, engagement)


def _draft_retainer(step: Step, client: Client, engagement: Retainer, month: Month,
                    day: date) -> None:
    """Draft a retainer's month: its fee, the overage of the periods ended, its expenses."""
    state = step.state
    lines = list(retainer.period_lines(engagement, month, client.currency))
    periods = state.retainer_hours.get(engagement.key, {})
    charges = retainer.overage_charges(engagement, periods, day, client.currency)
    lines.extend(charge.line for charge in charges)
    expenses = take_expenses(step, engagement, day)
    lines.extend(expense_line(item, None, client.currency) for item in expenses)
    if not lines:
        return  # no empty invoices (and, with no lines, nothing was taken)
    window = service_window(month, engagement.start, engagement.end)
    # After the end, the closing draft bills the last period's overage: name it for that.
    period = period_key(month) if window else f"{period_key(previous_month(month))}-overage"
    invoice_id = unique_draft_id(step, f"{engagement.key}/{period}")
    invoice = Invoice.draft(
        id=invoice_id, client=client.id, engagement=engagement.id, currency=client.currency,
        lines=tuple(lines), tax_rate=client.tax.rate, tax_label=client.tax.label,
        trigger="billing_day", period_start=window[0] if window else None,
        period_end=window[1] if window else None)
    for charge in charges:
        periods[charge.period].overage_billed += charge.hours
    current = period_of(day)
    for period, record in periods.items():
        if record.entries and period < current:
            _settle(state, period, record)
    record_draft(step, invoice, engagement.source, expenses)


def _settle(state: EngineState, period: str, record: PeriodHours) -> None:
    """An ended period's overage is billed: its entries count as billed from now on (a
    re-approval is ignored), and need no longer be told apart."""
    index = state.retainer_index
    for source_key in record.entries:
        index.pop(source_key, None)
    # A retainer period is a calendar month: its entries are dated in it.
    state.remember_billed_all(record.entries, date(int(period[:4]), int(period[5:7]), 1))
    record.entries.clear()


def draft_time_invoice(step: Step, client: Client, engagement: TimeAndMaterials, before: date,
                       base_id: str, trigger: str) -> None:
    """Draft every unbilled entry of a T&M engagement dated before `before`."""
    state = step.state
    pool = state.pool.get(engagement.key, {})
    # In billing order the entries dated before `before` come first: sorted whole (at C
    # speed), the pool is cut where they end.
    ordered = sorted(pool.values(), key=BILLING_ORDER)
    items = tuple(ordered[:bisect_left(ordered, before, key=_DATE)])
    if not items:
        return  # no empty invoices
    lines, warnings = time_materials.billing_lines(engagement, items, before, client.currency,
                                                   _person_names(step.rules))
    if not lines:
        return  # nothing to bill (no line has an amount): no empty invoices
    invoice = Invoice.draft(
        id=unique_draft_id(step, base_id), client=client.id, engagement=engagement.id,
        currency=client.currency, lines=lines, tax_rate=client.tax.rate,
        tax_label=client.tax.label, trigger=trigger, period_start=items[0].date,
        period_end=items[-1].date, warnings=warnings)
    state.bill(engagement.key, items)
    record_draft(step, invoice, engagement.source, items)


def _person_names(rules: RuleSet) -> dict[str, str]:
    """Return each agency person's name by id (what `group_by: person` lines show)."""
    names = rules.memo.get("person names")
    if names is None:
        names = rules.memo["person names"] = {
            person.id: person.name for person in rules.agency.people.values()}
    return names


def on_flush_timer(step: Step, timer: Timer) -> None:
    """Close an on-approval timesheet: draft what it approved."""
    client_id, engagement_id = timer.subject.split("/", 1)
    client = step.rules.clients.get(client_id)
    engagement = client.engagements.get(engagement_id) if client else None
    if client is None or not isinstance(engagement, TimeAndMaterials):
        return
    day = step.today
    draft_time_invoice(step, client, engagement, date.max,
                       f"{engagement.key}/{day.isoformat()}", "timesheet")
