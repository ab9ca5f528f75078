"""Find connector classes through entry points, check them, and build configured instances.

Connector types are registered as entry points of the group `billflow.connectors`
(`smtp = "connectors.smtp:SmtpConnector"`), the way pluggy finds plugins, so a package
installed beside billflow can add one. Each class is checked when it is registered: its
`type`, the action and event types it declares, its methods, and the config schema that
must sit beside its module. A type billflow ships must also declare what the catalog says,
because rule validation reads the catalog.
"""

from __future__ import annotations

import inspect
import json
from collections.abc import Iterable, Mapping
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator

from connectors.base import Connector, ConnectorContext
from connectors.catalog import connector_types
from engine.errors import ConnectorError
from engine.model.actions import ACTION_TYPES
from engine.model.events import EVENT_TYPES
from engine.ruleset.types import Agency, ConnectorConfig

__all__ = [
    "ENTRY_POINT_GROUP",
    "CONFIG_SCHEMA_FILE",
    "ConnectorRegistry",
    "check_connector_class",
    "config_schema_of",
]

ENTRY_POINT_GROUP = "billflow.connectors"
CONFIG_SCHEMA_FILE = "config.schema.json"
_METHODS = ("deliver", "check", "close")


def config_schema_of(cls: type) -> dict[str, Any]:
    """Return the config schema that sits beside the module of connector class `cls`."""
    module_file = inspect.getfile(cls)
    schema_file = Path(module_file).resolve().parent / CONFIG_SCHEMA_FILE
    label = getattr(cls, "type", "") or cls.__name__
    try:
        schema = json.loads(schema_file.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise _refused(label, f"no {CONFIG_SCHEMA_FILE} beside its module") from None
    except (OSError, ValueError) as exc:
        raise _refused(label, f"its {CONFIG_SCHEMA_FILE} cannot be read ({exc})") from None
    Draft202012Validator.check_schema(schema)
    return schema


def check_connector_class(cls: object, name: str | None = None) -> dict[str, Any]:
    """Check that `cls` is a well-formed connector class; return its config schema."""
    label = name or getattr(cls, "__name__", repr(cls))
    if not inspect.isclass(cls):
        raise _refused(label, "the entry point is not a class")
    kind = getattr(cls, "type", None)
    if not isinstance(kind, str) or not kind:
        raise _refused(label, "the class has no 'type'")
    if name is not None and kind != name:
        raise _refused(label, f"the entry point is named '{name}' but the class says type '{kind}'")
    for attribute, known, what in (("consumes", ACTION_TYPES, "action"),
                                   ("produces", EVENT_TYPES, "event")):
        declared = getattr(cls, attribute, None)
        if not isinstance(declared, frozenset):
            raise _refused(kind, f"'{attribute}' must be a frozenset of {what} types")
        unknown = sorted(str(item) for item in declared - set(known))
        if unknown:
            raise _refused(kind, f"'{attribute}' names unknown {what} types: {', '.join(unknown)}")
    for method in _METHODS:
        if not callable(getattr(cls, method, None)):
            raise _refused(kind, f"the class has no {method}() method")
    catalogued = connector_types().get(kind)
    if catalogued is not None:
        for attribute in ("consumes", "produces"):
            declared, listed = getattr(cls, attribute), getattr(catalogued, attribute)
            if declared != listed:
                raise _refused(kind, f"'{attribute}' differs from the catalog "
                                     f"({', '.join(sorted(declared ^ listed))})")
    return config_schema_of(cls)


def _refused(kind: str, reason: str) -> ConnectorError:
    return ConnectorError(f"connector type '{kind}' cannot be registered: {reason}",
                          retryable=False)


class ConnectorRegistry:
    """The connector classes billflow can build, by type name."""

    def __init__(self) -> None:
        self._classes: dict[str, type[Connector]] = {}
        self._schemas: dict[str, dict[str, Any]] = {}
        self.problems: list[str] = []

    @classmethod
    def discover(cls, group: str = ENTRY_POINT_GROUP) -> "ConnectorRegistry":
        """Load every entry point of `group`; a broken one is skipped and noted in `problems`."""
        registry = cls()
        for point in sorted(entry_points(group=group), key=lambda p: p.name):
            try:
                loaded = point.load()
            except Exception as exc:  # any import failure of a plugin is that plugin's problem
                registry.problems.append(f"connector type '{point.name}' cannot be loaded: "
                                         f"{type(exc).__name__}: {exc}")
                continue
            try:
                registry.register(loaded, name=point.name)
            except ConnectorError as exc:
                registry.problems.append(str(exc))
        return registry

    def register(self, connector_class: type[Connector], name: str | None = None) -> None:
        """Check `connector_class` and make it buildable under its type name."""
        schema = check_connector_class(connector_class, name)
        kind = connector_class.type
        existing = self._classes.get(kind)
        if existing is not None and existing is not connector_class:
            raise _refused(kind, f"the type is already registered by {existing.__qualname__}")
        self._classes[kind] = connector_class
        self._schemas[kind] = schema

    def types(self) -> tuple[str, ...]:
        return tuple(sorted(self._classes))

    def __contains__(self, kind: object) -> bool:
        return kind in self._classes

    def connector_class(self, kind: str) -> type[Connector]:
        """Return the class of connector type `kind`."""
        try:
            return self._classes[kind]
        except KeyError:
            known = ", ".join(self.types()) or "none"
            raise ConnectorError(f"connector type '{kind}' is not installed (installed: {known})",
                                 retryable=False) from None

    def config_schema(self, kind: str) -> dict[str, Any]:
        self.connector_class(kind)
        return self._schemas[kind]

    def build(self, config: ConnectorConfig, context: ConnectorContext) -> Connector:
        """Validate one configured connector, resolve its `${ENV}` references, and build it."""
        connector_class = self.connector_class(config.type)
        where = f"connector '{config.name}' ({config.type})"
        schema = self._schemas[config.type]
        options = dict(config.options)
        document = {"type": config.type, **options}
        errors = sorted(Draft202012Validator(schema).iter_errors(document),
                        key=lambda e: list(e.absolute_path))
        if errors:
            first = errors[0]
            at = ".".join(str(part) for part in first.absolute_path)
            # jsonschema quotes the offending value, which may be a secret: name the place only.
            raise ConnectorError(f"{where}: option '{at or 'type'}' is not valid ({first.validator})",
                                 retryable=False)
        secrets = _secret_keys(schema)
        resolved = {key: context.resolve(value, f"{where}: option '{key}'", secret=key in secrets)
                    for key, value in options.items()}
        return connector_class(config.name, resolved, context)

    def build_agency(self, agency: Agency, context: ConnectorContext,
                     names: Iterable[str] | None = None) -> dict[str, Connector]:
        """Build the Agency's connectors named in `names` (default: those routing uses)."""
        wanted = list(names) if names is not None else _routed(agency)
        built: dict[str, Connector] = {}
        problems: list[str] = []
        for name in wanted:
            config = agency.connectors.get(name)
            if config is None:
                problems.append(f"connector '{name}' is not declared in the Agency")
                continue
            try:
                built[name] = self.build(config, context)
            except ConnectorError as exc:
                problems.append(str(exc))
        if problems:
            for connector in built.values():
                connector.close()
            raise ConnectorError("; ".join(problems), retryable=False)
        return built


def _routed(agency: Agency) -> list[str]:
    """Return the connector names the Agency's routing uses, in first-use order."""
    seen: dict[str, None] = {}
    for names in agency.routing.values():
        for name in names:
            seen.setdefault(name, None)
    return list(seen)


def _secret_keys(schema: Mapping[str, Any]) -> frozenset[str]:
    """Return the option names that the schema describes as secrets."""
    properties = schema.get("properties", {})
    return frozenset(key for key, spec in properties.items()
                     if "a secret" in str(spec.get("description", "")).lower())
