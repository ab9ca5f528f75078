"""Collections: reminder cadences and escalation rules for issued invoices.

- A reminder step fires at `send_at` (agency time) on due date + offset, moved to the
  next business day when the cadence asks; only while a balance is open and the invoice
  is neither voided nor disputed. A step already past at issue is skipped, never sent
  late; after downtime only the latest missed step of each invoice is sent.
- Escalation rules are checked at the start of every agency-local day for every open
  invoice past its due date, and fire once per invoice (or every `repeat`). A late fee is a separate
  invoice that goes through approval like any other.
"""

from __future__ import annotations

import weakref
from bisect import bisect_left, insort
from collections.abc import Mapping
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from operator import attrgetter
from types import MappingProxyType
from typing import NamedTuple

from engine.core.state import EngineState
from engine.core.step import Step
from engine.core.timers import Timer
from engine.model.invoice import Invoice, make_line
from engine.model.money import percent_of
from engine.ruleset.expressions import ExpressionError
from engine.ruleset.types import Client, EscalationRule, ReminderCadence, ReminderStep
from engine.workflow.context import (condition_context, condition_fields, condition_roots,
                                     days_overdue, open_balances)
from engine.workflow.timing import day_after

__all__ = ["on_issued", "on_reminder_timer", "on_day_timer", "stop_collections",
           "reminder_instant", "arm_day_timer"]

DAY_TIMER = "day:escalations"


def reminder_instant(step: Step, cadence: ReminderCadence, reminder: ReminderStep,
                     due: date) -> datetime:
    """Return when a cadence step fires for an invoice due on `due`."""
    calendar = step.rules.agency.calendar
    day = day_after(due, reminder.offset, calendar)
    if cadence.business_days_only:
        day = calendar.next_business_day(day)
    return calendar.at_local(day, cadence.send_at)


def _cadence_steps(step: Step, invoice: Invoice) -> tuple[ReminderCadence, list[tuple[datetime, int]]]:
    """Return the invoice's cadence and its steps' instants (in UTC), in firing order."""
    client = step.client(invoice.client)
    cadence = step.rules.reminder_cadences[client.reminder_cadence]
    due = invoice.due_date
    assert due is not None
    # Invoices due on the same day share their reminder times: work them out once. In UTC,
    # like the timers they are compared with (mixed offsets compare far more slowly).
    key = ("reminders", cadence.id, due)
    timed = step.rules.memo.get(key)
    if timed is None:
        timed = sorted((reminder_instant(step, cadence, s, due).astimezone(timezone.utc), i)
                       for i, s in enumerate(cadence.steps))
        step.rules.memo[key] = timed
    return cadence, timed


def _step_after(timed: list[tuple[datetime, int]], after: datetime) -> tuple[datetime, int] | None:
    """Return the first cadence step strictly after `after`, if any is left."""
    for instant_and_index in timed:
        if instant_and_index[0] > after:
            return instant_and_index
    return None


def _arm_reminder(step: Step, invoice: Invoice, next_step: tuple[datetime, int] | None) -> None:
    """Arm the invoice's reminder timer for `next_step`, if there is one."""
    if next_step is not None:
        instant, index = next_step
        step.state.timers.arm(instant, "reminder", invoice.id, detail=str(index))


def arm_day_timer(step: Step) -> None:
    """Make sure tomorrow's escalation check is armed."""
    timers = step.state.timers
    if timers.get(DAY_TIMER) is None:
        calendar = step.rules.agency.calendar
        tomorrow = calendar.start_of_day(step.today + timedelta(days=1))
        timers.arm(tomorrow, "day", "escalations", key=DAY_TIMER)


def on_issued(step: Step, invoice: Invoice) -> None:
    """Start collecting an issued invoice: its reminders and the daily escalation check."""
    if not invoice.is_open:
        return
    _, timed = _cadence_steps(step, invoice)
    _arm_reminder(step, invoice, _step_after(timed, step.at))
    arm_day_timer(step)


def stop_collections(step: Step, invoice_id: str) -> None:
    """Stop every reminder of an invoice (paid in full, voided)."""
    step.state.timers.cancel(f"reminder:{invoice_id}")


def on_reminder_timer(step: Step, timer: Timer) -> None:
    """Send the due cadence step if a balance is open, then arm the next step."""
    state = step.state
    invoice = state.invoices.get(timer.subject)
    if invoice is None or not invoice.is_open:
        return
    cadence, timed = _cadence_steps(step, invoice)
    next_step = _step_after(timed, timer.fire_at)
    if step.resumed and next_step is not None and next_step[0] <= step.at:
        _arm_reminder(step, invoice, next_step)  # a later step is also overdue
        return
    if invoice.id not in state.disputed:
        reminder = cadence.steps[int(timer.detail)]
        shown = invoice.as_json()
        step.emit("reminder.sent", invoice.id, invoice.client, cadence.source, {
            "invoice": shown, "step": reminder.id, "template": reminder.template,
            "balance": shown["balance"],
        }, reminder.id)
    _arm_reminder(step, invoice, next_step)


def _notify(step: Step, rule: EscalationRule, client: Client) -> list[str]:
    people: list[str] = []
    agency = step.rules.agency
    for target in rule.notify:
        if target == "account_lead":
            found = [client.account_lead]
        elif target in agency.people:
            found = [target]
        else:
            found = [person.id for person in agency.people_with_role(target)]
        people.extend(person for person in found if person not in people)
    return people


def _late_fee(step: Step, invoice: Invoice, rule: EscalationRule, count: int) -> Invoice | None:
    fee = rule.late_fee
    if fee is None:
        return None
    amount = (percent_of(invoice.balance, fee.percent, invoice.currency)
              if fee.percent is not None else fee.amount or Decimal(0))
    if amount <= 0:
        return None
    # One late-fee invoice per rule and occurrence: two rules never share an id.
    suffix = f"late-fee-{rule.id}" if count == 1 else f"late-fee-{rule.id}-{count}"
    label = f"{fee.percent.normalize():f}% of the open balance" if fee.percent is not None else "flat"
    line = make_line(f"Late fee on invoice {invoice.number} ({label})", Decimal(1), amount,
                     invoice.currency)
    # Late fees are not taxed: they are a charge for late payment, not a supply.
    return Invoice.draft(id=f"{invoice.id}/{suffix}", client=invoice.client,
                         engagement=invoice.engagement, currency=invoice.currency, lines=(line,),
                         tax_rate=None, tax_label=None, trigger="late_fee")


class _Reads(NamedTuple):
    """What escalation rules read: the context roots, and which invoice fields."""

    roots: frozenset[str]
    invoice_fields: tuple[str, ...]


def _escalation_reads(step: Step) -> _Reads:
    """Return what any escalation rule reads (the same for every client)."""
    reads = step.rules.memo.get("escalation reads")
    if reads is None:
        conditions = [rule.when for rule in step.rules.escalation_rules.values()]
        reads = step.rules.memo["escalation reads"] = _Reads(
            condition_roots(conditions), tuple(sorted(condition_fields(conditions, "invoice"))))
    return reads


def _client_rules(step: Step, client: Client) -> tuple[EscalationRule, ...]:
    """Return the escalation rules that apply to the client's invoices, in their order."""
    key = ("escalation rules", client.id)
    rules = step.rules.memo.get(key)
    if rules is None:
        escalation_rules = step.rules.escalation_rules
        rule_ids = (client.escalation_rules if client.escalation_rules is not None
                    else tuple(escalation_rules))
        rules = step.rules.memo[key] = tuple(escalation_rules[rule_id] for rule_id in rule_ids)
    return rules


def _repeat_due(step: Step, rule: EscalationRule, last: date, today: date) -> bool:
    """Tell whether a rule that fired on `last` may fire again today."""
    if rule.repeat is None:
        return False
    # Every invoice the rule fired for on the same day may fire again on the same day.
    key = ("escalation repeat", rule.id, last)
    again = step.rules.memo.get(key)
    if again is None:
        again = step.rules.memo[key] = day_after(last, rule.repeat, step.rules.agency.calendar)
    return today >= again


class _ClientCheck(NamedTuple):
    """What a day's check reads once per client: the client, its rules, its open balance."""

    client: Client
    rules: tuple[EscalationRule, ...]
    open_balance: Decimal | None


def _escalate(step: Step, invoice: Invoice, check: _ClientCheck, reads: _Reads,
              today: date) -> None:
    """Fire the client's escalation rules that may fire today and hold for the invoice."""
    state = step.state
    # What fired for the invoice so far; kept only once something has (most late
    # invoices are paid before any rule fires).
    fired: Mapping[str, tuple[date, int]] = (state.escalations_fired.get(invoice.id)
                                             or _NOTHING_FIRED)
    context = None  # built once, and only if a rule may fire
    for rule in check.rules:
        last = fired.get(rule.id)
        if last is not None and not _repeat_due(step, rule, last[0], today):
            continue
        if context is None:
            client = check.client
            context = condition_context(state, client, client.engagements.get(invoice.engagement),
                                        invoice, today, step.at, check.open_balance, reads.roots,
                                        reads.invoice_fields)
        try:
            if not rule.when.evaluate(context):
                continue
        except ExpressionError:
            continue  # a condition that cannot be evaluated does not fire
        count = 1 if last is None else last[1] + 1
        state.escalations_fired.setdefault(invoice.id, {})[rule.id] = (today, count)
        _fire(step, invoice, check.client, rule, count, today)


_NOTHING_FIRED: Mapping[str, tuple[date, int]] = MappingProxyType({})


def _fire(step: Step, invoice: Invoice, client: Client, rule: EscalationRule, count: int,
          today: date) -> None:
    """Record that a rule fired for an invoice, and draft its late fee if it has one."""
    late_fee = _late_fee(step, invoice, rule, count)
    payload = {"invoice": invoice.as_json(), "rule": rule.id,
               "notify": _notify(step, rule, client),
               "days_overdue": days_overdue(invoice, today)}
    if late_fee is not None:
        payload["late_fee_invoice"] = late_fee.id
    step.emit("escalation.triggered", invoice.id, invoice.client, rule.source, payload,
              rule.id, count)
    if late_fee is not None:
        from engine.billing.drafting import record_draft  # drafting routes through approval
        record_draft(step, late_fee, rule.source, ())


class _DueDates:
    """The open invoices of one state by due date, so that the daily check finds the late
    ones without looking at every open invoice every day.

    It follows the state's open invoices by set difference, at C speed: an invoice is
    indexed when it opens (at issue) and dropped when it closes (paid, voided). An issued
    invoice keeps its due date, so an entry stays true for as long as the invoice is open.
    It is derived from the state alone (and rebuilt for a state loaded from a snapshot):
    the state itself holds nothing more.
    """

    __slots__ = ("seen", "due", "by_due")

    def __init__(self) -> None:
        self.seen: set[str] = set()  # the open ids at the last look
        self.due: dict[str, date] = {}  # the due date of each of them that has one
        self.by_due: list[tuple[date, str]] = []  # (due date, id), in order

    def past_due(self, state: EngineState, today: date) -> list[str]:
        """Return the ids of the open invoices due before `today`, by due date."""
        open_ids, seen, due, by_due = state.open_ids, self.seen, self.due, self.by_due
        # Set differences compare the ids' stored hashes and identities: the strings (and
        # the invoices) of the ids on both sides are not even looked at.
        closed, opened = seen - open_ids, open_ids - seen
        for invoice_id in closed:
            due_date = due.pop(invoice_id, None)
            if due_date is not None:
                del by_due[bisect_left(by_due, (due_date, invoice_id))]
        invoices = state.invoices
        for invoice_id in opened:
            due_date = invoices[invoice_id].due_date
            if due_date is not None:
                due[invoice_id] = due_date
                insort(by_due, (due_date, invoice_id))
        seen -= closed
        seen |= opened
        # (today,) sorts before every (today, id): the invoices before it are due earlier.
        return [invoice_id for _, invoice_id in by_due[:bisect_left(by_due, (today,))]]


# One index per live state, dropped with it.
_DUE_DATES: dict[int, _DueDates] = {}


def _due_dates(state: EngineState) -> _DueDates:
    index = _DUE_DATES.get(id(state))
    if index is None:
        index = _DUE_DATES[id(state)] = _DueDates()
        weakref.finalize(state, _DUE_DATES.pop, id(state), None)
    return index


def _late_invoices(step: Step, today: date) -> list[Invoice]:
    """Return the open invoices escalation looks at today, in id order: past their due date,
    neither disputed nor late fees themselves."""
    state = step.state
    invoices = state.invoices
    disputed = state.disputed
    past_due = _due_dates(state).past_due(state, today)
    late = [invoice for invoice in map(invoices.__getitem__, past_due)
            if invoice.trigger != "late_fee" and invoice.id not in disputed]
    late.sort(key=attrgetter("id"))
    return late


def on_day_timer(step: Step, timer: Timer) -> None:
    """Run the escalation rules over every open invoice at the start of the day."""
    state = step.state
    calendar = step.rules.agency.calendar
    day = calendar.local_date(timer.fire_at)
    next_start = calendar.start_of_day(day + timedelta(days=1))
    if state.open_ids:
        state.timers.arm(next_start, "day", "escalations", key=DAY_TIMER)
    if step.resumed and next_start <= step.at:
        return  # after downtime the check runs once, for today
    today = step.today
    # Escalation is for late invoices: one not yet past due is not looked at.
    late = _late_invoices(step, today)
    if not late:
        return
    reads = _escalation_reads(step)
    # The open balances as the check begins (read only when a rule reads client fields).
    balances = open_balances(state) if "client" in reads.roots else {}
    checks: dict[str, _ClientCheck] = {}
    for invoice in late:
        check = checks.get(invoice.client)
        if check is None:
            client = step.client(invoice.client)
            check = checks[client.id] = _ClientCheck(client, _client_rules(step, client),
                                                     balances.get(client.id))
        _escalate(step, invoice, check, reads, today)
