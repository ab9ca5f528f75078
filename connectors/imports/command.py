"""`billflow ingest --from harvest-csv|toggl-csv FILE`: an export turned into NDJSON events."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from connectors.imports.harvest_csv import import_harvest_csv
from connectors.imports.maps import agency_map, read_map_file
from connectors.imports.rows import ImportResult
from connectors.imports.toggl_csv import import_toggl_csv
from engine.ruleset.types import RuleSet

__all__ = ["EXPORT_FORMATS", "import_export", "as_ndjson"]

Importer = Callable[[str, str, RuleSet, dict[str, Any], str], ImportResult]

# --from value: (vendor whose connector map applies, importer)
EXPORT_FORMATS: dict[str, tuple[str, Importer]] = {
    "harvest-csv": ("harvest", import_harvest_csv),
    "toggl-csv": ("toggl", import_toggl_csv),
}


def import_export(kind: str, text: str, source: str, rules: RuleSet, *, at: str,
                  map_file: str | None = None, connector: str | None = None) -> ImportResult:
    """Read export `text` of format `kind`, mapping through `map_file` or the Agency's connector."""
    vendor, importer = EXPORT_FORMATS[kind]
    mapping = read_map_file(map_file) if map_file else agency_map(rules, vendor, connector)
    return importer(text, source, rules, mapping, at)


def as_ndjson(result: ImportResult) -> str:
    """Return the events as NDJSON, one a line, for intake."""
    return "\n".join(json.dumps(event, separators=(",", ":")) for event in result.events)
