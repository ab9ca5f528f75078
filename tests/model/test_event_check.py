"""The compiled event validators agree with jsonschema, and say what is wrong in words.

The oracle is `jsonschema.Draft202012Validator` over the same registry of schemas. One
difference is on purpose: JSON Schema patterns are ECMA-262, where `$` is the end of the
string, while jsonschema searches with Python's `re`, where `$` also matches before a
final newline. The two readings differ only for a string that ends in a newline, so for
an instance holding one the oracle is jsonschema with `$` read as `\\Z`.
"""

from __future__ import annotations

import json
import random
import re
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urljoin

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from jsonschema import Draft202012Validator, validators
from jsonschema.exceptions import ValidationError

from engine.model import event_check
from engine.model.event_check import (
    SUPPORTED_KEYWORDS,
    SchemaCompileError,
    compile_validator,
    ecma_pattern,
    load_event_validators,
)
from engine.ruleset.schema_check import schema_registry

ROOT = Path(__file__).resolve().parents[2]
SCHEMAS = ROOT / "schemas"
FIXTURES = ROOT / "tests" / "schemas" / "fixtures" / "events"
EVENT_TYPES = sorted(path.name[:-len(".json")] for path in (SCHEMAS / "events" / "v1").glob("*.json")
                     if path.name != "event.json")
REGISTRY = schema_registry()
COMMON = "https://schemas.billflow.example/v1/common.json"


def resolve(uri: str) -> dict[str, Any]:
    return REGISTRY.contents(uri)  # type: ignore[no-any-return]


def event_schema(event_type: str) -> dict[str, Any]:
    return json.loads((SCHEMAS / "events" / "v1" / f"{event_type}.json").read_text(encoding="utf-8"))


def _ecma_pattern_keyword(validator: Any, pattern: str, instance: Any, schema: Any) -> Iterator[Any]:
    # The oracle's own reading of ECMA-262 `$`; exact for patterns whose `$` are anchors.
    # (ECMA's `\s` differs from Python's for a few rare white-space characters: the
    # instances here avoid them, and test_patterns_mean_what_ecma_says pins them.)
    assert "\\$" not in pattern and not re.search(r"\[[^\]]*\$", pattern)
    if validator.is_type(instance, "string") and not re.search(pattern.replace("$", r"\Z"), instance):
        yield ValidationError(f"{instance!r} does not match {pattern!r}")


EcmaValidator = validators.extend(Draft202012Validator, {"pattern": _ecma_pattern_keyword})


def ends_in_newline(value: Any) -> bool:
    if isinstance(value, str):
        return value.endswith("\n")
    if isinstance(value, dict):
        return any(ends_in_newline(k) or ends_in_newline(v) for k, v in value.items())
    if isinstance(value, list):
        return any(ends_in_newline(item) for item in value)
    return False


class Oracle:
    """One schema compiled, and as jsonschema reads it (with ECMA `$` where that matters)."""

    def __init__(self, schema: Any) -> None:
        self.schema = schema
        self.compiled = compile_validator(schema, resolve)
        self.ecma = EcmaValidator(schema, registry=REGISTRY)
        self.plain = Draft202012Validator(schema, registry=REGISTRY)
        self.checked = Counter[bool]()

    def check(self, instance: Any) -> None:
        message = self.compiled(instance)
        oracle = self.ecma if ends_in_newline(instance) else self.plain
        expected = oracle.is_valid(instance)
        assert (message is None) == expected, (
            f"compiled says {message!r}, jsonschema says valid={expected}\n"
            f"schema: {json.dumps(self.schema)[:500]}\ninstance: "
            f"{json.dumps(instance, ensure_ascii=False, default=repr)[:2000]}")
        if message is not None:
            assert isinstance(message, str) and message
            assert "does not match its schema" not in message, message
            assert "while explaining" not in message, message
        self.checked[expected] += 1


ORACLES = {event_type: Oracle(event_schema(event_type)) for event_type in EVENT_TYPES}


def fixture_events(name: str) -> dict[str, list[dict[str, Any]]]:
    found: dict[str, list[dict[str, Any]]] = {t: [] for t in EVENT_TYPES}
    if name == "valid":
        events = [json.loads(line) for line in
                  (FIXTURES / "valid.ndjson").read_text(encoding="utf-8").splitlines() if line.strip()]
    else:
        events = [case["event"] for case in
                  json.loads((FIXTURES / "invalid.json").read_text(encoding="utf-8"))]
    for event in events:
        if event.get("type") in found:
            found[event["type"]].append(event)
    return found


FIXTURE_EVENTS = fixture_events("valid")
INVALID_EVENTS = fixture_events("invalid")

# ------------------------------------------------------------------ mutations

STRINGS = [
    "", " ", "0", "-0", "1", "-1", "+1", "1.25", "1,5", "1e3", "1.", ".5", "01.50", "0.00",
    "12000.00", "1 000", "\uff11", "\u0663", "2026-03-01", "2026-13-01", "2026-02-30",
    "2026-3-1", "2026/03/01", "2026-03-01\n", "2026-03-01 ", "26-03-01",
    "2026-03-01T09:00:00-05:00", "2026-03-01T09:00:00", "2026-03-01T09:00:00Z",
    "2026-03-01T24:00:00Z", "2026-03-01T09:00+0530", "2026-03-01T09:00:00.123+05:30",
    "2026-03-01T09:00:00-05:00\n", "2026-03-01t09:00:00z", "USD", "usd", "US", "USDX", "USD\n",
    "acme", "Acme", "-acme", "a_b-c", "acme\n", "acme corp", "dana", "x" * 300, "\u00e9",
    "\u65e5\u672c", "\x00", "\U0001f600", "time.approved", "yes", "true", "null", "1.25\n",
]
VALUES: list[Any] = STRINGS + [
    None, True, False, 0, 1, -1, 1.0, 1.5, -0.0, 2**64, -(2**70), 10**30, 1e300,
    [], [""], ["x", "x"], [1], {}, {"a": 1}, [[]], [{}],
]
JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False)
    | st.sampled_from(STRINGS) | st.text(max_size=12),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=8,
)


def clone(value: Any) -> Any:
    """A deep copy of JSON data (much faster than copy.deepcopy)."""
    if isinstance(value, dict):
        return {key: clone(item) for key, item in value.items()}
    if isinstance(value, list):
        return [clone(item) for item in value]
    return value


def locations(value: Any, path: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    """Every path to a value inside `value` (not the root itself)."""
    if isinstance(value, dict):
        for key, item in value.items():
            yield path + (key,)
            yield from locations(item, path + (key,))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield path + (index,)
            yield from locations(item, path + (index,))


def containers(value: Any, path: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    if isinstance(value, (dict, list)):
        yield path
        for sub in locations(value, path):
            if isinstance(get(value, sub[len(path):]), (dict, list)):
                yield sub


def get(value: Any, path: tuple[Any, ...]) -> Any:
    for part in path:
        value = value[part]
    return value


def replaced(instance: Any, path: tuple[Any, ...], new: Any) -> Any:
    result = clone(instance)
    if not path:
        return new
    get(result, path[:-1])[path[-1]] = new
    return result


def near_miss(key: str, rng: random.Random) -> str:
    choices = [key + "s", key[:-1], key.upper(), key.replace("_", ""), key + "_", " " + key,
               key[1:] + key[:1], "hrs", "notse", "x-" + key]
    return rng.choice([choice for choice in choices if choice != key] or ["extra"])


def mutate(instance: Any, rng: random.Random, arbitrary: list[Any]) -> Any:
    """One random change: drop or add a key, change a value's type or form, reshape a list."""
    spots = list(locations(instance))
    boxes = list(containers(instance))
    move = rng.randrange(7)
    if move == 0 and spots:  # drop a key or an item
        path = rng.choice(spots)
        result = clone(instance)
        del get(result, path[:-1])[path[-1]]
        return result
    if move == 1 and boxes:  # add an unknown key, or a junk item to a list
        path = rng.choice(boxes)
        result = clone(instance)
        box = get(result, path)
        if isinstance(box, dict):
            key = near_miss(rng.choice(list(box) or ["key"]), rng)
            box[key] = rng.choice(VALUES + arbitrary)
        else:
            box.insert(rng.randrange(len(box) + 1), rng.choice(VALUES + arbitrary + box))
        return result
    if move == 2 and boxes:  # duplicate a list item or empty a container
        path = rng.choice(boxes)
        box = get(instance, path)
        if isinstance(box, list) and box and rng.random() < 0.7:
            return replaced(instance, path, box + [clone(rng.choice(box))])
        return replaced(instance, path, type(box)())
    if move == 3 and spots:  # wrap a value in a list, or nest a wrong shape
        path = rng.choice(spots)
        inner = get(instance, path)
        return replaced(instance, path, rng.choice([[inner], {"value": inner}, [[inner]]]))
    if move == 4 and spots:  # a string value turned into its near miss
        path = rng.choice(spots)
        inner = get(instance, path)
        if isinstance(inner, str):
            edits = [inner + "\n", inner.upper(), inner.replace(".", ","), "-" + inner,
                     inner + "e3", inner[:-1], inner.replace("-", "/"), inner + " ", inner * 2]
            return replaced(instance, path, rng.choice(edits))
    path = rng.choice(spots) if spots and rng.random() < 0.95 else ()
    return replaced(instance, path, clone(rng.choice(VALUES + arbitrary)))


# ------------------------------------------------------------------ valid instances from the schema


def generate(schema: Any, base: str = "") -> st.SearchStrategy[Any]:
    """Instances that follow the schema's shape (the conditional keywords aside)."""
    if schema is True or schema == {}:
        return JSON
    base = schema.get("$id", base)
    if "$ref" in schema:
        document, _, pointer = urljoin(base, schema["$ref"]).partition("#")
        target = REGISTRY.contents(document)
        for part in pointer.split("/")[1:]:
            target = target[part]
        return generate(target, document)
    if "const" in schema:
        return st.just(schema["const"])
    if "enum" in schema:
        return st.sampled_from(schema["enum"])
    kind = schema.get("type")
    if kind == "object":
        properties = schema.get("properties", {})
        required = schema.get("required", [])
        return st.fixed_dictionaries(
            {name: generate(properties[name], base) for name in required},
            optional={name: generate(sub, base) for name, sub in properties.items()
                      if name not in required})
    if kind == "string":
        if "pattern" in schema:
            text, method = ecma_pattern(schema["pattern"])
            return st.from_regex(text, fullmatch=method == "fullmatch")
        return st.text(min_size=schema.get("minLength", 0), max_size=16)
    if kind == "boolean":
        return st.booleans()
    if kind == "array":
        return st.lists(generate(schema.get("items", True), base),
                        min_size=schema.get("minItems", 0), max_size=4,
                        unique=schema.get("uniqueItems", False))
    raise AssertionError(f"no generator for {schema}")


GENERATED = {t: generate(event_schema(t)) for t in EVENT_TYPES}

# ------------------------------------------------------------------ the differential tests

@pytest.mark.parametrize("event_type", EVENT_TYPES)
def test_every_fixture_with_every_single_change_agrees_with_jsonschema(event_type: str) -> None:
    """Each valid fixture with each value swapped for each odd value, each key dropped or
    misspelt; each invalid fixture with a few random changes."""
    oracle = ORACLES[event_type]
    rng = random.Random(event_type)
    for event in FIXTURE_EVENTS[event_type]:
        oracle.check(event)
        for path in [(), *locations(event)]:
            for value in VALUES:
                oracle.check(replaced(event, path, value))
            if path:
                trimmed = clone(event)
                del get(trimmed, path[:-1])[path[-1]]
                oracle.check(trimmed)
        for path in containers(event):
            box = get(event, path)
            if isinstance(box, dict):
                for key in list(box) or ["key"]:
                    oracle.check(replaced(event, path, {**box, near_miss(key, rng): "x"}))
    for event in INVALID_EVENTS[event_type]:
        oracle.check(event)
        for _ in range(20):
            oracle.check(mutate(event, rng, []))
    assert oracle.checked[True] >= 1 and oracle.checked[False] >= 300


@pytest.mark.parametrize("event_type", EVENT_TYPES)
@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_generated_and_mutated_events_agree_with_jsonschema(event_type: str, data: st.DataObject) -> None:
    """Schema-shaped events, each then changed by one to three random mutations, many times."""
    oracle = ORACLES[event_type]
    rng = random.Random(data.draw(st.integers(0, 2**32), label="seed"))
    arbitrary = data.draw(st.lists(JSON, max_size=3), label="values")
    bases = [data.draw(GENERATED[event_type], label="event"), rng.choice(FIXTURE_EVENTS[event_type])]
    for base in bases:
        oracle.check(base)
        for _ in range(40):
            instance = base
            for _ in range(rng.randint(1, 3)):
                instance = mutate(instance, rng, arbitrary)
            oracle.check(instance)


def test_the_differential_tests_covered_every_type_thoroughly() -> None:
    # Runs after the two tests above in file order; with -k it may see less.
    for event_type, oracle in ORACLES.items():
        if sum(oracle.checked.values()) == 0:
            pytest.skip("run with the differential tests")
        assert sum(oracle.checked.values()) >= 2000, (event_type, oracle.checked)
        assert oracle.checked[True] >= 50, (event_type, oracle.checked)


# Every supported keyword, in shapes the event schemas do not (yet) use.
SYNTHETIC: list[Any] = [
    True,
    False,
    {},
    {"type": "integer", "minimum": 0, "exclusiveMaximum": 10},
    {"type": ["number", "null"], "exclusiveMinimum": -1.5, "maximum": 100},
    {"type": "number", "minimum": 0.5},
    {"minimum": 2},
    {"enum": ["a", 1, None, True, [1, "x"], {"k": 1.0}]},
    {"enum": ["a", "b"]},
    {"const": 1},
    {"const": False},
    {"const": None},
    {"const": {"a": [1, True]}},
    {"const": "a"},
    {"type": "array", "items": {"type": "integer"}, "minItems": 1, "maxItems": 3, "uniqueItems": True},
    {"type": "array", "uniqueItems": True},
    {"uniqueItems": True, "maxItems": 2, "minItems": 2},
    {"type": "string", "minLength": 2, "maxLength": 4},
    {"maxLength": 1},
    {"type": "string", "pattern": "b"},
    {"pattern": "^a|b$"},
    {"pattern": "^[a-c]+$"},
    {"type": "string", "pattern": "^(?!ab)[a-z]*$"},
    {"type": "object", "properties": {"a": {"type": "string"}, "b": {"type": "integer"}},
     "required": ["a"], "additionalProperties": {"type": "boolean"}},
    {"type": "object", "required": ["a", "b", "c", "d", "e"]},
    {"type": "object", "properties": {}, "additionalProperties": False},
    {"properties": {"a": {}}, "required": ["a", "z"], "additionalProperties": False},
    {"properties": {"a": True, "b": False}},
    {"properties": {"a": {"type": "integer"}}, "required": ["a"]},
    {"dependentRequired": {"a": ["b", "c"], "k": []}},
    {"allOf": [{"type": "object"}, {"required": ["x"]}, {"properties": {"x": {"not": {"type": "string"}}}}]},
    {"if": {"properties": {"k": {"const": "n"}}, "required": ["k"]},
     "then": {"properties": {"v": {"type": "number"}}}, "else": {"properties": {"v": {"type": "string"}}}},
    {"if": {"type": "string"}, "then": {"minLength": 2}},
    {"if": {"items": {"type": "integer"}}, "else": {"maxItems": 1}},
    {"then": {"type": "string"}},
    {"not": {"type": "array"}},
    {"not": {"properties": {"a": {"items": {"const": 1}}}}},
    {"type": "boolean"},
    {"type": ["integer", "string"], "minimum": 1, "maximum": 31,
     "if": {"type": "string"}, "then": {"enum": ["last", "first_business_day"]}},
    {"$ref": "#/$defs/positive", "$defs": {"positive": {"type": "number", "exclusiveMinimum": 0}}},
    {"items": {"type": "object", "properties": {"a": False}}, "additionalProperties": False},
    {"not": {"required": ["a", "b"]}, "if": {"required": ["a"]}, "else": {"required": ["b"]}},
    {"items": {"items": {"type": "null"}}},
    *({"$ref": f"{COMMON}#/$defs/{name}"} for name in (
        "api_version", "id", "money", "decimal", "nonneg_decimal", "percent", "hours", "currency",
        "date", "datetime", "duration", "interval", "time_of_day", "billing_day", "payment_terms",
        "condition", "email", "contact", "project_ref", "positive_decimal_string", "action_type")),
]
KEYS = st.sampled_from(["a", "b", "c", "d", "e", "k", "v", "x", "z", "name", "email"])
SCALARS = (st.none() | st.booleans() | st.sampled_from([0, 1, 2, 10, 31, 32, 100, 101, -1, 0.5, 1.0, 2.5, 1e20])
           | st.integers() | st.floats(allow_nan=False)
           | st.sampled_from(["a", "b", "ab", "abc", "n", "last", "", "x", "ba", "aab", "a\n", "b\n", "USD",
                              "2026-03-01", "12.50", "-3", "100.0", "3 business days", "15m", "09:00",
                              "net_30", "ap@acme.example", "a b@c", "billflow/v1", "invoice.drafted"])
           | st.text(alphabet="abcxyz019.-_ @:\n\u00e9", max_size=8))
ANY_JSON = st.recursive(SCALARS, lambda inner: st.lists(inner, max_size=4)
                        | st.dictionaries(KEYS, inner, max_size=6), max_leaves=10)


SYNTHETIC_ORACLES = [Oracle(schema) for schema in SYNTHETIC]


@settings(max_examples=60, deadline=None)
@given(instances=st.lists(ANY_JSON, min_size=1, max_size=15))
def test_every_supported_keyword_agrees_with_jsonschema(instances: list[Any]) -> None:
    for oracle in SYNTHETIC_ORACLES:
        for instance in instances:
            oracle.check(instance)


CURATED: list[Any] = VALUES + [
    2, 10, 31, 32, 100, 100.5, 0.5, -1.5, -1.6, 1e10, 1e11, "ab", "abc", "abcd", "aab", "ba", "last",
    "first_business_day", "n", "a", "b", [1, "x"], [1.0, "x"], [True, "x"], {"k": 1.0}, {"k": 1}, {"k": True},
    {"a": [1, True]}, {"a": [1.0, True]}, {"a": [True, 1]}, [1, 2], [1, 1.0], [1, True], [0, False],
    [[1], [True]], [{"a": 1}, {"a": 1.0}], [None], [[None], []], {"a": "x"}, {"a": "x", "b": 1},
    {"a": "x", "c": True}, {"a": "x", "c": 1}, {"a": 1, "b": 2, "c": 3, "d": 4, "e": 5}, {"a": 1, "z": 2},
    {"a": 1, "b": 2, "c": 3}, {"a": 1, "b": 2}, {"k": "n", "v": 1}, {"k": "n", "v": "1"}, {"k": "m", "v": "1"},
    {"x": 1}, {"x": "s"}, {"b": 1}, {"a": 1}, {"a": {"items": 1}}, [{"a": 1}], [{"b": 1}],
    {"name": "Ann", "email": "ann@acme.example"}, {"name": "Ann", "email": "ann @acme"},
    "3 business days", "1 business day", "-3d", "15m", "24:00", "23:59", "net_30", "eom_15", "net_", "100",
    "100.00", "100.01", "8.875", "ap@acme.example", "billflow/v1", "invoice.drafted", "EUR",
]


def test_every_supported_keyword_agrees_with_jsonschema_on_chosen_values() -> None:
    for oracle in SYNTHETIC_ORACLES:
        for instance in CURATED:
            oracle.check(instance)
        assert oracle.checked[True] or oracle.schema is False, oracle.schema
        # `then` without `if` is ignored, as Draft 2020-12 says
        assert oracle.checked[False] or oracle.schema in (True, {}, {"then": {"type": "string"}})


def test_the_synthetic_schemas_use_every_supported_keyword() -> None:
    used: set[str] = set()

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            used.update(node)
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk(SYNTHETIC)
    assert SUPPORTED_KEYWORDS <= used, SUPPORTED_KEYWORDS - used


# ------------------------------------------------------------------ loading


def test_load_event_validators_compiles_every_event_type() -> None:
    loaded = load_event_validators(SCHEMAS)
    assert sorted(loaded) == EVENT_TYPES
    assert "event" not in loaded
    for event_type, events in FIXTURE_EVENTS.items():
        assert loaded[event_type](events[0]) is None
    assert sorted(load_event_validators()) == EVENT_TYPES


def test_valid_fixtures_pass_and_invalid_fixtures_fail() -> None:
    loaded = load_event_validators(SCHEMAS)
    for line in (FIXTURES / "valid.ndjson").read_text(encoding="utf-8").splitlines():
        event = json.loads(line)
        assert loaded[event["type"]](event) is None, event
    for case in json.loads((FIXTURES / "invalid.json").read_text(encoding="utf-8")):
        event = case["event"]
        if event.get("type") in loaded:
            message = loaded[event["type"]](event)
            assert message is not None, case["name"]
            where = case["path"].removeprefix("$").removeprefix(".")
            assert message.startswith(f"{where}: " if where else ""), (case["name"], message)


def test_the_happy_path_formats_no_strings() -> None:
    for event_type in EVENT_TYPES:
        source = ORACLES[event_type].compiled.source  # type: ignore[attr-defined]
        body = source.split("def validate(v):", 1)[1]
        for line in body.splitlines():
            if "_explain" in line:
                assert line.strip().startswith("return _explain("), line
        assert "f'" not in body and 'f"' not in body and ".format(" not in body and "%" not in body


def test_a_valid_event_never_reaches_the_message_code(monkeypatch: pytest.MonkeyPatch) -> None:
    def boom(*args: Any) -> str:
        raise AssertionError("explained a valid event")

    monkeypatch.setattr(event_check, "_explain", boom)
    loaded = load_event_validators(SCHEMAS)
    for event_type, events in FIXTURE_EVENTS.items():
        assert loaded[event_type](events[0]) is None


# ------------------------------------------------------------------ messages

VALIDATORS = load_event_validators(SCHEMAS)
TIME = {"id": "t-1", "type": "time.approved", "at": "2026-03-06T17:02:11-05:00",
        "payload": {"client": "acme", "project": "acme-adhoc", "person": "dana", "role": "strategist",
                    "date": "2026-03-05", "hours": "1.25", "billable": True}}


def time_with(**changes: Any) -> dict[str, Any]:
    event = clone(TIME)
    for key, value in changes.items():
        if value is ...:
            del event["payload"][key]
        else:
            event["payload"][key] = value
    return event


@pytest.mark.parametrize(("event", "message"), [
    (time_with(hours="1,5"), "payload.hours: '1,5' is not a non-negative decimal string such as \"7.5\""),
    (time_with(hours="-1"), "payload.hours: '-1' is not a non-negative decimal string such as \"7.5\""),
    (time_with(hours="1e3"), "payload.hours: '1e3' is not a non-negative decimal string such as \"7.5\""),
    (time_with(hours=1.5), "payload.hours: expected a string, got the number 1.5"),
    (time_with(hours=True), "payload.hours: expected a string, got true"),
    (time_with(hours=None), "payload.hours: expected a string, got null"),
    (time_with(project=...), "payload: missing required key 'project'"),
    (time_with(hours=..., hrs="1"), "payload: unknown key 'hrs' (did you mean 'hours'?)"),
    (time_with(zzz="1"), "payload: unknown key 'zzz'; allowed here: client, project, person, role, "
                         "date, hours, billable, task, notes, source_id"),
    (time_with(billable="yes"), "payload.billable: expected true or false, got the string 'yes'"),
    (time_with(date="2026-13-01"),
     "payload.date: '2026-13-01' is not a date written YYYY-MM-DD such as 2026-03-01"),
    (time_with(date="2026-03-01\n"),
     "payload.date: '2026-03-01\\n' is not a date written YYYY-MM-DD such as 2026-03-01"),
    (time_with(client="Acme"),
     "payload.client: 'Acme' is not an id of lower-case letters, digits, '-' and '_' such as "
     "standard or dana"),
    (time_with(task=""), "payload.task: must not be empty"),
    (time_with(notes=["a"]), "payload.notes: expected a string, got a list"),
    ({**TIME, "at": "2026-03-06T17:02:11"},
     "at: '2026-03-06T17:02:11' is not an ISO 8601 date-time with an offset such as "
     "2026-03-01T09:00:00-05:00"),
    ({**TIME, "type": "time.aproved"}, "type: must be 'time.approved', not 'time.aproved'"),
    ({**TIME, "id": ""}, "id: must not be empty"),
    ({**TIME, "id": 7}, "id: expected a string, got the number 7"),
    ({**TIME, "payload": []}, "payload: expected an object, got a list"),
    ({**TIME, "source": "harvest"}, "unknown key 'source'; allowed here: id, type, at, payload"),
    ({k: v for k, v in TIME.items() if k != "at"}, "missing required key 'at'"),
    ([TIME], "expected an object, got a list"),
    ("{}", "expected an object, got the string '{}'"),
])
def test_messages_of_common_mistakes(event: Any, message: str) -> None:
    assert VALIDATORS["time.approved"](event) == message


ADJUSTED = {"id": "adj-1", "type": "invoice.adjusted", "at": "2026-04-02T16:00:00-04:00",
            "payload": {"invoice": "acme/adhoc/2026-03-31", "by": "sam",
                        "lines_add": [{"description": "Discount", "quantity": "1", "unit_price": "-150.00"},
                                      {"description": "Fee", "quantity": "1,5", "unit_price": "10"}]}}
ASSIGNED = {"id": "as-1", "type": "payment.assigned", "at": "2026-04-22T09:00:00-04:00",
            "payload": {"payment": "bank:77", "by": "dana"}}


def test_messages_inside_lists_and_conditions() -> None:
    adjusted = VALIDATORS["invoice.adjusted"]
    assert adjusted(ADJUSTED) == ("payload.lines_add[1].quantity: '1,5' is not a decimal string "
                                  "such as \"1234.50\"")
    no_lines = clone(ADJUSTED)
    del no_lines["payload"]["lines_add"]
    assert adjusted(no_lines) == "payload: missing required key 'lines_remove' (or give 'lines_add')"
    no_lines["payload"]["lines_remove"] = ["Fee", "Fee"]
    assert adjusted(no_lines) == "payload.lines_remove: lists 'Fee' more than once"
    no_lines["payload"]["lines_remove"] = []
    assert adjusted(no_lines) == "payload.lines_remove: needs at least 1 item, has 0"
    no_lines["payload"]["lines_remove"] = ["Fee", 3]
    assert adjusted(no_lines) == "payload.lines_remove[1]: expected a string, got the number 3"

    assigned = VALIDATORS["payment.assigned"]
    assert assigned(ASSIGNED) == "payload: missing required key 'invoice' (or give 'client')"
    both = clone(ASSIGNED)
    both["payload"].update(invoice="NW-1", client="acme")
    assert assigned(both) == "payload: 'invoice' and 'client' cannot be used together"
    assert assigned({**ASSIGNED, "payload": {**ASSIGNED["payload"], "client": "acme"}}) is None


def test_messages_of_other_keywords() -> None:
    def message(schema: Any, instance: Any) -> str | None:
        return compile_validator(schema, resolve)(instance)

    assert message({"enum": ["monthly", "weekly"]}, "montly") == (
        "'montly' is not one of: 'monthly', 'weekly' (did you mean 'monthly'?)")
    assert message({"properties": {"n": {"minimum": 1}}}, {"n": 0}) == "n: 0 is too small: must be at least 1"
    assert message({"exclusiveMaximum": 10}, 10) == "10 is too large: must be less than 10"
    assert message({"type": "integer"}, 1.5) == "expected a whole number, got the number 1.5"
    assert message({"type": "integer"}, 1.0) is None
    assert message({"type": "number"}, True) == "expected a number, got true"
    assert message({"type": ["integer", "null"]}, "1") == "expected a whole number or null, got the string '1'"
    assert message({"maxLength": 3}, "abcd") == "must be at most 3 characters long, not 4"
    assert message({"minLength": 2}, "\U0001f600") == "must be at least 2 characters long, not 1"
    assert message({"maxItems": 1}, [1, 2]) == "allows at most 1 items, has 2"
    assert message({"dependentRequired": {"a": ["b"]}}, {"a": 1}) == "missing key 'b', which 'a' needs"
    assert message({"not": {"type": "string"}}, "x") == "has a shape that is not allowed here"
    assert message({"additionalProperties": {"type": "string"}}, {"k": 1}) == (
        "k: expected a string, got the number 1")
    assert message({"items": False}, [1]) == "[0]: no value is allowed here, got the number 1"
    assert message({"type": "string", "pattern": "^a"}, "ba") == "'ba' does not match the pattern ^a"
    assert message({"items": {"type": "string"}}, ["a", "b", 3]) == "[2]: expected a string, got the number 3"
    assert message({"const": 10**5000}, 1) is not None  # a number too long to print is still explained


# ------------------------------------------------------------------ ECMA-262 patterns


@pytest.mark.parametrize(("pattern", "python", "method"), [
    ("^[a-z0-9][a-z0-9_-]*$", "[a-z0-9][a-z0-9_-]*", "fullmatch"),
    ("^(?!0+(\\.0+)?$)[0-9]+(\\.[0-9]+)?$", "(?!0+(?:\\.0+)?\\Z)[0-9]+(?:\\.[0-9]+)?", "fullmatch"),
    ("^-?[0-9]+(m|h)$|^[0-9]+ days?$", "^-?[0-9]+(?:m|h)\\Z|^[0-9]+ days?\\Z", "search"),
    ("^ab", "ab", "match"),
    ("ab$", "ab\\Z", "search"),
    ("a.b", "a[^\\n\\r\\u2028\\u2029]b", "search"),
    ("\\d{2,}", "[0-9]{2,}", "search"),
    ("a{,3}", "a\\{,3\\}", "search"),
    ("[\\w-]", "[A-Za-z0-9_-]", "search"),
])
def test_patterns_are_translated_from_ecma(pattern: str, python: str, method: str) -> None:
    assert ecma_pattern(pattern) == (python, method)


@pytest.mark.parametrize(("pattern", "text", "matches"), [
    ("^[0-9]{4}$", "2026\n", False),       # Python's $ would accept the newline
    ("^[0-9]{4}$", "2026", True),
    ("[0-9]{4}", "in 2026!", True),         # a pattern is a search unless it anchors itself
    ("^\\d+$", "\u0663", False),            # ECMA \d is ASCII only
    ("^\\w+$", "\u00e9", False),            # and so is \w
    ("^\\s$", "\ufeff", True),              # ECMA \s has the BOM ...
    ("^\\s$", "\x1c", False),               # ... and not the separators Python adds
    ("^.$", "\r", False),                   # . stops at every line terminator
    ("^.$", "\U0001f600", True),            # lengths and characters are code points
])
def test_patterns_mean_what_ecma_says(pattern: str, text: str, matches: bool) -> None:
    validate = compile_validator({"type": "string", "pattern": pattern}, resolve)
    assert (validate(text) is None) is matches


@pytest.mark.parametrize("pattern", ["\\bword", "(?i)abc", "[]", "a\\", "(ab", "\\p{L}", "[\\D]", "\\k<n>"])
def test_patterns_that_differ_between_ecma_and_python_are_refused(pattern: str) -> None:
    with pytest.raises(SchemaCompileError, match="pattern"):
        compile_validator({"pattern": pattern}, resolve)


# ------------------------------------------------------------------ what is not supported


@pytest.mark.parametrize("schema", [
    {"type": "object", "propertyNames": {"minLength": 1}},
    {"properties": {"a": {"anyOf": [{"type": "string"}, {"type": "null"}]}}},
    {"items": {"format": "date"}},
    {"allOf": [{"patternProperties": {"^x": {}}}]},
    {"if": {"oneOf": [{}]}, "then": {}},
    {"not": {"minProperties": 1}},
    {"$ref": f"{COMMON}#/$defs/metadata"},  # uses propertyNames, inside another document
])
def test_an_unsupported_keyword_is_a_compile_time_error(schema: dict[str, Any]) -> None:
    with pytest.raises(SchemaCompileError, match="is not supported"):
        compile_validator(schema, resolve)


def test_the_error_names_the_keyword_and_where_it_is() -> None:
    with pytest.raises(SchemaCompileError) as caught:
        compile_validator({"$id": "https://example.test/s.json",
                           "properties": {"payload": {"properties": {"tags": {"contains": {}}}}}},
                          resolve)
    assert "'contains'" in str(caught.value)
    assert "https://example.test/s.json#/properties/payload/properties/tags" in str(caught.value)


def test_other_compile_time_errors() -> None:
    with pytest.raises(SchemaCompileError, match="recursive"):
        compile_validator({"$defs": {"node": {"items": {"$ref": "#/$defs/node"}}},
                           "$ref": "#/$defs/node"}, resolve)
    with pytest.raises(SchemaCompileError, match="cannot resolve"):
        compile_validator({"$ref": "https://example.test/missing.json"}, resolve)
    with pytest.raises(SchemaCompileError, match="points at nothing"):
        compile_validator({"$ref": "#/$defs/none"}, resolve)
    with pytest.raises(SchemaCompileError, match="'type'"):
        compile_validator({"type": "text"}, resolve)
    with pytest.raises(SchemaCompileError, match="no event schemas"):
        load_event_validators(SCHEMAS / "v1")
