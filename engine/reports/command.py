"""`billflow report KIND`: replay the events, fold the actions into a ledger, report, render.

The replay covers the whole history: from the agency's go-live (or, without one, the
first event's day, or `--from` when that is earlier) through the later of the as-of day and
the last event's day. The reports then cut the history at the end of the as-of day by the
dates the actions carry (a payment by its own date), exactly as they cut the daemon's
outbox, so a payment dated in the period but recorded after it counts in both.

The period of `dso`, `on-time` and `approvals` is `--from`..`--as-of`; `--from` defaults
to the first day of the as-of year; `--as-of` defaults to today in the agency's timezone.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import TYPE_CHECKING

from engine.errors import EventError, UsageError
from engine.reports.aging import aging_report
from engine.reports.approvals import approval_report
from engine.reports.dso import dso_report
from engine.reports.ledger import Ledger, build_ledger
from engine.reports.on_time import on_time_report
from engine.reports.render import FORMATS, Report, render

if TYPE_CHECKING:
    from engine.model.events import Event  # noqa: F401 (used in annotations)
    from engine.ruleset.types import RuleSet

__all__ = ["REPORT_KINDS", "ReportRun", "build_report", "replay_span", "run_report",
           "store_report"]

REPORT_KINDS = ("aging", "dso", "on-time", "approvals")


@dataclass(frozen=True)
class ReportRun:
    """A report, its rendering, and the events the replay rejected."""

    report: Report
    output: str
    errors: tuple[EventError, ...]


def build_report(kind: str, ledger: Ledger, rules: RuleSet, events: Sequence[Event],
                 start: date, as_of: date) -> Report:
    """Compute report `kind` from a ledger; `events` (accepted ones) feed the touches."""
    agency = rules.agency
    if kind == "aging":
        return aging_report(ledger, as_of)
    if kind == "dso":
        return dso_report(ledger, start, as_of)
    if kind == "on-time":
        return on_time_report(ledger, start, as_of, agency.defaults.send_within, agency.calendar)
    if kind == "approvals":
        return approval_report(ledger, events, start, as_of, agency.calendar)
    raise UsageError(f"unknown report '{kind}'; use one of {', '.join(REPORT_KINDS)}")


def replay_span(rules: RuleSet, events: Sequence[Event], first: date,
                as_of: date) -> tuple[date, date]:
    """Return the days a report's replay covers (see the module docstring)."""
    calendar = rules.agency.calendar
    days = [calendar.local_date(event.at) for event in events]
    begin = rules.agency.go_live or min(days, default=first)
    return min(begin, first), max([as_of, *days])


def _period(rules: RuleSet, kind: str, fmt: str, start: date | None,
            as_of: date | None) -> tuple[date, date]:
    """Check the report's kind and format; return its period (defaults as documented)."""
    if kind not in REPORT_KINDS:
        raise UsageError(f"unknown report '{kind}'; use one of {', '.join(REPORT_KINDS)}")
    if fmt not in FORMATS:
        raise UsageError(f"unknown format '{fmt}'; use one of {', '.join(FORMATS)}")
    last = as_of or datetime.now(rules.agency.calendar.zone).date()
    first = start or date(last.year, 1, 1)
    if first > last:
        raise UsageError(f"--from {first} is after --as-of {last}")
    return first, last


def run_report(rules: RuleSet, kind: str, events_path: str, *, as_of: date | None = None,
               start: date | None = None, fmt: str = "table") -> ReportRun:
    """Replay `events_path` up to `as_of` and return report `kind` rendered as `fmt`."""
    # The engine is imported on use, so that loading the CLI (validate) stays fast.
    from engine.core.replay import read_events, replay
    from engine.model.events import Event

    first, last = _period(rules, kind, fmt, start, as_of)
    read = list(read_events(events_path))
    events = [item for item in read if isinstance(item, Event)]
    result = replay(rules, read, *replay_span(rules, events, first, last))
    rejected = {error.source for error in result.errors}
    accepted = [event for event in events if event.origin not in rejected]
    report = build_report(kind, build_ledger(result.actions), rules, accepted, first, last)
    return ReportRun(report, render(report, fmt), tuple(result.errors))


def store_report(rules: RuleSet, kind: str, store: object, *, as_of: date | None = None,
                 start: date | None = None, fmt: str = "table") -> ReportRun:
    """Report `kind` over the daemon's store: its action log and its accepted events."""
    from engine.model.events import parse_event

    first, last = _period(rules, kind, fmt, start, as_of)
    events: list[Event] = []
    position = 0
    while True:  # page through the event log; rejected events never touched anything
        page = store.events_after(position, 5_000)  # type: ignore[attr-defined]
        for stored in page:
            if stored.rejection is None:
                events.append(parse_event(json.loads(stored.body), stored.source))
        if not page:
            break
        position = page[-1].position
    ledger = build_ledger(store.actions())  # type: ignore[attr-defined]
    report = build_report(kind, ledger, rules, events, first, last)
    return ReportRun(report, render(report, fmt), ())
