"""The agency calendar: billing days, business days, holidays and DST-correct local times."""

from __future__ import annotations

import calendar as gregorian
import dataclasses
from datetime import date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import engine.model
from engine.model import calendar as agency_calendar
from engine.model.calendar import (
    AgencyCalendar,
    BillingDay,
    holiday_dates,
    is_holiday_calendar,
    is_timezone,
    parse_billing_day,
    parse_time_of_day,
)

NEW_YORK = AgencyCalendar("America/New_York", "US")
NO_HOLIDAYS = AgencyCalendar("America/New_York")
UTC = timezone.utc


def test_public_names_are_reexported() -> None:
    for name in agency_calendar.__all__:
        assert name in engine.model.__all__
        assert getattr(engine.model, name) is getattr(agency_calendar, name)


# --- billing days -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [(1, BillingDay("day", 1)), (31, BillingDay("day", 31)), ("15", BillingDay("day", 15)),
     ("last", BillingDay("last")), ("first_business_day", BillingDay("first_business_day")),
     ("last_business_day", BillingDay("last_business_day"))],
)
def test_parse_billing_day(value: object, expected: BillingDay) -> None:
    assert parse_billing_day(value) == expected
    assert parse_billing_day(str(expected)) == expected


@pytest.mark.parametrize("value", [0, 32, -1, True, 1.0, "Last", "first", "", "1st", None, "٣"])
def test_parse_billing_day_rejects_other_values(value: object) -> None:
    with pytest.raises(ValueError) as err:
        parse_billing_day(value)
    assert str(err.value) == (
        f"'{value}' is not a billing day; "
        "write a day of the month 1..31, last, first_business_day or last_business_day"
    )


def test_billing_day_is_validated() -> None:
    with pytest.raises(ValueError):
        BillingDay("day")
    with pytest.raises(ValueError):
        BillingDay("last", 3)
    with pytest.raises(ValueError):
        BillingDay("weekly")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("year", "month", "day", "expected"),
    [
        (2028, 2, 31, date(2028, 2, 29)),  # leap year
        (2026, 2, 31, date(2026, 2, 28)),
        (2026, 2, 29, date(2026, 2, 28)),
        (2028, 2, 29, date(2028, 2, 29)),
        (2026, 4, 31, date(2026, 4, 30)),
        (2026, 4, 30, date(2026, 4, 30)),
        (2026, 1, 31, date(2026, 1, 31)),
        (2026, 5, 1, date(2026, 5, 1)),  # a Friday; day numbers never move off weekends
        (2026, 5, 31, date(2026, 5, 31)),  # a Sunday
    ],
)
def test_billing_date_clamps_to_month_end(year: int, month: int, day: int, expected: date) -> None:
    assert NEW_YORK.billing_date(year, month, BillingDay("day", day)) == expected
    assert NEW_YORK.billing_date(year, month, day) == expected


def test_billing_date_last() -> None:
    assert NEW_YORK.billing_date(2028, 2, "last") == date(2028, 2, 29)
    assert NEW_YORK.billing_date(2026, 2, "last") == date(2026, 2, 28)
    assert NEW_YORK.billing_date(2026, 5, "last") == date(2026, 5, 31)


def test_last_business_day_when_month_ends_on_a_weekend() -> None:
    # 2026-05-31 is a Sunday, the 30th a Saturday; Memorial Day (the 25th) is earlier.
    assert NEW_YORK.billing_date(2026, 5, "last_business_day") == date(2026, 5, 29)
    assert NO_HOLIDAYS.billing_date(2026, 5, "last_business_day") == date(2026, 5, 29)


def test_last_business_day_when_month_ends_on_a_holiday() -> None:
    # 2027-05-31 is a Monday and Memorial Day.
    assert NEW_YORK.is_holiday(date(2027, 5, 31))
    assert NEW_YORK.billing_date(2027, 5, "last_business_day") == date(2027, 5, 28)
    assert NO_HOLIDAYS.billing_date(2027, 5, "last_business_day") == date(2027, 5, 31)
    # New Year's Day 2028 is a Saturday, observed on Friday 2027-12-31.
    assert NEW_YORK.billing_date(2027, 12, "last_business_day") == date(2027, 12, 30)


def test_first_business_day_skips_new_years_day() -> None:
    assert NEW_YORK.billing_date(2026, 1, "first_business_day") == date(2026, 1, 2)  # Thu holiday
    assert NEW_YORK.billing_date(2027, 1, "first_business_day") == date(2027, 1, 4)  # Fri holiday
    assert NO_HOLIDAYS.billing_date(2026, 1, "first_business_day") == date(2026, 1, 1)
    assert NEW_YORK.billing_date(2026, 2, "first_business_day") == date(2026, 2, 2)  # 1st a Sunday
    assert NEW_YORK.billing_date(2026, 9, "first_business_day") == date(2026, 9, 1)


@settings(max_examples=300, deadline=None)
@given(
    st.integers(1990, 2100),
    st.integers(1, 12),
    st.one_of(
        st.integers(1, 31).map(lambda day: BillingDay("day", day)),
        st.sampled_from([BillingDay("last"), BillingDay("first_business_day"), BillingDay("last_business_day")]),
    ),
    st.sampled_from([NEW_YORK, NO_HOLIDAYS, AgencyCalendar("Europe/London", "GB-ENG")]),
)
def test_billing_date_is_inside_the_month(
    year: int, month: int, billing_day: BillingDay, cal: AgencyCalendar
) -> None:
    result = cal.billing_date(year, month, billing_day)
    month_end = gregorian.monthrange(year, month)[1]
    assert (result.year, result.month) == (year, month)
    if billing_day.kind == "day":
        assert result.day == min(billing_day.day, month_end)  # type: ignore[type-var]
    elif billing_day.kind == "last":
        assert result.day == month_end
    else:
        assert cal.is_business_day(result)
        if billing_day.kind == "first_business_day":
            earlier = [date(year, month, d) for d in range(1, result.day)]
        else:
            earlier = [date(year, month, d) for d in range(result.day + 1, month_end + 1)]
        assert not any(cal.is_business_day(d) for d in earlier)


# --- business days and holidays -----------------------------------------------------------


def test_business_days() -> None:
    assert NEW_YORK.is_business_day(date(2026, 5, 22))  # Friday
    assert not NEW_YORK.is_business_day(date(2026, 5, 23))  # Saturday
    assert not NEW_YORK.is_business_day(date(2026, 5, 24))  # Sunday
    assert not NEW_YORK.is_business_day(date(2026, 5, 25))  # Memorial Day
    assert NO_HOLIDAYS.is_business_day(date(2026, 5, 25))
    assert not NEW_YORK.is_business_day(date(2026, 7, 3))  # Independence Day observed
    assert not NO_HOLIDAYS.is_holiday(date(2026, 12, 25))


def test_next_and_previous_business_day() -> None:
    assert NEW_YORK.next_business_day(date(2026, 5, 26)) == date(2026, 5, 26)
    assert NEW_YORK.next_business_day(date(2026, 5, 23)) == date(2026, 5, 26)
    assert NEW_YORK.previous_business_day(date(2026, 5, 25)) == date(2026, 5, 22)
    assert NEW_YORK.previous_business_day(date(2026, 5, 22)) == date(2026, 5, 22)
    assert NEW_YORK.next_business_day(date(2026, 12, 31)) == date(2026, 12, 31)
    assert NEW_YORK.next_business_day(date(2027, 12, 31)) == date(2028, 1, 3)


@pytest.mark.parametrize(
    ("start", "n", "expected"),
    [
        (date(2026, 5, 22), 1, date(2026, 5, 26)),  # Fri -> weekend, Memorial Day -> Tue
        (date(2026, 5, 26), -1, date(2026, 5, 22)),
        (date(2026, 5, 23), 1, date(2026, 5, 26)),  # from a Saturday
        (date(2026, 5, 23), 0, date(2026, 5, 23)),
        (date(2026, 5, 18), 10, date(2026, 6, 2)),
        (date(2026, 6, 2), -10, date(2026, 5, 18)),
        (date(2026, 12, 23), 3, date(2026, 12, 29)),  # Christmas Friday
    ],
)
def test_add_business_days(start: date, n: int, expected: date) -> None:
    assert NEW_YORK.add_business_days(start, n) == expected


@given(st.dates(date(2000, 1, 1), date(2090, 12, 31)), st.integers(1, 60))
def test_add_business_days_lands_on_a_business_day_and_inverts(start: date, n: int) -> None:
    forward = NEW_YORK.add_business_days(start, n)
    assert NEW_YORK.is_business_day(forward)
    assert forward > start
    back = NEW_YORK.add_business_days(forward, -n)
    # From a weekend or holiday, stepping back lands on the business day before it.
    assert back == NEW_YORK.previous_business_day(start)


def test_holiday_calendars_with_subdivisions() -> None:
    lincolns_birthday = date(2026, 2, 12)
    assert lincolns_birthday in holiday_dates("US-NY", 2026)
    assert lincolns_birthday not in holiday_dates("US", 2026)
    assert not AgencyCalendar("America/New_York", "US-NY").is_business_day(lincolns_birthday)
    assert date(2026, 4, 6) in holiday_dates("GB-ENG", 2026)  # Easter Monday
    assert date(2026, 4, 6) not in holiday_dates("GB-SCT", 2026)
    assert date(2026, 10, 3) in holiday_dates("DE", 2026)  # German Unity Day
    assert isinstance(holiday_dates("US", 2026), frozenset)
    with pytest.raises(ValueError, match="not a holiday calendar"):
        holiday_dates("XX", 2026)


@pytest.mark.parametrize("code", ["US", "GB", "DE", "FR", "JP", "US-NY", "US-CA", "GB-ENG", "GB-SCT", "DE-BY"])
def test_is_holiday_calendar_accepts_countries_and_subdivisions(code: str) -> None:
    assert is_holiday_calendar(code)


@pytest.mark.parametrize("code", ["", "us", "UK", "USA", "US-", "US-XX", "US-ny", "-NY", "ZZ", None, 1])
def test_is_holiday_calendar_rejects_others(code: object) -> None:
    assert not is_holiday_calendar(code)


# --- timezones ------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["America/New_York", "Europe/London", "Asia/Tokyo", "UTC", "America/Argentina/Buenos_Aires", "Etc/GMT+5"])
def test_is_timezone_accepts_iana_names(name: str) -> None:
    assert is_timezone(name)


@pytest.mark.parametrize(
    "name",
    ["", " ", "America/New_Yrok", "america/new_york", "America", "America/", "/etc/passwd",
     "../etc/passwd", "America/../Europe/London", "zone.tab", "localtime", "posixrules", "EST 5", None, 5],
)
def test_is_timezone_rejects_others(name: object) -> None:
    assert not is_timezone(name)


@pytest.mark.parametrize(
    ("timezone_name", "holidays", "message"),
    [
        ("America/New_Yrok", None, "'America/New_Yrok' is not an IANA timezone name such as America/New_York (did you mean 'America/New_York'?)"),
        ("", None, "'' is not an IANA timezone name such as America/New_York"),
        ("UTC", "UK", "(did you mean 'GB'?)"),
        ("UTC", "us-ny", "(did you mean 'US-NY'?)"),
        ("UTC", "ZZ", "'ZZ' is not a holiday calendar; write a country code such as US or a subdivision such as US-NY"),
    ],
)
def test_agency_calendar_validates_with_one_sentence(timezone_name: str, holidays: str | None, message: str) -> None:
    with pytest.raises(ValueError) as err:
        AgencyCalendar(timezone_name, holidays)
    assert message in str(err.value)


def test_agency_calendar_is_frozen_and_hashable() -> None:
    assert hash(NEW_YORK) == hash(AgencyCalendar("America/New_York", "US"))
    assert {NEW_YORK: 1}[AgencyCalendar("America/New_York", "US")] == 1
    with pytest.raises(dataclasses.FrozenInstanceError):
        NEW_YORK.timezone = "UTC"  # type: ignore[misc]
    assert NEW_YORK.zone == ZoneInfo("America/New_York")
    assert NEW_YORK.zone is NEW_YORK.zone


# --- local times and DST --------------------------------------------------------------------


def test_local_date() -> None:
    instant = datetime(2026, 3, 1, 3, 0, tzinfo=UTC)
    assert NEW_YORK.local_date(instant) == date(2026, 2, 28)
    assert AgencyCalendar("Asia/Tokyo").local_date(datetime(2026, 3, 1, 16, 0, tzinfo=UTC)) == date(2026, 3, 2)
    with pytest.raises(ValueError, match="has no UTC offset"):
        NEW_YORK.local_date(datetime(2026, 3, 1, 3, 0))


def test_at_local_on_an_ordinary_day() -> None:
    result = NEW_YORK.at_local(date(2026, 6, 1), "09:00")
    assert result == datetime(2026, 6, 1, 13, 0, tzinfo=UTC)
    assert result.utcoffset() == timedelta(hours=-4)
    assert result.isoformat() == "2026-06-01T09:00:00-04:00"
    assert NEW_YORK.at_local(date(2026, 1, 5), time(9, 0)) == datetime(2026, 1, 5, 14, 0, tzinfo=UTC)


def test_at_local_skipped_time_moves_forward_by_the_gap() -> None:
    # 2026-03-08 02:00 EST jumps to 03:00 EDT: 02:30 does not exist.
    result = NEW_YORK.at_local(date(2026, 3, 8), "02:30")
    assert (result.hour, result.minute) == (3, 30)
    assert result.utcoffset() == timedelta(hours=-4)
    assert result == datetime(2026, 3, 8, 7, 30, tzinfo=UTC)


def test_at_local_repeated_time_takes_the_first_occurrence() -> None:
    # 2026-11-01 02:00 EDT falls back to 01:00 EST: 01:30 happens twice.
    result = NEW_YORK.at_local(date(2026, 11, 1), "01:30")
    assert (result.hour, result.minute) == (1, 30)
    assert result.utcoffset() == timedelta(hours=-4)
    assert result.isoformat() == "2026-11-01T01:30:00-04:00"
    assert result == datetime(2026, 11, 1, 5, 30, tzinfo=UTC)
    assert hash(result) == hash(datetime(2026, 11, 1, 5, 30, tzinfo=UTC))


def test_local_results_do_arithmetic_by_the_instant() -> None:
    # Across the fall-back night, 24h after 00:00 EDT is 23:00 EST, not the next midnight.
    start = NEW_YORK.start_of_day(date(2026, 11, 1))
    later = start + timedelta(hours=24)
    assert later.astimezone(NEW_YORK.zone).isoformat() == "2026-11-01T23:00:00-05:00"
    assert NEW_YORK.start_of_day(date(2026, 11, 2)) - start == timedelta(hours=25)


@pytest.mark.parametrize("text", ["9:00", "24:00", "09:60", "9am", "09:00:00", "", None])
def test_time_of_day_is_hh_mm(text: object) -> None:
    with pytest.raises(ValueError, match="is not a time of day; write HH:MM such as 09:00"):
        parse_time_of_day(text)
    if isinstance(text, str):
        with pytest.raises(ValueError):
            NEW_YORK.at_local(date(2026, 6, 1), text)


def test_parse_time_of_day() -> None:
    assert parse_time_of_day("00:00") == time(0, 0)
    assert parse_time_of_day("23:59") == time(23, 59)


def test_start_of_day_ordinary() -> None:
    assert NEW_YORK.start_of_day(date(2026, 6, 1)).isoformat() == "2026-06-01T00:00:00-04:00"
    tokyo = AgencyCalendar("Asia/Tokyo").start_of_day(date(2026, 9, 6))
    assert tokyo.isoformat() == "2026-09-06T00:00:00+09:00"
    assert tokyo == datetime(2026, 9, 5, 15, 0, tzinfo=UTC)


def test_start_of_day_when_midnight_is_skipped() -> None:
    # Chile springs forward at midnight: 2026-09-06 00:00 -04 becomes 01:00 -03.
    santiago = AgencyCalendar("America/Santiago")
    zone = santiago.zone
    naive_midnight = datetime(2026, 9, 6, tzinfo=zone)
    assert naive_midnight.astimezone(UTC).astimezone(zone).hour == 1  # midnight really is skipped
    result = santiago.start_of_day(date(2026, 9, 6))
    assert result.isoformat() == "2026-09-06T01:00:00-03:00"
    assert result == datetime(2026, 9, 6, 4, 0, tzinfo=UTC)
    assert santiago.local_date(result - timedelta(microseconds=1)) == date(2026, 9, 5)
    # Cuba too (2026-03-08).
    havana = AgencyCalendar("America/Havana").start_of_day(date(2026, 3, 8))
    assert havana.isoformat() == "2026-03-08T01:00:00-04:00"


def test_start_of_day_after_a_fall_back_at_midnight() -> None:
    # Chile falls back at 2026-04-05 00:00 -03 to 2026-04-04 23:00 -04: the 5th starts once.
    result = AgencyCalendar("America/Santiago").start_of_day(date(2026, 4, 5))
    assert result.isoformat() == "2026-04-05T00:00:00-04:00"


@settings(max_examples=200)
@given(
    st.dates(date(2000, 1, 1), date(2060, 12, 31)),
    st.sampled_from(["America/New_York", "America/Santiago", "America/Havana", "Europe/London",
                     "Australia/Lord_Howe", "Asia/Tokyo", "Pacific/Chatham"]),
)
def test_start_of_day_is_the_first_instant_of_the_local_day(d: date, zone_name: str) -> None:
    cal = AgencyCalendar(zone_name)
    start = cal.start_of_day(d)
    assert cal.local_date(start) == d
    assert cal.local_date(start - timedelta(microseconds=1)) < d


@settings(max_examples=200)
@given(
    st.dates(date(2000, 1, 1), date(2060, 12, 31)),
    st.times().map(lambda t: t.replace(second=0, microsecond=0)),
)
def test_at_local_keeps_existing_times_and_moves_skipped_ones_forward(d: date, wall: time) -> None:
    result = NEW_YORK.at_local(d, wall.strftime("%H:%M"))
    requested = datetime.combine(d, wall)
    actual = result.replace(tzinfo=None)
    assert actual >= requested
    assert actual - requested in (timedelta(0), timedelta(hours=1))
    assert result.fold == 0
    assert result.utcoffset() == NEW_YORK.zone.utcoffset(actual)
