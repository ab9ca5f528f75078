"""Render an action stream for snapshot files, so a pull request's diff reads as billing.

One block per action, blank line between blocks. An action that carries an invoice shows
it once in full where its content is decided (drafted, issued, voided): every line with
quantity, unit price and amount, then subtotal, tax and total, amounts right-aligned in
one column. Other actions name the invoice and the one figure they concern. The rules
version is left out on purpose: it changes with every edit and would hide the real change.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from engine.model.actions import Action

__all__ = ["render_actions", "render_action"]

FULL_INVOICE = frozenset({"invoice.drafted", "invoice.issued", "invoice.voided"})
_MIN_DESCRIPTION = 36


def render_actions(actions: Iterable[Action]) -> str:
    """Return the whole stream, one block per action, in the order decided."""
    blocks = [render_action(action) for action in actions]
    return "\n\n".join(blocks) + "\n" if blocks else "(no actions)\n"


def render_action(action: Action) -> str:
    """Return one action's block."""
    payload: Mapping[str, Any] = action.payload
    invoice = payload.get("invoice") if isinstance(payload.get("invoice"), Mapping) else None
    payment = payload.get("payment") if isinstance(payload.get("payment"), Mapping) else None
    subject = invoice["id"] if invoice else payment["id"] if payment else action.id
    lines = [f"{action.at.isoformat()}  {action.type}  {subject}",
             *_facts([("client", action.client or "-"), ("rule", action.rule)])]
    if action.type in FULL_INVOICE and invoice is not None:
        lines += _facts(_invoice_facts(action, invoice))
        lines += _invoice_table(invoice)
    else:
        lines += _facts(_summary_facts(action, invoice, payment))
    return "\n".join(lines)


def _facts(pairs: Sequence[tuple[str, Any]]) -> list[str]:
    return [f"  {name:<11}{value}" for name, value in pairs if value not in (None, "", [])]


def _invoice_facts(action: Action, invoice: Mapping[str, Any]) -> list[tuple[str, Any]]:
    period = invoice.get("period")
    return [
        ("trigger", action.payload.get("trigger")),
        ("status", invoice["status"]),
        ("number", invoice.get("number")),
        ("period", f"{period['start']} .. {period['end']}" if period else None),
        ("issued", invoice.get("issue_date")),
        ("due", invoice.get("due_date")),
        ("warnings", ", ".join(invoice.get("warnings") or ())),
    ]


def _invoice_table(invoice: Mapping[str, Any]) -> list[str]:
    rows = [(line["description"], line["quantity"], line["unit_price"], line["amount"])
            for line in invoice["lines"]]
    width = max([_MIN_DESCRIPTION, *(len(row[0]) for row in rows)])
    quantity = max([3, *(len(row[1]) for row in rows)])
    price = max([10, *(len(row[2]) for row in rows)])
    amount = max(12, *(len(str(invoice[key])) for key in ("subtotal", "tax", "total")),
                 *(len(row[3]) for row in rows))
    out = [f"    {d:<{width}}  {q:>{quantity}} x {p:>{price}}  {a:>{amount}}"
           for d, q, p, a in rows]
    label_width = width + quantity + price + 5
    for key in ("subtotal", "tax", "total"):
        label = key if key != "total" else f"total {invoice['currency']}"
        out.append(f"    {label:>{label_width}}  {invoice[key]:>{amount}}")
    if invoice.get("balance") != invoice.get("total"):
        out.append(f"    {'balance':>{label_width}}  {invoice['balance']:>{amount}}")
    return out


def _money(invoice: Mapping[str, Any], key: str) -> str:
    return f"{invoice[key]} {invoice['currency']}"


def _summary_facts(action: Action, invoice: Mapping[str, Any] | None,
                   payment: Mapping[str, Any] | None) -> list[tuple[str, Any]]:
    payload = action.payload
    facts: list[tuple[str, Any]] = []
    if invoice is not None:
        facts += [("number", invoice.get("number")), ("total", _money(invoice, "total"))]
    kind = action.type
    if kind.startswith("approval."):
        facts += [("approver", payload.get("approver")),
                  ("escalate", payload.get("escalate_to")),
                  ("warnings", ", ".join(payload.get("warnings") or ()))]
    elif kind == "invoice.flagged":
        facts += [("by", payload.get("by")), ("comment", payload.get("comment")),
                  ("author", payload.get("author"))]
    elif kind == "reminder.sent":
        facts += [("step", payload.get("step")), ("template", payload.get("template")),
                  ("balance", f"{payload.get('balance')} {invoice['currency']}" if invoice else None)]
    elif kind == "escalation.triggered":
        facts += [("balance", _money(invoice, "balance") if invoice else None),
                  ("escalation", payload.get("rule")),
                  ("overdue", f"{payload.get('days_overdue')} days"),
                  ("notify", ", ".join(payload.get("notify") or ())),
                  ("late fee", payload.get("late_fee_invoice"))]
    if payment is not None:
        facts += [("received", f"{payment['amount']} {payment['currency']} on {payment['date']}"),
                  ("reference", payment.get("reference")), ("payer", payment.get("payer"))]
    if kind == "payment.applied":
        allocations = payload.get("allocations") or []
        width = max([10, *(len(str(a["invoice"])) for a in allocations)])
        amount = max([10, *(len(str(a["amount"])) for a in allocations),
                      len(str(payload.get("credit")))])
        facts += [("applied", "")]
        facts += [("", f"{a['invoice']:<{width}}  {a['amount']:>{amount}}") for a in allocations]
        facts += [("credit", f"{'':<{width}}  {payload.get('credit'):>{amount}}")]
    elif kind == "payment.unmatched":
        facts += [("reason", payload.get("reason"))]
    return facts
