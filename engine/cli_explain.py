"""`billflow explain ACTION_ID --rules R --events E`: explain an action of a replay."""

from __future__ import annotations

from datetime import date

from engine.cli_common import load_rules, parse_day
from engine.errors import UsageError

__all__ = ["explain_from_replay"]


def explain_from_replay(action_id: str, rules: str | None, events_path: str | None,
                        start: str | None, end: str | None) -> str:
    """Replay the events and explain one action; the days default to the events' span."""
    from engine.core.replay import read_events
    from engine.explain.replay import explain_replay
    from engine.model.events import Event

    if rules is None or events_path is None:
        raise UsageError("a replay needs both --rules and --events")
    ruleset = load_rules(rules)
    events = [item for item in read_events(events_path) if isinstance(item, Event)]
    calendar = ruleset.agency.calendar
    days = sorted(calendar.local_date(event.at) for event in events)
    first: date | None = parse_day(start, "--from") if start else (days[0] if days else None)
    last: date | None = parse_day(end, "--until") if end else (days[-1] if days else None)
    if first is None or last is None:
        raise UsageError(f"{events_path} holds no events: give --from and --until")
    return explain_replay(ruleset, events, action_id, first, last, source=rules)
