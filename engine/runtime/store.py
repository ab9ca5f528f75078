"""The durable store behind the daemon: event log, engine snapshot, outbox, audit trail.

The daemon's three threads share one store:

- intake (HTTP, `billflow ingest`, connectors) appends events; a repeated event id is
  ignored, so senders may retry freely; `append_events` returns once they are durable;
- the engine reads the events after its snapshot's position, decides, and hands the new
  snapshot, the decided actions, their outbox rows and the rejected events to
  `commit_decisions`: one transaction, so a crash leaves either all of it or none;
- the dispatcher takes due outbox rows, delivers them, and records each attempt.

`open_store` picks the implementation from a URL. Everything here is an interface; the
core (`engine/core`) never imports it, and a PostgreSQL store for several engine
instances implements the same Protocol (see docs/store.md for what it must guarantee).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, tzinfo
from typing import Any, Literal, Protocol

from engine.errors import StoreError
from engine.model.actions import Action

__all__ = [
    "Store", "open_store", "IncomingEvent", "StoredEvent", "Snapshot", "Delivery",
    "DeliveryOutcome", "RulesRecord", "StoreCounts", "SourceProblemRow", "DEFAULT_LEASE",
]

DeliveryOutcome = Literal["delivered", "retry", "dead"]

# How long `due_deliveries` holds the rows it hands out against other dispatchers.
DEFAULT_LEASE = timedelta(minutes=5)


@dataclass(frozen=True)
class IncomingEvent:
    """An event as intake received it; `body` is the raw JSON text, kept as sent."""

    id: str
    type: str
    at: str
    body: str
    source: str  # "http", "ingest:file.ndjson:12", "connector:harvest"
    received_at: datetime


@dataclass(frozen=True)
class StoredEvent:
    """An event in the log at its `position`; `rejection` says why the engine refused it."""

    position: int
    id: str
    type: str
    at: str
    body: str
    source: str
    received_at: datetime
    rejection: str | None = None


@dataclass(frozen=True)
class Snapshot:
    """The engine state as of event-log `position`, with its clock and rule version."""

    position: int
    state_json: str
    clock: datetime | None
    rules_version: str
    saved_at: datetime


@dataclass(frozen=True)
class Delivery:
    """One outbox row: an action still owed to (or given up on by) one connector."""

    action_id: str
    connector: str
    status: Literal["pending", "delivered", "dead"]
    attempts: int
    next_attempt_at: datetime | None
    last_error: str | None
    action_json: str


@dataclass(frozen=True)
class RulesRecord:
    """One load of the rule folder, good or not (the audit trail of rule versions)."""

    version: str
    loaded_at: datetime
    ok: bool
    errors: tuple[str, ...]
    source: str


@dataclass(frozen=True)
class SourceProblemRow:
    """A vendor record a source connector could not turn into an event, until re-synced."""

    connector: str
    record: str
    message: str
    first_seen: datetime
    last_seen: datetime
    seen: int


@dataclass(frozen=True)
class StoreCounts:
    """What `/metrics` and `status` show about the store."""

    events: int
    events_undecided: int  # appended after the snapshot's position
    events_rejected: int
    actions: Mapping[str, int] = field(default_factory=dict)  # by action type
    outbox_pending: int = 0
    outbox_dead: int = 0
    outbox_delivered: int = 0


class Store(Protocol):
    """What the daemon needs from durable storage; every datetime given must be aware."""

    # -- event log ---------------------------------------------------------------------
    def append_events(self, events: Sequence[IncomingEvent]) -> list[bool]:
        """Append events in one transaction; say per event whether it was new.

        A repeated id is not new, unless every earlier event with that id was rejected
        (the engine forgets a rejected id, so a corrected resend is accepted). Durable
        once this returns. Positions are assigned in commit order: a reader that has seen
        position N never later finds a new event below N.
        """

    def events_after(self, position: int, limit: int) -> list[StoredEvent]:
        """Return up to `limit` events after `position`, in position order."""

    def event(self, event_id: str) -> StoredEvent | None:
        """Return the latest event with this id, with its rejection if it had one."""

    # -- engine state ------------------------------------------------------------------
    def load_snapshot(self) -> Snapshot | None:
        """Return the last committed snapshot, or None before the first commit."""

    def commit_decisions(self, position: int, state_json: str, clock: datetime | None,
                         rules_version: str, actions: Sequence[Action],
                         deliveries: Sequence[tuple[str, str]],
                         rejected: Sequence[tuple[int, str]], decided_at: datetime) -> None:
        """In one transaction: the snapshot at `position`, the actions, their outbox rows.

        Actions already logged (same id, re-decided after a crash or by a rebuild from the
        event log) are kept as they were and get no new outbox rows. `rejected` notes
        (position, message) for the events the engine refused (a repeat replaces the
        note). A position lower than the
        stored one raises StoreError: another engine got further.
        """

    # -- outbox and dispatch -----------------------------------------------------------
    def due_deliveries(self, now: datetime, limit: int, *,
                       lease: timedelta = DEFAULT_LEASE) -> list[Delivery]:
        """Return pending deliveries due by `now`, oldest first, and lease them.

        A leased row is not handed out again until `record_attempt` settles it or the
        lease runs out (a dispatcher that died mid-delivery).
        """

    def record_attempt(self, action_id: str, connector: str, outcome: DeliveryOutcome,
                       error: str | None, next_attempt_at: datetime | None,
                       at: datetime) -> None:
        """Settle one delivery attempt and append it to the dispatch log.

        "retry" needs `next_attempt_at`; a delivered row stays delivered.
        """

    def dead_letters(self) -> list[Delivery]:
        """Return the deliveries given up on, oldest first."""

    def retry_dead(self, action_id: str, at: datetime | None = None) -> int:
        """Queue an action's dead deliveries again with a fresh retry budget; return how many."""

    def delivery_status(self, action_id: str) -> list[Delivery]:
        """Return the outbox rows of one action, one per connector."""

    # -- rules history -----------------------------------------------------------------
    def record_rules(self, version: str, loaded_at: datetime, ok: bool,
                     errors: Sequence[str], source: str) -> None:
        """Record one load of the rule folder."""

    def rules_history(self, limit: int) -> list[RulesRecord]:
        """Return the latest loads, newest first."""

    def last_good_rules(self) -> RulesRecord | None:
        """Return the latest load that succeeded."""

    # -- connectors --------------------------------------------------------------------
    def connector_value(self, connector: str, key: str) -> str | None:
        """Return what connector `connector` kept under `key` (connectors/state.py), or None."""

    def put_connector_value(self, connector: str, key: str, value: str | None) -> None:
        """Keep `value` under (`connector`, `key`); None forgets it. Durable once this returns."""

    def record_source_problems(self, connector: str, problems: Sequence[tuple[str, str]],
                               at: datetime) -> None:
        """Note (record, message) pairs a source could not map; a repeat updates the note."""

    def source_problems(self, connector: str | None = None) -> list[SourceProblemRow]:
        """Return the noted problems (of one connector, or all), oldest first."""

    def clear_source_problems(self, connector: str) -> int:
        """Forget a connector's problems (it is being re-synced); return how many."""

    # -- single-use links ----------------------------------------------------------------
    def use_link(self, link_id: str, purpose: str, used_at: datetime,
                 expires_at: datetime) -> bool:
        """Mark a single-use link used; False if it was used before. Atomic across threads.

        `link_id` names the link (a hash, never the link itself); a row may be forgotten
        once `expires_at` has passed, when the link is refused as expired anyway.
        """

    def link_used(self, link_id: str) -> bool:
        """Say whether the single-use link `link_id` was used."""

    # -- queries -----------------------------------------------------------------------
    def actions(self, after: str | None = None,
                types: Iterable[str] | None = None) -> Iterator[dict[str, Any]]:
        """Yield logged actions (their JSON objects) in decision order, after action `after`."""

    def action(self, action_id: str) -> dict[str, Any] | None:
        """Return one logged action's JSON object."""

    def counts(self) -> StoreCounts:
        """Count events, actions by type and outbox rows by status."""

    # -- meta --------------------------------------------------------------------------
    def created_on(self, zone: tzinfo | None = None) -> date:
        """Return the day the store was created in `zone` (UTC by default): the go-live default."""

    def close(self) -> None:
        """Close every connection; the store is unusable afterwards."""


def open_store(url: str) -> Store:
    """Open (creating if need be) the store that `url` names.

    `sqlite:///relative/file.db`, `sqlite:////absolute/file.db` (SQLAlchemy's spelling)
    or a bare path open a SQLite file; `postgresql://...` is reserved for the shared store.
    """
    scheme, sep, rest = url.partition("://")
    if not sep:
        path = url
    elif scheme == "sqlite":
        if not rest.startswith("/"):
            raise StoreError(f"'{url}': a SQLite URL is sqlite:///path/to/file.db")
        path = rest[1:]
    elif scheme in ("postgresql", "postgres") or scheme.startswith("postgresql+"):
        raise StoreError("PostgreSQL support is not built yet; use a SQLite file for now")
    else:
        raise StoreError(f"'{url}': unknown store URL scheme '{scheme}' "
                         f"(use sqlite:///path/to/file.db or a file path)")
    if not path or path == ":memory:":
        raise StoreError(f"'{url}': the store needs a file (each thread opens it separately)")
    from engine.runtime.sqlite_store import SqliteStore
    return SqliteStore(path)
