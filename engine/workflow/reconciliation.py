"""Match incoming payments to open invoices, so balances and the aging report stay true.

The order of SPEC §4, safest first:
1. an invoice number found in the payment reference;
2. for a known client, one open invoice whose balance equals the amount exactly;
3. a set of up to five of that client's open invoices adding up to the amount exactly
   (the oldest such set first);
4. oldest-due-first across that client's open invoices;
and whatever remains becomes client credit, applied to the client's next issued invoice.
The payer is known by `client`, or by matching `payer` against a client's name, billing
e-mail or external ids. An unknown payer, or a currency no open invoice of the client
has, is never guessed: it becomes `payment.unmatched` for a person to assign.
"""

from __future__ import annotations

import re
from decimal import Decimal

from engine.core.state import Payment
from engine.core.step import Step
from engine.errors import EventError
from engine.model.events import Event, PaymentAssigned, PaymentReceived
from engine.model.invoice import Invoice
from engine.model.money import format_money, is_currency, round_money
from engine.ruleset.types import Client
from engine.workflow.collections import stop_collections

__all__ = ["payment_received", "payment_assigned", "apply_credit", "MAX_SET_SIZE"]

MAX_SET_SIZE = 5
# Exact-set search looks at the oldest invoices only: C(20, 5) = 15,504 sets at most.
SET_SEARCH_WINDOW = 20
_ZERO = Decimal(0)
_TOKEN = re.compile(r"[A-Za-z0-9][A-Za-z0-9\-_/.]*[A-Za-z0-9]|[A-Za-z0-9]")


def _payment_json(payment: Payment) -> dict[str, str]:
    amount = (format_money(payment.amount, payment.currency) if is_currency(payment.currency)
              else f"{payment.amount}")
    body = {"id": payment.id, "amount": amount, "currency": payment.currency,
            "date": payment.date.isoformat(), "reference": payment.reference,
            "payer": payment.payer, "client": payment.client}
    return {key: value for key, value in body.items() if value is not None}


def _identify(step: Step, payment: Payment) -> Client | None:
    if payment.client is not None:
        return step.rules.clients.get(payment.client)
    payer = (payment.payer or "").strip().casefold()
    if not payer:
        return None
    client_id = step.rules.payers.get(payer)  # "" when several clients answer to it
    return step.rules.clients[client_id] if client_id else None


def _by_reference(step: Step, payment: Payment) -> list[Invoice]:
    """Return the open invoices whose numbers the reference names, in the order named."""
    if not payment.reference:
        return []
    state = step.state
    found: list[Invoice] = []
    for token in _TOKEN.findall(payment.reference):
        invoice_id = state.numbers.get(token)
        if invoice_id is not None and invoice_id in state.open_ids:
            invoice = state.invoices[invoice_id]
            if invoice not in found:
                found.append(invoice)
    return found


def _open_invoices(step: Step, client_id: str, currency: str) -> list[Invoice]:
    """Return the client's open invoices in `currency`, in the order they were drafted."""
    state = step.state
    invoices, open_ids = state.invoices, state.open_ids
    # The open-invoice index spares a look at every invoice the client was ever sent.
    return [invoices[invoice_id] for invoice_id in state.by_client.get(client_id, ())
            if invoice_id in open_ids and invoices[invoice_id].currency == currency]


def _oldest_first(invoices: list[Invoice]) -> list[Invoice]:
    return sorted(invoices, key=lambda inv: (inv.due_date, inv.issue_date, inv.number or ""))


def _exact_set(invoices: list[Invoice], amount: Decimal) -> tuple[Invoice, ...] | None:
    """Return the oldest set of 2..5 open invoices whose balances add up to `amount`."""
    window = _oldest_first(invoices)[:SET_SEARCH_WINDOW]
    balances = [inv.balance for inv in window]

    def search(size: int, start: int, left: Decimal, chosen: list[int]) -> list[int] | None:
        # Depth-first in index order = lexicographic order: the oldest set of a size first.
        if len(chosen) == size:
            return chosen if left == 0 else None
        for i in range(start, len(window) - (size - len(chosen)) + 1):
            if balances[i] <= left:  # balances are positive: a larger one cannot fit
                found = search(size, i + 1, left - balances[i], chosen + [i])
                if found is not None:
                    return found
        return None

    for size in range(2, MAX_SET_SIZE + 1):
        found = search(size, 0, amount, [])
        if found is not None:
            return tuple(window[i] for i in found)
    return None


def _allocate(step: Step, payment: Payment, targets: list[Invoice], rule: str) -> None:
    """Apply the payment to `targets` in order; the rest becomes client credit."""
    state = step.state
    remaining = payment.amount
    allocations = []
    for invoice in targets:
        if remaining <= 0:
            break
        share = min(invoice.balance, remaining)
        remaining -= share
        balance = invoice.balance - share
        paid = invoice.replace(balance=balance, status="paid" if balance == 0 else "issued")
        state.put_invoice(paid)
        if balance == 0:
            _settled(step, paid)
        allocations.append({"invoice": paid.id, "number": paid.number,
                            "amount": format_money(share, payment.currency)})
    client = payment.client
    assert client is not None
    if remaining > 0:
        key = (client, payment.currency)
        state.credits[key] = state.credits.get(key, _ZERO) + remaining
    step.emit("payment.applied", payment.id, client, rule, {
        "payment": _payment_json(payment), "allocations": allocations,
        "credit": format_money(remaining, payment.currency),
    })


def _settled(step: Step, invoice: Invoice) -> None:
    """A paid invoice is done: no more reminders, and its entries need not be remembered."""
    stop_collections(step, invoice.id)
    step.state.supporting.pop(invoice.id, None)  # a paid invoice can no longer be voided
    invoice.forget_rendering()


def _unmatched(step: Step, payment: Payment, reason: str) -> None:
    step.state.unmatched[payment.id] = payment
    step.emit("payment.unmatched", payment.id, payment.client, "reconciliation#unmatched", {
        "payment": _payment_json(payment), "reason": reason,
    })


def _settle_for_client(step: Step, payment: Payment, client: Client) -> None:
    payment = payment._replace(client=client.id)
    open_invoices = _open_invoices(step, client.id, payment.currency)
    if not open_invoices and payment.currency != client.currency:
        _unmatched(step, payment, f"currency {payment.currency} matches no open invoice of "
                                  f"{client.id} (billed in {client.currency})")
        return
    ordered = _oldest_first(open_invoices)
    exact = [inv for inv in ordered if inv.balance == payment.amount]
    if exact:
        _allocate(step, payment, exact[:1], "reconciliation#exact_amount")
        return
    combo = _exact_set(open_invoices, payment.amount)
    if combo is not None:
        _allocate(step, payment, list(combo), "reconciliation#exact_set")
        return
    _allocate(step, payment, ordered, "reconciliation#oldest_first")


def payment_received(step: Step, event: Event) -> None:
    """Match a payment to open invoices (or keep it as credit, or hand it to a person)."""
    received: PaymentReceived = event.payload
    if received.client is not None and received.client not in step.rules.clients:
        raise EventError(event.origin, None, f"unknown client '{received.client}'")
    if is_currency(received.currency) and round_money(received.amount,
                                                       received.currency) != received.amount:
        raise EventError(event.origin, None, f"{received.amount} has more decimal places than "
                                             f"{received.currency} allows")
    payment = Payment(event.id, received.amount, received.currency, received.date, received.reference, received.payer,
                      received.client, step.at)
    referenced = _by_reference(step, payment)
    if referenced:
        owner = referenced[0].client
        named = [inv for inv in referenced
                 if inv.client == owner and inv.currency == payment.currency]
        if named and payment.client in (None, owner):
            _allocate(step, payment._replace(client=owner), named, "reconciliation#reference")
            return
    client = _identify(step, payment)
    if client is None:
        ambiguous = step.rules.payers.get((payment.payer or "").strip().casefold()) == ""
        _unmatched(step, payment, "ambiguous payer: several clients answer to it" if ambiguous
                   else "unknown payer: no client id, and the payer matches no client's name, "
                        "billing e-mail or external id")
        return
    _settle_for_client(step, payment, client)


def payment_assigned(step: Step, event: Event) -> None:
    """Resolve an unmatched payment: a person names the invoice or the client."""
    assigned: PaymentAssigned = event.payload
    if assigned.by not in step.rules.agency.people:
        raise EventError(event.origin, None, f"unknown person '{assigned.by}'")
    payment = step.state.unmatched.get(assigned.payment)
    if payment is None:
        raise EventError(event.origin, None, f"no unmatched payment '{assigned.payment}'")
    if assigned.invoice is not None:
        invoice = step.state.invoices.get(assigned.invoice)
        if invoice is None or not invoice.is_open:
            raise EventError(event.origin, None, f"invoice '{assigned.invoice}' is not open")
        if invoice.currency != payment.currency:
            raise EventError(event.origin, None, f"invoice '{invoice.id}' is in "
                                                 f"{invoice.currency}, the payment in "
                                                 f"{payment.currency}")
        del step.state.unmatched[payment.id]
        _allocate(step, payment._replace(client=invoice.client), [invoice],
                  f"reconciliation#assigned_by:{assigned.by}")
        return
    client = step.rules.clients.get(assigned.client or "")
    if client is None:
        raise EventError(event.origin, None, f"unknown client '{assigned.client}'")
    del step.state.unmatched[payment.id]
    payment = payment._replace(client=client.id)
    targets = _oldest_first(_open_invoices(step, client.id, payment.currency))
    _allocate(step, payment, targets, f"reconciliation#assigned_by:{assigned.by}")


def apply_credit(step: Step, invoice: Invoice) -> Invoice:
    """Use the client's credit in the invoice's currency against a newly issued invoice."""
    key = (invoice.client, invoice.currency)
    credit = step.state.credits.get(key, _ZERO)
    if credit <= 0 or invoice.balance <= 0:
        return invoice
    share = min(credit, invoice.balance)
    step.state.credits[key] = credit - share
    balance = invoice.balance - share
    updated = invoice.replace(balance=balance, status="paid" if balance == 0 else "issued")
    step.state.put_invoice(updated)
    if balance == 0:
        _settled(step, updated)
    credit_payment = Payment(f"credit:{invoice.id}", share, invoice.currency, step.today,
                             None, None, invoice.client, step.at)
    step.emit("payment.applied", credit_payment.id, invoice.client, "reconciliation#credit", {
        "payment": _payment_json(credit_payment),
        "allocations": [{"invoice": invoice.id, "number": invoice.number,
                         "amount": format_money(share, invoice.currency)}],
        # This "payment" is the credit used, all of it allocated: nothing remains of it.
        "credit": format_money(0, invoice.currency),
    })
    return updated
