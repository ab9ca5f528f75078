"""What the approval page shows: the draft as the client will see it, the hours behind it,
and what the approver should check first. Built from the approval request in the store.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from connectors.documents import InvoiceSheet, invoice_sheet
from engine.model.money import display_money, round_money
from engine.ruleset.types import RuleSet

__all__ = ["ApprovalView", "TimeRow", "ExpenseRow", "approval_view", "warning_text"]


@dataclass(frozen=True)
class TimeRow:
    """One time entry behind the draft: who, when, how long, at what rate."""

    person: str
    role: str
    day: date
    project: str
    task: str
    hours: Decimal
    billed_hours: Decimal
    rate: Decimal
    amount: Decimal


@dataclass(frozen=True)
class ExpenseRow:
    day: date
    project: str
    description: str
    amount: Decimal


@dataclass(frozen=True)
class ApprovalView:
    """Everything on the approval page, formatted by the template."""

    invoice_id: str
    revision: int
    client_name: str
    approver_name: str
    currency: str
    total: Decimal
    sheet: InvoiceSheet
    warnings: tuple[str, ...]
    time: tuple[TimeRow, ...]
    expenses: tuple[ExpenseRow, ...]
    hours: Decimal
    billed_hours: Decimal
    time_amount: Decimal
    expense_amount: Decimal
    requested_at: str


def warning_text(code: str, invoice: Mapping[str, Any], rules: RuleSet) -> str:
    """Say what a draft's warning means, for the approver."""
    if code == "over_cap":
        client = rules.clients.get(str(invoice["client"]))
        engagement = client.engagements.get(str(invoice.get("engagement"))) if client else None
        cap = getattr(engagement, "cap", None)
        limit = f" of {display_money(cap, str(invoice['currency']))} {invoice['currency']}" \
            if cap is not None else ""
        return f"Over the engagement's cap{limit}: check the hours before approving."
    if code == "first_invoice":
        return "The first invoice to this client: check the billing contact and the terms."
    if code.startswith("condition_failed:"):
        return ("An approval-route condition could not be evaluated, so a person must "
                f"approve: {code.split(':', 1)[1].strip()}")
    return code


def _money(value: Any) -> Decimal:
    return Decimal(str(value))


def approval_view(request_action: Mapping[str, Any], rules: RuleSet) -> ApprovalView:
    """Build the page's view from an `approval.requested` action's JSON object."""
    payload = request_action["payload"]
    invoice = payload["invoice"]
    currency = str(invoice["currency"])
    client = rules.clients[str(invoice["client"])]
    people = rules.agency.people
    approver = people.get(str(payload["approver"]))
    supporting = payload.get("supporting") or {}
    time_rows = []
    for entry in supporting.get("time") or ():
        person = people.get(str(entry.get("person")))
        billed = _money(entry.get("billed_hours", entry.get("hours", "0")))
        rate = _money(entry.get("rate", "0"))
        time_rows.append(TimeRow(
            person=person.name if person else str(entry.get("person", "")),
            role=str(entry.get("role", "")), day=date.fromisoformat(entry["date"]),
            project=str(entry.get("project", "")),
            task=str(entry.get("task") or entry.get("description") or ""),
            hours=_money(entry.get("hours", "0")), billed_hours=billed, rate=rate,
            amount=round_money(billed * rate, currency)))
    expense_rows = [ExpenseRow(date.fromisoformat(e["date"]), str(e.get("project", "")),
                               str(e.get("description", "")), _money(e.get("amount", "0")))
                    for e in supporting.get("expenses") or ()]
    codes = list(dict.fromkeys([*(payload.get("warnings") or ()),
                                *(invoice.get("warnings") or ())]))
    revision = int(str(request_action["id"]).rsplit(":r", 1)[-1])
    return ApprovalView(
        invoice_id=str(invoice["id"]), revision=revision, client_name=client.name,
        approver_name=approver.name if approver else str(payload["approver"]),
        currency=currency, total=_money(invoice["total"]),
        sheet=invoice_sheet(invoice, client, rules.agency),
        warnings=tuple(warning_text(code, invoice, rules) for code in codes),
        time=tuple(sorted(time_rows, key=lambda r: (r.day, r.person))),
        expenses=tuple(sorted(expense_rows, key=lambda r: r.day)),
        hours=sum((r.hours for r in time_rows), Decimal(0)),
        billed_hours=sum((r.billed_hours for r in time_rows), Decimal(0)),
        time_amount=sum((r.amount for r in time_rows), Decimal(0)),
        expense_amount=sum((r.amount for r in expense_rows), Decimal(0)),
        requested_at=str(request_action["at"]))
