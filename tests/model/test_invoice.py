"""Invoices: the JSON of an invoice after a status change is what rendering it afresh gives."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from engine.model.invoice import Invoice, make_line

D = Decimal


def _draft(currency: str = "USD") -> Invoice:
    lines = (make_line("Design", D("12.5"), D("150.00"), currency),
             make_line("Strategy", D("0.333"), D("175.125"), currency))
    return Invoice.draft(id="acme/web/2026-02", client="acme", engagement="web",
                         currency=currency, lines=lines, tax_rate=D("8.875"), tax_label="Tax",
                         trigger="billing_day", period_start=date(2026, 2, 1),
                         period_end=date(2026, 2, 28))


def _afresh(invoice: Invoice) -> list[tuple[str, object]]:
    copy = invoice.replace()
    copy.forget_rendering()
    return list(copy.as_json().items())


@pytest.mark.parametrize("changes", [
    {"status": "awaiting_approval"},
    {"status": "issued", "number": "INV-7", "issue_date": date(2026, 3, 1),
     "due_date": date(2026, 3, 31)},
    {"balance": D("100.005"), "status": "issued"},
    {"balance": D(0), "status": "paid"},
    {"status": "voided", "balance": D(0)},
    {"warnings": ("over_cap",)},
])
@pytest.mark.parametrize("currency", ["USD", "JPY"])
def test_a_changed_invoice_shows_as_rendering_it_afresh_would(changes, currency) -> None:
    draft = _draft(currency)
    draft.as_json()  # rendered once: a copy may start from this rendering
    changed = draft.replace(**changes)
    assert list(changed.as_json().items()) == _afresh(changed)
    assert draft.as_json()["status"] == "draft"  # the original's rendering is left alone


def test_a_draft_shows_its_balance_as_its_total() -> None:
    shown = _draft().as_json()
    assert shown["balance"] == shown["total"] == "2104.90"
    assert [line["unit_price"] for line in shown["lines"]] == ["150.00", "175.125"]


def test_the_cached_rendering_is_not_part_of_the_invoice() -> None:
    shown = _draft()
    fresh = shown.replace()
    shown.as_json()  # cached on `shown` only
    assert shown == fresh and hash(shown) == hash(fresh)
    assert "_rendering" not in repr(shown)
    assert not hasattr(shown, "__dict__")  # slotted, as its lines are
    assert not hasattr(shown.lines[0], "__dict__")
