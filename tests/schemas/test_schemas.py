"""Check the JSON Schemas of rule documents, events, actions and connector configurations.

Every schema must be valid Draft 2020-12 whose `$ref`s all resolve through one registry;
the SPEC's own examples must validate; typos and wrong values must fail at the key that
holds them, never with "not valid under any of the given schemas".
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from decimal import Decimal
from functools import lru_cache
from pathlib import Path
from typing import Any

import pytest
import yaml
from jsonschema import Draft202012Validator
from referencing import Registry, Resource

ROOT = Path(__file__).resolve().parents[2]
SCHEMAS = ROOT / "schemas"
CONNECTORS = ROOT / "connectors"
FIXTURES = Path(__file__).resolve().parent / "fixtures"
BASE = "https://schemas.billflow.example"

KINDS = ["Agency", "Client", "ApprovalRoute", "ReminderCadence", "EscalationRule", "Template"]
EVENT_TYPES = [
    "time.approved", "time.unapproved", "expense.approved", "milestone.completed",
    "invoice.approved", "invoice.flagged", "invoice.adjusted", "invoice.voided",
    "invoice.disputed", "invoice.undisputed", "payment.received", "payment.assigned",
    "rules.changed",
]
ACTION_TYPES = [
    "invoice.drafted", "approval.requested", "approval.reminded", "approval.escalated",
    "invoice.issued", "invoice.voided", "invoice.flagged", "reminder.sent",
    "escalation.triggered", "payment.applied", "payment.unmatched",
]
CONNECTOR_TYPES = ["files", "smtp", "slack", "webhook", "harvest", "toggl", "asana",
                   "productive", "quickbooks", "xero"]
COMBINATOR_MESSAGE = "is not valid under any of the given schemas"


# ------------------------------------------------------------------ loading


class _RuleLoader(yaml.SafeLoader):
    """Read YAML as the rule loader does: decimals exact, dates kept as strings."""


_RuleLoader.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_RuleLoader.add_constructor(
    "tag:yaml.org,2002:float",
    lambda loader, node: Decimal(loader.construct_scalar(node).replace("_", "")),
)


def load_yaml_all(path: Path) -> list[Any]:
    return [doc for doc in yaml.load_all(path.read_text(encoding="utf-8"), Loader=_RuleLoader)
            if doc is not None]


def load_json(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))


def schema_files() -> list[Path]:
    return sorted(SCHEMAS.rglob("*.json"))


def connector_schema_files() -> list[Path]:
    return sorted(CONNECTORS.glob("*/config.schema.json"))


def all_schema_files() -> list[Path]:
    return schema_files() + connector_schema_files()


def rel(path: Path) -> str:
    return path.relative_to(ROOT).as_posix()


@lru_cache(maxsize=1)
def registry() -> Registry:
    """Every schema under schemas/ (and the connector schemas), keyed by `$id`."""
    return Registry().with_resources(
        (load_json(path)["$id"], Resource.from_contents(load_json(path)))
        for path in all_schema_files()
    )


def validator_for(schema_id: str) -> Draft202012Validator:
    return Draft202012Validator({"$ref": schema_id}, registry=registry())


def kind_validator(kind: str) -> Draft202012Validator:
    return validator_for(f"{BASE}/v1/{kind}.json")


def walk(node: Any, path: str = "#", skip: tuple[str, ...] = ()) -> Iterator[tuple[str, dict]]:
    """Yield (json pointer, subschema) for every schema object, skipping keywords in `skip`."""
    if isinstance(node, dict):
        yield path, node
        for key, value in node.items():
            if key in skip or key in ("enum", "const", "default", "examples"):
                continue
            if key in ("properties", "$defs", "patternProperties", "dependentSchemas"):
                if isinstance(value, dict):
                    for name, sub in value.items():
                        yield from walk(sub, f"{path}/{key}/{name}", skip)
                continue
            if isinstance(value, (dict, list)):
                yield from walk(value, f"{path}/{key}", skip)
    elif isinstance(node, list):
        for index, item in enumerate(node):
            yield from walk(item, f"{path}/{index}", skip)


def error_report(errors) -> str:
    return "\n".join(f"{e.json_path} [{e.validator}] {e.message}" for e in errors)


# ------------------------------------------------------------------ the schema files


def test_expected_files_exist():
    names = {rel(path) for path in all_schema_files()}
    expected = {f"schemas/v1/{kind}.json" for kind in KINDS} | {"schemas/v1/common.json"}
    expected |= {f"schemas/events/v1/{t}.json" for t in EVENT_TYPES} | {"schemas/events/v1/event.json"}
    expected |= {f"schemas/actions/v1/{t}.json" for t in ACTION_TYPES}
    expected |= {"schemas/actions/v1/invoice.json", "schemas/actions/v1/action.json"}
    expected |= {f"connectors/{c}/config.schema.json" for c in CONNECTOR_TYPES}
    assert not expected - names, f"missing: {sorted(expected - names)}"


@pytest.mark.parametrize("path", all_schema_files(), ids=rel)
def test_schema_is_valid_draft_2020_12(path):
    schema = load_json(path)
    assert schema.get("$schema") == "https://json-schema.org/draft/2020-12/schema"
    Draft202012Validator.check_schema(schema)


@pytest.mark.parametrize("path", all_schema_files(), ids=rel)
def test_id_follows_the_file_layout(path):
    schema_id = load_json(path)["$id"]
    if path.is_relative_to(SCHEMAS):
        assert schema_id == f"{BASE}/{path.relative_to(SCHEMAS).as_posix()}"
    else:
        assert schema_id == f"{BASE}/{rel(path)}"


def test_ids_are_unique():
    ids = [load_json(path)["$id"] for path in all_schema_files()]
    assert len(ids) == len(set(ids))


@pytest.mark.parametrize("path", all_schema_files(), ids=rel)
def test_every_ref_resolves(path):
    schema = load_json(path)
    resolver = registry().resolver(base_uri=schema["$id"])
    refs = [(pointer, node["$ref"]) for pointer, node in walk(schema) if "$ref" in node]
    for pointer, ref in refs:
        assert not ref.startswith(("http:", "https:")), f"{pointer}: use relative $refs, not {ref}"
        resolved = resolver.lookup(ref)
        assert isinstance(resolved.contents, (dict, bool)), f"{pointer}: {ref}"


@pytest.mark.parametrize("path", all_schema_files(), ids=rel)
def test_no_combinators_or_old_keywords(path):
    """oneOf/anyOf errors read "not valid under any of the given schemas": never use them."""
    for pointer, node in walk(load_json(path)):
        for keyword in ("oneOf", "anyOf", "definitions", "dependencies"):
            assert keyword not in node, f"{pointer} uses {keyword}"


@pytest.mark.parametrize("path", all_schema_files(), ids=rel)
def test_closed_objects_list_their_keys(path):
    """The loader suggests 'did you mean' from `properties`: a closed object must have them."""
    for pointer, node in walk(load_json(path)):
        if node.get("additionalProperties") is False or node.get("unevaluatedProperties") is False:
            assert node.get("properties"), f"{pointer} is closed but lists no properties"


@pytest.mark.parametrize("path", all_schema_files(), ids=rel)
def test_every_property_has_a_description(path):
    """Editors show descriptions while completing; conditions (if/not) need none."""
    for pointer, node in walk(load_json(path), skip=("if", "not")):
        for name, sub in node.get("properties", {}).items():
            if isinstance(sub, dict):
                assert sub.get("description"), f"{pointer}/properties/{name} has no description"


def test_client_engagement_branches_are_complete():
    """Each model's branch lists every key it allows, the common ones included."""
    defs = load_json(SCHEMAS / "v1/Client.json")["$defs"]
    common = set(defs["engagement"]["properties"])
    assert set(defs["engagement"]["properties"]["model"]["enum"]) == {
        "retainer", "project_fixed", "time_and_materials"}
    for model in ("retainer", "project_fixed", "time_and_materials"):
        branch = defs[model]
        assert branch["additionalProperties"] is False
        assert common <= set(branch["properties"]), f"{model} misses {common - set(branch['properties'])}"
        assert branch["properties"]["model"] == {
            "const": model, "description": branch["properties"]["model"]["description"]}


def test_routing_keys_are_the_action_types():
    """Routing lists each action type as a property, so a typo reads 'did you mean'."""
    routing = load_json(SCHEMAS / "v1/Agency.json")["properties"]["spec"]["properties"]["routing"]
    common = load_json(SCHEMAS / "v1/common.json")
    assert list(routing["properties"]) == ACTION_TYPES
    assert routing["additionalProperties"] is False
    assert common["$defs"]["action_type"]["enum"] == ACTION_TYPES


def test_dispatchers_list_every_type():
    events = load_json(SCHEMAS / "events/v1/event.json")
    actions = load_json(SCHEMAS / "actions/v1/action.json")
    documents = load_json(SCHEMAS / "v1/document.json")
    assert events["properties"]["type"]["enum"] == EVENT_TYPES
    assert actions["properties"]["type"]["enum"] == ACTION_TYPES
    assert documents["properties"]["kind"]["enum"] == KINDS
    for schema, names in ((events, EVENT_TYPES), (actions, ACTION_TYPES)):
        targets = [branch["then"]["$ref"] for branch in schema["allOf"]]
        assert targets == [f"{name}.json" for name in names]


# ------------------------------------------------------------------ rule documents

VALID_RULE_FILES = sorted((FIXTURES / "valid").glob("*.yaml"))
INVALID_RULE_FILES = sorted((FIXTURES / "invalid").glob("*.yaml"))
EXPECT = re.compile(r"^# expect: (\S+) (\w+)\s*$", re.MULTILINE)


@pytest.mark.parametrize("path", VALID_RULE_FILES, ids=lambda p: p.name)
def test_valid_rule_documents(path):
    docs = load_yaml_all(path)
    assert docs
    for doc in docs:
        assert doc["apiVersion"] == "billflow/v1"
        errors = list(kind_validator(doc["kind"]).iter_errors(doc))
        assert not errors, error_report(errors)
        errors = list(validator_for(f"{BASE}/v1/document.json").iter_errors(doc))
        assert not errors, error_report(errors)


def test_spec_examples_cover_every_kind_and_model():
    docs = [doc for path in VALID_RULE_FILES for doc in load_yaml_all(path)]
    assert {doc["kind"] for doc in docs} == set(KINDS)
    client = next(doc for doc in load_yaml_all(FIXTURES / "valid/client.yaml"))
    assert [e["model"] for e in client["spec"]["engagements"]] == [
        "retainer", "project_fixed", "time_and_materials"]


def test_decimal_values_count_as_numbers():
    """The loader reads `amount: 4000.50` as Decimal; money accepts it, floats never arise."""
    doc = load_yaml_all(FIXTURES / "valid/variants.yaml")[0]
    fee = doc["spec"]["engagements"][1]["fee"]
    assert isinstance(fee, Decimal)
    assert not list(kind_validator("Client").iter_errors(doc))


@pytest.mark.parametrize("path", INVALID_RULE_FILES, ids=lambda p: p.name)
def test_invalid_rule_documents_fail_at_the_offending_key(path):
    text = path.read_text(encoding="utf-8")
    expected = EXPECT.findall(text)
    assert expected, f"{path.name} has no '# expect: <json path> <keyword>' line"
    [doc] = load_yaml_all(path)
    kind = doc["kind"]
    errors = list(kind_validator(kind).iter_errors(doc))
    assert errors, f"{path.name} validated"
    found = {(e.json_path, e.validator) for e in errors}
    for json_path, keyword in expected:
        assert (json_path, keyword) in found, error_report(errors)
    assert not any(COMBINATOR_MESSAGE in e.message for e in errors), error_report(errors)


def test_unknown_key_error_names_the_allowed_keys():
    """An additionalProperties error's schema lists the allowed keys (for 'did you mean')."""
    [doc] = load_yaml_all(FIXTURES / "invalid/client-engagement-misspelt-key.yaml")
    [error] = [e for e in kind_validator("Client").iter_errors(doc)
               if e.validator == "additionalProperties"]
    assert "overage_rate" in error.schema["properties"]


def test_spec_agency_connectors_validate_against_their_types():
    [agency] = load_yaml_all(FIXTURES / "valid/agency.yaml")
    for name, config in agency["spec"]["connectors"].items():
        schema = load_json(CONNECTORS / config["type"] / "config.schema.json")
        errors = list(Draft202012Validator(schema, registry=registry()).iter_errors(config))
        assert not errors, f"{name}: {error_report(errors)}"


# ------------------------------------------------------------------ events


def read_ndjson(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


VALID_EVENTS = read_ndjson(FIXTURES / "events/valid.ndjson")
INVALID_EVENTS = load_json(FIXTURES / "events/invalid.json")


def test_example_events_cover_every_type():
    assert {event["type"] for event in VALID_EVENTS} == set(EVENT_TYPES)


@pytest.mark.parametrize("event", VALID_EVENTS, ids=lambda e: f"{e['type']}:{e['id']}")
def test_valid_events(event):
    for schema_id in (f"{BASE}/events/v1/event.json", f"{BASE}/events/v1/{event['type']}.json"):
        errors = list(validator_for(schema_id).iter_errors(event))
        assert not errors, error_report(errors)


@pytest.mark.parametrize("case", INVALID_EVENTS, ids=lambda c: c["name"])
def test_invalid_events_fail_at_the_offending_key(case):
    errors = list(validator_for(f"{BASE}/events/v1/event.json").iter_errors(case["event"]))
    assert (case["path"], case["validator"]) in {(e.json_path, e.validator) for e in errors}, \
        error_report(errors)
    assert not any(COMBINATOR_MESSAGE in e.message for e in errors), error_report(errors)


def test_unknown_event_type_reports_only_the_type():
    event = {"id": "x", "type": "invoice.paid", "at": "2026-03-07T09:00:00Z", "payload": {}}
    errors = list(validator_for(f"{BASE}/events/v1/event.json").iter_errors(event))
    assert [(e.json_path, e.validator) for e in errors] == [("$.type", "enum")]


@pytest.mark.parametrize("value", ["2026-03-07T09:00:00Z", "2026-03-07T09:00:00.123+05:30",
                                   "2026-03-07T09:00-05:00", "2026-03-07T09:00:00+0000"])
def test_event_time_accepts_offsets(value):
    event = {"id": "u", "type": "time.unapproved", "at": value, "payload": {"source_id": "1"}}
    assert not list(validator_for(f"{BASE}/events/v1/event.json").iter_errors(event))


@pytest.mark.parametrize("value", ["2026-03-07T09:00:00", "2026-03-07", "2026-03-07 09:00:00Z",
                                   "07/03/2026 09:00 +01:00"])
def test_event_time_needs_an_offset(value):
    event = {"id": "u", "type": "time.unapproved", "at": value, "payload": {"source_id": "1"}}
    errors = list(validator_for(f"{BASE}/events/v1/event.json").iter_errors(event))
    assert [(e.json_path, e.validator) for e in errors] == [("$.at", "pattern")]


# ------------------------------------------------------------------ actions

VALID_ACTIONS = read_ndjson(FIXTURES / "actions/valid.ndjson")
INVALID_ACTIONS = load_json(FIXTURES / "actions/invalid.json")


def test_example_actions_cover_every_type():
    assert {action["type"] for action in VALID_ACTIONS} == set(ACTION_TYPES)


@pytest.mark.parametrize("action", VALID_ACTIONS, ids=lambda a: f"{a['type']}:{a['id']}")
def test_valid_actions(action):
    for schema_id in (f"{BASE}/actions/v1/action.json", f"{BASE}/actions/v1/{action['type']}.json"):
        errors = list(validator_for(schema_id).iter_errors(action))
        assert not errors, error_report(errors)


@pytest.mark.parametrize("case", INVALID_ACTIONS, ids=lambda c: c["name"])
def test_invalid_actions_fail_at_the_offending_key(case):
    errors = list(validator_for(f"{BASE}/actions/v1/action.json").iter_errors(case["action"]))
    assert (case["path"], case["validator"]) in {(e.json_path, e.validator) for e in errors}, \
        error_report(errors)
    assert not any(COMBINATOR_MESSAGE in e.message for e in errors), error_report(errors)


# ------------------------------------------------------------------ connectors

CATALOG = load_json(CONNECTORS / "catalog.json")


def test_catalog_lists_every_connector_with_a_schema():
    assert sorted(CATALOG) == sorted(CONNECTOR_TYPES)
    assert sorted(path.parent.name for path in connector_schema_files()) == sorted(CONNECTOR_TYPES)


@pytest.mark.parametrize("name", CONNECTOR_TYPES)
def test_catalog_entry(name):
    entry = CATALOG[name]
    assert set(entry) == {"consumes", "produces", "description"}
    assert entry["description"]
    assert set(entry["consumes"]) <= set(ACTION_TYPES), entry["consumes"]
    assert set(entry["produces"]) <= set(EVENT_TYPES), entry["produces"]
    assert entry["consumes"] or entry["produces"]


def test_catalog_examples_from_the_brief():
    assert set(CATALOG["harvest"]["produces"]) >= {"time.approved", "time.unapproved", "expense.approved"}
    for books in ("quickbooks", "xero"):
        assert set(CATALOG[books]["consumes"]) == {"invoice.issued", "invoice.voided"}
        assert CATALOG[books]["produces"] == ["payment.received"]
    assert CATALOG["asana"] == {**CATALOG["asana"], "produces": ["milestone.completed"],
                                "consumes": ["invoice.issued"]}
    assert "time.approved" in CATALOG["productive"]["produces"]
    assert "invoice.issued" in CATALOG["productive"]["consumes"]
    for messenger in ("smtp", "slack", "webhook", "files"):
        assert {"invoice.issued", "approval.requested", "reminder.sent",
                "escalation.triggered"} <= set(CATALOG[messenger]["consumes"])


@pytest.mark.parametrize("name", CONNECTOR_TYPES)
def test_connector_schema_shape(name):
    schema = load_json(CONNECTORS / name / "config.schema.json")
    assert schema["type"] == "object"
    assert schema["additionalProperties"] is False
    assert schema["properties"]["type"]["const"] == name
    assert "type" in schema["required"]


VALID_CONFIGS = load_yaml_all(FIXTURES / "connectors/valid.yaml")[0]
INVALID_CONFIGS = load_yaml_all(FIXTURES / "connectors/invalid.yaml")[0]


def connector_validator(name: str) -> Draft202012Validator:
    return Draft202012Validator(load_json(CONNECTORS / name / "config.schema.json"), registry=registry())


def test_example_configs_cover_every_connector():
    assert {config["type"] for config in VALID_CONFIGS} == set(CONNECTOR_TYPES)


@pytest.mark.parametrize("config", VALID_CONFIGS, ids=lambda c: c["type"])
def test_valid_connector_configs(config):
    errors = list(connector_validator(config["type"]).iter_errors(config))
    assert not errors, error_report(errors)


@pytest.mark.parametrize("case", INVALID_CONFIGS,
                         ids=lambda c: f"{c['config']['type']}:{c['path']}:{c['validator']}")
def test_invalid_connector_configs(case):
    name = case.get("schema", case["config"]["type"])
    errors = list(connector_validator(name).iter_errors(case["config"]))
    assert (case["path"], case["validator"]) in {(e.json_path, e.validator) for e in errors}, \
        error_report(errors)
