"""Log an issued invoice on an Asana task as a comment (a story), once per action.

Asana has no idempotency key, so the comment carries the action id on its last line and a
repeat looks before it writes: first the story gid kept in state under the action id, then
the task's comments for one carrying that line (a crash between Asana's reply and the state
write), and only then a new comment.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from connectors.asana.api import AsanaApi
from connectors.state import ConnectorState
from engine.model.money import display_money

__all__ = ["comment_text", "marker", "post_once"]


def marker(action_id: str) -> str:
    """Return the line that ties a comment to its action."""
    return f"billflow action {action_id}"


def _money(invoice: Mapping[str, Any], key: str) -> str:
    currency = str(invoice["currency"])
    return f"{display_money(Decimal(str(invoice[key])), currency)} {currency}"


def comment_text(action: Mapping[str, Any], invoice: Mapping[str, Any], client_name: str) -> str:
    """Return the comment: which invoice, its number, total, dates, and the action line."""
    number = invoice.get("number") or invoice["id"]
    lines = [f"Invoice {number} issued to {client_name} on {invoice.get('issue_date')}: "
             f"{_money(invoice, 'total')}, due {invoice.get('due_date')}."]
    for line in invoice.get("lines") or ():
        lines.append(f"- {line.get('description')}: {_money({**line, 'currency': invoice['currency']}, 'amount')}")
    lines.append(f"billflow invoice {invoice['id']}")
    lines.append(marker(str(action["id"])))
    return "\n".join(lines)


def post_once(api: AsanaApi, state: ConnectorState, task_gid: str, action_id: str,
              text: str) -> tuple[str, bool]:
    """Comment `text` on the task unless this action's comment exists; return (gid, created)."""
    kept = state.get(f"logged:{action_id}")
    if kept and kept.get("task") == task_gid:
        return str(kept["story"]), False
    line = marker(action_id)
    for story in api.pages(f"tasks/{task_gid}/stories",
                           doing=f"reading the comments of Asana task {task_gid}",
                           params={"opt_fields": "text,resource_subtype"}):
        if story.get("resource_subtype", "comment_added") == "comment_added" and \
                line in str(story.get("text") or "").splitlines():
            state.put(f"logged:{action_id}", {"task": task_gid, "story": str(story["gid"])})
            return str(story["gid"]), False
    created = api.data("POST", f"tasks/{task_gid}/stories",
                       doing=f"commenting on Asana task {task_gid}",
                       json={"data": {"text": text}})
    gid = str(created.get("gid"))
    state.put(f"logged:{action_id}", {"task": task_gid, "story": gid})
    return gid, True
