"""Check message templates when the rules load, and render them in a sandbox.

Templates are Jinja2, rendered by an immutable sandbox with strict undefined names, no
autoescaping (messages are plain text), `trim_blocks` and `lstrip_blocks` (so a `{% for %}` on
its own line leaves no blank line in the mail) and the trailing newline kept.

At load time `compile_template` reports, with the line inside the template:
- syntax errors and unknown filters;
- variables that are not in the vocabulary (`TEMPLATE_ROOTS`), with a did-you-mean;
- unknown fields of known variables, written `invoice.numbr` or `invoice['numbr']`;
  `invoice.period.*` and the items of a loop over `invoice.lines` (or `late_fee_invoice.lines`)
  are checked one level deeper; beyond a plain field (`invoice.due_date.year`) nothing is
  checked, so the methods the sandbox allows stay usable;
- names starting with '_', and `include`/`extends`/`import` (templates are self-contained);
- with `provided`, variables that the sending action does not supply.
Names the template binds itself (`{% for %}`, `{% set %}`, `{% with %}`, macros) are never
reported as unknown.

Render context: a mapping from variable name to value; a variable with fields is a
`Mapping[str, object]` (or an object with those attributes), money is `Decimal`. A variable or
field missing at render time, or a None printed with `{{ }}`, raises `TemplateError`: a message
never goes out with a silent blank or the word "None" in it.

Filters: `money` (`{{ invoice.total|money(invoice.currency) }}` -> "12,000.00 USD") and
`longdate` (`{{ invoice.due_date|longdate }}` -> "15 March 2026").
"""

from __future__ import annotations

import functools

import difflib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from importlib import resources
from types import MappingProxyType, TracebackType

import jinja2
import jinja2.meta
import yaml
from jinja2 import nodes
from jinja2.sandbox import ImmutableSandboxedEnvironment

from engine.ruleset.vocabulary import (
    INVOICE_LINE_FIELDS,
    MESSAGE_VARIABLES,
    TEMPLATE_NESTED_FIELDS,
    TEMPLATE_ROOTS,
)

__all__ = [
    "TemplateError",
    "RenderedMessage",
    "CompiledTemplate",
    "compile_template",
    "load_builtin_templates",
    "BUILTIN_MESSAGES",
    "ENVIRONMENT",
]

_TEMPLATE_FILENAME = "<template>"
_MONTHS = (
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
)
_INVOICE_LIKE = frozenset(
    name for name, fields in TEMPLATE_ROOTS.items() if fields is not None and "lines" in fields
)

# Which message (a key of MESSAGE_VARIABLES) sends each built-in template.
BUILTIN_MESSAGES: Mapping[str, str] = MappingProxyType(
    {
        "invoice": "invoice",
        "approval_request": "approval_request",
        "friendly_nudge": "reminder",
        "due_today": "reminder",
        "overdue": "reminder",
        "escalation": "escalation",
    }
)


class TemplateError(ValueError):
    """A template that cannot load or render; `line` is 1-based within `field`'s text."""

    def __init__(self, message: str, line: int | None = None, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.line = line
        self.field = field

    def __str__(self) -> str:
        where = self.field or "template"
        if self.line is not None:
            where = f"{where} line {self.line}"
        return f"{where}: {self.message}"


class _NonePrinted(Exception):
    """Raised by the finalizer when `{{ }}` would print None."""


def _finalize(value: object) -> object:
    if value is None:
        raise _NonePrinted()
    return value


def money(value: object, currency: str | None = None) -> str:
    """Format an amount with thousands separators, followed by its currency code if given."""
    if isinstance(value, float) or isinstance(value, bool):
        raise TypeError(f"money takes a Decimal, not {type(value).__name__}")
    try:
        amount = value if isinstance(value, Decimal) else Decimal(str(value))
    except InvalidOperation:
        raise TypeError(f"money takes a Decimal, not {value!r}") from None
    text = f"{amount:,}"
    return f"{text} {currency}" if currency else text


def longdate(value: object) -> str:
    """Format a date as "15 March 2026", the same in every locale."""
    if isinstance(value, datetime):
        value = value.date()
    elif isinstance(value, str):
        value = date.fromisoformat(value)
    if not isinstance(value, date):
        raise TypeError(f"longdate takes a date, not {type(value).__name__}")
    return f"{value.day} {_MONTHS[value.month - 1]} {value.year}"


def _environment() -> ImmutableSandboxedEnvironment:
    env = ImmutableSandboxedEnvironment(
        undefined=jinja2.StrictUndefined,
        autoescape=False,
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
        finalize=_finalize,
    )
    env.filters["money"] = money
    env.filters["longdate"] = longdate
    return env


ENVIRONMENT: ImmutableSandboxedEnvironment = _environment()

# Compiled Jinja templates are code, not data, so they live here rather than in the
# frozen CompiledTemplate; the key is the source text, so equal sources share one.
_JINJA_CACHE: dict[str, jinja2.Template] = {}


@dataclass(frozen=True)
class RenderedMessage:
    """The subject line and body text of one message."""

    subject: str
    body: str


@dataclass(frozen=True)
class CompiledTemplate:
    """A checked template; build it with `compile_template`."""

    id: str
    subject_source: str
    body_source: str
    variables: frozenset[str]

    def render(self, context: Mapping[str, object]) -> RenderedMessage:
        """Render subject and body with `context`, failing on any missing variable."""
        subject = _render(self.subject_source, context, "subject")
        body = _render(self.body_source, context, "body")
        # A subject is one mail header line: a newline in it would end the header.
        return RenderedMessage(subject=" ".join(subject.split()), body=body)


def compile_template(
    template_id: str,
    subject: str,
    body: str,
    *,
    provided: frozenset[str] | None = None,
) -> CompiledTemplate:
    """Check subject and body against the vocabulary (and `provided`, if given) and compile them."""
    variables: set[str] = set()
    for field_name, source in (("subject", subject), ("body", body)):
        variables |= _check(source, field_name, provided)
    return CompiledTemplate(
        id=template_id,
        subject_source=subject,
        body_source=body,
        variables=frozenset(variables),
    )


def load_builtin_templates() -> dict[str, CompiledTemplate]:
    """Load and check the templates billflow ships, by id."""
    return dict(_builtin_templates())


@functools.lru_cache(maxsize=1)
def _builtin_templates() -> dict[str, CompiledTemplate]:
    # The shipped templates never change while billflow runs: check them once.
    text = resources.files("engine.ruleset").joinpath("builtin_templates.yaml").read_text("utf-8")
    documents = yaml.safe_load(text)
    templates = {}
    for template_id, spec in documents.items():
        provided = MESSAGE_VARIABLES[BUILTIN_MESSAGES[template_id]]
        templates[template_id] = compile_template(
            template_id, spec["subject"], spec["body"], provided=provided
        )
    return templates


def _check(source: str, field_name: str, provided: frozenset[str] | None) -> set[str]:
    """Check one template text and return the vocabulary variables it reads."""
    try:
        tree = ENVIRONMENT.parse(source)
        _jinja_template(source)  # compiling is what finds unknown filters and tests
    except jinja2.TemplateSyntaxError as exc:
        raise TemplateError(exc.message or "invalid syntax", exc.lineno, field_name) from None
    for node in tree.find_all((nodes.Include, nodes.Extends, nodes.Import, nodes.FromImport)):
        keyword = type(node).__name__.lower().replace("fromimport", "from ... import")
        raise TemplateError(
            f"'{keyword}' is not available: a template is self-contained", node.lineno, field_name
        )
    undeclared = jinja2.meta.find_undeclared_variables(tree) - set(ENVIRONMENT.globals)
    for name in sorted(undeclared, key=lambda n: (_first_line(tree, n) or 0, n)):
        line = _first_line(tree, name)
        if name not in TEMPLATE_ROOTS:
            raise TemplateError(
                f"unknown variable '{name}'{_suggest(name, TEMPLATE_ROOTS)}", line, field_name
            )
        if provided is not None and name not in provided:
            available = ", ".join(sorted(provided))
            raise TemplateError(
                f"variable '{name}' is not available in this message; available: {available}",
                line,
                field_name,
            )
    _check_fields(tree, undeclared, field_name)
    return set(undeclared)


def _check_fields(tree: nodes.Template, roots: set[str], field_name: str) -> None:
    """Check every `a.b` and `a['b']` whose `a` is a vocabulary variable or a lines loop item."""
    local = _locally_bound(tree)
    item_fields = _line_loop_variables(tree, local)
    inner = {id(n.node) for n in tree.find_all((nodes.Getattr, nodes.Getitem))}
    for node in tree.find_all((nodes.Getattr, nodes.Getitem)):
        name = _constant_key(node)
        if name is not None and name.startswith("_"):
            raise TemplateError(f"access to '{name}' is not allowed", node.lineno, field_name)
        if id(node) in inner:
            continue  # checked as part of the longest chain it belongs to
        base, path = _attribute_path(node)
        if base is None or not path:
            continue
        if base in item_fields:
            known: frozenset[str] | None = item_fields[base]
        elif base in roots and base not in local:
            known = TEMPLATE_ROOTS[base]
        else:
            continue
        _check_path(base, path, known, node.lineno, field_name)


def _check_path(
    base: str, path: list[str], known: frozenset[str] | None, line: int, field_name: str
) -> None:
    """Check `base.path[0].path[1]...` as far as the vocabulary describes it."""
    dotted = base
    for attr in path:
        if known is None:
            return
        if attr not in known:
            # Compare field names alone: a shared prefix would make anything look close.
            hint = _suggest(attr, known, prefix=f"{dotted}.")
            if not hint:
                hint = f"; {dotted} has: {', '.join(sorted(known))}"
            raise TemplateError(f"unknown variable '{dotted}.{attr}'{hint}", line, field_name)
        # Only structured fields (invoice.period) are described one level deeper.
        known = TEMPLATE_NESTED_FIELDS.get(attr) if dotted == base else None
        dotted = f"{dotted}.{attr}"


def _constant_key(node: nodes.Getattr | nodes.Getitem) -> str | None:
    """Return the name `a.b` or `a['b']` reaches for, if it is written literally."""
    if isinstance(node, nodes.Getattr):
        return node.attr
    if isinstance(node.arg, nodes.Const) and isinstance(node.arg.value, str):
        return node.arg.value
    return None


def _attribute_path(node: nodes.Node) -> tuple[str | None, list[str]]:
    """Return the base name and the literal keys of `a.b['c'].d`, in reading order."""
    path: list[str] = []
    while isinstance(node, (nodes.Getattr, nodes.Getitem)):
        key = _constant_key(node)
        # Past a computed key (`invoice.lines[0].x`) nothing is known: drop what was read so far.
        path = [] if key is None else path + [key]
        node = node.node
    if isinstance(node, nodes.Name):
        return node.name, list(reversed(path))
    return None, []


def _locally_bound(tree: nodes.Template) -> set[str]:
    """Return the names the template binds itself anywhere."""
    bound: set[str] = set()
    for node in tree.find_all(nodes.Name):
        if node.ctx in ("store", "param"):
            bound.add(node.name)
    return bound


def _line_loop_variables(tree: nodes.Template, local: set[str]) -> dict[str, frozenset[str]]:
    """Map loop variables that only ever iterate over an invoice's lines to the line fields."""
    line_loops: dict[str, int] = {}
    for loop in tree.find_all(nodes.For):
        target, source = loop.target, loop.iter
        if (
            isinstance(target, nodes.Name)
            and isinstance(source, nodes.Getattr)
            and source.attr == "lines"
            and isinstance(source.node, nodes.Name)
            and source.node.name in _INVOICE_LIKE
            and source.node.name not in local
        ):
            line_loops[target.name] = line_loops.get(target.name, 0) + 1
    stores: dict[str, int] = {}
    for node in tree.find_all(nodes.Name):
        if node.ctx == "store":
            stores[node.name] = stores.get(node.name, 0) + 1
    # A name bound elsewhere too (`{% set line = ... %}`) could hold anything: leave it be.
    return {
        name: INVOICE_LINE_FIELDS
        for name, count in line_loops.items()
        if stores.get(name, 0) == count
    }


def _first_line(tree: nodes.Template, name: str) -> int | None:
    lines = [n.lineno for n in tree.find_all(nodes.Name) if n.name == name and n.ctx == "load"]
    return min(lines) if lines else None


def _suggest(word: str, candidates: Iterable[str], prefix: str = "") -> str:
    """Return " (did you mean 'x'?)" for the closest candidate, or an empty string."""
    matches = difflib.get_close_matches(word, sorted(candidates), n=1, cutoff=0.7)
    return f" (did you mean '{prefix}{matches[0]}'?)" if matches else ""


def _jinja_template(source: str) -> jinja2.Template:
    template = _JINJA_CACHE.get(source)
    if template is None:
        template = _JINJA_CACHE.setdefault(source, ENVIRONMENT.from_string(source))
    return template


def _render(source: str, context: Mapping[str, object], field_name: str) -> str:
    template = _jinja_template(source)
    try:
        return template.render(context)
    except jinja2.exceptions.SecurityError as exc:
        raise TemplateError(exc.message or str(exc), _template_line(exc), field_name) from None
    except jinja2.UndefinedError as exc:
        message = f"missing from the context: {exc.message}"
        raise TemplateError(message, _template_line(exc), field_name) from None
    except _NonePrinted as exc:
        message = "a value printed here is None"
        raise TemplateError(message, _template_line(exc), field_name) from None
    except jinja2.TemplateError as exc:
        raise TemplateError(exc.message or str(exc), _template_line(exc), field_name) from None
    except (TypeError, ValueError, ArithmeticError) as exc:
        raise TemplateError(str(exc), _template_line(exc), field_name) from None


def _template_line(exc: BaseException) -> int | None:
    """Return the template line of the innermost frame that belongs to a template."""
    line = None
    tb: TracebackType | None = exc.__traceback__
    while tb is not None:
        if tb.tb_frame.f_code.co_filename == _TEMPLATE_FILENAME:
            line = tb.tb_lineno
        tb = tb.tb_next
    return line
