"""Snapshots of the engine state: one versioned JSON document, exact to the last digit.

The daemon writes a snapshot in the same transaction as the decisions it made and
restarts from the last one, so `load_state(dump_state(state))` must behave exactly as
`state` would have: every field of EngineState is written, Decimals as strings (their
exponent kept, so "39.620" stays "39.620"), dates in ISO form, aware datetimes in ISO
form with their offset (a zoneinfo time zone is kept by name: `...-05:00[America/New_York]`),
sets sorted, dicts in their insertion order (the engine iterates some of them), and the
timer queue as its live timers in firing order.

    {"format": 3,
     "layouts": {"Billable": ["key", "event", ...], "Invoice": [...], ...},
     "state": {"go_live": "2026-01-01", "clock": "...", "invoices": {...}, ...}}

Records (Billable, Invoice, Timer, ...) are written as arrays in field order, which keeps
a year's snapshot small; `layouts` names their fields, so a snapshot can be read by eye
and a record whose fields changed since it was written is refused instead of misread.
Every field is described once in the tables below; a field added to EngineState or to
one of its records without a line here makes `dump_state` refuse (see `snapshot_gaps`).
Adding that line changes what a snapshot holds, so it comes with a new FORMAT: an older
snapshot then raises StaleSnapshot (the daemon rebuilds the state from the event log), a
newer or damaged one a plain StoreError.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable
from datetime import date, datetime, timezone
from decimal import Decimal
from functools import lru_cache
from typing import Any, NamedTuple
from zoneinfo import ZoneInfo

from engine.core.digests import DigestSet
from engine.core.state import (MONTH_PREFIX_BITS, ApprovalWait, Billable, EngineState,
                               PeriodHours, Payment, RetainerEntry)
from engine.core.timers import Timer, TimerQueue
from engine.errors import StaleSnapshot, StoreError
from engine.model.invoice import Invoice, Line

__all__ = ["FORMAT", "dump_state", "load_state", "snapshot_gaps"]

FORMAT = 3  # 3: closing the books; 2: the remembered ids are XXH3 digests (BLAKE2b in 1)


class _Damaged(Exception):
    """A value that does not have the shape its field needs (reported as a StoreError)."""


class _Codec(NamedTuple):
    encode: Callable[[Any], Any]
    decode: Callable[[Any], Any]


def _expect(value: Any, kind: type, what: str) -> Any:
    if type(value) is not kind:
        raise _Damaged(f"expected {what}, found {type(value).__name__} {str(value)[:40]!r}")
    return value


def _scalar(kind: type, what: str) -> _Codec:
    def check(value: Any) -> Any:
        if type(value) is not kind:
            _expect(value, kind, what)
        return value
    return _Codec(check, check)


STR = _scalar(str, "a string")
INT = _scalar(int, "an integer")
BOOL = _scalar(bool, "true or false")

DECIMAL = _Codec(lambda v: str(_expect(v, Decimal, "a Decimal")),
                 lambda v: Decimal(_expect(v, str, "a decimal string")))
DATE = _Codec(lambda v: _expect(v, date, "a date").isoformat(),
              lambda v: date.fromisoformat(_expect(v, str, "an ISO date")))


def _encode_datetime(value: Any) -> str:
    zone = _expect(value, datetime, "a datetime").tzinfo
    if isinstance(zone, ZoneInfo) and zone.key:
        return f"{value.isoformat()}[{zone.key}]"
    if type(zone) is not timezone:
        raise _Damaged(f"expected an aware datetime, found {value!r}")
    return value.isoformat()


def _decode_datetime(value: Any) -> datetime:
    text = _expect(value, str, "an ISO datetime")
    if text.endswith("]"):
        text, _, key = text[:-1].partition("[")
        return datetime.fromisoformat(text).astimezone(ZoneInfo(key))
    parsed = datetime.fromisoformat(text)
    if parsed.tzinfo is None:
        raise _Damaged(f"expected a datetime with an offset, found {text!r}")
    return parsed


DATETIME = _Codec(_encode_datetime, _decode_datetime)

# The remembered-forever id sets hold 8-byte digests, written sorted as hex.
DIGESTS = _Codec(
    lambda v: sorted(d.hex() for d in _expect(v, DigestSet, "a DigestSet")),
    lambda v: DigestSet(_digest_of(d) for d in _list(v)))


MONTH_DIGESTS = _Codec(
    DIGESTS.encode,
    lambda v: DigestSet((_digest_of(d) for d in _list(v)), prefix_bits=MONTH_PREFIX_BITS))

# The digests logged for a month whose books have not closed yet, one after the other.
DIGEST_LOG = _Codec(
    lambda v: bytes(_expect(v, bytearray, "a bytearray")).hex(),
    lambda v: _digest_log(_expect(v, str, "hex digests")))


def _digest_log(text: str) -> bytearray:
    found = bytearray.fromhex(text)
    if len(found) % 8:
        raise _Damaged(f"expected 16 hex digits a digest, found {len(text)} digits")
    return found


def _digest_of(value: Any) -> bytes:
    found = bytes.fromhex(_expect(value, str, "a hex digest"))
    if len(found) != 8:
        raise _Damaged(f"expected 16 hex digits, found {value!r}")
    return found


def _list(value: Any) -> list[Any]:
    return _expect(value, list, "a JSON array")


def optional(codec: _Codec) -> _Codec:
    return _Codec(lambda v: None if v is None else codec.encode(v),
                  lambda v: None if v is None else codec.decode(v))


def tuple_of(codec: _Codec) -> _Codec:
    return _Codec(lambda v: [codec.encode(x) for x in _expect(v, tuple, "a tuple")],
                  lambda v: tuple(codec.decode(x) for x in _list(v)))


def list_of(codec: _Codec) -> _Codec:
    return _Codec(lambda v: [codec.encode(x) for x in _expect(v, list, "a list")],
                  lambda v: [codec.decode(x) for x in _list(v)])


def set_of(codec: _Codec) -> _Codec:
    return _Codec(lambda v: [codec.encode(x) for x in sorted(_expect(v, set, "a set"))],
                  lambda v: {codec.decode(x) for x in _list(v)})


def row(*codecs: _Codec) -> _Codec:
    """A fixed-length tuple of differently typed items, such as (date, count)."""
    def encode(value: Any) -> list[Any]:
        if len(_expect(value, tuple, "a tuple")) != len(codecs):
            raise _Damaged(f"expected {len(codecs)} items, found {value!r}")
        return [c.encode(x) for c, x in zip(codecs, value)]

    def decode(value: Any) -> tuple[Any, ...]:
        if len(_list(value)) != len(codecs):
            raise _Damaged(f"expected {len(codecs)} items, found {value!r}")
        return tuple(c.decode(x) for c, x in zip(codecs, value))
    return _Codec(encode, decode)


def dict_of(codec: _Codec) -> _Codec:
    """A dict with string keys, kept in insertion order."""
    def encode(value: Any) -> dict[str, Any]:
        return {_expect(k, str, "a string key"): codec.encode(x)
                for k, x in _expect(value, dict, "a dict").items()}

    def decode(value: Any) -> dict[str, Any]:
        return {k: codec.decode(x) for k, x in _expect(value, dict, "a JSON object").items()}
    return _Codec(encode, decode)


def pairs_of(key: _Codec, codec: _Codec) -> _Codec:
    """A dict with non-string keys, as [key, value] pairs in insertion order."""
    return _Codec(
        lambda v: [[key.encode(k), codec.encode(x)]
                   for k, x in _expect(v, dict, "a dict").items()],
        lambda v: {key.decode(k): codec.decode(x) for k, x in map(_pair, _list(v))})


def _pair(value: Any) -> tuple[Any, Any]:
    if len(_list(value)) != 2:
        raise _Damaged(f"expected a [key, value] pair, found {value!r}")
    return value[0], value[1]


def _field_names(kind: type) -> tuple[str, ...]:
    if dataclasses.is_dataclass(kind):
        # A field its constructor does not take is a cache (Invoice's rendering), not state.
        return tuple(f.name for f in dataclasses.fields(kind) if f.init)
    return tuple(kind._fields)  # a NamedTuple


class _Record(NamedTuple):
    kind: type
    fields: dict[str, _Codec]


RECORDS: dict[str, _Record] = {}


def record(kind: type, /, **fields: _Codec) -> _Codec:
    """A NamedTuple or dataclass, as an array in the order of `fields` (its layout)."""
    RECORDS[kind.__name__] = _Record(kind, fields)
    names = tuple(fields)
    codecs = tuple(fields.values())

    def encode(value: Any) -> list[Any]:
        _expect(value, kind, f"a {kind.__name__}")
        items = value if isinstance(value, tuple) else [getattr(value, n) for n in names]
        return [c.encode(x) for c, x in zip(codecs, items)]

    def decode(value: Any) -> Any:
        if len(_list(value)) != len(codecs):
            raise _Damaged(f"a {kind.__name__} needs {len(codecs)} fields, found {value!r}")
        return kind(**{name: c.decode(x) for name, c, x in zip(names, codecs, value)})
    return _Codec(encode, decode)


OPT_STR = optional(STR)
OPT_DATE = optional(DATE)

BILLABLE = record(
    Billable, key=STR, event=STR, kind=STR, date=DATE, project=STR, person=OPT_STR,
    role=OPT_STR, task=OPT_STR, hours=DECIMAL, amount=DECIMAL, description=STR,
    approved_at=DATETIME)
RETAINER_ENTRY = record(RetainerEntry, engagement=STR, period=STR, hours=DECIMAL)
PERIOD_HOURS = record(PeriodHours, hours=DECIMAL, overage_billed=DECIMAL,
                      entries=dict_of(DECIMAL))
APPROVAL_WAIT = record(
    ApprovalWait, approver=STR, requested_at=DATETIME, revision=INT, route=STR,
    escalate_to=OPT_STR, reminded=BOOL, escalated=BOOL)
PAYMENT = record(
    Payment, id=STR, amount=DECIMAL, currency=STR, date=DATE, reference=OPT_STR,
    payer=OPT_STR, client=OPT_STR, at=DATETIME)
LINE = record(Line, description=STR, quantity=DECIMAL, unit_price=DECIMAL, amount=DECIMAL)
INVOICE = record(
    Invoice, id=STR, client=STR, engagement=STR, currency=STR, lines=tuple_of(LINE),
    subtotal=DECIMAL, tax=DECIMAL, total=DECIMAL, balance=DECIMAL, status=STR,
    number=OPT_STR, period_start=OPT_DATE, period_end=OPT_DATE, issue_date=OPT_DATE,
    due_date=OPT_DATE, tax_rate=optional(DECIMAL), tax_label=OPT_STR, trigger=STR,
    warnings=tuple_of(STR), revision=INT)
TIMER = record(Timer, fire_at=DATETIME, rank=INT, key=STR, kind=STR, subject=STR,
               strict=BOOL, detail=STR)


def _encode_timers(queue: Any) -> list[Any]:
    return [TIMER.encode(timer) for timer in _expect(queue, TimerQueue, "a TimerQueue").live()]


def _decode_timers(value: Any) -> TimerQueue:
    # Re-arming through the public API rebuilds the heap; the rank follows from the kind.
    queue = TimerQueue()
    for item in _list(value):
        timer: Timer = TIMER.decode(item)
        queue.arm(timer.fire_at, timer.kind, timer.subject, key=timer.key,
                  strict=timer.strict, detail=timer.detail)
    return queue


STATE_FIELDS: dict[str, _Codec] = {
    "go_live": DATE,
    "clock": optional(DATETIME),
    "seen_events": DIGESTS,
    "invoices": dict_of(INVOICE),
    "by_client": dict_of(list_of(STR)),
    "numbers": dict_of(STR),
    "open_ids": set_of(STR),
    "supporting": dict_of(tuple_of(BILLABLE)),
    "awaiting": dict_of(APPROVAL_WAIT),
    "flagged_by": dict_of(STR),
    "pool": dict_of(dict_of(BILLABLE)),
    "pool_index": dict_of(STR),
    "billed_entries": DIGESTS,
    "retainer_hours": dict_of(dict_of(PERIOD_HOURS)),
    "retainer_index": dict_of(RETAINER_ENTRY),
    "cursors": dict_of(row(INT, INT)),
    "milestones_done": set_of(STR),
    "sequences": dict_of(INT),
    "clients_invoiced": set_of(STR),
    "timers": _Codec(_encode_timers, _decode_timers),
    "credits": pairs_of(row(STR, STR), DECIMAL),
    "unmatched": dict_of(PAYMENT),
    "escalations_fired": dict_of(dict_of(row(DATE, INT))),
    "disputed": set_of(STR),
    "rules_version": STR,
    "books_closed_through": OPT_DATE,
    "seen_by_month": dict_of(MONTH_DIGESTS),
    "closing_entries": dict_of(DIGEST_LOG),
}


@lru_cache(maxsize=1)
def snapshot_gaps() -> tuple[str, ...]:
    """Return what the tables above miss of EngineState and its records (empty when whole)."""
    gaps = []
    state_names = _field_names(EngineState)
    if set(state_names) != set(STATE_FIELDS):
        missing = sorted(set(state_names) - set(STATE_FIELDS))
        extra = sorted(set(STATE_FIELDS) - set(state_names))
        gaps.append(f"EngineState: not written {missing}, no longer present {extra}")
    for name, rec in RECORDS.items():
        if _field_names(rec.kind) != tuple(rec.fields):
            gaps.append(f"{name}: fields are {list(_field_names(rec.kind))}, "
                        f"the snapshot writes {list(rec.fields)}")
    return tuple(gaps)


def _layouts() -> dict[str, list[str]]:
    return {name: list(rec.fields) for name, rec in RECORDS.items()}


def dump_state(state: EngineState) -> str:
    """Return the snapshot document of `state`; raise StoreError if it cannot be exact."""
    gaps = snapshot_gaps()
    if gaps:
        raise StoreError("the snapshot code does not cover the engine state: " + "; ".join(gaps))
    body = {}
    for name, codec in STATE_FIELDS.items():
        try:
            body[name] = codec.encode(getattr(state, name))
        except (_Damaged, TypeError, ValueError) as exc:
            raise StoreError(f"cannot snapshot the engine state: {name}: {exc}") from None
    document = {"format": FORMAT, "layouts": _layouts(), "state": body}
    return json.dumps(document, ensure_ascii=False, separators=(",", ":"))


def _remembered_go_live(document: dict[str, Any]) -> date | None:
    """Return the go-live a snapshot of an older format names, or None if it cannot be read."""
    try:
        return DATE.decode(document["state"]["go_live"])
    except (_Damaged, KeyError, TypeError, ValueError):
        return None


def load_state(text: str) -> EngineState:
    """Rebuild the state from a snapshot.

    Raise StaleSnapshot for an older format, StoreError for a newer one or any damage.
    """
    try:
        document = json.loads(text)
    except (TypeError, ValueError) as exc:
        raise StoreError(f"the engine snapshot is not valid JSON ({exc})") from None
    if not isinstance(document, dict) or "format" not in document:
        raise StoreError("the engine snapshot has no 'format' version")
    if type(document["format"]) is int and 1 <= document["format"] < FORMAT:
        raise StaleSnapshot(document["format"], _remembered_go_live(document))
    if document["format"] != FORMAT:
        raise StoreError(f"the engine snapshot is in format {document['format']!r}; this "
                         f"billflow reads format {FORMAT} only")
    if document.get("layouts") != _layouts():
        raise StoreError("the engine snapshot was written with other record layouts than "
                         f"format {FORMAT} has; it cannot be read field by field")
    body = document.get("state")
    if not isinstance(body, dict) or set(body) != set(STATE_FIELDS):
        found = sorted(body) if isinstance(body, dict) else []
        raise StoreError(f"the engine snapshot's state has fields {found}, "
                         f"expected {sorted(STATE_FIELDS)}")
    values = {}
    for name, codec in STATE_FIELDS.items():
        try:
            values[name] = codec.decode(body[name])
        except (_Damaged, KeyError, TypeError, ValueError, ArithmeticError) as exc:
            raise StoreError(f"the engine snapshot is damaged: {name}: {exc}") from None
    return EngineState(**values)
