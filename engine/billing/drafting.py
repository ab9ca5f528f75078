"""Record a new draft: remember what it bills, announce it, and route it for approval."""

from __future__ import annotations

from engine.core.state import Billable
from engine.core.step import Step
from engine.model.invoice import Invoice
from engine.ruleset.types import Source
from engine.workflow.approval import submit_for_approval, supporting_json

__all__ = ["record_draft", "unique_draft_id", "FIRST_INVOICE"]

FIRST_INVOICE = "first_invoice"


def unique_draft_id(step: Step, base: str) -> str:
    """Return `base`, or `base-2`, `base-3`… when an invoice already has that id."""
    if base not in step.state.invoices:
        return base
    n = 2
    while f"{base}-{n}" in step.state.invoices:
        n += 1
    return f"{base}-{n}"


def record_draft(step: Step, invoice: Invoice, rule: Source,
                 supporting: tuple[Billable, ...]) -> None:
    """Record `invoice` as a draft, emit invoice.drafted, then route it for approval."""
    state = step.state
    if invoice.client not in state.by_client:
        invoice = invoice.replace(warnings=invoice.warnings + (FIRST_INVOICE,))
    state.put_invoice(invoice)
    state.supporting[invoice.id] = supporting
    rows = supporting_json(step, invoice.id)
    step.emit("invoice.drafted", invoice.id, invoice.client, rule, {
        "invoice": invoice.as_json(), "trigger": invoice.trigger, "supporting": rows,
    })
    submit_for_approval(step, invoice, rows)
