"""Replay events over a simulated clock: the driver behind simulate, plan, test and reports.

The clock starts at the beginning of `start` (agency time) and runs through the end of
`end`; events are applied in time order (file order among equal times), and between them
the clock moves timer by timer, exactly as the daemon's clock would move had it been
running. Go-live defaults to `start`: a replay never bills what came before it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date, timedelta, timezone
from pathlib import Path

from engine.core.collector import few_collections
from engine.core.engine import Engine
from engine.core.state import EngineState
from engine.core.timers import utc
from engine.errors import EventError, UsageError
from engine.model.actions import Action
from engine.model.events import Event, parse_event_line
from engine.ruleset.types import RuleSet

__all__ = ["Replay", "read_events", "replay", "EventSource", "PROGRESS_EVERY"]

PROGRESS_EVERY = 1024
"""`on_progress` is told the count every this many events, and once at the end."""
_UTC = timezone.utc

EventSource = Iterable[Event | EventError]


def read_events(path: str | Path) -> Iterator[Event | EventError]:
    """Yield each event of an NDJSON file, or the EventError saying why a line is not one.

    Lines are read as bytes and decoded by the JSON parser itself, which checks the UTF-8
    as it goes: a line that is not UTF-8 is that line's error, like any line that is not
    JSON, where decoding the whole file as text stopped at the first such byte.
    """
    shown = str(path)
    try:
        handle = open(path, "rb")
    except OSError as exc:
        raise UsageError(f"{shown}: cannot read the events file ({exc.strerror})") from None
    with handle:
        for number, text in enumerate(handle, start=1):
            if not text or text.isspace():
                continue
            try:
                yield parse_event_line(text, shown, number)
            except EventError as exc:
                yield exc


@dataclass
class Replay:
    """What a replay decided: the actions in time order, the rejected events, the end state."""

    actions: list[Action] = field(default_factory=list)
    errors: list[EventError] = field(default_factory=list)
    state: EngineState | None = None
    events_applied: int = 0
    events_after_end: int = 0


def _in_time_order(events: EventSource, errors: list[EventError]) -> list[Event]:
    ordered: list[tuple[Event, int]] = []
    for index, item in enumerate(events):
        if isinstance(item, EventError):
            errors.append(item)
        else:
            ordered.append((item, index))
    ordered.sort(key=lambda pair: (pair[0].at, pair[1]))
    return [event for event, _ in ordered]


def replay(rules: RuleSet, events: EventSource, start: date, end: date,
           on_progress: Callable[[int], None] | None = None, *,
           presorted: bool = False, keep_actions: bool = True,
           on_action: Callable[[Action], None] | None = None) -> Replay:
    """Apply `events` from the start of `start` through the end of `end` (agency time).

    Events are sorted by time first, unless `presorted` says they already are (a stream
    of any length then replays in constant memory); an event earlier than the clock is
    applied at the clock's time, as the daemon applies a late arrival. `on_progress(count)`
    hears of every PROGRESS_EVERY-th event and of the last.
    """
    if end < start:
        raise UsageError(f"--until {end} is before --from {start}")
    with few_collections():
        return _replay(rules, events, start, end, on_progress, presorted, keep_actions,
                       on_action)


def _replay(rules: RuleSet, events: EventSource, start: date, end: date,
            on_progress: Callable[[int], None] | None, presorted: bool, keep_actions: bool,
            on_action: Callable[[Action], None] | None) -> Replay:
    engine = Engine(rules)
    calendar = rules.agency.calendar
    state = engine.new_state(start)
    result = Replay(state=state)
    state.clock = utc(calendar.start_of_day(start))
    finish = utc(calendar.start_of_day(end + timedelta(days=1)))
    stream: EventSource = events if presorted else _in_time_order(events, result.errors)
    errors = result.errors
    timers = state.timers
    apply, tick = engine.apply, engine.tick

    def collect(actions: list[Action]) -> None:
        if keep_actions:
            result.actions.extend(actions)
        if on_action is not None:
            for action in actions:
                on_action(action)

    count = 0
    for event in stream:
        if type(event) is not Event and isinstance(event, EventError):
            errors.append(event)  # a line that is not a valid event: not counted
            continue
        count += 1
        at = event.at
        if at.tzinfo is not _UTC:
            at = utc(at)
        if at >= finish:
            result.events_after_end += 1
            continue
        if timers.may_be_due(at):
            collect(tick(state, at))
        try:
            actions = apply(state, event)
        except EventError as exc:
            errors.append(exc)
        else:
            result.events_applied += 1
            if actions:
                collect(actions)
        if on_progress is not None and not count % PROGRESS_EVERY:
            on_progress(count)
    if on_progress is not None and count % PROGRESS_EVERY:
        on_progress(count)
    collect(engine.tick(state, finish, inclusive=False))
    return result
