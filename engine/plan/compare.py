"""Compare two action streams by action id: what the head rules add, remove and alter.

Only what a decision *does* is compared: its type, time, client and payload. Where it
came from (`rule`, `rules_version`, `cause`) is left out, so moving a rule, adding a
comment or a client that bills nothing plans as no change. An action whose only
difference is an invoice number is "renumbered": numbers are given in issue order, so a
change that issues one invoice earlier or later shifts the numbers after it.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from engine.model.calendar import AgencyCalendar
from engine.plan.model import (
    CATEGORIES, ActionChange, Billed, ClientPlan, FieldChange, InvoiceChange, LineChange, Tally,
)

__all__ = ["ActionStreams", "Comparison", "compare_actions", "ACTION_CATEGORY"]

Body = Mapping[str, Any]

ACTION_CATEGORY = {
    "approval.requested": "approvals", "approval.reminded": "approvals",
    "approval.escalated": "approvals", "reminder.sent": "reminders",
    "escalation.triggered": "escalations", "payment.applied": "payments",
    "payment.unmatched": "payments",
}
# Where an action came from, not what it does.
_PROVENANCE = ("id", "rule", "rules_version", "cause")
# Invoice fields shown as field changes; lines and the total have their own display.
_INVOICE_FIELDS = ("status", "currency", "tax", "period", "issue_date", "due_date", "warnings")


@dataclass(frozen=True)
class ActionStreams:
    """The two sides' actions as JSON forms, each in time order."""

    old: Sequence[Body]
    new: Sequence[Body]


@dataclass(frozen=True)
class Comparison:
    """The parts of a plan that come from comparing the actions."""

    clients: tuple[ClientPlan, ...]
    tallies: Mapping[str, Tally]
    renumbered: int
    billed: tuple[Billed, ...]
    earliest_change: date | None


# A payment's reference echoes the number its client cited (see engine.plan.references).
_NUMBER = frozenset({"number", "reference"})
_NUMBER_AND_BALANCE = frozenset({"number", "reference", "balance"})
_TOKEN = re.compile(r"[A-Za-z0-9][A-Za-z0-9\-_/.]*[A-Za-z0-9]")


@dataclass(frozen=True)
class _Numbering:
    """One side's invoice numbers, to read values without them (number -> invoice id)."""

    ids: Mapping[str, str]

    def neutral(self, value: Any, dropped: frozenset[str] = _NUMBER) -> Any:
        """Return `value` without number fields, a number in any text read as its invoice id."""
        if isinstance(value, Mapping):
            return {k: self.neutral(v, dropped) for k, v in value.items() if k not in dropped}
        if isinstance(value, list):
            return [self.neutral(item, dropped) for item in value]
        if isinstance(value, str) and self.ids:
            return _TOKEN.sub(lambda m: self.ids.get(m.group(0), m.group(0)), value)
        return value


def _decision(body: Body) -> dict[str, Any]:
    return {key: value for key, value in body.items() if key not in _PROVENANCE}


def _invoice_of(body: Body) -> Mapping[str, Any] | None:
    invoice = body["payload"].get("invoice")
    return invoice if isinstance(invoice, Mapping) else None


def _supporting_change(old: Any, new: Any) -> FieldChange:
    def rows(value: Any) -> dict[str, Any]:
        table = value if isinstance(value, Mapping) else {}
        return {f"{kind}:{row.get('event', index)}": row for kind in sorted(table)
                for index, row in enumerate(table[kind])}

    before, after = rows(old), rows(new)
    differing = sum(1 for key in before.keys() & after.keys() if before[key] != after[key])
    shown = f"{len(after)} rows" + (f", {differing} with other values" if differing else "")
    return FieldChange("supporting", f"{len(before)} rows", shown)


def _action_fields(old: Body, new: Body, was_n: _Numbering,
                   now_n: _Numbering) -> tuple[tuple[FieldChange, ...], bool]:
    """Return what differs beside the invoice carried, and whether that invoice differs.

    When the invoice carried differs, its balance and supporting rows differ with it and
    are not repeated as fields.
    """
    fields: list[FieldChange] = []
    for key in ("at", "client"):
        if old.get(key) != new.get(key):
            fields.append(FieldChange(key, old.get(key), new.get(key)))
    before, after = old["payload"], new["payload"]
    was_invoice, now_invoice = before.get("invoice"), after.get("invoice")
    changed_invoice = (isinstance(was_invoice, Mapping) and isinstance(now_invoice, Mapping)
                       and was_n.neutral(was_invoice, _NUMBER_AND_BALANCE)
                       != now_n.neutral(now_invoice, _NUMBER_AND_BALANCE))
    for key in dict.fromkeys([*before, *after]):
        was, now = before.get(key), after.get(key)
        if was_n.neutral(was) == now_n.neutral(now):
            continue
        if key == "invoice" and isinstance(was, Mapping) and isinstance(now, Mapping):
            if not changed_invoice and "balance" not in after:
                fields.append(FieldChange("invoice balance", was.get("balance"),
                                          now.get("balance")))
        elif key == "supporting":
            if not changed_invoice:
                fields.append(_supporting_change(was, now))
        else:
            fields.append(FieldChange(key, was, now))
    return tuple(fields), changed_invoice


def _action_change(old: Body | None, new: Body | None, was_n: _Numbering,
                   now_n: _Numbering) -> ActionChange | None:
    body = new if new is not None else old
    assert body is not None
    if old is None or new is None:
        return ActionChange("added" if old is None else "removed", body["id"], body["type"],
                            old, new)
    before, after = _decision(old), _decision(new)
    if before == after:
        return None
    if was_n.neutral(before) == now_n.neutral(after):
        return ActionChange("renumbered", body["id"], body["type"], old, new)
    fields, changed_invoice = _action_fields(old, new, was_n, now_n)
    return ActionChange("changed", body["id"], body["type"], old, new, fields, changed_invoice)


@dataclass
class _InvoiceTrail:
    """One side's view of an invoice: every snapshot the actions carried, in order."""

    first_at: datetime
    latest: Mapping[str, Any]
    issued: Mapping[str, Any] | None = None
    late_fee: bool = False

    def billed(self) -> dict[str, Any]:
        """Return the invoice as issued (as drafted, if never issued), with its last status."""
        form = dict(self.issued if self.issued is not None else self.latest)
        form["status"] = self.latest["status"]
        return form


def _trails(actions: Iterable[Body]) -> dict[str, _InvoiceTrail]:
    trails: dict[str, _InvoiceTrail] = {}
    for body in actions:
        invoice = _invoice_of(body)
        if invoice is None:
            continue
        at = datetime.fromisoformat(body["at"])
        trail = trails.get(invoice["id"])
        if trail is None:
            trail = trails[invoice["id"]] = _InvoiceTrail(at, invoice)
        trail.latest = invoice
        if body["type"] == "invoice.issued":
            trail.issued = invoice
        if body["type"] == "invoice.drafted" and body["payload"].get("trigger") == "late_fee":
            trail.late_fee = True
    return trails


def _line_key(line: Mapping[str, Any], numbering: _Numbering) -> tuple[str, ...]:
    return tuple(str(numbering.neutral(line.get(key))) for key in
                 ("description", "quantity", "unit_price", "amount"))


def _line_changes(old: Sequence[Mapping[str, Any]], new: Sequence[Mapping[str, Any]],
                  was_n: _Numbering, now_n: _Numbering) -> tuple[LineChange, ...]:
    matcher = difflib.SequenceMatcher(None, [_line_key(x, was_n) for x in old],
                                      [_line_key(x, now_n) for x in new], autojunk=False)
    changes: list[LineChange] = []
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag == "equal":
            continue
        changes.extend(LineChange("-", line) for line in old[i1:i2])
        changes.extend(LineChange("+", line) for line in new[j1:j2])
    return tuple(changes)


def _invoice_change(invoice_id: str, old: _InvoiceTrail | None, new: _InvoiceTrail | None,
                    actions: list[ActionChange], was_n: _Numbering,
                    now_n: _Numbering) -> InvoiceChange | None:
    before = old.billed() if old is not None else None
    after = new.billed() if new is not None else None
    body = after if after is not None else before
    assert body is not None
    late_fee = bool((old and old.late_fee) or (new and new.late_fee))
    shown = tuple(a for a in actions if a.change != "renumbered")
    if before is None or after is None:
        change = "added" if before is None else "removed"
        return InvoiceChange(invoice_id, body["client"], change, before, after, late_fee,
                             actions=shown)
    lines = _line_changes(before.get("lines", []), after.get("lines", []), was_n, now_n)
    fields = tuple(FieldChange(key, before.get(key), after.get(key)) for key in _INVOICE_FIELDS
                   if was_n.neutral(before.get(key)) != now_n.neutral(after.get(key)))
    if lines or fields or before.get("total") != after.get("total"):
        change = "changed"
    elif before.get("number") != after.get("number"):
        change = "renumbered"
    elif shown:
        change = "unchanged"
    else:
        return None
    return InvoiceChange(invoice_id, body["client"], change, before, after, late_fee,
                         lines, fields, shown)


def _numbering(trails: Mapping[str, _InvoiceTrail]) -> _Numbering:
    return _Numbering({trail.issued["number"]: invoice_id for invoice_id, trail in trails.items()
                       if trail.issued is not None and trail.issued.get("number")})


def _billed(trails: Mapping[str, _InvoiceTrail]) -> dict[str, Decimal]:
    sums: dict[str, Decimal] = {}
    for trail in trails.values():
        if trail.issued is not None and trail.latest["status"] != "voided":
            currency = trail.issued["currency"]
            sums[currency] = sums.get(currency, Decimal(0)) + Decimal(trail.issued["total"])
    return sums


@dataclass
class _Client:
    invoices: list[tuple[datetime, InvoiceChange]] = field(default_factory=list)
    payments: list[ActionChange] = field(default_factory=list)


def _tallies(invoices: Iterable[InvoiceChange], actions: Iterable[ActionChange]) -> dict[str, Tally]:
    counts: dict[str, dict[str, int]] = {}
    for invoice in invoices:
        category = "late fees" if invoice.late_fee else "invoices"
        row = counts.setdefault(category, {})
        row[invoice.change] = row.get(invoice.change, 0) + 1
    for action in actions:
        category = ACTION_CATEGORY.get(action.type)
        if category is not None:
            row = counts.setdefault(category, {})
            row[action.change] = row.get(action.change, 0) + 1
    return {name: Tally(counts.get(name, {}).get("added", 0),
                        counts.get(name, {}).get("removed", 0),
                        counts.get(name, {}).get("changed", 0)) for name in CATEGORIES}


def compare_actions(streams: ActionStreams, calendar: AgencyCalendar) -> Comparison:
    """Compare the base's and the head's actions; dates are read in the agency's zone."""
    old_by_id = {body["id"]: body for body in streams.old}
    new_by_id = {body["id"]: body for body in streams.new}
    old_trails, new_trails = _trails(streams.old), _trails(streams.new)
    was_n, now_n = _numbering(old_trails), _numbering(new_trails)
    position = {i: n for n, i in enumerate(dict.fromkeys([*new_by_id, *old_by_id]))}
    changes = [change for change in (_action_change(old_by_id.get(i), new_by_id.get(i),
                                                    was_n, now_n)
                                     for i in position)
               if change is not None]

    def in_time_order(action: ActionChange) -> tuple[datetime, int]:
        return action.at, position[action.id]

    old_trails, new_trails = _trails(streams.old), _trails(streams.new)
    by_invoice: dict[str, list[ActionChange]] = {}
    clients: dict[str, _Client] = {}
    for change in changes:
        body = change.new if change.new is not None else change.old
        assert body is not None
        invoice = _invoice_of(body)
        if invoice is not None:
            by_invoice.setdefault(invoice["id"], []).append(change)
        elif change.change != "renumbered":
            clients.setdefault(body.get("client") or "", _Client()).payments.append(change)
    invoice_changes: list[InvoiceChange] = []
    for invoice_id in dict.fromkeys([*old_trails, *new_trails]):
        old, new = old_trails.get(invoice_id), new_trails.get(invoice_id)
        actions = sorted(by_invoice.get(invoice_id, []), key=in_time_order)
        found = _invoice_change(invoice_id, old, new, actions, was_n, now_n)
        if found is not None:
            first = min(trail.first_at for trail in (old, new) if trail is not None)
            clients.setdefault(found.client, _Client()).invoices.append((first, found))
            invoice_changes.append(found)
    old_billed, new_billed = _billed(old_trails), _billed(new_trails)
    billed = tuple(Billed(currency, old_billed.get(currency, Decimal(0)),
                          new_billed.get(currency, Decimal(0)))
                   for currency in sorted(old_billed.keys() | new_billed.keys()))
    days = [calendar.local_date(instant) for change in changes for instant in change.instants]
    return Comparison(
        clients=tuple(
            ClientPlan(name, tuple(inv for _, inv in sorted(entry.invoices,
                                                            key=lambda p: (p[0], p[1].id))),
                       tuple(sorted(entry.payments, key=in_time_order)))
            for name, entry in sorted(clients.items(), key=lambda item: (item[0] == "", item[0]))),
        tallies=_tallies(invoice_changes, (c for c in changes if c.type in ACTION_CATEGORY)),
        renumbered=sum(1 for inv in invoice_changes if inv.change == "renumbered"),
        billed=billed,
        earliest_change=min(days, default=None),
    )
