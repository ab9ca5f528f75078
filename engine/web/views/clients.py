"""Billing status per client: what an account manager would otherwise e-mail finance about.

Per client: drafts (and drafts flagged back for edits), drafts awaiting approval (with
whom, since when), issued invoices not yet due, overdue invoices with the reminders and
escalations sent about them, paid invoices, unapplied credit, and the aging buckets of
SPEC §7. Where an invoice stands comes from the engine's state snapshot; aging and credit
from the ledger of the action log, as `billflow report aging` computes them.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from engine.model.invoice import Invoice
from engine.reports.aging import BUCKETS, AgingRow, aging_report
from engine.reports.render import hours
from engine.ruleset.types import Client, RuleSet
from engine.web.views.history import History
from engine.web.views.money import Money

__all__ = ["InvoiceSummary", "FollowUp", "PendingApproval", "OverdueInvoice", "AgingBuckets",
           "ClientStatus", "client_status", "client_statuses", "person_name"]

_DRAFTING = ("draft", "flagged")


def person_name(rules: RuleSet, person: str | None) -> str:
    """Return a person's name from the Agency, or the id when the rules no longer name them."""
    if not person:
        return ""
    found = rules.agency.people.get(person)
    return found.name if found is not None else person


@dataclass(frozen=True)
class InvoiceSummary:
    """One invoice as the status page lists it."""

    id: str
    number: str | None
    engagement: str
    status: str
    total: Money
    balance: Money
    issue_date: date | None
    due_date: date | None
    period_start: date | None
    period_end: date | None
    paid_on: date | None = None
    disputed: bool = False


@dataclass(frozen=True)
class FollowUp:
    """A reminder or an escalation sent about an invoice."""

    at: datetime
    kind: str  # "reminder" | "escalation"
    detail: str  # the cadence step ("+7d") or the escalation rule ("over-30")
    balance: Money | None


@dataclass(frozen=True)
class PendingApproval:
    """A draft waiting on a person."""

    invoice: InvoiceSummary
    approver: str
    approver_name: str
    since: datetime
    waiting_hours: Decimal
    reminded: bool
    escalated: bool
    escalate_to: str | None


@dataclass(frozen=True)
class OverdueInvoice:
    """An issued invoice past its due date, and how it has been chased."""

    invoice: InvoiceSummary
    days_overdue: int
    follow_ups: tuple[FollowUp, ...]


@dataclass(frozen=True)
class AgingBuckets:
    """Open balances in one currency: current, 1-30, 31-60, 61-90, 90+ days past due."""

    currency: str
    buckets: tuple[Money, ...]
    total: Money
    credit: Money
    invoices: int

    @property
    def labelled(self) -> tuple[tuple[str, Money], ...]:
        return tuple(zip(BUCKETS, self.buckets))


@dataclass(frozen=True)
class ClientStatus:
    """Everything about one client's billing that an account manager asks finance about."""

    id: str
    name: str
    account_lead: str
    account_lead_name: str
    currency: str
    drafts: tuple[InvoiceSummary, ...]
    awaiting: tuple[PendingApproval, ...]
    issued: tuple[InvoiceSummary, ...]
    overdue: tuple[OverdueInvoice, ...]
    paid: tuple[InvoiceSummary, ...]
    credit: tuple[Money, ...]
    aging: tuple[AgingBuckets, ...]

    @property
    def outstanding(self) -> tuple[Money, ...]:
        """What the client owes, per currency (issued and overdue balances)."""
        return tuple(row.total for row in self.aging if row.total.amount > 0)

    @property
    def overdue_total(self) -> tuple[Money, ...]:
        totals: dict[str, Decimal] = {}
        for item in self.overdue:
            balance = item.invoice.balance
            totals[balance.currency] = totals.get(balance.currency, Decimal(0)) + balance.amount
        return tuple(Money(amount, currency) for currency, amount in sorted(totals.items()))


def _summary(invoice: Invoice, history: History, disputed: bool) -> InvoiceSummary:
    paid_on = None
    if invoice.status == "paid":
        record = history.ledger.get(invoice.id)
        paid_on = record.paid_in_full_on() if record is not None else None
    return InvoiceSummary(
        invoice.id, invoice.number, invoice.engagement, invoice.status,
        Money(invoice.total, invoice.currency), Money(invoice.balance, invoice.currency),
        invoice.issue_date, invoice.due_date, invoice.period_start, invoice.period_end,
        paid_on, disputed)


def _follow_up(action: Mapping[str, Any]) -> FollowUp:
    payload = action["payload"]
    currency = payload["invoice"]["currency"]
    if action["type"] == "reminder.sent":
        balance = payload.get("balance")
        return FollowUp(datetime.fromisoformat(action["at"]), "reminder",
                        str(payload.get("step", "")),
                        Money(Decimal(balance), currency) if balance is not None else None)
    return FollowUp(datetime.fromisoformat(action["at"]), "escalation",
                    str(payload.get("rule", "")),
                    Money(Decimal(payload["invoice"]["balance"]), currency))


def _buckets(row: AgingRow) -> AgingBuckets:
    return AgingBuckets(row.currency, tuple(Money(amount, row.currency) for amount in row.buckets),
                        Money(row.total, row.currency), Money(row.credit, row.currency),
                        row.invoices)


def _aging_by_client(history: History) -> dict[str, tuple[AgingBuckets, ...]]:
    report = aging_report(history.ledger, history.today)
    found: dict[str, list[AgingBuckets]] = {}
    for row in report.rows:
        found.setdefault(row.client, []).append(_buckets(row))
    return {client: tuple(rows) for client, rows in found.items()}


def _status(client: Client, history: History,
            aging: Mapping[str, tuple[AgingBuckets, ...]]) -> ClientStatus:
    rules, state, today = history.rules, history.state, history.today
    drafts: list[InvoiceSummary] = []
    awaiting: list[PendingApproval] = []
    issued: list[InvoiceSummary] = []
    overdue: list[OverdueInvoice] = []
    paid: list[InvoiceSummary] = []
    invoices = state.client_invoices(client.id) if state is not None else []
    for invoice in invoices:
        summary = _summary(invoice, history, state is not None and invoice.id in state.disputed)
        wait = state.awaiting.get(invoice.id) if state is not None else None
        if wait is not None:
            awaiting.append(PendingApproval(
                summary, wait.approver, person_name(rules, wait.approver), wait.requested_at,
                hours(history.now - wait.requested_at) or Decimal(0), wait.reminded,
                wait.escalated, wait.escalate_to))
        elif invoice.status in _DRAFTING or invoice.status == "awaiting_approval":
            drafts.append(summary)
        elif invoice.status == "issued":
            if invoice.due_date is not None and invoice.due_date < today:
                chased = tuple(_follow_up(a) for a in history.follow_ups.get(invoice.id, ()))
                overdue.append(OverdueInvoice(summary, (today - invoice.due_date).days, chased))
            else:
                issued.append(summary)
        elif invoice.status == "paid":
            paid.append(summary)
    rows = aging.get(client.id, ())
    credit = tuple(row.credit for row in rows if row.credit.amount != 0)
    overdue.sort(key=lambda item: (-item.days_overdue, item.invoice.id))
    paid.reverse()  # the latest first
    return ClientStatus(client.id, client.name, client.account_lead,
                        person_name(rules, client.account_lead), client.currency,
                        tuple(drafts), tuple(awaiting), tuple(issued), tuple(overdue),
                        tuple(paid), credit, rows)


def client_statuses(history: History, client_ids: Iterable[str]) -> list[ClientStatus]:
    """Return the status of each of `client_ids` the rules know, by client name."""
    aging = _aging_by_client(history)
    clients = [history.rules.clients[cid] for cid in client_ids if cid in history.rules.clients]
    return [_status(client, history, aging)
            for client in sorted(clients, key=lambda c: (c.name.casefold(), c.id))]


def client_status(history: History, client_id: str) -> ClientStatus | None:
    """Return one client's status, or None when the rules do not know the client."""
    found = client_statuses(history, [client_id])
    return found[0] if found else None
