"""The plan for tools: everything the text shows, as JSON with money as decimal strings."""

from __future__ import annotations

import json
from typing import Any

from engine.model.money import format_money
from engine.plan.model import ActionChange, ClientPlan, FieldChange, InvoiceChange, Plan, Side

__all__ = ["plan_json", "render_json"]


def _field(change: FieldChange) -> dict[str, Any]:
    return {"name": change.name, "old": change.old, "new": change.new}


def _action(change: ActionChange) -> dict[str, Any]:
    old, new = change.old, change.new
    return {
        "id": change.id,
        "type": change.type,
        "change": change.change,
        "old_at": old["at"] if old is not None else None,
        "new_at": new["at"] if new is not None else None,
        "fields": [_field(f) for f in change.fields],
        "carries_changed_invoice": change.carries_changed_invoice,
        "old": old,
        "new": new,
    }


def _invoice_side(body: Any) -> dict[str, Any] | None:
    if body is None:
        return None
    return {key: body.get(key) for key in ("number", "status", "currency", "subtotal", "tax",
                                           "total", "issue_date", "due_date", "lines")}


def _invoice(invoice: InvoiceChange) -> dict[str, Any]:
    return {
        "id": invoice.id,
        "change": invoice.change,
        "late_fee": invoice.late_fee,
        "currency": invoice.currency,
        "total_change": format_money(invoice.total_change, invoice.currency),
        "old": _invoice_side(invoice.old),
        "new": _invoice_side(invoice.new),
        "lines": [{"change": "removed" if c.sign == "-" else "added", **c.line}
                  for c in invoice.lines],
        "fields": [_field(f) for f in invoice.fields],
        "actions": [_action(a) for a in invoice.actions],
    }


def _client(client: ClientPlan) -> dict[str, Any]:
    return {"client": client.client or None,
            "invoices": [_invoice(i) for i in client.invoices],
            "payments": [_action(a) for a in client.payments]}


def _side(side: Side) -> dict[str, Any]:
    return {"label": side.label, "rules_version": side.rules_version,
            "from": side.start.isoformat()}


def plan_json(plan: Plan) -> dict[str, Any]:
    """Return the plan as plain JSON values."""
    return {
        "changed": plan.has_changes,
        "base": _side(plan.base),
        "head": _side(plan.head),
        "events": {"source": plan.events_source, "count": plan.events_count},
        "until": plan.until.isoformat(),
        "summary": {
            **{name.replace(" ", "_"): {"added": t.added, "removed": t.removed,
                                        "changed": t.changed}
               for name, t in plan.tallies.items()},
            "renumbered": plan.renumbered,
            "billed": {b.currency: {"old": format_money(b.old, b.currency),
                                    "new": format_money(b.new, b.currency),
                                    "change": format_money(b.change, b.currency)}
                       for b in plan.billed},
            "earliest_change": (plan.earliest_change.isoformat()
                                if plan.earliest_change else None),
        },
        "clients": [_client(c) for c in plan.clients],
        "rejected_events": {"newly": list(plan.newly_rejected),
                            "no_longer": list(plan.no_longer_rejected),
                            "both": list(plan.rejected_on_both)},
    }


def render_json(plan: Plan) -> str:
    return json.dumps(plan_json(plan), indent=2, ensure_ascii=False) + "\n"
