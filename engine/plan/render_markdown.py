"""The plan as a pull-request comment: a short summary, each client in a <details> block.

A comment has a size limit (GitHub's is 65,536 characters), so the rendering can be
capped: whole client blocks are kept while they fit, and a closing note says how many
were left out and where the full plan was written.
"""

from __future__ import annotations

from decimal import Decimal

from engine.plan.model import CATEGORIES, ClientPlan, InvoiceChange, Plan
from engine.plan.wording import (
    MARKS, action_runs, count, earliest_text, field_text, invoice_summary, line_text, money,
    only_renumbered, renumbering_text, signed,
)

__all__ = ["COMMENT_LIMIT", "render_markdown", "is_capped"]

COMMENT_LIMIT = 60_000
_LISTED_EVENTS = 20


def _escape(text: str) -> str:
    """Keep table cells and list items literal: no stray pipes, tags or emphasis."""
    return (text.replace("\\", "\\\\").replace("|", "\\|").replace("<", "&lt;")
            .replace("*", "\\*").replace("_", "\\_"))


def _head(plan: Plan) -> str:
    lines = [f"### billflow plan: {'changes' if plan.has_changes else 'no changes'}", "",
             f"`{plan.head.label}` (rules {plan.head.rules_version}) against "
             f"`{plan.base.label}` (rules {plan.base.rules_version}); "
             f"{count(plan.events_count, 'event')} from `{plan.events_source}` replayed "
             f"{plan.head.start} through {plan.until}.", ""]
    if not plan.has_changes:
        lines.append("Both rule sets decide the same actions from these events.")
        return "\n".join(lines) + "\n"
    lines += [f"**{earliest_text(plan)}**", "",
              "| | added | removed | changed |", "| --- | ---: | ---: | ---: |"]
    for name in CATEGORIES:
        tally = plan.tallies[name]
        lines.append(f"| {name} | {tally.added} | {tally.removed} | {tally.changed} |")
    lines.append(f"| renumbered invoices | | | {plan.renumbered} |")
    lines.append(f"| events rejected | {len(plan.newly_rejected)} | "
                 f"{len(plan.no_longer_rejected)} | |")
    moved = [b for b in plan.billed if b.change]
    lines.append("")
    if moved:
        lines += ["| billed | before | after | change |", "| --- | ---: | ---: | ---: |"]
        lines += [f"| {b.currency} | {money(b.old, b.currency)} | {money(b.new, b.currency)} | "
                  f"{signed(b.change, b.currency)} |" for b in moved]
    else:
        lines.append("Billed amounts do not change.")
    return "\n".join(lines) + "\n"


def _invoice_block(invoice: InvoiceChange) -> list[str]:
    currency = invoice.currency
    lines = [f"**{MARKS[invoice.change]} `{invoice.id}`** {_escape(invoice_summary(invoice))}",
             ""]
    diff: list[str] = []
    if invoice.change in ("added", "removed"):
        body = invoice.new if invoice.new is not None else invoice.old
        assert body is not None
        diff += [f"{MARKS[invoice.change]} {line_text(line, currency)}"
                 for line in body.get("lines", [])]
    diff += [f"{change.sign} {line_text(change.line, currency)}" for change in invoice.lines]
    if diff:
        lines += ["```diff", *diff, "```", ""]
    items = [f"- {_escape(field_text(field, currency))}" for field in invoice.fields]
    items += [f"- `{run.mark}` {_escape(run.text()[2:])}" for run in action_runs(invoice.actions)]
    if items:
        lines += [*items, ""]
    return lines


def _client_title(client: ClientPlan) -> str:
    kinds: dict[str, int] = {}
    for invoice in client.invoices:
        kinds[invoice.change] = kinds.get(invoice.change, 0) + 1
    parts = [f"{n} {kind}" for kind, n in kinds.items() if kind != "unchanged"]
    nets: dict[str, Decimal] = {}
    for invoice in client.invoices:
        nets[invoice.currency] = nets.get(invoice.currency, Decimal(0)) + invoice.total_change
    money_parts = [f"{c} {signed(v, c)}" for c, v in sorted(nets.items()) if v]
    if client.payments:
        parts.append(count(len(client.payments), "payment"))
    invoices = count(len(client.invoices), "invoice")
    summary = f"{invoices} ({', '.join(parts)})" if parts else invoices
    return summary + (f"; billed {', '.join(money_parts)}" if money_parts else "")


def _client_block(client: ClientPlan) -> str:
    name = client.client or "payments from unknown payers"
    lines = [f"<details><summary><b>{_escape(name)}</b>: {_escape(_client_title(client))}"
             "</summary>", ""]
    renumbered = [invoice for invoice in client.invoices if only_renumbered(invoice)]
    if renumbered:
        lines += [f"`#` {_escape(renumbering_text(renumbered)[2:])}", ""]
    for invoice in client.invoices:
        if not only_renumbered(invoice):
            lines += _invoice_block(invoice)
    if client.payments:
        lines += ["Payments:", ""]
        lines += [f"- `{run.mark}` {_escape(run.text()[2:])}"
                  for run in action_runs(client.payments)]
        lines.append("")
    lines += ["</details>", ""]
    return "\n".join(lines) + "\n"


def _events_block(plan: Plan) -> str:
    parts: list[str] = []
    for title, errors in (("Events the head rules reject", plan.newly_rejected),
                          ("Events the head rules now accept", plan.no_longer_rejected)):
        if not errors:
            continue
        shown = [f"- {_escape(error)}" for error in errors[:_LISTED_EVENTS]]
        if len(errors) > _LISTED_EVENTS:
            shown.append(f"- … and {len(errors) - _LISTED_EVENTS} more")
        parts.append(f"<details><summary><b>{title}</b>: {len(errors)}</summary>\n\n"
                     + "\n".join(shown) + "\n\n</details>\n")
    return "\n".join(parts)


def is_capped(plan: Plan, limit: int) -> bool:
    """Tell whether the full markdown plan is longer than `limit` characters."""
    return len(render_markdown(plan)) > limit


def render_markdown(plan: Plan, *, limit: int | None = None, full_plan: str | None = None) -> str:
    """Render the plan as markdown; beyond `limit` chars, cut whole clients and name `full_plan`."""
    head, events = _head(plan), _events_block(plan)
    blocks = [_client_block(client) for client in plan.clients]
    whole = "\n".join([head, *blocks, events]).rstrip("\n") + "\n"
    if limit is None or len(whole) <= limit:
        return whole
    where = f" The full plan is in `{full_plan}`." if full_plan else ""
    kept: list[str] = []
    budget = limit - len(head) - len(events) - 400 - len(where)
    for block in blocks:
        if len(block) + 1 > budget:
            break
        kept.append(block)
        budget -= len(block) + 1
    left_out = len(blocks) - len(kept)
    note = (f"> **This plan is longer than a pull-request comment allows: "
            f"{count(left_out, 'client')} of {len(blocks)} left out here.**{where}\n")
    text = "\n".join([head, *kept, note, events]).rstrip("\n") + "\n"
    return text[:limit]
