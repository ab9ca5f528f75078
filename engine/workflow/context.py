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

__all__ = ["invoice_fields", "standing_invoice_fields", "StandingFields", "client_fields",
           "engagement_fields", "condition_context", "condition_roots", "days_overdue", "open_balances"]


def days_overdue(invoice: Invoice, today: date) -> int:
    """Return today − due date in days (negative before it is due; 0 without a due date)."""
    return (today - invoice.due_date).days if invoice.due_date else 0


def standing_invoice_fields(invoice: Invoice) -> dict[str, Any]:
    """Return the invoice's fields that do not change from day to day (the same for the same
    invoice object: a changed invoice is a new one); `invoice_fields` fills in the others."""
    return {
        "id": invoice.id, "number": invoice.number, "status": invoice.status,
        "client": invoice.client, "engagement": invoice.engagement, "currency": invoice.currency,
        "subtotal": invoice.subtotal, "tax": invoice.tax, "total": invoice.total,
        "balance": invoice.balance, "issue_date": invoice.issue_date,
        "due_date": invoice.due_date, "days_overdue": None,
        "period_start": invoice.period_start, "period_end": invoice.period_end,
        "trigger": invoice.trigger, "line_count": len(invoice.lines), "is_first": None,
        "warnings": list(invoice.warnings),
    }


def invoice_fields(invoice: Invoice, today: date, is_first: bool,
                   standing: dict[str, Any] | None = None) -> dict[str, Any]:
    """Return the invoice's fields on `today`; `standing` are its standing fields, if at hand
    (they are copied, not changed)."""
    fields = standing_invoice_fields(invoice) if standing is None else standing.copy()
    fields["days_overdue"] = days_overdue(invoice, today)
    fields["is_first"] = is_first
    return fields


class StandingFields:
    """The standing fields of the invoices a recurring check reads, kept until its next run.

    An invoice is immutable (a changed one is a new object), so the fields read from the very
    same object are still true the next day; each run keeps only the invoices it read.
    """

    def __init__(self) -> None:
        self._kept: dict[str, tuple[Invoice, dict[str, Any]]] = {}
        self._read: dict[str, tuple[Invoice, dict[str, Any]]] = {}

    def of(self, invoice: Invoice) -> dict[str, Any]:
        """Return the invoice's standing fields (see `standing_invoice_fields`)."""
        entry = self._kept.get(invoice.id)
        if entry is None or entry[0] is not invoice:
            entry = (invoice, standing_invoice_fields(invoice))
        self._read[invoice.id] = entry
        return entry[1]

    def run_done(self) -> None:
        """Keep what this run read for the next one, and nothing else."""
        self._kept, self._read = self._read, {}


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


def condition_context(state: EngineState, client: Client, engagement: Engagement | None,
                      invoice: Invoice, today: date, now: datetime,
                      open_balance: Decimal | None = None,
                      roots: Collection[str] | None = None,
                      invoice_standing: dict[str, Any] | None = None) -> dict[str, Any]:
    """Return the names a condition may read about `invoice` at `now`.

    With `roots`, only those roots are built (see `condition_roots`); the others are left
    out, and read as empty by a condition, which never reads them. `invoice_standing` are
    the invoice's standing fields, if at hand.
    """
    context: dict[str, Any] = {}
    if roots is None or "invoice" in roots:
        is_first = client.id not in state.clients_invoiced
        context["invoice"] = invoice_fields(invoice, today, is_first, invoice_standing)
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
