"""`billflow plan` on edits of Northwind's rules, over Northwind's recorded year.

Each test edits the YAML text of a copy of the example, plans it against the example as
shipped, and pins the whole output: the reviewer reads exactly this in the pull request.
"""

from __future__ import annotations

import json
import re
from datetime import date
from pathlib import Path


RATE = ('          designer: "165.00"', '          designer: "170.00"')


def _earliest(text: str) -> date:
    found = re.search(r"Nothing dated before (\d{4}-\d{2}-\d{2}) changes\.", text)
    assert found is not None, text[:2000]
    return date.fromisoformat(found.group(1))


def test_a_rate_change_plans_the_invoices_it_reprices(workspace: Path, edit, plan, snapshot) -> None:
    edit(workspace / "head/clients/pinecrest-labs.yaml", *RATE)
    done = plan("head", "--base", "base")
    assert done.code == 2, done.stderr
    assert done.stderr == ""
    assert "invoices     0 added, 0 removed, 7 changed" in done.stdout
    assert "billed       USD +738.75" in done.stdout
    # The new designer rate is in the July revision: nothing before July moves.
    assert _earliest(done.stdout) >= date(2026, 7, 1)
    assert done.stdout == snapshot


def test_a_rate_change_as_a_pull_request_comment(workspace: Path, edit, plan, snapshot) -> None:
    edit(workspace / "head/clients/pinecrest-labs.yaml", *RATE)
    done = plan("head", "--base", "base", "--format", "markdown")
    assert done.code == 2, done.stderr
    assert done.stdout.startswith("### billflow plan: changes\n")
    assert done.stdout.count("<details>") == done.stdout.count("</details>") >= 1
    assert "| USD | 2,367,361.76 | 2,368,100.51 | +738.75 |" in done.stdout
    assert "```diff\n- Felix Brandt  7 × 165.00 = 1,155.00\n+ Felix Brandt  7 × 170.00 = 1,190.00\n```" in done.stdout
    assert done.stdout == snapshot


def test_the_json_plan_has_a_stable_shape(workspace: Path, edit, plan) -> None:
    edit(workspace / "head/clients/pinecrest-labs.yaml", *RATE)
    done = plan("head", "--base", "base", "--format", "json")
    assert done.code == 2, done.stderr
    body = json.loads(done.stdout)
    assert set(body) == {"changed", "base", "head", "events", "until", "summary", "clients",
                         "rejected_events"}
    assert body["changed"] is True
    assert body["base"]["label"] == "base" and body["head"]["label"] == "head"
    assert body["events"] == {"source": str(Path("head/events.ndjson")), "count": 5996}
    assert body["until"] == "2027-03-31"  # the last event's day + 90 days
    summary = body["summary"]
    assert summary["invoices"] == {"added": 0, "removed": 0, "changed": 7}
    assert summary["billed"]["USD"]["change"] == "738.75"
    assert summary["billed"]["EUR"]["change"] == "0.00"
    assert summary["earliest_change"] == "2026-07-15"
    [client] = body["clients"]
    assert client["client"] == "pinecrest-labs"
    first = client["invoices"][0]
    assert first["id"] == "pinecrest-labs/product-design/2026-07-15"
    assert first["change"] == "changed"
    assert (first["old"]["total"], first["new"]["total"], first["total_change"]) == (
        "15326.25", "15361.25", "35.00")
    assert [(line["change"], line["unit_price"]) for line in first["lines"]] == [
        ("removed", "165.00"), ("added", "170.00")]
    kinds = {action["type"] for action in first["actions"]}
    assert {"invoice.issued", "reminder.sent", "escalation.triggered"} <= kinds
    for action in first["actions"]:
        assert action["change"] in ("added", "removed", "changed")
        assert (action["old"] is None) == (action["change"] == "added")


def test_a_billing_day_change_moves_the_invoices_and_their_reminders(workspace: Path, edit, plan,
                                                                      snapshot) -> None:
    edit(workspace / "head/clients/bowery-hotels.yaml", "      billing_day: 15\n",
         "      billing_day: 20\n")
    done = plan("head", "--base", "base")
    assert done.code == 2, done.stderr
    assert ("  ~ invoice bowery-hotels/brand-social/2026-02  NW-2026-00031 → NW-2026-00036  "
            "USD 10,887.50 [issued]\n        issue_date 2026-02-15 → 2026-02-20\n"
            "        due_date 2026-03-02 → 2026-03-07\n") in done.stdout
    assert "~ 2026-02-20 00:00  invoice.issued  at 2026-02-15 00:00 → 2026-02-20 00:00" in done.stdout
    assert _earliest(done.stdout) == date(2026, 1, 15)  # January's draft moves first
    assert done.stdout == snapshot


def test_a_reminder_step_change_swaps_the_reminders(workspace: Path, edit, plan, snapshot) -> None:
    edit(workspace / "head/cadences.yaml", "    - {offset: 14d, template: overdue}",
         "    - {offset: 21d, template: overdue}")
    done = plan("head", "--base", "base")
    assert done.code == 2, done.stderr
    assert "invoices     0 added, 0 removed, 0 changed" in done.stdout
    assert "billed       no change" in done.stdout
    assert "reminder.sent 21d" in done.stdout and "- " in done.stdout
    assert done.stdout == snapshot


def test_an_approval_threshold_change_reroutes_and_shows_the_rejected_approvals(
        workspace: Path, edit, plan, snapshot) -> None:
    edit(workspace / "head/routes.yaml", "invoice.total >= 25000\"", "invoice.total >= 24000\"")
    done = plan("head", "--base", "base", "--format", "markdown")
    assert done.code == 2, done.stderr
    # Northstar's May invoice (24,319.50) now waits on the partner, not the account lead;
    # the recorded approval by the account lead no longer applies.
    assert "approval.requested r1  approver marcus → maria" in done.stdout
    assert "Events the head rules reject" in done.stdout
    assert "may not approve this invoice: it waits on maria" in done.stdout
    assert done.stdout == snapshot


def test_a_revision_changes_nothing_before_its_date(workspace: Path, edit, plan) -> None:
    edit(workspace / "head/clients/pinecrest-labs.yaml", "      revisions:\n",
         "      revisions:\n"
         "        - effective: 2026-10-01\n"
         "          rate_card:\n"
         "            default: \"170.00\"\n"
         "            roles: {strategist: \"200.00\", designer: \"175.00\", developer: \"185.00\"}\n"
         "            people: {hana: \"195.00\"}\n")
    done = plan("head", "--base", "base", "--format", "json")
    assert done.code == 2, done.stderr
    body = json.loads(done.stdout)
    assert date.fromisoformat(body["summary"]["earliest_change"]) >= date(2026, 10, 1)
    changed = [invoice for client in body["clients"] for invoice in client["invoices"]
               if invoice["change"] == "changed" and not invoice["late_fee"]]
    # Every repriced invoice is one issued (or drafted) from the revision's date on.
    assert changed and all((invoice["old"]["issue_date"] or "9999") >= "2026-10-01"
                           for invoice in changed)
    text = plan("head", "--base", "base").stdout
    assert f"Nothing dated before {body['summary']['earliest_change']} changes." in text
