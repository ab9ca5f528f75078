"""The invoice fields conditions read: the same whether the standing fields are read afresh
or kept from an earlier check, and kept only for the very invoice they were read from."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from engine.model.invoice import Invoice, make_line
from engine.workflow.context import StandingFields, invoice_fields, standing_invoice_fields

DUE = date(2026, 3, 31)


def _issued() -> Invoice:
    line = make_line("Design sprint", Decimal(2), Decimal("1250.00"), "USD")
    draft = Invoice.draft(id="acme/web/2026-02", client="acme", engagement="web", currency="USD",
                          lines=(line,), tax_rate=None, tax_label=None, trigger="schedule",
                          warnings=("rate_missing",))
    return draft.replace(status="issued", number="TS-2026-0001", issue_date=date(2026, 3, 1),
                         due_date=DUE)


def test_fields_from_kept_standing_fields_are_the_fields_read_afresh() -> None:
    invoice = _issued()
    standing = standing_invoice_fields(invoice)
    kept = dict(standing)
    for today, is_first in ((date(2026, 4, 5), True), (date(2026, 5, 1), False)):
        fields = invoice_fields(invoice, today, is_first, standing)
        assert fields == invoice_fields(invoice, today, is_first)
        assert list(fields) == list(invoice_fields(invoice, today, is_first))
        assert fields["days_overdue"] == (today - DUE).days and fields["is_first"] is is_first
    assert standing == kept  # filling in the day's fields leaves the standing ones alone


def test_standing_fields_are_read_again_for_a_changed_invoice() -> None:
    kept = StandingFields()
    invoice = _issued()
    first = kept.of(invoice)
    kept.run_done()
    assert kept.of(invoice) is first  # the same invoice object: not read again
    kept.run_done()
    paid = invoice.replace(balance=Decimal("1000.00"))
    assert kept.of(paid)["balance"] == Decimal("1000.00")


def test_a_run_keeps_only_the_invoices_it_read() -> None:
    kept = StandingFields()
    invoice = _issued()
    first = kept.of(invoice)
    kept.run_done()
    kept.run_done()  # a run that read nothing
    again = kept.of(invoice)
    assert again == first and again is not first
