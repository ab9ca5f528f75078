"""The loaded RuleSet: immutable, versioned by meaning, traceable to its files, dated revisions."""

from __future__ import annotations

import dataclasses
import re
import shutil
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest

from engine.ruleset.loader import check_ruleset, load_ruleset
from engine.ruleset.types import Retainer, RuleSet

GOOD = Path(__file__).parent / "fixtures" / "good"


@pytest.fixture
def ruleset() -> RuleSet:
    return load_ruleset(GOOD)


@pytest.fixture
def rules(tmp_path: Path) -> Path:
    """A scratch copy of the good rule set."""
    copy = tmp_path / "rules"
    shutil.copytree(GOOD, copy)
    return copy


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert text.count(old) == 1, old
    path.write_text(text.replace(old, new), encoding="utf-8")


def version_of(folder: Path) -> str:
    ruleset, errors = check_ruleset(folder)
    assert errors == [] and ruleset is not None, [str(error) for error in errors]
    return ruleset.version


# --- immutability

def test_dataclasses_are_frozen(ruleset: RuleSet) -> None:
    client = ruleset.clients["acme"]
    engagement = client.engagements["social"]
    for target, name in [(ruleset, "version"), (ruleset.agency, "currency"), (client, "currency"),
                         (engagement, "amount"), (ruleset.approval_routes["default"], "rules"),
                         (engagement.source, "line")]:
        with pytest.raises(dataclasses.FrozenInstanceError):
            setattr(target, name, None)


def test_mappings_are_read_only(ruleset: RuleSet) -> None:
    client = ruleset.clients["acme"]
    engagement = client.engagements["adhoc"]
    for mapping in [ruleset.clients, ruleset.approval_routes, ruleset.reminder_cadences,
                    ruleset.escalation_rules, ruleset.templates, ruleset.projects,
                    ruleset.agency.people, ruleset.agency.connectors, ruleset.agency.routing,
                    client.engagements, client.external_ids, engagement.rate_card.people,
                    engagement.rate_card.roles, ruleset.agency.connectors["mail"].options,
                    client.engagements["social"].revisions[0].values]:
        with pytest.raises(TypeError):
            mapping["intruder"] = None  # type: ignore[index]
        with pytest.raises((TypeError, AttributeError)):
            mapping.clear()  # type: ignore[attr-defined]


def test_sequences_are_tuples(ruleset: RuleSet) -> None:
    client = ruleset.clients["acme"]
    assert isinstance(client.billing_contacts, tuple)
    assert isinstance(client.engagements["rebrand"].milestones, tuple)
    assert isinstance(client.engagements["social"].revisions, tuple)
    assert isinstance(ruleset.approval_routes["default"].rules, tuple)
    assert isinstance(ruleset.reminder_cadences["standard"].steps, tuple)
    assert isinstance(ruleset.agency.routing["invoice.issued"], tuple)


# --- version

def test_version_is_twelve_hex_digits(ruleset: RuleSet) -> None:
    assert re.fullmatch(r"[0-9a-f]{12}", ruleset.version)


def test_version_ignores_layout_comments_and_key_order(rules: Path) -> None:
    before = version_of(rules)
    (rules / "routes.yaml").write_text(
        "# Who approves drafts.\n"
        "kind: ApprovalRoute\n"
        "apiVersion: billflow/v1   # the schema version\n"
        "spec:\n"
        "    escalate_to: alex\n"
        "    escalate_after: 48h\n"
        "    remind_after: 24h\n"
        "    rules:\n"
        "        -   approver: alex\n"
        "            when: invoice.total >= 25000\n"
        "        -   auto_approve: true\n"
        "            when: \"engagement.model == 'retainer' and invoice.subtotal == engagement.amount\"\n"
        "        # everything else\n"
        "        -   {approver: account_lead}\n"
        "metadata:\n"
        "    id: default\n",
        encoding="utf-8")
    assert version_of(rules) == before


def test_version_ignores_which_file_holds_a_document(rules: Path) -> None:
    before = version_of(rules)
    templates = (rules / "templates.yaml").read_text(encoding="utf-8")
    first, second = templates.split("---\n")
    (rules / "templates.yaml").write_text(second, encoding="utf-8")
    (rules / "nudge.yaml").write_text(first, encoding="utf-8")
    assert version_of(rules) == before


@pytest.mark.parametrize("old, new", [
    ('amount: "5000.00"', 'amount: "5000.01"'),
    ("approver: account_lead", "approver: alex"),
    ("increment_minutes: 15", "increment_minutes: 30"),
])
def test_version_changes_with_a_value(rules: Path, old: str, new: str) -> None:
    before = version_of(rules)
    file = rules / ("routes.yaml" if "approver" in old else "clients/acme.yaml")
    edit(file, old, new)
    assert version_of(rules) != before


# --- sources

@pytest.mark.parametrize("given", ["relative", "absolute", "trailing slash"])
def test_sources_are_relative_to_the_rule_folder(given: str, rules: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(rules.parent)
    folder = {"relative": "rules", "absolute": str(rules), "trailing slash": "rules/"}[given]
    ruleset = load_ruleset(folder)
    client = ruleset.clients["acme"]
    assert client.source.file == "clients/acme.yaml"
    for i, engagement in enumerate(client.engagements.values()):
        assert engagement.source.file == "clients/acme.yaml"
        assert engagement.source.pointer == f"engagements[{i}]"
        assert str(engagement.source) == f"clients/acme.yaml#engagements[{i}]"
    route = ruleset.approval_routes["default"]
    assert route.source.file == "routes.yaml"
    assert [rule.source.pointer for rule in route.rules] == ["rules[0]", "rules[1]", "rules[2]"]
    assert all(rule.source.file == "routes.yaml" for rule in route.rules)
    assert ruleset.agency.source.file == "agency.yaml"
    assert ruleset.reminder_cadences["standard"].source.file == "cadences.yaml"
    assert ruleset.escalation_rules["over-30"].source.file == "escalations.yaml"
    revisions = client.engagements["social"].revisions
    assert [r.source.pointer for r in revisions] == [
        "engagements[0].revisions[0]", "engagements[0].revisions[1]"]


def test_source_lines_point_at_each_item(ruleset: RuleSet) -> None:
    client = ruleset.clients["acme"]
    assert [e.source.line for e in client.engagements.values()] == [16, 27, 35]
    assert [r.source.line for r in ruleset.approval_routes["default"].rules] == [6, 7, 8]
    assert [r.source.line for r in client.engagements["social"].revisions] == [24, 25]


# --- revisions by effective date

@pytest.mark.parametrize("day, amount", [
    ("2025-12-31", "5000.00"),
    ("2026-03-31", "5000.00"),
    ("2026-04-01", "5500.00"),
    ("2026-06-30", "5500.00"),
    ("2026-07-01", "6000.00"),
    ("2027-01-01", "6000.00"),
])
def test_in_force_applies_revisions_by_effective_date(ruleset: RuleSet, day: str,
                                                      amount: str) -> None:
    social = ruleset.clients["acme"].engagements["social"]
    in_force = social.in_force(date.fromisoformat(day))
    assert isinstance(in_force, Retainer)
    assert in_force.amount == Decimal(amount)
    assert isinstance(in_force.amount, Decimal)
    assert (in_force.id, in_force.billing_day, in_force.projects) == (
        social.id, social.billing_day, social.projects)


def test_in_force_leaves_the_engagement_alone(ruleset: RuleSet) -> None:
    social = ruleset.clients["acme"].engagements["social"]
    social.in_force(date(2026, 12, 1))
    assert social.amount == Decimal("5000.00")
    assert ruleset.clients["acme"].engagements["social"] is social


def test_revisions_apply_in_date_order_whatever_the_file_order(rules: Path) -> None:
    edit(rules / "clients/acme.yaml",
         '        - {effective: 2026-04-01, amount: "5500.00"}\n'
         '        - {effective: 2026-07-01, amount: "6000.00"}\n',
         '        - {effective: 2026-07-01, amount: "6000.00"}\n'
         '        - {effective: 2026-04-01, amount: "5500.00"}\n')
    social = load_ruleset(rules).clients["acme"].engagements["social"]
    assert [r.effective for r in social.revisions] == [date(2026, 4, 1), date(2026, 7, 1)]
    assert social.in_force(date(2026, 5, 1)).amount == Decimal("5500.00")
    assert social.in_force(date(2026, 8, 1)).amount == Decimal("6000.00")


def test_an_engagement_without_revisions_is_itself_in_force(ruleset: RuleSet) -> None:
    rebrand = ruleset.clients["acme"].engagements["rebrand"]
    assert rebrand.revisions == ()
    assert rebrand.in_force(date(2026, 6, 1)) == rebrand
