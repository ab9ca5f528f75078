"""The Northwind event history: deterministic, well-formed and consistent with its rule files.

The first stage is the work (time, expenses, milestones); the second is the people and the
money (approvals, edits, voids, disputes, payments), answered to what the engine decided. The
engine's replay of the generated year is shared by the tests below.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.util
import io
import json
import re
import sys
from collections import Counter, defaultdict
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import yaml
from click.testing import CliRunner

from engine.cli import cli
from engine.model.calendar import AgencyCalendar

NORTHWIND = Path(__file__).resolve().parents[2] / "examples" / "northwind"
NEW_YORK = ZoneInfo("America/New_York")
CALENDAR = AgencyCalendar("America/New_York", "US")
ENVELOPE = {"id", "type", "at", "payload"}
WORK_TYPES = {"time.approved", "time.unapproved", "expense.approved", "milestone.completed"}
PEOPLE_TYPES = {"invoice.approved", "invoice.flagged", "invoice.adjusted", "invoice.voided",
                "invoice.disputed", "invoice.undisputed", "payment.assigned"}
TYPES = WORK_TYPES | PEOPLE_TYPES | {"payment.received"}
# The first stage's output, byte for byte, as it was before the second stage was added.
STAGE_ONE_SHA256 = "e6d38d70a0bac8317b982502aaf110c21e3ff38262041f65e103cef53c22c2e6"
TIME_KEYS = {"client", "project", "person", "role", "date", "hours", "billable", "task", "notes",
             "source_id"}
EXPENSE_KEYS = {"client", "project", "date", "amount", "currency", "description", "billable",
                "source_id"}
PAYMENT_KEYS = {"amount", "currency", "date", "reference", "payer", "client", "source_id"}
AT_FORMAT = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d[+-]\d\d:\d\d")
HOURS_FORMAT = re.compile(r"[0-9]+\.[0-9]{1,2}")
NUMBER = re.compile(r"NW-2026-\d{5}")


def load_generator():
    """Import the generator script as a module."""
    name = "northwind_generate_events"
    spec = importlib.util.spec_from_file_location(name, NORTHWIND / "generate_events.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses look their module up while the class is built
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def generator():
    return load_generator()


@pytest.fixture(scope="module")
def run(generator, tmp_path_factory):
    """Generate the year once: the file, the engine's replay of it, and the summary printed."""
    out = tmp_path_factory.mktemp("northwind") / "events.ndjson"
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        replayed = generator.main(out)
    return out, replayed, printed.getvalue()


@pytest.fixture(scope="module")
def generated(run) -> Path:
    return run[0]


@pytest.fixture(scope="module")
def year(run):
    """The engine's replay of the generated year: its actions, errors and end state."""
    return run[1]


@pytest.fixture(scope="module")
def actions(year) -> list[dict]:
    return [action.as_json() for action in year.actions]


@pytest.fixture(scope="module")
def first_stage(generator):
    """The rules as the generator reads them, and the first stage's events."""
    rules = generator.load_rules(generator.RULES_DIR)
    return rules, generator.generate(rules)


@pytest.fixture(scope="module")
def lines(generated) -> list[str]:
    return generated.read_text(encoding="utf-8").splitlines()


@pytest.fixture(scope="module")
def events(lines) -> list[dict]:
    return [json.loads(line) for line in lines]


@pytest.fixture(scope="module")
def rules() -> dict:
    """Read the rule files directly: people and their roles, clients and their engagements."""
    docs = []
    for path in sorted(NORTHWIND.rglob("*.yaml")):
        docs += [d for d in yaml.safe_load_all(path.read_text(encoding="utf-8")) if d]
    agency = next(d["spec"] for d in docs if d["kind"] == "Agency")
    return {
        "roles": {p["id"]: set(p["roles"]) for p in agency["people"]},
        "clients": {d["metadata"]["id"]: d["spec"] for d in docs if d["kind"] == "Client"},
        "routes": {d["metadata"]["id"]: d["spec"] for d in docs if d["kind"] == "ApprovalRoute"},
    }


def of_type(events: list[dict], kind: str) -> list[dict]:
    return [e for e in events if e["type"] == kind]


def instant(event: dict) -> datetime:
    return datetime.fromisoformat(event["at"])


def test_the_first_stage_is_deterministic_and_unchanged(generator, first_stage):
    rules, once = first_stage
    again = generator.generate(rules)
    assert [e.body for e in once] == [e.body for e in again]
    text = "".join(json.dumps(e.body, ensure_ascii=False) + "\n" for e in once)
    assert hashlib.sha256(text.encode("utf-8")).hexdigest() == STAGE_ONE_SHA256


def test_the_second_stage_is_settled_answering_the_year_adds_nothing(generator, first_stage,
                                                                   lines, year):
    # Replaying the written year and answering what the engine decided gives exactly the
    # second-stage events already written: nothing new is needed, and nothing differs.
    rules, first = first_stage
    plan = generator.plan_stage_two(generator.Year(rules, first), year.actions)
    first_lines = {json.dumps(e.body, ensure_ascii=False) for e in first}
    written = [line for line in lines if line not in first_lines]
    assert [json.dumps(e.body, ensure_ascii=False) for e in plan.events] == written


def test_the_generator_prints_counts_and_the_years_money(run):
    printed = run[2]
    for kind in sorted(TYPES):
        assert kind in printed
    for currency in ("USD", "EUR", "GBP", "JPY"):
        assert f"  {currency}\n" in printed
    assert "invoiced" in printed and "collected" in printed and "open at year end" in printed


def test_the_committed_history_is_what_the_generator_writes(generated):
    committed = (NORTHWIND / "events.ndjson").read_bytes()
    assert committed == generated.read_bytes(), (
        "events.ndjson is stale: run examples/northwind/generate_events.py")


def test_every_line_is_an_event_envelope(lines):
    for number, line in enumerate(lines, start=1):
        event = json.loads(line)
        assert set(event) == ENVELOPE, f"line {number}"
        assert event["type"] in TYPES, f"line {number}"
        assert isinstance(event["id"], str) and event["id"], f"line {number}"
        assert isinstance(event["payload"], dict), f"line {number}"


def test_the_history_is_a_year_of_several_thousand_events(events):
    assert 4000 <= len(events) <= 12000
    assert 300 <= sum(e["type"] not in WORK_TYPES for e in events) <= 1000
    assert set(Counter(e["type"] for e in events)) == TYPES
    assert min(instant(e) for e in events).year == max(instant(e) for e in events).year == 2026


def test_ids_are_unique_except_one_duplicate_delivery(lines, events):
    repeated = [i for i, n in Counter(e["id"] for e in events).items() if n > 1]
    assert len(repeated) == 1
    copies = [line for line, e in zip(lines, events) if e["id"] == repeated[0]]
    assert len(copies) == 2 and copies[0] == copies[1]
    assert all(e["id"].startswith("appr-") for e in of_type(events, "invoice.approved"))
    assert all(re.fullmatch(r"pay-2026-\d{4}", e["id"])
               for e in of_type(events, "payment.received"))


def test_at_is_new_york_time_with_its_real_offset_and_never_goes_back(events):
    previous = None
    for event in events:
        assert AT_FORMAT.fullmatch(event["at"]), event["at"]
        at = instant(event)
        assert at.utcoffset() == at.astimezone(NEW_YORK).utcoffset(), event["at"]
        assert previous is None or at >= previous, event["id"]
        previous = at
    assert {e["at"][-6:] for e in events} == {"-05:00", "-04:00"}


def test_time_entries_refer_to_known_clients_projects_people_and_roles(events, rules):
    for event in of_type(events, "time.approved"):
        p = event["payload"]
        assert set(p) <= TIME_KEYS and set(p) >= TIME_KEYS - {"task", "notes"}, event["id"]
        client = rules["clients"][p["client"]]
        projects = {project for e in client["engagements"]
                    if e["model"] in ("retainer", "time_and_materials")
                    for project in e["projects"]}
        assert p["project"] in projects, event["id"]
        assert p["role"] in rules["roles"][p["person"]], event["id"]
        assert isinstance(p["billable"], bool)


def test_time_is_logged_on_business_days_of_the_year_and_approved_after(events):
    calendar = AgencyCalendar("America/New_York", "US")
    for event in of_type(events, "time.approved"):
        worked = date.fromisoformat(event["payload"]["date"])
        assert worked.year == 2026 and calendar.is_business_day(worked), event["id"]
        assert instant(event).date() > worked, event["id"]


def test_hours_are_decimal_strings_some_off_the_quarter_hour(events):
    hours = [e["payload"]["hours"] for e in of_type(events, "time.approved")]
    assert all(isinstance(h, str) and HOURS_FORMAT.fullmatch(h) for h in hours)
    assert all(Decimal(h) > 0 for h in hours)
    assert any(Decimal(h) % Decimal("0.25") for h in hours)
    non_billable = sum(not e["payload"]["billable"] for e in of_type(events, "time.approved"))
    assert 0.04 < non_billable / len(hours) < 0.12


def test_expenses_are_in_the_clients_currency_as_decimal_strings(events, rules):
    expenses = of_type(events, "expense.approved")
    for event in expenses:
        p = event["payload"]
        assert set(p) <= EXPENSE_KEYS, event["id"]
        client = rules["clients"][p["client"]]
        assert p["project"] in {pr for e in client["engagements"] for pr in e["projects"]}
        assert p["currency"] == client["currency"]
        pattern = r"[0-9]+" if p["currency"] == "JPY" else r"[0-9]+\.[0-9]{2}"
        assert re.fullmatch(pattern, p["amount"]) and Decimal(p["amount"]) > 0, event["id"]
    marked_up = {c for c, spec in rules["clients"].items()
                 if any("expenses" in e for e in spec["engagements"])}
    assert marked_up <= {e["payload"]["client"] for e in expenses}
    assert any(not e["payload"]["billable"] for e in expenses)


def test_milestones_complete_in_order_on_their_day(events, rules):
    done = defaultdict(list)
    for event in of_type(events, "milestone.completed"):
        p = event["payload"]
        engagement = next(e for e in rules["clients"][p["client"]]["engagements"]
                          if e["id"] == p["engagement"])
        assert engagement["model"] == "project_fixed"
        order = [m["id"] for m in engagement["milestones"]]
        assert p["completed_on"] == event["at"][:10]
        assert event["id"] == f"ms-{p['client']}-{p['engagement']}-{p['milestone']}"
        done[(p["client"], p["engagement"])].append(order.index(p["milestone"]))
    assert all(indexes == sorted(set(indexes)) for indexes in done.values())
    fixed = [(c, e) for c, spec in rules["clients"].items() for e in spec["engagements"]
             if e["model"] == "project_fixed"]
    finished = [len(done[(c, e["id"])]) == len(e["milestones"]) for c, e in fixed]
    assert any(finished) and not all(finished)


def test_unapprovals_name_earlier_entries_within_the_month(events):
    approved = {e["payload"]["source_id"]: instant(e) for e in of_type(events, "time.approved")}
    unapprovals = of_type(events, "time.unapproved")
    assert 5 <= len(unapprovals) <= 10
    for event in unapprovals:
        at = instant(event)
        source = event["payload"]["source_id"]
        assert source in approved and approved[source] < at, event["id"]
        assert timedelta(days=1) <= at - approved[source] < timedelta(days=3)
        assert (at.date() + timedelta(days=1)).month == approved[source].month


def test_timesheets_are_approved_in_batches_and_some_weeks_late(events):
    entries = of_type(events, "time.approved")
    batches = Counter(e["at"] for e in entries)
    assert max(batches.values()) >= 20
    late = [e for e in entries
            if (instant(e).date() - date.fromisoformat(e["payload"]["date"])).days >= 14]
    assert 0.03 < len(late) / len(entries) < 0.10
    assert any(instant(e).month > int(e["payload"]["date"][5:7]) for e in late)


def test_included_hours_are_exceeded_in_some_months_only(events, rules):
    logged = defaultdict(Decimal)
    for event in of_type(events, "time.approved"):
        p = event["payload"]
        if p["billable"]:
            logged[(p["project"], int(p["date"][5:7]))] += Decimal(p["hours"])
    for spec in rules["clients"].values():
        for engagement in spec["engagements"]:
            if "included_hours" not in engagement:
                continue
            months = [sum(logged[(p, m)] for p in engagement["projects"]) for m in range(1, 13)]
            over = sum(h > engagement["included_hours"] for h in months)
            assert 0 < over < 12, engagement["id"]


# The second stage: the people and the money.


def by_type(actions: list[dict], kind: str) -> list[dict]:
    return [a for a in actions if a["type"] == kind]


def money(text: str) -> Decimal:
    return Decimal(text)


def revision_of(action: dict) -> int:
    return int(action["id"].rsplit(":r", 1)[1])


def test_simulate_of_the_whole_year_reports_no_errors(generated):
    result = CliRunner().invoke(cli, [
        "simulate", str(NORTHWIND), "--events", str(generated),
        "--from", "2026-01-01", "--until", "2026-12-31", "--format", "ndjson"])
    assert result.exit_code == 0, result.stderr
    assert result.stderr == ""
    assert result.stdout.count("\n") > 1000


def test_every_decision_names_a_draft_the_engine_made(events, actions, rules):
    drafted = {a["payload"]["invoice"]["id"] for a in by_type(actions, "invoice.drafted")}
    for event in events:
        if event["type"] in PEOPLE_TYPES - {"payment.assigned"}:
            assert event["payload"]["invoice"] in drafted, event["id"]
    requests = {(a["payload"]["invoice"]["id"], revision_of(a)): a
                for a in by_type(actions, "approval.requested")}
    finance = {person for person, roles in rules["roles"].items() if "finance" in roles}
    for event in of_type(events, "invoice.approved"):
        invoice = event["payload"]["invoice"]
        revision = int(event["id"].rsplit("-r", 1)[1])
        assert event["id"] == f"appr-{invoice}-r{revision}"
        request = requests[(invoice, revision)]
        assert datetime.fromisoformat(request["at"]) < instant(event)
        client = rules["clients"][request["client"]]
        route = rules["routes"][client.get("approval_route", "default")]
        allowed = {request["payload"]["approver"], route["escalate_to"]} | finance
        assert event["payload"]["by"] in allowed, event["id"]


def test_most_drafts_are_approved_within_a_day_some_after_reminders(events, actions):
    requests = by_type(actions, "approval.requested")
    reminded = {(a["payload"]["invoice"]["id"], revision_of(a))
                for a in by_type(actions, "approval.reminded")}
    escalated = {(a["payload"]["invoice"]["id"], revision_of(a))
                 for a in by_type(actions, "approval.escalated")}
    assert 0.08 < len(reminded - escalated) / len(requests) < 0.25
    assert 0.03 < len(escalated) / len(requests) < 0.12
    asked = {(a["payload"]["invoice"]["id"], revision_of(a)): datetime.fromisoformat(a["at"])
             for a in requests}
    approvals = of_type(events, "invoice.approved")
    waits = [instant(e) - asked[(e["payload"]["invoice"], int(e["id"].rsplit("-r", 1)[1]))]
             for e in approvals]
    assert sum(wait < timedelta(days=1) for wait in waits) / len(waits) > 0.7
    for event in approvals:  # after an escalation, the escalation target approves
        key = (event["payload"]["invoice"], int(event["id"].rsplit("-r", 1)[1]))
        if key in escalated and event["payload"]["by"] != "priya":
            assert event["payload"]["by"] == "dana", event["id"]
    assert sum(e["payload"]["by"] == "priya" for e in approvals) == 2


def test_people_act_in_office_hours_and_payments_arrive_on_bank_days(events):
    for event in events:
        if event["type"] not in PEOPLE_TYPES | {"payment.received"}:
            continue
        local = instant(event).astimezone(NEW_YORK)
        assert CALENDAR.is_business_day(local.date()), event["id"]
        assert time(9) <= local.time() <= time(17, 30), event["id"]
        if event["type"] == "payment.received":
            assert event["payload"]["date"] == local.date().isoformat()


def test_flagged_drafts_are_adjusted_by_the_account_lead_and_issued_as_a_new_revision(
        events, actions, rules):
    needing_people = {a["payload"]["invoice"]["id"] for a in by_type(actions, "approval.requested")}
    flags = of_type(events, "invoice.flagged")
    assert 0.02 <= len(flags) / len(needing_people) <= 0.05
    adjusted = {e["payload"]["invoice"]: e for e in of_type(events, "invoice.adjusted")}
    issued = {a["payload"]["invoice"]["id"]: a for a in by_type(actions, "invoice.issued")}
    drafted = {a["payload"]["invoice"]["id"]: a for a in by_type(actions, "invoice.drafted")}
    for flag in flags:
        invoice = flag["payload"]["invoice"]
        edit = adjusted[invoice]
        client = drafted[invoice]["client"]
        assert edit["payload"]["by"] == rules["clients"][client]["account_lead"]
        days = sum(CALENDAR.is_business_day(instant(flag).date() + timedelta(days=n))
                   for n in range(1, (instant(edit).date() - instant(flag).date()).days + 1))
        assert 1 <= days <= 3, invoice
        before = money(drafted[invoice]["payload"]["invoice"]["total"])
        after = money(issued[invoice]["payload"]["invoice"]["total"])
        assert 0 < after < before, invoice
    assert any(line["unit_price"].startswith("-") for e in adjusted.values()
               for line in e["payload"].get("lines_add", ()))
    assert any("lines_remove" in e["payload"] for e in adjusted.values())


def test_voids_take_back_two_drafts_and_one_issued_invoice_billed_again(events, actions):
    voided = {a["payload"]["invoice"]["id"]: a["payload"]["invoice"]
              for a in by_type(actions, "invoice.voided")}
    assert len(voided) == 3 and all(e["payload"]["reason"] for e in of_type(events,
                                                                           "invoice.voided"))
    assert sum(invoice["number"] is None for invoice in voided.values()) == 2
    issued = [i for i in voided.values() if i["number"] is not None]
    assert len(issued) == 1
    drafts = [a["payload"]["invoice"] for a in by_type(actions, "invoice.drafted")]
    again = [d for d in drafts if d["client"] == issued[0]["client"]
             and d["engagement"] == issued[0]["engagement"] and d["id"] != issued[0]["id"]
             and d["total"] == issued[0]["total"]]
    assert again, "the voided invoice is billed again from its corrected timesheet"


def test_a_dispute_pauses_reminders_for_two_weeks(events, actions):
    (disputed,), (undisputed,) = of_type(events, "invoice.disputed"), of_type(
        events, "invoice.undisputed")
    invoice = disputed["payload"]["invoice"]
    assert undisputed["payload"]["invoice"] == invoice
    assert (instant(undisputed).date() - instant(disputed).date()).days == 14
    reminders = [datetime.fromisoformat(a["at"]) for a in by_type(actions, "reminder.sent")
                 if a["payload"]["invoice"]["id"] == invoice]
    assert not [at for at in reminders if instant(disputed) < at < instant(undisputed)]
    issue = next(a for a in by_type(actions, "invoice.issued")
                 if a["payload"]["invoice"]["id"] == invoice)
    due = date.fromisoformat(issue["payload"]["invoice"]["due_date"])
    assert instant(disputed).date() < due < instant(undisputed).date()


def test_payments_reconcile(events, actions, year):
    assert not year.errors
    assert all(invoice.balance >= 0 for invoice in year.state.invoices.values())
    received = {e["id"]: e["payload"] for e in of_type(events, "payment.received")}
    applied = [a for a in by_type(actions, "payment.applied")
               if not a["payload"]["payment"]["id"].startswith("credit:")]
    assert sorted(a["payload"]["payment"]["id"] for a in applied) == sorted(received)
    paid_in, settled = defaultdict(Decimal), defaultdict(Decimal)
    for payment in received.values():
        paid_in[payment["currency"]] += money(payment["amount"])
    for action in applied:
        payload = action["payload"]
        share = sum((money(a["amount"]) for a in payload["allocations"]), Decimal(0))
        assert share + money(payload["credit"]) == money(payload["payment"]["amount"])
        settled[payload["payment"]["currency"]] += share + money(payload["credit"])
    assert settled == paid_in
    created, used = defaultdict(Decimal), defaultdict(Decimal)
    for action in by_type(actions, "payment.applied"):
        key = (action["client"], action["payload"]["payment"]["currency"])
        if action["payload"]["payment"]["id"].startswith("credit:"):
            used[key] += money(action["payload"]["payment"]["amount"])
        else:
            created[key] += money(action["payload"]["credit"])
    assert created and all(used[key] <= created[key] for key in used)
    for key, left in year.state.credits.items():
        assert left == created[key] - used[key]
    # What was invoiced and is no longer open was paid: by payments, or by credit from them.
    for currency in paid_in:
        invoices = [i for i in year.state.invoices.values()
                    if i.currency == currency and i.number and i.status != "voided"]
        credit_left = sum((v for (_, c), v in year.state.credits.items() if c == currency),
                          Decimal(0))
        assert sum(i.total - i.balance for i in invoices) == paid_in[currency] - credit_left


def test_clients_pay_in_their_own_currency_and_in_their_own_ways(events, actions, rules):
    payments = of_type(events, "payment.received")
    assert {p["payload"]["currency"] for p in payments} == {"USD", "EUR", "GBP", "JPY"}
    for payment in payments:
        assert set(payment["payload"]) <= PAYMENT_KEYS and "source_id" in payment["payload"]
        client = payment["payload"].get("client")
        if client:
            assert rules["clients"][client]["currency"] == payment["payload"]["currency"]
    references = [p["payload"]["reference"] for p in payments if "reference" in p["payload"]]
    assert any(NUMBER.fullmatch(r) for r in references)
    assert any(NUMBER.search(r) and not NUMBER.fullmatch(r) for r in references)
    without = [p["payload"] for p in payments if "reference" not in p["payload"]]
    assert any("@" in p["payer"] for p in without) and any("@" not in p["payer"] for p in without)
    rules_applied = Counter(a["rule"] for a in by_type(actions, "payment.applied"))
    for rule in ("reference", "exact_amount", "exact_set", "credit"):
        assert rules_applied[f"reconciliation#{rule}"] >= 1, rule
    (unmatched,) = by_type(actions, "payment.unmatched")
    (assigned,) = of_type(events, "payment.assigned")
    assert assigned["payload"]["payment"] == unmatched["payload"]["payment"]["id"]
    assert "finance" in rules["roles"][assigned["payload"]["by"]]
    assert instant(assigned) - datetime.fromisoformat(unmatched["at"]) >= timedelta(days=1)
    per_invoice = Counter(a["invoice"] for action in by_type(actions, "payment.applied")
                          for a in action["payload"]["allocations"])
    assert max(per_invoice.values()) == 2  # one invoice is paid in two halves
    assert any(money(a["payload"]["credit"]) > 0 for a in by_type(actions, "payment.applied")
               if not a["payload"]["payment"]["id"].startswith("credit:"))


def test_late_payers_draw_late_fees_which_are_approved_and_paid_too(actions):
    fees = {a["payload"]["late_fee_invoice"] for a in by_type(actions, "escalation.triggered")
            if "late_fee_invoice" in a["payload"]}
    issued = {a["payload"]["invoice"]["id"] for a in by_type(actions, "invoice.issued")}
    paid = {a["invoice"] for action in by_type(actions, "payment.applied")
            for a in action["payload"]["allocations"]}
    assert 4 <= len(fees) <= 10 and fees <= issued
    assert len(fees & paid) >= 4 and fees - paid
    parents_paid_late = {fee.rsplit("/", 1)[0] for fee in fees & paid}
    assert parents_paid_late <= paid


def test_the_year_ends_with_something_in_every_aging_bucket(year):
    limits = ((0, "current"), (30, "1-30"), (60, "31-60"), (90, "61-90"))
    buckets = Counter()
    for invoice in year.state.invoices.values():
        if invoice.is_open:
            overdue = (date(2026, 12, 31) - invoice.due_date).days
            buckets[next((name for limit, name in limits if overdue <= limit), "90+")] += 1
    assert set(buckets) == {"current", "1-30", "31-60", "61-90", "90+"}
    assert sum(buckets.values()) >= 10
