"""The ledger: one record per invoice folded from the actions, balances as of any day."""

from __future__ import annotations

import json
from datetime import date, timedelta
from decimal import Decimal

import engine.reports
from engine.model.actions import dump_action
from engine.reports import ledger as ledger_module
from engine.reports.ledger import build_ledger

D = date.fromisoformat


def test_public_names_are_exported():
    for name in ledger_module.__all__:
        if name != "CREDIT_PREFIX":
            assert name in engine.reports.__all__


def test_partial_payments_count_by_their_own_date(history):
    history.invoice("acme/site/design", "2026-03-02", due="2026-04-01", total="1000.00")
    history.pay("p1", "2026-03-20", {"acme/site/design": "400.00"})
    history.pay("p2", "2026-04-10", {"acme/site/design": "100.00"})
    record = history.ledger().get("acme/site/design")
    assert record.balance_as_of(D("2026-03-19")) == Decimal("1000.00")
    assert record.balance_as_of(D("2026-03-20")) == Decimal("600.00")
    assert record.balance_as_of(D("2026-04-09")) == Decimal("600.00")
    assert record.balance_as_of(D("2026-04-10")) == Decimal("500.00")
    assert record.paid_in_full_on() is None


def test_nothing_is_owed_before_issue_or_after_a_void(history):
    history.invoice("acme/care/2026-03", "2026-03-02", due="2026-04-01")
    history.void("acme/care/2026-03", "2026-03-10 15:00")
    record = history.ledger().get("acme/care/2026-03")
    assert record.balance_as_of(D("2026-03-01")) == 0
    assert record.balance_as_of(D("2026-03-09")) == Decimal("100.00")
    assert record.balance_as_of(D("2026-03-10")) == 0
    assert record.paid_in_full_on() is None


def test_paid_in_full_on_the_payment_that_closed_the_balance(history):
    history.invoice("acme/care/2026-03", "2026-03-02", due="2026-04-01", total="300.00")
    history.pay("p2", "2026-03-25", {"acme/care/2026-03": "200.00"})
    history.pay("p1", "2026-03-05", {"acme/care/2026-03": "100.00"})
    assert history.ledger().get("acme/care/2026-03").paid_in_full_on() == D("2026-03-25")


def test_client_credit_is_a_payment_and_a_credit_movement(history):
    history.invoice("acme/care/2026-03", "2026-03-02", due="2026-04-01")
    history.pay("p1", "2026-03-10", {"acme/care/2026-03": "100.00"}, credit="40.00")
    history.invoice("acme/care/2026-04", "2026-04-01", due="2026-05-01")
    history.pay("credit:acme/care/2026-04", "2026-04-01", {"acme/care/2026-04": "40.00"})
    ledger = history.ledger()
    assert ledger.credit_as_of(D("2026-03-09")) == {}
    assert ledger.credit_as_of(D("2026-03-31")) == {("acme", "USD"): Decimal("40.00")}
    assert ledger.credit_as_of(D("2026-04-01")) == {}
    assert ledger.get("acme/care/2026-04").balance_as_of(D("2026-04-01")) == Decimal("60.00")


def test_approval_history_and_auto_approval(history):
    history.draft("acme/site/design", "2026-03-06 16:00", trigger="milestone")
    history.request("acme/site/design", "2026-03-06 16:00", approver="sam")
    history.request("acme/site/design", "2026-03-07 09:00", approver="dana")
    history.issue("acme/site/design", "2026-03-09 15:00", due="2026-04-08")
    history.invoice("acme/care/2026-03", "2026-03-02", due="2026-04-01")
    ledger = history.ledger()
    waited = ledger.get("acme/site/design")
    assert waited.trigger == "milestone"
    assert waited.approver == "dana"
    assert not waited.auto_approved
    # Across the DST change of 2026-03-08 the wait is 70 hours, not the wall clock's 71.
    assert waited.issued_at - waited.requested_at == timedelta(hours=70)
    assert ledger.get("acme/care/2026-03").auto_approved


def test_a_voided_draft_drafted_again_starts_a_fresh_record(history):
    history.draft("acme/site/design", "2026-03-06 16:00", total="4000.00", trigger="milestone")
    history.void("acme/site/design", "2026-03-07 10:00")
    history.draft("acme/site/design", "2026-03-20 10:00", total="3500.00", trigger="milestone")
    history.issue("acme/site/design", "2026-03-20 11:00", due="2026-04-19")
    ledger = history.ledger()
    assert len(ledger.invoices) == 2
    record = ledger.get("acme/site/design")
    assert record.voided_at is None and record.total == Decimal("3500.00")
    assert record.balance_as_of(D("2026-03-31")) == Decimal("3500.00")


def test_json_actions_fold_like_action_objects(history):
    history.invoice("acme/care/2026-03", "2026-03-02", due="2026-04-01")
    history.pay("p1", "2026-03-10", {"acme/care/2026-03": "60.00"})
    history.void("acme/care/2026-03", "2026-03-11 09:00")
    as_json = [json.loads(dump_action(action)) for action in history.actions]
    assert build_ledger(as_json) == history.ledger()


def test_settled_by_remembers_which_invoices_a_payment_settled(history):
    history.invoice("acme/care/2026-03", "2026-03-02", due="2026-04-01")
    history.invoice("acme/care/2026-04", "2026-04-01", due="2026-05-01")
    history.pay("p1", "2026-04-10", {"acme/care/2026-03": "100.00", "acme/care/2026-04": "50.00"})
    assert history.ledger().settled_by["p1"] == ("acme/care/2026-03", "acme/care/2026-04")
