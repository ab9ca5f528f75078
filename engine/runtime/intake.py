"""Intake: turn submitted text (JSON, a JSON array, NDJSON) into validated, stored events.

Every event is validated against its schema before it is stored; a bad one is reported
with its line (or array index) and the good ones around it are kept — bad input loses
nothing else. A repeated event id is accepted and ignored (idempotent intake).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime

try:  # orjson decodes a line in about a third of the standard library's time
    from orjson import loads as _loads
except ImportError:  # pragma: no cover - orjson is a dependency; keep working without it
    _loads = json.loads

from engine.errors import EventError
from engine.model.events import parse_event
from engine.runtime.store import IncomingEvent, Store

__all__ = ["IntakeResult", "split_submission", "ingest_text"]


@dataclass(frozen=True)
class IntakeResult:
    """How a submission went: stored, repeated, and the errors of the rejected ones."""

    accepted: int = 0
    duplicates: int = 0
    errors: tuple[str, ...] = field(default_factory=tuple)

    def as_json(self) -> dict[str, object]:
        return {"accepted": self.accepted, "duplicates": self.duplicates,
                "errors": list(self.errors)}


def split_submission(text: str, source: str) -> list[tuple[str, object]]:
    """Return (where, decoded object or EventError) for each event in `text`."""
    return [(where, item) for where, item, _ in _split(text, source)]


def _split(text: str, source: str) -> list[tuple[str, object, str | None]]:
    """Like `split_submission`, with each NDJSON line's own text (None for other shapes)."""
    stripped = text.strip()
    if not stripped:
        return []
    if stripped[0] in "[{":
        try:
            whole = _loads(stripped)  # one object (perhaps pretty-printed) or an array
        except ValueError:
            whole = None  # NDJSON, or broken: read line by line below
        if isinstance(whole, list):
            return [(f"{source}[{i}]", item, None) for i, item in enumerate(whole)]
        if whole is not None:
            return [(source, whole, None)]
    pieces: list[tuple[str, object, str | None]] = []
    for number, line in enumerate(stripped.splitlines(), start=1):
        line = line.strip()
        if not line:
            continue
        where = f"{source}:{number}"
        try:
            pieces.append((where, _loads(line), line))
        except ValueError as exc:
            pieces.append((where, EventError(source, number, f"not valid JSON ({exc})"), None))
    return pieces


def ingest_text(store: Store, text: str, source: str, received_at: datetime) -> IntakeResult:
    """Validate and store every event in `text`; report the ones that are not events."""
    incoming: list[IncomingEvent] = []
    errors: list[str] = []
    for where, item, line in _split(text, source):
        if isinstance(item, EventError):
            errors.append(str(item))
            continue
        try:
            event = parse_event(item, where)
        except EventError as exc:
            errors.append(f"{where}: {exc.message}")
            continue
        # An NDJSON line is kept as sent; an array's items and a lone object as compact JSON.
        body = line if line is not None else json.dumps(item, separators=(",", ":"))
        # `at` as the sender wrote it (the parsed event holds it in UTC, the engine's time).
        incoming.append(IncomingEvent(id=event.id, type=event.type, at=item["at"],
                                      body=body, source=where, received_at=received_at))
    new = store.append_events(incoming) if incoming else []
    accepted = sum(1 for flag in new if flag)
    return IntakeResult(accepted, len(new) - accepted, tuple(errors))
