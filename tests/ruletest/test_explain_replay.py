"""`billflow explain ACTION_ID --rules --events`: the cause, rule, version and condition values."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from engine.cli import main
from engine.cli_common import load_rules
from engine.core.replay import read_events
from engine.errors import UsageError
from engine.explain.replay import explain_replay

REPO = Path(__file__).resolve().parents[2]
NORTHWIND = "examples/northwind"
EVENTS = "examples/northwind/events.ndjson"
LARGE_MILESTONE = "approval.requested:northstar-analytics/website-rebuild/design:r1"


@pytest.fixture(autouse=True)
def _in_the_checkout(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(REPO)


def explain(capsys, *argv: str) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as exited:
        main(["explain", *argv])
    out, err = capsys.readouterr()
    return exited.value.code, out, err


def test_a_route_condition_shows_the_values_it_saw(capsys, snapshot):
    code, out, err = explain(capsys, LARGE_MILESTONE, "--rules", NORTHWIND, "--events", EVENTS,
                             "--from", "2026-01-01", "--until", "2026-04-30")
    assert (code, err) == (0, "")
    lines = out.splitlines()
    assert "  rule      routes.yaml#rules[1]" in lines
    assert any(line.startswith("  because   event ms-northstar-analytics-website-rebuild-design "
                               "(milestone.completed)") for line in lines)
    # The first rule was tried and did not hold; the second decided, on a USD total of 28,800.
    assert "      when  invoice.currency == 'JPY' and invoice.total >= 3750000  => false" in lines
    assert "    rules[1] (approver maria)  routes.yaml#rules[1]  <- decided" in lines
    assert "            invoice.total = 28800.00" in lines
    assert out == snapshot


def test_an_escalation_names_the_tick_and_each_rule_checked(snapshot):
    rules = load_rules(NORTHWIND)
    events = list(read_events(EVENTS))
    text = explain_replay(rules, events, "escalation.triggered:bowery-hotels/brand-social/2026-03:"
                          "over-30:1", date(2026, 1, 1), date(2026, 6, 30))
    assert "daily escalation check (day:escalations)" in text
    assert "    over-30  escalations.yaml  <- decided" in text
    assert "      when  invoice.days_overdue > 60  => false" in text
    assert text == snapshot


def test_an_auto_approved_invoice_shows_the_rule_that_approved_it():
    rules = load_rules("examples/ops-repo/rules")
    events = list(read_events("examples/ops-repo/events/sample.ndjson"))
    text = explain_replay(rules, events, "invoice.issued:acme/social/2026-01",
                          date(2026, 1, 1), date(2026, 1, 31))
    assert "billing day (bill:acme/social)" in text
    assert "    rules[1] (auto-approve)  workflow.yaml#rules[1]  <- decided" in text
    assert "            invoice.subtotal = 6000.00" in text
    assert "note" not in text


def test_an_unknown_action_suggests_a_close_id():
    rules = load_rules("examples/ops-repo/rules")
    events = list(read_events("examples/ops-repo/events/sample.ndjson"))
    with pytest.raises(UsageError, match="did you mean 'invoice.issued:acme/social/2026-01'"):
        explain_replay(rules, events, "invoice.issued:acme/social/2026-1",
                       date(2026, 1, 1), date(2026, 1, 31))


def test_from_and_until_without_a_replay_is_a_usage_error(capsys):
    code, _, err = explain(capsys, LARGE_MILESTONE, "--from", "2026-01-01")
    assert code == 2
    assert "--rules and --events" in err
