"""Edits that change how the rules read, not what they bill, plan as no change (exit 0)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest


NEW_CLIENT = """\
apiVersion: billflow/v1
kind: Client
metadata: {id: quiet-studio, name: Quiet Studio LLC}
spec:
  account_lead: sam
  contacts:
    billing:
      - {name: Accounts, email: accounts@quietstudio.example}
  currency: USD
  tax: exempt
  payment_terms: net_30
  engagements:
    - id: hourly
      model: time_and_materials
      cadence: monthly
      billing_day: 1
      rate_card: {default: "150.00"}
      projects: [quiet-studio-hourly]
"""


def _comments(head: Path, edit) -> None:
    edit(head / "routes.yaml", "  remind_after: 24h\n  escalate_after: 48h\n  escalate_to: dana\n---",
         "  remind_after: 24h   # a day to act\n  escalate_after: 48h\n  escalate_to: dana\n---")
    agency = head / "agency.yaml"
    agency.write_text("# Reviewed by finance.\n" + agency.read_text(encoding="utf-8"),
                      encoding="utf-8")


def _key_order(head: Path, edit) -> None:
    edit(head / "escalations.yaml",
         '  when: "invoice.days_overdue > 60"\n  notify: [partner]                     '
         '# both partners, weekly until it is paid\n  repeat: 7d\n',
         '  repeat: 7d\n  notify: [partner]\n  when: "invoice.days_overdue > 60"\n')


def _new_client(head: Path, edit) -> None:
    (head / "clients" / "quiet-studio.yaml").write_text(NEW_CLIENT, encoding="utf-8")


@pytest.mark.parametrize("change", [_comments, _key_order, _new_client],
                         ids=["comments", "key-order", "new-client-without-events"])
def test_a_change_of_form_plans_as_no_change(workspace: Path, edit, plan, change) -> None:
    change(workspace / "head", edit)
    done = plan("head", "--base", "base")
    assert done.code == 0, done.stdout + done.stderr
    assert "No changes: both rule sets decide the same actions from these events." in done.stdout
    assert "Changes" not in done.stdout


def test_a_new_client_changes_the_rules_version_but_not_the_plan(workspace: Path, edit, plan) -> None:
    _new_client(workspace / "head", edit)
    done = plan("head", "--base", "base", "--format", "json")
    assert done.code == 0
    body = json.loads(done.stdout)
    assert body["base"]["rules_version"] != body["head"]["rules_version"]
    assert body["changed"] is False and body["clients"] == []
