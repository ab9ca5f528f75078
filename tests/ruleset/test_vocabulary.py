"""Tests for the catalog of names conditions and templates may use."""

from __future__ import annotations

import pytest

from engine.ruleset import vocabulary
from engine.ruleset.expressions import FUNCTIONS
from engine.ruleset.vocabulary import (
    CONDITION_BARE_NAMES,
    CONDITION_FUNCTIONS,
    CONDITION_ROOTS,
    INVOICE_LINE_FIELDS,
    MESSAGE_VARIABLES,
    PERIOD_FIELDS,
    TEMPLATE_NESTED_FIELDS,
    TEMPLATE_ROOTS,
    condition_names,
)


def test_public_api_is_guarded() -> None:
    assert set(vocabulary.__all__) == {
        "CONDITION_ROOTS",
        "CONDITION_BARE_NAMES",
        "CONDITION_FUNCTIONS",
        "INVOICE_LINE_FIELDS",
        "PERIOD_FIELDS",
        "TEMPLATE_ROOTS",
        "TEMPLATE_NESTED_FIELDS",
        "MESSAGE_VARIABLES",
        "condition_names",
    }
    for name in vocabulary.__all__:
        assert hasattr(vocabulary, name)


def test_condition_roots() -> None:
    assert set(CONDITION_ROOTS) == {"invoice", "client", "engagement", "payment"}
    assert CONDITION_ROOTS["invoice"] == {
        "id", "number", "status", "client", "engagement", "currency", "subtotal", "tax",
        "total", "balance", "issue_date", "due_date", "days_overdue", "period_start",
        "period_end", "trigger", "line_count", "is_first", "warnings",
    }  # fmt: skip
    assert CONDITION_ROOTS["client"] == {
        "id", "name", "currency", "account_lead", "payment_terms", "tax_rate", "tax_exempt",
        "open_balance",
    }  # fmt: skip
    assert CONDITION_ROOTS["engagement"] == {
        "id", "model", "amount", "fee", "cap", "included_hours", "overage_rate", "cadence",
    }  # fmt: skip
    assert CONDITION_ROOTS["payment"] == {"amount", "currency", "date", "reference", "payer"}
    assert CONDITION_BARE_NAMES == {"now", "today"}


def test_functions_catalogued_are_the_functions_implemented() -> None:
    assert CONDITION_FUNCTIONS == set(FUNCTIONS)
    assert CONDITION_FUNCTIONS == {"days_between", "len", "abs", "min", "max"}


def test_condition_names_are_dotted_fields_and_bare_names() -> None:
    names = condition_names()
    assert "invoice.total" in names and "payment.payer" in names and "today" in names
    assert "invoice" not in names
    assert len(names) == sum(len(f) for f in CONDITION_ROOTS.values()) + 2


def test_template_invoice_fields_derive_from_condition_fields() -> None:
    extras = {"lines", "period", "total_display", "balance_display"}
    assert TEMPLATE_ROOTS["invoice"] == CONDITION_ROOTS["invoice"] | extras
    assert TEMPLATE_ROOTS["late_fee_invoice"] == TEMPLATE_ROOTS["invoice"]
    assert TEMPLATE_ROOTS["payment"] == CONDITION_ROOTS["payment"]
    assert INVOICE_LINE_FIELDS == {"description", "quantity", "unit_price", "amount"}
    assert PERIOD_FIELDS == {"start", "end"} == TEMPLATE_NESTED_FIELDS["period"]


def test_template_roots() -> None:
    assert TEMPLATE_ROOTS["client"] == {"id", "name", "currency"}
    assert TEMPLATE_ROOTS["contact"] == {"name", "email"}
    assert TEMPLATE_ROOTS["agency"] == {
        "id", "name", "timezone", "currency", "payment_instructions", "address",
    }  # fmt: skip
    assert TEMPLATE_ROOTS["approver"] == {"id", "name", "email"}
    assert TEMPLATE_ROOTS["step"] == {"id", "offset", "template"}
    assert TEMPLATE_ROOTS["escalation"] == {"rule", "days_overdue", "notify"}
    for scalar in ("approval_url", "supporting", "warnings", "today"):
        assert TEMPLATE_ROOTS[scalar] is None


def test_each_message_provides_known_variables() -> None:
    assert MESSAGE_VARIABLES["approval_request"] == {
        "invoice", "client", "agency", "approver", "approval_url", "supporting", "warnings",
        "today",
    }  # fmt: skip
    assert MESSAGE_VARIABLES["invoice"] == {"invoice", "client", "contact", "agency", "today"}
    assert MESSAGE_VARIABLES["reminder"] == {
        "invoice", "client", "contact", "agency", "step", "today",
    }  # fmt: skip
    assert MESSAGE_VARIABLES["escalation"] == {
        "invoice", "client", "agency", "escalation", "late_fee_invoice", "today",
    }  # fmt: skip
    for variables in MESSAGE_VARIABLES.values():
        assert variables <= set(TEMPLATE_ROOTS)


@pytest.mark.parametrize(
    "catalog", [CONDITION_ROOTS, TEMPLATE_ROOTS, TEMPLATE_NESTED_FIELDS, MESSAGE_VARIABLES]
)
def test_catalogs_are_read_only(catalog: object) -> None:
    with pytest.raises(TypeError):
        catalog["extra"] = frozenset()  # type: ignore[index]
