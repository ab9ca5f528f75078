"""Payment terms (`net_N`, `due_on_receipt`, `eom_N`) and the due date they give."""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Literal, get_args

__all__ = ["PaymentTerms", "TermsKind", "MAX_TERM_DAYS", "parse_payment_terms"]

TermsKind = Literal["net", "due_on_receipt", "eom"]

# A year is longer than any terms an agency grants; "net_300" is far likelier a typo for net_30.
MAX_TERM_DAYS = 365

_KINDS: tuple[str, ...] = get_args(TermsKind)
_TEXT = re.compile(r"(net|eom)_([0-9]+)")
_HINT = "write net_N, due_on_receipt or eom_N"


@dataclass(frozen=True)
class PaymentTerms:
    """When an invoice falls due, relative to its issue date."""

    kind: TermsKind
    days: int = 0

    def __post_init__(self) -> None:
        if self.kind not in _KINDS:
            raise ValueError(f"{self.kind!r} is not a kind of payment terms; {_HINT}")
        if isinstance(self.days, bool) or not isinstance(self.days, int):
            raise TypeError(f"payment terms days must be an int, not {self.days!r}")
        if self.kind == "due_on_receipt" and self.days != 0:
            raise ValueError("due_on_receipt terms take no number of days")
        if not 0 <= self.days <= MAX_TERM_DAYS:
            raise ValueError(f"payment terms of {self.days} days are outside 0..{MAX_TERM_DAYS}")

    def due_date(self, issue_date: date) -> date:
        """Return the due date of an invoice issued on `issue_date`."""
        if self.kind == "net":
            return issue_date + timedelta(days=self.days)
        if self.kind == "eom":
            month_days = calendar.monthrange(issue_date.year, issue_date.month)[1]
            return issue_date.replace(day=month_days) + timedelta(days=self.days)
        return issue_date

    def __str__(self) -> str:
        return "due_on_receipt" if self.kind == "due_on_receipt" else f"{self.kind}_{self.days}"


def parse_payment_terms(text: object) -> PaymentTerms:
    """Parse `net_30`, `due_on_receipt` or `eom_15`."""
    if text == "due_on_receipt":
        return PaymentTerms("due_on_receipt")
    match = _TEXT.fullmatch(text) if isinstance(text, str) else None
    if not match:
        raise ValueError(f"'{text}' is not payment terms; {_HINT}")
    return PaymentTerms(match.group(1), int(match.group(2)))  # type: ignore[arg-type]
