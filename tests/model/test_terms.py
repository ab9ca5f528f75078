"""Payment terms: parsing, canonical text and due dates."""

from __future__ import annotations

import dataclasses
from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

import engine.model
from engine.model import terms
from engine.model.terms import MAX_TERM_DAYS, PaymentTerms, parse_payment_terms


def test_public_names_are_reexported() -> None:
    for name in terms.__all__:
        assert name in engine.model.__all__
        assert getattr(engine.model, name) is getattr(terms, name)


@pytest.mark.parametrize(
    ("text", "expected"),
    [("net_30", PaymentTerms("net", 30)), ("net_0", PaymentTerms("net", 0)),
     ("due_on_receipt", PaymentTerms("due_on_receipt", 0)), ("eom_15", PaymentTerms("eom", 15)),
     ("eom_0", PaymentTerms("eom", 0)), ("net_365", PaymentTerms("net", 365))],
)
def test_parse_and_round_trip(text: str, expected: PaymentTerms) -> None:
    assert parse_payment_terms(text) == expected
    assert str(expected) == text


@pytest.mark.parametrize(
    "text", ["net30", "net_", "net_-5", "Net_30", "eom", "net_30d", "due on receipt", "", " net_30", "cod"]
)
def test_parse_rejects_other_text(text: str) -> None:
    with pytest.raises(ValueError) as err:
        parse_payment_terms(text)
    assert str(err.value) == f"'{text}' is not payment terms; write net_N, due_on_receipt or eom_N"


@pytest.mark.parametrize("value", [30, None, ["net_30"]])
def test_parse_rejects_non_text(value: object) -> None:
    with pytest.raises(ValueError, match="is not payment terms"):
        parse_payment_terms(value)


def test_parse_rejects_terms_longer_than_a_year() -> None:
    with pytest.raises(ValueError, match=f"outside 0..{MAX_TERM_DAYS}"):
        parse_payment_terms("net_366")


@pytest.mark.parametrize(
    ("text", "issued", "due"),
    [
        ("net_30", date(2026, 1, 31), date(2026, 3, 2)),
        ("net_30", date(2026, 12, 15), date(2027, 1, 14)),
        ("net_15", date(2028, 2, 20), date(2028, 3, 6)),  # through Feb 29
        ("net_0", date(2026, 5, 5), date(2026, 5, 5)),
        ("due_on_receipt", date(2026, 5, 31), date(2026, 5, 31)),
        ("eom_15", date(2026, 1, 31), date(2026, 2, 15)),
        ("eom_15", date(2026, 1, 1), date(2026, 2, 15)),
        ("eom_15", date(2028, 2, 10), date(2028, 3, 15)),  # Feb 29 + 15
        ("eom_15", date(2026, 2, 10), date(2026, 3, 15)),  # Feb 28 + 15
        ("eom_30", date(2026, 2, 1), date(2026, 3, 30)),
        ("eom_30", date(2026, 12, 5), date(2027, 1, 30)),
        ("eom_0", date(2026, 4, 10), date(2026, 4, 30)),
    ],
)
def test_due_date(text: str, issued: date, due: date) -> None:
    assert parse_payment_terms(text).due_date(issued) == due


@given(st.dates(date(1990, 1, 1), date(2100, 12, 31)), st.integers(0, MAX_TERM_DAYS))
def test_due_date_is_never_before_issue(issued: date, days: int) -> None:
    for kind in ("net", "eom"):
        due = PaymentTerms(kind, days).due_date(issued)  # type: ignore[arg-type]
        assert due >= issued
    assert PaymentTerms("net", days).due_date(issued).toordinal() - issued.toordinal() == days
    eom = PaymentTerms("eom", days).due_date(issued)
    assert eom >= PaymentTerms("net", days).due_date(issued)


def test_terms_are_frozen_and_validated() -> None:
    value = PaymentTerms("net", 30)
    with pytest.raises(dataclasses.FrozenInstanceError):
        value.days = 45  # type: ignore[misc]
    with pytest.raises(ValueError, match="take no number of days"):
        PaymentTerms("due_on_receipt", 5)
    with pytest.raises(ValueError, match="not a kind of payment terms"):
        PaymentTerms("cod", 0)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="outside"):
        PaymentTerms("net", -1)
    with pytest.raises(TypeError):
        PaymentTerms("net", "30")  # type: ignore[arg-type]
