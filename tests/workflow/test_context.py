"""The values conditions read: only the invoice fields the conditions name may be built, and
each is the value the whole set of fields holds."""

from __future__ import annotations

from datetime import date, datetime, timezone
from decimal import Decimal

from engine.model.invoice import Invoice, make_line
from engine.ruleset.expressions import compile_condition
from engine.ruleset.vocabulary import CONDITION_ROOTS
from engine.workflow.context import condition_fields, condition_roots, invoice_fields

DUE = date(2026, 3, 31)


def _issued() -> Invoice:
    line = make_line("Design sprint", Decimal(2), Decimal("1250.00"), "USD")
    draft = Invoice.draft(id="acme/web/2026-02", client="acme", engagement="web", currency="USD",
                          lines=(line,), tax_rate=None, tax_label=None, trigger="schedule",
                          period_start=date(2026, 2, 1), period_end=date(2026, 2, 28),
                          warnings=("rate_missing",))
    return draft.replace(status="issued", number="TS-2026-0001", issue_date=date(2026, 3, 1),
                         due_date=DUE)


def test_the_fields_named_are_the_fields_of_the_whole_set() -> None:
    invoice = _issued()
    for today, is_first in ((date(2026, 4, 5), True), (date(2026, 5, 1), False)):
        whole = invoice_fields(invoice, today, is_first)
        assert set(whole) == CONDITION_ROOTS["invoice"]
        assert invoice_fields(invoice, today, is_first, sorted(whole)) == whole
        assert invoice_fields(invoice, today, is_first, ["days_overdue"]) == {
            "days_overdue": (today - DUE).days}


def test_condition_fields_are_the_fields_of_a_root_the_conditions_name() -> None:
    conditions = [compile_condition("invoice.days_overdue > 30 and client.open_balance > 0"),
                  compile_condition("len(invoice.warnings) > 0 or today > invoice.due_date"),
                  None]
    assert condition_fields(conditions, "invoice") == {"days_overdue", "warnings", "due_date"}
    assert condition_fields(conditions, "engagement") == frozenset()
    assert condition_roots(conditions) == {"invoice", "client", "today"}


def test_a_condition_reads_the_same_from_the_fields_it_names() -> None:
    invoice = _issued()
    today, now = date(2026, 5, 1), datetime(2026, 5, 1, 4, tzinfo=timezone.utc)
    condition = compile_condition("invoice.days_overdue > 30 and invoice.balance >= 2500")
    names = condition_fields([condition], "invoice")
    for fields in (invoice_fields(invoice, today, False),
                   invoice_fields(invoice, today, False, names)):
        assert condition.evaluate({"invoice": fields, "today": today, "now": now})
