"""The events a plan replays, and the days it replays them over.

The history of a rule set is the events file `events.ndjson` in the rules folder (beside
the rule file, when RULES is a single file); `--events FILE` replaces it. Without
`--from`, each side replays from its own agency's `go_live`, or from the first event's
day when the agency sets none. Without `--until`, the replay runs through the last
event's day plus COLLECTION_TAIL_DAYS, so that the reminders, escalations and late fees
of the last invoices of the history come due and show in the plan.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

from engine.core.replay import read_events
from engine.errors import EventError, UsageError
from engine.model.calendar import AgencyCalendar
from engine.model.events import Event
from engine.ruleset.types import RuleSet

__all__ = ["HISTORY_FILE", "COLLECTION_TAIL_DAYS", "History", "history_path", "read_history",
           "first_day", "last_day"]

HISTORY_FILE = "events.ndjson"
# Net 45 end-of-month terms put a due date up to 76 days after issue; 90 days also sees
# a +14d reminder and a "more than 30 days overdue" escalation of a net-30 invoice.
COLLECTION_TAIL_DAYS = 90


@dataclass(frozen=True)
class History:
    """The events of a plan as read (malformed lines included, as EventErrors)."""

    source: str
    items: tuple[Event | EventError, ...]

    @property
    def events(self) -> list[Event]:
        return [item for item in self.items if isinstance(item, Event)]


def history_path(rules: str | Path, events: str | None) -> Path:
    """Return the events file to replay: `events`, else the rule set's recorded history."""
    if events is not None:
        return Path(events)
    rules_path = Path(rules)
    folder = rules_path if rules_path.is_dir() else rules_path.parent
    recorded = folder / HISTORY_FILE
    if not recorded.is_file():
        raise UsageError(f"no event history to replay: {recorded} does not exist; "
                         "give one with --events FILE")
    return recorded


def read_history(path: Path) -> History:
    """Read an events file once; both sides of the plan replay the same items."""
    history = History(str(path), tuple(read_events(path)))
    if not history.events:
        raise UsageError(f"{path}: no events to replay")
    return history


def first_day(rules: RuleSet, events: Sequence[Event], given: date | None) -> date:
    """Return the first replayed day: `--from`, the agency's go-live, or the first event's."""
    if given is not None:
        return given
    if rules.agency.go_live is not None:
        return rules.agency.go_live
    calendar = rules.agency.calendar
    return min(calendar.local_date(event.at) for event in events)


def last_day(calendar: AgencyCalendar, events: Sequence[Event], given: date | None) -> date:
    """Return the last replayed day: `--until`, or the last event's day plus the tail."""
    if given is not None:
        return given
    last = max(calendar.local_date(event.at) for event in events)
    return last + timedelta(days=COLLECTION_TAIL_DAYS)
