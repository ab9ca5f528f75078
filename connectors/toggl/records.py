"""Toggl Track time entries into billflow events (or source problems).

Entries come from two places with two shapes: rows of the Reports API detailed report
(`tag_ids`, and the entries of a row under `time_entries` with `seconds`) and Track API v9
objects in webhooks (`tags` by name, `duration`). Both become a `TogglEntry` first.

    stopped entry, approved (carries `approved_tag`; with no tag configured: billable)
        -> time.approved  id toggl:time_entry:<id>:<at>, source_id toggl:time_entry:<id>
    entry once approved, now without the tag, or deleted
        -> time.unapproved  id toggl:time_entry:<id>:unapproved:<at>

`at` is Toggl's last-change instant, so an edit after approval is a new event for the same
`source_id` (billflow replaces the unbilled version). A running entry is passed over.
The work date is the entry's start in the Agency's timezone; hours are its seconds / 3600.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, tzinfo
from typing import Any

from connectors.imports.events import (
    ApprovalLedger, hours_from_seconds, instant, instant_text, time_approved, time_unapproved,
)
from connectors.mapping import VendorMapping
from connectors.sources import SourceProblem
from connectors.translation import READ_ERRORS, Translation, translate_records
from engine.errors import UnmappedRecord

__all__ = ["TogglEntry", "TogglRecords", "report_entries"]


def _number(value: Any) -> int | None:
    return int(value) if isinstance(value, int) and not isinstance(value, bool) else None


@dataclass(frozen=True)
class TogglEntry:
    """One Toggl time entry, whichever API it came from."""

    id: int
    project_id: int | None
    user_id: int | None
    task_id: int | None
    billable: bool
    description: str | None
    start: datetime
    seconds: int | None  # None or negative while the timer runs
    at: datetime
    approved: bool
    deleted: bool = False

    @property
    def running(self) -> bool:
        return self.seconds is None or self.seconds < 0

    @classmethod
    def from_report(cls, row: Mapping[str, Any], item: Mapping[str, Any],
                    approved_tag_id: int | None) -> "TogglEntry":
        """Build one entry of a detailed-report row."""
        billable = row.get("billable") is True
        tags = row.get("tag_ids") or []
        stop = item.get("stop")
        return cls(
            id=int(item["id"]), project_id=_number(row.get("project_id")),
            user_id=_number(row.get("user_id")), task_id=_number(row.get("task_id")),
            billable=billable, description=row.get("description") or None,
            start=instant(item["start"]),
            seconds=_number(item.get("seconds")) if stop else None,
            at=instant(item.get("at") or item.get("stop") or item["start"]),
            approved=(approved_tag_id in tags) if approved_tag_id is not None else billable)

    @classmethod
    def from_track(cls, entry: Mapping[str, Any], approved_tag: str | None, *,
                   deleted: bool = False) -> "TogglEntry":
        """Build an entry from a Track API v9 object (a webhook's payload)."""
        billable = entry.get("billable") is True
        tags = [str(tag) for tag in entry.get("tags") or []]
        return cls(
            id=int(entry["id"]),
            project_id=_number(entry.get("project_id", entry.get("pid"))),
            user_id=_number(entry.get("user_id", entry.get("uid"))),
            task_id=_number(entry.get("task_id", entry.get("tid"))),
            billable=billable, description=entry.get("description") or None,
            start=instant(entry["start"]),
            seconds=_number(entry.get("duration")) if entry.get("stop") else None,
            at=instant(entry.get("at") or entry["start"]),
            approved=(approved_tag in tags) if approved_tag is not None else billable,
            deleted=deleted or bool(entry.get("server_deleted_at")))


class TogglRecords:
    """Translate Toggl entries through a mapping, remembering approvals in a ledger."""

    def __init__(self, mapping: VendorMapping, ledger: ApprovalLedger,
                 user_email: Callable[[Any], str | None], zone: tzinfo) -> None:
        self.mapping = mapping
        self.ledger = ledger
        self.user_email = user_email
        self.zone = zone

    def translate(self, entries: Iterable[TogglEntry | SourceProblem]) -> Translation:
        """Translate entries; one already found unreadable stays a problem."""
        return translate_records(entries, lambda entry: f"time_entry {entry.id}", self.entry,
                                 _cannot_read)

    def entry(self, entry: TogglEntry, label: str) -> Mapping[str, Any] | None:
        """Return the event an entry becomes now, if any."""
        source_id = f"toggl:time_entry:{entry.id}"
        version = instant_text(entry.at)
        if entry.deleted or not entry.approved:
            if self.ledger.withdraw(source_id, version):
                return time_unapproved(f"{source_id}:unapproved:{version}", version, source_id)
            return None
        if entry.running:
            return None
        if entry.project_id is None:
            raise UnmappedRecord(label, "the entry has no Toggl project, so no billflow project")
        project, client = self.mapping.project(label, entry.project_id)
        if entry.user_id is None:
            raise ValueError("it names no user")
        person = self.mapping.person(label, entry.user_id, self.user_email(entry.user_id))
        role = self.mapping.role(label, person, str(entry.task_id) if entry.task_id else None)
        event = time_approved(
            f"{source_id}:{version}", version, client=client, project=project, person=person,
            role=role, day=entry.start.astimezone(self.zone).date(),
            hours=hours_from_seconds(entry.seconds or 0), billable=entry.billable,
            notes=entry.description, source_id=source_id)
        self.ledger.approved(source_id)
        return event


def report_entries(rows: Iterable[Mapping[str, Any]],
                   approved_tag_id: int | None) -> list[TogglEntry | SourceProblem]:
    """Return the entries of detailed-report rows; one that cannot be read is a problem."""
    found: list[TogglEntry | SourceProblem] = []
    for row in rows:
        for item in row.get("time_entries") or []:
            try:
                found.append(TogglEntry.from_report(row, item, approved_tag_id))
            except READ_ERRORS as exc:
                found.append(SourceProblem(f"time_entry {item.get('id')}", _cannot_read(exc)))
    return found


def _cannot_read(exc: Exception) -> str:
    return f"Toggl sent an entry billflow cannot read ({exc})"
