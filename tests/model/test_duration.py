"""Durations: parsing, canonical text and conversion to timedelta."""

from __future__ import annotations

import dataclasses
from datetime import timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

import engine.model
from engine.model import duration
from engine.model.duration import Duration, parse_duration


def test_public_names_are_reexported() -> None:
    for name in duration.__all__:
        assert name in engine.model.__all__
        assert getattr(engine.model, name) is getattr(duration, name)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("15m", Duration(15, "minutes")),
        ("24h", Duration(24, "hours")),
        ("3d", Duration(3, "days")),
        ("-3d", Duration(-3, "days")),
        ("0d", Duration(0, "days")),
        ("2w", Duration(2, "weeks")),
        ("1 business day", Duration(1, "business_days")),
        ("3 business days", Duration(3, "business_days")),
        ("-2 business days", Duration(-2, "business_days")),
        ("0 business days", Duration(0, "business_days")),
        ("1 business days", Duration(1, "business_days")),
        ("  7d ", Duration(7, "days")),
    ],
)
def test_parse_duration(text: str, expected: Duration) -> None:
    assert parse_duration(text) == expected


@pytest.mark.parametrize(
    "text",
    ["3 dys", "", "d", "3", "3D", "3 d", "3days", "+3d", "1.5h", "3 business", "business days",
     "3  business days", "three days", "3d4h", "--3d", "３d"],
)
def test_parse_duration_rejects_other_text(text: str) -> None:
    with pytest.raises(ValueError, match="is not a duration; write 15m, 24h, 3d, -3d, 2w or N business days"):
        parse_duration(text)


def test_parse_duration_error_is_one_sentence() -> None:
    with pytest.raises(ValueError) as err:
        parse_duration("3 dys")
    assert str(err.value) == "'3 dys' is not a duration; write 15m, 24h, 3d, -3d, 2w or N business days"


@pytest.mark.parametrize("value", [3, 3.0, None, True])
def test_parse_duration_rejects_non_text(value: object) -> None:
    with pytest.raises(ValueError, match="is not a duration"):
        parse_duration(value)


@pytest.mark.parametrize(
    ("text", "canonical"),
    [("15m", "15m"), ("24h", "24h"), ("-3d", "-3d"), ("2w", "2w"), ("1 business day", "1 business day"),
     ("1 business days", "1 business day"), ("3 business day", "3 business days"),
     ("-1 business day", "-1 business day"), ("-0d", "0d")],
)
def test_str_is_canonical(text: str, canonical: str) -> None:
    assert str(parse_duration(text)) == canonical


@given(st.integers(-10_000, 10_000), st.sampled_from(["minutes", "hours", "days", "weeks", "business_days"]))
def test_str_round_trips(amount: int, unit: str) -> None:
    value = Duration(amount, unit)  # type: ignore[arg-type]
    assert parse_duration(str(value)) == value


@pytest.mark.parametrize(
    ("text", "delta"),
    [("15m", timedelta(minutes=15)), ("24h", timedelta(hours=24)), ("-3d", timedelta(days=-3)),
     ("0d", timedelta(0)), ("2w", timedelta(days=14))],
)
def test_as_timedelta(text: str, delta: timedelta) -> None:
    assert parse_duration(text).as_timedelta() == delta
    assert not parse_duration(text).is_business


def test_business_days_have_no_fixed_length() -> None:
    value = parse_duration("3 business days")
    assert value.is_business
    with pytest.raises(ValueError, match="3 business days depends on the business calendar"):
        value.as_timedelta()


def test_duration_is_frozen_and_validated() -> None:
    value = Duration(3, "days")
    with pytest.raises(dataclasses.FrozenInstanceError):
        value.amount = 4  # type: ignore[misc]
    assert hash(value) == hash(Duration(3, "days"))
    with pytest.raises(ValueError, match="not a duration unit"):
        Duration(3, "months")  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        Duration(1.5, "hours")  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        Duration(True, "hours")  # type: ignore[arg-type]
