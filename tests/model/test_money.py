"""Money: ISO 4217 table, parsing, half-up rounding, formatting and percentage splits."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

import engine.model
from engine.model import money
from engine.model.money import (
    CURRENCY_MINOR_UNITS,
    check_percents,
    display_money,
    format_money,
    is_currency,
    minor_units,
    percent_of,
    quantum,
    round_money,
    split_by_percent,
    to_decimal,
)

D = Decimal


def test_public_names_are_reexported() -> None:
    for name in money.__all__:
        assert name in engine.model.__all__
        assert getattr(engine.model, name) is getattr(money, name)


@pytest.mark.parametrize(
    ("code", "units"),
    [("USD", 2), ("EUR", 2), ("GBP", 2), ("JPY", 0), ("KRW", 0), ("CLP", 0), ("ISK", 0),
     ("BHD", 3), ("KWD", 3), ("JOD", 3), ("OMR", 3), ("TND", 3), ("CLF", 4), ("UYW", 4)],
)
def test_minor_units_of_known_currencies(code: str, units: int) -> None:
    assert CURRENCY_MINOR_UNITS[code] == units
    assert minor_units(code) == units
    assert is_currency(code)


def test_currency_table_is_the_active_list_without_units_of_account() -> None:
    assert 160 <= len(CURRENCY_MINOR_UNITS) <= 185
    assert all(len(code) == 3 and code.isupper() for code in CURRENCY_MINOR_UNITS)
    assert set(CURRENCY_MINOR_UNITS.values()) == {0, 2, 3, 4}
    for code in ("XAU", "XAG", "XPT", "XPD", "XDR", "XTS", "XXX", "HRK", "ZWL"):
        assert not is_currency(code)
    with pytest.raises(TypeError):
        CURRENCY_MINOR_UNITS["ZZZ"] = 2  # type: ignore[index]


@pytest.mark.parametrize(
    ("code", "fragment"),
    [("USDD", "(did you mean 'USD'?)"), ("usd", "(did you mean 'USD'?)"),
     ("HRK", "withdrawn currency code (did you mean 'EUR'?)"), ("XAU", "unit of account")],
)
def test_unknown_currency_says_what_was_meant(code: str, fragment: str) -> None:
    with pytest.raises(ValueError, match="is not|withdrawn|unit of account") as err:
        minor_units(code)
    assert fragment in str(err.value)
    assert not is_currency(code)


def test_non_string_is_not_a_currency() -> None:
    assert not is_currency(840)
    assert not is_currency(None)
    with pytest.raises(ValueError, match="not an ISO 4217 currency code"):
        minor_units(["USD"])


def test_quantum() -> None:
    assert quantum("USD") == D("0.01") and quantum("USD").as_tuple().exponent == -2
    assert quantum("JPY") == D("1") and quantum("JPY").as_tuple().exponent == 0
    assert quantum("BHD").as_tuple().exponent == -3
    assert quantum("CLF") == D("0.0001")


@pytest.mark.parametrize(
    ("value", "expected"),
    [("12.00", D("12.00")), ("-3", D("-3")), ("+0.5", D("0.5")), (".5", D("0.5")),
     ("7.", D("7")), (42, D(42)), (D("1.005"), D("1.005"))],
)
def test_to_decimal_accepts_strings_ints_and_decimals(value: object, expected: Decimal) -> None:
    assert to_decimal(value) == expected
    assert isinstance(to_decimal(value), Decimal)


@pytest.mark.parametrize("value", [1.5, 0.1, True, False, None, [1], b"1"])
def test_to_decimal_rejects_floats_bools_and_other_types(value: object) -> None:
    with pytest.raises(TypeError):
        to_decimal(value)


def test_to_decimal_rejects_malformed_text_with_one_sentence() -> None:
    with pytest.raises(ValueError) as err:
        to_decimal("12,00")
    assert str(err.value) == "'12,00' is not a decimal amount"


@pytest.mark.parametrize(
    "value", ["", " 1", "1 ", "1e3", "1_000", "NaN", "Infinity", "-", ".", "1.2.3", "$5", "١٢"]
)
def test_to_decimal_rejects_malformed_or_non_finite_text(value: str) -> None:
    with pytest.raises(ValueError, match="is not a decimal amount"):
        to_decimal(value)


@pytest.mark.parametrize("value", [D("NaN"), D("Infinity"), D("-Infinity"), D("sNaN")])
def test_to_decimal_rejects_non_finite_decimals(value: Decimal) -> None:
    with pytest.raises(ValueError, match="is not a decimal amount"):
        to_decimal(value)


@pytest.mark.parametrize(
    ("amount", "currency", "expected"),
    [
        ("0.125", "USD", "0.13"),
        ("0.135", "USD", "0.14"),  # half-up, not banker's rounding (which gives 0.14 too)
        ("0.145", "USD", "0.15"),  # banker's would give 0.14
        ("0.124999", "USD", "0.12"),
        ("-0.125", "USD", "-0.13"),  # half away from zero, symmetric for credits
        ("2.5", "JPY", "3"),
        ("3.5", "JPY", "4"),
        ("2.4999", "JPY", "2"),
        ("-2.5", "JPY", "-3"),
        ("1.0005", "BHD", "1.001"),
        ("1.0004", "BHD", "1.000"),
        ("12.34565", "CLF", "12.3457"),
        ("10", "USD", "10.00"),
        ("-0.001", "USD", "0.00"),
    ],
)
def test_round_money_is_half_up_to_minor_units(amount: str, currency: str, expected: str) -> None:
    rounded = round_money(D(amount), currency)
    assert rounded == D(expected)
    assert str(rounded) == expected


def test_round_money_rejects_floats() -> None:
    with pytest.raises(TypeError):
        round_money(0.125, "USD")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("amount", "currency", "expected"),
    [
        (D("1234.5"), "USD", "1234.50"),
        (D("1234.5"), "JPY", "1235"),
        (D("-3"), "USD", "-3.00"),
        (D("1E+3"), "USD", "1000.00"),
        (D("1234567.891"), "USD", "1234567.89"),
        (D("0"), "JPY", "0"),
        (D("-0.004"), "USD", "0.00"),
        (D("1.2345"), "BHD", "1.235"),
        ("99", "KWD", "99.000"),
    ],
)
def test_format_money_is_the_contract_string(amount: Decimal, currency: str, expected: str) -> None:
    assert format_money(amount, currency) == expected


@pytest.mark.parametrize(
    ("amount", "currency", "expected"),
    [
        (D("1234.5"), "USD", "1,234.50"),
        (D("-1234567.891"), "USD", "-1,234,567.89"),
        (D("1234.5"), "JPY", "1,235"),
        (D("999.999"), "BHD", "999.999"),
        (D("0.5"), "EUR", "0.50"),
    ],
)
def test_display_money_adds_thousands_separators(amount: Decimal, currency: str, expected: str) -> None:
    assert display_money(amount, currency) == expected


@pytest.mark.parametrize(
    ("amount", "percent", "currency", "expected"),
    [
        ("1000.00", "8.875", "USD", "88.75"),
        ("100.01", "8.875", "USD", "8.88"),  # 8.8758875
        ("0.50", "1.5", "USD", "0.01"),  # 0.0075 exactly half a cent -> up
        ("0.30", "1.5", "USD", "0.00"),  # 0.0045
        ("1000", "12.5", "JPY", "125"),
        ("5", "10", "JPY", "1"),  # 0.5 yen -> 1
        ("1.000", "0.05", "BHD", "0.001"),  # 0.0005
        ("12000.00", "100", "USD", "12000.00"),
        ("-200.00", "1.5", "USD", "-3.00"),
    ],
)
def test_percent_of_rounds_half_up(amount: str, percent: str, currency: str, expected: str) -> None:
    assert percent_of(D(amount), D(percent), currency) == D(expected)


def test_percent_of_rejects_float_percent() -> None:
    with pytest.raises(TypeError):
        percent_of(D("100"), 1.5, "USD")  # type: ignore[arg-type]


def test_split_milestones_25_25_50() -> None:
    parts = split_by_percent(D("48000.00"), [D("25"), D("25"), D("50")], "USD")
    assert parts == [D("12000.00"), D("12000.00"), D("24000.00")]
    assert [format_money(p, "USD") for p in parts] == ["12000.00", "12000.00", "24000.00"]


def test_split_thirds_of_100_last_absorbs() -> None:
    parts = split_by_percent(D("100.00"), [D("33.33"), D("33.33"), D("33.34")], "USD")
    assert parts == [D("33.33"), D("33.33"), D("33.34")]
    assert sum(parts) == D("100.00")


def test_split_thirds_where_rounding_leaves_a_remainder() -> None:
    # 33.33% of 100.01 is 33.333333 -> 33.33 twice; the last takes 33.35, not 33.34.
    parts = split_by_percent(D("100.01"), [D("33.33"), D("33.33"), D("33.34")], "USD")
    assert parts == [D("33.33"), D("33.33"), D("33.35")]
    assert sum(parts) == D("100.01")


def test_split_1000_yen_in_exact_thirds() -> None:
    third = D(100) / 3  # 33.333... to the context's precision; the three add to 99.99...
    parts = split_by_percent(D("1000"), [third, third, third], "JPY")
    assert parts == [D("333"), D("333"), D("334")]
    assert sum(parts) == D("1000")
    assert split_by_percent("1000", ["33.333", "33.333", "33.334"], "JPY") == parts


def test_split_in_three_decimal_currency() -> None:
    parts = split_by_percent(D("10.000"), ["33.33", "33.33", "33.34"], "BHD")
    assert parts == [D("3.333"), D("3.333"), D("3.334")]


def test_split_single_part_and_zero_parts() -> None:
    assert split_by_percent(D("500.00"), ["100"], "USD") == [D("500.00")]
    assert split_by_percent(D("500.00"), ["0", "100"], "USD") == [D("0.00"), D("500.00")]


@pytest.mark.parametrize(
    ("percents", "message"),
    [
        (["25", "25"], "add up to 50, not 100"),
        (["50", "50", "1"], "add up to 101, not 100"),
        (["33.3", "33.3", "33.3"], "add up to 99.9, not 100"),
        (["150", "-50"], "negative"),
        ([], "at least one"),
    ],
)
def test_split_rejects_percents_that_do_not_make_100(percents: list[str], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        split_by_percent(D("100.00"), percents, "USD")
    with pytest.raises(ValueError, match=message):
        check_percents(percents)


def test_split_rejects_a_total_finer_than_the_currency() -> None:
    with pytest.raises(ValueError, match="more decimal places than USD allows"):
        split_by_percent(D("100.001"), ["50", "50"], "USD")
    with pytest.raises(ValueError, match="more decimal places than JPY allows"):
        split_by_percent(D("100.5"), ["50", "50"], "JPY")


def test_split_rejects_float_inputs() -> None:
    with pytest.raises(TypeError):
        split_by_percent(100.0, ["50", "50"], "USD")  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        split_by_percent(D("100"), [50.0, 50.0], "USD")  # type: ignore[list-item]


@st.composite
def _splits(draw: st.DrawFn) -> tuple[Decimal, list[Decimal], str]:
    currency = draw(st.sampled_from(["USD", "JPY", "BHD", "CLF", "KRW", "EUR"]))
    units = draw(st.integers(min_value=-10**12, max_value=10**12))
    total = D(units).scaleb(-minor_units(currency))
    # Percentages with up to 3 decimals whose sum is exactly 100.
    cuts = sorted(draw(st.lists(st.integers(0, 100_000), min_size=0, max_size=7)))
    bounds = [0, *cuts, 100_000]
    percents = [D(b - a).scaleb(-3) for a, b in zip(bounds, bounds[1:])]
    return total, percents, currency


@given(_splits())
def test_split_parts_add_up_and_track_the_exact_shares(case: tuple[Decimal, list[Decimal], str]) -> None:
    total, percents, currency = case
    parts = split_by_percent(total, percents, currency)
    one_unit = quantum(currency)
    assert len(parts) == len(percents)
    assert sum(parts) == total
    for part in parts:
        assert part.as_tuple().exponent == -minor_units(currency)
    for part, percent in zip(parts[:-1], percents[:-1]):
        exact = total * percent / 100
        assert abs(part - exact) <= one_unit / 2
    # The last absorbs at most half a unit of drift from each earlier part.
    exact_last = total * percents[-1] / 100
    assert abs(parts[-1] - exact_last) <= one_unit / 2 * len(parts)


@given(st.integers(-10**9, 10**9), st.sampled_from(sorted(CURRENCY_MINOR_UNITS)))
def test_format_money_round_trips_through_to_decimal(units: int, currency: str) -> None:
    amount = D(units).scaleb(-minor_units(currency))
    text = format_money(amount, currency)
    assert to_decimal(text) == amount
    assert "," not in text and "E" not in text
    assert display_money(amount, currency).replace(",", "") == text
