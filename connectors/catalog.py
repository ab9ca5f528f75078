"""The connector types billflow knows: what each consumes and produces, and its config schema.

Each connector type keeps its configuration schema beside its code
(`connectors/<type>/config.schema.json`); `catalog.json` says which action types it
carries out and which event types it emits. The rule loader checks an Agency's
`connectors:` and `routing:` against this catalog.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

__all__ = ["ConnectorType", "connector_types", "CONNECTORS_ROOT"]

CONNECTORS_ROOT = Path(__file__).resolve().parent


@dataclass(frozen=True)
class ConnectorType:
    """One kind of connector: its name, what it does, and its config schema."""

    name: str
    description: str
    consumes: frozenset[str]
    produces: frozenset[str]
    config_schema: dict[str, Any]


@lru_cache(maxsize=1)
def connector_types() -> dict[str, ConnectorType]:
    """Return every known connector type by name."""
    catalog = json.loads((CONNECTORS_ROOT / "catalog.json").read_text(encoding="utf-8"))
    types = {}
    for name, entry in sorted(catalog.items()):
        schema_file = CONNECTORS_ROOT / name / "config.schema.json"
        types[name] = ConnectorType(
            name=name,
            description=entry.get("description", ""),
            consumes=frozenset(entry.get("consumes", ())),
            produces=frozenset(entry.get("produces", ())),
            config_schema=json.loads(schema_file.read_text(encoding="utf-8")),
        )
    return types
