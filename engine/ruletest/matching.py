"""Compare expected actions, written partially, with the actions a replay decided.

Which actions are compared: those of the types the test's `expect` names (every action
with `exhaustive: true`), of the clients in `clients` when given. They must match the
expected list one for one, in order; only the fields written are compared:

- a string is compared exactly (`total: "12000.00"`); a number by value (`total: 12000`);
- a mapping compares the keys written; a list must have as many items, each compared so;
- `at` is compared as an instant (any offset), or as the agency-local day when a date.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from engine.model.actions import Action
from engine.ruletest.model import Expectation, Scenario

__all__ = ["ACTION_FIELDS", "ABSENT", "Absent", "Comparison", "Mismatch", "compare",
           "selected_actions", "action_value", "matches", "at_matches", "leaf_differences",
           "scalar_matches"]

# Keys of an expected action that name the action's own fields; any other key is payload.
ACTION_FIELDS = ("id", "type", "at", "client", "rule", "rules_version", "cause")


class Absent:
    """The value of a field the action does not have."""

    def __repr__(self) -> str:
        return "(absent)"


ABSENT = Absent()


@dataclass(frozen=True)
class Mismatch:
    """One field of one expected action that the decided action does not match."""

    position: int  # 1-based place in the expected list
    action_type: str
    field: str
    expected: Any
    got: Any


@dataclass(frozen=True)
class Comparison:
    """Expected actions aligned with the decided ones they were compared with.

    `pairs` runs in order; a pair with no action is an expected action nobody decided, one
    with no expectation an action nobody expected.
    """

    compared: tuple[Action, ...]
    pairs: tuple[tuple[Expectation | None, Action | None], ...]
    mismatches: tuple[Mismatch, ...]

    @property
    def passed(self) -> bool:
        return not self.mismatches and all(e is not None and a is not None
                                           for e, a in self.pairs)


def selected_actions(scenario: Scenario, actions: Sequence[Action]) -> list[Action]:
    """Return the actions a scenario's expectations are compared with, in time order."""
    types = {expectation.type for expectation in scenario.expected}
    return [action for action in actions
            if (scenario.exhaustive or action.type in types)
            and (scenario.clients is None or action.client in scenario.clients)]


def action_value(action: Action, key: str) -> Any:
    """Return what an expected key names in an action: its own field, else its payload's."""
    if key == "payload":
        return action.payload
    if key in ACTION_FIELDS:
        return action.as_json().get(key, ABSENT)
    return action.payload.get(key, ABSENT)


def compare(scenario: Scenario, actions: Sequence[Action]) -> Comparison:
    """Compare a scenario's expectations with the actions a replay decided.

    The expected list is aligned with the compared actions on the longest run of exact
    matches; between two matches, what is left on each side is paired in order, so a
    changed figure reads as one changed action and a missing one as missing.
    """
    compared = selected_actions(scenario, actions)
    expected = list(scenario.expected)
    pairs = _align(expected, compared)
    mismatches: list[Mismatch] = []
    for expectation, action in pairs:
        if expectation is not None and action is not None:
            position = expected.index(expectation) + 1
            mismatches.extend(_differences(position, expectation, action))
    return Comparison(tuple(compared), tuple(pairs), tuple(mismatches))


def matches(expectation: Expectation, action: Action) -> bool:
    """Tell whether a decided action has every field an expectation writes."""
    return action.type == expectation.type and not _differences(0, expectation, action)


def _align(expected: list[Expectation], compared: list[Action]
           ) -> list[tuple[Expectation | None, Action | None]]:
    n, m = len(expected), len(compared)
    # Longest common subsequence of exact matches, filled from the end.
    table = [[0] * (m + 1) for _ in range(n + 1)]
    for i in range(n - 1, -1, -1):
        for j in range(m - 1, -1, -1):
            if matches(expected[i], compared[j]):
                table[i][j] = table[i + 1][j + 1] + 1
            else:
                table[i][j] = max(table[i + 1][j], table[i][j + 1])
    pairs: list[tuple[Expectation | None, Action | None]] = []
    gap_e: list[Expectation] = []
    gap_a: list[Action] = []

    def close_gap() -> None:
        for index in range(max(len(gap_e), len(gap_a))):
            pairs.append((gap_e[index] if index < len(gap_e) else None,
                          gap_a[index] if index < len(gap_a) else None))
        gap_e.clear()
        gap_a.clear()

    i = j = 0
    while i < n and j < m:
        if matches(expected[i], compared[j]) and table[i][j] == table[i + 1][j + 1] + 1:
            close_gap()
            pairs.append((expected[i], compared[j]))
            i, j = i + 1, j + 1
        elif table[i + 1][j] >= table[i][j + 1]:
            gap_e.append(expected[i])
            i += 1
        else:
            gap_a.append(compared[j])
            j += 1
    gap_e.extend(expected[i:])
    gap_a.extend(compared[j:])
    close_gap()
    return pairs


def _differences(position: int, expectation: Expectation, action: Action) -> list[Mismatch]:
    found: list[Mismatch] = []
    for key, wanted in expectation.fields.items():
        got = action_value(action, key)
        if key == "at":
            if not at_matches(wanted, got):
                found.append(Mismatch(position, expectation.type, key, wanted, got))
            continue
        for field, expected, actual in leaf_differences(wanted, got, key):
            found.append(Mismatch(position, expectation.type, field, expected, actual))
    return found


def at_matches(wanted: str, got: Any) -> bool:
    """Tell whether an action's time matches an expected instant, or agency-local day."""
    if not isinstance(got, str):
        return False
    decided = datetime.fromisoformat(got)
    if len(wanted) == 10:
        return decided.date() == date.fromisoformat(wanted)
    return datetime.fromisoformat(wanted.replace(" ", "T")) == decided


def leaf_differences(wanted: Any, got: Any, where: str) -> list[tuple[str, Any, Any]]:
    """Return (field path, expected, got) for every written value that does not match."""
    if isinstance(wanted, Mapping):
        if not isinstance(got, Mapping):
            return [(where, wanted, got)]
        found: list[tuple[str, Any, Any]] = []
        for key, value in wanted.items():
            found.extend(leaf_differences(value, got.get(key, ABSENT), f"{where}.{key}"))
        return found
    if isinstance(wanted, list):
        if not isinstance(got, list) or len(got) != len(wanted):
            return [(where, wanted, got)]
        found = []
        for index, (value, item) in enumerate(zip(wanted, got)):
            found.extend(leaf_differences(value, item, f"{where}[{index}]"))
        return found
    return [] if scalar_matches(wanted, got) else [(where, wanted, got)]


def scalar_matches(wanted: Any, got: Any) -> bool:
    """Compare one written value: strings exactly, numbers by value, the rest by equality."""
    if isinstance(wanted, bool) or wanted is None:
        return got is wanted
    if isinstance(wanted, (int, Decimal)):
        if isinstance(got, bool):
            return False
        try:
            return Decimal(str(got)) == Decimal(wanted)
        except (InvalidOperation, ValueError):
            return False
    if isinstance(wanted, str):
        if isinstance(got, int) and not isinstance(got, bool):
            return str(got) == wanted
        return got == wanted
    return bool(wanted == got)
