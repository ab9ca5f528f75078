"""Invoices and their lines: the arithmetic of SPEC §4 in one place.

Each line's amount is quantity × unit price rounded half-up to the currency's minor
units; the subtotal is the sum of the lines; tax is subtotal × rate rounded half-up
once per invoice; total = subtotal + tax. Invoices are immutable values: a status
change or a payment makes a new Invoice.
"""

from __future__ import annotations

import dataclasses
import functools
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any, Literal

from engine.model.money import format_money, percent_of, round_money

__all__ = ["Line", "Invoice", "InvoiceStatus", "make_line", "price_invoice", "format_quantity"]

InvoiceStatus = Literal["draft", "awaiting_approval", "flagged", "issued", "paid", "voided"]
OPEN_STATUSES = frozenset({"issued"})
_ZERO = Decimal(0)


@dataclass(frozen=True, slots=True)
class Line:
    """One invoice line; `amount` is already rounded to the currency.

    Slotted: an invoice kept for years holds a few of them, and a slotted line is 64 bytes
    (its values apart) where one with an instance dict is about 350.
    """

    description: str
    quantity: Decimal
    unit_price: Decimal
    amount: Decimal

    def as_json(self, currency: str) -> dict[str, str]:
        """Return the line object of SPEC §3. An invoice renders its lines once, and the
        copies a status change makes share that rendering (Invoice.replace)."""
        return {
            "description": self.description,
            "quantity": format_quantity(self.quantity),
            "unit_price": format_unit_price(self.unit_price, currency),
            "amount": format_money(self.amount, currency),
        }


def format_quantity(quantity: Decimal) -> str:
    """Render a quantity without float noise or trailing zeros beyond two places."""
    text = format(quantity.normalize(), "f")
    if "." not in text:
        return text
    whole, frac = text.split(".")
    return f"{whole}.{frac.ljust(2, '0')}"


@functools.lru_cache(maxsize=4096, typed=True)  # the same few rates and fees recur
def format_unit_price(price: Decimal, currency: str) -> str:
    """Render a unit price with at least the currency's minor units, more if it has them."""
    rounded = round_money(price, currency)
    if rounded == price:
        return format(rounded, "f")  # as format_money writes it
    return format(price.normalize(), "f")


def make_line(description: str, quantity: Decimal, unit_price: Decimal, currency: str) -> Line:
    """Build a line whose amount is quantity × unit price, rounded half-up."""
    return Line(description, quantity, unit_price, round_money(quantity * unit_price, currency))


def price_invoice(lines: tuple[Line, ...], tax_rate: Decimal | None,
                  currency: str) -> tuple[Decimal, Decimal, Decimal]:
    """Return (subtotal, tax, total) for the lines: tax is rounded once, on the subtotal."""
    subtotal = sum((line.amount for line in lines), _ZERO)
    tax = percent_of(subtotal, tax_rate, currency) if tax_rate else round_money(_ZERO, currency)
    return subtotal, tax, subtotal + tax


@dataclass(frozen=True, slots=True)
class Invoice:
    """An invoice from draft to paid; `id` is deterministic: client/engagement/period.

    Slotted: the state keeps every invoice for years. `_rendering` caches the invoice
    object of SPEC §3 (not a field of the invoice: it is neither compared nor stored).
    """

    id: str
    client: str
    engagement: str
    currency: str
    lines: tuple[Line, ...]
    subtotal: Decimal
    tax: Decimal
    total: Decimal
    balance: Decimal
    status: InvoiceStatus = "draft"
    number: str | None = None
    period_start: date | None = None
    period_end: date | None = None
    issue_date: date | None = None
    due_date: date | None = None
    tax_rate: Decimal | None = None
    tax_label: str | None = None
    trigger: str = ""
    warnings: tuple[str, ...] = ()
    revision: int = 1
    _rendering: dict[str, Any] | None = field(default=None, init=False, repr=False,
                                              compare=False)

    @classmethod
    def draft(cls, *, id: str, client: str, engagement: str, currency: str,
              lines: tuple[Line, ...], tax_rate: Decimal | None, tax_label: str | None,
              trigger: str, period_start: date | None = None, period_end: date | None = None,
              warnings: tuple[str, ...] = ()) -> "Invoice":
        """Price `lines` and return a new draft."""
        subtotal, tax, total = price_invoice(lines, tax_rate, currency)
        return cls(id=id, client=client, engagement=engagement, currency=currency, lines=lines,
                   subtotal=subtotal, tax=tax, total=total, balance=total,
                   period_start=period_start, period_end=period_end, tax_rate=tax_rate,
                   tax_label=tax_label, trigger=trigger, warnings=warnings)

    def with_lines(self, lines: tuple[Line, ...]) -> "Invoice":
        """Return this draft repriced with new lines, as a new revision."""
        subtotal, tax, total = price_invoice(lines, self.tax_rate, self.currency)
        return dataclasses.replace(self, lines=lines, subtotal=subtotal, tax=tax, total=total,
                                   balance=total, revision=self.revision + 1)

    def replace(self, **changes: Any) -> "Invoice":
        """Return a copy with `changes` (as dataclasses.replace, without its overhead)."""
        unknown = changes.keys() - _INVOICE_FIELDS
        if unknown:
            raise TypeError(f"Invoice has no field {sorted(unknown)[0]!r}")
        copy = object.__new__(type(self))
        for name in _FIELD_ORDER:
            _set(copy, name, changes[name] if name in changes else getattr(self, name))
        shown = self._rendering
        if shown is not None and changes.keys() <= _STATUS_FIELDS:
            # Numbered, dated, paid down: the copy shows as this invoice did but for the
            # changed values, so its lines and amounts need not be written out again (the
            # two renderings share their lines, which no caller changes).
            body = dict(shown)
            for name in changes:
                body[name] = copy._shown(name)
            _set(copy, "_rendering", body)
        else:
            _set(copy, "_rendering", None)
        return copy

    def forget_rendering(self) -> None:
        """Drop the JSON cached for this invoice: a settled invoice stays in the state for
        reports, but is rarely shown again (it is rebuilt if it is)."""
        _set(self, "_rendering", None)

    @property
    def is_open(self) -> bool:
        """Tell whether the client still owes on this invoice."""
        return self.status == "issued" and self.balance > _ZERO

    def as_json(self) -> dict[str, Any]:
        """Return the invoice object of SPEC §3, all money as decimal strings.

        Computed once per (immutable) invoice and shared by every action that carries it:
        callers must not change it.
        """
        body = self._rendering
        if body is None:
            body = self._render()
            _set(self, "_rendering", body)
        return body

    def _render(self) -> dict[str, Any]:
        money = self.currency
        body: dict[str, Any] = {
            "id": self.id,
            "number": self.number,
            "status": self.status,
            "client": self.client,
            "engagement": self.engagement,
            "currency": self.currency,
            "lines": [line.as_json(money) for line in self.lines],
            "subtotal": format_money(self.subtotal, money),
            "tax": format_money(self.tax, money),
            "total": format_money(self.total, money),
        }
        # Until a payment, the balance is the total (and shows as it does).
        body["balance"] = body["total"] if self.balance == self.total else self._shown("balance")
        if self.period_start is not None and self.period_end is not None:
            body["period"] = {"start": self.period_start.isoformat(),
                              "end": self.period_end.isoformat()}
        body["issue_date"] = self._shown("issue_date")
        body["due_date"] = self._shown("due_date")
        if self.warnings:
            body["warnings"] = list(self.warnings)
        return body

    def _shown(self, name: str) -> Any:
        """Return how the invoice object shows one of the fields a status change sets."""
        value = getattr(self, name)
        if name == "balance":
            return format_money(value, self.currency)
        if name in ("issue_date", "due_date"):
            return value.isoformat() if value else None
        return value


_FIELD_ORDER = tuple(each.name for each in dataclasses.fields(Invoice) if each.init)
_INVOICE_FIELDS = frozenset(_FIELD_ORDER)
_set = object.__setattr__  # a frozen dataclass's own way to set a slot
# What issuing, paying and voiding change: the invoice object shows each under its own name,
# in a place that does not depend on its value.
_STATUS_FIELDS = frozenset({"status", "number", "issue_date", "due_date", "balance"})
