"""Validate rule documents against their JSON Schemas and say what is wrong in words.

jsonschema's own messages name schema internals ("not valid under any of the given
schemas"); ops need "unknown key 'fequency' (did you mean 'frequency'?)" at the line
of that key. This module owns that translation, for rule documents and for connector
configurations alike.
"""

from __future__ import annotations

import difflib
import json
import os
import re
from collections.abc import Iterable, Iterator, Mapping
from functools import lru_cache
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError
from referencing import Registry, Resource

from engine.errors import RuleError
from engine.ruleset.yamlpos import DataPath, YamlDocument, format_data_path

__all__ = [
    "CURRENT_API_VERSION",
    "KINDS",
    "SCHEMA_ROOT",
    "did_you_mean",
    "document_errors",
    "kind_schema",
    "schema_registry",
    "validation_messages",
]

SCHEMA_ROOT = Path(__file__).resolve().parents[2] / "schemas"
CURRENT_API_VERSION = "billflow/v1"
API_VERSIONS = {"billflow/v1": "v1"}
KINDS = ("Agency", "Client", "ApprovalRoute", "ReminderCadence", "EscalationRule", "Template")

_JSON_TYPE_WORDS = {
    "object": "a mapping", "array": "a list", "string": "a string", "integer": "a whole number",
    "number": "a number", "boolean": "true or false", "null": "nothing (null)",
}


def did_you_mean(word: str, choices: Iterable[str]) -> str:
    """Return ' (did you mean 'x'?)' for the closest choice, or ''.

    Among equally close choices, the longest shared beginning wins (EUD -> EUR, not VED;
    USX -> USD, not UZS).
    """
    word = str(word)
    order = {choice: i for i, choice in enumerate(dict.fromkeys(choices))}
    close = difflib.get_close_matches(word, sorted(order), n=6, cutoff=0.6)
    if not close:
        return ""
    best = difflib.SequenceMatcher(None, word, close[0]).ratio()
    # Among equals, the caller's order decides last (it may list the likelier ones first).
    tied = sorted((c for c in close if difflib.SequenceMatcher(None, word, c).ratio() == best),
                  key=order.__getitem__)
    folded = word.casefold()

    def shared_prefix(choice: str) -> int:
        return len(os.path.commonprefix([folded, choice.casefold()]))

    pick = max(tied, key=shared_prefix)  # max keeps the first among equals
    return f" (did you mean '{pick}'?)"


@lru_cache(maxsize=1)
def schema_registry() -> Registry:
    """Return a registry of every schema under `schemas/`, keyed by `$id`."""
    resources = []
    for file in sorted(SCHEMA_ROOT.rglob("*.json")):
        contents = json.loads(file.read_text(encoding="utf-8"))
        if "$id" in contents:
            resources.append((contents["$id"], Resource.from_contents(contents)))
    return Registry().with_resources(resources)


def kind_schema(version: str, kind: str) -> dict[str, Any]:
    """Return the schema document of one rule kind and version."""
    return json.loads((SCHEMA_ROOT / version / f"{kind}.json").read_text(encoding="utf-8"))


@lru_cache(maxsize=None)
def _kind_validator(version: str, kind: str) -> Draft202012Validator:
    return Draft202012Validator(kind_schema(version, kind), registry=schema_registry())


def _describe_type(value: Any) -> str:
    if isinstance(value, bool):
        return "true or false"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, str):
        return f"the string '{value}'"
    if value is None:
        return "nothing (null)"
    return f"the number {value}"


def _expected_types(types: str | list[str]) -> str:
    names = [types] if isinstance(types, str) else list(types)
    words = [_JSON_TYPE_WORDS.get(name, name) for name in names]
    return words[0] if len(words) == 1 else ", ".join(words[:-1]) + " or " + words[-1]


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _resolved_subschema(error: ValidationError) -> Mapping[str, Any]:
    schema = error.schema
    return schema if isinstance(schema, Mapping) else {}


def _prefix(data_path: DataPath) -> str:
    where = format_data_path(data_path)
    return f"{where}: " if where else ""


def validation_messages(error: ValidationError) -> Iterator[tuple[DataPath, str]]:
    """Yield (data path, plain-words message) for one jsonschema error."""
    data_path: DataPath = tuple(error.absolute_path)
    instance = error.instance
    schema = _resolved_subschema(error)
    value = error.validator_value
    kind = error.validator

    if kind == "additionalProperties" or kind == "unevaluatedProperties":
        allowed = set(schema.get("properties", {}))
        patterns = list(schema.get("patternProperties", {}))
        extras = [key for key in instance if key not in allowed] if isinstance(instance, dict) else []
        if patterns:
            extras = [key for key in extras if not any(re.search(p, key) for p in patterns)]
        for key in extras:
            hint = did_you_mean(key, allowed)
            if not hint and allowed:
                hint = f"; allowed here: {', '.join(sorted(allowed))}"
            yield data_path + (key,), f"{_prefix(data_path)}unknown key '{key}'{hint}"
        return
    if kind == "required":
        for name in value:
            if isinstance(instance, dict) and name not in instance:
                yield data_path, f"{_prefix(data_path)}missing required key '{name}'"
        return
    if kind == "type":
        yield data_path, f"{_prefix(data_path)}expected {_expected_types(value)}, got {_describe_type(instance)}"
        return
    if kind == "enum":
        options = ", ".join(str(option) for option in value)
        hint = did_you_mean(str(instance), [str(option) for option in value])
        yield data_path, f"{_prefix(data_path)}'{instance}' is not one of: {options}{hint}"
        return
    if kind == "const":
        yield data_path, f"{_prefix(data_path)}must be '{value}', not '{instance}'"
        return
    if kind == "propertyNames":
        names = error.context or []
        for sub in names:
            name = sub.instance
            enum = sub.schema.get("enum", []) if isinstance(sub.schema, Mapping) else []
            hint = did_you_mean(str(name), [str(option) for option in enum])
            if not hint and enum:
                hint = f"; allowed here: {', '.join(str(option) for option in enum)}"
            yield data_path + (name,), f"{_prefix(data_path)}unknown key '{name}'{hint}"
        if not names:
            yield data_path, f"{_prefix(data_path)}has a key that is not allowed here"
        return
    if kind == "pattern":
        expected = schema.get("x-expected") or schema.get("description")
        if expected:
            yield data_path, f"{_prefix(data_path)}'{instance}' is not valid: expected {expected}"
        else:
            yield data_path, f"{_prefix(data_path)}'{instance}' does not have the expected form"
        return
    if kind in ("minimum", "exclusiveMinimum"):
        relation = "at least" if kind == "minimum" else "more than"
        yield data_path, f"{_prefix(data_path)}{instance} is too small: must be {relation} {value}"
        return
    if kind in ("maximum", "exclusiveMaximum"):
        relation = "at most" if kind == "maximum" else "less than"
        yield data_path, f"{_prefix(data_path)}{instance} is too large: must be {relation} {value}"
        return
    if kind == "minItems":
        noun = "item" if value == 1 else "items"
        yield data_path, f"{_prefix(data_path)}needs at least {value} {noun}"
        return
    if kind == "maxItems":
        yield data_path, f"{_prefix(data_path)}allows at most {value} items"
        return
    if kind == "minLength":
        message = "must not be empty" if value == 1 else f"must be at least {value} characters long"
        yield data_path, f"{_prefix(data_path)}{message}"
        return
    if kind == "maxLength":
        yield data_path, f"{_prefix(data_path)}must be at most {value} characters long"
        return
    if kind == "uniqueItems":
        yield data_path, f"{_prefix(data_path)}lists the same item twice"
        return
    if kind == "minProperties":
        yield data_path, f"{_prefix(data_path)}must not be empty"
        return
    if kind == "not":
        required = value.get("required") if isinstance(value, Mapping) else None
        if required:
            keys = " and ".join(f"'{key}'" for key in required)
            yield data_path, f"{_prefix(data_path)}{keys} cannot be used together"
        else:
            yield data_path, f"{_prefix(data_path)}this value is not allowed here"
        return
    if kind in ("anyOf", "oneOf") and error.context:
        # Pick the branch that got furthest, and report its problem, not the combinator.
        deepest = max(error.context, key=lambda sub: (len(sub.absolute_path), -len(sub.schema_path)))
        yield from validation_messages(deepest)
        return
    yield data_path, f"{_prefix(data_path)}{error.message}"


def schema_errors(doc: YamlDocument, validator: Draft202012Validator,
                  base: DataPath = ()) -> list[RuleError]:
    """Validate `doc.data` at `base` with `validator`; return located, plain-words errors."""
    instance: Any = doc.data
    for part in base:
        instance = instance[part]
    found: list[RuleError] = []
    type_errors: dict[DataPath, ValidationError] = {}
    errors = []
    for error in validator.iter_errors(instance):
        if error.validator == "type":
            # Two branches (an if/then and the base) may both say "wrong type": keep one,
            # the one that names every type allowed.
            where = tuple(error.absolute_path)
            kept = type_errors.get(where)
            if kept is not None:
                if len(_as_list(error.validator_value)) > len(_as_list(kept.validator_value)):
                    errors[errors.index(kept)] = error
                    type_errors[where] = error
                continue
            type_errors[where] = error
        errors.append(error)
    for error in errors:
        if base + tuple(error.absolute_path) in doc.reported:
            continue  # the reader already said what is wrong with this value
        for data_path, message in validation_messages(error):
            full_path = base + data_path
            if base:
                # Messages name the path inside the validated part; prefix the outer path.
                inner = format_data_path(data_path)
                outer = format_data_path(base)
                if inner and message.startswith(inner + ": "):
                    message = message[len(inner) + 2:]
                message = f"{outer}{'.' if inner and not inner.startswith('[') else ''}{inner}: {message}"
            found.append(doc.error(full_path, message))
    return found


def document_errors(doc: YamlDocument) -> list[RuleError]:
    """Check one document's envelope and schema; return every problem found."""
    data = doc.data
    if not isinstance(data, dict):
        return [doc.error((), f"a rule document must be a mapping with apiVersion, kind, "
                              f"metadata and spec; got {_describe_type(data)}")]
    problems: list[RuleError] = []
    api_version = data.get("apiVersion")
    kind = data.get("kind")
    if api_version is None:
        problems.append(doc.error((), f"missing required key 'apiVersion' (use '{CURRENT_API_VERSION}')"))
    elif api_version not in API_VERSIONS:
        hint = did_you_mean(str(api_version), API_VERSIONS)
        problems.append(doc.error(("apiVersion",), f"unknown apiVersion '{api_version}'{hint}; "
                                                   f"this billflow reads {', '.join(API_VERSIONS)}"))
    if kind is None:
        problems.append(doc.error((), f"missing required key 'kind' (one of {', '.join(KINDS)})"))
    elif kind not in KINDS:
        hint = did_you_mean(str(kind), KINDS)
        problems.append(doc.error(("kind",), f"unknown kind '{kind}'{hint}; "
                                             f"expected one of {', '.join(KINDS)}"))
    if problems:
        return problems
    return schema_errors(doc, _kind_validator(API_VERSIONS[api_version], kind))
