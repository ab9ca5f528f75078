"""DSO and days-to-pay on a worked example.

Period 2026-04-01..2026-06-30: 91 days.

| invoice | issued     | total  | payments                     | open on 06-30 |
| ------- | ---------- | ------ | ---------------------------- | ------------- |
| A       | 2026-03-15 | 10,000 | 10,000 on 04-14 (30 days)    | 0             |
| B       | 2026-04-10 | 20,000 | 12,000 on 05-10              | 8,000         |
| C       | 2026-06-01 | 10,000 | none                         | 10,000        |
| D       | 2026-05-01 |  5,000 | 5,000 on 05-21 (20 days)     | 0             |
| E       | 2026-05-05 |  7,000 | voided 05-06                 | 0             |

Receivables 18,000; invoiced in the period B + C + D = 35,000 (A was issued before it, E
was voided); DSO = 18,000 ÷ 35,000 × 91 = 46.8 days. Settled in the period: A (30 days)
and D (20 days): average 25.0 days.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import engine.reports
from engine.reports import dso as dso_module
from engine.reports.dso import dso_report

D = date.fromisoformat
START, END = D("2026-04-01"), D("2026-06-30")


def test_public_names_are_exported():
    for name in dso_module.__all__:
        if name != "TENTH":
            assert name in engine.reports.__all__


def worked_example(history):
    history.invoice("acme/a/A", "2026-03-15", due="2026-04-14", total="10000.00")
    history.pay("p1", "2026-04-14", {"acme/a/A": "10000.00"})
    history.invoice("acme/a/B", "2026-04-10", due="2026-05-10", total="20000.00")
    history.pay("p2", "2026-05-10", {"acme/a/B": "12000.00"})
    history.invoice("acme/a/C", "2026-06-01", due="2026-07-01", total="10000.00")
    history.invoice("acme/a/D", "2026-05-01", due="2026-05-31", total="5000.00")
    history.pay("p3", "2026-05-21", {"acme/a/D": "5000.00"})
    history.invoice("acme/a/E", "2026-05-05", due="2026-06-04", total="7000.00")
    history.void("acme/a/E", "2026-05-06 10:00")
    return history


def test_worked_example(history):
    report = dso_report(worked_example(history).ledger(), START, END)
    assert report.days == 91
    (usd,) = report.rows
    assert usd.receivables == Decimal("18000.00")
    assert usd.invoiced == Decimal("35000.00")
    assert usd.dso == Decimal("46.8")
    assert (usd.paid, usd.avg_days_to_pay) == (2, Decimal("25.0"))
    assert (report.paid, report.avg_days_to_pay) == (2, Decimal("25.0"))


def test_each_currency_has_its_own_dso_and_days_to_pay_span_them(history):
    worked_example(history)
    history.invoice("bleu/a/1", "2026-06-20", due="2026-07-05", total="900.00", currency="EUR")
    history.pay("e1", "2026-06-29", {"bleu/a/1": "900.00"}, currency="EUR")
    history.invoice("bleu/a/0", "2026-02-01", due="2026-02-16", total="300.00", currency="EUR")
    report = dso_report(history.ledger(), START, END)
    eur = report.rows[0]
    assert eur.currency == "EUR"
    # 300 open ÷ 900 invoiced × 91 days = 30.333… -> 30.3
    assert (eur.receivables, eur.invoiced, eur.dso) == (Decimal("300.00"), Decimal("900.00"),
                                                        Decimal("30.3"))
    assert (eur.paid, eur.avg_days_to_pay) == (1, Decimal("9.0"))
    assert (report.paid, report.avg_days_to_pay) == (3, Decimal("19.7"))  # (30+20+9)/3


def test_nothing_invoiced_leaves_dso_undefined(history):
    history.invoice("acme/a/1", "2026-01-10", due="2026-02-09", total="500.00")
    (row,) = dso_report(history.ledger(), START, END).rows
    assert (row.receivables, row.invoiced, row.dso) == (Decimal("500.00"), 0, None)
    assert row.avg_days_to_pay is None


def test_credit_used_at_issue_pays_in_zero_days(history):
    history.invoice("acme/a/1", "2026-04-02", due="2026-05-02", total="50.00")
    history.pay("credit:acme/a/1", "2026-04-02", {"acme/a/1": "50.00"})
    assert dso_report(history.ledger(), START, END).avg_days_to_pay == Decimal("0.0")
