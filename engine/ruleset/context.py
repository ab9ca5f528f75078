"""What every document builder shares: the id index of the whole folder and the error list.

Builders turn schema-valid documents into typed rules. Each value they parse (money,
durations, dates, references) goes through one of the helpers here, so a bad value
becomes one located error and the build carries on to find the next.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from pathlib import PurePosixPath
from typing import Any, Callable, TypeVar

from engine.errors import RuleError
from engine.model.duration import Duration, parse_duration
from engine.model.money import to_decimal
from engine.ruleset.schema_check import did_you_mean
from engine.ruleset.types import Source
from engine.ruleset.yamlpos import DataPath, YamlDocument, format_data_path

__all__ = ["RuleIndex", "BuildContext", "Located"]

T = TypeVar("T")


@dataclass
class RuleIndex:
    """Ids declared anywhere in the folder, so references can be checked in any order."""

    people: dict[str, tuple[str, ...]] = field(default_factory=dict)
    agency_roles: set[str] = field(default_factory=set)
    clients: set[str] = field(default_factory=set)
    approval_routes: set[str] = field(default_factory=set)
    reminder_cadences: set[str] = field(default_factory=set)
    escalation_rules: set[str] = field(default_factory=set)
    templates: set[str] = field(default_factory=set)
    connectors: set[str] = field(default_factory=set)


# The roles a client file itself names: `approver: account_lead` means that client's lead.
CLIENT_ROLES = ("account_lead",)


@dataclass(frozen=True)
class Located:
    """A document and a path inside it: where a value came from."""

    doc: YamlDocument
    path: DataPath

    def at(self, *more: str | int) -> "Located":
        return Located(self.doc, self.path + tuple(more))

    def get(self, default: Any = None) -> Any:
        value: Any = self.doc.data
        for part in self.path:
            try:
                value = value[part]
            except (KeyError, IndexError, TypeError):
                return default
        return value

    @property
    def where(self) -> str:
        return format_data_path(self.path)


class BuildContext:
    """Collect located errors while builders parse values and resolve references."""

    def __init__(self, root: str, index: RuleIndex) -> None:
        self.root = root
        self.index = index
        self.errors: list[RuleError] = []
        self.warnings: list[str] = []

    def fail(self, place: Located, message: str) -> None:
        where = place.where
        self.errors.append(place.doc.error(place.path, f"{where}: {message}" if where else message))

    def source(self, place: Located) -> Source:
        """Return the Source of a place: file relative to the rule folder, line, pointer."""
        mark = place.doc.mark(place.path)
        relative = place.doc.path
        if self.root and relative.startswith(self.root.rstrip("/") + "/"):
            relative = relative[len(self.root.rstrip("/")) + 1:]
        pointer = format_data_path(place.path[1:] if place.path[:1] == ("spec",) else place.path)
        return Source(str(PurePosixPath(relative)), mark.line, pointer)

    def parse(self, place: Located, parser: Callable[[Any], T], default: T) -> T:
        """Run `parser` on the value at `place`; a ValueError becomes a located error."""
        if place.path in place.doc.reported:
            return default  # the reader already reported this value
        value = place.get()
        try:
            return parser(value)
        except (ValueError, TypeError) as exc:
            self.fail(place, str(exc))
            return default

    def money(self, place: Located) -> Decimal | None:
        """Return the decimal at `place`, or None when absent."""
        if place.get() is None:
            return None
        return self.parse(place, to_decimal, Decimal(0))

    def duration(self, place: Located) -> Duration | None:
        """Return the duration at `place`, or None when absent."""
        if place.get() is None:
            return None
        return self.parse(place, lambda text: parse_duration(str(text)), None)

    def date(self, place: Located) -> date | None:
        """Return the ISO date at `place`, or None when absent."""
        if place.get() is None:
            return None

        def parse(text: Any) -> date:
            try:
                return date.fromisoformat(str(text))
            except ValueError:
                raise ValueError(f"'{text}' is not a real calendar date (YYYY-MM-DD)") from None

        return self.parse(place, parse, None)

    def reference(self, place: Located, known: Iterable[str], what: str) -> str | None:
        """Check that the id at `place` names something declared; return it."""
        value = place.get()
        if value is None:
            return None
        known_set = set(known)
        if value not in known_set:
            self.fail(place, f"unknown {what} '{value}'{did_you_mean(str(value), known_set)}")
        return str(value)

    def person_or_role(self, place: Located, *, agency_roles: bool) -> str | None:
        """Check a reference to a person id, a client role, or (if allowed) an agency role."""
        known = set(self.index.people) | set(CLIENT_ROLES)
        if agency_roles:
            known |= self.index.agency_roles
        what = "person or role" if agency_roles else "person or client role"
        return self.reference(place, known, what)
