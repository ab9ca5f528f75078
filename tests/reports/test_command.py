"""`billflow report` end to end: a small studio with hand-checked figures, and Northwind.

The studio (fixtures/studio, go-live 2026-03-01, New York time), reported for
2026-03-01..2026-04-30:

- acme/care/2026-03: retainer, auto-approved 03-01 00:00, 1,000 USD due 03-31; paid 1,000
  on 04-05 (oldest first from a 1,500 payment): 35 days to pay.
- acme/site/design: milestone Fri 03-06 16:00, approved Mon 03-09 15:00 (70 h, across the
  DST change; deadline Mon 16:00: on time), 4,000 USD; paid 03-30: 21 days to pay.
- bleu/brand/final: milestone 03-10 10:00, flagged, adjusted (−500), approved 03-12 09:00
  (47 h after the first request; deadline 03-11 10:00: 23 h late), 5,500 EUR due 03-27;
  2,000 paid 04-10, so 3,500 open, 34 days past due; disputed 04-12.
- acme/care/2026-04: auto-approved 04-01, 1,000 USD due 05-01; 500 from the 1,500 payment,
  250 assigned by a person on 04-07, 100 dated 04-29 but recorded 05-04: 150 open, current.
- acme/site/build: drafted 04-02 11:00, approved only on 05-04: still waiting at the end
  of 04-30 (685 h), and past its deadline unissued.

Aging: USD 150.00 current, EUR 3,500.00 in 31-60. DSO over 61 days: USD 150 ÷ 6,000 × 61 =
1.5; EUR 3,500 ÷ 5,500 × 61 = 38.8; days to pay (35 + 21) ÷ 2 = 28.0. On time 3 of 4 =
75.0%. Approval wait median (47 + 70) ÷ 2 = 58.5 h, p90 70 h; 2 auto-approved. Touches:
design 1, bleu 4 (flag, adjust, approve — its repeat ignored — dispute), care/2026-04 1
(the assignment), care/2026-03 0: 6 over 4 invoices, mean 1.50.
"""

from __future__ import annotations

import csv
import io
import json
from collections import defaultdict
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest

import engine.reports
from engine.cli import main
from engine.core.replay import read_events, replay
from engine.model.actions import dump_action
from engine.model.events import Event
from engine.reports import command as command_module
from engine.reports.command import build_report, replay_span
from engine.reports.ledger import build_ledger
from engine.reports.render import render, report_json
from engine.ruleset.loader import check_ruleset

ROOT = Path(__file__).resolve().parents[2]
STUDIO = Path(__file__).resolve().parent / "fixtures" / "studio"
NORTHWIND = ROOT / "examples" / "northwind"


def test_public_names_are_exported():
    for name in command_module.__all__:
        assert name in engine.reports.__all__


def run(capsys, *args: str) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as exit_info:
        main(["report", *args])
    out, err = capsys.readouterr()
    return exit_info.value.code, out, err


def studio(capsys, kind: str, fmt: str = "json") -> dict:
    code, out, err = run(capsys, kind, "--rules", str(STUDIO), "--events",
                         str(STUDIO / "events.ndjson"), "--from", "2026-03-01",
                         "--as-of", "2026-04-30", "--format", fmt)
    assert (code, err) == (0, "")
    return json.loads(out) if fmt == "json" else out


def test_studio_aging(capsys):
    data = studio(capsys, "aging")
    assert [(r["client"], r["currency"], r["current"], r["31-60"], r["total"])
            for r in data["rows"]] == [("acme", "USD", "150.00", "0.00", "150.00"),
                                       ("bleu", "EUR", "0.00", "3500.00", "3500.00")]
    assert [(i["invoice"], i["days_past_due"]) for i in data["invoices"]] == [
        ("acme/care/2026-04", -1), ("bleu/brand/final", 34)]


def test_studio_dso(capsys):
    data = studio(capsys, "dso")
    assert data["days"] == 61
    assert [(r["currency"], r["receivables"], r["invoiced"], r["dso"]) for r in data["rows"]] == [
        ("EUR", "3500.00", "5500.00", "38.8"), ("USD", "150.00", "6000.00", "1.5")]
    assert (data["paid"], data["avg_days_to_pay"]) == (2, "28.0")


def test_studio_on_time(capsys):
    data = studio(capsys, "on-time")
    assert data["total"] == {"issued": 4, "on_time": 3, "late": 1, "rate": "75.0"}
    assert [(row["trigger"], row["rate"]) for row in data["rows"]] == [
        ("billing_day", "100.0"), ("milestone", "50.0")]
    (late,) = data["late"]
    assert (late["invoice"], late["late_hours"]) == ("bleu/brand/final", "23.00")
    assert data["overdue"] == 1


def test_studio_approvals(capsys):
    data = studio(capsys, "approvals")
    assert (data["issued"], data["auto_approved"]) == (4, 2)
    assert data["wait"] == {"approved": 2, "median_hours": "58.50", "p90_hours": "70.00"}
    assert (data["pending"], data["oldest_pending_hours"]) == (1, "685.00")
    touches = data["touches"]
    assert (touches["touches"], touches["invoices"], touches["mean"]) == (6, 4, "1.50")
    assert touches["distribution"] == [{"touches": 0, "invoices": 1},
                                       {"touches": 1, "invoices": 2},
                                       {"touches": 4, "invoices": 1}]


def test_studio_table_and_csv(capsys):
    table = studio(capsys, "approvals", "table")
    assert table.splitlines()[1].split() == ["approver", "approved", "median_wait_hours",
                                             "p90_wait_hours"]
    rows = list(csv.reader(io.StringIO(studio(capsys, "on-time", "csv"))))
    assert rows[-1] == ["TOTAL", "4", "3", "1", "75.0"]


@pytest.mark.parametrize(("args", "message"), [
    (["aging", "--from", "2026-05-01", "--as-of", "2026-04-30"], "--from 2026-05-01 is after"),
    (["aging", "--as-of", "30/04/2026"], "--as-of '30/04/2026' is not a date"),
    (["aging", "--as-of", "2026-04-30", "--events", "missing.ndjson"], "cannot read"),
])
def test_usage_errors_exit_2(capsys, args, message):
    kind, *options = args
    code, _, err = run(capsys, kind, "--rules", str(STUDIO), "--events",
                       str(STUDIO / "events.ndjson"), *options)
    assert code == 2 and message in err


def test_an_unknown_kind_is_a_usage_error(capsys):
    code, _, _ = run(capsys, "margin", "--rules", str(STUDIO), "--events",
                     str(STUDIO / "events.ndjson"))
    assert code == 2


def test_a_rejected_event_is_reported_and_exits_1(capsys, tmp_path):
    events = tmp_path / "events.ndjson"
    events.write_text((STUDIO / "events.ndjson").read_text(encoding="utf-8") +
                      '{"id": "x-1", "type": "invoice.approved", "at": '
                      '"2026-04-20T09:00:00-04:00", "payload": {"invoice": "acme/nope", '
                      '"by": "lee"}}\n', encoding="utf-8")
    code, out, err = run(capsys, "aging", "--rules", str(STUDIO), "--events", str(events),
                         "--as-of", "2026-04-30")
    assert code == 1 and "unknown invoice 'acme/nope'" in err
    assert out.startswith("Aging as of 2026-04-30")


# --- Northwind: no figures pinned yet, only the shape and that the totals reconcile -------

AS_OF = date(2026, 9, 30)
START = date(2026, 1, 1)


@pytest.fixture(scope="module")
def northwind():
    rules, errors = check_ruleset(str(NORTHWIND))
    assert rules is not None, errors
    read = list(read_events(NORTHWIND / "events.ndjson"))
    events = [item for item in read if isinstance(item, Event)]
    result = replay(rules, read, *replay_span(rules, events, START, AS_OF))
    assert result.errors == []
    ledger = build_ledger(result.actions)
    reports = {kind: build_report(kind, ledger, rules, events, START, AS_OF)
               for kind in command_module.REPORT_KINDS}
    return result.actions, ledger, {kind: report_json(r) for kind, r in reports.items()}, reports


def test_northwind_ledger_is_the_same_from_the_json_actions(northwind):
    actions, ledger, _, _ = northwind
    assert build_ledger(json.loads(dump_action(action)) for action in actions) == ledger


def test_northwind_aging_reconciles(northwind):
    aging = northwind[2]["aging"]
    assert aging["as_of"] == "2026-09-30" and aging["rows"]
    rows_sum: dict[str, Decimal] = defaultdict(Decimal)
    items_sum: dict[str, Decimal] = defaultdict(Decimal)
    for row in aging["rows"]:
        assert sum(Decimal(row[b]) for b in aging["buckets"]) == Decimal(row["total"])
        rows_sum[row["currency"]] += Decimal(row["total"])
    for item in aging["invoices"]:
        items_sum[item["currency"]] += Decimal(item["balance"])
        assert Decimal(item["balance"]) > 0
    for total in aging["totals"]:
        assert sum(Decimal(total[b]) for b in aging["buckets"]) == Decimal(total["total"])
        assert rows_sum[total["currency"]] == items_sum[total["currency"]] == \
            Decimal(total["total"])
    assert len(aging["invoices"]) == sum(row["invoices"] for row in aging["rows"])


def test_northwind_dso_agrees_with_aging(northwind):
    reports = northwind[2]
    dso, aging = reports["dso"], reports["aging"]
    assert dso["days"] == 273
    receivables = {row["currency"]: row["receivables"] for row in dso["rows"]
                   if Decimal(row["receivables"])}
    assert receivables == {total["currency"]: total["total"] for total in aging["totals"]
                           if Decimal(total["total"])}
    assert dso["paid"] == sum(row["paid"] for row in dso["rows"])


def test_northwind_on_time_and_approvals_count_the_same_invoices(northwind):
    reports = northwind[2]
    on_time, approvals = reports["on-time"], reports["approvals"]
    total = on_time["total"]
    assert total["issued"] == sum(row["issued"] for row in on_time["rows"])
    assert total["on_time"] + total["late"] == total["issued"] > 0
    assert len(on_time["late"]) == total["late"]
    assert total["issued"] + on_time["untracked"] == approvals["issued"]
    assert approvals["issued"] == approvals["auto_approved"] + approvals["wait"]["approved"]
    assert approvals["wait"]["approved"] == sum(s["approved"] for s in approvals["by_approver"])
    touches = approvals["touches"]
    assert touches["invoices"] == approvals["issued"]
    assert sum(d["invoices"] for d in touches["distribution"]) == touches["invoices"]
    assert sum(d["touches"] * d["invoices"] for d in touches["distribution"]) == \
        touches["touches"] == sum(touches["by_type"].values())


def test_northwind_through_the_command(capsys, northwind):
    code, out, err = run(capsys, "aging", "--rules", str(NORTHWIND), "--events",
                         str(NORTHWIND / "events.ndjson"), "--as-of", AS_OF.isoformat(),
                         "--format", "json")
    assert (code, err) == (0, "")
    assert json.loads(out) == northwind[2]["aging"]
    for report in northwind[3].values():
        table = render(report, "table").splitlines()
        assert table[0] and table[1].split()[0] in {"client", "currency", "trigger", "approver"}
        header, *rows = list(csv.reader(io.StringIO(render(report, "csv"))))
        assert rows and all(len(row) == len(header) for row in rows)
