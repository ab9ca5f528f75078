"""An amount in one currency: what every read model shows instead of a bare Decimal."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from engine.model.money import display_money, format_money

__all__ = ["Money"]


@dataclass(frozen=True)
class Money:
    """`amount` in `currency`; rendered in the currency's minor units, never as a float."""

    amount: Decimal
    currency: str

    @property
    def text(self) -> str:
        """The contract's decimal string: "1234.50", JPY "1235"."""
        return format_money(self.amount, self.currency)

    @property
    def display(self) -> str:
        """For people: "1,234.50 USD"."""
        return f"{display_money(self.amount, self.currency)} {self.currency}"

    def __str__(self) -> str:
        return self.display
