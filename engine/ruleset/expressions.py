"""Compile `when:` condition expressions into fast, safe, checked conditions.

The language is the subset of Python that simpleeval evaluates, narrowed further:
`and`/`or`/`not`, unary `-`/`+`, `+ - * / // %`, comparisons (`== != < <= > >= in not in`),
string, integer, decimal, boolean and None literals, list and tuple literals, the fields
`invoice.*`, `client.*`, `engagement.*`, `payment.*` (one level), the names `now` and `today`,
and calls to `days_between`, `len`, `abs`, `min`, `max` with positional arguments. Every other
construct is rejected when the rules load, with the offset of the offending text.

Numbers written with a point (`1.5`) are exact `Decimal`s, and `/` between two integers gives a
`Decimal`: no float ever meets money.

The checked tree is compiled once to a Python code object and run with `eval` and no builtins.
That is safe because only whitelisted nodes reach `compile`, and it costs one call per
evaluation instead of simpleeval re-walking the tree. simpleeval stays the reference: the tests
evaluate a corpus with both and require the same results.

Evaluation context: a mapping with the keys `invoice`, `client`, `engagement`, `payment` (each
a `Mapping[str, object]` of field values, money as `Decimal`), `now` (aware datetime) and
`today` (date). A missing root, a root mapped to None, or a missing field reads as None.
"""

from __future__ import annotations

import ast
import difflib
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from types import CodeType, MappingProxyType

from engine.ruleset.vocabulary import (
    CONDITION_BARE_NAMES,
    CONDITION_FUNCTIONS,
    CONDITION_ROOTS,
    condition_names,
)

__all__ = [
    "ExpressionError",
    "Condition",
    "compile_condition",
    "days_between",
    "FUNCTIONS",
]

MAX_SEQUENCE_LENGTH = 100_000


class ExpressionError(ValueError):
    """A condition that cannot compile or evaluate; `offset` is a 0-based index into its source."""

    def __init__(self, message: str, offset: int | None = None, source: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.offset = offset
        self.source = source


def days_between(a: date, b: date) -> int:
    """Return the whole calendar days from date `a` to date `b` (b - a)."""
    return (_as_date(b, "second") - _as_date(a, "first")).days


def _as_date(value: object, which: str) -> date:
    # datetime subclasses date, so test it first; its own calendar date is the one that counts.
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    raise TypeError(f"days_between() takes dates; its {which} argument is {_type_name(value)}")


FUNCTIONS: Mapping[str, object] = MappingProxyType(
    {"days_between": days_between, "len": len, "abs": abs, "min": min, "max": max}
)

# Minimum and maximum positional arguments per function, checked at load time.
_ARITY: Mapping[str, tuple[int, int | None]] = MappingProxyType(
    {"days_between": (2, 2), "len": (1, 1), "abs": (1, 1), "min": (1, None), "max": (1, None)}
)


def _multiply(a: object, b: object) -> object:
    # `'x' * 10**9` would exhaust memory; simpleeval caps repetition the same way.
    for seq, count in ((a, b), (b, a)):
        if hasattr(seq, "__len__") and isinstance(count, int):
            if count * len(seq) > MAX_SEQUENCE_LENGTH:
                raise ExpressionError("the result of '*' would be too long")
    return a * b  # type: ignore[operator]


def _true_divide(a: object, b: object) -> object:
    # int / int would be a float; make it an exact Decimal so it can meet money.
    if type(a) is int and type(b) is int:
        return Decimal(a) / Decimal(b)
    return a / b  # type: ignore[operator]


def _modulo(a: object, b: object) -> object:
    # On a string, % is printf-style formatting, which can build arbitrarily long strings.
    if isinstance(a, (str, bytes)):
        raise TypeError("'%' is not defined for text")
    return a % b  # type: ignore[operator]


_HELPERS: Mapping[str, object] = MappingProxyType(
    {"_bf_multiply": _multiply, "_bf_true_divide": _true_divide, "_bf_modulo": _modulo}
)
_REWRITTEN_OPS: Mapping[type, str] = MappingProxyType(
    {ast.Mult: "_bf_multiply", ast.Div: "_bf_true_divide", ast.Mod: "_bf_modulo"}
)
_ALLOWED_BINOPS: Mapping[type, str] = MappingProxyType(
    {ast.Add: "+", ast.Sub: "-", ast.Mult: "*", ast.Div: "/", ast.FloorDiv: "//", ast.Mod: "%"}
)
_FORBIDDEN_BINOPS: Mapping[type, str] = MappingProxyType(
    {
        ast.Pow: "**",
        ast.LShift: "<<",
        ast.RShift: ">>",
        ast.BitOr: "|",
        ast.BitXor: "^",
        ast.BitAnd: "&",
        ast.MatMult: "@",
    }
)
_ALLOWED_COMPARE = (ast.Eq, ast.NotEq, ast.Lt, ast.LtE, ast.Gt, ast.GtE, ast.In, ast.NotIn)
_CONSTRUCT_NAMES: Mapping[type, str] = MappingProxyType(
    {
        ast.Lambda: "lambda functions are",
        ast.ListComp: "list comprehensions are",
        ast.SetComp: "set comprehensions are",
        ast.DictComp: "dict comprehensions are",
        ast.GeneratorExp: "generator expressions are",
        ast.Subscript: "subscripts (x[...]) are",
        ast.Slice: "slices are",
        ast.JoinedStr: "f-strings are",
        ast.FormattedValue: "f-strings are",
        ast.NamedExpr: "assignment expressions (:=) are",
        ast.IfExp: "conditional expressions (x if c else y) are",
        ast.Dict: "dict literals are",
        ast.Set: "set literals are",
        ast.Starred: "starred expressions (*x) are",
        ast.Await: "'await' is",
        ast.Yield: "'yield' is",
        ast.YieldFrom: "'yield' is",
    }
)
_BINOP_LIST = " ".join(_ALLOWED_BINOPS.values())
_FUNCTION_LIST = ", ".join(sorted(CONDITION_FUNCTIONS))
_ROOT_LIST = ", ".join(sorted(CONDITION_ROOTS))
_NO_FIELDS: Mapping[str, object] = MappingProxyType({})


@dataclass(frozen=True)
class Condition:
    """A checked, compiled condition; build it with `compile_condition`."""

    source: str
    names: frozenset[str]  # what it reads: "invoice.total", "today", ...
    code: CodeType = field(repr=False)
    # The exact Decimal behind each point literal, bound by name because code cannot hold one.
    constants: tuple[tuple[str, Decimal], ...] = field(default=(), repr=False)

    def __post_init__(self) -> None:
        namespace: dict[str, object] = {"__builtins__": {}, **FUNCTIONS, **_HELPERS}
        namespace.update(self.constants)
        roots = sorted({name.split(".", 1)[0] for name in self.names if "." in name})
        bare = sorted(name for name in self.names if "." not in name)
        # The frozen instance keeps its prepared namespace out of equality and repr.
        object.__setattr__(self, "_globals", namespace)
        object.__setattr__(self, "_roots", tuple(roots))
        object.__setattr__(self, "_bare", tuple(bare))

    def evaluate(self, context: Mapping[str, object]) -> bool:
        """Return whether the condition holds in `context`."""
        return bool(self.value(context))

    def value(self, context: Mapping[str, object]) -> object:
        """Return the raw value of the expression in `context`."""
        local: dict[str, object] = {}
        for root in self._roots:  # type: ignore[attr-defined]
            fields = context.get(root)
            local[root] = _NO_FIELDS if fields is None else fields
        for name in self._bare:  # type: ignore[attr-defined]
            local[name] = context.get(name)
        try:
            return eval(self.code, self._globals, local)  # type: ignore[attr-defined]
        except ExpressionError as exc:
            raise self._runtime_error(exc.message, exc) from None
        except (TypeError, ValueError, ArithmeticError, AttributeError) as exc:
            raise self._runtime_error(_describe_runtime(exc), exc) from exc

    def explain(self, context: Mapping[str, object]) -> dict[str, object]:
        """Return the value of every name the condition reads, by name."""
        values: dict[str, object] = {}
        for name in sorted(self.names):
            root, _, attr = name.partition(".")
            value = context.get(root)
            if attr:
                value = None if value is None else value.get(attr)  # type: ignore[attr-defined]
            values[name] = value
        return values

    def _runtime_error(self, detail: str, exc: BaseException) -> ExpressionError:
        return ExpressionError(
            f"condition {self.source!r} failed: {detail}",
            _runtime_offset(self.code, self.source, exc),
            self.source,
        )


def compile_condition(source: str) -> Condition:
    """Check `source` against the condition language and compile it once."""
    body = source.strip()
    lead = len(source) - len(source.lstrip())
    if not body:
        raise ExpressionError("the condition is empty", 0, source)
    try:
        tree = ast.parse(body, mode="eval")
    except SyntaxError as exc:
        message = "invalid syntax" if exc.msg == "invalid syntax" else f"invalid syntax: {exc.msg}"
        if "\n" in body:
            message += " (wrap a condition that spans lines in parentheses, or fold it with '>')"
        line, column = exc.lineno or 1, max((exc.offset or 1) - 1, 0)
        raise ExpressionError(message, lead + _char_index(body, line, column), source) from None
    checker = _Checker(source, body, lead)
    checked = ast.Expression(body=checker.check(tree.body))
    ast.fix_missing_locations(checked)
    code = compile(checked, "<condition>", "eval")
    return Condition(
        source=source,
        names=frozenset(checker.names),
        code=code,
        constants=tuple(checker.constants.items()),
    )


class _Checker:
    """Walk a parsed condition, allowing only the language's nodes and rewriting a few."""

    def __init__(self, source: str, body: str, lead: int) -> None:
        self.source = source
        self.body = body
        self.lead = lead
        self.names: set[str] = set()
        self.constants: dict[str, Decimal] = {}

    def check(self, node: ast.AST) -> ast.expr:
        handler = getattr(self, f"_check_{type(node).__name__}", None)
        if handler is None:
            what = _CONSTRUCT_NAMES.get(type(node), f"{type(node).__name__} expressions are")
            raise self.error(node, f"{what} not allowed in conditions")
        return handler(node)

    def error(self, node: ast.AST, message: str) -> ExpressionError:
        index = _node_index(self.body, node.lineno, node.col_offset)  # type: ignore[attr-defined]
        return ExpressionError(message, self.lead + index, self.source)

    def error_at(self, index: int, message: str) -> ExpressionError:
        return ExpressionError(message, self.lead + index, self.source)

    def _check_BoolOp(self, node: ast.BoolOp) -> ast.expr:
        values = [self.check(value) for value in node.values]
        return ast.copy_location(ast.BoolOp(op=node.op, values=values), node)

    def _check_UnaryOp(self, node: ast.UnaryOp) -> ast.expr:
        if not isinstance(node.op, (ast.Not, ast.USub, ast.UAdd)):
            raise self.error(node, "operator '~' is not allowed in conditions")
        return ast.copy_location(ast.UnaryOp(op=node.op, operand=self.check(node.operand)), node)

    def _check_BinOp(self, node: ast.BinOp) -> ast.expr:
        op_type = type(node.op)
        if op_type not in _ALLOWED_BINOPS:
            symbol = _FORBIDDEN_BINOPS.get(op_type, op_type.__name__)
            raise self.error_at(
                self._operator_index(node.left, node.right),
                f"operator '{symbol}' is not allowed in conditions; allowed: {_BINOP_LIST}",
            )
        left, right = self.check(node.left), self.check(node.right)
        helper = _REWRITTEN_OPS.get(op_type)
        if helper is None:
            return ast.copy_location(ast.BinOp(left=left, op=node.op, right=right), node)
        call = ast.Call(func=ast.Name(id=helper, ctx=ast.Load()), args=[left, right], keywords=[])
        return ast.copy_location(call, node)

    def _check_Compare(self, node: ast.Compare) -> ast.expr:
        previous = node.left
        for op, comparator in zip(node.ops, node.comparators):
            if not isinstance(op, _ALLOWED_COMPARE):
                word = "is not" if isinstance(op, ast.IsNot) else "is"
                raise self.error_at(
                    self._operator_index(previous, comparator),
                    f"'{word}' is not allowed in conditions; use == or !=",
                )
            previous = comparator
        checked = ast.Compare(
            left=self.check(node.left),
            ops=node.ops,
            comparators=[self._membership(c) if isinstance(op, (ast.In, ast.NotIn))
                         else self.check(c) for op, c in zip(node.ops, node.comparators)],
        )
        return ast.copy_location(checked, node)

    def _membership(self, node: ast.expr) -> ast.expr:
        """Check the right side of `in`: there, and only there, `('a', 'b')` is a tuple."""
        if isinstance(node, ast.Tuple):
            elements = [self.check(element) for element in node.elts]
            return ast.copy_location(ast.Tuple(elts=elements, ctx=ast.Load()), node)
        return self.check(node)

    def _check_Constant(self, node: ast.Constant) -> ast.expr:
        value = node.value
        if value is None or isinstance(value, (bool, int, str)):
            return ast.copy_location(ast.Constant(value=value), node)
        if isinstance(value, float):
            # The literal's own digits, not the float they parse to: 0.1 must be exactly 0.1.
            text = ast.get_source_segment(self.body, node) or repr(value)
            name = f"_bf_decimal_{len(self.constants)}"
            self.constants[name] = Decimal(text.replace("_", ""))
            return ast.copy_location(ast.Name(id=name, ctx=ast.Load()), node)
        kind = {complex: "complex numbers are", bytes: "bytes literals are"}.get(
            type(value), f"{type(value).__name__} literals are"
        )
        if value is Ellipsis:
            kind = "'...' is"
        raise self.error(node, f"{kind} not allowed in conditions")

    def _check_Name(self, node: ast.Name) -> ast.expr:
        name = node.id
        if name.startswith("_"):
            raise self.error(node, f"names starting with '_' are not allowed ('{name}')")
        if name in CONDITION_BARE_NAMES:
            self.names.add(name)
            return ast.copy_location(ast.Name(id=name, ctx=ast.Load()), node)
        if name in CONDITION_ROOTS:
            example = f"{name}.{sorted(CONDITION_ROOTS[name])[0]}"
            raise self.error(
                node, f"'{name}' is a group of fields; use one of them, such as '{example}'"
            )
        if name in CONDITION_FUNCTIONS:
            raise self.error(node, f"'{name}' is a function; call it as {name}(...)")
        raise self.error(node, f"unknown name '{name}'{_suggest(name, _name_candidates())}")

    def _check_Attribute(self, node: ast.Attribute) -> ast.expr:
        if node.attr.startswith("_"):
            raise self.error(node, f"access to '{node.attr}' is not allowed in conditions")
        base = node.value
        if isinstance(base, ast.Attribute) and isinstance(base.value, ast.Name):
            dotted = f"{base.value.id}.{base.attr}.{node.attr}"
            raise self.error(node, f"'{dotted}' goes too deep; conditions read root.field only")
        if not isinstance(base, ast.Name):
            raise self.error(node, f"attribute access is only allowed on {_ROOT_LIST}")
        root, attr = base.id, node.attr
        dotted = f"{root}.{attr}"
        if root in CONDITION_BARE_NAMES:
            raise self.error(
                node, f"'{root}' has no fields; attribute access is only allowed on {_ROOT_LIST}"
            )
        if root not in CONDITION_ROOTS:
            raise self.error(node, f"unknown name '{dotted}'{_suggest(dotted, _name_candidates())}")
        fields = CONDITION_ROOTS[root]
        if attr not in fields:
            # Compare field names alone: a shared `root.` prefix would make anything look close.
            hint = _suggest(attr, {f: (f"{root}.{f}",) for f in fields})
            if not hint:
                hint = f"; {root} fields: {', '.join(sorted(fields))}"
            raise self.error(node, f"unknown name '{dotted}'{hint}")
        self.names.add(dotted)
        # Fields are read with Mapping.get, so a field the context lacks reads as None.
        getter = ast.Attribute(value=ast.Name(id=root, ctx=ast.Load()), attr="get", ctx=ast.Load())
        call = ast.Call(func=getter, args=[ast.Constant(value=attr)], keywords=[])
        return ast.copy_location(call, node)

    def _check_Call(self, node: ast.Call) -> ast.expr:
        func = node.func
        if isinstance(func, ast.Attribute):
            raise self.error(
                node, f"method calls are not allowed; available functions: {_FUNCTION_LIST}"
            )
        if not isinstance(func, ast.Name):
            self.check(func)  # names the construct (a lambda, say) if it is one
            raise self.error(node, f"only named functions can be called: {_FUNCTION_LIST}")
        name = func.id
        if name not in CONDITION_FUNCTIONS:
            raise self.error(
                node, f"calls to '{name}' are not allowed; available functions: {_FUNCTION_LIST}"
            )
        if node.keywords:
            keyword = node.keywords[0]
            raise self.error(keyword, f"keyword arguments are not allowed in calls to '{name}'")
        low, high = _ARITY[name]
        count = len(node.args)
        if count < low or (high is not None and count > high):
            wanted = f"{low}" if low == high else f"at least {low}"
            noun = "argument" if low == 1 and high == 1 else "arguments"
            raise self.error(node, f"{name}() takes {wanted} {noun} ({count} given)")
        args = [self.check(arg) for arg in node.args]
        call = ast.Call(func=ast.Name(id=name, ctx=ast.Load()), args=args, keywords=[])
        return ast.copy_location(call, node)

    def _check_List(self, node: ast.List) -> ast.expr:
        elements = [self.check(element) for element in node.elts]
        return ast.copy_location(ast.List(elts=elements, ctx=ast.Load()), node)

    def _check_Tuple(self, node: ast.Tuple) -> ast.expr:
        # A tuple must be written in parentheses: a bare comma is the mistake `25,000`,
        # which would make a tuple, and a tuple is always true.
        start = _node_index(self.body, node.lineno, node.col_offset)
        if not self.body[start:start + 1] == "(":
            raise self.error(node, "a comma outside parentheses makes a tuple, which is always "
                                   "true; write numbers without thousands separators "
                                   "(25000, not 25,000)")
        elements = [self.check(element) for element in node.elts]
        return ast.copy_location(ast.Tuple(elts=elements, ctx=ast.Load()), node)

    def _operator_index(self, left: ast.AST, right: ast.AST) -> int:
        """Return the index in the body of the operator written between two operands."""
        start = _node_index(
            self.body, left.end_lineno, left.end_col_offset  # type: ignore[attr-defined]
        )
        end = _node_index(self.body, right.lineno, right.col_offset)  # type: ignore[attr-defined]
        index = start
        while index < end and self.body[index] in " \t\r\n()":
            index += 1
        return index


def _char_index(text: str, line: int, column: int) -> int:
    """Return the index in `text` of a 1-based line and a 0-based character column."""
    lines = text.split("\n")
    return sum(len(lines[i]) + 1 for i in range(line - 1)) + column


def _node_index(text: str, line: int, byte_column: int) -> int:
    """Return the index in `text` of an AST position, whose columns count UTF-8 bytes."""
    line_text = text.split("\n")[line - 1]
    column = len(line_text.encode("utf-8")[:byte_column].decode("utf-8", errors="ignore"))
    return _char_index(text, line, column)


def _runtime_offset(code: CodeType, source: str, exc: BaseException) -> int | None:
    """Return where in `source` evaluation failed, from the failing instruction's position."""
    tb = exc.__traceback__
    while tb is not None and tb.tb_frame.f_code is not code:
        tb = tb.tb_next
    if tb is None or tb.tb_lasti < 0:
        return None
    positions = list(code.co_positions())
    index = tb.tb_lasti // 2
    if index >= len(positions):
        return None
    line, _, column, _ = positions[index]
    if line is None or column is None:
        return None
    body = source.strip()
    return len(source) - len(source.lstrip()) + _node_index(body, line, column)


def _describe_runtime(exc: BaseException) -> str:
    if isinstance(exc, ZeroDivisionError):
        return "division by zero"
    if isinstance(exc, InvalidOperation):
        return "invalid decimal operation (such as 0 / 0)"
    if isinstance(exc, AttributeError):
        return f"a context root is not a mapping ({exc})"
    return str(exc)


def _type_name(value: object) -> str:
    return "None" if value is None else type(value).__name__


def _name_candidates() -> dict[str, tuple[str, ...]]:
    """Map each spelling a writer might reach for to the real names it suggests."""
    candidates: dict[str, tuple[str, ...]] = {
        name: (name,) for name in condition_names() | CONDITION_FUNCTIONS
    }
    for root, fields in sorted(CONDITION_ROOTS.items()):
        for field_name in fields:
            # A bare field name (`total`) suggests every root that has such a field.
            candidates[field_name] = candidates.get(field_name, ()) + (f"{root}.{field_name}",)
    return candidates


def _suggest(word: str, candidates: Mapping[str, tuple[str, ...]]) -> str:
    """Return " (did you mean 'x'?)" for the closest candidates, or an empty string."""
    scored = []
    for key in candidates:
        ratio = difflib.SequenceMatcher(None, word, key).ratio()
        if ratio >= 0.7:
            scored.append((-ratio, key))
    scored.sort()
    # Offer the runners-up only when they are about as close as the best match.
    matches = [key for score, key in scored if score <= scored[0][0] + 0.05] if scored else []
    suggestions = list(dict.fromkeys(s for m in matches for s in candidates[m]))[:3]
    if not suggestions:
        return ""
    quoted = [f"'{s}'" for s in suggestions]
    joined = quoted[0] if len(quoted) == 1 else ", ".join(quoted[:-1]) + " or " + quoted[-1]
    return f" (did you mean {joined}?)"
