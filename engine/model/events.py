"""Events: validated against their JSON Schemas, then parsed into typed, immutable values.

Validation runs on the hot path (a year of agency history is millions of events), so the
schemas under `schemas/events/` are compiled to lean Python once per type
(`event_check`, proven equal to the schemas by a differential test) and dispatched on
`type`, instead of interpreted per event. The typed payloads are NamedTuples:
immutable like frozen dataclasses, but built at C speed. A line of approved time, most of
any history, first tries a fast path (`event_fastpath`) that decodes and type-checks it in
one pass; whatever that path is not sure of takes the general one, which words the errors.
"""

from __future__ import annotations

import json

try:  # orjson parses an event in about a third of the standard library's time
    from orjson import loads as _loads
except ImportError:  # pragma: no cover - orjson is a dependency; keep working without it
    _loads = json.loads
from collections.abc import Callable, Mapping
from datetime import date, datetime, timezone
from decimal import Decimal
from typing import Any, NamedTuple

from engine.errors import EventError
from engine.model.event_check import load_event_validators, schema_documents
from engine.model.event_fastpath import FastParser, compile_fast_parser
from engine.ruleset.schema_check import SCHEMA_ROOT, did_you_mean

__all__ = [
    "Event", "EVENT_TYPES", "parse_event", "parse_event_line",
    "TimeApproved", "TimeUnapproved", "ExpenseApproved", "MilestoneCompleted",
    "InvoiceApproved", "InvoiceFlagged", "InvoiceAdjusted", "InvoiceVoided",
    "InvoiceDisputed", "InvoiceUndisputed", "PaymentReceived", "PaymentAssigned",
    "RulesChanged", "AdjustmentLine",
]


class TimeApproved(NamedTuple):
    client: str
    project: str
    person: str
    role: str
    date: date
    hours: Decimal
    billable: bool
    task: str | None
    notes: str | None
    source_id: str | None


class TimeUnapproved(NamedTuple):
    source_id: str


class ExpenseApproved(NamedTuple):
    client: str
    project: str
    date: date
    amount: Decimal
    currency: str
    description: str
    billable: bool
    source_id: str | None


class MilestoneCompleted(NamedTuple):
    client: str
    engagement: str
    milestone: str
    completed_on: date | None


class InvoiceApproved(NamedTuple):
    invoice: str
    by: str
    comment: str | None


class InvoiceFlagged(NamedTuple):
    invoice: str
    by: str
    comment: str


class AdjustmentLine(NamedTuple):
    description: str
    quantity: Decimal
    unit_price: Decimal


class InvoiceAdjusted(NamedTuple):
    invoice: str
    by: str
    lines_add: tuple[AdjustmentLine, ...]
    lines_remove: tuple[str, ...]


class InvoiceVoided(NamedTuple):
    invoice: str
    by: str
    reason: str


class InvoiceDisputed(NamedTuple):
    invoice: str
    by: str
    reason: str


class InvoiceUndisputed(NamedTuple):
    invoice: str
    by: str
    comment: str | None


class PaymentReceived(NamedTuple):
    amount: Decimal
    currency: str
    date: date
    reference: str | None
    payer: str | None
    client: str | None
    source_id: str | None


class PaymentAssigned(NamedTuple):
    payment: str
    by: str
    invoice: str | None
    client: str | None


class RulesChanged(NamedTuple):
    version: str
    previous: str | None


class Event(NamedTuple):
    """One input: `at` is when it happened (in UTC); `origin` says where it came from."""

    id: str
    type: str
    at: datetime
    payload: Any
    origin: str = ""


_new = tuple.__new__  # builds a NamedTuple without its Python-level __new__
_MEMO_LIMIT = 4096


def _memo(convert: Callable[[str], Any]) -> Callable[[str], Any]:
    """Wrap a pure str -> immutable value conversion with a small, bounded memo.

    The same dates, hour values and approval instants recur across thousands of events;
    the memo hands back the value already made from the identical text. It never holds
    more than _MEMO_LIMIT entries (it is emptied when full), so memory stays flat.
    """
    memo: dict[str, Any] = {}
    get = memo.get

    def converted(text: str) -> Any:
        value = get(text)
        if value is None:
            value = convert(text)
            if len(memo) >= _MEMO_LIMIT:
                memo.clear()
            memo[text] = value
        return value
    converted.known = get  # type: ignore[attr-defined]  # the memo's look-up alone, for hot paths
    return converted


_d = _memo(date.fromisoformat)
_decimal = _memo(Decimal)
# A project or a task recurs across thousands of entries: the fast path hands on the first
# copy seen, so the entries kept in the state share it (and its hash, computed once).
_first_copy = _memo(lambda text: text)


def _utc_instant(text: str) -> datetime:
    # Engine time is UTC: instants sharing one tzinfo object compare and sort at C speed,
    # where two offsets cost a conversion per comparison. The agency's zone is applied
    # where a date or a wall time is asked for (AgencyCalendar.local_date, Step.local).
    return datetime.fromisoformat(text).astimezone(timezone.utc)


_instant = _memo(_utc_instant)
_known_instant = _instant.known  # type: ignore[attr-defined]


def _opt_date(text: str | None) -> date | None:
    return _d(text) if text else None


_known_day, _known_decimal = _d.known, _decimal.known  # type: ignore[attr-defined]


def _time_approved(p: Mapping[str, Any]) -> TimeApproved:
    # Most events of a history are approved time: the memos are read inline here.
    text = p["date"]
    day = _known_day(text) or _d(text)
    text = p["hours"]
    hours = _known_decimal(text)
    if hours is None:
        hours = _decimal(text)
    get = p.get
    return _new(TimeApproved, (
        p["client"], p["project"], p["person"], p["role"], day, hours, p["billable"],
        get("task"), get("notes"), get("source_id")))


# One parser per type: the schema has already vouched for shapes, so these only convert.
_PAYLOAD_PARSERS: dict[str, Callable[[Mapping[str, Any]], Any]] = {
    "time.approved": _time_approved,
    "time.unapproved": lambda p: TimeUnapproved(p["source_id"]),
    "expense.approved": lambda p: ExpenseApproved(
        p["client"], p["project"], _d(p["date"]), Decimal(p["amount"]), p["currency"],
        p["description"], p["billable"], p.get("source_id")),
    "milestone.completed": lambda p: MilestoneCompleted(
        p["client"], p["engagement"], p["milestone"], _opt_date(p.get("completed_on"))),
    "invoice.approved": lambda p: InvoiceApproved(p["invoice"], p["by"], p.get("comment")),
    "invoice.flagged": lambda p: InvoiceFlagged(p["invoice"], p["by"], p["comment"]),
    "invoice.adjusted": lambda p: InvoiceAdjusted(
        p["invoice"], p["by"],
        tuple(AdjustmentLine(line["description"], Decimal(line["quantity"]),
                             Decimal(line["unit_price"])) for line in p.get("lines_add") or ()),
        tuple(p.get("lines_remove") or ())),
    "invoice.voided": lambda p: InvoiceVoided(p["invoice"], p["by"], p["reason"]),
    "invoice.disputed": lambda p: InvoiceDisputed(p["invoice"], p["by"], p["reason"]),
    "invoice.undisputed": lambda p: InvoiceUndisputed(p["invoice"], p["by"], p.get("comment")),
    "payment.received": lambda p: PaymentReceived(
        Decimal(p["amount"]), p["currency"], _d(p["date"]), p.get("reference"), p.get("payer"),
        p.get("client"), p.get("source_id")),
    "payment.assigned": lambda p: PaymentAssigned(
        p["payment"], p["by"], p.get("invoice"), p.get("client")),
    "rules.changed": lambda p: RulesChanged(p["version"], p.get("previous")),
}
EVENT_TYPES = tuple(_PAYLOAD_PARSERS)


_checks: dict[str, Callable[[Any], str | None]] = {}


def _validators() -> dict[str, Callable[[Any], str | None]]:
    if not _checks:
        _checks.update(load_event_validators(SCHEMA_ROOT))
    return _checks


def _json_kind(value: Any) -> str:
    """How JSON calls the kind of a decoded value, for messages."""
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, dict):
        return "an object"
    return "an array" if isinstance(value, list) else "not a string"


def parse_event(data: Any, origin: str = "") -> Event:
    """Validate a decoded JSON object as an event; raise EventError saying what is wrong."""
    if not isinstance(data, dict):
        raise EventError(origin, None, "an event must be a JSON object")
    event_type = data.get("type")
    if type(event_type) is not str or event_type not in _PAYLOAD_PARSERS:
        if event_type is None:
            raise EventError(origin, None, "the event has no 'type'")
        if not isinstance(event_type, str):
            raise EventError(origin, None, f"the event's 'type' is {_json_kind(event_type)}, "
                                           "not a string such as 'time.approved'")
        raise EventError(origin, None, f"unknown event type '{event_type}'"
                                       f"{did_you_mean(str(event_type), EVENT_TYPES)}")
    problem = (_checks or _validators())[event_type](data)
    if problem is not None:
        raise EventError(origin, None, f"{event_type} event: {problem}")
    try:
        text = data["at"]
        at = _known_instant(text) or _instant(text)
        payload = _PAYLOAD_PARSERS[event_type](data["payload"])
    except (ValueError, ArithmeticError) as exc:
        raise EventError(origin, None, f"{event_type} event: {exc}") from None
    return _new(Event, (data["id"], event_type, at, payload, origin))


_FAST_TYPE = "time.approved"


def _no_fast_path(text: str | bytes, origin: str) -> None:
    return None


def fast_line_parser() -> FastParser | None:
    """The fast parser of time.approved lines, derived from its schema; None if it has none.

    It builds the Event `_time_approved` builds, from the same memos (checked equal by a
    differential test); a schema change it cannot follow leaves every line to the general
    path.
    """
    path = SCHEMA_ROOT / "events" / "v1" / f"{_FAST_TYPE}.json"
    return compile_fast_parser(
        _FAST_TYPE, json.loads(path.read_text(encoding="utf-8")), schema_documents(SCHEMA_ROOT),
        event=Event, payload=TimeApproved, at=_instant,
        convert={"date": _d, "hours": _decimal, "project": _first_copy, "task": _first_copy})


def _first_fast_line(text: str | bytes, origin: str) -> Event | None:
    """Compile the fast parser at the first line, not at import (loading rules imports
    this module too), then use it."""
    global _fast_line
    _fast_line = fast_line_parser() or _no_fast_path
    return _fast_line(text, origin)


_fast_line: FastParser = _first_fast_line


def parse_event_line(text: str | bytes, source: str, line: int) -> Event:
    """Parse one NDJSON line (text, or its UTF-8 bytes); errors name `source:line`."""
    origin = f"{source}:{line}"
    event = _fast_line(text, origin)
    if event is not None:
        return event
    return _parse_line(text, source, line, origin)


def _parse_line(text: str | bytes, source: str, line: int, origin: str) -> Event:
    """The general path of a line: orjson, the schema validator, the payload parser."""
    try:
        data = _loads(text)
    except ValueError as exc:
        raise EventError(source, line, f"not valid JSON ({exc})") from None
    try:
        return parse_event(data, origin)
    except EventError as exc:
        raise EventError(source, line, exc.message) from None

