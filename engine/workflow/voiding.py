"""Voids and disputes.

- Voiding a draft (waiting or flagged) or an unpaid issued invoice releases its time
  entries and expenses to the next invoice; a voided milestone draft may be completed again.
- Voiding an issued invoice keeps its number (numbers are never reused) and stops its
  reminders; a paid or partly paid invoice cannot be voided — that needs a credit note.
- A disputed invoice gets no reminders and no escalations until it is undisputed.
"""

from __future__ import annotations

import re
from decimal import Decimal

from engine.core.step import Step
from engine.errors import EventError
from engine.model.events import Event, InvoiceDisputed, InvoiceUndisputed, InvoiceVoided
from engine.model.invoice import Invoice
from engine.workflow.collections import stop_collections

__all__ = ["void", "dispute", "undispute"]


def _invoice(step: Step, event: Event, invoice_id: str) -> Invoice:
    invoice = step.state.invoices.get(invoice_id)
    if invoice is None:
        raise EventError(event.origin, None, f"unknown invoice '{invoice_id}'")
    return invoice


def _check_person(step: Step, event: Event, person: str) -> None:
    if person not in step.rules.agency.people:
        raise EventError(event.origin, None, f"unknown person '{person}'")


def void(step: Step, event: Event) -> None:
    """Void an invoice; a draft gives its entries back to the unbilled pool."""
    payload: InvoiceVoided = event.payload
    invoice = _invoice(step, event, payload.invoice)
    _check_person(step, event, payload.by)
    if invoice.status in ("voided", "paid"):
        raise EventError(event.origin, None, f"invoice '{invoice.id}' is {invoice.status} and "
                                             "cannot be voided")
    if invoice.balance != invoice.total and invoice.status == "issued":
        raise EventError(event.origin, None, f"invoice '{invoice.id}' is partly paid; record a "
                                             "credit note instead of voiding it")
    state = step.state
    for detail in ("remind", "escalate"):
        state.timers.cancel(f"approval:{detail}:{invoice.id}")
    state.awaiting.pop(invoice.id, None)
    # The work on a voided invoice is not billed any more: it goes to the next invoice.
    state.unbill(f"{invoice.client}/{invoice.engagement}", state.supporting.pop(invoice.id, ()))
    if invoice.number is None and invoice.trigger == "milestone":
        # The milestone may be completed again: forget it (its id may carry a -N suffix).
        state.milestones_done.discard(invoice.id)
        state.milestones_done.discard(re.sub(r"-\d+$", "", invoice.id))
    state.flagged_by.pop(invoice.id, None)
    stop_collections(step, invoice.id)
    state.disputed.discard(invoice.id)
    voided = invoice.replace(status="voided", balance=Decimal(0))
    state.put_invoice(voided)
    client = step.client(invoice.client)
    engagement = client.engagements.get(invoice.engagement)
    step.emit("invoice.voided", voided.id, voided.client,
              engagement.source if engagement else client.source, {"invoice": voided.as_json()})
    voided.forget_rendering()  # the action keeps what it showed


def dispute(step: Step, event: Event) -> None:
    """Pause reminders and escalations of an issued invoice."""
    payload: InvoiceDisputed = event.payload
    invoice = _invoice(step, event, payload.invoice)
    _check_person(step, event, payload.by)
    if invoice.status != "issued":
        raise EventError(event.origin, None, f"invoice '{invoice.id}' is {invoice.status}; only "
                                             "an issued invoice can be disputed")
    step.state.disputed.add(invoice.id)


def undispute(step: Step, event: Event) -> None:
    """Resume reminders and escalations of a disputed invoice."""
    payload: InvoiceUndisputed = event.payload
    invoice = _invoice(step, event, payload.invoice)
    _check_person(step, event, payload.by)
    if invoice.id not in step.state.disputed:
        raise EventError(event.origin, None, f"invoice '{invoice.id}' is not disputed")
    step.state.disputed.discard(invoice.id)
