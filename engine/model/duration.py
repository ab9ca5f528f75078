"""Durations as rule files write them: `15m`, `24h`, `3d`, `-3d`, `2w`, `N business days`."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import timedelta
from typing import Literal, get_args

__all__ = ["Duration", "DurationUnit", "parse_duration"]

DurationUnit = Literal["minutes", "hours", "days", "weeks", "business_days"]

_UNITS: tuple[str, ...] = get_args(DurationUnit)
_SUFFIXES = {"m": "minutes", "h": "hours", "d": "days", "w": "weeks"}
_SUFFIX_OF = {unit: suffix for suffix, unit in _SUFFIXES.items()}
_SHORT = re.compile(r"(-?[0-9]+)([mhdw])")
# "1 business days" and "3 business day" are accepted too: the plural is not worth an error.
_BUSINESS = re.compile(r"(-?[0-9]+) business days?")
_HINT = "write 15m, 24h, 3d, -3d, 2w or N business days"


@dataclass(frozen=True)
class Duration:
    """A signed length of time in one unit; business days need a calendar to apply."""

    amount: int
    unit: DurationUnit

    def __post_init__(self) -> None:
        if isinstance(self.amount, bool) or not isinstance(self.amount, int):
            raise TypeError(f"duration amount must be an int, not {self.amount!r}")
        if self.unit not in _UNITS:
            units = ", ".join(_UNITS)
            raise ValueError(f"{self.unit!r} is not a duration unit; use one of {units}")

    @property
    def is_business(self) -> bool:
        """Tell whether this duration counts business days."""
        return self.unit == "business_days"

    def as_timedelta(self) -> timedelta:
        """Return the duration as a timedelta; ValueError for business days."""
        if self.is_business:
            raise ValueError(f"{self} depends on the business calendar and has no fixed length")
        return timedelta(**{self.unit: self.amount})

    def __str__(self) -> str:
        if self.is_business:
            noun = "day" if abs(self.amount) == 1 else "days"
            return f"{self.amount} business {noun}"
        return f"{self.amount}{_SUFFIX_OF[self.unit]}"


def parse_duration(text: object) -> Duration:
    """Parse a duration such as `24h`, `-3d` or `3 business days`."""
    if isinstance(text, str):
        stripped = text.strip()
        short = _SHORT.fullmatch(stripped)
        if short:
            unit = _SUFFIXES[short.group(2)]
            return Duration(int(short.group(1)), unit)  # type: ignore[arg-type]
        business = _BUSINESS.fullmatch(stripped)
        if business:
            return Duration(int(business.group(1)), "business_days")
    raise ValueError(f"'{text}' is not a duration; {_HINT}")
