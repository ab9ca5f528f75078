"""Mapping for CSV exports, which name projects and people rather than give their ids.

`map.projects` keys are tried in turn (Harvest: the project code, then the project name;
Toggl: the project name); `map.people` by the person's name as exported, then their e-mail
(Toggl), then an Agency person with that very name; `map.roles` by task name, else the
person's first role.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from connectors.mapping import VendorMapping
from engine.errors import UnmappedRecord
from engine.ruleset.types import RuleSet

__all__ = ["CsvMapping"]


class CsvMapping:
    """A VendorMapping keyed by names, with the Agency's names as the people's last resort."""

    def __init__(self, rules: RuleSet, vendor: str, label: str,
                 mapping: Mapping[str, Any] | None) -> None:
        self.rules = rules
        self._vendor = VendorMapping(rules, vendor, label, mapping)
        self._label = label
        self._by_name = {person.name.casefold(): person.id
                         for person in rules.agency.people.values()}

    def project(self, record: str, keys: Sequence[str]) -> tuple[str, str]:
        """Return (project, client) for the first of `keys` that map.projects knows."""
        tried = [key for key in keys if key]
        if not tried:
            raise UnmappedRecord(record, "the row names no project")
        for key in tried:
            try:
                return self._vendor.project(record, key)
            except UnmappedRecord as exc:
                if "not in the connector's map.projects" not in exc.message:
                    raise
        shown = " / ".join(tried)
        raise UnmappedRecord(record, f"{self._label} project {shown} is not in map.projects")

    def person(self, record: str, name: str, email: str | None = None) -> str:
        try:
            return self._vendor.person(record, name, email or None)
        except UnmappedRecord:
            found = self._by_name.get(name.casefold())
            if found is None:
                shown = name + (f" <{email}>" if email else "")
                raise UnmappedRecord(record, f"{self._label} user {shown} is not in map.people, "
                                             f"and no Agency person has that e-mail or "
                                             f"name") from None
            return found

    def role(self, record: str, person: str, task: str | None) -> str:
        return self._vendor.role(record, person, task or None)
