"""Log an issued invoice in Productive as a comment on the budget (deal) it bills, once per action.

Productive's documented API takes comments on budgets and deals (`deal` relationship) and on
companies; it has no idempotency key and no documented way to list a deal's comments. The
comment id is therefore kept in state under the action id, and a repeat of the action finds
it there. As with e-mail, only a crash between Productive's reply and that one local write
could log twice.

Where: `map.log_deals` for the engagement, then for the client; else the budget `map.budgets`
sends to one of the engagement's projects; else the client's company
(`external_ids.productive`).
"""

from __future__ import annotations

import html
import json
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from connectors.productive.api import ProductiveApi
from connectors.state import ConnectorState
from engine.model.money import display_money
from engine.ruleset.types import RuleSet

__all__ = ["LogTarget", "comment_body", "log_target", "post_once"]

LogTarget = tuple[str, str]  # (relationship: "deal" | "company", id)


def _money(amount: Any, currency: str) -> str:
    return f"{display_money(Decimal(str(amount)), currency)} {currency}"


def comment_body(action: Mapping[str, Any], invoice: Mapping[str, Any], client_name: str) -> str:
    """Return the comment (Productive renders comments as HTML): invoice, total, dates, lines."""
    currency = str(invoice["currency"])
    number = invoice.get("number") or invoice["id"]
    lines = [f"Invoice {number} issued to {client_name} on {invoice.get('issue_date')}: "
             f"{_money(invoice['total'], currency)}, due {invoice.get('due_date')}."]
    lines += [f"- {line.get('description')}: {_money(line.get('amount', '0'), currency)}"
              for line in invoice.get("lines") or ()]
    lines.append(f"billflow invoice {invoice['id']} (action {action['id']})")
    return "<br>".join(html.escape(line) for line in lines)


def log_target(rules: RuleSet, mapping: Mapping[str, Any], invoice: Mapping[str, Any]
               ) -> LogTarget | None:
    """Return where to log `invoice`, or None when nothing names a place."""
    client, engagement = str(invoice["client"]), str(invoice["engagement"])
    log_deals = {str(k): str(v) for k, v in (mapping.get("log_deals") or {}).items()}
    for key in (f"{client}/{engagement}", client):
        if key in log_deals:
            return "deal", log_deals[key]
    for deal, project in sorted((mapping.get("budgets") or {}).items(), key=lambda i: str(i[0])):
        if rules.projects.get(str(project)) == (client, engagement):
            return "deal", str(deal)
    company = rules.clients[client].external_ids.get("productive") if client in rules.clients \
        else None
    return ("company", str(company)) if company is not None else None


def post_once(api: ProductiveApi, state: ConnectorState, target: LogTarget, action_id: str,
              body: str) -> tuple[str, bool]:
    """Post the comment unless this action's is kept in state; return (comment id, created)."""
    key = f"logged:{action_id}"
    kept = state.get(key)
    if kept and kept.get("comment"):
        return str(kept["comment"]), False
    relationship, target_id = target
    kind = "deals" if relationship == "deal" else "companies"
    document = {"data": {"type": "comments", "attributes": {"body": body},
                         "relationships": {relationship: {"data": {"type": kind,
                                                                   "id": target_id}}}}}
    # Sent as bytes: the JSON:API media type set on the client must not become application/json.
    created = api.json("POST", "comments",
                       doing=f"commenting on Productive {relationship} {target_id}",
                       content=json.dumps(document).encode("utf-8"))
    comment = str(((created or {}).get("data") or {}).get("id") or "") or "unknown"
    state.put(key, {relationship: target_id, "comment": comment})
    return comment, True
