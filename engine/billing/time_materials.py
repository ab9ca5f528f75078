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
import operator
from collections import Counter
from collections.abc import Mapping, Sequence
from datetime import date
from decimal import ROUND_CEILING, ROUND_HALF_UP, Decimal

from engine.core.state import BILLING_ORDER, Billable
from engine.model.calendar import AgencyCalendar
from engine.model.invoice import Line, make_line
from engine.model.money import display_money, round_money
from engine.billing.periods import Month
from engine.ruleset.types import TimeAndMaterials

__all__ = ["draft_date", "rounded_hours", "billing_lines", "entry_rate", "expense_line",
           "OVER_CAP"]

OVER_CAP = "over_cap"
_SIXTY = Decimal(60)
_HOURS_PLACES = Decimal("0.0001")
_ZERO = Decimal(0)


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


def _by_terms(engagement: TimeAndMaterials,
              entries: Sequence[Billable]) -> list[tuple[TimeAndMaterials, Sequence[Billable]]]:
    """Split `entries` by the values in force on their dates, each part in the given order."""
    if not engagement.revisions:
        return [(engagement, entries)]  # one set of values for every date
    parts: dict[int, tuple[TimeAndMaterials, list[Billable]]] = {}
    terms_on: dict[date, TimeAndMaterials] = {}
    for entry in entries:
        terms = terms_on.get(entry.date)
        if terms is None:
            terms = terms_on[entry.date] = engagement.in_force(entry.date)  # type: ignore[assignment]
            assert isinstance(terms, TimeAndMaterials)
        part = parts.get(id(terms))
        if part is None:
            part = parts[id(terms)] = (terms, [])
        part[1].append(entry)
    return list(parts.values())


def _label(group_by: str, who: tuple[str | None, ...], names: Mapping[str, str]) -> str:
    """Return the label of the line for the time of `who`: (kind, person, role[, task])."""
    if group_by == "person":
        return names.get(who[1] or "", who[1] or "")
    if group_by == "task":
        return who[3] or "General"
    return _role_name(who[2])


def _role_name(role: str | None) -> str:
    return (role or "time").replace("_", " ").replace("-", " ").capitalize()


def _entry_label(entry: Billable, names: Mapping[str, str]) -> str:
    person = names.get(entry.person or "", entry.person or "")
    notes = f": {entry.description}" if entry.description else ""
    return f"{entry.date.isoformat()} · {person} · {entry.task or _role_name(entry.role)}{notes}"


# What bills a time entry on a line not its own: its kind, person and role (which give the
# rate and may give the label), its task when lines are by task, and its hours last
# (Billable's fields at those places).
_ALIKE = operator.itemgetter(2, 5, 6, 8)
_ALIKE_BY_TASK = operator.itemgetter(2, 5, 6, 7, 8)


def billing_lines(engagement: TimeAndMaterials, entries: Sequence[Billable], drafted_on: date,
                  currency: str, names: Mapping[str, str]) -> tuple[tuple[Line, ...], tuple[str, ...]]:
    """Price the entries and expenses; return the lines and any warnings for the approver.

    `entries` come in the order they are drafted: by date, then key.
    """
    # Key: (label, rate, entry key when every entry is its own line, else "").
    groups: dict[tuple[str, Decimal, str], Decimal] = {}
    expenses: list[tuple[Billable, Decimal | None]] = []  # with the markup in force
    for terms, part in _by_terms(engagement, entries):
        if _add_hours(groups, terms, part, names):
            markup = terms.expense_markup_percent
            expenses.extend((item, markup) for item in part if item.kind == "expense")
    expenses.sort(key=lambda pair: BILLING_ORDER(pair[0]))
    time_lines = [make_line(label, hours, rate, currency)
                  for (label, rate, _), hours in sorted(groups.items()) if hours > 0]
    lines = tuple(time_lines) + tuple(expense_line(item, markup, currency)
                                      for item, markup in expenses)
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


def _add_hours(groups: dict[tuple[str, Decimal, str], Decimal], terms: TimeAndMaterials,
               entries: Sequence[Billable], names: Mapping[str, str]) -> bool:
    """Add the billed hours of the time entries to their lines; tell whether any expense
    is among `entries`."""
    if terms.group_by == "entry":
        for entry in entries:
            if entry.kind != "expense":
                rate, hours = _price(terms, entry.person, entry.role, entry.hours)
                key = (_entry_label(entry, names), rate, entry.key)
                groups[key] = groups.get(key, _ZERO) + hours
        return True
    # An invoice's entries share a few people, roles, tasks and hour values: the entries
    # alike in all of them are rounded once and bill their hours times their number, then
    # each person, role (and task) is labelled and priced once; all in the order each first
    # appears, as adding the entries one by one would.
    group_by = terms.group_by
    alike = Counter(map(_ALIKE_BY_TASK if group_by == "task" else _ALIKE, entries))
    billed: dict[tuple[str | None, ...], Decimal] = {}
    increment = terms.increment_minutes
    expenses = False
    for combination, count in alike.items():
        if combination[0] == "expense":
            expenses = True
            continue
        who = combination[:-1]
        billed[who] = billed.get(who, _ZERO) + rounded_hours(combination[-1], increment) * count
    for who, hours in billed.items():
        key = (_label(group_by, who, names), entry_rate(terms, who[1], who[2]), "")
        groups[key] = groups.get(key, _ZERO) + hours
    return expenses


def entry_rate(terms: TimeAndMaterials, person: str | None, role: str | None) -> Decimal:
    """Return the hourly rate of a time entry by these values: the person's, else the
    role's, else the default."""
    assert terms.rate_card is not None
    return terms.rate_card.rate_for(person or "", role)


def _price(terms: TimeAndMaterials, person: str | None, role: str | None,
           hours: Decimal) -> tuple[Decimal, Decimal]:
    return entry_rate(terms, person, role), rounded_hours(hours, terms.increment_minutes)
