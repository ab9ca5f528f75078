"""Tests for the condition expression language."""

from __future__ import annotations

import ast
import dataclasses
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal

import pytest
import simpleeval
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine.ruleset import expressions
from engine.ruleset.expressions import (
    FUNCTIONS,
    Condition,
    ExpressionError,
    compile_condition,
    days_between,
)
from engine.ruleset.vocabulary import CONDITION_ROOTS

NOW = datetime(2026, 3, 16, 9, 0, tzinfo=timezone(timedelta(hours=-4)))
TODAY = date(2026, 3, 16)


def context(**roots: dict[str, object]) -> dict[str, object]:
    base: dict[str, object] = {"now": NOW, "today": TODAY}
    base.update(roots)
    return base


def error_of(source: str) -> ExpressionError:
    with pytest.raises(ExpressionError) as caught:
        compile_condition(source)
    return caught.value


def test_public_api_is_guarded() -> None:
    assert set(expressions.__all__) == {
        "ExpressionError",
        "Condition",
        "compile_condition",
        "days_between",
        "FUNCTIONS",
    }


# --- the SPEC's examples -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("total", "expected"),
    [(Decimal("25000.00"), True), (Decimal("24999.99"), False), (Decimal("30000.01"), True)],
)
def test_approval_threshold(total: Decimal, expected: bool) -> None:
    condition = compile_condition("invoice.total >= 25000")
    assert condition.evaluate(context(invoice={"total": total})) is expected
    assert condition.names == frozenset({"invoice.total"})


@pytest.mark.parametrize(
    ("model", "total", "amount", "expected"),
    [
        ("retainer", Decimal("12000.00"), Decimal("12000.00"), True),
        ("retainer", Decimal("12000.00"), Decimal("12000"), True),
        ("retainer", Decimal("12150.00"), Decimal("12000.00"), False),
        ("time_and_materials", Decimal("12000.00"), Decimal("12000.00"), False),
    ],
)
def test_retainer_auto_approval(
    model: str, total: Decimal, amount: Decimal, expected: bool
) -> None:
    condition = compile_condition(
        "engagement.model == 'retainer' and invoice.total == engagement.amount"
    )
    ctx = context(invoice={"total": total}, engagement={"model": model, "amount": amount})
    assert condition.evaluate(ctx) is expected
    assert condition.names == frozenset({"engagement.model", "engagement.amount", "invoice.total"})


@pytest.mark.parametrize(("days", "expected"), [(30, False), (31, True), (-3, False)])
def test_escalation_threshold(days: int, expected: bool) -> None:
    condition = compile_condition("invoice.days_overdue > 30")
    assert condition.evaluate(context(invoice={"days_overdue": days})) is expected


# --- exact decimals ------------------------------------------------------------------------


def test_point_literal_compares_exactly_with_decimal() -> None:
    above = compile_condition("invoice.total > 1.5")
    equal = compile_condition("invoice.total == 1.5")
    assert above.evaluate(context(invoice={"total": Decimal("1.50")})) is False
    assert above.evaluate(context(invoice={"total": Decimal("1.51")})) is True
    assert equal.evaluate(context(invoice={"total": Decimal("1.50")})) is True


def test_point_literals_are_decimals_not_floats() -> None:
    # As floats, 0.1 + 0.2 != 0.3; as the Decimals the writer meant, it is.
    assert compile_condition("0.1 + 0.2 == 0.3").evaluate({}) is True
    assert compile_condition("invoice.total == 0.1").evaluate(
        context(invoice={"total": Decimal("0.1")})
    )
    ctx = context(invoice={"total": Decimal("10")})
    value = compile_condition("invoice.total * 1.1").value(ctx)
    assert value == Decimal("11.0") and isinstance(value, Decimal)
    assert compile_condition("1_000.25 == 1000.25").evaluate({}) is True
    assert compile_condition("1e3 == 1000").evaluate({}) is True


def test_integer_division_is_exact() -> None:
    ctx = context(invoice={"days_overdue": 10})
    value = compile_condition("invoice.days_overdue / 4").value(ctx)
    assert value == Decimal("2.5") and isinstance(value, Decimal)
    assert compile_condition("1 / 3 * 3 == 1").value({}) is False  # exact to 28 digits, not float
    assert compile_condition("7 // 2").value({}) == 3


# --- context semantics ---------------------------------------------------------------------


def test_missing_field_and_missing_root_read_as_none() -> None:
    condition = compile_condition("invoice.number == None and payment.amount == None")
    assert condition.evaluate(context(invoice={})) is True
    assert condition.evaluate(context(invoice={"number": None}, payment=None)) is True
    assert condition.evaluate(context(invoice={"number": "NW-1"})) is False


def test_now_today_and_days_between() -> None:
    condition = compile_condition("days_between(invoice.due_date, today) > 30")
    assert condition.evaluate(context(invoice={"due_date": TODAY - timedelta(days=31)})) is True
    assert condition.evaluate(context(invoice={"due_date": TODAY - timedelta(days=30)})) is False
    hours = compile_condition("days_between(invoice.issue_date, now) == 2")
    assert hours.evaluate(context(invoice={"issue_date": date(2026, 3, 14)})) is True
    assert condition.names == frozenset({"invoice.due_date", "today"})


def test_days_between_counts_calendar_days() -> None:
    assert days_between(date(2026, 3, 1), date(2026, 3, 31)) == 30
    assert days_between(date(2026, 3, 31), date(2026, 3, 1)) == -30
    late = datetime(2026, 3, 2, 23, 59)
    early = datetime(2026, 3, 1, 0, 1)
    assert days_between(early, late) == 1
    assert days_between(date(2026, 3, 1), late) == 1
    with pytest.raises(TypeError, match="second argument is None"):
        days_between(date(2026, 3, 1), None)  # type: ignore[arg-type]


def test_in_with_list_and_tuple_literals() -> None:
    condition = compile_condition("engagement.model in ['retainer', 'project_fixed']")
    assert condition.evaluate(context(engagement={"model": "retainer"})) is True
    assert condition.evaluate(context(engagement={"model": "time_and_materials"})) is False
    outside = compile_condition("client.currency not in ('USD', 'CAD')")
    assert outside.evaluate(context(client={"currency": "EUR"})) is True
    assert compile_condition("'over_cap' in invoice.warnings").evaluate(
        context(invoice={"warnings": ["over_cap"]})
    )


def test_functions() -> None:
    ctx = context(invoice={"total": Decimal("-5.00"), "warnings": ["a", "b"]})
    assert compile_condition("abs(invoice.total) == 5").evaluate(ctx)
    assert compile_condition("len(invoice.warnings) == 2").evaluate(ctx)
    assert compile_condition("min(invoice.total, 0) == invoice.total").evaluate(ctx)
    assert compile_condition("max([1, 2, 3]) == 3").evaluate(ctx)


def test_explain_reports_every_name_used() -> None:
    condition = compile_condition(
        "engagement.model == 'retainer' and invoice.total >= 100 and today > invoice.due_date"
    )
    ctx = context(
        invoice={"total": Decimal("150.00"), "due_date": date(2026, 3, 1)},
        engagement={"model": "retainer"},
    )
    assert condition.explain(ctx) == {
        "engagement.model": "retainer",
        "invoice.due_date": date(2026, 3, 1),
        "invoice.total": Decimal("150.00"),
        "today": TODAY,
    }
    assert condition.explain({}) == {
        "engagement.model": None,
        "invoice.due_date": None,
        "invoice.total": None,
        "today": None,
    }


def test_condition_is_frozen_and_comparable() -> None:
    first = compile_condition("invoice.total > 1.5")
    second = compile_condition("invoice.total > 1.5")
    assert first == second and hash(first) == hash(second)
    assert "invoice.total > 1.5" in repr(first)
    with pytest.raises(dataclasses.FrozenInstanceError):
        first.source = "True"  # type: ignore[misc]


def test_non_boolean_result_is_truthiness() -> None:
    condition = compile_condition("invoice.number")
    assert condition.evaluate(context(invoice={"number": "NW-1"})) is True
    assert condition.evaluate(context(invoice={})) is False


# --- evaluation errors ---------------------------------------------------------------------


def test_comparing_none_with_money_is_an_expression_error() -> None:
    condition = compile_condition("invoice.days_overdue > 30 and invoice.total >= 25000")
    with pytest.raises(ExpressionError) as caught:
        condition.evaluate(context(invoice={"days_overdue": 31}))
    error = caught.value
    assert error.source == condition.source
    assert "invoice.total >= 25000" in error.message
    assert "NoneType" in error.message
    assert error.offset == condition.source.index("invoice.total")


def test_division_by_zero_is_an_expression_error() -> None:
    condition = compile_condition("invoice.total / invoice.line_count > 100")
    with pytest.raises(ExpressionError, match="division by zero"):
        condition.evaluate(context(invoice={"total": Decimal("100.00"), "line_count": 0}))
    with pytest.raises(ExpressionError, match="division by zero"):
        compile_condition("invoice.line_count // 0").evaluate(context(invoice={"line_count": 2}))
    with pytest.raises(ExpressionError):
        compile_condition("0.0 / 0").evaluate({})


def test_runaway_repetition_and_text_formatting_are_refused() -> None:
    with pytest.raises(ExpressionError, match="too long"):
        compile_condition("'abc' * 1000000").evaluate({})
    with pytest.raises(ExpressionError, match="'%' is not defined for text"):
        compile_condition("'%s' % invoice.number").evaluate(context(invoice={"number": "x"}))
    assert compile_condition("'ab' * 2 == 'abab'").evaluate({})


def test_days_between_with_a_missing_date_is_an_expression_error() -> None:
    condition = compile_condition("days_between(invoice.due_date, today) > 30")
    with pytest.raises(ExpressionError, match="days_between"):
        condition.evaluate(context(invoice={}))


def test_a_root_that_is_not_a_mapping_is_reported() -> None:
    with pytest.raises(ExpressionError, match="not a mapping"):
        compile_condition("invoice.total > 1").evaluate({"invoice": object()})


# --- load-time rejections, with offsets ----------------------------------------------------

FORBIDDEN = [
    # (source, fragment of the message, text at the reported offset)
    ("lambda: 1", "lambda functions are not allowed", "lambda"),
    ("invoice.total > [x for x in (1, 2)][0]", "subscripts", "[x for"),
    ("[x for x in (1, 2)] == []", "list comprehensions are not allowed", "[x for"),
    ("len({x for x in (1,)}) == 1", "set comprehensions", "{x for"),
    ("len({x: 1 for x in (1,)}) == 1", "dict comprehensions", "{x:"),
    ("max(x for x in (1, 2)) == 2", "generator expressions", "(x for"),
    ("invoice.warnings[0] == 'a'", "subscripts (x[...]) are not allowed", "invoice.warnings[0]"),
    ("f'{invoice.number}' == 'x'", "f-strings are not allowed", "f'"),
    ("(n := 3) > 2", "assignment expressions (:=) are not allowed", "n := 3"),
    ("1 if invoice.is_first else 2", "conditional expressions", "1 if"),
    ("{'a': 1} == {}", "dict literals are not allowed", "{'a'"),
    ("invoice.status in {'draft'}", "set literals are not allowed", "{'draft'}"),
    ("max(*invoice.warnings) == 1", "starred expressions", "*invoice"),
    ("invoice.total ** 2 > 1", "operator '**' is not allowed", "** 2"),
    ("invoice.total << 2", "operator '<<' is not allowed", "<< 2"),
    ("invoice.line_count | 1", "operator '|' is not allowed", "| 1"),
    ("invoice.line_count & 1", "operator '&' is not allowed", "& 1"),
    ("invoice.line_count ^ 1", "operator '^' is not allowed", "^ 1"),
    ("~invoice.line_count == 1", "operator '~' is not allowed", "~invoice"),
    ("invoice.number is None", "'is' is not allowed", "is None"),
    ("invoice.number is not None", "'is not' is not allowed", "is not None"),
    ("(invoice.total) ** (2)", "operator '**'", "** (2)"),
    ("open('/etc/passwd')", "calls to 'open' are not allowed; available functions: "
     "abs, days_between, len, max, min", "open("),
    ("invoice.number.upper() == 'X'", "method calls are not allowed", "invoice.number.upper()"),
    ("(lambda: 1)() == 1", "lambda functions are not allowed", "lambda"),
    ("min(invoice.total, key=abs) > 1", "keyword arguments are not allowed in calls to 'min'",
     "key=abs"),
    ("days_between(today) > 1", "days_between() takes 2 arguments (1 given)", "days_between("),
    ("len(invoice.warnings, 1) > 1", "len() takes 1 argument (2 given)", "len("),
    ("max() > 1", "max() takes at least 1 arguments (0 given)", "max()"),
    ("b'abc' == 1", "bytes literals are not allowed", "b'abc'"),
    ("1j == 1", "complex numbers are not allowed", "1j"),
    ("... == 1", "'...' is not allowed", "..."),
    ("invoice == 1", "'invoice' is a group of fields", "invoice"),
    ("len == 1", "'len' is a function; call it as len(...)", "len"),
    ("now.year == 2026", "'now' has no fields", "now.year"),
    ("invoice.total.real > 1", "'invoice.total.real' goes too deep", "invoice.total.real"),
    ("len(invoice.warnings).real > 1", "attribute access is only allowed on", "len("),
]


@pytest.mark.parametrize(("source", "fragment", "at"), FORBIDDEN)
def test_forbidden_constructs_are_rejected_with_their_offset(
    source: str, fragment: str, at: str
) -> None:
    error = error_of(source)
    assert fragment in error.message
    assert error.offset is not None
    assert source[error.offset :].startswith(at), (error.offset, source[error.offset :])
    assert error.source == source


@pytest.mark.parametrize(
    ("source", "message", "at"),
    [
        ("client.nmae == 'x'", "unknown name 'client.nmae' (did you mean 'client.name'?)", 0),
        ("invoice.totl > 1", "unknown name 'invoice.totl' (did you mean 'invoice.total'?)", 0),
        ("1 < engagment.amount", "unknown name 'engagment.amount' (did you mean "
         "'engagement.amount'?)", 4),
        ("todya > invoice.due_date", "unknown name 'todya' (did you mean 'today'?)", 0),
        ("total > 1", "unknown name 'total' (did you mean 'invoice.total'?)", 0),
        ("currency == 'USD'", "unknown name 'currency' (did you mean 'client.currency', "
         "'invoice.currency' or 'payment.currency'?)", 0),
        ("x > 1", "unknown name 'x'", 0),
    ],
)
def test_unknown_names_suggest_the_closest(source: str, message: str, at: int) -> None:
    error = error_of(source)
    assert error.message == message
    assert error.offset == at


def test_unknown_field_without_a_close_match_lists_the_fields() -> None:
    error = error_of("client.colour == 'red'")
    assert error.message.startswith("unknown name 'client.colour'; client fields: account_lead,")


@pytest.mark.parametrize(
    "source",
    [
        "invoice.__class__",
        "invoice.__class__.__bases__",
        "().__class__.__bases__[0].__subclasses__()",
        "''.__class__.__mro__",
        "__import__('os').system('true')",
        "__builtins__",
        "_bf_multiply(1, 2)",
        "len.__self__",
        "days_between.__globals__",
        "now.__class__",
        "invoice.get('total') == 1",
        "invoice._private",
        "[c for c in ().__class__.__base__.__subclasses__()]",
    ],
)
def test_escape_attempts_are_rejected(source: str) -> None:
    error = error_of(source)
    assert error.offset is not None
    assert "not allowed" in error.message or "unknown name" in error.message


def test_syntax_errors_point_at_the_problem() -> None:
    error = error_of("invoice.total +* 3")
    assert error.message.startswith("invalid syntax")
    assert error.offset == len("invoice.total +")
    assert "'(' was never closed" in error_of("max(1, 2").message
    assert error_of("invoice.total = 3").message.startswith("invalid syntax")


def test_multi_line_conditions_need_parentheses() -> None:
    assert "parentheses" in error_of("invoice.total > 1\nand invoice.is_first").message
    condition = compile_condition("(invoice.total > 1\n and invoice.is_first)")
    assert condition.evaluate(context(invoice={"total": 2, "is_first": True}))
    error = error_of("(invoice.total > 1\n and invoice.frist)")
    assert error.offset == len("(invoice.total > 1\n and ")


def test_offsets_count_characters_and_leading_space() -> None:
    # AST columns count UTF-8 bytes; offsets count characters, as YAML columns do.
    source = "client.name == 'Café Müller' and invoice.totl > 1"
    assert error_of(source).offset == source.index("invoice.totl")
    padded = "   invoice.totl > 1"
    assert error_of(padded).offset == 3
    assert error_of("  ").offset == 0


def test_runtime_offset_counts_characters() -> None:
    source = "client.name == 'Müller' and invoice.total > 5"
    condition = compile_condition(source)
    with pytest.raises(ExpressionError) as caught:
        condition.evaluate(context(client={"name": "Müller"}, invoice={}))
    assert caught.value.offset == source.index("invoice.total")


def test_every_condition_field_compiles() -> None:
    for root, fields in CONDITION_ROOTS.items():
        for field_name in fields:
            assert compile_condition(f"{root}.{field_name} == None").evaluate({}) is True


# --- differential test against simpleeval --------------------------------------------------


class _DecimalLiterals(ast.NodeTransformer):
    """Give simpleeval the same exact literals billflow documents (it would read floats)."""

    def __init__(self, source: str) -> None:
        self.source = source

    def visit_Constant(self, node: ast.Constant) -> ast.AST:
        if isinstance(node.value, float):
            text = ast.get_source_segment(self.source, node) or repr(node.value)
            return ast.copy_location(ast.Constant(value=Decimal(text.replace("_", ""))), node)
        return node


def reference_value(source: str, ctx: dict[str, object]) -> object:
    """Evaluate with simpleeval, configured with billflow's functions and exact division."""
    body = source.strip()
    tree = _DecimalLiterals(body).visit(ast.parse(body, mode="eval"))
    operators = dict(simpleeval.DEFAULT_OPERATORS)
    operators[ast.Div] = expressions._true_divide  # documented: int / int is an exact Decimal
    names: dict[str, object] = {
        root: {f: (ctx.get(root) or {}).get(f) for f in fields}  # type: ignore[union-attr]
        for root, fields in CONDITION_ROOTS.items()
    }
    names.update(now=ctx.get("now"), today=ctx.get("today"))
    evaluator = simpleeval.EvalWithCompoundTypes(
        names=names, functions=dict(FUNCTIONS), operators=operators
    )
    return evaluator.eval(source, previously_parsed=tree.body)


REFERENCE_ERRORS = (TypeError, ValueError, ArithmeticError, simpleeval.InvalidExpression)


def outcome_of_reference(source: str, ctx: dict[str, object]) -> tuple[str, object]:
    try:
        return ("value", reference_value(source, ctx))
    except REFERENCE_ERRORS as exc:
        return ("error", type(exc).__name__)


def outcome_of_billflow(condition: Condition, ctx: dict[str, object]) -> tuple[str, object]:
    try:
        return ("value", condition.value(ctx))
    except ExpressionError:
        return ("error", None)


def assert_same_outcome(source: str, ctx: dict[str, object]) -> None:
    condition = compile_condition(source)
    expected = outcome_of_reference(source, ctx)
    got = outcome_of_billflow(condition, ctx)
    assert got[0] == expected[0], (source, got, expected)
    if got[0] == "value":
        assert type(got[1]) is type(expected[1]) and got[1] == expected[1], (source, got, expected)
        assert not isinstance(got[1], float), source


FULL_CONTEXT = context(
    invoice={
        "id": "acme/social/2026-03",
        "number": "NW-2026-00042",
        "status": "issued",
        "currency": "USD",
        "subtotal": Decimal("12000.00"),
        "tax": Decimal("1065.00"),
        "total": Decimal("13065.00"),
        "balance": Decimal("13065.00"),
        "due_date": date(2026, 2, 1),
        "days_overdue": 43,
        "line_count": 3,
        "is_first": False,
        "warnings": ["over_cap"],
    },
    client={"id": "acme", "name": "Acme Outdoor Co.", "tax_rate": Decimal("8.875"),
            "tax_exempt": False, "currency": "USD"},
    engagement={"model": "retainer", "amount": Decimal("12000.00"), "cap": None},
)

CORPUS = [
    "invoice.total >= 25000",
    "engagement.model == 'retainer' and invoice.total == engagement.amount",
    "invoice.days_overdue > 30",
    "invoice.total > 1.5",
    "invoice.subtotal * client.tax_rate / 100 == invoice.tax",
    "invoice.total - invoice.tax == invoice.subtotal",
    "invoice.days_overdue // 7 == 6 and invoice.days_overdue % 7 == 1",
    "invoice.days_overdue / 2",
    "-invoice.total < +invoice.balance",
    "not client.tax_exempt or invoice.is_first",
    "invoice.is_first or invoice.number",
    "invoice.number and invoice.status",
    "invoice.status in ['issued', 'sent'] and client.currency not in ('EUR', 'GBP')",
    "'over_cap' in invoice.warnings",
    "'NW' in invoice.number",
    "len(invoice.warnings) > 0",
    "abs(invoice.balance - invoice.total) < 0.01",
    "min(invoice.total, engagement.amount) == engagement.amount",
    "max(invoice.line_count, 1, 2.5)",
    "days_between(invoice.due_date, today) == invoice.days_overdue",
    "days_between(invoice.due_date, now)",
    "1 < invoice.line_count <= 3 < invoice.days_overdue",
    "invoice.number + '-X' == 'NW-2026-00042-X'",
    "engagement.cap > 100",
    "engagement.cap == None",
    "invoice.total > 'a'",
    "invoice.total / 0",
    "invoice.total / (invoice.line_count - 3)",
    "payment.amount",
    "(invoice.total, invoice.tax) == (13065, 1065)",
    "[1, 2] * 2 == [1, 2, 1, 2]",
    "0.1 + 0.2 == 0.3",
]


@pytest.mark.parametrize("source", CORPUS)
def test_corpus_agrees_with_simpleeval(source: str) -> None:
    assert_same_outcome(source, FULL_CONTEXT)


def _money() -> st.SearchStrategy[object]:
    amounts = st.decimals(min_value=-100000, max_value=100000, places=2, allow_nan=False)
    return st.one_of(amounts, st.none(), st.integers(-1000, 1000))


_NUMERIC_ATOMS = [
    "invoice.total",
    "invoice.tax",
    "invoice.balance",
    "engagement.amount",
    "client.tax_rate",
    "invoice.days_overdue",
    "invoice.line_count",
    "payment.amount",
]
_TEXT_ATOMS = ["invoice.status", "engagement.model", "client.currency", "invoice.number"]
_TEXT_LITERALS = ["'retainer'", "'USD'", "'draft'", "''", "'NW-1'"]
_DATE_ATOMS = ["today", "now", "invoice.due_date", "invoice.issue_date"]
_BOOL_ATOMS = ["client.tax_exempt", "invoice.is_first", "True", "False", "None"]


def _numeric_literal() -> st.SearchStrategy[str]:
    integers = st.integers(0, 100000).map(str)
    points = st.decimals(min_value=0, max_value=10000, places=2, allow_nan=False).map(
        lambda d: f"{d:f}" if "." in f"{d:f}" else f"{d:f}.0"
    )
    return st.one_of(integers, points)


def _numbers() -> st.SearchStrategy[str]:
    atoms = st.one_of(st.sampled_from(_NUMERIC_ATOMS), _numeric_literal())

    def extend(inner: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
        binary = st.tuples(inner, st.sampled_from(["+", "-", "*", "/", "//", "%"]), inner).map(
            lambda t: f"({t[0]} {t[1]} {t[2]})"
        )
        unary = st.tuples(st.sampled_from(["-", "+"]), inner).map(lambda t: f"{t[0]}{t[1]}")
        call = st.one_of(
            inner.map(lambda a: f"abs({a})"),
            st.tuples(st.sampled_from(["min", "max"]), inner, inner).map(
                lambda t: f"{t[0]}({t[1]}, {t[2]})"
            ),
            st.sampled_from(_TEXT_ATOMS).map(lambda a: f"len({a})"),
            st.tuples(st.sampled_from(_DATE_ATOMS), st.sampled_from(_DATE_ATOMS)).map(
                lambda t: f"days_between({t[0]}, {t[1]})"
            ),
        )
        return st.one_of(binary, unary, call)

    return st.recursive(atoms, extend, max_leaves=6)


def _conditions() -> st.SearchStrategy[str]:
    numbers = _numbers()
    texts = st.one_of(st.sampled_from(_TEXT_ATOMS), st.sampled_from(_TEXT_LITERALS))
    anything = st.one_of(numbers, texts, st.sampled_from(_DATE_ATOMS + _BOOL_ATOMS))
    comparisons = st.one_of(
        st.tuples(numbers, st.sampled_from(["==", "!=", "<", "<=", ">", ">="]), numbers),
        st.tuples(texts, st.sampled_from(["==", "!=", "in", "not in"]), texts),
        st.tuples(anything, st.sampled_from(["==", "<", ">="]), anything),
    ).map(lambda t: f"{t[0]} {t[1]} {t[2]}")
    membership = st.tuples(texts, st.lists(texts, max_size=3)).map(
        lambda t: f"{t[0]} in [{', '.join(t[1])}]"
    )
    atoms = st.one_of(comparisons, membership, st.sampled_from(_BOOL_ATOMS), numbers)

    def extend(inner: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
        return st.one_of(
            st.tuples(inner, st.sampled_from(["and", "or"]), inner).map(
                lambda t: f"({t[0]} {t[1]} {t[2]})"
            ),
            inner.map(lambda c: f"not {c}"),
        )

    return st.recursive(atoms, extend, max_leaves=5)


def _contexts() -> st.SearchStrategy[dict[str, object]]:
    dates = st.one_of(st.dates(date(2025, 1, 1), date(2027, 12, 31)), st.none())
    texts = st.sampled_from(["retainer", "USD", "draft", "", "NW-1", None])
    invoice = st.fixed_dictionaries(
        {
            "total": _money(),
            "tax": _money(),
            "balance": _money(),
            "days_overdue": st.one_of(st.integers(-40, 120), st.none()),
            "line_count": st.integers(0, 5),
            "status": texts,
            "number": texts,
            "due_date": dates,
            "issue_date": dates,
            "is_first": st.booleans(),
        }
    )
    return st.fixed_dictionaries(
        {
            "invoice": invoice,
            "engagement": st.fixed_dictionaries({"amount": _money(), "model": texts}),
            "client": st.fixed_dictionaries(
                {"tax_rate": _money(), "currency": texts, "tax_exempt": st.booleans()}
            ),
            "payment": st.one_of(st.none(), st.fixed_dictionaries({"amount": _money()})),
            "now": st.just(NOW),
            "today": st.just(TODAY),
        }
    )


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(source=_conditions(), ctx=_contexts())
def test_generated_conditions_agree_with_simpleeval(source: str, ctx: dict[str, object]) -> None:
    assert_same_outcome(source, ctx)
