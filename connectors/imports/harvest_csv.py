"""Harvest's detailed time report export (CSV) into `time.approved` events.

Columns read (Harvest's layout; others are ignored): Date, Client, Project, Project Code,
Task, Notes, Hours, Billable?, Approved?, First Name, Last Name. Hours are decimal ("1.5")
or clock time ("1:30"), kept exact. A row marked `Approved? No` is passed over and said so.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from connectors.imports.csv_mapping import CsvMapping
from connectors.imports.events import exact_decimal, hours_from_seconds, time_approved
from connectors.imports.export import translate_export
from connectors.imports.rows import CsvRow, ImportResult, RowIds
from engine.ruleset.types import RuleSet

__all__ = ["import_harvest_csv", "REQUIRED"]

REQUIRED = (("Date",), ("Project",), ("Hours",), ("First Name",), ("Last Name",))
_YES = {"yes", "true", "y", "1"}


def parse_hours(text: str) -> Decimal:
    """Read Harvest hours, "1.5" or "1:30", exactly."""
    if ":" in text:
        hours, _, minutes = text.partition(":")
        if not (hours.strip().isdigit() and minutes.strip().isdigit() and int(minutes) < 60):
            raise ValueError(f"hours {text!r} are neither a number nor h:mm")
        return hours_from_seconds((int(hours) * 60 + int(minutes)) * 60)
    try:
        value = exact_decimal(text.replace(",", ""))
    except ValueError:
        raise ValueError(f"hours {text!r} are not a number") from None
    if value < 0:
        raise ValueError(f"hours {text!r} are negative")
    return value


def import_harvest_csv(text: str, source: str, rules: RuleSet, mapping: dict[str, Any],
                       at: str) -> ImportResult:
    """Return the events of a Harvest CSV export; bad rows as `source:LINE: message`."""
    return translate_export(text, source, rules, mapping, at, vendor="harvest",
                            label="Harvest", required=REQUIRED, event=_event,
                            skip=_not_approved)


def _not_approved(row: CsvRow) -> str | None:
    if row.get("Approved?") and row.get("Approved?").lower() not in _YES:
        return f"not approved in Harvest (Approved? is {row.get('Approved?')})"
    return None


def _event(row: CsvRow, mapper: CsvMapping, ids: RowIds, at: str) -> dict[str, Any]:
    record = "row"
    day = row.day("Date", "date")
    hours = parse_hours(row.get("Hours"))
    name = " ".join(part for part in (row.get("First Name"), row.get("Last Name")) if part)
    project, client = mapper.project(record, [row.get("Project Code"), row.get("Project")])
    person = mapper.person(record, name)
    task = row.get("Task") or None
    billable = row.get("Billable?").lower() in _YES if row.get("Billable?") else True
    event_id = ids.of([row.get("Date"), row.get("Client"), row.get("Project"), task or "",
                       row.get("Notes"), row.get("Hours"), name, row.get("Billable?")])
    return time_approved(event_id, at, client=client, project=project, person=person,
                         role=mapper.role(record, person, task), day=day, hours=hours,
                         billable=billable, task=task, notes=row.get("Notes") or None,
                         source_id=event_id)
