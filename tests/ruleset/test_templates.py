"""Tests for message templates: load-time checks, sandboxed rendering, the built-ins."""

from __future__ import annotations

import dataclasses
from datetime import date
from decimal import Decimal

import jinja2
import pytest

from engine.ruleset import templates
from engine.ruleset.templates import (
    BUILTIN_MESSAGES,
    ENVIRONMENT,
    CompiledTemplate,
    RenderedMessage,
    TemplateError,
    compile_template,
    load_builtin_templates,
)
from engine.ruleset.vocabulary import MESSAGE_VARIABLES


def rejected(subject: str = "Hello", body: str = "", **kwargs: object) -> TemplateError:
    with pytest.raises(TemplateError) as caught:
        compile_template("t", subject, body, **kwargs)  # type: ignore[arg-type]
    return caught.value


def invoice(**overrides: object) -> dict[str, object]:
    values: dict[str, object] = {
        "id": "acme/social/2026-03",
        "number": "NW-2026-00042",
        "status": "issued",
        "client": "acme",
        "engagement": "social",
        "currency": "USD",
        "subtotal": Decimal("12000.00"),
        "tax": Decimal("1065.00"),
        "total": Decimal("13065.00"),
        "balance": Decimal("13065.00"),
        "issue_date": date(2026, 3, 1),
        "due_date": date(2026, 3, 16),
        "days_overdue": 35,
        "period": {"start": date(2026, 3, 1), "end": date(2026, 3, 31)},
        "lines": [
            {
                "description": "Social media retainer, March 2026",
                "quantity": Decimal("1"),
                "unit_price": Decimal("12000.00"),
                "amount": Decimal("12000.00"),
            }
        ],
        "total_display": "13,065.00 USD",
        "balance_display": "13,065.00 USD",
    }
    values.update(overrides)
    return values


def full_context(**overrides: object) -> dict[str, object]:
    values: dict[str, object] = {
        "invoice": invoice(),
        "client": {"id": "acme", "name": "Acme Outdoor Co.", "currency": "USD"},
        "contact": {"name": "Accounts Payable", "email": "ap@acme.example"},
        "agency": {
            "id": "northwind",
            "name": "Northwind Creative",
            "timezone": "America/New_York",
            "currency": "USD",
            "payment_instructions": "Pay by ACH to Northwind Creative, account 000123.",
            "address": "1 Main St, New York, NY",
        },
        "approver": {"id": "dana", "name": "Dana Ortiz", "email": "dana@northwind.example"},
        "approval_url": "https://billing.northwind.example/approve/tok123",
        "supporting": [{"person": "sam", "hours": "2.5"}, {"person": "dana", "hours": "1"}],
        "warnings": ["over_cap"],
        "step": {"id": "due", "offset": "0d", "template": "due_today"},
        "escalation": {"rule": "over-30", "days_overdue": 35, "notify": ["sam", "dana"]},
        "late_fee_invoice": None,
        "today": date(2026, 4, 20),
    }
    values.update(overrides)
    return values


def test_public_api_is_guarded() -> None:
    assert set(templates.__all__) == {
        "TemplateError",
        "RenderedMessage",
        "CompiledTemplate",
        "compile_template",
        "load_builtin_templates",
        "BUILTIN_MESSAGES",
        "ENVIRONMENT",
    }


# --- load-time checks ----------------------------------------------------------------------


def test_a_valid_template_lists_its_variables() -> None:
    compiled = compile_template(
        "nudge",
        "Invoice {{ invoice.number }} is due on {{ invoice.due_date }}",
        "Hello {{ contact.name }},\n{{ invoice.balance }} {{ invoice.currency }}\n",
    )
    assert compiled == CompiledTemplate(
        id="nudge",
        subject_source="Invoice {{ invoice.number }} is due on {{ invoice.due_date }}",
        body_source="Hello {{ contact.name }},\n{{ invoice.balance }} {{ invoice.currency }}\n",
        variables=frozenset({"invoice", "contact"}),
    )
    with pytest.raises(dataclasses.FrozenInstanceError):
        compiled.id = "other"  # type: ignore[misc]


def test_misspelt_variable_is_rejected_with_its_line() -> None:
    error = rejected(body="Hello {{ contact.name }},\n\nInvoice {{ invoce.number }} is due.\n")
    assert error.message == "unknown variable 'invoce' (did you mean 'invoice'?)"
    assert (error.line, error.field) == (3, "body")
    assert str(error) == "body line 3: unknown variable 'invoce' (did you mean 'invoice'?)"


def test_misspelt_attribute_is_rejected_with_its_line() -> None:
    error = rejected(body="Hello,\n{{ invoice.number }}\n{{ invoice.numbr }}\n")
    assert error.message == "unknown variable 'invoice.numbr' (did you mean 'invoice.number'?)"
    assert (error.line, error.field) == (3, "body")


def test_misspelt_attribute_in_the_subject() -> None:
    error = rejected(subject="Invoice {{ invoice['numbr'] }}")
    assert error.message == "unknown variable 'invoice.numbr' (did you mean 'invoice.number'?)"
    assert (error.line, error.field) == (1, "subject")


def test_unknown_attribute_without_a_close_match_lists_the_fields() -> None:
    error = rejected(body="{{ contact.phone }}")
    assert error.message == "unknown variable 'contact.phone'; contact has: email, name"


def test_nested_fields_are_checked() -> None:
    error = rejected(body="{{ invoice.period.strat }}")
    assert error.message == (
        "unknown variable 'invoice.period.strat' (did you mean 'invoice.period.start'?)"
    )
    compile_template("t", "s", "{{ invoice.period.start }} {{ late_fee_invoice.period.end }}")


def test_lines_loop_items_are_checked_against_line_fields() -> None:
    body = "{% for line in invoice.lines %}\n{{ line.description }}: {{ line.amout }}\n{% endfor %}"
    error = rejected(body=body)
    assert error.message == "unknown variable 'line.amout' (did you mean 'line.amount'?)"
    assert error.line == 2
    fine = "{% for line in invoice.lines %}{{ line.amount }} {{ loop.index }}{% endfor %}"
    assert compile_template("t", "s", fine).variables == frozenset({"invoice"})


def test_names_bound_in_the_template_are_not_reported() -> None:
    body = (
        "{% set greeting = 'Hello' %}{{ greeting }}\n"
        "{% for warning in warnings %}{{ warning.code }}{% endfor %}\n"
        "{% with who = contact %}{{ who.anything }}{% endwith %}\n"
        "{% macro row(label, value) %}{{ label }}: {{ value }}{% endmacro %}"
        "{{ row('Total', invoice.total) }}\n"
        "{% set ns = namespace(count=0) %}{{ ns.count }} {{ range(3)|list }}\n"
    )
    compiled = compile_template("t", "s", body)
    assert compiled.variables == frozenset({"warnings", "contact", "invoice"})


def test_methods_of_plain_fields_stay_usable() -> None:
    compiled = compile_template("t", "s", "{{ invoice.due_date.strftime('%d.%m.%Y') }}")
    assert compiled.render({"invoice": {"due_date": date(2026, 3, 16)}}).body == "16.03.2026"


def test_syntax_error_has_its_line() -> None:
    error = rejected(body="Hello {{ contact.name }},\n\n{% if invoice.total %}\nDue.\n")
    assert error.line == 4 and "'endif'" in error.message
    error = rejected(body="a\nb\n{% for line in %}\nc\n{% endfor %}\n")
    assert error.line == 3 and error.field == "body"
    error = rejected(body="Line one\n{{ invoice.number }\n")
    assert error.line == 2 and error.field == "body"


def test_unknown_filter_has_its_line() -> None:
    error = rejected(subject="ok", body="a\nb\n{{ invoice.total|currency }}")
    assert "No filter named 'currency'" in error.message
    assert error.line == 3


def test_include_and_import_are_rejected() -> None:
    assert "'include' is not available" in rejected(body="{% include 'footer' %}").message
    assert "'import' is not available" in rejected(body="{% import 'm' as m %}").message
    assert "'extends' is not available" in rejected(body="{% extends 'base' %}").message


def test_underscore_attributes_are_rejected_at_load() -> None:
    for body in (
        "{{ ''.__class__ }}",
        "{{ invoice.number.__class__ }}",
        "{{ invoice._id }}",
        "{{ warnings['__len__'] }}",
    ):
        assert "is not allowed" in rejected(body=body).message


def test_provided_limits_variables_to_what_the_action_supplies() -> None:
    error = rejected(
        body="Hi {{ contact.name }},\n{{ approval_url }}", provided=MESSAGE_VARIABLES["reminder"]
    )
    assert error.message.startswith("variable 'approval_url' is not available in this message")
    assert error.line == 2


# --- rendering -----------------------------------------------------------------------------


def test_render_produces_subject_and_body() -> None:
    compiled = compile_template(
        "nudge",
        "Invoice {{ invoice.number }} is due on {{ invoice.due_date }}",
        "Hello {{ contact.name }},\n{{ invoice.balance }} {{ invoice.currency }}\n",
    )
    message = compiled.render(full_context())
    assert message == RenderedMessage(
        subject="Invoice NW-2026-00042 is due on 2026-03-16",
        body="Hello Accounts Payable,\n13065.00 USD\n",
    )


def test_missing_variable_at_render_time_is_an_error() -> None:
    compiled = compile_template("t", "Hi", "line one\n{{ contact.name }}\n")
    with pytest.raises(TemplateError) as caught:
        compiled.render({"invoice": invoice()})
    assert "contact" in caught.value.message
    assert (caught.value.line, caught.value.field) == (2, "body")


def test_missing_field_at_render_time_is_an_error() -> None:
    compiled = compile_template("t", "Invoice {{ invoice.number }}", "")
    with pytest.raises(TemplateError) as caught:
        compiled.render({"invoice": {}})
    assert "number" in caught.value.message
    assert caught.value.field == "subject"


def test_printing_none_is_an_error() -> None:
    compiled = compile_template("t", "s", "Hello {{ contact.name }}")
    with pytest.raises(TemplateError, match="None"):
        compiled.render({"contact": {"name": None}})
    guarded = compile_template("t", "s", "Hello {{ contact.name or 'there' }}")
    assert guarded.render({"contact": {"name": None}}).body == "Hello there"


def test_subject_is_one_line() -> None:
    compiled = compile_template("t", "Invoice for {{ client.name }}", "")
    message = compiled.render({"client": {"name": "Acme\r\nBcc: evil@example.com"}})
    assert message.subject == "Invoice for Acme Bcc: evil@example.com"


def test_sandbox_blocks_dunder_access_at_render_time() -> None:
    with pytest.raises(jinja2.exceptions.SecurityError):
        ENVIRONMENT.from_string("{{ ''.__class__ }}").render()
    compiled = compile_template("t", "s", "{{ invoice.number|attr('__class__') }}")
    with pytest.raises(TemplateError, match="unsafe"):
        compiled.render({"invoice": {"number": "x"}})


def test_sandbox_is_immutable() -> None:
    compiled = compile_template("t", "s", "{{ warnings.append('x') }}")
    warnings: list[str] = []
    with pytest.raises(TemplateError, match="unsafe"):
        compiled.render({"warnings": warnings})
    assert warnings == []


def test_money_and_longdate_filters() -> None:
    compiled = compile_template(
        "t",
        "s",
        "{{ invoice.total|money(invoice.currency) }}|{{ invoice.tax|money }}|"
        "{{ invoice.due_date|longdate }}",
    )
    ctx = {"invoice": {"total": Decimal("1234567.50"), "tax": "0.00", "currency": "USD",
                       "due_date": date(2026, 3, 1)}}
    assert compiled.render(ctx).body == "1,234,567.50 USD|0.00|1 March 2026"
    jpy = {"invoice": {"total": Decimal("1235"), "tax": Decimal("0"), "currency": "JPY",
                       "due_date": "2026-12-31"}}
    assert compiled.render(jpy).body == "1,235 JPY|0|31 December 2026"
    with pytest.raises(TemplateError, match="money takes a Decimal"):
        compiled.render({"invoice": {**ctx["invoice"], "total": 1.5}})


def test_compiled_templates_are_cached_by_source() -> None:
    body = "cached {{ invoice.id }}"
    compile_template("a", "s", body)
    compile_template("b", "s", body)
    assert templates._JINJA_CACHE[body] is templates._jinja_template(body)


# --- built-in templates --------------------------------------------------------------------


@pytest.fixture(scope="module")
def builtins() -> dict[str, CompiledTemplate]:
    return load_builtin_templates()


def test_every_builtin_loads_and_uses_only_what_its_action_provides(
    builtins: dict[str, CompiledTemplate],
) -> None:
    assert set(builtins) == {
        "invoice",
        "approval_request",
        "friendly_nudge",
        "due_today",
        "overdue",
        "escalation",
    }
    assert set(BUILTIN_MESSAGES) == set(builtins)
    for template_id, compiled in builtins.items():
        assert compiled.id == template_id
        assert compiled.variables <= MESSAGE_VARIABLES[BUILTIN_MESSAGES[template_id]]


@pytest.mark.parametrize("template_id", sorted(BUILTIN_MESSAGES))
def test_every_builtin_renders_with_only_its_actions_variables(
    builtins: dict[str, CompiledTemplate], template_id: str
) -> None:
    provided = MESSAGE_VARIABLES[BUILTIN_MESSAGES[template_id]]
    ctx = {name: value for name, value in full_context().items() if name in provided}
    message = builtins[template_id].render(ctx)
    assert message.subject and "\n" not in message.subject
    assert message.body.endswith("\n") and not message.body.endswith("\n\n\n")
    assert "None" not in message.body and "{{" not in message.body
    assert "\n\n\n" not in message.body  # block tags leave no stray blank lines


def test_invoice_mail(builtins: dict[str, CompiledTemplate]) -> None:
    message = builtins["invoice"].render(full_context())
    assert message.subject == "Invoice NW-2026-00042 from Northwind Creative"
    assert message.body.startswith("Hello Accounts Payable,\n")
    for text in (
        "Social media retainer, March 2026: 12,000.00 USD",
        "Subtotal: 12,000.00 USD",
        "Tax: 1,065.00 USD",
        "Total due: 13,065.00 USD",
        "Due date: 16 March 2026",
        "1 March 2026 to 31 March 2026",
        "Pay by ACH to Northwind Creative, account 000123.",
        "Northwind Creative\n",
    ):
        assert text in message.body


def test_invoice_mail_without_tax_period_or_instructions(
    builtins: dict[str, CompiledTemplate],
) -> None:
    ctx = full_context(
        invoice=invoice(tax=Decimal("0.00"), period=None, total=Decimal("12000.00")),
        agency={"id": "n", "name": "Northwind Creative", "timezone": "UTC", "currency": "USD",
                "payment_instructions": None, "address": None},
    )
    body = builtins["invoice"].render(ctx).body
    assert "Tax:" not in body and "for 1 March" not in body and "ACH" not in body
    assert "Total due: 12,000.00 USD" in body


def test_approval_request(builtins: dict[str, CompiledTemplate]) -> None:
    message = builtins["approval_request"].render(full_context(invoice=invoice(number=None)))
    assert message.subject == "Approval needed: Acme Outdoor Co. invoice draft for 13,065.00 USD"
    for text in (
        "Hello Dana Ortiz,",
        "Draft: acme/social/2026-03",
        "Total: 13,065.00 USD",
        "- over_cap",
        "2 supporting entries are attached.",
        "https://billing.northwind.example/approve/tok123",
    ):
        assert text in message.body
    quiet = builtins["approval_request"].render(full_context(warnings=[], supporting=[]))
    assert "Please check" not in quiet.body and "supporting" not in quiet.body


def test_reminders(builtins: dict[str, CompiledTemplate]) -> None:
    nudge = builtins["friendly_nudge"].render(full_context())
    assert nudge.subject == "Reminder: invoice NW-2026-00042 is due on 16 March 2026"
    assert "13,065.00 USD is due on 16 March 2026" in nudge.body

    due = builtins["due_today"]
    assert due.render(full_context(today=date(2026, 3, 16))).subject == (
        "Invoice NW-2026-00042 is due today"
    )
    # A step moved off a weekend does not claim the invoice is due "today".
    assert due.render(full_context(today=date(2026, 3, 17))).subject == (
        "Invoice NW-2026-00042 is due on 16 March 2026"
    )

    overdue = builtins["overdue"].render(full_context(invoice=invoice(days_overdue=7)))
    assert overdue.subject == "Invoice NW-2026-00042 is overdue"
    assert "open balance of 13,065.00 USD" in overdue.body
    assert "due on 16 March 2026 (7 days ago)" in overdue.body
    one = builtins["overdue"].render(full_context(invoice=invoice(days_overdue=1)))
    assert "(1 day ago)" in one.body


def test_escalation(builtins: dict[str, CompiledTemplate]) -> None:
    message = builtins["escalation"].render(full_context())
    assert message.subject == (
        "Escalation: Acme Outdoor Co. invoice NW-2026-00042 is 35 days overdue"
    )
    assert "Open balance: 13,065.00 USD" in message.body
    assert 'escalation rule "over-30"' in message.body
    assert "late-fee" not in message.body
    fee = invoice(id="acme/late-fee/NW-2026-00042", total=Decimal("195.98"), number=None)
    with_fee = builtins["escalation"].render(full_context(late_fee_invoice=fee))
    assert "late-fee invoice of 195.98 USD (acme/late-fee/NW-2026-00042)" in with_fee.body
