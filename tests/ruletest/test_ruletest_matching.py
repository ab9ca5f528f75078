"""Partial matching of expected actions: strings exactly, numbers by value, times as instants."""

from __future__ import annotations

from decimal import Decimal

from engine.ruletest.matching import at_matches, leaf_differences, scalar_matches


def test_a_string_is_compared_exactly_and_a_number_by_value():
    assert scalar_matches("12000.00", "12000.00")
    assert not scalar_matches("12000", "12000.00")
    assert scalar_matches(Decimal("12000"), "12000.00")
    assert scalar_matches(12000, "12000.00")
    assert not scalar_matches(12000, "not a number")
    assert not scalar_matches(True, "true")
    assert scalar_matches(None, None)
    assert scalar_matches("31", 31)


def test_at_is_an_instant_or_an_agency_local_day():
    assert at_matches("2026-03-01T05:00:00Z", "2026-03-01T00:00:00-05:00")
    assert at_matches("2026-03-01", "2026-03-01T23:30:00-05:00")
    assert not at_matches("2026-03-02", "2026-03-01T23:30:00-05:00")


def test_only_the_fields_written_are_compared_and_lists_keep_their_length():
    got = {"id": "a/b/c", "total": "10.00", "lines": [{"amount": "4.00"}, {"amount": "6.00"}]}
    assert leaf_differences({"total": "10.00"}, got, "invoice") == []
    assert leaf_differences({"lines": [{"amount": "4.00"}]}, got, "invoice") == [
        ("invoice.lines", [{"amount": "4.00"}], got["lines"])]
    assert leaf_differences({"lines": [{}, {"amount": 7}]}, got, "invoice") == [
        ("invoice.lines[1].amount", 7, "6.00")]
