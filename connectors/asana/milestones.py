"""Which Asana tasks are billflow milestones, and which (client, engagement, milestone) each is.

A task is a milestone when any of these holds:

- its gid is pinned in the connector's `map.milestones` ("client/engagement/milestone");
- it carries a value in the custom field named by `milestone_field`;
- Asana's `resource_subtype` is `milestone`.

Any other task (an ordinary to-do completed every day) is not billing data and is passed over.

A milestone task is placed in this order:

1. `map.milestones[task gid]`, checked against the rules;
2. else the engagements of its Asana projects: `map.projects` sends a project gid to a billflow
   project, hence to its engagement; a client whose `external_ids.asana` is the project's gid
   (or its team's gid) offers all its fixed-fee engagements;
3. within those, the milestone whose id, or else whose name, equals the `milestone_field`
   value (or the task name), compared without case and surrounding spaces.

No match, or more than one, is an `UnmappedRecord` naming the fix; it never guesses.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from engine.errors import UnmappedRecord
from engine.ruleset.types import ProjectFixed, RuleSet

__all__ = ["MilestoneRef", "MilestoneFinder"]


@dataclass(frozen=True)
class MilestoneRef:
    """One billflow milestone: the key its invoice id is built from."""

    client: str
    engagement: str
    milestone: str

    @property
    def key(self) -> str:
        return f"{self.client}/{self.engagement}/{self.milestone}"


def _fold(text: object) -> str:
    return " ".join(str(text).split()).casefold()


class MilestoneFinder:
    """Place Asana tasks among the rule set's fixed-fee milestones."""

    def __init__(self, rules: RuleSet, mapping: Mapping[str, Any] | None,
                 milestone_field: str | None) -> None:
        self.rules = rules
        mapping = mapping or {}
        self.milestone_field = milestone_field
        self._pinned = {str(k): str(v) for k, v in (mapping.get("milestones") or {}).items()}
        self._projects = {str(k): str(v) for k, v in (mapping.get("projects") or {}).items()}
        by_external: dict[str, list[str]] = {}
        for client in rules.clients.values():
            value = client.external_ids.get("asana")
            if value is not None:
                by_external.setdefault(str(value), []).append(client.id)
        self._clients_by_gid = by_external

    def project_gids(self) -> tuple[str, ...]:
        """Return the Asana project gids the rules and the map name, in a stable order."""
        gids = dict.fromkeys(sorted(self._clients_by_gid))
        gids.update(dict.fromkeys(sorted(self._projects)))
        return tuple(gids)

    def field_value(self, task: Mapping[str, Any]) -> str | None:
        """Return the task's value of the `milestone_field` custom field, if set."""
        if not self.milestone_field:
            return None
        wanted = _fold(self.milestone_field)
        for field in task.get("custom_fields") or ():
            if _fold(field.get("name", "")) != wanted:
                continue
            enum = field.get("enum_value") or {}
            for value in (field.get("text_value"), enum.get("name"), field.get("display_value")):
                if value not in (None, ""):
                    return str(value).strip() or None
        return None

    def is_milestone(self, task: Mapping[str, Any]) -> bool:
        return (str(task.get("gid")) in self._pinned
                or task.get("resource_subtype") == "milestone"
                or self.field_value(task) is not None)

    def place(self, task: Mapping[str, Any]) -> MilestoneRef:
        """Return the billflow milestone of a milestone task, or raise UnmappedRecord."""
        gid = str(task.get("gid"))
        record = f"task {gid}"
        pinned = self._pinned.get(gid)
        if pinned is not None:
            return self._pinned_ref(record, pinned)
        engagements = self._engagements(record, task)
        wanted = self.field_value(task) or str(task.get("name") or "")
        for exact in (True, False):
            found = [MilestoneRef(client, engagement.id, milestone.id)
                     for client, engagement in engagements for milestone in engagement.milestones
                     if (milestone.id == wanted if exact
                         else _fold(wanted) in (_fold(milestone.id), _fold(milestone.name)))]
            if len(found) == 1:
                return found[0]
            if len(found) > 1:
                raise UnmappedRecord(record, f"'{wanted}' names a milestone of several "
                                             f"engagements ({', '.join(r.key for r in found)}); "
                                             f"pin the task in map.milestones")
        names = ", ".join(sorted(f"{c}/{e.id}" for c, e in engagements))
        source = (f"its {self.milestone_field} field" if self.field_value(task)
                  else "its name")
        raise UnmappedRecord(record, f"{source} '{wanted}' is no milestone id or name of "
                                     f"{names}; rename it, or pin the task in map.milestones")

    def _pinned_ref(self, record: str, pinned: str) -> MilestoneRef:
        parts = pinned.split("/")
        if len(parts) == 3:
            client = self.rules.clients.get(parts[0])
            engagement = client.engagements.get(parts[1]) if client else None
            if isinstance(engagement, ProjectFixed) and any(
                    m.id == parts[2] for m in engagement.milestones):
                return MilestoneRef(*parts)
        raise UnmappedRecord(record, f"map.milestones sends it to '{pinned}', which is no "
                                     f"client/engagement/milestone of a fixed-fee engagement")

    def _engagements(self, record: str, task: Mapping[str, Any]) -> list[tuple[str, ProjectFixed]]:
        found: dict[str, tuple[str, ProjectFixed]] = {}
        projects: Sequence[Mapping[str, Any]] = task.get("projects") or ()
        for project in projects:
            gid = str(project.get("gid"))
            billflow_project = self._projects.get(gid)
            if billflow_project is not None:
                owner = self.rules.projects.get(billflow_project)
                if owner is None:
                    raise UnmappedRecord(record, f"map.projects sends Asana project {gid} to "
                                                 f"'{billflow_project}', which no engagement "
                                                 f"lists in its projects")
                engagement = self.rules.clients[owner[0]].engagements[owner[1]]
                if isinstance(engagement, ProjectFixed):
                    found[engagement.key] = (owner[0], engagement)
                continue
            team = str((project.get("team") or {}).get("gid") or "")
            for client_id in (*self._clients_by_gid.get(gid, ()),
                              *self._clients_by_gid.get(team, ())):
                for engagement in self.rules.clients[client_id].engagements.values():
                    if isinstance(engagement, ProjectFixed):
                        found[engagement.key] = (client_id, engagement)
        if not found:
            shown = ", ".join(f"{p.get('gid')} ({p.get('name')})" if p.get("name")
                              else str(p.get("gid")) for p in projects) or "none"
            raise UnmappedRecord(record, f"its Asana projects ({shown}) lead to no fixed-fee "
                                         f"engagement: add them to map.projects or to a "
                                         f"client's external_ids.asana")
        return list(found.values())
