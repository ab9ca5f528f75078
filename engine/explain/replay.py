"""Explain an action of a replay: the event or tick behind it, its rule, and its conditions.

Two passes over the same core as `billflow simulate`: `replay` finds the action and its
cause; then the engine is driven again, with the same two calls, up to the moment just
before that cause (the event, or the instant of the timer), where the conditions are
re-evaluated on the state as it then was. The second pass re-decides the action, and the
explanation says so only when the decision is the same.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import date, datetime, timedelta

from engine.core.engine import Engine
from engine.core.replay import replay
from engine.core.state import EngineState
from engine.core.timers import utc
from engine.errors import EventError, UsageError
from engine.explain.conditions import escalation_checks, render_checks, route_checks
from engine.explain.text import action_header, timer_cause
from engine.model.actions import Action
from engine.model.events import Event
from engine.ruleset.schema_check import did_you_mean
from engine.ruleset.types import RuleSet

__all__ = ["explain_replay", "find_action"]


def find_action(actions: Sequence[Action], action_id: str) -> Action:
    """Return the action with `action_id`, or raise a UsageError suggesting a close id."""
    for action in actions:
        if action.id == action_id:
            return action
    hint = did_you_mean(action_id, [a.id for a in actions])
    raise UsageError(f"no action '{action_id}' in this replay{hint}")


def _in_order(events: Sequence[Event]) -> list[Event]:
    return [e for _, e in sorted(enumerate(events), key=lambda pair: (pair[1].at, pair[0]))]


def _drive_until(engine: Engine, state: EngineState, events: list[Event], finish: datetime,
                 stop: str | None, instant: datetime | None) -> Event | None:
    """Advance `state` as `replay` does, stopping before event `stop` or before `instant`."""
    for event in events:
        if event.at >= finish:
            continue
        if instant is not None and event.at >= instant:
            break
        if state.timers.may_be_due(event.at):
            engine.tick(state, event.at)
        if event.id == stop:
            return event
        try:
            engine.apply(state, event)
        except EventError:
            pass  # rejected in the first pass too; it changes nothing
    if instant is not None:
        engine.tick(state, instant, inclusive=False)
    return None


def explain_replay(rules: RuleSet, events: Sequence[Event], action_id: str,
                   start: date, end: date, *, source: str = "") -> str:
    """Replay `events` from `start` through `end` and explain the action `action_id`."""
    action = find_action(replay(rules, list(events), start, end).actions, action_id)
    engine = Engine(rules)
    calendar = rules.agency.calendar
    state = engine.new_state(start)
    state.clock = utc(calendar.start_of_day(start))
    finish = utc(calendar.start_of_day(end + timedelta(days=1)))
    ordered = _in_order(list(events))
    lines = action_header(action.as_json())
    lines[-1] += f" (the rules{' at ' + source if source else ''})"
    cause = action.cause
    if cause.startswith("event:"):
        event = _drive_until(engine, state, ordered, finish, cause[len("event:"):], None)
        if event is None:
            raise UsageError(f"{action_id}: its event {cause} is not in the events given")
        before = _copy(state)
        decided = engine.apply(state, event)
        lines.append(f"  because   event {event.id} ({event.type}) at "
                     f"{event.at.astimezone(calendar.zone).isoformat()}"
                     + (f" from {event.origin}" if event.origin else ""))
        lines.append(f"            {json.dumps(_payload_json(event), ensure_ascii=False)}")
    else:
        instant = utc(datetime.fromisoformat(cause.rpartition("@")[2]))
        _drive_until(engine, state, ordered, finish, None, instant)
        before = _copy(state)
        decided = engine.tick(state, instant)
        lines.append(timer_cause(cause) or f"  because   {cause}")
    same = next((a for a in decided if a.id == action.id), None)
    if same is None or same.as_json() != action.as_json():
        lines.append("  note      driving the engine again did not re-decide this action the "
                     "same way; the values below may not be the ones it saw")
    lines.extend(_conditions(rules, before, state, action, decided))
    return "\n".join(lines)


def _copy(state: EngineState) -> EngineState:
    import copy

    return copy.deepcopy(state)


def _payload_json(event: Event) -> dict[str, object]:
    payload = event.payload._asdict()
    return {key: (value.isoformat() if hasattr(value, "isoformat") else
                  str(value) if not isinstance(value, (bool, type(None), tuple)) else value)
            for key, value in payload.items() if value is not None}


def _conditions(rules: RuleSet, before: EngineState, after: EngineState, action: Action,
                decided: list[Action]) -> list[str]:
    invoice_json = action.payload.get("invoice")
    if not isinstance(invoice_json, dict):
        return []
    invoice_id = invoice_json["id"]
    at = action.at
    if action.type == "escalation.triggered":
        invoice = before.invoices.get(invoice_id)
        if invoice is None:
            return []
        checks = escalation_checks(rules, before, invoice, at, str(action.payload["rule"]))
        return list(render_checks(f"escalation rules checked for {invoice_id} on "
                                  f"{rules.agency.calendar.local_date(at)}:", checks))
    routed = action.type == "approval.requested" or (
        action.type == "invoice.issued"
        and any(a.type in ("invoice.drafted",) and a.payload["invoice"]["id"] == invoice_id
                for a in decided))
    current = after.invoices.get(invoice_id)
    if not routed or current is None:
        return []
    # The invoice as it was routed: the draft, before routing numbered or flagged it.
    draft = current.replace(status="draft", number=None, issue_date=None, due_date=None,
                            balance=current.total,
                            warnings=tuple(w for w in current.warnings
                                           if not w.startswith("condition_failed")))
    route_id, checks = route_checks(rules, before, draft, at)
    return list(render_checks(f"approval route {route_id} (the first rule that holds "
                              "decides):", checks))
