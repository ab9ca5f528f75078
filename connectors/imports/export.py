"""A vendor's CSV export into events: the steps every importer shares.

    the header lacks a column        -> one error, `FILE: line 1: ...`, and no events
    a row the importer passes over   -> `FILE:LINE: skipped: why`
    a row that cannot be mapped/read -> `FILE:LINE: what to fix`; the other rows go through
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from connectors.imports.csv_mapping import CsvMapping
from connectors.imports.rows import CsvRow, ImportResult, RowIds, read_rows
from connectors.translation import translate_records
from engine.ruleset.types import RuleSet

__all__ = ["translate_export", "RowEvent"]

# Build one row's event: (row, mapping, event ids, the import instant) -> event.
RowEvent = Callable[[CsvRow, CsvMapping, RowIds, str], Mapping[str, Any]]


def translate_export(text: str, source: str, rules: RuleSet,
                     mapping: Mapping[str, Any] | None, at: str, *, vendor: str, label: str,
                     required: Sequence[Sequence[str]], event: RowEvent,
                     skip: Callable[[CsvRow], str | None] | None = None) -> ImportResult:
    """Return the events of `vendor`'s export (ids prefixed `<vendor>-csv`); bad rows as
    `source:LINE: message`, rows `skip` gives a reason for as skipped."""
    rows, problem = read_rows(text, required)
    if problem is not None:
        return ImportResult(errors=(f"{source}: {problem}",))
    mapper = CsvMapping(rules, vendor, label, mapping)
    ids = RowIds(f"{vendor}-csv")
    kept, skipped = [], []
    for row in rows:
        reason = skip(row) if skip is not None else None
        if reason is None:
            kept.append(row)
        else:
            skipped.append(f"{source}:{row.line}: skipped: {reason}")
    # A ValueError here says what is wrong with the row in the user's terms: shown as it is.
    found = translate_records(kept, lambda row: f"{source}:{row.line}",
                              lambda row, _: event(row, mapper, ids, at), str,
                              read_errors=(ValueError,))
    return ImportResult(found.events, tuple(str(problem) for problem in found.problems),
                        tuple(skipped))
