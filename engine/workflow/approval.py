"""Approval: route each draft to one approver (or auto-approve it), then act on the answer.

- The client's route decides: its rules are tried in order and the first whose `when`
  holds wins; `approver` may be a person or a client role (`account_lead`).
- `remind_after` / `escalate_after` run from the moment approval was requested; an
  approval or a flag stops them.
- `invoice.flagged` sends the draft back to its author (the client's account lead) with
  the comment; `invoice.adjusted` edits a flagged draft, which then returns for approval
  as a new revision.
"""

from __future__ import annotations

import functools
from datetime import date
from decimal import Decimal

from engine.billing.time_materials import OVER_CAP, entry_rate, rounded_hours
from engine.core.state import ApprovalWait, Billable
from engine.core.step import Step
from engine.core.timers import Timer
from engine.errors import EventError
from engine.model.events import Event, InvoiceAdjusted, InvoiceApproved, InvoiceFlagged
from engine.model.invoice import Invoice, make_line
from engine.ruleset.context import CLIENT_ROLES
from engine.ruleset.expressions import ExpressionError
from engine.ruleset.types import ApprovalRoute, Client, RouteRule, TimeAndMaterials
from engine.workflow.context import condition_context, condition_roots
from engine.workflow.issue import issue_invoice
from engine.workflow.timing import after

# Warnings a person must see: a draft carrying one is never auto-approved.
HOLDING_WARNINGS = frozenset({OVER_CAP})

__all__ = ["submit_for_approval", "approve", "flag", "adjust", "on_approval_timer",
           "resolve_person", "supporting_json"]


def resolve_person(reference: str | None, client: Client) -> str | None:
    """Turn a client role (`account_lead`) into that client's person; keep person ids."""
    if reference in CLIENT_ROLES:
        return client.account_lead
    return reference


def supporting_json(step: Step, invoice_id: str) -> dict[str, list[dict[str, str]]]:
    """Return the time entries and expenses behind an invoice, as approvers see them."""
    invoice = step.state.invoices[invoice_id]
    engagement = step.client(invoice.client).engagements.get(invoice.engagement)
    time_rows: list[dict[str, str]] = []
    expense_rows: list[dict[str, str]] = []
    # An invoice's entries share a few dates, people and roles: each date, and the rate of
    # each person and role (by date only when the engagement has revisions), is written
    # out once.
    dates: dict[date, str] = {}
    rates: dict[tuple[date | None, str | None, str | None], tuple[str, int]] = {}
    revised = engagement is not None and bool(engagement.revisions)
    for item in step.state.supporting.get(invoice_id, ()):
        key, event, kind, day, project, person, role, task, hours, amount, description, _ = item
        shown_day = dates.get(day)
        if shown_day is None:
            shown_day = dates[day] = day.isoformat()
        if kind == "expense":
            row = {"event": event, "date": shown_day, "project": project, "source_id": key,
                   "description": description, "amount": f"{amount}"}
            if key == event:
                del row["source_id"]
            expense_rows.append(row)
            continue
        who = (day if revised else None, person, role)
        pricing = rates.get(who)
        if pricing is None:
            # Time entries are billed only on time-and-materials engagements.
            assert isinstance(engagement, TimeAndMaterials)
            pricing = rates[who] = _rate_shown(engagement, item)
        shown_hours, billed_hours = _hours_shown(hours, pricing[1])
        # A row is written whole, then a value it does not have is left out (the others
        # keep their order): one dict of the right size instead of one grown key by key.
        row = {"event": event, "date": shown_day, "project": project, "source_id": key,
               "person": person, "role": role, "task": task, "hours": shown_hours,
               "billed_hours": billed_hours, "rate": pricing[0]}
        if key == event:
            del row["source_id"]
        if person is None:
            del row["person"]
        if role is None:
            del row["role"]
        if task is None:
            del row["task"]
        if description:
            row["description"] = description
        time_rows.append(row)
    return {"time": time_rows, "expenses": expense_rows}


def _rate_shown(engagement: TimeAndMaterials, entry: Billable) -> tuple[str, int]:
    """Return a time entry's rate as shown, and the increment its hours are rounded up to."""
    terms = engagement.in_force(entry.date)
    assert isinstance(terms, TimeAndMaterials)
    return f"{entry_rate(terms, entry.person, entry.role)}", terms.increment_minutes


@functools.lru_cache(maxsize=4096)  # the same few hour values recur in every timesheet
def _hours_shown(hours: Decimal, increment_minutes: int) -> tuple[str, str]:
    """Return an entry's hours and billed hours as shown (equal values show alike)."""
    billed = rounded_hours(hours, increment_minutes)
    return f"{hours.normalize():f}", f"{billed.normalize():f}"


def _choose(step: Step, route: ApprovalRoute, client: Client,
            invoice: Invoice) -> tuple[RouteRule, tuple[str, ...]]:
    engagement = client.engagements.get(invoice.engagement)
    key = ("route roots", route.id)
    roots = step.rules.memo.get(key)
    if roots is None:
        roots = step.rules.memo[key] = condition_roots(rule.when for rule in route.rules)
    context = condition_context(step.state, client, engagement, invoice, step.today, step.at,
                                roots=roots)
    problems: list[str] = []
    for rule in route.rules:
        if rule.when is None:
            return rule, tuple(problems)
        try:
            if rule.when.evaluate(context):
                return rule, tuple(problems)
        except ExpressionError as exc:
            # A condition that cannot be evaluated does not match; the approver is told.
            problems.append(f"condition_failed: {rule.source}: {exc.message}")
    return route.rules[-1], tuple(problems)


def submit_for_approval(step: Step, invoice: Invoice,
                        supporting: dict[str, list[dict[str, str]]] | None = None, *,
                        reviewer: str | None = None) -> None:
    """Route a draft: issue it if auto-approved, else ask its approver and start the timers.

    An edited draft (`reviewer` = who flagged it), a draft over its cap and one whose
    route condition failed are never auto-approved: a person must see them. When the route
    would auto-approve, the person who asked for the edit (else the account lead) approves.
    """
    client = step.client(invoice.client)
    route = step.rules.approval_routes[client.approval_route]
    rule, problems = _choose(step, route, client, invoice)
    if problems:
        invoice = invoice.replace(warnings=invoice.warnings + problems)
    held = reviewer is not None or any(w in HOLDING_WARNINGS or w.startswith("condition_failed")
                                       for w in invoice.warnings)
    if rule.auto_approve and not held:
        issue_invoice(step, invoice)
        return
    if rule.auto_approve:  # held back: edited, or a condition could not be evaluated
        approver = reviewer or client.account_lead
    else:
        approver = resolve_person(rule.approver, client) or client.account_lead
    waiting = invoice.replace(status="awaiting_approval")
    state = step.state
    state.put_invoice(waiting)
    state.awaiting[waiting.id] = ApprovalWait(
        approver=approver, requested_at=step.at, revision=waiting.revision, route=route.id,
        escalate_to=resolve_person(route.escalate_to, client))
    step.emit("approval.requested", waiting.id, waiting.client, rule.source, {
        "invoice": waiting.as_json(), "approver": approver,
        "warnings": list(waiting.warnings),
        "supporting": supporting if supporting is not None else supporting_json(step, waiting.id),
    }, f"r{waiting.revision}")
    calendar = step.rules.agency.calendar
    for detail, duration in (("remind", route.remind_after), ("escalate", route.escalate_after)):
        if duration is not None:
            state.timers.arm(after(step.at, duration, calendar), "approval", waiting.id,
                             key=f"approval:{detail}:{waiting.id}", detail=detail)


def _waiting(step: Step, event: Event, invoice_id: str) -> tuple[Invoice, ApprovalWait]:
    invoice = step.state.invoices.get(invoice_id)
    if invoice is None:
        raise EventError(event.origin, None, f"unknown invoice '{invoice_id}'")
    wait = step.state.awaiting.get(invoice_id)
    if invoice.status != "awaiting_approval" or wait is None:
        raise EventError(event.origin, None, f"invoice '{invoice_id}' is {invoice.status}, "
                                             "not awaiting approval")
    return invoice, wait


def _check_approver(step: Step, event: Event, wait: ApprovalWait, person: str) -> None:
    agency = step.rules.agency
    if person not in agency.people:
        raise EventError(event.origin, None, f"unknown person '{person}'")
    finance = {p.id for p in agency.people_with_role("finance")}
    if person not in {wait.approver, wait.escalate_to} | finance:
        raise EventError(event.origin, None, f"'{person}' may not approve this invoice: it waits "
                                             f"on {wait.approver}")


def _stop_timers(step: Step, invoice_id: str) -> None:
    for detail in ("remind", "escalate"):
        step.state.timers.cancel(f"approval:{detail}:{invoice_id}")


def approve(step: Step, event: Event) -> None:
    """Approve a waiting draft and issue it."""
    payload: InvoiceApproved = event.payload
    invoice, wait = _waiting(step, event, payload.invoice)
    _check_approver(step, event, wait, payload.by)
    _stop_timers(step, invoice.id)
    issue_invoice(step, invoice)


def flag(step: Step, event: Event) -> None:
    """Send a waiting draft back to its author for edits, with the approver's comment."""
    payload: InvoiceFlagged = event.payload
    invoice, wait = _waiting(step, event, payload.invoice)
    _check_approver(step, event, wait, payload.by)
    _stop_timers(step, invoice.id)
    client = step.client(invoice.client)
    flagged = invoice.replace(status="flagged")
    step.state.put_invoice(flagged)
    step.state.awaiting.pop(flagged.id, None)
    step.state.flagged_by[flagged.id] = payload.by
    step.emit("invoice.flagged", flagged.id, flagged.client, client.source, {
        "invoice": flagged.as_json(), "by": payload.by, "comment": payload.comment,
        "author": client.account_lead,
    }, f"r{flagged.revision}")


def adjust(step: Step, event: Event) -> None:
    """Apply an edit to a flagged draft and send it back for approval."""
    payload: InvoiceAdjusted = event.payload
    invoice = step.state.invoices.get(payload.invoice)
    if invoice is None:
        raise EventError(event.origin, None, f"unknown invoice '{payload.invoice}'")
    if invoice.status != "flagged":
        raise EventError(event.origin, None, f"invoice '{invoice.id}' is {invoice.status}; only "
                                             "a flagged draft can be adjusted")
    if payload.by not in step.rules.agency.people:
        raise EventError(event.origin, None, f"unknown person '{payload.by}'")
    kept_lines = list(invoice.lines)
    for text in payload.lines_remove:  # each entry removes one line with that description
        match = next((line for line in kept_lines if line.description == text), None)
        if match is None:
            raise EventError(event.origin, None, f"invoice '{invoice.id}' has no line "
                                                 f"'{text}' to remove")
        kept_lines.remove(match)
    kept = tuple(kept_lines)
    added = tuple(make_line(line.description, line.quantity, line.unit_price, invoice.currency)
                  for line in payload.lines_add)
    lines = kept + added
    if not lines or sum((line.amount for line in lines), Decimal(0)) <= 0:
        raise EventError(event.origin, None, "the adjusted invoice would bill nothing; void it "
                                             "instead")
    reviewer = step.state.flagged_by.pop(invoice.id, None)
    submit_for_approval(step, invoice.with_lines(lines).replace(status="draft"),
                        reviewer=reviewer or payload.by)


def on_approval_timer(step: Step, timer: Timer) -> None:
    """Nudge the approver after `remind_after`; bring in `escalate_to` after `escalate_after`."""
    state = step.state
    wait = state.awaiting.get(timer.subject)
    invoice = state.invoices.get(timer.subject)
    if wait is None or invoice is None or invoice.status != "awaiting_approval":
        return
    if step.resumed and timer.detail == "remind":
        escalation = state.timers.get(f"approval:escalate:{invoice.id}")
        if escalation is not None and escalation.fire_at <= step.at:
            return  # after downtime only the latest missed step goes out
    client = step.client(invoice.client)
    route = step.rules.approval_routes.get(wait.route)
    rule = route.source if route else client.source
    if timer.detail == "remind":
        state.awaiting[invoice.id] = wait._replace(reminded=True)
        step.emit("approval.reminded", invoice.id, invoice.client, rule, {
            "invoice": invoice.as_json(), "approver": wait.approver,
        }, f"r{wait.revision}")
        return
    state.awaiting[invoice.id] = wait._replace(escalated=True)
    step.emit("approval.escalated", invoice.id, invoice.client, rule, {
        "invoice": invoice.as_json(), "approver": wait.approver,
        "escalate_to": wait.escalate_to,
    }, f"r{wait.revision}")
