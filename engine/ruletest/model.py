"""Scenario tests as values: a file of tests, each test's clock, events and expectations."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from engine.errors import EventError, RuleError
from engine.model.events import Event

__all__ = ["Expectation", "Scenario", "ScenarioFile"]


@dataclass(frozen=True)
class Expectation:
    """One expected action: only the fields written are compared; `line` is where it starts."""

    fields: Mapping[str, Any]
    line: int

    @property
    def type(self) -> str:
        return str(self.fields["type"])


@dataclass(frozen=True)
class Scenario:
    """One test: replay `events` from `start` through `end`, then compare with `expected`."""

    name: str
    path: str
    line: int
    start: date
    end: date
    events: tuple[Event | EventError, ...]
    expected: tuple[Expectation, ...]
    exhaustive: bool = False
    clients: frozenset[str] | None = None

    @property
    def where(self) -> str:
        return f"{self.path}:{self.line}"


@dataclass(frozen=True)
class ScenarioFile:
    """A scenario file as read: its tests, or the problems that keep it from running."""

    path: str
    scenarios: tuple[Scenario, ...] = ()
    errors: tuple[RuleError, ...] = field(default=())
