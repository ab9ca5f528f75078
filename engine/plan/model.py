"""What a plan found: frozen values the renderers read, and nothing else computes.

Actions are compared by their deterministic ids. The values kept here are the actions'
JSON forms (`Action.as_json`), so money stays in its contract strings.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any, Literal, Mapping

__all__ = [
    "CATEGORIES", "Change", "FieldChange", "ActionChange", "LineChange", "InvoiceChange",
    "ClientPlan", "Tally", "Billed", "Side", "Plan",
]

Change = Literal["added", "removed", "changed", "renumbered", "unchanged"]
# The rows of the summary, in order; "invoices" and "late fees" count invoices, the others
# count actions.
CATEGORIES = ("invoices", "late fees", "approvals", "reminders", "escalations", "payments")


@dataclass(frozen=True)
class FieldChange:
    """One value that differs: an action's time or a payload field, or an invoice field."""

    name: str
    old: Any
    new: Any


@dataclass(frozen=True)
class ActionChange:
    """One action id whose decision differs between base and head."""

    change: Change                   # added | removed | changed | renumbered
    id: str
    type: str
    old: Mapping[str, Any] | None    # the action's JSON form on each side
    new: Mapping[str, Any] | None
    fields: tuple[FieldChange, ...] = ()  # what differs beside the invoice it carries
    carries_changed_invoice: bool = False

    @property
    def at(self) -> datetime:
        """Return when the action happens (under the head rules when it still does)."""
        body = self.new if self.new is not None else self.old
        assert body is not None
        return datetime.fromisoformat(body["at"])

    @property
    def instants(self) -> tuple[datetime, ...]:
        """Return every time this action is at, on either side."""
        return tuple(datetime.fromisoformat(body["at"]) for body in (self.old, self.new)
                     if body is not None)


@dataclass(frozen=True)
class LineChange:
    """An invoice line only one side bills: `-` on the base, `+` on the head."""

    sign: Literal["-", "+"]
    line: Mapping[str, str]


@dataclass(frozen=True)
class InvoiceChange:
    """One invoice whose billing, numbering or actions differ; old/new as billed."""

    id: str
    client: str
    change: Change
    old: Mapping[str, Any] | None
    new: Mapping[str, Any] | None
    late_fee: bool
    lines: tuple[LineChange, ...] = ()
    fields: tuple[FieldChange, ...] = ()
    actions: tuple[ActionChange, ...] = ()

    @property
    def currency(self) -> str:
        body = self.new if self.new is not None else self.old
        assert body is not None
        return str(body["currency"])

    @property
    def total_change(self) -> Decimal:
        """Return new total − old total (a side without the invoice counts as zero)."""
        return _total(self.new) - _total(self.old)


def _total(invoice: Mapping[str, Any] | None) -> Decimal:
    return Decimal(invoice["total"]) if invoice is not None else Decimal(0)


@dataclass(frozen=True)
class ClientPlan:
    """A client's changed invoices (in time order) and changed payments."""

    client: str                      # "" for payments nobody could attribute
    invoices: tuple[InvoiceChange, ...]
    payments: tuple[ActionChange, ...]


@dataclass(frozen=True)
class Tally:
    """How many of a category the change adds, removes and alters."""

    added: int = 0
    removed: int = 0
    changed: int = 0

    @property
    def any(self) -> bool:
        return bool(self.added or self.removed or self.changed)


@dataclass(frozen=True)
class Billed:
    """Issued, not voided, invoice totals in one currency on each side."""

    currency: str
    old: Decimal
    new: Decimal

    @property
    def change(self) -> Decimal:
        return self.new - self.old


@dataclass(frozen=True)
class Side:
    """One rule set of the plan, as people should read its name."""

    label: str
    rules_version: str
    start: date


@dataclass(frozen=True)
class Plan:
    """Everything `billflow plan` reports, side by side."""

    base: Side
    head: Side
    events_source: str
    events_count: int
    until: date
    tallies: Mapping[str, Tally]
    renumbered: int
    billed: tuple[Billed, ...]
    earliest_change: date | None
    clients: tuple[ClientPlan, ...]
    newly_rejected: tuple[str, ...] = ()
    no_longer_rejected: tuple[str, ...] = ()
    rejected_on_both: tuple[str, ...] = ()

    @property
    def has_changes(self) -> bool:
        return bool(self.clients or self.newly_rejected or self.no_longer_rejected
                    or self.renumbered or any(t.any for t in self.tallies.values()))
