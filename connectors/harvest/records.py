"""Harvest time entries and expenses into billflow events (or source problems).

    time entry, approved (`is_closed`, or `approval_status: approved`)
        -> time.approved  id harvest:time_entry:<id>:<updated_at>, source_id harvest:time_entry:<id>
    time entry once approved, now open again (re-opened, or its approval withdrawn)
        -> time.unapproved  id harvest:time_entry:<id>:unapproved:<updated_at>
    expense, approved
        -> expense.approved  id harvest:expense:<id>:<updated_at>, source_id harvest:expense:<id>
    expense once approved, now open again
        -> a source problem: billflow has no event that withdraws an expense

An approved entry edited later has a new `updated_at`, so a new event id with the same
`source_id`: billflow replaces the earlier version while it is unbilled (an entry already on
an invoice stays as billed). A running timer is never approved and is passed over.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import date, datetime
from typing import Any

from connectors.imports.events import (
    ApprovalLedger, exact_decimal, expense_approved, time_approved, time_unapproved,
)
from connectors.mapping import VendorMapping
from connectors.translation import Translation, translate_records
from engine.errors import UnmappedRecord

__all__ = ["HarvestRecords", "is_approved", "updated_at"]


def is_approved(raw: Mapping[str, Any]) -> bool:
    """True when Harvest's Timesheet Approval closed the record."""
    return raw.get("is_closed") is True or raw.get("approval_status") == "approved"


def updated_at(raw: Mapping[str, Any]) -> datetime:
    """Return the record's `updated_at` as an aware datetime."""
    return datetime.fromisoformat(str(raw["updated_at"]))


def _name(raw: Mapping[str, Any], key: str) -> str | None:
    part = raw.get(key)
    name = part.get("name") if isinstance(part, Mapping) else None
    return str(name) if name else None


def _id(raw: Mapping[str, Any], key: str) -> Any:
    part = raw.get(key)
    if not isinstance(part, Mapping) or part.get("id") is None:
        raise ValueError(f"it has no {key}")
    return part["id"]


class HarvestRecords:
    """Translate Harvest records through a mapping, remembering approvals in a ledger."""

    def __init__(self, mapping: VendorMapping, ledger: ApprovalLedger,
                 user_email: Callable[[Any], str | None]) -> None:
        self.mapping = mapping
        self.ledger = ledger
        self.user_email = user_email  # Harvest user id -> e-mail (list entries carry none)

    def translate(self, kind: str, records: tuple[Mapping[str, Any], ...]) -> Translation:
        """Translate records of list `kind` ("time_entries" or "expenses")."""
        one = self.time_entry if kind == "time_entries" else self.expense
        noun = "time_entry" if kind == "time_entries" else "expense"
        return translate_records(records, lambda raw: f"{noun} {raw.get('id')}", one,
                                 _cannot_read)

    def time_entry(self, raw: Mapping[str, Any], label: str) -> Mapping[str, Any] | None:
        """Return the event a time entry becomes now, if any."""
        source_id = f"harvest:time_entry:{raw['id']}"
        version = str(raw["updated_at"])
        at = updated_at(raw).isoformat()
        if raw.get("is_running") is True:
            return None
        if not is_approved(raw):
            if self.ledger.withdraw(source_id, version):
                return time_unapproved(f"{source_id}:unapproved:{version}", at, source_id)
            return None
        project, client = self._project(raw, label)
        user_id = _id(raw, "user")
        person = self.mapping.person(label, user_id, self._email(user_id))
        task = _name(raw, "task")
        hours = exact_decimal(raw["hours"])
        if hours < 0:
            raise ValueError(f"negative hours {hours}")
        event = time_approved(
            f"{source_id}:{version}", at, client=client, project=project, person=person,
            role=self.mapping.role(label, person, task), day=date.fromisoformat(raw["spent_date"]),
            hours=hours, billable=raw.get("billable") is True, task=task,
            notes=str(raw["notes"]) if raw.get("notes") else None, source_id=source_id)
        self.ledger.approved(source_id)
        return event

    def expense(self, raw: Mapping[str, Any], label: str) -> Mapping[str, Any] | None:
        """Return the event an expense becomes now, if any (a withdrawal is a problem)."""
        source_id = f"harvest:expense:{raw['id']}"
        version = str(raw["updated_at"])
        if not is_approved(raw):
            if self.ledger.withdraw(source_id, version):
                raise UnmappedRecord(label, "re-opened in Harvest after billflow took it as "
                                            "approved; billflow has no event that withdraws an "
                                            "expense: take it off the draft by hand")
            return None
        project, client = self._project(raw, label)
        client_part = raw.get("client")
        currency = (client_part.get("currency") if isinstance(client_part, Mapping) else None) \
            or self.mapping.rules.clients[client].currency
        category = _name(raw, "expense_category")
        notes = str(raw["notes"]).strip() if raw.get("notes") else ""
        description = ": ".join(part for part in (category, notes) if part) or "Expense"
        event = expense_approved(
            f"{source_id}:{version}", updated_at(raw).isoformat(), client=client,
            project=project, day=date.fromisoformat(raw["spent_date"]),
            amount=exact_decimal(raw["total_cost"]), currency=str(currency),
            description=description, billable=raw.get("billable") is True, source_id=source_id)
        self.ledger.approved(source_id)
        return event

    def _project(self, raw: Mapping[str, Any], label: str) -> tuple[str, str]:
        """Return (project, client); the client follows the project, and must agree with Harvest."""
        project, client = self.mapping.project(label, _id(raw, "project"), _name(raw, "project"))
        expected = self.mapping.rules.clients[client].external_ids.get("harvest")
        part = raw.get("client")
        given = part.get("id") if isinstance(part, Mapping) else None
        if expected is not None and given is not None and str(expected) != str(given):
            raise UnmappedRecord(label, f"map.projects sends it to '{project}' of client "
                                        f"'{client}' (external_ids.harvest {expected}), but "
                                        f"Harvest files it under client {given}")
        return project, client

    def _email(self, user_id: Any) -> str | None:
        return self.user_email(user_id)


def _cannot_read(exc: Exception) -> str:
    reason = f"no {exc.args[0]}" if isinstance(exc, KeyError) else str(exc)
    return f"Harvest sent a record billflow cannot read ({reason})"
