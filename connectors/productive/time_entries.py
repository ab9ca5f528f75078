"""Productive time entries as billflow events: `time.approved`, and `time.unapproved` when withdrawn.

Placement of one entry (its `included` person, service and budget):

- project: `map.budgets[<budget id>]`, else `map.projects[<Productive project id>]` (the entry's
  own project relationship, else its budget's); the client is the one whose engagement lists
  that billflow project;
- person: `map.people[<person id>]`, else the Agency person with the same e-mail;
- role: `map.roles[<service name>]`, else the person's first role; the service name is also
  the entry's `task`.

Hours. Productive counts minutes; hours = minutes / 60. The decimal is exact whenever it
terminates (every multiple of 3 minutes: 15 min = "0.25", 40 min is not); otherwise it is cut,
not rounded, after 8 places (20 min = "0.33333333"). Cutting keeps an increment round-up
(`increment_minutes`) from ever crossing into the next increment, and the shortfall, under
0.00004 s per entry, moves no amount by a cent. `billable_time` is what is billed: an entry
with billable time is billable for those minutes; one with none is reported non-billable
with its full `time`.

Event ids are derived from the vendor record: `productive:time_entry:<id>:approved:<digest>`,
the digest covering the approval instant and everything the event says, so a re-fetch is a
repeat while an approved entry edited (or re-approved) replaces the earlier version. An entry
billflow saw approved that is no longer approved (or is gone) becomes
`productive:time_entry:<id>:unapproved:<digest of that approval>`.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from decimal import ROUND_DOWN, Decimal
from typing import Any

from connectors.mapping import VendorMapping
from connectors.productive.api import JsonApiPage, related_id
from engine.errors import UnmappedRecord
from engine.ruleset.types import RuleSet

__all__ = ["hours_of", "source_id", "EntryTranslator", "approved_event_id",
           "unapproved_event_id"]

_PLACES = Decimal("0.00000001")
_SIXTY = Decimal(60)


def hours_of(minutes: Any) -> str:
    """Return `minutes` as hours: exact when the decimal terminates, else cut after 8 places."""
    count = Decimal(str(minutes))
    if count != count.to_integral_value() or count < 0:
        raise ValueError(f"{minutes!r} is not a whole, non-negative number of minutes")
    hours = count / _SIXTY
    if int(count) % 3:
        hours = hours.quantize(_PLACES, rounding=ROUND_DOWN)
    text = format(hours.normalize(), "f")
    return text


def source_id(entry_id: str) -> str:
    return f"productive:time_entry:{entry_id}"


def _digest(*parts: Any) -> str:
    text = json.dumps(parts, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def approved_event_id(entry_id: str, approved_at: Any, payload: Mapping[str, Any]) -> str:
    return f"{source_id(entry_id)}:approved:{_digest(approved_at, payload)}"


def unapproved_event_id(entry_id: str, approval: str) -> str:
    return f"{source_id(entry_id)}:unapproved:{_digest(approval)}"


class EntryTranslator:
    """Map Productive time entries through the rules and the connector's `map`."""

    def __init__(self, rules: RuleSet, mapping: Mapping[str, Any] | None) -> None:
        self.rules = rules
        mapping = mapping or {}
        self.vendor = VendorMapping(rules, "productive", "Productive", mapping)
        self._budgets = {str(k): str(v) for k, v in (mapping.get("budgets") or {}).items()}

    def approved(self, entry: Mapping[str, Any], page: JsonApiPage, now: str) -> dict[str, Any]:
        """Return the `time.approved` event of an approved entry, or raise UnmappedRecord."""
        entry_id = str(entry["id"])
        record = f"time_entry {entry_id}"
        attributes = entry.get("attributes") or {}
        service = page.related(entry, "service")
        person_ref = related_id(entry, "person")
        if person_ref is None:
            raise UnmappedRecord(record, "it names no person")
        person_record = page.included.get(person_ref) or {}
        email = (person_record.get("attributes") or {}).get("email")
        person = self.vendor.person(record, person_ref[1], email)
        service_name = (service or {}).get("attributes", {}).get("name")
        role = self.vendor.role(record, person, service_name)
        project, client = self._project(record, entry, service, page)
        billable_minutes = attributes.get("billable_time") or 0
        minutes = billable_minutes or attributes.get("time") or 0
        try:
            hours = hours_of(minutes)
        except (ValueError, ArithmeticError):
            raise UnmappedRecord(record, f"its time {minutes!r} is not a number of "
                                         f"minutes") from None
        if not attributes.get("date"):
            raise UnmappedRecord(record, "it has no date")
        payload: dict[str, Any] = {
            "client": client, "project": project, "person": person, "role": role,
            "date": str(attributes["date"]), "hours": hours,
            "billable": bool(billable_minutes), "source_id": source_id(entry_id),
        }
        if service_name:
            payload["task"] = str(service_name)
        if attributes.get("note"):
            payload["notes"] = str(attributes["note"])
        at = attributes.get("approved_at") or attributes.get("updated_at") or now
        return {"id": approved_event_id(entry_id, at, payload), "type": "time.approved",
                "at": str(at), "payload": payload}

    def _project(self, record: str, entry: Mapping[str, Any],
                 service: Mapping[str, Any] | None, page: JsonApiPage) -> tuple[str, str]:
        deal_ref = related_id(service, "deal") if service else None
        if deal_ref is not None and deal_ref[1] in self._budgets:
            project = self._budgets[deal_ref[1]]
            owner = self.rules.projects.get(project)
            if owner is None:
                raise UnmappedRecord(record, f"map.budgets sends Productive budget "
                                             f"{deal_ref[1]} to '{project}', which no "
                                             f"engagement lists in its projects")
            return project, owner[0]
        deal = page.included.get(deal_ref) if deal_ref else None
        project_ref = related_id(entry, "project") or (related_id(deal, "project")
                                                       if deal else None)
        if project_ref is None:
            where = f"budget {deal_ref[1]}" if deal_ref else "no budget"
            raise UnmappedRecord(record, f"its {where} is not in map.budgets and no Productive "
                                         f"project came with it (check the include option)")
        name = (page.included.get(project_ref) or {}).get("attributes", {}).get("name")
        return self.vendor.project(record, project_ref[1], name)
