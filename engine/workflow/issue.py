"""Issue an approved invoice: number it, date it, and hand it to the connectors.

A number is assigned only here, never to a draft, from the agency's format; the sequence
is gapless and (with `reset: yearly`) restarts each year of the issue date.
"""

from __future__ import annotations

from datetime import date

from engine.core.step import Step
from engine.model.invoice import Invoice
from engine.ruleset.types import Numbering
from engine.workflow.collections import on_issued
from engine.workflow.reconciliation import apply_credit

__all__ = ["issue_invoice", "next_number"]


def next_number(numbering: Numbering, sequences: dict[str, int], issue_date: date) -> str:
    """Take the next number of the sequence that `issue_date` falls in."""
    key = str(issue_date.year) if numbering.reset == "yearly" else "all"
    seq = sequences.get(key, numbering.start - 1) + 1
    sequences[key] = seq
    return numbering.format.format(year=issue_date.year, month=issue_date.month, seq=seq)


def issue_invoice(step: Step, invoice: Invoice) -> Invoice:
    """Number and date `invoice`, record it as issued, and emit invoice.issued."""
    state, rules = step.state, step.rules
    client = step.client(invoice.client)
    issue_date = step.today
    issued = invoice.replace(
        status="issued",
        number=next_number(rules.agency.numbering, state.sequences, issue_date),
        issue_date=issue_date,
        due_date=client.payment_terms.due_date(issue_date),
    )
    state.put_invoice(issued)
    state.awaiting.pop(issued.id, None)
    state.clients_invoiced.add(issued.client)
    engagement = client.engagements.get(issued.engagement)
    rule = engagement.source if engagement is not None else client.source
    step.emit("invoice.issued", issued.id, issued.client, rule, {"invoice": issued.as_json()})
    issued = apply_credit(step, issued)
    on_issued(step, issued)
    return issued
