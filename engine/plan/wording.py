"""The phrases the text and markdown plans share: money, times, actions, field changes."""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from engine.model.money import display_money
from engine.plan.model import ActionChange, Billed, FieldChange, InvoiceChange, Plan, Tally

__all__ = ["MARKS", "ActionRun", "action_runs", "only_renumbered", "renumbering_text", "money", "signed", "when", "action_label", "action_detail",
           "field_text", "line_text", "invoice_summary", "tally_text", "billed_text",
           "earliest_text", "count"]

MARKS = {"added": "+", "removed": "-", "changed": "~", "renumbered": "#", "unchanged": "="}


def count(n: int, noun: str) -> str:
    return f"{n:,} {noun}" + ("" if n == 1 else "s")


def money(amount: str | Decimal, currency: str) -> str:
    """Render an amount for people: 1,234.50 (JPY 1,235)."""
    return display_money(amount, currency)


def signed(amount: Decimal, currency: str) -> str:
    """Render a change of amount with its sign: +97.50, -1,000.00, ±0.00."""
    shown = money(abs(amount), currency)
    return f"+{shown}" if amount > 0 else f"-{shown}" if amount < 0 else f"±{shown}"


def when(at: str) -> str:
    """Render an action's time as agency-local 'YYYY-MM-DD HH:MM' (actions carry local time)."""
    return at[:16].replace("T", " ")


def action_label(change: ActionChange) -> str:
    """Name an action by its type and what its id adds to the subject: `reminder.sent +7d`."""
    body = change.new if change.new is not None else change.old
    assert body is not None
    invoice = body["payload"].get("invoice")
    subject = invoice.get("id") if isinstance(invoice, Mapping) else None
    prefix = f"{change.type}:{subject}:" if subject else f"{change.type}:"
    rest = change.id[len(prefix):] if change.id.startswith(prefix) else ""
    return f"{change.type} {rest}".strip()


def _value(name: str, value: Any, currency: str | None) -> str:
    if value is None:
        return "none"
    if name == "at" and isinstance(value, str):
        return when(value)
    if name == "allocations" and isinstance(value, list):
        parts = [f"{a.get('number') or a.get('invoice')} {a.get('amount')}" for a in value]
        return ", ".join(parts) or "none"
    if isinstance(value, list) and all(isinstance(item, str) for item in value):
        return ", ".join(value) or "none"
    if isinstance(value, Mapping) and set(value) == {"start", "end"}:
        return f"{value['start']}..{value['end']}"
    if isinstance(value, (Mapping, list)):
        return json.dumps(value, ensure_ascii=False, separators=(", ", ": "))
    if currency and name in ("balance", "invoice balance", "credit", "tax"):
        return money(str(value), currency)
    return str(value)


def field_text(change: FieldChange, currency: str | None = None) -> str:
    """Render `name old → new`."""
    return (f"{change.name} {_value(change.name, change.old, currency)} → "
            f"{_value(change.name, change.new, currency)}")


def action_detail(change: ActionChange) -> str:
    """Say what an action decided (added or removed) or what differs about it (changed)."""
    body = change.new if change.new is not None else change.old
    assert body is not None
    payload = body["payload"]
    invoice = payload.get("invoice")
    currency = invoice.get("currency") if isinstance(invoice, Mapping) else None
    if change.change == "changed":
        parts = [field_text(f, currency) for f in change.fields]
        if change.carries_changed_invoice and not parts:
            parts.append("carries the changed invoice")
        return "; ".join(parts)
    kind = change.type
    if kind.startswith("approval."):
        extra = f", escalate to {payload['escalate_to']}" if payload.get("escalate_to") else ""
        return f"approver {payload.get('approver')}{extra}"
    if kind == "reminder.sent":
        return f"balance {_value('balance', payload.get('balance'), currency)}"
    if kind == "escalation.triggered":
        fee = payload.get("late_fee_invoice")
        return (f"notify {_value('notify', payload.get('notify'), None)}"
                + (f", late fee {fee}" if fee else ""))
    if kind in ("payment.applied", "payment.unmatched"):
        payment = payload.get("payment") or {}
        shown = f"{payment.get('amount')} {payment.get('currency')}"
        if kind == "payment.unmatched":
            return f"{shown}: {payload.get('reason')}"
        return f"{shown} to {_value('allocations', payload.get('allocations'), None)}"
    if kind == "invoice.drafted":
        return f"trigger {payload.get('trigger')}"
    return ""


def line_text(line: Mapping[str, str], currency: str) -> str:
    """Render an invoice line: `Designer  19.50 × 150.00 = 2,925.00`."""
    return (f"{line.get('description')}  {line.get('quantity')} × {line.get('unit_price')} = "
            f"{money(line['amount'], currency)}")


def invoice_summary(invoice: InvoiceChange) -> str:
    """Render an invoice's number and total, old → new: `NW-2026-00017 USD 1.00 → 2.00 (+1.00)`."""
    currency = invoice.currency
    old, new = invoice.old, invoice.new
    if old is not None and new is not None:
        number = old.get("number") or ""
        if new.get("number") != old.get("number"):
            number = f"{old.get('number') or 'unnumbered'} → {new.get('number') or 'unnumbered'}"
        if old["total"] == new["total"]:
            amount = f"{currency} {money(new['total'], currency)}"
        else:
            amount = (f"{currency} {money(old['total'], currency)} → {money(new['total'], currency)}"
                      f" ({signed(invoice.total_change, currency)})")
    else:
        body = new if new is not None else old
        assert body is not None
        number = body.get("number") or ""
        amount = f"{currency} {money(body['total'], currency)} ({signed(invoice.total_change, currency)})"
    status = f" [{(new or old or {}).get('status')}]"
    return "  ".join(part for part in (number, amount + status) if part)


def tally_text(tally: Tally) -> str:
    return f"{tally.added} added, {tally.removed} removed, {tally.changed} changed"


def billed_text(billed: Billed) -> str:
    currency = billed.currency
    return (f"{currency} {signed(billed.change, currency)} "
            f"({money(billed.old, currency)} → {money(billed.new, currency)})")


def earliest_text(plan: Plan) -> str:
    """State the first day that changes, or that nothing does."""
    if plan.earliest_change is None:
        return "No action changes."
    return f"Nothing dated before {plan.earliest_change.isoformat()} changes."


@dataclass(frozen=True)
class ActionRun:
    """Actions shown on one line: a repeated escalation, or those carrying a changed invoice."""

    mark: str
    start: str
    end: str | None
    label: str
    count: int
    detail: str

    def text(self) -> str:
        span = f"{self.start} … {self.end}" if self.end else self.start
        times = f" ×{self.count}" if self.count > 1 else ""
        return f"{self.mark} {span}  {self.label}{times}" + (f"  {self.detail}" if self.detail
                                                              else "")


_REPEAT = re.compile(r":[0-9]+$")


def action_runs(actions: Iterable[ActionChange]) -> list[ActionRun]:
    """Fold the actions of an invoice into lines.

    The actions that differ only by carrying the changed invoice share one line; a run of
    the same decision repeated (`over-60:1`, `over-60:2`, ...) shares one line with its count.
    """
    listed = list(actions)
    carriers = [a for a in listed if a.change == "changed" and a.carries_changed_invoice
                and not a.fields]
    runs: list[ActionRun] = []
    if carriers:
        first, last = when(carriers[0].at.isoformat()), when(carriers[-1].at.isoformat())
        runs.append(ActionRun("~", first, last if last != first else None,
                              ", ".join(action_label(a) for a in carriers), 1,
                              "carry the changed invoice"))
    tail: ActionRun | None = None
    for action in listed:
        if action in carriers:
            continue
        mark, detail = MARKS[action.change], action_detail(action)
        stem = _REPEAT.sub("", action_label(action))
        at = when(action.at.isoformat())
        if (tail is not None and action.change in ("added", "removed") and tail.mark == mark
                and tail.label == stem and tail.detail == detail):
            tail = ActionRun(mark, tail.start, at, stem, tail.count + 1, detail)
            runs[-1] = tail
            continue
        label = stem if action.change in ("added", "removed") else action_label(action)
        tail = ActionRun(mark, at, None, label, 1, detail)
        runs.append(tail)
    return runs


def only_renumbered(invoice: InvoiceChange) -> bool:
    """Tell whether nothing but the invoice's number changes (shown on one shared line)."""
    return invoice.change == "renumbered" and not invoice.actions


def renumbering_text(invoices: list[InvoiceChange]) -> str:
    """Render the renumbered invoices of a client: `# 2 renumbered: NW-1 → NW-2, ...`."""
    pairs = [f"{(i.old or {}).get('number')} → {(i.new or {}).get('number')}" for i in invoices]
    return f"# {count(len(invoices), 'invoice')} renumbered: {', '.join(pairs)}"
