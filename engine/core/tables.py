"""Render actions for people: one aligned line per action, amounts right-aligned."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from engine.model.actions import Action

__all__ = ["action_rows", "render_table"]

HEADERS = ("at", "action", "client", "invoice", "number", "amount", "detail")
RIGHT_ALIGNED = {"amount"}


def _detail(action: Action) -> str:
    payload: dict[str, Any] = dict(action.payload)
    kind = action.type
    if kind == "invoice.drafted":
        return f"trigger={payload['trigger']}"
    if kind in ("approval.requested", "approval.reminded"):
        warnings = payload.get("warnings") or []
        extra = f" warnings={','.join(warnings)}" if warnings else ""
        return f"approver={payload['approver']}{extra}"
    if kind == "approval.escalated":
        return f"approver={payload['approver']} escalate_to={payload['escalate_to']}"
    if kind == "invoice.issued":
        invoice = payload["invoice"]
        return f"due={invoice['due_date']}"
    if kind == "reminder.sent":
        return f"step={payload['step']} template={payload['template']}"
    if kind == "escalation.triggered":
        fee = payload.get("late_fee_invoice")
        return f"rule={payload['rule']} notify={','.join(payload['notify'])}" + (
            f" late_fee={fee}" if fee else "")
    if kind == "invoice.flagged":
        return f"by={payload['by']}: {payload['comment']}"
    if kind == "payment.applied":
        return f"credit={payload['credit']}"
    if kind == "payment.unmatched":
        return payload["reason"]
    return ""


def action_rows(actions: Iterable[Action]) -> list[tuple[str, ...]]:
    """Return one row of strings per action, in the columns of HEADERS."""
    rows = []
    for action in actions:
        payload = action.payload
        invoice = payload.get("invoice") or {}
        amount = ""
        if action.type in ("payment.applied", "payment.unmatched"):
            payment = payload["payment"]
            amount = f"{payment['amount']} {payment['currency']}"
            invoice_id = ",".join(a["invoice"] for a in payload.get("allocations", []))
            number = ""
        else:
            shown = payload.get("balance") if action.type == "reminder.sent" else invoice.get("total")
            amount = f"{shown} {invoice.get('currency', '')}".strip() if shown else ""
            invoice_id = invoice.get("id", "")
            number = invoice.get("number") or ""
        rows.append((action.at.isoformat(timespec="minutes").replace("T", " "), action.type,
                     action.client or "-",
                     invoice_id, number, amount, _detail(action)))
    return rows


def render_table(rows: list[tuple[str, ...]], headers: tuple[str, ...] = HEADERS) -> str:
    """Align rows under headers; columns in RIGHT_ALIGNED are right-aligned."""
    widths = [max([len(h)] + [len(row[i]) for row in rows]) for i, h in enumerate(headers)]
    lines = []
    for row in [headers, *rows]:
        cells = [cell.rjust(width) if headers[i] in RIGHT_ALIGNED else cell.ljust(width)
                 for i, (cell, width) in enumerate(zip(row, widths))]
        lines.append("  ".join(cells).rstrip())
    return "\n".join(lines)
