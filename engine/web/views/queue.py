"""The finance queue: what the automation could not decide, in one place.

- payments no rule could match safely (`payment.unmatched`), each with the open invoices
  and the clients a person may assign it to;
- deliveries the dispatcher gave up on (dead letters), to retry;
- rule reloads that failed: the newest rule files are broken and the last good set is in
  force (every failed load since the last good one, with its errors);
- drafts waiting on an approver past the route's `remind_after` (or `escalate_after` when
  the route sets no reminder).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

from engine.reports.render import hours
from engine.runtime.store import Delivery, RulesRecord
from engine.web.views.clients import person_name
from engine.web.views.history import History
from engine.web.views.money import Money
from engine.workflow.timing import after

__all__ = ["AssignChoice", "UnmatchedPayment", "DeadLetter", "RulesProblem", "LateApproval",
           "FinanceQueue", "finance_queue", "unmatched_payment"]

_RULE_LOADS_SHOWN = 20


@dataclass(frozen=True)
class AssignChoice:
    """An open invoice a payment could be assigned to."""

    invoice: str
    number: str | None
    client: str
    client_name: str
    balance: Money
    due_date: date | None


@dataclass(frozen=True)
class UnmatchedPayment:
    """A payment waiting for a person to say whose it is."""

    id: str
    amount: Money
    date: date
    reference: str | None
    payer: str | None
    client: str | None
    received_at: datetime
    reason: str
    invoices: tuple[AssignChoice, ...]  # open invoices in the payment's currency
    clients: tuple[tuple[str, str], ...]  # (client id, name) of every client


@dataclass(frozen=True)
class DeadLetter:
    """A delivery the dispatcher gave up on."""

    action: str
    type: str
    client: str | None
    connector: str
    attempts: int
    error: str | None


@dataclass(frozen=True)
class RulesProblem:
    """A load of the rule folder that failed, while the last good rules stay in force."""

    loaded_at: datetime
    source: str
    errors: tuple[str, ...]


@dataclass(frozen=True)
class LateApproval:
    """A draft waiting on its approver longer than its route allows."""

    invoice: str
    client: str
    client_name: str
    total: Money
    approver: str
    approver_name: str
    since: datetime
    due_by: datetime
    waiting_hours: Decimal
    late_by_hours: Decimal
    escalated: bool
    escalate_to: str | None


@dataclass(frozen=True)
class FinanceQueue:
    """Everything waiting on finance."""

    unmatched: tuple[UnmatchedPayment, ...]
    dead_letters: tuple[DeadLetter, ...]
    rules_version: str | None
    rules_problems: tuple[RulesProblem, ...]
    late_approvals: tuple[LateApproval, ...]

    @property
    def degraded(self) -> bool:
        """True while the newest rule files fail to load."""
        return bool(self.rules_problems)

    @property
    def size(self) -> int:
        return (len(self.unmatched) + len(self.dead_letters) + len(self.rules_problems)
                + len(self.late_approvals))


def _choices(history: History, currency: str) -> tuple[AssignChoice, ...]:
    if history.state is None:
        return ()
    clients = history.rules.clients
    return tuple(
        AssignChoice(inv.id, inv.number, inv.client,
                     clients[inv.client].name if inv.client in clients else inv.client,
                     Money(inv.balance, inv.currency), inv.due_date)
        for inv in sorted(history.state.open_invoices(),
                          key=lambda inv: (inv.client, inv.due_date or date.min, inv.id))
        if inv.currency == currency)


def _unmatched(history: History) -> tuple[UnmatchedPayment, ...]:
    if history.state is None:
        return ()
    clients = tuple(sorted(((c.id, c.name) for c in history.rules.clients.values()),
                           key=lambda pair: (pair[1].casefold(), pair[0])))
    found = []
    for payment in sorted(history.state.unmatched.values(), key=lambda p: (p.at, p.id)):
        found.append(UnmatchedPayment(
            payment.id, Money(payment.amount, payment.currency), payment.date,
            payment.reference, payment.payer, payment.client, payment.at,
            history.unmatched_reasons.get(payment.id, ""),
            _choices(history, payment.currency), clients))
    return tuple(found)


def unmatched_payment(history: History, payment_id: str) -> UnmatchedPayment | None:
    """Return the unmatched payment `payment_id`, or None when none is waiting."""
    return next((p for p in _unmatched(history) if p.id == payment_id), None)


def _dead(row: Delivery) -> DeadLetter:
    action = json.loads(row.action_json)
    return DeadLetter(row.action_id, action["type"], action.get("client"), row.connector,
                      row.attempts, row.last_error)


def _rules_problems(loads: list[RulesRecord]) -> tuple[RulesProblem, ...]:
    """Return the failed loads since the last good one (none when the newest load is good)."""
    problems = []
    for load in loads:  # newest first
        if load.ok:
            break
        problems.append(RulesProblem(load.loaded_at, load.source, load.errors))
    return tuple(problems)


def _late_approvals(history: History) -> tuple[LateApproval, ...]:
    state, rules = history.state, history.rules
    if state is None:
        return ()
    found = []
    for invoice_id, wait in state.awaiting.items():
        route = rules.approval_routes.get(wait.route)
        sla = route and (route.remind_after or route.escalate_after)
        if not sla:
            continue
        due_by = after(wait.requested_at, sla, rules.agency.calendar)
        if history.now <= due_by:
            continue
        invoice = state.invoices[invoice_id]
        client = rules.clients.get(invoice.client)
        found.append(LateApproval(
            invoice_id, invoice.client, client.name if client else invoice.client,
            Money(invoice.total, invoice.currency), wait.approver,
            person_name(rules, wait.approver), wait.requested_at, due_by,
            hours(history.now - wait.requested_at) or Decimal(0),
            hours(history.now - due_by) or Decimal(0), wait.escalated, wait.escalate_to))
    found.sort(key=lambda item: (item.since, item.invoice))
    return tuple(found)


def finance_queue(history: History) -> FinanceQueue:
    """Gather what waits on finance from the store."""
    store = history.store
    good = store.last_good_rules()
    dead = tuple(_dead(row) for row in store.dead_letters())
    return FinanceQueue(_unmatched(history), dead, good.version if good else None,
                        _rules_problems(store.rules_history(_RULE_LOADS_SHOWN)),
                        _late_approvals(history))
