"""Properties of the billing core over generated rule sets and event histories.

- Every approved billable entry is billed exactly once, whatever order the events arrive in.
- A retainer yields exactly one invoice per period, also when the engine catches up after
  downtime.
- Lines add up to the subtotal, subtotal + tax to the total, in the currency's minor units.
- Replaying the same events twice gives the same actions, byte for byte.
"""

from __future__ import annotations

import calendar as gregorian
import json
import tempfile
from collections import Counter
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine.core.engine import Engine
from engine.core.replay import replay
from engine.model.actions import dump_action
from engine.model.calendar import AgencyCalendar
from engine.model.events import Event, parse_event
from engine.ruleset.loader import load_ruleset
from engine.ruleset.types import RuleSet

PROPERTY_SETTINGS = settings(max_examples=60, deadline=None,
                             suppress_health_check=[HealthCheck.too_slow])
MARCH = date(2026, 3, 1)
APRIL_END = date(2026, 4, 30)

AGENCY = """\
apiVersion: billflow/v1
kind: Agency
metadata: {{id: studio, name: Test Studio}}
spec:
  timezone: America/New_York
  currency: USD
{holidays}  invoice_numbering: {{format: "TS-{{year}}-{{seq:04d}}", reset: yearly}}
  defaults: {{payment_terms: net_30, approval_route: default, reminder_cadence: standard}}
  people:
    - {{id: fran, name: Fran Finch, email: fran@studio.example, roles: [finance]}}
    - {{id: lee, name: Lee Park, email: lee@studio.example, roles: [account_lead]}}
    - {{id: kim, name: Kim Osei, email: kim@studio.example, roles: [strategist]}}
    - {{id: ana, name: Ana Lopez, email: ana@studio.example, roles: [designer]}}
    - {{id: raj, name: Raj Iyer, email: raj@studio.example, roles: [developer]}}
"""
AUTO_ROUTE = """\
apiVersion: billflow/v1
kind: ApprovalRoute
metadata: {id: default}
spec:
  rules:
    - {auto_approve: true}
"""
CADENCE = """\
apiVersion: billflow/v1
kind: ReminderCadence
metadata: {id: standard}
spec:
  steps:
    - {offset: 7d, template: overdue}
"""
PEOPLE = [("ana", "designer"), ("kim", "strategist"), ("raj", "developer")]


def load_rules(client_yaml: str, holidays: str | None = None) -> RuleSet:
    """Write a tiny rule set with one client document and load it."""
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        extra = f"  holidays: {holidays}\n" if holidays else ""
        (root / "agency.yaml").write_text(AGENCY.format(holidays=extra), encoding="utf-8")
        (root / "routes.yaml").write_text(AUTO_ROUTE, encoding="utf-8")
        (root / "cadences.yaml").write_text(CADENCE, encoding="utf-8")
        (root / "clients.yaml").write_text(client_yaml, encoding="utf-8")
        return load_ruleset(root)


def client_document(engagements: str, currency: str = "USD", tax: str = "exempt") -> str:
    return (
        "apiVersion: billflow/v1\nkind: Client\nmetadata: {id: acme, name: Acme}\nspec:\n"
        "  account_lead: lee\n  contacts: {billing: [{name: AP, email: ap@acme.example}]}\n"
        f"  currency: {currency}\n  tax: {tax}\n  engagements:\n{engagements}")


def at(day: date, hour: int) -> str:
    """An instant on `day` in New York, written with its UTC offset."""
    offset = "-04:00" if date(2026, 3, 8) <= day < date(2026, 11, 1) else "-05:00"
    return f"{day.isoformat()}T{hour:02d}:00:00{offset}"


def time_event(event_id: str, when: str, project: str, person: str, role: str, day: date,
               hours: Decimal, billable: bool = True, source_id: str | None = None) -> dict:
    payload: dict[str, Any] = {"client": "acme", "project": project, "person": person,
                               "role": role, "date": day.isoformat(), "hours": f"{hours}",
                               "billable": billable}
    if source_id is not None:
        payload["source_id"] = source_id
    return {"id": event_id, "type": "time.approved", "at": when, "payload": payload}


def expense_event(event_id: str, when: str, project: str, day: date, amount: Decimal,
                  currency: str = "USD", billable: bool = True) -> dict:
    return {"id": event_id, "type": "expense.approved", "at": when, "payload": {
        "client": "acme", "project": project, "date": day.isoformat(), "amount": f"{amount}",
        "currency": currency, "description": f"Expense {event_id}", "billable": billable}}


def parsed(events: list[dict]) -> list[Event]:
    return [parse_event(event, f"generated:{n}") for n, event in enumerate(events, start=1)]


def as_json(actions) -> list[dict[str, Any]]:
    return [json.loads(dump_action(action)) for action in actions]


def billed_keys(actions: list[dict[str, Any]]) -> Counter[str]:
    """Count every time entry and expense that a draft bills, by source id (else event id)."""
    billed: Counter[str] = Counter()
    for action in actions:
        if action["type"] == "invoice.drafted":
            supporting = action["payload"]["supporting"]
            for row in supporting["time"] + supporting["expenses"]:
                billed[row.get("source_id", row["event"])] += 1
    return billed


# --------------------------------------------------------------------------- billed exactly once

MONTH_RULES = client_document("""\
    - id: month-end
      model: time_and_materials
      cadence: monthly
      billing_day: last
      rate_card: {default: "100.00", roles: {designer: "120.00"}, people: {kim: "150.00"}}
      increment_minutes: 15
      projects: [p-last]
    - id: mid-month
      model: time_and_materials
      cadence: monthly
      billing_day: 15
      rate_card: {default: "90.00"}
      group_by: entry
      expenses: {markup_percent: "10"}
      projects: [p-mid]
    - id: timesheets
      model: time_and_materials
      cadence: on_approval
      rate_card: {default: "80.00"}
      group_by: person
      projects: [p-flush]
    - id: retainer
      model: retainer
      amount: "1000.00"
      billing_day: 1
      included_hours: 5
      overage_rate: "100.00"
      start: 2026-03-01
      projects: [p-ret]
""")
HOURLY = ["p-last", "p-mid", "p-flush"]
LAST_EVENT_DAY = date(2026, 4, 14)  # before every engagement's last billing day in the range


@dataclass
class Month:
    """A generated month and a half of approvals, in arrival order, and what must be billed."""

    events: list[dict]
    expected: set[str]


@st.composite
def months(draw) -> Month:
    events: list[dict] = []
    expected: set[str] = set()
    entries = draw(st.lists(st.tuples(
        st.sampled_from(HOURLY + ["p-ret"]), st.sampled_from(PEOPLE),
        st.integers(0, (LAST_EVENT_DAY - MARCH).days),      # service date
        st.integers(1, 40),                                  # quarter hours
        st.booleans() | st.just(True),                       # billable (mostly)
        st.integers(0, 4), st.integers(7, 22),               # approved days later, at hour
        st.integers(0, 2),                                   # deliveries of the same event
        st.none() | st.tuples(st.sampled_from(HOURLY), st.integers(1, 40), st.integers(0, 6)),
    ), max_size=25))
    for n, (project, (person, role), offset, quarters, billable, delay, hour, repeats,
            again) in enumerate(entries):
        day = MARCH + timedelta(days=offset)
        approved = min(day + timedelta(days=delay), LAST_EVENT_DAY)
        source = f"h:{n}"
        event = time_event(f"te-{n}", at(approved, hour), project, person, role, day,
                           Decimal(quarters) / 4, billable, source)
        events.extend([event] * (1 + repeats))
        if billable and project in HOURLY:
            expected.add(source)
            if again is not None:
                # A re-approval of the same entry (new hours, maybe another engagement).
                other, hours, later = again
                when = min(approved + timedelta(days=later), LAST_EVENT_DAY)
                events.append(time_event(f"te-{n}-again", at(when, hour), other, person, role,
                                         day, Decimal(hours) / 4, True, source))
    expenses = draw(st.lists(st.tuples(
        st.sampled_from(HOURLY), st.integers(0, (LAST_EVENT_DAY - MARCH).days),
        st.integers(1, 50_000), st.booleans()), max_size=6))
    for n, (project, offset, cents, billable) in enumerate(expenses):
        day = MARCH + timedelta(days=offset)
        events.append(expense_event(f"ex-{n}", at(day, 18), project, day,
                                    Decimal(cents) / 100, billable=billable))
        if billable:
            expected.add(f"ex-{n}")
    return Month(draw(st.permutations(events)), expected)


@PROPERTY_SETTINGS
@given(months())
def test_every_approved_billable_entry_is_billed_exactly_once(month: Month) -> None:
    rules = load_rules(MONTH_RULES)
    # presorted: the events are applied in the shuffled arrival order; a late one is
    # applied at the engine's clock, as the daemon applies a late arrival.
    result = replay(rules, parsed(month.events), MARCH, APRIL_END, presorted=True)
    assert [str(error) for error in result.errors] == []
    billed = billed_keys(as_json(result.actions))
    assert {key: count for key, count in billed.items() if count != 1} == {}
    assert set(billed) == month.expected


# --------------------------------------------------------------------------- retainer periods

YEAR_START, YEAR_END = date(2026, 1, 1), date(2026, 12, 31)
BILLING_DAYS = [str(day) for day in range(1, 32)] + [
    "last", "first_business_day", "last_business_day"]


@dataclass
class RetainerCase:
    billing_day: str
    bill: str
    start: date
    end: date | None
    proration: str
    amount: Decimal
    holidays: str | None
    overage_hours: list[tuple[int, int]]  # (days after start, hours)

    def yaml(self) -> str:
        end = f"      end: {self.end.isoformat()}\n" if self.end else ""
        return client_document(f"""\
    - id: care
      model: retainer
      amount: "{self.amount}"
      billing_day: {self.billing_day}
      bill: {self.bill}
      proration: {self.proration}
      included_hours: 10
      overage_rate: "75.00"
      start: {self.start.isoformat()}
{end}      projects: [p-care]
""")

    def events(self) -> list[dict]:
        found = []
        for n, (offset, hours) in enumerate(self.overage_hours):
            day = min(self.start + timedelta(days=offset), YEAR_END)
            found.append(time_event(f"te-{n}", at(day, 18), "p-care", "ana", "designer", day,
                                    Decimal(hours)))
        return found


@st.composite
def retainers(draw) -> RetainerCase:
    start = date(2025, 10, 1) + timedelta(days=draw(st.integers(0, 395)))
    end = draw(st.none() | st.integers(0, 400).map(lambda n: start + timedelta(days=n)))
    if end is not None and end > date(2026, 11, 30):
        end = date(2026, 11, 30) if start <= date(2026, 11, 30) else None
    return RetainerCase(
        billing_day=draw(st.sampled_from(BILLING_DAYS)),
        bill=draw(st.sampled_from(["in_advance", "in_arrears"])),
        start=start, end=end,
        proration=draw(st.sampled_from(["calendar_days", "none"])),
        amount=Decimal(draw(st.integers(10_000, 2_000_000))) / 100,
        holidays=draw(st.sampled_from([None, "US"])),
        overage_hours=draw(st.lists(st.tuples(st.integers(0, 300), st.integers(1, 12)),
                                    max_size=6)))


def _next(month: tuple[int, int]) -> tuple[int, int]:
    return (month[0] + 1, 1) if month[1] == 12 else (month[0], month[1] + 1)


def expected_periods(case: RetainerCase) -> set[str]:
    """The months whose invoice SPEC §4 says is drafted within the replayed year."""
    calendar = AgencyCalendar("America/New_York", case.holidays)
    found = set()
    month = (case.start.year, case.start.month)
    while month <= (2027, 1):
        first = date(month[0], month[1], 1)
        last = date(month[0], month[1], gregorian.monthrange(*month)[1])
        served_from, served_to = max(first, case.start), min(last, case.end or last)
        if served_from <= served_to:
            if case.bill == "in_arrears":
                drafted = calendar.billing_date(*_next(month), case.billing_day)
            elif served_from > first:
                drafted = served_from   # a partial first period is drafted on the start date
            else:
                # The end is at least a month before the year's end, so drafting a partial
                # last period on its billing day or on its end date lands inside the year alike.
                drafted = calendar.billing_date(*month, case.billing_day)
            if YEAR_START <= drafted <= YEAR_END:
                found.add(f"{month[0]:04d}-{month[1]:02d}")
        month = _next(month)
    return found


def retainer_periods(actions: list[dict[str, Any]]) -> Counter[str]:
    """Count the drafts per period key of the `care` retainer."""
    periods: Counter[str] = Counter()
    for action in actions:
        if action["type"] == "invoice.drafted":
            invoice = action["payload"]["invoice"]
            client, engagement, period = invoice["id"].split("/")
            assert (client, engagement) == ("acme", "care")
            if period.endswith("-overage"):
                continue  # after the end: the last period's overage, not a period of its own
            periods[period] += 1
    return periods


@PROPERTY_SETTINGS
@given(retainers())
def test_a_retainer_yields_exactly_one_invoice_per_period(case: RetainerCase) -> None:
    rules = load_rules(case.yaml(), case.holidays)
    result = replay(rules, parsed(case.events()), YEAR_START, YEAR_END)
    assert [str(error) for error in result.errors] == []
    periods = retainer_periods(as_json(result.actions))
    assert {period: n for period, n in periods.items() if n != 1} == {}
    assert set(periods) == expected_periods(case)


@PROPERTY_SETTINGS
@given(retainers(), st.lists(st.integers(1, 364), max_size=6))
def test_catching_up_after_downtime_drafts_every_missed_period_once(
        case: RetainerCase, outages: list[int]) -> None:
    rules = load_rules(case.yaml(), case.holidays)
    continuous = retainer_periods(as_json(replay(rules, [], YEAR_START, YEAR_END).actions))
    # The same year, but the engine only wakes up on a few days and catches up each time.
    engine = Engine(rules)
    state = engine.new_state(YEAR_START)
    calendar = rules.agency.calendar
    state.clock = calendar.start_of_day(YEAR_START)
    actions = []
    for offset in sorted(set(outages)):
        actions += engine.tick(state, calendar.start_of_day(YEAR_START + timedelta(days=offset)),
                               resumed=True)
    actions += engine.tick(state, calendar.start_of_day(YEAR_END + timedelta(days=1)),
                           resumed=True, inclusive=False)
    assert retainer_periods(as_json(actions)) == continuous


# --------------------------------------------------------------------------- arithmetic

MINOR_UNITS = {"USD": 2, "EUR": 2, "JPY": 0, "BHD": 3}


@dataclass
class Books:
    """A generated client with every billing model, and three months of its events."""

    currency: str
    tax_rate: Decimal | None
    client_yaml: str
    events: list[dict]


def money(draw, currency: str, low: int, high: int) -> Decimal:
    """Draw an amount with the currency's minor units."""
    places = MINOR_UNITS[currency]
    return Decimal(draw(st.integers(low * 10 ** places, high * 10 ** places))).scaleb(-places)


@st.composite
def books(draw) -> Books:
    currency = draw(st.sampled_from(sorted(MINOR_UNITS)))
    tax_rate = draw(st.none() | st.integers(0, 25_000).map(lambda n: Decimal(n).scaleb(-3)))
    tax = "exempt" if tax_rate is None else f'{{rate: "{tax_rate}", label: Tax}}'
    rate = Decimal(draw(st.integers(1, 30_000_000))).scaleb(-draw(st.integers(0, 4)))
    role_rate = Decimal(draw(st.integers(1, 3_000_000))).scaleb(-2)
    cap = money(draw, currency, 1, 20_000)
    cuts = sorted(draw(st.sets(st.integers(1, 9_999), max_size=3)))
    percents = [Decimal(b - a).scaleb(-2) for a, b in zip([0] + cuts, cuts + [10_000])]
    milestones = "".join(f'        - {{id: m{n}, name: Step {n}, percent: "{p}"}}\n'
                         for n, p in enumerate(percents))
    engagements = f"""\
    - id: hourly
      model: time_and_materials
      cadence: monthly
      billing_day: {draw(st.sampled_from(["1", "15", "last", "last_business_day"]))}
      rate_card: {{default: "{rate}", roles: {{designer: "{role_rate}"}}}}
      increment_minutes: {draw(st.sampled_from([0, 6, 15, 20, 30]))}
      group_by: {draw(st.sampled_from(["role", "person", "task", "entry"]))}
      cap: "{cap}"
      cap_policy: {draw(st.sampled_from(["warn", "clamp"]))}
      expenses: {{markup_percent: "{Decimal(draw(st.integers(0, 2500))).scaleb(-2)}"}}
      projects: [p-hourly]
    - id: retainer
      model: retainer
      amount: "{money(draw, currency, 1, 50_000)}"
      billing_day: {draw(st.sampled_from(BILLING_DAYS))}
      bill: {draw(st.sampled_from(["in_advance", "in_arrears"]))}
      included_hours: {draw(st.integers(0, 20))}
      overage_rate: "{Decimal(draw(st.integers(1, 50_000))).scaleb(-2)}"
      start: {(MARCH + timedelta(days=draw(st.integers(0, 40)))).isoformat()}
      projects: [p-retainer]
    - id: project
      model: project_fixed
      fee: "{money(draw, currency, 1, 100_000)}"
      milestones:
{milestones}      projects: [p-project]
"""
    events: list[dict] = []
    for n, (project, (person, role), offset, minutes, task) in enumerate(draw(st.lists(
            st.tuples(st.sampled_from(["p-hourly", "p-retainer"]), st.sampled_from(PEOPLE),
                      st.integers(0, 80), st.integers(1, 600),
                      st.sampled_from(["Design", "Build", None])), max_size=15))):
        day = MARCH + timedelta(days=offset)
        hours = (Decimal(minutes) / 60).quantize(Decimal("0.01"))
        event = time_event(f"te-{n}", at(day, 18), project, person, role, day, hours)
        if task:
            event["payload"]["task"] = task
        events.append(event)
    for n, (project, offset) in enumerate(draw(st.lists(st.tuples(
            st.sampled_from(["p-hourly", "p-retainer", "p-project"]), st.integers(0, 80)),
            max_size=4))):
        day = MARCH + timedelta(days=offset)
        events.append(expense_event(f"ex-{n}", at(day, 19), project, day,
                                    money(draw, currency, 1, 2_000), currency))
    for n, offset in enumerate(draw(st.lists(st.integers(0, 85), max_size=len(percents),
                                             unique=True))):
        day = MARCH + timedelta(days=offset)
        events.append({"id": f"ms-{n}", "type": "milestone.completed", "at": at(day, 12),
                       "payload": {"client": "acme", "engagement": "project",
                                   "milestone": f"m{n}"}})
    return Books(currency, tax_rate, client_document(engagements, currency, tax), events)


def _places(text: str) -> int:
    return len(text.partition(".")[2])


@PROPERTY_SETTINGS
@given(books())
def test_lines_add_up_to_the_subtotal_and_subtotal_plus_tax_to_the_total(case: Books) -> None:
    rules = load_rules(case.client_yaml)
    result = replay(rules, parsed(case.events), MARCH, date(2026, 5, 31))
    assert [str(error) for error in result.errors] == []
    quantum = Decimal(1).scaleb(-MINOR_UNITS[case.currency])
    for action in as_json(result.actions):
        invoice = action["payload"].get("invoice")
        if invoice is None:
            continue
        subtotal, tax, total = (Decimal(invoice[k]) for k in ("subtotal", "tax", "total"))
        for line in invoice["lines"]:
            exact = Decimal(line["quantity"]) * Decimal(line["unit_price"])
            assert Decimal(line["amount"]) == exact.quantize(quantum, rounding=ROUND_HALF_UP), line
        assert sum((Decimal(line["amount"]) for line in invoice["lines"]), Decimal(0)) == subtotal
        rate = case.tax_rate or Decimal(0)
        assert tax == (subtotal * rate / 100).quantize(quantum, rounding=ROUND_HALF_UP)
        assert subtotal + tax == total
        money_fields = [invoice[k] for k in ("subtotal", "tax", "total", "balance")]
        money_fields += [line["amount"] for line in invoice["lines"]]
        assert {_places(m) for m in money_fields} == {MINOR_UNITS[case.currency]}, money_fields


# --------------------------------------------------------------------------- determinism

@PROPERTY_SETTINGS
@given(books(), months())
def test_replaying_the_same_events_twice_is_byte_identical(case: Books, month: Month) -> None:
    for client_yaml, events, end in ((case.client_yaml, case.events, date(2026, 5, 31)),
                                     (MONTH_RULES, month.events, APRIL_END)):
        first = [dump_action(a) for a in replay(load_rules(client_yaml), parsed(events),
                                                MARCH, end).actions]
        second = [dump_action(a) for a in replay(load_rules(client_yaml), parsed(events),
                                                 MARCH, end).actions]
        assert first == second
