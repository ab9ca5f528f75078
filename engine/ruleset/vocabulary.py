"""Catalog the names that conditions and templates may use.

This module is the one place that says which names exist. The condition compiler
(`expressions`) and the template checker (`templates`) both read it, so a field added here is
usable everywhere at once, and a misspelt name is caught when the rules load.

Conditions (`when:`) see four roots, each a group of fields written `root.field`, plus two bare
names and five functions:

    invoice.*  client.*  engagement.*  payment.*  now (aware datetime)  today (date)
    days_between(a, b)  len(x)  abs(x)  min(...)  max(...)

Templates see the variables in `TEMPLATE_ROOTS`. Which of them a message can use depends on the
action that sends it (`MESSAGE_VARIABLES`):

    message            action                 variables
    approval_request   approval.requested     invoice, client, agency, approver, approval_url,
                                              supporting, warnings, today
    invoice            invoice.issued         invoice, client, contact, agency, today
    reminder           reminder.sent          invoice, client, contact, agency, step, today
    escalation         escalation.triggered   invoice, client, agency, escalation,
                                              late_fee_invoice, today

`today` (the agency-local date of sending) is in every message because the clock is always
known. `supporting` and `warnings` are always lists (possibly empty) and `late_fee_invoice` is
always present (None when the rule charges no late fee), so `{% if late_fee_invoice %}` works
under strict undefined names. `payment` is catalogued for payment messages; no message above
provides it yet.

In a template, `invoice.period` has the fields in `PERIOD_FIELDS` and each item of
`invoice.lines` the fields in `INVOICE_LINE_FIELDS`; the template checker verifies both.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

__all__ = [
    "CONDITION_ROOTS",
    "CONDITION_BARE_NAMES",
    "CONDITION_FUNCTIONS",
    "INVOICE_LINE_FIELDS",
    "PERIOD_FIELDS",
    "TEMPLATE_ROOTS",
    "TEMPLATE_NESTED_FIELDS",
    "MESSAGE_VARIABLES",
    "condition_names",
]

_INVOICE_FIELDS = frozenset(
    {
        "id",
        "number",
        "status",
        "client",
        "engagement",
        "currency",
        "subtotal",
        "tax",
        "total",
        "balance",
        "issue_date",
        "due_date",
        "days_overdue",
        "period_start",
        "period_end",
        "trigger",
        "line_count",
        "is_first",
        "warnings",
    }
)

_PAYMENT_FIELDS = frozenset({"amount", "currency", "date", "reference", "payer"})

CONDITION_ROOTS: Mapping[str, frozenset[str]] = MappingProxyType(
    {
        "invoice": _INVOICE_FIELDS,
        "client": frozenset(
            {
                "id",
                "name",
                "currency",
                "account_lead",
                "payment_terms",
                "tax_rate",
                "tax_exempt",
                "open_balance",
            }
        ),
        "engagement": frozenset(
            {
                "id",
                "model",
                "amount",
                "fee",
                "cap",
                "included_hours",
                "overage_rate",
                "cadence",
            }
        ),
        "payment": _PAYMENT_FIELDS,
    }
)

CONDITION_BARE_NAMES: frozenset[str] = frozenset({"now", "today"})

CONDITION_FUNCTIONS: frozenset[str] = frozenset({"days_between", "len", "abs", "min", "max"})

INVOICE_LINE_FIELDS: frozenset[str] = frozenset({"description", "quantity", "unit_price", "amount"})

PERIOD_FIELDS: frozenset[str] = frozenset({"start", "end"})

# Templates read the invoice through the same catalog as conditions, plus what only prose
# needs: the lines, the period as one object, and preformatted amounts.
_TEMPLATE_INVOICE_FIELDS = _INVOICE_FIELDS | {"lines", "period", "total_display", "balance_display"}

# None marks a variable that is a value or a list, not a group of named fields.
TEMPLATE_ROOTS: Mapping[str, frozenset[str] | None] = MappingProxyType(
    {
        "invoice": _TEMPLATE_INVOICE_FIELDS,
        "client": frozenset({"id", "name", "currency"}),
        "contact": frozenset({"name", "email"}),
        "agency": frozenset(
            {"id", "name", "timezone", "currency", "payment_instructions", "address"}
        ),
        "approver": frozenset({"id", "name", "email"}),
        "approval_url": None,
        "step": frozenset({"id", "offset", "template"}),
        "escalation": frozenset({"rule", "days_overdue", "notify"}),
        "payment": _PAYMENT_FIELDS,
        "supporting": None,
        "warnings": None,
        "late_fee_invoice": _TEMPLATE_INVOICE_FIELDS,
        "today": None,
    }
)

# Fields of a template variable's field that is itself a group of fields, by field name.
# (The items of `invoice.lines` are reached through a loop: see INVOICE_LINE_FIELDS.)
TEMPLATE_NESTED_FIELDS: Mapping[str, frozenset[str]] = MappingProxyType({"period": PERIOD_FIELDS})

MESSAGE_VARIABLES: Mapping[str, frozenset[str]] = MappingProxyType(
    {
        "approval_request": frozenset(
            {
                "invoice",
                "client",
                "agency",
                "approver",
                "approval_url",
                "supporting",
                "warnings",
                "today",
            }
        ),
        "invoice": frozenset({"invoice", "client", "contact", "agency", "today"}),
        "reminder": frozenset({"invoice", "client", "contact", "agency", "step", "today"}),
        "escalation": frozenset(
            {"invoice", "client", "agency", "escalation", "late_fee_invoice", "today"}
        ),
    }
)


def condition_names() -> frozenset[str]:
    """Return every name a condition may read: dotted fields and bare names."""
    dotted = {f"{root}.{field}" for root, fields in CONDITION_ROOTS.items() for field in fields}
    return frozenset(dotted) | CONDITION_BARE_NAMES
