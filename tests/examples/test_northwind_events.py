"""The Northwind event history: deterministic, well-formed and consistent with its rule files."""

from __future__ import annotations

import importlib.util
import json
import re
import sys
from collections import Counter, defaultdict
from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import yaml

from engine.model.calendar import AgencyCalendar

NORTHWIND = Path(__file__).resolve().parents[2] / "examples" / "northwind"
NEW_YORK = ZoneInfo("America/New_York")
ENVELOPE = {"id", "type", "at", "payload"}
TYPES = {"time.approved", "time.unapproved", "expense.approved", "milestone.completed"}
TIME_KEYS = {"client", "project", "person", "role", "date", "hours", "billable", "task", "notes",
             "source_id"}
EXPENSE_KEYS = {"client", "project", "date", "amount", "currency", "description", "billable",
                "source_id"}
AT_FORMAT = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d[+-]\d\d:\d\d")
HOURS_FORMAT = re.compile(r"[0-9]+\.[0-9]{1,2}")


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
def generated(generator, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("northwind") / "events.ndjson"
    generator.main(out)
    return out


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
    }


def of_type(events: list[dict], kind: str) -> list[dict]:
    return [e for e in events if e["type"] == kind]


def instant(event: dict) -> datetime:
    return datetime.fromisoformat(event["at"])


def test_the_generator_is_deterministic(generator, generated, tmp_path, capsys):
    again = tmp_path / "again.ndjson"
    generator.main(again)
    assert again.read_bytes() == generated.read_bytes()
    assert "time.approved" in capsys.readouterr().out


def test_the_committed_history_holds_everything_the_generator_writes(lines):
    committed = set((NORTHWIND / "events.ndjson").read_text(encoding="utf-8").splitlines())
    missing = [line for line in lines if line not in committed]
    assert not missing, "events.ndjson is stale: run examples/northwind/generate_events.py"


def test_every_line_is_an_event_envelope(lines):
    for number, line in enumerate(lines, start=1):
        event = json.loads(line)
        assert set(event) == ENVELOPE, f"line {number}"
        assert event["type"] in TYPES, f"line {number}"
        assert isinstance(event["id"], str) and event["id"], f"line {number}"
        assert isinstance(event["payload"], dict), f"line {number}"


def test_the_history_is_a_year_of_several_thousand_events(events):
    assert 4000 <= len(events) <= 12000
    assert set(Counter(e["type"] for e in events)) == TYPES
    assert min(instant(e) for e in events).year == max(instant(e) for e in events).year == 2026


def test_ids_are_unique_except_one_duplicate_delivery(lines, events):
    repeated = [i for i, n in Counter(e["id"] for e in events).items() if n > 1]
    assert len(repeated) == 1
    copies = [line for line, e in zip(lines, events) if e["id"] == repeated[0]]
    assert len(copies) == 2 and copies[0] == copies[1]


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
