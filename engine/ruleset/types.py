"""The loaded, validated rule set: immutable, typed, and traceable to its files.

Nothing here is ever mutated after loading; a rule change builds a new RuleSet.
Every document-level value carries a `Source`, so an action can name the rule
(`clients/acme.yaml#engagements[0]`) that caused it.
"""

from __future__ import annotations

import bisect
import dataclasses
import functools
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from types import MappingProxyType
from typing import Any, Literal, Union

from engine.model.calendar import AgencyCalendar, BillingDay
from engine.model.duration import Duration
from engine.model.terms import PaymentTerms
from engine.ruleset.expressions import Condition
from engine.ruleset.templates import CompiledTemplate

__all__ = [
    "Source", "Person", "Contact", "ConnectorConfig", "Numbering", "AgencyDefaults", "Agency",
    "Tax", "Revision", "Milestone", "RateCard", "Retainer", "ProjectFixed", "TimeAndMaterials",
    "Engagement", "Client", "RouteRule", "ApprovalRoute", "ReminderStep", "ReminderCadence",
    "LateFee", "EscalationRule", "RuleSet", "frozen_mapping",
]


def frozen_mapping(items: Mapping[str, Any] | None = None) -> Mapping[str, Any]:
    """Return a read-only view of a fresh dict copy of `items`."""
    return MappingProxyType(dict(items or {}))


@dataclass(frozen=True)
class Source:
    """Where a rule came from: file (relative to the rule folder), line and document path."""

    file: str
    line: int
    pointer: str = ""

    def __str__(self) -> str:
        return f"{self.file}#{self.pointer}" if self.pointer else self.file


@dataclass(frozen=True)
class Person:
    id: str
    name: str
    email: str
    roles: tuple[str, ...]


@dataclass(frozen=True)
class Contact:
    name: str
    email: str


@dataclass(frozen=True)
class ConnectorConfig:
    """A named connector instance; `options` still hold `${ENV}` references unresolved."""

    name: str
    type: str
    options: Mapping[str, Any]


@dataclass(frozen=True)
class Numbering:
    format: str
    reset: Literal["never", "yearly"]
    start: int = 1


@dataclass(frozen=True)
class AgencyDefaults:
    payment_terms: PaymentTerms
    approval_route: str
    reminder_cadence: str
    send_within: Duration


@dataclass(frozen=True)
class Agency:
    id: str
    name: str
    calendar: AgencyCalendar
    currency: str
    go_live: date | None
    numbering: Numbering
    defaults: AgencyDefaults
    people: Mapping[str, Person]
    connectors: Mapping[str, ConnectorConfig]
    routing: Mapping[str, tuple[str, ...]]
    payment_instructions: str | None
    address: str | None
    source: Source
    # How long after a month ends its books close (None: never); see engine/billing/books.py.
    books_close_after: Duration | None = None

    @property
    def timezone(self) -> str:
        return self.calendar.timezone

    def people_with_role(self, role: str) -> tuple[Person, ...]:
        """Return the people holding an agency role, in file order."""
        return tuple(person for person in self.people.values() if role in person.roles)


@dataclass(frozen=True)
class Tax:
    """A client's tax: a rate in percent with its label, or exempt (rate None)."""

    rate: Decimal | None
    label: str | None

    @property
    def exempt(self) -> bool:
        return self.rate is None


@dataclass(frozen=True)
class Revision:
    """Engagement values that take effect on a date (catalog versions, Kill Bill style)."""

    effective: date
    values: Mapping[str, Any]
    source: Source


@dataclass(frozen=True)
class Milestone:
    id: str
    name: str
    percent: Decimal | None
    amount: Decimal | None


@dataclass(frozen=True)
class RateCard:
    default: Decimal
    roles: Mapping[str, Decimal]
    people: Mapping[str, Decimal]

    def rate_for(self, person: str, role: str | None) -> Decimal:
        """Return the hourly rate: a person's beats their role's, which beats the default."""
        if person in self.people:
            return self.people[person]
        if role is not None and role in self.roles:
            return self.roles[role]
        return self.default


@dataclass(frozen=True)
class _EngagementBase:
    id: str
    client: str
    projects: tuple[str, ...]
    start: date | None
    end: date | None
    revisions: tuple[Revision, ...]
    source: Source

    @functools.cached_property
    def key(self) -> str:
        """Return `client/engagement`, the engagement's id across the rule set."""
        return f"{self.client}/{self.id}"

    def in_force(self, on: date) -> "Engagement":
        """Return this engagement with every revision effective on or before `on` applied."""
        dates, versions = self._versions
        return versions[bisect.bisect_right(dates, on)]

    @functools.cached_property
    def _versions(self) -> tuple[list[date], list[Any]]:
        # Each revision's values applied once, in order: in_force is then a binary search
        # (it runs for every priced time entry).
        dates: list[date] = []
        versions: list[Any] = [self]
        for revision in self.revisions:
            dates.append(revision.effective)
            versions.append(dataclasses.replace(versions[-1], **dict(revision.values)))
        return dates, versions


@dataclass(frozen=True)
class Retainer(_EngagementBase):
    amount: Decimal = Decimal(0)
    billing_day: BillingDay | None = None
    bill: Literal["in_advance", "in_arrears"] = "in_advance"
    included_hours: Decimal | None = None
    overage_rate: Decimal | None = None
    proration: Literal["calendar_days", "none"] = "calendar_days"
    model: Literal["retainer"] = field(default="retainer", init=False)


@dataclass(frozen=True)
class ProjectFixed(_EngagementBase):
    fee: Decimal = Decimal(0)
    milestones: tuple[Milestone, ...] = ()
    model: Literal["project_fixed"] = field(default="project_fixed", init=False)


@dataclass(frozen=True)
class TimeAndMaterials(_EngagementBase):
    cadence: Literal["monthly", "on_approval"] = "monthly"
    billing_day: BillingDay | None = None
    rate_card: RateCard | None = None
    increment_minutes: int = 0
    group_by: Literal["role", "person", "task", "entry"] = "role"
    cap: Decimal | None = None
    cap_policy: Literal["warn", "clamp"] = "warn"
    expense_markup_percent: Decimal | None = None
    model: Literal["time_and_materials"] = field(default="time_and_materials", init=False)


Engagement = Union[Retainer, ProjectFixed, TimeAndMaterials]


@dataclass(frozen=True)
class Client:
    id: str
    name: str
    account_lead: str
    billing_contacts: tuple[Contact, ...]
    currency: str
    tax: Tax
    payment_terms: PaymentTerms
    reminder_cadence: str
    approval_route: str
    escalation_rules: tuple[str, ...] | None
    external_ids: Mapping[str, str]
    engagements: Mapping[str, Engagement]
    source: Source


@dataclass(frozen=True)
class RouteRule:
    """One rule of an approval route: the first whose condition holds decides."""

    when: Condition | None
    approver: str | None
    auto_approve: bool
    source: Source


@dataclass(frozen=True)
class ApprovalRoute:
    id: str
    rules: tuple[RouteRule, ...]
    remind_after: Duration | None
    escalate_after: Duration | None
    escalate_to: str | None
    source: Source


@dataclass(frozen=True)
class ReminderStep:
    id: str
    offset: Duration
    template: str


@dataclass(frozen=True)
class ReminderCadence:
    id: str
    steps: tuple[ReminderStep, ...]
    send_at: str
    business_days_only: bool
    source: Source


@dataclass(frozen=True)
class LateFee:
    percent: Decimal | None
    amount: Decimal | None


@dataclass(frozen=True)
class EscalationRule:
    id: str
    when: Condition
    notify: tuple[str, ...]
    late_fee: LateFee | None
    repeat: Duration | None
    source: Source


@dataclass(frozen=True)
class RuleSet:
    """A whole validated rule folder; `version` is the content hash actions carry."""

    version: str
    agency: Agency
    clients: Mapping[str, Client]
    approval_routes: Mapping[str, ApprovalRoute]
    reminder_cadences: Mapping[str, ReminderCadence]
    escalation_rules: Mapping[str, EscalationRule]
    templates: Mapping[str, CompiledTemplate]
    projects: Mapping[str, tuple[str, str]]
    warnings: tuple[str, ...] = ()

    @functools.cached_property
    def memo(self) -> dict[Any, Any]:
        """A cache for values derived from these rules alone (never part of any state)."""
        return {}

    @functools.cached_property
    def payers(self) -> Mapping[str, str]:
        """Map each way a payer names a client (name, id, billing e-mail, external id),
        case-folded, to the client id; to "" when several clients share it (never guessed)."""
        found: dict[str, str] = {}
        for client in self.clients.values():
            names = {client.name, client.id, *(c.email for c in client.billing_contacts),
                     *(str(value) for value in client.external_ids.values())}
            for name in {name.casefold() for name in names}:
                found[name] = client.id if found.get(name, client.id) == client.id else ""
        return MappingProxyType(found)

    @functools.cached_property
    def project_engagements(self) -> Mapping[str, Engagement]:
        """Map each project to the engagement whose `projects` list names it."""
        return MappingProxyType({project: self.clients[client_id].engagements[engagement_id]
                                 for project, (client_id, engagement_id) in self.projects.items()})

    def engagement_for_project(self, project: str) -> Engagement | None:
        """Return the engagement whose `projects` list names `project`."""
        owner = self.projects.get(project)
        if owner is None:
            return None
        client_id, engagement_id = owner
        return self.clients[client_id].engagements[engagement_id]
