"""Time-and-materials lines: entries alike are priced once, and the lines are those that
pricing and adding up every entry one by one gives."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from engine.billing.time_materials import billing_lines, expense_line, rounded_hours
from engine.core.state import Billable
from engine.model.invoice import make_line
from engine.ruleset.types import RateCard, Revision, Source, TimeAndMaterials, frozen_mapping

D = Decimal
SOURCE = Source("clients/acme.yaml", 1)
NAMES = {"ana": "Ana Lima", "bo": "Bo Chen"}
APPROVED = datetime(2026, 3, 2, 9, tzinfo=timezone.utc)
# "150" and "150.00" are the same rate written two ways: the line keeps the first one met.
RATES = RateCard(default=D("120.00"), roles=frozen_mapping({"designer": D("150.00")}),
                 people=frozen_mapping({"bo": D("150")}))


def engagement(group_by: str, increment: int, revised: bool = False) -> TimeAndMaterials:
    revisions = (Revision(date(2026, 2, 15), frozen_mapping(
        {"rate_card": RateCard(D("130.00"), frozen_mapping({}), frozen_mapping({})),
         "increment_minutes": 30, "expense_markup_percent": D("5")}), SOURCE),) if revised else ()
    return TimeAndMaterials(id="web", client="acme", projects=("acme-web",), start=None,
                            end=None, revisions=revisions, source=SOURCE, billing_day=1,
                            rate_card=RATES, increment_minutes=increment, group_by=group_by,
                            expense_markup_percent=D("10"))


def time_entry(n: int, day: date, person: str | None, role: str | None, task: str | None,
               hours: str) -> Billable:
    return Billable(f"h:{n}", f"e{n}", "time", day, "acme-web", person, role, task, D(hours),
                    D(0), f"note {n}" if n % 3 else "", APPROVED)


def expense(n: int, day: date) -> Billable:
    return Billable(f"x:{n}", f"e{n}", "expense", day, "acme-web", None, None, None, D(0),
                    D("12.34") * n, f"taxi {n}", APPROVED)


def one_by_one(terms_of: TimeAndMaterials, entries: list[Billable]) -> tuple:
    """The lines, priced and added up entry by entry in (date, key) order."""
    groups: dict[tuple[str, Decimal, str], Decimal] = {}
    expenses = []
    for entry in sorted(entries, key=lambda e: (e.date, e.key)):
        terms = terms_of.in_force(entry.date)
        if entry.kind == "expense":
            expenses.append(expense_line(entry, terms.expense_markup_percent, "USD"))
            continue
        rate = terms.rate_card.rate_for(entry.person or "", entry.role)
        hours = rounded_hours(entry.hours, terms.increment_minutes)
        person = NAMES.get(entry.person or "", entry.person or "")
        role = (entry.role or "time").replace("_", " ").replace("-", " ").capitalize()
        label = {"person": person, "task": entry.task or "General", "role": role}.get(
            terms.group_by, f"{entry.date.isoformat()} · {person} · {entry.task or role}"
                            f"{': ' + entry.description if entry.description else ''}")
        key = (label, rate, entry.key if terms.group_by == "entry" else "")
        groups[key] = groups.get(key, D(0)) + hours
    return tuple(make_line(label, hours, rate, "USD") for (label, rate, _), hours
                 in sorted(groups.items()) if hours > 0) + tuple(expenses)


def shown(lines: tuple) -> list[tuple[str, str, str, str]]:
    """Lines as written down, with each Decimal as it is held (exponent and all)."""
    return [(line.description, str(line.quantity), str(line.unit_price), str(line.amount))
            for line in lines]


ENTRIES = st.lists(st.tuples(
    st.integers(0, 40), st.sampled_from(["ana", "bo", None]),
    st.sampled_from(["designer", "project_manager", None]),
    st.sampled_from(["Design", "QA", None]),
    st.sampled_from(["1", "1.0", "0.25", "2.5", "0.1", "8", "3.75"]),
    st.booleans()), max_size=40)


@settings(max_examples=150, deadline=None)
@given(entries=ENTRIES, group_by=st.sampled_from(["role", "person", "task", "entry"]),
       increment=st.sampled_from([0, 6, 15]), revised=st.booleans())
def test_lines_are_what_pricing_each_entry_gives(entries, group_by, increment, revised) -> None:
    terms = engagement(group_by, increment, revised)
    items = [expense(n, date(2026, 2, 1) + timedelta(days=offset)) if is_expense else
             time_entry(n, date(2026, 2, 1) + timedelta(days=offset), person, role, task, hours)
             for n, (offset, person, role, task, hours, is_expense) in enumerate(entries)]
    drafted = tuple(sorted(items, key=lambda e: (e.date, e.key)))
    lines, warnings = billing_lines(terms, drafted, date(2026, 4, 1), "USD", NAMES)
    assert shown(lines) == shown(one_by_one(terms, items))
    assert warnings == ()


def test_alike_entries_share_a_line_and_add_up_their_rounded_hours() -> None:
    terms = engagement("role", 15)
    day = date(2026, 2, 3)
    items = (time_entry(1, day, "ana", "designer", "Design", "0.1"),
             time_entry(2, day, "ana", "designer", "QA", "0.1"),
             time_entry(3, day, "bo", "designer", "Design", "0.1"),
             expense(4, day))
    lines, _ = billing_lines(terms, items, date(2026, 3, 1), "USD", NAMES)
    # Each 0.1 h rounds up to 0.25 h; Ana's role rate is 150.00, Bo's own rate is 150.
    assert shown(lines) == [("Designer", "0.75", "150.00", "112.50"),
                            ("Expense 2026-02-03: taxi 4 (incl. 10% handling)", "1", "54.30",
                             "54.30")]
