"""Run scenario files: each test replays its events through the same core as the daemon.

`RULES/tests/*.yaml` are found and read; each selected test runs `replay` (the driver of
simulate, plan and the daemon's core) over its clock range, and its expectations are
compared with the actions decided. Events the engine rejects fail the test.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from engine.core.replay import replay
from engine.errors import RuleError, UsageError
from engine.model.events import Event
from engine.ruleset.types import RuleSet
from engine.ruletest.diff import format_value, render_diff
from engine.ruletest.matching import compare
from engine.ruletest.model import Scenario, ScenarioFile
from engine.ruletest.reader import read_scenario_file

__all__ = ["ScenarioResult", "FileResult", "TestRun", "scenario_files", "run_scenario",
           "run_tests", "name_filter"]

SCENARIO_DIR = "tests"
SUFFIXES = (".yaml", ".yml")


@dataclass(frozen=True)
class ScenarioResult:
    """One test's outcome: passed, or the problems and the diff that say why not."""

    scenario: Scenario
    passed: bool
    problems: tuple[str, ...] = ()
    diff: str = ""
    seconds: float = 0.0


@dataclass(frozen=True)
class FileResult:
    """One file's outcome: the problems that kept it from running, or its tests' results."""

    path: str
    errors: tuple[RuleError, ...] = ()
    results: tuple[ScenarioResult, ...] = ()

    @property
    def ok(self) -> bool:
        return not self.errors and all(result.passed for result in self.results)


@dataclass(frozen=True)
class TestRun:
    """Every file's outcome, and whether the run as a whole passed."""

    files: tuple[FileResult, ...]
    pattern: str | None = None
    problems: tuple[str, ...] = field(default=())

    @property
    def selected(self) -> int:
        return sum(len(f.results) for f in self.files)

    @property
    def failed(self) -> int:
        return sum(1 for f in self.files for r in f.results if not r.passed)

    @property
    def broken_files(self) -> int:
        return sum(1 for f in self.files if f.errors)

    @property
    def ok(self) -> bool:
        return not self.problems and all(f.ok for f in self.files)


def scenario_files(rules: str) -> list[tuple[Path, str]]:
    """Return (file, name shown) for each scenario file beside the rules, in name order."""
    folder = Path(rules) / SCENARIO_DIR
    if not folder.is_dir():
        return []
    shown = rules.rstrip("/\\") or "."
    return [(path, f"{shown}/{SCENARIO_DIR}/{path.name}") for path in sorted(folder.iterdir())
            if path.is_file() and path.name.endswith(SUFFIXES) and not path.name.startswith(".")]


def name_filter(pattern: str | None) -> Callable[[str], bool]:
    """Return a test-name filter for `--run`: a regular expression searched in the name."""
    if pattern is None:
        return lambda name: True
    try:
        compiled = re.compile(pattern)
    except re.error as exc:
        raise UsageError(f"--run {pattern!r} is not a regular expression ({exc})") from None
    return lambda name: compiled.search(name) is not None


def run_scenario(rules: RuleSet, scenario: Scenario,
                 clock: Callable[[], float] | None = None) -> ScenarioResult:
    """Replay one scenario and compare what was decided with what it expects."""
    began = clock() if clock else 0.0
    events = [event for event in scenario.events if isinstance(event, Event)]
    outcome = replay(rules, events, scenario.start, scenario.end)
    comparison = compare(scenario, outcome.actions)
    problems = [f"event rejected: {error}" for error in outcome.errors]
    for expectation, action in comparison.pairs:
        if expectation is not None and action is not None:
            position = scenario.expected.index(expectation) + 1
            problems.extend(f"action {m.position} ({m.action_type}): {m.field}: expected "
                            f"{format_value_any(m.expected)}, got {format_value_any(m.got)}"
                            for m in comparison.mismatches if m.position == position)
        elif expectation is not None:
            position = scenario.expected.index(expectation) + 1
            problems.append(f"action {position} ({expectation.type}, line {expectation.line}) "
                            "was expected, but the rules did not decide it")
        elif action is not None:
            problems.append(f"unexpected {action.type} {action.id} at {action.at.isoformat()}")
    passed = not problems
    diff = "" if passed else render_diff(comparison.pairs)
    seconds = (clock() - began) if clock else 0.0
    return ScenarioResult(scenario, passed, tuple(problems), diff, seconds)


def format_value_any(value: object) -> str:
    if isinstance(value, (dict, list)):
        import json

        return json.dumps(value, ensure_ascii=False, default=str)
    return format_value(value)


def run_tests(rules: RuleSet, rules_dir: str, pattern: str | None = None,
              clock: Callable[[], float] | None = None) -> TestRun:
    """Run every selected test of every scenario file beside the rules."""
    selects = name_filter(pattern)
    found = scenario_files(rules_dir)
    if not found:
        return TestRun((), pattern, (f"no scenario files in {rules_dir.rstrip('/')}/"
                                     f"{SCENARIO_DIR}/ (*.yaml): nothing was tested",))
    files: list[FileResult] = []
    for path, shown in found:
        scenario_file: ScenarioFile = read_scenario_file(path, shown)
        if scenario_file.errors:
            files.append(FileResult(shown, scenario_file.errors))
            continue
        chosen = [s for s in scenario_file.scenarios if selects(s.name)]
        if pattern is not None and not chosen:
            continue  # --run picked none of this file's tests
        files.append(FileResult(shown, (), tuple(run_scenario(rules, s, clock) for s in chosen)))
    problems: tuple[str, ...] = ()
    if pattern is not None and not any(f.results for f in files):
        problems = (f"no test name matches --run {pattern!r}",)
    return TestRun(tuple(files), pattern, problems)
