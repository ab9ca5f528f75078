"""The values conditions and templates see: invoice, client, engagement, payment fields.

One builder per root, each reading the catalog's field names (`vocabulary`), so a route's
`invoice.total >= 25000` and an escalation's `invoice.days_overdue > 30` read the same
values the messages print.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from collections.abc import Collection, Iterable
from typing import Any

from engine.core.state import EngineState
from engine.model.invoice import Invoice
from engine.ruleset.expressions import Condition
from engine.ruleset.types import Client, Engagement
from engine.ruleset.vocabulary import CONDITION_ROOTS

__all__ = ["invoice_fields", "client_fields", "engagement_fields", "condition_context",
           "condition_roots", "condition_fields", "days_overdue", "open_balances"]


def days_overdue(invoice: Invoice, today: date) -> int:
    """Return today − due date in days (negative before it is due; 0 without a due date)."""
    return (today - invoice.due_date).days if invoice.due_date else 0


def invoice_fields(invoice: Invoice, today: date, is_first: bool,
                   names: Collection[str] | None = None) -> dict[str, Any]:
    """Return the invoice's fields on `today`; with `names`, only those fields."""
    if names is not None:
        fields: dict[str, Any] = {}
        # A plain loop: a comprehension is a call of its own, and this runs for a name or
        # two of every late invoice every day.
        for name in names:
            fields[name] = _invoice_field(invoice, name, today, is_first)
        return fields
    return {
        "id": invoice.id, "number": invoice.number, "status": invoice.status,
        "client": invoice.client, "engagement": invoice.engagement, "currency": invoice.currency,
        "subtotal": invoice.subtotal, "tax": invoice.tax, "total": invoice.total,
        "balance": invoice.balance, "issue_date": invoice.issue_date,
        "due_date": invoice.due_date, "days_overdue": days_overdue(invoice, today),
        "period_start": invoice.period_start, "period_end": invoice.period_end,
        "trigger": invoice.trigger, "line_count": len(invoice.lines), "is_first": is_first,
        "warnings": list(invoice.warnings),
    }


# The invoice fields that are the invoice's own attributes, under the same names.
_INVOICE_ATTRIBUTES = CONDITION_ROOTS["invoice"] - {"days_overdue", "line_count", "is_first",
                                                    "warnings"}


def _invoice_field(invoice: Invoice, name: str, today: date, is_first: bool) -> Any:
    """Return one of the fields `invoice_fields` returns, or None for a name it lacks."""
    if name in _INVOICE_ATTRIBUTES:
        return getattr(invoice, name)
    if name == "days_overdue":
        return days_overdue(invoice, today)
    if name == "line_count":
        return len(invoice.lines)
    if name == "is_first":
        return is_first
    if name == "warnings":
        return list(invoice.warnings)
    return None


def client_fields(client: Client, open_balance: Decimal) -> dict[str, Any]:
    return {
        "id": client.id, "name": client.name, "currency": client.currency,
        "account_lead": client.account_lead, "payment_terms": str(client.payment_terms),
        "tax_rate": client.tax.rate if client.tax.rate is not None else Decimal(0),
        "tax_exempt": client.tax.exempt, "open_balance": open_balance,
    }


def engagement_fields(engagement: Engagement) -> dict[str, Any]:
    return {
        "id": engagement.id, "model": engagement.model,
        "amount": getattr(engagement, "amount", None), "fee": getattr(engagement, "fee", None),
        "cap": getattr(engagement, "cap", None),
        "included_hours": getattr(engagement, "included_hours", None),
        "overage_rate": getattr(engagement, "overage_rate", None),
        "cadence": getattr(engagement, "cadence", None),
    }


def _open_balance(state: EngineState, client_id: str) -> Decimal:
    return sum((inv.balance for inv in state.client_invoices(client_id) if inv.is_open),
               Decimal(0))


def open_balances(state: EngineState) -> dict[str, Decimal]:
    """Return every client's open balance, in one pass over the open invoices."""
    balances: dict[str, Decimal] = {}
    for invoice in state.open_invoices():
        balances[invoice.client] = balances.get(invoice.client, Decimal(0)) + invoice.balance
    return balances


def condition_roots(conditions: Iterable[Condition | None]) -> frozenset[str]:
    """Return the context roots (`invoice`, `client`, ...) that any of `conditions` reads.

    A context built with only these roots gives every one of the conditions exactly the
    values a whole context would: a condition can read nothing outside its own names.
    """
    roots: set[str] = set()
    for condition in conditions:
        if condition is not None:
            roots.update(name.split(".", 1)[0] for name in condition.names)
    return frozenset(roots)


def condition_fields(conditions: Iterable[Condition | None], root: str) -> frozenset[str]:
    """Return the fields of `root` that any of `conditions` reads (`invoice` -> `total`, ...).

    Like roots, a field no condition names is never read: conditions read a field only by
    naming it (`invoice.total`), never a whole root.
    """
    prefix = f"{root}."
    return frozenset(name[len(prefix):] for condition in conditions if condition is not None
                     for name in condition.names if name.startswith(prefix))


def condition_context(state: EngineState, client: Client, engagement: Engagement | None,
                      invoice: Invoice, today: date, now: datetime,
                      open_balance: Decimal | None = None,
                      roots: Collection[str] | None = None,
                      invoice_names: Collection[str] | None = None) -> dict[str, Any]:
    """Return the names a condition may read about `invoice` at `now`.

    With `roots`, only those roots are built (see `condition_roots`); the others are left
    out, and read as empty by a condition, which never reads them. With `invoice_names`, only
    those invoice fields are (see `condition_fields`).
    """
    context: dict[str, Any] = {}
    if roots is None or "invoice" in roots:
        is_first = client.id not in state.clients_invoiced
        context["invoice"] = invoice_fields(invoice, today, is_first, invoice_names)
    if roots is None or "client" in roots:
        if open_balance is None:
            open_balance = _open_balance(state, client.id)
        context["client"] = client_fields(client, open_balance)
    if roots is None or "engagement" in roots:
        in_force = engagement.in_force(invoice.period_start or today) if engagement else None
        context["engagement"] = engagement_fields(in_force) if in_force else {}
    context["now"] = now
    context["today"] = today
    return context
