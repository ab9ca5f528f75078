"""A connector's `map` option (projects, people, roles, clients): checked, or read from a file.

The `map` of a source connector sends vendor ids to billflow ids (connectors/mapping.py).
CSV exports carry names rather than ids, so `billflow ingest --from harvest-csv` takes the
map of the Agency's connector of that vendor, or one given with `--map FILE` (YAML or JSON
of the same shape), whose keys may then be names.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from engine.errors import UsageError
from engine.ruleset.types import RuleSet

__all__ = ["unknown_targets", "read_map_file", "agency_map", "MAP_SECTIONS"]

MAP_SECTIONS = ("projects", "people", "roles", "clients")


def unknown_targets(rules: RuleSet | None, mapping: Mapping[str, Any]) -> list[str]:
    """Return what `mapping` sends records to that the rule set does not have."""
    if rules is None:
        return []
    problems = [f"map.projects sends {key} to '{value}', which no engagement lists"
                for key, value in (mapping.get("projects") or {}).items()
                if str(value) not in rules.projects]
    problems += [f"map.people sends {key} to '{value}', who is not a person of the Agency"
                 for key, value in (mapping.get("people") or {}).items()
                 if str(value) not in rules.agency.people]
    problems += [f"map.clients sends {key} to '{value}', which is no Client"
                 for key, value in (mapping.get("clients") or {}).items()
                 if str(value) not in rules.clients]
    return problems


def read_map_file(path: str) -> dict[str, Any]:
    """Read a `--map FILE`: YAML or JSON, an object of MAP_SECTIONS, each of text to id."""
    try:
        loaded = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"{path}: cannot read it ({exc})") from None
    except yaml.YAMLError as exc:
        raise UsageError(f"{path}: not YAML or JSON ({exc.__class__.__name__})") from None
    if loaded is None:
        return {}
    if not isinstance(loaded, Mapping):
        raise UsageError(f"{path}: a map is an object of {', '.join(MAP_SECTIONS)}")
    unknown = sorted(str(key) for key in loaded if key not in MAP_SECTIONS)
    if unknown:
        raise UsageError(f"{path}: unknown section {', '.join(unknown)} "
                         f"(known: {', '.join(MAP_SECTIONS)})")
    for section, entries in loaded.items():
        if entries is not None and not isinstance(entries, Mapping):
            raise UsageError(f"{path}: '{section}' must map names or ids to billflow ids")
    return {str(section): {str(k): str(v) for k, v in (entries or {}).items()}
            for section, entries in loaded.items()}


def agency_map(rules: RuleSet, vendor: str, connector: str | None = None) -> dict[str, Any]:
    """Return the `map` of the Agency's connector `connector`, or of its one `vendor` connector."""
    configs = rules.agency.connectors
    if connector is not None:
        config = configs.get(connector)
        if config is None or config.type != vendor:
            raise UsageError(f"the Agency has no {vendor} connector named '{connector}'")
        return dict(config.options.get("map") or {})
    found = [config for config in configs.values() if config.type == vendor]
    if len(found) > 1:
        names = ", ".join(config.name for config in found)
        raise UsageError(f"the Agency has several {vendor} connectors ({names}): "
                         f"name one with --connector, or give --map FILE")
    return dict(found[0].options.get("map") or {}) if found else {}
