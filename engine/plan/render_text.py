"""The plan for a terminal: the summary first, then every change, client by client."""

from __future__ import annotations

from engine.plan.model import CATEGORIES, ClientPlan, InvoiceChange, Plan
from engine.plan.wording import (
    MARKS, action_runs, billed_text, count, earliest_text, field_text, invoice_summary,
    line_text, only_renumbered, renumbering_text, tally_text,
)

__all__ = ["render_text", "summary_lines"]

_INDENT = "      "


def _side_lines(plan: Plan) -> list[str]:
    width = max(len(plan.base.label), len(plan.head.label))
    return [
        f"  base    {plan.base.label.ljust(width)}  rules {plan.base.rules_version}  "
        f"from {plan.base.start}",
        f"  head    {plan.head.label.ljust(width)}  rules {plan.head.rules_version}  "
        f"from {plan.head.start}",
        f"  events  {plan.events_source}: {count(plan.events_count, 'event')}, "
        f"replayed through {plan.until}",
    ]


def summary_lines(plan: Plan) -> list[str]:
    """Return the summary rows: counts by category, billed amounts, the earliest change."""
    if not plan.has_changes:
        return ["  No changes: both rule sets decide the same actions from these events."]
    rows = [(name, tally_text(plan.tallies[name])) for name in CATEGORIES]
    rows.append(("renumbered", count(plan.renumbered, "invoice")))
    rows.append(("events", f"{len(plan.newly_rejected)} newly rejected, "
                           f"{len(plan.no_longer_rejected)} no longer rejected"))
    moved = [b for b in plan.billed if b.change]
    rows.append(("billed", "; ".join(billed_text(b) for b in moved) if moved else "no change"))
    width = max(len(name) for name, _ in rows)
    lines = [f"  {name.ljust(width)}  {text}" for name, text in rows]
    lines.append(f"  {earliest_text(plan)}")
    return lines


def _invoice_lines(invoice: InvoiceChange) -> list[str]:
    lines = [f"  {MARKS[invoice.change]} invoice {invoice.id}  {invoice_summary(invoice)}"]
    currency = invoice.currency
    if invoice.change in ("added", "removed"):
        body = invoice.new if invoice.new is not None else invoice.old
        assert body is not None
        sign = MARKS[invoice.change]
        lines += [f"{_INDENT}{sign} line  {line_text(line, currency)}"
                  for line in body.get("lines", [])]
    lines += [f"{_INDENT}{change.sign} line  {line_text(change.line, currency)}"
              for change in invoice.lines]
    lines += [f"{_INDENT}  {field_text(field, currency)}" for field in invoice.fields]
    lines += [f"{_INDENT}{run.text()}" for run in action_runs(invoice.actions)]
    return lines


def _client_lines(client: ClientPlan) -> list[str]:
    lines = [client.client or "(payments from unknown payers)"]
    renumbered = [invoice for invoice in client.invoices if only_renumbered(invoice)]
    if renumbered:
        lines.append(f"  {renumbering_text(renumbered)}")
    for invoice in client.invoices:
        if not only_renumbered(invoice):
            lines += _invoice_lines(invoice)
    if client.payments:
        lines.append("  payments")
        lines += [f"{_INDENT}{run.text()}" for run in action_runs(client.payments)]
    return lines


def render_text(plan: Plan) -> str:
    """Render the whole plan as plain text."""
    lines = [f"billflow plan: {plan.head.label} against {plan.base.label}", *_side_lines(plan),
             "", "Summary", *summary_lines(plan)]
    if plan.clients:
        lines += ["", "Changes  (+ added, - removed, ~ changed, # renumbered, "
                      "= same invoice, other actions)"]
        for client in plan.clients:
            lines += ["", *_client_lines(client)]
    for title, errors in (("Events the head rules reject (the base rules accepted them)",
                           plan.newly_rejected),
                          ("Events the head rules accept (the base rules rejected them)",
                           plan.no_longer_rejected),
                          ("Events both rule sets reject (not a change)", plan.rejected_on_both)):
        if errors:
            lines += ["", title, *(f"  {error}" for error in errors)]
    return "\n".join(lines) + "\n"
