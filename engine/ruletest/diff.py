"""Show a failed scenario as a diff: the expected actions against what the rules decided.

Each decided action is shown through the fields its expectation wrote (a field that
matches is printed as written, so only real differences show); an action nobody expected
is shown by its type, client, time, id and invoice; the two lists are then diffed.
"""

from __future__ import annotations

import difflib
import json
import re
from collections.abc import Mapping, Sequence
from typing import Any

from engine.model.actions import Action
from engine.ruletest.matching import ABSENT, Absent, action_value, at_matches, scalar_matches
from engine.ruletest.model import Expectation

__all__ = ["render_diff", "render_entries", "format_value"]

_PLAIN = re.compile(r"^[A-Za-z_][\w .,/:+@#()\[\]'-]*$")
_WORDS = {"null", "true", "false", "yes", "no", "on", "off", "~"}


def format_value(value: Any) -> str:
    """Render one scalar the way it would be written in a scenario file."""
    if isinstance(value, Absent):
        return "(absent)"
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        plain = (_PLAIN.match(value) and value.lower() not in _WORDS and ": " not in value
                 and not value.endswith(":") and " #" not in value)
        return value if plain else json.dumps(value, ensure_ascii=False)
    return str(value)


def _lines(value: Any, indent: str) -> list[str]:
    """Render a mapping's entries as YAML-like lines at `indent`."""
    out: list[str] = []
    for key, item in value.items():
        if isinstance(item, Mapping) and item:
            out.append(f"{indent}{key}:")
            out.extend(_lines(item, indent + "  "))
        elif isinstance(item, list) and any(isinstance(i, Mapping) for i in item):
            out.append(f"{indent}{key}:")
            out.extend(_list_lines(item, indent + "  "))
        else:
            out.append(f"{indent}{key}: {_inline(item)}")
    return out


def _list_lines(items: Sequence[Any], indent: str) -> list[str]:
    out: list[str] = []
    for item in items:
        if isinstance(item, Mapping) and item:
            body = _lines(item, indent + "  ")
            out.append(f"{indent}- {body[0].lstrip()}")
            out.extend(body[1:])
        else:
            out.append(f"{indent}- {_inline(item)}")
    return out


def _inline(value: Any) -> str:
    if isinstance(value, Mapping):
        return "{" + ", ".join(f"{k}: {_inline(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list):
        return "[" + ", ".join(_inline(v) for v in value) + "]"
    return format_value(value)


def render_entries(entries: Sequence[Mapping[str, Any]]) -> list[str]:
    """Render a list of actions (as mappings) as YAML-like lines."""
    return _list_lines(list(entries), "")


def _project(wanted: Any, got: Any) -> Any:
    """Return `got` seen through `wanted`: matching values as written, the rest as decided."""
    if isinstance(wanted, Mapping) and isinstance(got, Mapping):
        return {key: _project(value, got.get(key, ABSENT)) for key, value in wanted.items()}
    if isinstance(wanted, list) and isinstance(got, list) and len(wanted) == len(got):
        return [_project(w, g) for w, g in zip(wanted, got)]
    if not isinstance(wanted, (Mapping, list)) and scalar_matches(wanted, got):
        return wanted
    return got


def _seen_through(expectation: Expectation, action: Action) -> dict[str, Any]:
    seen: dict[str, Any] = {}
    for key, wanted in expectation.fields.items():
        got = action_value(action, key)
        if key == "at":
            seen[key] = wanted if at_matches(wanted, got) else got
        else:
            seen[key] = _project(wanted, got)
    return seen


def _unexpected(action: Action) -> dict[str, Any]:
    shown: dict[str, Any] = {"type": action.type, "client": action.client,
                             "at": action.at.isoformat(), "id": action.id}
    invoice = action.payload.get("invoice")
    if isinstance(invoice, Mapping):
        shown["invoice"] = {"id": invoice.get("id"), "total": invoice.get("total")}
    return shown


def render_diff(pairs: Sequence[tuple[Expectation | None, Action | None]]) -> str:
    """Return a unified diff of the expected actions against the decided ones they met."""
    want = render_entries([e.fields for e, _ in pairs if e is not None])
    got_entries = [(_seen_through(e, a) if e is not None else _unexpected(a))
                   for e, a in pairs if a is not None]
    got = render_entries(got_entries)
    context = max(len(want), len(got))
    lines = difflib.unified_diff(want, got, "expected", "got", n=context, lineterm="")
    return "\n".join(line for line in lines if not line.startswith("@@"))
