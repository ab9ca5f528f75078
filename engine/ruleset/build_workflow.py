"""Build approval routes, reminder cadences, escalation rules and templates.

Conditions and templates are compiled here, once, when the rules load: a misspelt name
is an error at `billflow validate` with the line and column inside the YAML, not a
failure at 3 a.m. when the rule first fires.
"""

from __future__ import annotations

import re

from engine.errors import RuleError
from engine.model.calendar import parse_time_of_day
from engine.ruleset.context import BuildContext, Located
from engine.ruleset.expressions import Condition, ExpressionError, compile_condition
from engine.ruleset.templates import CompiledTemplate, TemplateError, compile_template
from engine.ruleset.types import (
    ApprovalRoute, EscalationRule, LateFee, ReminderCadence, ReminderStep, RouteRule,
)
from engine.ruleset.yamlpos import YamlDocument

__all__ = ["build_route", "build_cadence", "build_escalation", "build_template", "condition"]

_QUOTE_STYLES = ("'", '"')
_QUOTED = re.compile(r"'([^']+)'")


def _scalar_lines(doc: YamlDocument, place: Located) -> list[tuple[int, int, str]]:
    """Return (line, column, text) of each written line of the scalar at `place` (1-based)."""
    mark = doc.value_mark(place.path)
    lines = doc.lines
    if not lines or mark.line > len(lines):
        return []
    if mark.style in ("|", ">"):
        # A block scalar: the lines after the indicator, indented deeper than its key.
        key_indent = doc.mark(place.path).col - 1
        found = []
        for number in range(mark.line + 1, len(lines) + 1):
            text = lines[number - 1]
            indent = len(text) - len(text.lstrip(" "))
            if text.strip() and indent <= key_indent:
                break
            found.append((number, indent + 1, text.strip()))
        return found
    first_col = mark.col + (1 if mark.style in _QUOTE_STYLES else 0)
    found = [(mark.line, first_col, lines[mark.line - 1][first_col - 1:])]
    for number in range(mark.line + 1, len(lines) + 1):  # a multi-line flow scalar
        text = lines[number - 1]
        if not text.strip() or ":" in text.split("#")[0] and not text.startswith(" " * mark.col):
            break
        found.append((number, len(text) - len(text.lstrip()) + 1, text.strip()))
    return found


def locate_in_scalar(doc: YamlDocument, place: Located, offset: int) -> tuple[int, int]:
    """Return the file line and column of character `offset` of the scalar's value."""
    mark = doc.value_mark(place.path)
    written = _scalar_lines(doc, place)
    if not written:
        return mark.line, mark.col
    # Literal blocks keep line breaks; every other style folds a break into one space.
    remaining = offset
    for number, col, text in written:
        if remaining <= len(text):
            return number, col + remaining
        remaining -= len(text) + 1
    number, col, text = written[-1]
    return number, col + len(text)


def _one_line(text: str) -> str:
    return " ".join(text.split())


def condition(ctx: BuildContext, place: Located) -> Condition | None:
    """Compile the expression at `place`; an error points at the offending character."""
    source = place.get()
    if source is None:
        return None
    try:
        return compile_condition(str(source))
    except ExpressionError as exc:
        line, col = locate_in_scalar(place.doc, place, exc.offset or 0)
        ctx.errors.append(RuleError(place.doc.path, line, col,
                                    f"{place.where}: {exc.message} (condition: "
                                    f"{_one_line(str(source))})"))
        return None


def build_route(ctx: BuildContext, doc: YamlDocument) -> ApprovalRoute:
    """Build an ApprovalRoute, checking approvers, conditions and timers."""
    spec = Located(doc, ("spec",))
    rules = []
    entries = spec.at("rules").get() or []
    for i, entry in enumerate(entries):
        here = spec.at("rules", i)
        approver = ctx.person_or_role(here.at("approver"), agency_roles=False)
        auto = bool(entry.get("auto_approve", False))
        if auto and approver:
            ctx.fail(here, "a rule either names an approver or auto-approves, not both")
        if not auto and not approver:
            ctx.fail(here, "a rule needs an approver, or auto_approve: true")
        rules.append(RouteRule(condition(ctx, here.at("when")), approver, auto, ctx.source(here)))
    if entries and "when" in entries[-1]:
        ctx.fail(spec.at("rules", len(entries) - 1),
                 "the last rule must have no 'when', so that every draft reaches someone")
    remind_after = ctx.duration(spec.at("remind_after"))
    escalate_after = ctx.duration(spec.at("escalate_after"))
    escalate_to = ctx.person_or_role(spec.at("escalate_to"), agency_roles=False)
    if escalate_after is not None and escalate_to is None:
        ctx.fail(spec.at("escalate_after"), "escalate_after needs escalate_to: whom to escalate to")
    return ApprovalRoute(str(doc.data["metadata"]["id"]), tuple(rules), remind_after,
                         escalate_after, escalate_to, ctx.source(Located(doc, ())))


def build_cadence(ctx: BuildContext, doc: YamlDocument) -> ReminderCadence:
    """Build a ReminderCadence, checking offsets, templates and the send time."""
    spec = Located(doc, ("spec",))
    steps = []
    seen: set[str] = set()
    for i, entry in enumerate(spec.at("steps").get() or []):
        here = spec.at("steps", i)
        offset = ctx.duration(here.at("offset"))
        template = ctx.reference(here.at("template"), ctx.index.templates, "template") or ""
        step_id = str(entry.get("id") or f"{offset}")
        if step_id in seen:
            ctx.fail(here, f"two steps are both '{step_id}'; give them distinct offsets or ids")
        seen.add(step_id)
        if offset is not None:
            steps.append(ReminderStep(step_id, offset, template))
    send_at = str(spec.at("send_at").get() or "09:00")
    ctx.parse(spec.at("send_at"), lambda value: parse_time_of_day(value or send_at), None)
    return ReminderCadence(str(doc.data["metadata"]["id"]), tuple(steps), send_at,
                           bool(spec.at("business_days_only").get() or False),
                           ctx.source(Located(doc, ())))


def build_escalation(ctx: BuildContext, doc: YamlDocument) -> EscalationRule:
    """Build an EscalationRule, checking its condition, recipients and late fee."""
    spec = Located(doc, ("spec",))
    notify = tuple(
        ctx.person_or_role(spec.at("notify", i), agency_roles=True) or ""
        for i in range(len(spec.at("notify").get() or [])))
    late_fee = None
    fee = spec.at("late_fee").get()
    if fee is not None:
        late_fee = LateFee(ctx.money(spec.at("late_fee", "percent")),
                           ctx.money(spec.at("late_fee", "amount")))
        if (late_fee.percent is None) == (late_fee.amount is None):
            ctx.fail(spec.at("late_fee"), "a late fee is either a percent or an amount")
    repeat_text = spec.at("repeat").get()
    repeat = None if repeat_text in (None, "none") else ctx.duration(spec.at("repeat"))
    when = condition(ctx, spec.at("when"))
    return EscalationRule(str(doc.data["metadata"]["id"]), when or compile_condition("False"),
                          notify, late_fee, repeat, ctx.source(Located(doc, ())))


def build_template(ctx: BuildContext, doc: YamlDocument,
                   provided: frozenset[str] | None = None) -> CompiledTemplate | None:
    """Compile a Template; syntax and unknown variables are located in the YAML.

    `provided` limits the variables to those of the message the template is used for
    (overriding a built-in, or a reminder step), so a variable the message never has is
    an error now, not when it is sent.
    """
    spec = Located(doc, ("spec",))
    template_id = str(doc.data["metadata"]["id"])
    try:
        return compile_template(template_id, str(spec.at("subject").get() or ""),
                                str(spec.at("body").get() or ""), provided=provided)
    except TemplateError as exc:
        field = exc.field or "body"
        place = spec.at(field)
        if exc.line is None:
            line, col = doc.mark(place.path).line, doc.mark(place.path).col
        else:
            text = str(place.get() or "")
            offset = sum(len(part) + 1 for part in text.split("\n")[:exc.line - 1])
            named = _QUOTED.search(exc.message)
            if named:  # point at the name itself when the message quotes it
                name = named.group(1)
                found = text.find(name, offset)
                if found < 0:  # written with spaces or brackets: find its last part
                    found = text.find(name.split(".")[-1], offset)
                offset = found if found >= 0 else offset
            line, col = locate_in_scalar(doc, place, offset)
        ctx.errors.append(RuleError(doc.path, line, col, f"{place.where}: {exc.message}"))
        return None
