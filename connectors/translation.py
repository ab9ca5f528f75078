"""Vendor records into billflow events, one at a time, never a silent drop.

Every source translates a batch the same way: each record gets a label ("time_entry
636709355"), its event is built, and

    UnmappedRecord                  -> SourceProblem(label, what to fix)
    an error reading it (KeyError,  -> SourceProblem(label, the source's wording, or a plain
      TypeError, ValueError)           "billflow cannot read this record (...)")
    no event (a running timer, ...) -> nothing

so one bad record never stalls the rest of the batch.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

from connectors.sources import SourceProblem
from engine.errors import UnmappedRecord

__all__ = ["Translation", "translate_records", "READ_ERRORS"]

READ_ERRORS: tuple[type[Exception], ...] = (KeyError, TypeError, ValueError)
Record = TypeVar("Record")


@dataclass(frozen=True)
class Translation:
    """The events and problems a batch of vendor records became."""

    events: tuple[Mapping[str, Any], ...] = ()
    problems: tuple[SourceProblem, ...] = ()


def translate_records(records: Iterable[Record | SourceProblem],
                      label: Callable[[Record], str],
                      build: Callable[[Record, str], Mapping[str, Any] | None],
                      unreadable: Callable[[Exception], str] | None = None, *,
                      read_errors: tuple[type[Exception], ...] = READ_ERRORS) -> Translation:
    """Build each record's event with `build(record, label)`; return the events and problems.

    A record already found unreadable (a `SourceProblem`) stays a problem, in its place.
    A record whose building raises one of `read_errors` becomes a problem worded by
    `unreadable(error)` (by default, "billflow cannot read this record (...)"): a malformed
    record must not stall the records after it, nor hold the cursor back forever.
    """
    events: list[Mapping[str, Any]] = []
    problems: list[SourceProblem] = []
    word = unreadable or _cannot_read
    for record in records:
        if isinstance(record, SourceProblem):
            problems.append(record)
            continue
        name = label(record)
        try:
            event = build(record, name)
        except UnmappedRecord as exc:
            problems.append(SourceProblem(name, exc.message))
        except read_errors as exc:
            problems.append(SourceProblem(name, word(exc)))
        else:
            if event is not None:
                events.append(event)
    return Translation(tuple(events), tuple(problems))


def _cannot_read(exc: Exception) -> str:
    detail = f"no '{exc.args[0]}'" if isinstance(exc, KeyError) and exc.args else str(exc)
    return f"billflow cannot read this record ({detail or type(exc).__name__})"
