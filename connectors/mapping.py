"""Vendor ids to billflow ids: clients, projects, people and roles, from the rule files.

A client is found by its `external_ids` in its Client file (`external_ids: {harvest: 1234567}`).
Projects, people and roles are mapped by the connector's `map` option, written in the Agency:

    connectors:
      harvest:
        type: harvest
        ...
        map:
          projects: {"14307913": acme-social}   # vendor project id -> billflow project
          people: {"1782959": dana}             # vendor user id -> Agency person
          roles: {"Design": designer}           # vendor task or role name -> billflow role

A person not in `map.people` is matched by e-mail against the Agency's people; a role not in
`map.roles` is the person's first role. Anything else that cannot be mapped raises
`UnmappedRecord` naming the record and the fix, which the daemon shows as an intake problem.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from engine.errors import UnmappedRecord
from engine.ruleset.types import RuleSet

__all__ = ["VendorMapping"]


class VendorMapping:
    """Map one vendor's ids through `rules` and a connector's `map` option."""

    def __init__(self, rules: RuleSet, vendor: str, label: str,
                 mapping: Mapping[str, Any] | None = None) -> None:
        self.rules = rules
        self.vendor = vendor  # the key in a Client's external_ids ("harvest")
        self.label = label  # how people name the vendor ("Harvest")
        mapping = mapping or {}
        self._projects = {str(k): str(v) for k, v in (mapping.get("projects") or {}).items()}
        self._people = {str(k): str(v) for k, v in (mapping.get("people") or {}).items()}
        self._roles = {str(k): str(v) for k, v in (mapping.get("roles") or {}).items()}
        self._clients = {str(k): str(v) for k, v in (mapping.get("clients") or {}).items()}
        by_external: dict[str, str] = {}
        for client in rules.clients.values():
            value = client.external_ids.get(vendor)
            if value is not None:
                by_external[str(value)] = client.id
        self._client_by_external = by_external
        self._people_by_email = {person.email.lower(): person.id
                                 for person in rules.agency.people.values() if person.email}

    def client(self, record: str, vendor_id: Any) -> str:
        """Return the billflow client whose `external_ids.<vendor>` is `vendor_id`."""
        key = str(vendor_id)
        found = self._clients.get(key) or self._client_by_external.get(key)
        if found is None or found not in self.rules.clients:
            raise UnmappedRecord(record, f"{self.label} client {key} is no billflow client's "
                                         f"external_ids.{self.vendor}")
        return found

    def project(self, record: str, vendor_id: Any, name: str | None = None) -> tuple[str, str]:
        """Return (billflow project, its client) for the vendor's project `vendor_id`."""
        key = str(vendor_id)
        project = self._projects.get(key)
        if project is None:
            shown = f"{self.label} project {key}" + (f" ({name})" if name else "")
            raise UnmappedRecord(record, f"{shown} is not in the connector's map.projects")
        owner = self.rules.projects.get(project)
        if owner is None:
            raise UnmappedRecord(record, f"map.projects sends {self.label} project {key} to "
                                         f"'{project}', which no engagement lists in its projects")
        return project, owner[0]

    def person(self, record: str, vendor_id: Any, email: str | None = None) -> str:
        """Return the Agency person for the vendor's user `vendor_id` (or their e-mail)."""
        key = str(vendor_id)
        person = self._people.get(key)
        if person is None and email:
            person = self._people_by_email.get(email.strip().lower())
        if person is None or person not in self.rules.agency.people:
            shown = f"{self.label} user {key}" + (f" <{email}>" if email else "")
            raise UnmappedRecord(record, f"{shown} is not in map.people and no Agency person "
                                         f"has that e-mail")
        return person

    def role(self, record: str, person: str, vendor_role: str | None = None) -> str:
        """Return the billflow role: `map.roles[vendor_role]`, else the person's first role."""
        if vendor_role is not None and vendor_role in self._roles:
            return self._roles[vendor_role]
        roles = self.rules.agency.people[person].roles
        if not roles:
            raise UnmappedRecord(record, f"person '{person}' has no role in the Agency and "
                                         f"map.roles has none for {vendor_role!r}")
        return roles[0]
