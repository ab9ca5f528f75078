"""Connector registration through entry points, its checks, and building configured instances."""

from __future__ import annotations

import importlib.util
import json
import sys
from importlib.metadata import EntryPoint
from pathlib import Path

import pytest

import connectors.registry as registry_module
from connectors.base import Connector, ConnectorContext
from connectors.files import FilesConnector
from connectors.registry import ConnectorRegistry, check_connector_class
from connectors.smtp import SmtpConnector
from engine.errors import ConnectorError
from engine.ruleset.types import ConnectorConfig

BUILT_IN = ("files", "slack", "smtp", "webhook")


def test_public_api_is_explicit():
    for name in registry_module.__all__:
        assert hasattr(registry_module, name), name


def test_discover_finds_the_built_in_connectors_through_entry_points():
    registry = ConnectorRegistry.discover()
    assert registry.problems == []
    assert set(BUILT_IN) <= set(registry.types())
    assert registry.connector_class("smtp") is SmtpConnector
    assert registry.config_schema("files")["properties"]["dir"]


def test_a_broken_entry_point_is_noted_not_fatal(monkeypatch):
    points = [EntryPoint("files", "connectors.files:FilesConnector", "billflow.connectors"),
              EntryPoint("ghost", "no_such_module_xyz:Ghost", "billflow.connectors"),
              EntryPoint("mislabelled", "connectors.smtp:SmtpConnector", "billflow.connectors")]
    monkeypatch.setattr(registry_module, "entry_points", lambda group: points)
    registry = ConnectorRegistry.discover()
    assert registry.types() == ("files",)
    assert len(registry.problems) == 2
    assert "connector type 'ghost' cannot be loaded" in registry.problems[0]
    assert "named 'mislabelled' but the class says type 'smtp'" in registry.problems[1]


def _fake(**attributes):
    namespace = {"type": "files", "consumes": FilesConnector.consumes,
                 "produces": frozenset(), **attributes}
    return type("Fake", (Connector,), namespace)


@pytest.mark.parametrize("attributes, reason", [
    ({"type": ""}, "has no 'type'"),
    ({"consumes": frozenset({"invoice.mailed"})}, "unknown action types: invoice.mailed"),
    ({"produces": frozenset({"time.logged"})}, "unknown event types: time.logged"),
    ({"consumes": ["invoice.issued"]}, "must be a frozenset"),
    ({"consumes": frozenset({"invoice.issued"})}, "'consumes' differs from the catalog"),
    ({"deliver": None}, "has no deliver() method"),
])
def test_registration_checks_the_class(attributes, reason):
    with pytest.raises(ConnectorError, match=reason.replace("(", r"\(").replace(")", r"\)")):
        check_connector_class(_fake(**attributes))


def test_registration_needs_a_class():
    with pytest.raises(ConnectorError, match="not a class"):
        check_connector_class(lambda: None, "files")


def _plugin(tmp_path: Path, with_schema: bool) -> type:
    """Write a third-party connector package to disk and import it."""
    package = tmp_path / f"acme_fax_{with_schema}"
    package.mkdir()
    (package / "__init__.py").write_text(
        "from connectors.base import Connector\n"
        "class FaxConnector(Connector):\n"
        "    type = 'fax'\n"
        "    consumes = frozenset({'invoice.issued'})\n"
        "    produces = frozenset()\n")
    if with_schema:
        (package / "config.schema.json").write_text(json.dumps({
            "$schema": "https://json-schema.org/draft/2020-12/schema", "type": "object",
            "properties": {"type": {"const": "fax"},
                           "number": {"type": "string", "description": "Fax number."},
                           "pin": {"type": "string", "description": "A secret: the PIN."}},
            "required": ["type", "number"], "additionalProperties": False}))
    spec = importlib.util.spec_from_file_location(package.name, package / "__init__.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[package.name] = module
    spec.loader.exec_module(module)
    return module.FaxConnector


def test_a_third_party_connector_needs_its_schema_beside_its_code(tmp_path):
    with pytest.raises(ConnectorError, match="no config.schema.json beside its module"):
        ConnectorRegistry().register(_plugin(tmp_path, with_schema=False))
    registry = ConnectorRegistry()
    registry.register(_plugin(tmp_path, with_schema=True))
    context = ConnectorContext(env={"FAX_PIN": "8812-secret"})
    fax = registry.build(ConnectorConfig("fax", "fax", {"number": "+1 555 0100",
                                                        "pin": "${FAX_PIN}"}), context)
    assert fax.config == {"number": "+1 555 0100", "pin": "8812-secret"}
    assert context.redact("pin 8812-secret") == "pin ***"


def test_a_type_cannot_be_registered_twice_by_different_classes():
    registry = ConnectorRegistry()
    registry.register(FilesConnector)
    registry.register(FilesConnector)  # the same class again is harmless
    with pytest.raises(ConnectorError, match="already registered"):
        registry.register(type("OtherFiles", (FilesConnector,), {"__module__": "connectors.files"}))


def test_build_resolves_env_and_validates_the_config():
    registry = ConnectorRegistry.discover()
    context = ConnectorContext(env={"SMTP_HOST": "mail.example.net", "SMTP_PASSWORD": "s3cr3t!!"})
    config = ConnectorConfig("mail", "smtp", {"host": "${SMTP_HOST}", "port": 587,
                                              "from": "billing@northwind.example",
                                              "username": "billing", "password": "${SMTP_PASSWORD}",
                                              "starttls": True})
    mail = registry.build(config, context)
    assert isinstance(mail, SmtpConnector)
    assert (mail.host, mail.port, mail.starttls) == ("mail.example.net", 587, True)
    assert context.redact("s3cr3t!!") == "***"

    bad = ConnectorConfig("mail", "smtp", {"host": "h", "from": "a@b.example", "port": "not-a-port"})
    with pytest.raises(ConnectorError) as caught:
        registry.build(bad, context)
    assert caught.value.retryable is False
    assert "option 'port' is not valid" in str(caught.value)
    assert "not-a-port" not in str(caught.value)


def test_build_of_an_uninstalled_type_is_a_clear_error():
    with pytest.raises(ConnectorError, match="connector type 'fax' is not installed"):
        ConnectorRegistry.discover().build(ConnectorConfig("books", "fax", {"number": "1"}),
                                           ConnectorContext())


def test_build_agency_builds_what_routing_uses(rules):
    registry = ConnectorRegistry.discover()
    built = registry.build_agency(rules.agency, ConnectorContext(rules, env={}))
    assert list(built) == ["files"]  # `mail` is declared but not routed, so SMTP_HOST may be unset
    with pytest.raises(ConnectorError) as caught:
        registry.build_agency(rules.agency, ConnectorContext(rules, env={}), names=["mail", "fax"])
    assert "environment variable SMTP_HOST is not set" in str(caught.value)
    assert "connector 'fax' is not declared" in str(caught.value)
