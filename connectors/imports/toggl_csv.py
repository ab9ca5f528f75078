"""Toggl Track's detailed report export (CSV) into `time.approved` events.

Columns read (Toggl's layout; others are ignored): User (or Member), Email, Client, Project,
Task, Description, Billable, Start date, Duration (h:mm:ss). Every row counts as approved:
export what is approved (e.g. filter the report by the approval tag). Hours are the
duration's seconds / 3600, cut to a millionth of an hour.
"""

from __future__ import annotations

from typing import Any

from connectors.imports.csv_mapping import CsvMapping
from connectors.imports.events import hours_from_seconds, time_approved
from connectors.imports.export import translate_export
from connectors.imports.rows import CsvRow, ImportResult, RowIds
from engine.ruleset.types import RuleSet

__all__ = ["import_toggl_csv", "REQUIRED"]

REQUIRED = (("User", "Member"), ("Project",), ("Start date",), ("Duration",))


def duration_seconds(text: str) -> int:
    """Read a Toggl duration, h:mm:ss (hours may pass 24)."""
    parts = text.strip().split(":")
    if len(parts) != 3 or not all(p.isdigit() for p in parts) or int(parts[1]) > 59 \
            or int(parts[2]) > 59:
        raise ValueError(f"duration {text!r} is not h:mm:ss")
    return int(parts[0]) * 3600 + int(parts[1]) * 60 + int(parts[2])


def import_toggl_csv(text: str, source: str, rules: RuleSet, mapping: dict[str, Any],
                     at: str) -> ImportResult:
    """Return the events of a Toggl CSV export; bad rows as `source:LINE: message`."""
    return translate_export(text, source, rules, mapping, at, vendor="toggl", label="Toggl",
                            required=REQUIRED, event=_event)


def _event(row: CsvRow, mapper: CsvMapping, ids: RowIds, at: str) -> dict[str, Any]:
    record = "row"
    day = row.day("Start date", "start date")
    seconds = duration_seconds(row.get("Duration"))
    name = row.get("User", "Member")
    project, client = mapper.project(record, [row.get("Project")])
    person = mapper.person(record, name, row.get("Email"))
    task = row.get("Task") or None
    billable = row.get("Billable").lower() in {"yes", "true", "1"} if row.get("Billable") else True
    event_id = ids.of([row.get("Start date"), row.get("Start time"), row.get("Client"),
                       row.get("Project"), task or "", row.get("Description"),
                       row.get("Duration"), name, row.get("Email"), row.get("Billable")])
    return time_approved(event_id, at, client=client, project=project, person=person,
                         role=mapper.role(record, person, task), day=day,
                         hours=hours_from_seconds(seconds), billable=billable, task=task,
                         notes=row.get("Description") or None, source_id=event_id)
