"""The agency's calendar: its timezone, its business days and its billing days."""

from __future__ import annotations

import calendar as _gregorian
import difflib
import functools
import re
import zoneinfo
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone
from typing import Literal, get_args

import holidays as _holidays_lib

__all__ = [
    "AgencyCalendar",
    "BillingDay",
    "BillingDayKind",
    "holiday_dates",
    "is_holiday_calendar",
    "is_timezone",
    "parse_billing_day",
    "parse_time_of_day",
]

BillingDayKind = Literal["day", "last", "first_business_day", "last_business_day"]

_BILLING_KEYWORDS: tuple[str, ...] = get_args(BillingDayKind)[1:]
_BILLING_HINT = "write a day of the month 1..31, last, first_business_day or last_business_day"
_TIME_OF_DAY = re.compile(r"([01][0-9]|2[0-3]):([0-5][0-9])")
# IANA names are ASCII path segments; this keeps ZoneInfo away from paths and tzdata's own
# non-zone files (zone.tab, tzdata.zi) before it ever touches the filesystem.
_TZ_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_+\-]*(?:/[A-Za-z0-9_+\-]+)*")
_NOT_ZONES = frozenset({"localtime", "posixrules", "Factory", "leapseconds", "SECURITY"})
_ONE_DAY = timedelta(days=1)


@dataclass(frozen=True)
class BillingDay:
    """A day of the month on which an engagement bills; `day` is set only for kind "day"."""

    kind: BillingDayKind
    day: int | None = None

    def __post_init__(self) -> None:
        if self.kind == "day":
            day = self.day
            if isinstance(day, bool) or not isinstance(day, int) or not 1 <= day <= 31:
                raise ValueError(f"billing day {self.day!r} is outside 1..31")
        elif self.kind in _BILLING_KEYWORDS:
            if self.day is not None:
                raise ValueError(f"billing day {self.kind} takes no day number")
        else:
            raise ValueError(f"{self.kind!r} is not a billing day; {_BILLING_HINT}")

    def __str__(self) -> str:
        return str(self.day) if self.kind == "day" else self.kind


def parse_billing_day(value: object) -> BillingDay:
    """Parse a billing day: an int 1..31, `last`, `first_business_day` or `last_business_day`."""
    if isinstance(value, str) and value in _BILLING_KEYWORDS:
        return BillingDay(value)  # type: ignore[arg-type]
    if isinstance(value, str) and value.isascii() and value.isdigit():
        value = int(value)
    if isinstance(value, int) and not isinstance(value, bool) and 1 <= value <= 31:
        return BillingDay("day", value)
    raise ValueError(f"'{value}' is not a billing day; {_BILLING_HINT}")


def parse_time_of_day(text: object) -> time:
    """Parse a 24-hour local time written `HH:MM`."""
    match = _TIME_OF_DAY.fullmatch(text) if isinstance(text, str) else None
    if not match:
        raise ValueError(f"'{text}' is not a time of day; write HH:MM such as 09:00")
    return time(int(match.group(1)), int(match.group(2)))


def is_timezone(name: object) -> bool:
    """Tell whether `name` is an IANA timezone name, such as `America/New_York`."""
    if not isinstance(name, str) or not _TZ_NAME.fullmatch(name) or name in _NOT_ZONES:
        return False
    try:
        _load_zone(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError, OSError):
        return False
    return True


def is_holiday_calendar(code: object) -> bool:
    """Tell whether `code` names a holiday calendar: a country (`US`) or subdivision (`US-NY`)."""
    if not isinstance(code, str):
        return False
    country, dash, subdiv = code.partition("-")
    subdivisions = _supported_calendars().get(country)
    if subdivisions is None:
        return False
    return not dash or subdiv in subdivisions


def holiday_dates(code: str, year: int) -> frozenset[date]:
    """Return the public holidays (observed days included) of calendar `code` in `year`."""
    if not is_holiday_calendar(code):
        raise ValueError(_unknown_calendar(code))
    return _holiday_dates(code, year)


@dataclass(frozen=True)
class AgencyCalendar:
    """The agency's timezone and optional holiday calendar, with date arithmetic over them.

    Instants it returns carry the agency's local wall time with a fixed UTC offset.
    """

    timezone: str
    holidays: str | None = None

    def __post_init__(self) -> None:
        if not is_timezone(self.timezone):
            raise ValueError(_unknown_timezone(self.timezone))
        if self.holidays is not None and not is_holiday_calendar(self.holidays):
            raise ValueError(_unknown_calendar(self.holidays))

    @property
    def zone(self) -> zoneinfo.ZoneInfo:
        """Return the agency's timezone."""
        return _load_zone(self.timezone)

    def is_holiday(self, d: date) -> bool:
        """Tell whether `d` is a public holiday in the agency's calendar."""
        return self.holidays is not None and d in _holiday_dates(self.holidays, d.year)

    def is_business_day(self, d: date) -> bool:
        """Tell whether `d` is a weekday (Mon-Fri) that is not a holiday."""
        return d.weekday() < 5 and not self.is_holiday(d)

    def next_business_day(self, d: date) -> date:
        """Return `d` if it is a business day, else the first business day after it."""
        while not self.is_business_day(d):
            d += _ONE_DAY
        return d

    def previous_business_day(self, d: date) -> date:
        """Return `d` if it is a business day, else the last business day before it."""
        while not self.is_business_day(d):
            d -= _ONE_DAY
        return d

    def add_business_days(self, d: date, n: int) -> date:
        """Step `n` business days from `d` (backwards if negative); `d` itself never counts."""
        step = _ONE_DAY if n > 0 else -_ONE_DAY
        remaining = abs(n)
        while remaining:
            d += step
            if self.is_business_day(d):
                remaining -= 1
        return d

    def billing_date(self, year: int, month: int, billing_day: BillingDay | int | str) -> date:
        """Return the date `billing_day` falls on in the given month."""
        if not isinstance(billing_day, BillingDay):
            billing_day = parse_billing_day(billing_day)
        month_end = date(year, month, _gregorian.monthrange(year, month)[1])
        if billing_day.kind == "day" and billing_day.day is not None:
            return month_end.replace(day=min(billing_day.day, month_end.day))
        if billing_day.kind == "last":
            return month_end
        if billing_day.kind == "first_business_day":
            return self.next_business_day(month_end.replace(day=1))
        return self.previous_business_day(month_end)

    def local_date(self, instant: datetime) -> date:
        """Return the agency-local calendar date of an aware instant."""
        _require_aware(instant)
        return instant.astimezone(self.zone).date()

    def start_of_day(self, d: date) -> datetime:
        """Return the first instant of local day `d`: midnight, or the end of a DST gap over it."""
        return _resolve_local(datetime.combine(d, time(0), tzinfo=self.zone))

    def at_local(self, d: date, hh_mm: str | time) -> datetime:
        """Return local `hh_mm` on `d`; a skipped time moves on by the gap, a repeat is first."""
        wall = hh_mm if isinstance(hh_mm, time) else parse_time_of_day(hh_mm)
        local = datetime.combine(d, wall.replace(tzinfo=None, fold=0), tzinfo=self.zone)
        return _resolve_local(local)


def _resolve_local(local: datetime) -> datetime:
    # zoneinfo gives a fold=0 wall time the offset in force before a transition, so the
    # round trip through UTC moves a skipped time forward by the gap and keeps the first of
    # two repeated times.
    resolved = local.astimezone(timezone.utc).astimezone(local.tzinfo)
    # A fixed offset pins the instant: with a ZoneInfo attached, `+ timedelta` would be
    # wall-clock arithmetic and a repeated time would compare unequal to its own UTC instant.
    return resolved.replace(tzinfo=timezone(resolved.utcoffset() or timedelta(0)), fold=0)


def _require_aware(instant: datetime) -> None:
    if instant.tzinfo is None or instant.utcoffset() is None:
        raise ValueError(f"{instant.isoformat()} has no UTC offset; an instant must be aware")


@functools.lru_cache(maxsize=None)
def _load_zone(name: str) -> zoneinfo.ZoneInfo:
    return zoneinfo.ZoneInfo(name)


@functools.lru_cache(maxsize=None)
def _holiday_dates(code: str, year: int) -> frozenset[date]:
    country, _, subdiv = code.partition("-")
    # Neighbouring years too, in case a holiday is observed across New Year.
    years = range(max(1, year - 1), min(9999, year + 1) + 1)
    table = _holidays_lib.country_holidays(country, subdiv=subdiv or None, years=years)
    return frozenset(d for d in table if d.year == year)


@functools.lru_cache(maxsize=1)
def _supported_calendars() -> dict[str, frozenset[str]]:
    supported = _holidays_lib.list_supported_countries(include_aliases=False)
    return {country: frozenset(subdivs) for country, subdivs in supported.items()}


@functools.lru_cache(maxsize=1)
def _calendar_codes() -> tuple[str, ...]:
    codes: list[str] = []
    for country, subdivs in sorted(_supported_calendars().items()):
        codes.append(country)
        codes.extend(f"{country}-{subdiv}" for subdiv in sorted(subdivs))
    return tuple(codes)


@functools.lru_cache(maxsize=1)
def _zone_names() -> frozenset[str]:
    return frozenset(zoneinfo.available_timezones())


def _unknown_timezone(name: object) -> str:
    message = f"{name!r} is not an IANA timezone name such as America/New_York"
    if isinstance(name, str) and name:
        suggestion = _closest(name, _zone_names())
        if suggestion:
            message += f" (did you mean {suggestion!r}?)"
    return message


def _unknown_calendar(code: object) -> str:
    message = (
        f"{code!r} is not a holiday calendar;"
        " write a country code such as US or a subdivision such as US-NY"
    )
    if isinstance(code, str) and code:
        suggestion = _calendar_alias(code) or _closest(code, _calendar_codes())
        if suggestion:
            message += f" (did you mean {suggestion!r}?)"
    return message


def _calendar_alias(code: str) -> str | None:
    # The holidays package also knows "UK", "USA", "GBR"...; we keep one spelling per calendar.
    country, dash, subdiv = code.upper().partition("-")
    try:
        canonical = _holidays_lib.country_holidays(country, years=2000).country
    except (NotImplementedError, KeyError, AttributeError):
        return None
    candidate = f"{canonical}-{subdiv}" if dash else canonical
    return candidate if is_holiday_calendar(candidate) else None


def _closest(text: str, choices: frozenset[str] | tuple[str, ...]) -> str | None:
    by_folded = {choice.casefold(): choice for choice in choices}
    if text.casefold() in by_folded:
        return by_folded[text.casefold()]
    close = difflib.get_close_matches(text.casefold(), list(by_folded), n=1, cutoff=0.75)
    return by_folded[close[0]] if close else None
