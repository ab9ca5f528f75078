"""Plan a rule change: replay one history under the base rules and under the head rules.

Both sides run the same replay as `simulate` (`engine.core.replay`), over the same events
and through the same last day; the plan is the difference of the two action streams,
plus the events one side rejects and the other accepts. The one thing read differently
on the head side is a payment reference that cites an invoice number: it keeps naming
the invoice it named under the base rules (`engine.plan.references`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date

from engine.core.replay import Replay, replay
from engine.errors import UsageError
from engine.model.actions import dump_action
from engine.plan.compare import ActionStreams, compare_actions
from engine.plan.history import History, first_day, last_day
from engine.plan.model import Plan, Side
from engine.plan.references import NumberTranslator, issued_numbers
from engine.ruleset.types import RuleSet

__all__ = ["PlanSide", "plan_change"]


@dataclass(frozen=True)
class PlanSide:
    """A loaded rule set and the name people know it by."""

    rules: RuleSet
    label: str


def _days(side: PlanSide, history: History, start: date | None, until: date) -> date:
    first = first_day(side.rules, history.events, start)
    if until < first:
        raise UsageError(f"--until {until} is before the first replayed day {first} "
                         f"of {side.label}")
    return first


def _replay_head(head: PlanSide, history: History, first: date, until: date,
                 base_numbers: dict[str, str]) -> Replay:
    translator = NumberTranslator(base_numbers)
    return replay(head.rules, translator.events(history.items), first, until, presorted=True,
                  on_action=translator.record)


def _json_forms(result: Replay) -> list[dict]:
    # The contract form (what simulate prints): plain JSON, money as strings.
    return [json.loads(dump_action(action)) for action in result.actions]


def plan_change(base: PlanSide, head: PlanSide, history: History, *,
                start: date | None = None, until: date | None = None) -> Plan:
    """Return what replacing `base` by `head` changes in what `history` bills."""
    calendar = head.rules.agency.calendar
    last = last_day(calendar, history.events, until)
    old = replay(base.rules, history.items, _days(base, history, start, last), last)
    new = _replay_head(head, history, _days(head, history, start, last), last,
                       issued_numbers(old.actions))
    comparison = compare_actions(ActionStreams(_json_forms(old), _json_forms(new)), calendar)
    old_errors = [str(error) for error in old.errors]
    new_errors = [str(error) for error in new.errors]
    return Plan(
        base=Side(base.label, base.rules.version, first_day(base.rules, history.events, start)),
        head=Side(head.label, head.rules.version, first_day(head.rules, history.events, start)),
        events_source=history.source,
        events_count=len(history.items),
        until=last,
        tallies=comparison.tallies,
        renumbered=comparison.renumbered,
        billed=comparison.billed,
        earliest_change=comparison.earliest_change,
        clients=comparison.clients,
        newly_rejected=tuple(e for e in new_errors if e not in set(old_errors)),
        no_longer_rejected=tuple(e for e in old_errors if e not in set(new_errors)),
        rejected_on_both=tuple(e for e in new_errors if e in set(old_errors)),
    )
