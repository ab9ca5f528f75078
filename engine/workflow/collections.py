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

from datetime import date, datetime, timedelta
from decimal import Decimal

from engine.core.step import Step
from engine.core.timers import Timer
from engine.model.invoice import Invoice, make_line
from engine.model.money import percent_of
from engine.ruleset.expressions import ExpressionError
from engine.ruleset.types import Client, EscalationRule, ReminderCadence, ReminderStep
from engine.workflow.context import (condition_context, condition_roots, days_overdue,
                                     open_balances)

__all__ = ["on_issued", "on_reminder_timer", "on_day_timer", "stop_collections",
           "reminder_instant", "arm_day_timer"]

DAY_TIMER = "day:escalations"


def reminder_instant(step: Step, cadence: ReminderCadence, reminder: ReminderStep,
                     due: date) -> datetime:
    """Return when a cadence step fires for an invoice due on `due`."""
    calendar = step.rules.agency.calendar
    offset = reminder.offset
    if offset.is_business:
        day = calendar.add_business_days(due, offset.amount)
    else:
        day = due + offset.as_timedelta()
    if cadence.business_days_only:
        day = calendar.next_business_day(day)
    return calendar.at_local(day, cadence.send_at)


def _cadence_steps(step: Step, invoice: Invoice) -> tuple[ReminderCadence, list[tuple[datetime, int]]]:
    """Return the invoice's cadence and its steps' instants, in firing order."""
    client = step.client(invoice.client)
    cadence = step.rules.reminder_cadences[client.reminder_cadence]
    due = invoice.due_date
    assert due is not None
    # Invoices due on the same day share their reminder times: work them out once.
    key = ("reminders", cadence.id, due)
    timed = step.rules.memo.get(key)
    if timed is None:
        timed = sorted((reminder_instant(step, cadence, s, due), i)
                       for i, s in enumerate(cadence.steps))
        step.rules.memo[key] = timed
    return cadence, timed


def _arm_next_reminder(step: Step, invoice: Invoice, after: datetime) -> None:
    """Arm the invoice's first cadence step strictly after `after`, if any is left."""
    _, timed = _cadence_steps(step, invoice)
    for instant, index in timed:
        if instant > after:
            step.state.timers.arm(instant, "reminder", invoice.id, detail=str(index))
            return


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
    _arm_next_reminder(step, invoice, step.at)
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
    later = [instant for instant, _ in timed if instant > timer.fire_at]
    if step.resumed and later and later[0] <= step.at:
        _arm_next_reminder(step, invoice, timer.fire_at)  # a later step is also overdue
        return
    if invoice.id not in state.disputed:
        reminder = cadence.steps[int(timer.detail)]
        step.emit("reminder.sent", invoice.id, invoice.client, cadence.source, {
            "invoice": invoice.as_json(), "step": reminder.id, "template": reminder.template,
            "balance": invoice.as_json()["balance"],
        }, reminder.id)
    _arm_next_reminder(step, invoice, timer.fire_at)


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


def _escalation_roots(step: Step) -> frozenset[str]:
    """Return the context roots any escalation rule reads (the same for every client)."""
    roots = step.rules.memo.get("escalation roots")
    if roots is None:
        roots = step.rules.memo["escalation roots"] = condition_roots(
            rule.when for rule in step.rules.escalation_rules.values())
    return roots


def _escalate(step: Step, invoice: Invoice, client: Client, open_balance: Decimal | None,
              roots: frozenset[str]) -> None:
    from engine.billing.drafting import record_draft  # drafting routes through approval

    state = step.state
    fired = state.escalations_fired.setdefault(invoice.id, {})
    engagement = client.engagements.get(invoice.engagement)
    context = condition_context(state, client, engagement, invoice, step.today, step.at,
                                open_balance, roots)
    rule_ids = client.escalation_rules if client.escalation_rules is not None \
        else tuple(step.rules.escalation_rules)
    for rule_id in rule_ids:
        rule = step.rules.escalation_rules[rule_id]
        last = fired.get(rule_id)
        if last is not None and not _repeat_due(step, rule, last[0]):
            continue
        try:
            if not rule.when.evaluate(context):
                continue
        except ExpressionError:
            continue  # a condition that cannot be evaluated does not fire
        count = 1 if last is None else last[1] + 1
        fired[rule_id] = (step.today, count)
        late_fee = _late_fee(step, invoice, rule, count)
        payload = {"invoice": invoice.as_json(), "rule": rule.id,
                   "notify": _notify(step, rule, client),
                   "days_overdue": days_overdue(invoice, step.today)}
        if late_fee is not None:
            payload["late_fee_invoice"] = late_fee.id
        step.emit("escalation.triggered", invoice.id, invoice.client, rule.source, payload,
                  rule.id, count)
        if late_fee is not None:
            record_draft(step, late_fee, rule.source, ())


def _repeat_due(step: Step, rule: EscalationRule, last: date) -> bool:
    """Tell whether a rule that fired on `last` may fire again today."""
    if rule.repeat is None:
        return False
    if rule.repeat.is_business:
        again = step.rules.agency.calendar.add_business_days(last, rule.repeat.amount)
    else:
        again = last + rule.repeat.as_timedelta()
    return step.today >= again


def on_day_timer(step: Step, timer: Timer) -> None:
    """Run the escalation rules over every open invoice at the start of the day."""
    state = step.state
    calendar = step.rules.agency.calendar
    day = calendar.local_date(timer.fire_at)
    next_start = calendar.start_of_day(day + timedelta(days=1))
    open_invoices = state.open_invoices()
    if open_invoices:
        state.timers.arm(next_start, "day", "escalations", key=DAY_TIMER)
    if step.resumed and next_start <= step.at:
        return  # after downtime the check runs once, for today
    today = step.today
    roots = _escalation_roots(step)
    # The open balances as the check begins (read only when a rule reads client fields).
    balances = open_balances(state) if "client" in roots else {}
    for invoice in open_invoices:
        # Escalation is for late invoices: one not yet past due is not looked at.
        if (invoice.due_date is None or invoice.due_date >= today
                or invoice.id in state.disputed or invoice.trigger == "late_fee"):
            continue
        _escalate(step, invoice, step.client(invoice.client), balances.get(invoice.client),
                  roots)
