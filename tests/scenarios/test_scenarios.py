"""Scenario fixtures, one per rule of SPEC §4: replay each folder, snapshot the action stream,
and check the numbers that prove the rule by hand.

A folder holds `rules/` (a tiny rule set), `events.ndjson` and `scenario.yaml` (`rule`, `from`,
`until`, and `known_bug` while the engine does not follow the rule yet). A scenario with a
known bug has no snapshot: a snapshot pins only a stream that was checked against the SPEC;
its hand-written check is an expected failure until the bug is fixed.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any

import pytest
import yaml

from engine.core.replay import read_events, replay
from engine.model.actions import dump_action
from engine.ruleset.loader import load_ruleset

HERE = Path(__file__).resolve().parent
SCENARIOS = sorted(p.name for p in HERE.iterdir() if (p / "scenario.yaml").is_file())


@dataclass(frozen=True)
class Outcome:
    """A replayed scenario: its actions as JSON objects and its rejected events."""

    rule: str
    actions: list[dict[str, Any]]
    errors: list[str]

    def of_type(self, action_type: str) -> list[dict[str, Any]]:
        return [a for a in self.actions if a["type"] == action_type]

    def drafts(self) -> dict[str, dict[str, Any]]:
        """Return the drafted invoices by id (each id is drafted once)."""
        found: dict[str, dict[str, Any]] = {}
        for action in self.of_type("invoice.drafted"):
            invoice = action["payload"]["invoice"]
            assert invoice["id"] not in found, f"{invoice['id']} drafted twice"
            found[invoice["id"]] = invoice
        return found

    def drafted_at(self) -> dict[str, str]:
        return {a["payload"]["invoice"]["id"]: a["at"] for a in self.of_type("invoice.drafted")}

    def issued(self) -> dict[str, dict[str, Any]]:
        return {a["payload"]["invoice"]["id"]: a["payload"]["invoice"]
                for a in self.of_type("invoice.issued")}

    def approvers(self) -> dict[str, str]:
        return {a["payload"]["invoice"]["id"]: a["payload"]["approver"]
                for a in self.of_type("approval.requested")}

    def billed_entries(self, invoice_id: str) -> list[str]:
        """Return the source id (else event id) of every entry an invoice bills."""
        for action in self.of_type("invoice.drafted"):
            if action["payload"]["invoice"]["id"] == invoice_id:
                supporting = action["payload"]["supporting"]
                return [row.get("source_id", row["event"])
                        for row in supporting["time"] + supporting["expenses"]]
        raise AssertionError(f"no draft {invoice_id}")


def settings(name: str) -> dict[str, Any]:
    return yaml.safe_load((HERE / name / "scenario.yaml").read_text(encoding="utf-8"))


@functools.cache
def run(name: str) -> Outcome:
    """Replay one scenario folder (once per test session)."""
    folder = HERE / name
    scenario = settings(name)
    events = folder / "events.ndjson"
    result = replay(load_ruleset(folder / "rules"), read_events(events),
                    scenario["from"], scenario["until"])
    # Errors name the events file; keep the folder out of the snapshot.
    errors = [str(error).replace(str(events), "events.ndjson") for error in result.errors]
    return Outcome(scenario["rule"], [json.loads(dump_action(a)) for a in result.actions], errors)


def lines(invoice: dict[str, Any]) -> list[tuple[str, str, str, str]]:
    return [(l["description"], l["quantity"], l["unit_price"], l["amount"])
            for l in invoice["lines"]]


def half_up(amount: Decimal, places: str = "0.01") -> Decimal:
    return amount.quantize(Decimal(places), rounding=ROUND_HALF_UP)


# --------------------------------------------------------------------------- the snapshots

def _snapshot_params() -> list[Any]:
    return [name for name in SCENARIOS if not settings(name).get("known_bug")]


@pytest.mark.parametrize("name", _snapshot_params())
def test_action_stream(name: str, snapshot) -> None:
    outcome = run(name)
    assert {"rule": outcome.rule, "actions": outcome.actions, "errors": outcome.errors} == snapshot


def test_every_scenario_names_its_rule_and_range() -> None:
    for name in SCENARIOS:
        scenario = settings(name)
        assert isinstance(scenario["rule"], str) and scenario["rule"], name
        assert isinstance(scenario["from"], date) and isinstance(scenario["until"], date), name
        assert scenario["from"] <= scenario["until"], name


# --------------------------------------------------------------------------- the numbers

CHECKS: dict[str, Callable[[Outcome], None]] = {}


def checks(name: str) -> Callable[[Callable[[Outcome], None]], Callable[[Outcome], None]]:
    def register(function: Callable[[Outcome], None]) -> Callable[[Outcome], None]:
        CHECKS[name] = function
        return function
    return register


def test_every_scenario_has_hand_written_checks() -> None:
    assert sorted(CHECKS) == SCENARIOS


def _check_params() -> list[Any]:
    params = []
    for name in SCENARIOS:
        bug = settings(name).get("known_bug")
        marks = [pytest.mark.xfail(strict=True, reason=bug)] if bug else []
        params.append(pytest.param(name, marks=marks, id=name))
    return params


@pytest.mark.parametrize("name", _check_params())
def test_key_numbers(name: str) -> None:
    CHECKS[name](run(name))


@checks("billing-day-31")
def check_billing_day_31(o: Outcome) -> None:
    assert o.drafted_at() == {
        # --from is the go-live: 31 January is before it.
        "acme/social/2026-02": "2026-02-28T00:00:00-05:00",
        "acme/social/2026-03": "2026-03-31T00:00:00-04:00",
        "acme/social/2026-04": "2026-04-30T00:00:00-04:00",
    }
    february = o.drafts()["acme/social/2026-02"]
    assert february["total"] == "3100.00"
    assert february["period"] == {"start": "2026-02-01", "end": "2026-02-28"}


@checks("proration")
def check_proration(o: Outcome) -> None:
    drafts, at = o.drafts(), o.drafted_at()
    assert half_up(Decimal("1000.00") * 17 / 31) == Decimal("548.39")
    assert at["acme/social/2026-03"] == "2026-03-15T00:00:00-04:00"
    assert drafts["acme/social/2026-03"]["total"] == "548.39"
    assert drafts["acme/social/2026-03"]["period"] == {"start": "2026-03-15", "end": "2026-03-31"}
    assert drafts["acme/social/2026-04"]["total"] == "1000.00"
    assert half_up(Decimal("1000.00") * 10 / 31) == Decimal("322.58")
    assert drafts["acme/social/2026-05"]["total"] == "322.58"
    assert drafts["acme/social/2026-05"]["period"] == {"start": "2026-05-01", "end": "2026-05-10"}
    # 15/30 of 1,000.01 is 500.005 exactly: half-up, not half-even.
    assert at["acme/seo/2026-04"] == "2026-04-16T00:00:00-04:00"
    assert drafts["acme/seo/2026-04"]["total"] == "500.01"
    assert "acme/social/2026-06" not in drafts


@checks("in-arrears")
def check_in_arrears(o: Outcome) -> None:
    drafts, at = o.drafts(), o.drafted_at()
    assert at == {
        "acme/care/2026-02": "2026-03-01T00:00:00-05:00",
        "acme/care/2026-03": "2026-04-01T00:00:00-04:00",
        "acme/care/2026-04": "2026-05-01T00:00:00-04:00",
    }
    assert drafts["acme/care/2026-03"]["period"] == {"start": "2026-03-01", "end": "2026-03-31"}
    assert {d["total"] for d in drafts.values()} == {"2000.00"}


@checks("retainer-overage")
def check_retainer_overage(o: Outcome) -> None:
    drafts = o.drafts()
    assert lines(drafts["acme/social/2026-03"]) == [
        ("Retainer — March 2026", "1", "5000.00", "5000.00")]
    assert lines(drafts["acme/social/2026-04"]) == [
        ("Retainer — April 2026", "1", "5000.00", "5000.00"),
        ("Overage — March 2026: hours above the 10 included", "2.50", "150.00", "375.00")]
    assert drafts["acme/social/2026-04"]["total"] == "5375.00"
    # April stays under 10 h; the March hour approved on 10 April is on the next invoice.
    assert lines(drafts["acme/social/2026-05"])[1] == (
        "Overage — March 2026: hours above the 10 included", "1", "150.00", "150.00")
    assert drafts["acme/social/2026-05"]["total"] == "5150.00"


@checks("milestone-remainder")
def check_milestone_remainder(o: Outcome) -> None:
    totals = {i: d["total"] for i, d in o.drafts().items()}
    assert half_up(Decimal("36250.00") * Decimal("33.33") / 100) == Decimal("12082.13")
    assert totals == {
        "acme/packaging/press": "12085.74",     # the remainder, though completed first
        "acme/packaging/concepts": "12082.13",
        "acme/packaging/artwork": "12082.13",   # completed twice, billed once
    }
    assert sum(Decimal(t) for t in totals.values()) == Decimal("36250.00")


@checks("increments")
def check_increments(o: Outcome) -> None:
    drafts = o.drafts()
    assert lines(drafts["acme/quarter-hours/2026-03-31"]) == [("Designer", "4", "100.00", "400.00")]
    assert lines(drafts["acme/exact/2026-03-31"]) == [("Designer", "3.46", "100.00", "346.00")]


@checks("rate-precedence")
def check_rate_precedence(o: Outcome) -> None:
    invoice = o.drafts()["acme/adhoc/2026-03-31"]
    rates = {l["description"]: l["unit_price"] for l in invoice["lines"]}
    assert rates == {"Kim Osei": "200.00", "Ana Lopez": "140.00", "Raj Iyer": "100.00"}
    assert invoice["total"] == "440.00"


@checks("tax-rounding")
def check_tax_rounding(o: Outcome) -> None:
    invoice = o.drafts()["acme/adhoc/2026-03-31"]
    amounts = [Decimal(l["amount"]) for l in invoice["lines"]]
    assert sorted(amounts) == [Decimal("43.75"), Decimal("70.00"), Decimal("150.00")]
    rate = Decimal("0.08875")
    assert sum(half_up(a * rate) for a in amounts) == Decimal("23.40")  # per line: not the rule
    assert (invoice["subtotal"], invoice["tax"], invoice["total"]) == ("263.75", "23.41", "287.16")


@checks("jpy")
def check_jpy(o: Outcome) -> None:
    drafts = o.drafts()
    retainer, hourly = drafts["kumo/brand/2026-03"], drafts["kumo/adhoc/2026-03-31"]
    assert (retainer["subtotal"], retainer["tax"], retainer["total"]) == ("822581", "82258", "904839")
    assert [l["amount"] for l in hourly["lines"]] == ["15625", "3670"]
    assert (hourly["subtotal"], hourly["tax"], hourly["total"]) == ("19295", "1930", "21225")
    for action in o.actions:
        invoice = action["payload"]["invoice"]
        money = [invoice[k] for k in ("subtotal", "tax", "total", "balance")]
        money += [l["amount"] for l in invoice["lines"]] + [l["unit_price"] for l in invoice["lines"]]
        assert all(m.isdigit() for m in money), money


@checks("revision-rate-change")
def check_revision_rate_change(o: Outcome) -> None:
    drafts = o.drafts()
    assert lines(drafts["acme/adhoc/2026-03-31"]) == [
        ("Designer", "2", "100.00", "200.00"),   # dated 15 March
        ("Designer", "2", "120.00", "240.00"),   # dated 16 March, the revision's day
    ]
    assert drafts["acme/social/2026-03"]["total"] == "5000.00"
    assert drafts["acme/social/2026-04"]["total"] == "5500.00"


@checks("late-approved-hours")
def check_late_approved_hours(o: Outcome) -> None:
    assert o.billed_entries("acme/adhoc/2026-01-31") == ["te-jan"]
    assert o.billed_entries("acme/adhoc/2026-02-28") == ["te-late-jan", "te-ahead"]
    assert o.billed_entries("acme/adhoc/2026-03-31") == ["te-late-feb"]
    assert o.drafts()["acme/adhoc/2026-03-31"]["total"] == "400.00"


@checks("numbering-yearly-reset")
def check_numbering_yearly_reset(o: Outcome) -> None:
    assert [(i["id"], i["number"], i["issue_date"]) for i in o.issued().values()] == [
        ("acme/social/2026-11", "TS-2026-0001", "2026-11-01"),
        ("acme/social/2026-12", "TS-2026-0002", "2026-12-01"),
        ("acme/film/cut", "TS-2026-0003", "2026-12-31"),
        ("acme/social/2027-01", "TS-2027-0001", "2027-01-01"),
        ("acme/social/2027-02", "TS-2027-0002", "2027-02-01"),
    ]
    assert {d["number"] for d in o.drafts().values()} == {None}
    assert o.approvers()["acme/film/cut"] == "lee"


@checks("business-days-holiday")
def check_business_days_holiday(o: Outcome) -> None:
    assert o.drafted_at() == {
        "acme/january/2027-01": "2027-01-04T00:00:00-05:00",
        "acme/may/2027-05": "2027-05-28T00:00:00-04:00",
    }


@checks("go-live")
def check_go_live(o: Outcome) -> None:
    assert sorted(o.drafts()) == [
        "acme/adhoc/2026-03-31", "acme/site/build", "acme/social/2026-04"]
    assert o.billed_entries("acme/adhoc/2026-03-31") == ["te-after"]
    assert o.drafts()["acme/site/build"]["total"] == "2000.00"


@checks("no-empty-invoices")
def check_no_empty_invoices(o: Outcome) -> None:
    drafts = o.drafts()
    assert list(drafts) == ["acme/hours-bank/2026-05"]
    assert lines(drafts["acme/hours-bank/2026-05"]) == [
        ("Overage — April 2026: hours above the 10 included", "2", "120.00", "240.00")]


@checks("tm-cap")
def check_tm_cap(o: Outcome) -> None:
    drafts = o.drafts()
    warned, clamped = drafts["acme/warned/2026-03-31"], drafts["acme/clamped/2026-03-31"]
    assert warned["total"] == "1200.00"
    requested = {a["payload"]["invoice"]["id"]: a["payload"]["warnings"]
                 for a in o.of_type("approval.requested")}
    assert "over_cap" in requested["acme/warned/2026-03-31"]
    assert "over_cap" not in requested["acme/clamped/2026-03-31"]
    assert lines(clamped)[-1] == (
        "Above the not-to-exceed cap of 1,000.00 — written off", "1", "-200.00", "-200.00")
    assert clamped["total"] == "1000.00"
    assert o.of_type("invoice.issued") == []  # both wait for the approver


@checks("expenses-markup")
def check_expenses_markup(o: Outcome) -> None:
    drafts = o.drafts()
    assert half_up(Decimal("123.45") * Decimal("1.10")) == Decimal("135.80")
    assert lines(drafts["acme/adhoc/2026-03-31"]) == [
        ("Designer", "1", "100.00", "100.00"),
        ("Expense 2026-03-11: Taxi to the shoot (incl. 10% handling)", "1", "135.80", "135.80")]
    assert drafts["acme/adhoc/2026-03-31"]["total"] == "235.80"
    assert lines(drafts["acme/social/2026-04"])[1] == (
        "Expense 2026-03-12: Stock photo", "1", "50.00", "50.00")
    assert not any("Team lunch" in l["description"] for d in drafts.values() for l in d["lines"])


@checks("time-unapproved")
def check_time_unapproved(o: Outcome) -> None:
    assert o.billed_entries("acme/adhoc/2026-03-31") == ["h:1", "h:3"]
    assert [l["quantity"] for l in o.drafts()["acme/adhoc/2026-03-31"]["lines"]] == ["2", "4.50"]
    # Unapproving a billed entry (line 7) or an unknown one (line 8) is rejected.
    assert [e.split(": ", 1)[0] for e in o.errors] == ["events.ndjson:7", "events.ndjson:8"]
    assert o.errors[0].startswith("events.ndjson:7: time entry 'h:1' ")
    assert o.errors[1].startswith("events.ndjson:8: unknown time entry 'h:9'")


@checks("group-by")
def check_group_by(o: Outcome) -> None:
    drafts = o.drafts()
    assert lines(drafts["acme/by-role/2026-03-31"]) == [
        ("Designer", "3", "120.00", "360.00"),
        ("Developer", "3", "100.00", "300.00"),
        ("Strategist", "1", "100.00", "100.00")]
    assert lines(drafts["acme/by-person/2026-03-31"]) == [
        ("Ana Lopez", "3", "120.00", "360.00"),
        ("Kim Osei", "1", "100.00", "100.00"),
        ("Raj Iyer", "3", "100.00", "300.00")]
    # Ana's and Kim's Design hours have different rates: two lines.
    assert lines(drafts["acme/by-task/2026-03-31"]) == [
        ("Build", "3", "100.00", "300.00"),
        ("Design", "1", "100.00", "100.00"),
        ("Design", "3", "120.00", "360.00")]
    assert len(drafts["acme/by-entry/2026-03-31"]["lines"]) == 4
    assert {d["total"] for d in drafts.values()} == {"760.00"}


@checks("approval-routing")
def check_approval_routing(o: Outcome) -> None:
    assert o.approvers() == {
        "acme/site/discovery": "lee",
        "acme/site/design": "fran",
        "acme/adhoc/2026-03-06": "raj",
        "bolt/launch/all": "kim",
    }
    issued = o.issued()
    assert {"acme/site/build", "acme/site/launch"} <= set(issued)  # auto-approved
    assert issued["acme/site/discovery"]["number"] == "TS-2026-0001"
    reminded = [(a["payload"]["invoice"]["id"], a["at"]) for a in o.of_type("approval.reminded")]
    assert ("acme/site/design", "2026-03-04T10:00:00-05:00") in reminded
    assert "acme/site/discovery" not in dict(reminded)  # approved before 24 h
    escalated = {a["payload"]["invoice"]["id"]: (a["at"], a["payload"]["escalate_to"])
                 for a in o.of_type("approval.escalated")}
    assert escalated["acme/site/design"] == ("2026-03-05T10:00:00-05:00", "kim")


@checks("approval-issue-terms")
def check_approval_issue_terms(o: Outcome) -> None:
    assert {i: d["number"] for i, d in o.drafts().items()} == {
        "net/site/launch": None, "cod/site/launch": None, "eom/site/launch": None}
    issued = {i: (d["number"], d["issue_date"], d["due_date"]) for i, d in o.issued().items()}
    assert issued == {
        "net/site/launch": ("TS-2026-0001", "2026-03-10", "2026-04-09"),
        "cod/site/launch": ("TS-2026-0002", "2026-03-11", "2026-03-11"),
        "eom/site/launch": ("TS-2026-0003", "2026-03-31", "2026-04-15"),
    }
    assert o.errors == ["events.ndjson:4: 'kim' may not approve this invoice: it waits on lee"]


@checks("several-engagements")
def check_several_engagements(o: Outcome) -> None:
    rules = {a["payload"]["invoice"]["id"]: a["rule"] for a in o.of_type("invoice.drafted")}
    assert rules == {
        "acme/social/2026-03": "clients.yaml#engagements[0]",
        "acme/rebrand/discovery": "clients.yaml#engagements[1]",
        "acme/adhoc/2026-03-31": "clients.yaml#engagements[2]",
    }
    drafts = o.drafts()
    assert drafts["acme/rebrand/discovery"]["total"] == "3000.00"
    assert o.billed_entries("acme/adhoc/2026-03-31") == ["te-3"]
    assert drafts["acme/adhoc/2026-03-31"]["total"] == "300.00"


@checks("dst-new-york")
def check_dst_new_york(o: Outcome) -> None:
    assert o.drafted_at() == {
        "acme/march-8/2026-03": "2026-03-08T00:00:00-05:00",
        "acme/timesheets/2026-03-08": "2026-03-08T03:30:00-04:00",
        "acme/march-9/2026-03": "2026-03-09T00:00:00-04:00",
        "acme/november-1/2026-11": "2026-11-01T00:00:00-04:00",
        "acme/timesheets/2026-11-01": "2026-11-01T01:30:00-04:00",
        "acme/timesheets/2026-11-01-2": "2026-11-01T01:30:00-05:00",
        "acme/november-2/2026-11": "2026-11-02T00:00:00-05:00",
    }
    assert {i["issue_date"] for i in o.issued().values() if "november" in i["id"]} == {
        "2026-11-01", "2026-11-02"}


@checks("dst-berlin")
def check_dst_berlin(o: Outcome) -> None:
    assert o.drafted_at() == {
        "kiez/march-29/2026-03": "2026-03-29T00:00:00+01:00",
        "kiez/march-30/2026-03": "2026-03-30T00:00:00+02:00",
        "kiez/october-25/2026-10": "2026-10-25T00:00:00+02:00",
        "kiez/timesheets/2026-10-25": "2026-10-25T02:30:00+02:00",
        "kiez/timesheets/2026-10-25-2": "2026-10-25T02:30:00+01:00",
        "kiez/october-26/2026-10": "2026-10-26T00:00:00+01:00",
    }
    assert {a["at"][-6:] for a in o.of_type("reminder.sent")} == {"+02:00"}


@checks("idempotent-intake")
def check_idempotent_intake(o: Outcome) -> None:
    drafts = o.drafts()
    assert sorted(drafts) == ["acme/adhoc/2026-03-31", "acme/site/launch"]
    assert o.billed_entries("acme/adhoc/2026-03-31") == ["h:1", "h:2"]
    assert [l["quantity"] for l in drafts["acme/adhoc/2026-03-31"]["lines"]] == ["2", "1.50"]
    assert o.errors == []


@checks("bad-events")
def check_bad_events(o: Outcome) -> None:
    assert [e.split(": ", 1)[0] for e in o.errors] == [
        f"events.ndjson:{n}" for n in (2, 3, 4, 5, 6)]
    assert o.errors[0].startswith("events.ndjson:2: not valid JSON")
    assert o.errors[1] == ("events.ndjson:3: time.approved event: payload.hours: expected a "
                           "string, got the number 1.5")
    assert o.errors[2] == "events.ndjson:4: unknown client 'acne' (did you mean 'acme'?)"
    assert o.errors[3] == "events.ndjson:5: unknown project 'acme-adhok' (did you mean 'acme-adhoc'?)"
    assert o.errors[4] == "events.ndjson:6: unknown invoice 'acme/adhoc/2026-02-28'"
    assert o.billed_entries("acme/adhoc/2026-03-31") == ["te-1", "te-7"]
    assert o.drafts()["acme/adhoc/2026-03-31"]["total"] == "500.00"


# --------------------------------------------------------------------------- known bugs

@checks("zero-hour-entry")
def check_zero_hour_entry(o: Outcome) -> None:
    assert o.of_type("invoice.drafted") == []
    assert o.of_type("invoice.issued") == []


@checks("retainer-reapproval")
def check_retainer_reapproval(o: Outcome) -> None:
    drafts = o.drafts()
    assert drafts["acme/social/2026-04"]["total"] == "5300.00"
    assert lines(drafts["acme/social/2026-05"]) == [
        ("Retainer — May 2026", "1", "5000.00", "5000.00")]


@checks("retainer-final-overage")
def check_retainer_final_overage(o: Outcome) -> None:
    overage = [l for d in o.drafts().values() for l in lines(d) if l[0].startswith("Overage")]
    assert overage == [("Overage — April 2026: hours above the 10 included", "5", "100.00", "500.00")]


@checks("reapproval-not-billable")
def check_reapproval_not_billable(o: Outcome) -> None:
    assert o.billed_entries("acme/adhoc/2026-03-31") == ["h:2"]
    assert o.drafts()["acme/adhoc/2026-03-31"]["total"] == "100.00"
