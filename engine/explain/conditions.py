"""Re-evaluate the conditions behind a decision, with the values they saw.

The context is built by the workflow's own `condition_context` from the state as it was
when the decision was made, and each compiled condition is evaluated against it again,
in the order the workflow tries them: approval-route rules until the first that holds,
and every escalation rule that applies to the client.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from engine.core.state import EngineState
from engine.model.invoice import Invoice
from engine.ruleset.expressions import Condition, ExpressionError
from engine.ruleset.types import RuleSet
from engine.workflow.context import condition_context, open_balances

__all__ = ["ConditionCheck", "route_checks", "escalation_checks", "render_checks"]


@dataclass(frozen=True)
class ConditionCheck:
    """One condition as evaluated: where it is written, its outcome, the values it read."""

    source: str
    label: str
    condition: str | None
    outcome: str  # "true", "false", "always" or "failed: why"
    values: tuple[tuple[str, Any], ...] = ()
    chosen: bool = False


def _check(label: str, source: str, condition: Condition | None,
           context: dict[str, Any]) -> ConditionCheck:
    if condition is None:
        return ConditionCheck(source, label, None, "always")
    values = tuple(condition.explain(context).items())
    try:
        outcome = "true" if condition.evaluate(context) else "false"
    except ExpressionError as exc:
        outcome = f"failed: {exc.message}"
    return ConditionCheck(source, label, condition.source.strip(), outcome, values)


def route_checks(rules: RuleSet, state: EngineState, draft: Invoice,
                 at: datetime) -> tuple[str, list[ConditionCheck]]:
    """Return the client's route id and its rules as tried for `draft`, up to the one chosen."""
    client = rules.clients[draft.client]
    route = rules.approval_routes[client.approval_route]
    engagement = client.engagements.get(draft.engagement)
    today = rules.agency.calendar.local_date(at)
    context = condition_context(state, client, engagement, draft, today, at)
    checks: list[ConditionCheck] = []
    for index, rule in enumerate(route.rules):
        decides = (f"approver {rule.approver}" if rule.approver else
                   "auto-approve" if rule.auto_approve else "")
        check = _check(f"rules[{index}] ({decides})", str(rule.source), rule.when, context)
        if check.outcome in ("true", "always"):
            checks.append(ConditionCheck(check.source, check.label, check.condition,
                                         check.outcome, check.values, chosen=True))
            return route.id, checks
        checks.append(check)
    if checks:  # nothing held: the workflow falls back to the last rule
        last = checks[-1]
        checks[-1] = ConditionCheck(last.source, last.label, last.condition, last.outcome,
                                    last.values, chosen=True)
    return route.id, checks


def escalation_checks(rules: RuleSet, state: EngineState, invoice: Invoice,
                      at: datetime, fired: str) -> list[ConditionCheck]:
    """Return the escalation rules that apply to the invoice's client, as evaluated at `at`."""
    client = rules.clients[invoice.client]
    engagement = client.engagements.get(invoice.engagement)
    today = rules.agency.calendar.local_date(at)
    balance = open_balances(state).get(invoice.client, Decimal(0))
    context = condition_context(state, client, engagement, invoice, today, at, balance)
    rule_ids = (client.escalation_rules if client.escalation_rules is not None
                else tuple(rules.escalation_rules))
    checks = []
    for rule_id in rule_ids:
        rule = rules.escalation_rules[rule_id]
        label = rule_id
        if rule_id != fired and rule_id in state.escalations_fired.get(invoice.id, {}):
            label += " (fired before)"
        check = _check(label, str(rule.source), rule.when, context)
        checks.append(ConditionCheck(check.source, check.label, check.condition, check.outcome,
                                     check.values, chosen=rule_id == fired))
    return checks


def _shown(value: Any) -> str:
    if isinstance(value, str):
        return repr(value)
    if value is None:
        return "null"
    return str(value)


def render_checks(title: str, checks: list[ConditionCheck]) -> Iterator[str]:
    """Yield the lines that show each condition, its outcome and the values it read."""
    yield f"  {title}"
    for check in checks:
        marker = "  <- decided" if check.chosen else ""
        written = check.condition if check.condition is not None else "(no condition)"
        yield f"    {check.label}  {check.source}{marker}"
        yield f"      when  {written}  => {check.outcome}"
        for name, value in check.values:
            yield f"            {name} = {_shown(value)}"
