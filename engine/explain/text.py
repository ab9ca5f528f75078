"""The lines every explanation starts with, shared by the store and the replay explain."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = ["action_header", "timer_cause", "FIELD_INDENT"]

FIELD_INDENT = " " * 12


def action_header(action: Mapping[str, Any]) -> list[str]:
    """Return the action's id, when and for whom it was decided, its rule and rules version."""
    return [f"{action['id']}",
            f"  decided   {action['at']} for client {action['client'] or '-'}",
            f"  rule      {action['rule'] or '(reconciliation)'}",
            f"  rules     version {action['rules_version']}"]


def timer_cause(cause: str) -> str | None:
    """Describe a `timer:<key>@<instant>` cause in words, or None for another cause."""
    if not cause.startswith("timer:"):
        return None
    key, _, instant = cause[len("timer:"):].rpartition("@")
    kind = key.split(":", 1)[0]
    what = {"bill": "billing day", "flush": "close of an on-approval timesheet",
            "approval": "approval timer", "reminder": "reminder step",
            "day": "daily escalation check"}.get(kind, "timer")
    return f"  because   the clock reached {instant}: {what} ({key})"
