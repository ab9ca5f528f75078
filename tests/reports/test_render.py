"""Rendering: aligned tables for people, JSON without floats, CSV of the main table."""

from __future__ import annotations

import csv
import importlib
import io
import json
from datetime import date, timedelta
from decimal import Decimal

import pytest

import engine.reports
from engine.reports.aging import aging_report
from engine.reports.dso import dso_report
from engine.reports.render import hours, render

D = date.fromisoformat
# `engine.reports.render` the attribute is the function; the module is reached by name.
render_module = importlib.import_module("engine.reports.render")


def test_public_names_are_exported():
    for name in render_module.__all__:
        assert name in engine.reports.__all__


@pytest.fixture
def report(history):
    history.invoice("acme/a/1", "2026-06-01", due="2026-07-01", total="12345.50")
    history.invoice("bowery/a/1", "2026-04-01", due="2026-05-01", total="7.25")
    history.invoice("kumo/a/1", "2026-06-01", due="2026-07-01", total="1500000",
                    currency="JPY")
    return aging_report(history.ledger(), D("2026-06-30"))


def test_table_right_aligns_amounts_with_separators(report):
    lines = render(report, "table").splitlines()
    assert lines[0].startswith("Aging as of 2026-06-30")
    header, acme = lines[1], lines[2]
    assert header.split()[:4] == ["client", "currency", "invoices", "current"]
    assert "12,345.50" in acme and "1,500,000" in lines[4]
    # every amount column ends where its header ends
    end_of_total = header.index("total") + len("total")
    for line in lines[2:]:
        assert line[end_of_total - 1] != " "
    assert [line.split()[0] for line in lines[2:]] == ["acme", "bowery", "kumo", "TOTAL",
                                                       "TOTAL"]


def test_json_writes_money_as_strings(report):
    data = json.loads(render(report, "json"), parse_float=lambda text: pytest.fail(text))
    assert data["report"] == "aging" and data["buckets"] == ["current", "1-30", "31-60",
                                                               "61-90", "90+"]
    acme = data["rows"][0]
    assert (acme["client"], acme["current"], acme["total"]) == ("acme", "12345.50", "12345.50")
    assert data["totals"][0] == {"currency": "JPY", "invoices": 1, "current": "1500000",
                                 "1-30": "0", "31-60": "0", "61-90": "0", "90+": "0",
                                 "total": "1500000", "credit": "0"}
    assert data["invoices"][1]["days_past_due"] == 60


def test_csv_is_the_main_table_with_plain_numbers(report):
    rows = list(csv.reader(io.StringIO(render(report, "csv"))))
    assert rows[0] == ["client", "currency", "invoices", "current", "1-30", "31-60", "61-90",
                       "90+", "total", "credit"]
    assert rows[1][:4] == ["acme", "USD", "1", "12345.50"]
    assert rows[-1][0] == "TOTAL"


def test_csv_leaves_missing_values_empty(history):
    history.invoice("acme/a/1", "2026-01-10", due="2026-02-09", total="500.00")
    rows = list(csv.reader(io.StringIO(render(dso_report(history.ledger(), D("2026-04-01"),
                                                         D("2026-06-30")), "csv"))))
    assert rows[1] == ["USD", "500.00", "0.00", "", "0", ""]
    assert "-" in render(dso_report(history.ledger(), D("2026-04-01"), D("2026-06-30")),
                         "table").splitlines()[2]


def test_hours_are_exact_decimals():
    assert hours(timedelta(hours=58, minutes=30)) == Decimal("58.50")
    assert hours(timedelta(minutes=1)) == Decimal("0.02")
    assert hours(timedelta(days=1, seconds=18)) == Decimal("24.01")
    assert hours(None) is None


def test_an_unknown_format_is_refused(report):
    with pytest.raises(ValueError):
        render(report, "xml")
