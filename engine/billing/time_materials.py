"""Time and materials: approved hours at the rate card, expenses with markup, a cap.

- Each entry is priced with the values in force on its service date: the rate is the
  person's, else their role's, else the default; its hours are rounded up to
  `increment_minutes` (0 = exact) before grouping.
- Lines group entries by role, person, task, or not at all (`entry`); entries with
  different rates never share a line.
- An expense is billed at cost × (1 + markup%).
- Over the `cap`: `warn` leaves the amount and warns the approver; `clamp` bills up to the
  cap and writes the rest off on a visible line.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Mapping
from datetime import date
from decimal import ROUND_CEILING, ROUND_HALF_UP, Decimal

from engine.core.state import BILLING_ORDER, Billable
from engine.model.calendar import AgencyCalendar
from engine.model.invoice import Line, make_line
from engine.model.money import display_money, round_money
from engine.billing.periods import Month
from engine.ruleset.types import TimeAndMaterials

__all__ = ["draft_date", "rounded_hours", "billing_lines", "entry_pricing", "expense_line",
           "OVER_CAP"]

OVER_CAP = "over_cap"
_SIXTY = Decimal(60)
_HOURS_PLACES = Decimal("0.0001")


def draft_date(engagement: TimeAndMaterials, calendar: AgencyCalendar, month: Month) -> date:
    """Return the monthly billing day of `month` (values in force on the month's first day)."""
    terms = engagement.in_force(date(month[0], month[1], 1))
    assert isinstance(terms, TimeAndMaterials) and terms.billing_day is not None
    return calendar.billing_date(month[0], month[1], terms.billing_day)


@functools.lru_cache(maxsize=8192)  # the same few hour values recur in every timesheet
def rounded_hours(hours: Decimal, increment_minutes: int) -> Decimal:
    """Round hours up to the increment, in minutes; 0 leaves them exact."""
    if increment_minutes <= 0:
        return hours
    steps = (hours * _SIXTY / increment_minutes).to_integral_value(rounding=ROUND_CEILING)
    minutes = steps * increment_minutes
    return (minutes / _SIXTY).quantize(_HOURS_PLACES, rounding=ROUND_HALF_UP).normalize()


def expense_line(expense: Billable, markup: Decimal | None, currency: str) -> Line:
    """Return the line for one expense: cost × (1 + markup%), rounded half-up."""
    price = round_money(expense.amount * (1 + (markup or Decimal(0)) / 100), currency)
    note = f" (incl. {markup.normalize():f}% handling)" if markup else ""
    return make_line(f"Expense {expense.date.isoformat()}: {expense.description}{note}",
                     Decimal(1), price, currency)


def entry_pricing(engagement: TimeAndMaterials, entry: Billable) -> tuple[Decimal, Decimal]:
    """Return (rate, billed hours) of one time entry, by the values in force on its date."""
    terms = engagement.in_force(entry.date)
    assert isinstance(terms, TimeAndMaterials)
    return _price(terms, entry)


def _label(group_by: str, entry: Billable, names: Mapping[str, str]) -> str:
    person = names.get(entry.person or "", entry.person or "")
    role = (entry.role or "time").replace("_", " ").replace("-", " ").capitalize()
    if group_by == "person":
        return person
    if group_by == "task":
        return entry.task or "General"
    if group_by == "entry":
        what = entry.task or role
        notes = f": {entry.description}" if entry.description else ""
        return f"{entry.date.isoformat()} · {person} · {what}{notes}"
    return role


def billing_lines(engagement: TimeAndMaterials, entries: Iterable[Billable], drafted_on: date,
                  currency: str, names: Mapping[str, str]) -> tuple[tuple[Line, ...], tuple[str, ...]]:
    """Price the entries and expenses; return the lines and any warnings for the approver."""
    # Key: (label, rate, entry key when every entry is its own line, else "").
    groups: dict[tuple[str, Decimal, str], Decimal] = {}
    expenses: list[Line] = []
    # An invoice's entries share a few dates, people, roles and hour values: each distinct
    # combination is priced and labelled once (the terms objects live as long as the rules).
    terms_on: dict[date, TimeAndMaterials] = {}
    priced: dict[tuple[int, str | None, str | None, str | None, Decimal],
                 tuple[str, Decimal, Decimal]] = {}
    in_force = engagement.in_force
    for entry in sorted(entries, key=BILLING_ORDER):
        terms = terms_on.get(entry.date)
        if terms is None:
            terms = terms_on[entry.date] = in_force(entry.date)  # type: ignore[assignment]
            assert isinstance(terms, TimeAndMaterials)
        if entry.kind == "expense":
            expenses.append(expense_line(entry, terms.expense_markup_percent, currency))
            continue
        if terms.group_by == "entry":
            rate, hours = _price(terms, entry)
            key = (_label("entry", entry, names), rate, entry.key)
        else:
            combination = (id(terms), entry.person, entry.role, entry.task, entry.hours)
            found = priced.get(combination)
            if found is None:
                rate, hours = _price(terms, entry)
                found = priced[combination] = (_label(terms.group_by, entry, names), rate, hours)
            label, rate, hours = found
            key = (label, rate, "")
        groups[key] = groups.get(key, Decimal(0)) + hours
    time_lines = [make_line(label, hours, rate, currency)
                  for (label, rate, _), hours in sorted(groups.items()) if hours > 0]
    lines = tuple(time_lines + expenses)
    terms = engagement.in_force(drafted_on)  # type: ignore[assignment]
    assert isinstance(terms, TimeAndMaterials)
    subtotal = sum((line.amount for line in lines), Decimal(0))
    if terms.cap is None or subtotal <= terms.cap:
        return lines, ()
    if terms.cap_policy == "clamp":
        excess = subtotal - terms.cap
        writeoff = make_line(f"Above the not-to-exceed cap of {display_money(terms.cap, currency)} "
                             "— written off", Decimal(1), -excess, currency)
        return lines + (writeoff,), ()
    return lines, (OVER_CAP,)


def _price(terms: TimeAndMaterials, entry: Billable) -> tuple[Decimal, Decimal]:
    assert terms.rate_card is not None
    return (terms.rate_card.rate_for(entry.person or "", entry.role),
            rounded_hours(entry.hours, terms.increment_minutes))
