"""Aging: open balances as of a day, by days past due, one currency at a time."""

from __future__ import annotations

from collections import defaultdict
from datetime import date, timedelta
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import engine.reports
from engine.reports import aging as aging_module
from engine.reports.aging import BUCKETS, aging_report, bucket_of

D = date.fromisoformat
AS_OF = D("2026-06-30")


def test_public_names_are_exported():
    for name in aging_module.__all__:
        assert name in engine.reports.__all__


@pytest.mark.parametrize(("days", "bucket"), [
    (-5, "current"), (0, "current"), (1, "1-30"), (30, "1-30"), (31, "31-60"), (60, "31-60"),
    (61, "61-90"), (90, "61-90"), (91, "90+"), (400, "90+"),
])
def test_bucket_boundaries(days, bucket):
    assert BUCKETS[bucket_of(days)] == bucket


def test_each_invoice_lands_in_its_bucket(history):
    for days in (-5, 0, 1, 30, 31, 60, 61, 90, 91):
        due = AS_OF - timedelta(days=days)
        history.invoice(f"acme/x/{days}", (due - timedelta(days=30)).isoformat(),
                        due=due.isoformat(), total="1.00")
    report = aging_report(history.ledger(), AS_OF)
    (row,) = report.rows
    assert row.buckets == tuple(Decimal(n) for n in (2, 2, 2, 2, 1))
    assert row.total == Decimal(9) and row.invoices == 9
    by_invoice = {item.invoice: (item.days_past_due, item.bucket) for item in report.invoices}
    assert by_invoice["acme/x/0"] == (0, "current")  # due today is current
    assert by_invoice["acme/x/91"] == (91, "90+")


def test_currencies_are_never_added_together(history):
    history.invoice("acme/a/1", "2026-06-01", due="2026-07-01", total="100.00")
    history.invoice("acme/b/1", "2026-06-01", due="2026-07-01", total="200.00", currency="EUR")
    history.invoice("kumo/c/1", "2026-04-01", due="2026-05-01", total="15000", currency="JPY")
    history.invoice("bowery/d/1", "2026-05-01", due="2026-05-31", total="50.00")
    report = aging_report(history.ledger(), AS_OF)
    assert [(r.client, r.currency, r.total) for r in report.rows] == [
        ("acme", "EUR", Decimal("200.00")), ("acme", "USD", Decimal("100.00")),
        ("bowery", "USD", Decimal("50.00")), ("kumo", "JPY", Decimal("15000"))]
    assert [(t.currency, t.total, t.invoices) for t in report.totals] == [
        ("EUR", Decimal("200.00"), 1), ("JPY", Decimal("15000"), 1),
        ("USD", Decimal("150.00"), 2)]
    usd = report.totals[2]
    assert usd.buckets == (Decimal("100.00"), Decimal("50.00"), 0, 0, 0)


def test_partial_payments_and_a_payment_after_as_of(history):
    history.invoice("acme/a/1", "2026-05-01", due="2026-05-31", total="1000.00")
    history.pay("p1", "2026-06-10", {"acme/a/1": "250.00"})
    history.pay("p2", "2026-06-30", {"acme/a/1": "150.00"})
    history.pay("p3", "2026-07-01", {"acme/a/1": "600.00"}, at="2026-06-30 09:00")
    report = aging_report(history.ledger(), AS_OF)
    (row,) = report.rows
    assert row.total == Decimal("600.00")  # p3 is dated the day after, whenever it was recorded
    assert row.buckets[1] == Decimal("600.00")  # 30 days past due
    assert aging_report(history.ledger(), D("2026-07-01")).rows == ()


def test_voided_invoices_are_excluded_from_the_day_of_the_void(history):
    history.invoice("acme/a/1", "2026-05-01", due="2026-05-31", total="100.00")
    history.invoice("acme/a/2", "2026-05-01", due="2026-05-31", total="40.00")
    history.void("acme/a/1", "2026-06-30 17:00")
    history.void("acme/a/2", "2026-07-02 10:00")
    report = aging_report(history.ledger(), AS_OF)
    assert [item.invoice for item in report.invoices] == ["acme/a/2"]
    assert report.totals[0].total == Decimal("40.00")


def test_drafts_and_invoices_issued_after_as_of_are_not_receivables(history):
    history.draft("acme/a/1", "2026-06-20 10:00")
    history.invoice("acme/a/2", "2026-07-01", due="2026-07-31")
    assert aging_report(history.ledger(), AS_OF).rows == ()


def test_unapplied_credit_is_shown_beside_not_deducted(history):
    history.invoice("acme/a/1", "2026-06-01", due="2026-07-01", total="100.00")
    history.invoice("bowery/a/1", "2026-05-01", due="2026-05-31", total="80.00")
    history.pay("p1", "2026-06-15", {"bowery/a/1": "80.00"}, credit="20.00")
    report = aging_report(history.ledger(), AS_OF)
    assert [(r.client, r.total, r.credit) for r in report.rows] == [
        ("acme", Decimal("100.00"), 0), ("bowery", 0, Decimal("20.00"))]
    assert (report.totals[0].total, report.totals[0].credit) == (Decimal("100.00"),
                                                                 Decimal("20.00"))


CURRENCIES = {"USD": 2, "EUR": 2, "JPY": 0}


@st.composite
def histories(draw):
    """A random history: invoices in three currencies, partial payments, some voids."""
    invoices = []
    for n in range(draw(st.integers(0, 12))):
        currency = draw(st.sampled_from(sorted(CURRENCIES)))
        cents = draw(st.integers(1, 10**7))
        total = Decimal(cents).scaleb(-CURRENCIES[currency])
        issued = D("2026-01-01") + timedelta(days=draw(st.integers(0, 200)))
        due = issued + timedelta(days=draw(st.sampled_from([0, 15, 30, 45])))
        paid = []
        left = cents
        for p in range(draw(st.integers(0, 3))):
            share = draw(st.integers(0, left))
            left -= share
            when = issued + timedelta(days=draw(st.integers(0, 150)))
            paid.append((f"p{n}-{p}", when, Decimal(share).scaleb(-CURRENCIES[currency])))
        void = None
        if not paid and draw(st.booleans()):
            void = issued + timedelta(days=draw(st.integers(0, 100)))
        client = draw(st.sampled_from(["acme", "bowery", "kumo"]))
        invoices.append((f"{client}/e/{n}", currency, total, issued, due, paid, void))
    return invoices, D("2026-01-01") + timedelta(days=draw(st.integers(0, 300)))


@settings(max_examples=150, deadline=None)
@given(histories())
def test_aging_totals_equal_the_open_balances(new_history, case):
    invoices, as_of = case
    history = new_history()
    expected: dict[str, Decimal] = defaultdict(Decimal)
    for invoice, currency, total, issued, due, paid, void in invoices:
        history.invoice(invoice, issued.isoformat(), due=due.isoformat(), total=str(total),
                        currency=currency)
        for payment, when, amount in paid:
            history.pay(payment, when.isoformat(), {invoice: str(amount)}, currency=currency)
        if void is not None:
            history.void(invoice, f"{void.isoformat()} 12:00")
        open_now = issued <= as_of and (void is None or void > as_of)
        if open_now:
            expected[currency] += total - sum((a for _, w, a in paid if w <= as_of), Decimal(0))
    report = aging_report(history.ledger(), as_of)
    totals = {row.currency: row.total for row in report.totals}
    assert totals == {c: amount for c, amount in expected.items() if amount}
    for row in (*report.rows, *report.totals):
        assert sum(row.buckets, Decimal(0)) == row.total
    for currency, total in totals.items():
        assert sum(r.total for r in report.rows if r.currency == currency) == total
        assert sum(i.balance for i in report.invoices if i.currency == currency) == total
