"""Load a rule folder: read every file, validate every document, cross-check, build.

    files -> YAML documents with positions -> schema check per document
          -> id index of the whole folder -> typed builders (values, references, sums,
             conditions, templates) -> folder-wide checks -> RuleSet

Every step reports into one error list, so a run shows all problems of all files at
once; only a folder with no error at all becomes a RuleSet.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterable
from decimal import Decimal
from pathlib import Path
from typing import Any

from engine.errors import RuleError, RuleSetInvalid, UsageError
from engine.ruleset.build_agency import build_agency
from engine.ruleset.build_client import build_client
from engine.ruleset.build_workflow import (
    build_cadence, build_escalation, build_route, build_template,
)
from engine.ruleset.context import BuildContext, Located, RuleIndex
from engine.ruleset.schema_check import KINDS, document_errors
from engine.ruleset.templates import BUILTIN_MESSAGES, load_builtin_templates
from engine.ruleset.types import Agency, ReminderCadence, RuleSet, frozen_mapping
from engine.ruleset.vocabulary import MESSAGE_VARIABLES
from engine.ruleset.yamlpos import YamlDocument, read_yaml_file

__all__ = ["load_ruleset", "check_ruleset", "rule_files", "ruleset_version"]

RULE_SUFFIXES = (".yaml", ".yml")
# Scenario tests live beside the rules (RULES/tests/*.yaml) but are not rules.
SKIPPED_DIRS = {"tests", "node_modules", "__pycache__"}


def rule_files(root: Path) -> list[Path]:
    """List the rule files under `root` (or `root` itself), in a stable order."""
    if root.is_file():
        return [root]
    found = []
    for folder, dirs, files in os.walk(root):
        dirs[:] = sorted(d for d in dirs if not d.startswith(".") and d not in SKIPPED_DIRS)
        found.extend(Path(folder) / name for name in sorted(files)
                     if name.endswith(RULE_SUFFIXES) and not name.startswith("."))
    return found


def _canonical(value: Any) -> Any:
    if isinstance(value, Decimal):
        return format(value.normalize(), "f")
    if isinstance(value, dict):
        return {key: _canonical(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_canonical(item) for item in value]
    return value


def ruleset_version(documents: Iterable[YamlDocument]) -> str:
    """Hash the meaning of the documents: comments, layout and key order do not count."""
    canonical = sorted(
        (json.dumps(_canonical(doc.data), sort_keys=True, separators=(",", ":"))
         for doc in documents))
    digest = hashlib.sha256("\n".join(canonical).encode("utf-8")).hexdigest()
    return digest[:12]


def _read_all(root: Path, shown_root: str) -> tuple[list[YamlDocument], list[RuleError]]:
    if not root.exists():
        raise UsageError(f"{shown_root}: no such rule folder or file")
    files = rule_files(root)
    if not files:
        raise UsageError(f"{shown_root}: no rule files (*.yaml) found here")
    documents: list[YamlDocument] = []
    errors: list[RuleError] = []
    for file in files:
        shown = (shown_root if root.is_file()
                 else os.path.join(shown_root, file.relative_to(root).as_posix()))
        file_docs, file_errors = read_yaml_file(file, shown)
        documents.extend(file_docs)
        errors.extend(file_errors)
    return documents, errors


def _readable(documents: list[YamlDocument]) -> dict[str, list[YamlDocument]]:
    """Group by kind every document whose kind and id can be read, valid or not.

    References are resolved against these, so a document with a schema error elsewhere
    does not also make every reference to it look unknown.
    """
    readable: dict[str, list[YamlDocument]] = {}
    for doc in documents:
        data = doc.data
        if not isinstance(data, dict) or data.get("kind") not in KINDS:
            continue
        metadata = data.get("metadata")
        if isinstance(metadata, dict) and isinstance(metadata.get("id"), (str, int)):
            readable.setdefault(data["kind"], []).append(doc)
    return readable


def _spec_items(doc: YamlDocument, key: str) -> list[dict]:
    spec = doc.data.get("spec")
    value = spec.get(key) if isinstance(spec, dict) else None
    if isinstance(value, dict):
        return [value]
    return [item for item in value if isinstance(item, dict)] if isinstance(value, list) else []


def _index(readable: dict[str, list[YamlDocument]], ctx_errors: list[RuleError]) -> RuleIndex:
    index = RuleIndex()
    for kind, docs in readable.items():
        seen: dict[str, YamlDocument] = {}
        for doc in docs:
            doc_id = str(doc.data["metadata"]["id"])
            if doc_id in seen:
                first = seen[doc_id]
                ctx_errors.append(doc.error(("metadata", "id"), (
                    f"{kind} id '{doc_id}' is already declared at "
                    f"{first.path}:{first.mark(('metadata', 'id')).line}")))
            seen.setdefault(doc_id, doc)
    for doc in readable.get("Agency", []):
        for person in _spec_items(doc, "people"):
            roles = person.get("roles") if isinstance(person.get("roles"), list) else []
            if "id" in person:
                index.people[str(person["id"])] = tuple(str(role) for role in roles)
            index.agency_roles.update(str(role) for role in roles)
        for connectors in _spec_items(doc, "connectors"):
            index.connectors.update(str(name) for name in connectors)
    for kind, target in (("Client", index.clients), ("ApprovalRoute", index.approval_routes),
                         ("ReminderCadence", index.reminder_cadences),
                         ("EscalationRule", index.escalation_rules),
                         ("Template", index.templates)):
        target.update(str(doc.data["metadata"]["id"]) for doc in readable.get(kind, []))
    index.templates.update(load_builtin_templates())
    return index


def _check_projects(ctx: BuildContext, clients_docs: list[YamlDocument]) -> dict[str, tuple[str, str]]:
    owners: dict[str, tuple[str, str]] = {}
    for doc in clients_docs:
        client_id = str(doc.data["metadata"]["id"])
        for i, engagement in enumerate(doc.data["spec"].get("engagements") or []):
            for j, project in enumerate(engagement.get("projects") or []):
                place = Located(doc, ("spec", "engagements", i, "projects", j))
                if project in owners:
                    other = "/".join(owners[project])
                    ctx.fail(place, f"project '{project}' already counts against {other}; "
                                    "time on a project must belong to one engagement")
                    continue
                owners[str(project)] = (client_id, str(engagement["id"]))
    return owners


def _template_uses(cadences: Iterable[ReminderCadence]) -> dict[str, frozenset[str]]:
    """Map template ids to the variables their message provides (built-ins, reminder steps)."""
    uses = {template_id: MESSAGE_VARIABLES[message]
            for template_id, message in BUILTIN_MESSAGES.items()}
    for cadence in cadences:
        for step in cadence.steps:
            reminder = MESSAGE_VARIABLES["reminder"]
            uses[step.template] = uses.get(step.template, reminder) & reminder
    return uses


def check_ruleset(root: str | Path) -> tuple[RuleSet | None, list[RuleError]]:
    """Load and check a rule folder; return the RuleSet (None if invalid) and all errors."""
    shown_root = str(root)
    documents, errors = _read_all(Path(root), shown_root)
    by_kind: dict[str, list[YamlDocument]] = {}
    for doc in documents:
        problems = document_errors(doc)
        errors.extend(problems)
        if not problems:
            by_kind.setdefault(doc.data["kind"], []).append(doc)

    ctx = BuildContext(shown_root if Path(root).is_dir() else str(Path(shown_root).parent),
                       _index(_readable(documents), errors))
    agencies = by_kind.get("Agency", [])
    agency: Agency | None = None
    if not agencies and not any(doc.data.get("kind") == "Agency"
                                for doc in documents if isinstance(doc.data, dict)):
        first = documents[0].path if documents else shown_root
        errors.append(RuleError(first, 1, 1, "no Agency document in this rule set; "
                                             "exactly one is needed"))
    for extra in agencies[1:]:
        first = agencies[0]
        ctx.fail(Located(extra, ("kind",)), f"a rule set has exactly one Agency; another is "
                                            f"declared at {first.path}:{first.start.line}")
    if agencies:
        agency = build_agency(ctx, agencies[0])

    clients = {}
    for doc in by_kind.get("Client", []):
        client = build_client(ctx, doc, agency)
        clients.setdefault(client.id, client)
    routes = {r.id: r for r in (build_route(ctx, d) for d in by_kind.get("ApprovalRoute", []))}
    cadences = {c.id: c for c in (build_cadence(ctx, d) for d in by_kind.get("ReminderCadence", []))}
    escalations = {e.id: e for e in (build_escalation(ctx, d)
                                     for d in by_kind.get("EscalationRule", []))}
    templates = dict(load_builtin_templates())
    uses = _template_uses(cadences.values())
    for doc in by_kind.get("Template", []):
        compiled = build_template(ctx, doc, uses.get(str(doc.data["metadata"]["id"])))
        if compiled is not None:
            templates[compiled.id] = compiled
    projects = _check_projects(ctx, by_kind.get("Client", []))
    errors.extend(ctx.errors)
    if errors or agency is None:
        return None, sorted(set(errors), key=RuleError.sort_key)
    ruleset = RuleSet(
        version=ruleset_version(documents),
        agency=agency,
        clients=frozen_mapping(clients),
        approval_routes=frozen_mapping(routes),
        reminder_cadences=frozen_mapping(cadences),
        escalation_rules=frozen_mapping(escalations),
        templates=frozen_mapping(templates),
        projects=frozen_mapping(projects),
        warnings=tuple(ctx.warnings),
    )
    return ruleset, []


def load_ruleset(root: str | Path) -> RuleSet:
    """Load a rule folder; raise RuleSetInvalid with every error if it is not valid."""
    ruleset, errors = check_ruleset(root)
    if ruleset is None:
        raise RuleSetInvalid(errors)
    return ruleset
