"""Read a scenario file: YAML with positions, checked against its JSON Schema, then built.

Every problem of a file is reported at once as `path:line:col: message`, like a rule file;
a file with problems runs none of its tests. An empty file, or one without tests, is a
problem too: a scenario file that tests nothing must not pass unnoticed.
"""

from __future__ import annotations

import os
from datetime import date
from functools import lru_cache
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator

from engine.core.replay import read_events
from engine.errors import EventError, RuleError, UsageError
from engine.model.events import Event, parse_event
from engine.ruleset.schema_check import SCHEMA_ROOT, schema_errors, schema_registry
from engine.ruleset.yamlpos import YamlDocument, read_yaml_documents
from engine.ruletest.model import Expectation, Scenario, ScenarioFile

__all__ = ["read_scenario_file", "SCENARIO_SCHEMA"]

SCENARIO_SCHEMA = SCHEMA_ROOT / "tests" / "v1" / "scenarios.json"
_NO_DOCUMENTS = "this file holds no rule documents"


@lru_cache(maxsize=1)
def _validator() -> Draft202012Validator:
    import json

    schema = json.loads(SCENARIO_SCHEMA.read_text(encoding="utf-8"))
    return Draft202012Validator(schema, registry=schema_registry())


def read_scenario_file(path: Path, shown_as: str) -> ScenarioFile:
    """Read, validate and build one scenario file; problems are returned, never raised."""
    try:
        raw = path.read_bytes()
    except OSError as exc:
        return ScenarioFile(shown_as, errors=(RuleError(shown_as, 1, 1, f"cannot read this "
                                                                       f"file: {exc.strerror}"),))
    documents, errors = read_yaml_documents(shown_as, raw)
    errors = [RuleError(e.path, e.line, e.col, "this file holds no tests; a scenario file "
                                               "needs a 'tests:' list with at least one test")
              if e.message == _NO_DOCUMENTS else e for e in errors]
    if errors or not documents:
        return ScenarioFile(shown_as, errors=tuple(errors))
    for extra in documents[1:]:
        errors.append(RuleError(shown_as, extra.start.line, extra.start.col,
                                "a scenario file holds one YAML document; put every test "
                                "in its 'tests:' list"))
    document = documents[0]
    if not isinstance(document.data, dict):
        errors.append(document.error((), "a scenario file is a mapping with a 'tests:' list"))
    else:
        errors.extend(schema_errors(document, _validator()))
    if errors:
        return ScenarioFile(shown_as, errors=tuple(sorted(set(errors), key=RuleError.sort_key)))
    scenarios, problems = _build(document, path.parent)
    if problems:
        return ScenarioFile(shown_as, errors=tuple(sorted(set(problems), key=RuleError.sort_key)))
    return ScenarioFile(shown_as, scenarios=tuple(scenarios))


def _build(document: YamlDocument, folder: Path) -> tuple[list[Scenario], list[RuleError]]:
    scenarios: list[Scenario] = []
    problems: list[RuleError] = []
    names: dict[str, int] = {}
    for index, test in enumerate(document.data["tests"]):
        base = ("tests", index)
        name = test["name"]
        line = document.mark(base + ("name",)).line
        if name in names:
            problems.append(document.error(base + ("name",), f"a test named '{name}' is "
                                                             f"already defined at line {names[name]}"))
            continue
        names[name] = line
        start, end = date.fromisoformat(test["from"]), date.fromisoformat(test["until"])
        if end < start:
            problems.append(document.error(base + ("until",), f"until {end} is before from {start}"))
        events: list[Event | EventError] = []
        if "events_file" in test:
            events.extend(_file_events(document, base, folder, test["events_file"], problems))
        for number, data in enumerate(test.get("events") or []):
            at = document.mark(base + ("events", number))
            try:
                events.append(parse_event(data, f"{document.path}:{at.line}"))
            except EventError as exc:
                problems.append(RuleError(document.path, at.line, at.col, exc.message))
        if not test["expect"] and not test.get("exhaustive", False):
            problems.append(document.error(base + ("expect",), "an empty expect list compares "
                                           "nothing; add 'exhaustive: true' to say that no "
                                           "action at all is expected"))
        expected = tuple(Expectation(fields, document.mark(base + ("expect", number)).line)
                         for number, fields in enumerate(test["expect"]))
        clients = frozenset(test["clients"]) if "clients" in test else None
        scenarios.append(Scenario(name=name, path=document.path, line=line, start=start, end=end,
                                  events=tuple(events), expected=expected,
                                  exhaustive=test.get("exhaustive", False), clients=clients))
    return scenarios, problems


def _file_events(document: YamlDocument, base: tuple[Any, ...], folder: Path, name: str,
                 problems: list[RuleError]) -> list[Event | EventError]:
    where = base + ("events_file",)
    target = Path(os.path.normpath(folder / name))
    if not target.is_file():
        problems.append(document.error(where, f"no events file '{name}' beside this file"))
        return []
    try:
        items = list(read_events(target))
    except UsageError as exc:
        problems.append(document.error(where, str(exc)))
        return []
    for item in items:
        if isinstance(item, EventError):
            problems.append(document.error(where, f"{name}:{item.line}: {item.message}"))
    return [item for item in items if isinstance(item, Event)]
