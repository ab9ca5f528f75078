"""pytest plugin for ops repositories: simulate billing in a test, snapshot what it decides.

Registered through the `pytest11` entry point, so installing billflow is enough:

    def test_first_quarter(billflow, snapshot):
        run = billflow.simulate(events="events/sample.ndjson",
                                start="2026-01-01", until="2026-03-31")
        assert run.errors == ()
        assert run.render() == snapshot

`billflow.simulate` replays the events through the same core as `billflow simulate` and
the daemon. Relative paths are read from pytest's root folder; the rule folder defaults to
the `billflow_rules` ini option (`rules`). `run.render()` is the action stream as text, one
block per action with invoice amounts aligned, so `pytest --snapshot-update` in a pull
request shows the reviewer the exact billing change.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import pytest

__all__ = ["Simulation", "BillflowHelper"]


@dataclass(frozen=True)
class Simulation:
    """What a replay decided: the actions in time order and the events it rejected."""

    actions: tuple[Any, ...]
    errors: tuple[str, ...]
    rules_version: str
    start: date
    until: date

    def select(self, *, types: Iterable[str] | None = None,
               clients: Iterable[str] | None = None) -> tuple[Any, ...]:
        """Return the actions of the given types and clients (all when not given)."""
        wanted_types = set(types) if types is not None else None
        wanted_clients = set(clients) if clients is not None else None
        return tuple(a for a in self.actions
                     if (wanted_types is None or a.type in wanted_types)
                     and (wanted_clients is None or a.client in wanted_clients))

    def render(self, *, types: Iterable[str] | None = None,
               clients: Iterable[str] | None = None) -> str:
        """Return the (selected) action stream as text for a snapshot."""
        from engine.ruletest.stream import render_actions

        return render_actions(self.select(types=types, clients=clients))

    def as_ndjson(self) -> str:
        """Return the actions as `billflow simulate` prints them, one JSON object a line."""
        from engine.model.actions import dump_action

        return "".join(dump_action(action) + "\n" for action in self.actions)


@dataclass
class BillflowHelper:
    """The `billflow` fixture: load rules and simulate events, paths relative to `root`."""

    root: Path
    default_rules: str = "rules"
    _rules: dict[Path, Any] = field(default_factory=dict)

    def path(self, name: str | Path) -> Path:
        candidate = Path(name)
        return candidate if candidate.is_absolute() else self.root / candidate

    def rules(self, rules: str | Path | None = None) -> Any:
        """Load (once per test) and return a rule set; invalid rules fail the test."""
        from engine.ruleset.loader import check_ruleset

        folder = self.path(rules if rules is not None else self.default_rules)
        if folder not in self._rules:
            ruleset, errors = check_ruleset(folder)
            if ruleset is None:
                pytest.fail("invalid rules:\n" + "\n".join(str(e) for e in errors),
                            pytrace=False)
            self._rules[folder] = ruleset
        return self._rules[folder]

    def simulate(self, rules: str | Path | None = None, *,
                 events: str | Path | Iterable[Mapping[str, Any]] = (),
                 start: str | date, until: str | date) -> Simulation:
        """Replay `events` (an NDJSON file or event objects) from `start` through `until`."""
        from engine.core.replay import read_events, replay
        from engine.errors import EventError
        from engine.model.events import parse_event

        ruleset = self.rules(rules)
        if isinstance(events, (str, Path)):
            source: list[Any] = list(read_events(self.path(events)))
        else:
            source = []
            for number, data in enumerate(events, start=1):
                try:
                    source.append(parse_event(json.loads(json.dumps(data)), f"event {number}"))
                except EventError as exc:
                    source.append(exc)
        first, last = _day(start), _day(until)
        result = replay(ruleset, source, first, last)
        return Simulation(tuple(result.actions), tuple(str(e) for e in result.errors),
                          ruleset.version, first, last)


def _day(value: str | date) -> date:
    return value if isinstance(value, date) else date.fromisoformat(value)


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addini("billflow_rules", "the rule folder billflow.simulate uses by default",
                  default="rules")


@pytest.fixture
def billflow(request: pytest.FixtureRequest) -> BillflowHelper:
    """Simulate billing from a test: `billflow.simulate(events=..., start=..., until=...)`."""
    return BillflowHelper(Path(request.config.rootpath),
                          str(request.config.getini("billflow_rules") or "rules"))
