"""The SQLite store: one file, zero set-up, shared by the daemon's threads.

Each thread gets its own connection (a sqlite3 connection must not be shared by threads
that use it at the same time); writes take the write lock up front (`BEGIN IMMEDIATE`),
so two writers queue behind the busy timeout instead of deadlocking on a lock upgrade.
Instants are stored as UTC text of one fixed width, so text order is time order.

The schema is built by MIGRATIONS, applied in order at open; `schema_version` says how
many have run. Never edit a released migration: append a new one.
"""

from __future__ import annotations

import json
import os
import sqlite3
import threading
import weakref
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import date, datetime, timedelta, timezone, tzinfo
from pathlib import Path
from typing import Any

from engine.errors import StoreError
from engine.model.actions import Action, dump_action
from engine.runtime.store import (DEFAULT_LEASE, Delivery, DeliveryOutcome, IncomingEvent,
                                  RulesRecord, Snapshot, SourceProblemRow, StoreCounts,
                                  StoredEvent)

try:
    import fcntl
except ImportError:  # not on POSIX: one daemon per file is then the operator's to ensure
    fcntl = None  # type: ignore[assignment]

__all__ = ["SqliteStore", "MIGRATIONS", "SCHEMA_VERSION", "BUSY_TIMEOUT_MS"]

# Writers wait this long for each other (an engine commit holds the lock for a few ms).
BUSY_TIMEOUT_MS = 10_000
_PAGE = 500


def _script(conn: sqlite3.Connection, sql: str) -> None:
    # Statement by statement: `executescript` would commit the migration's transaction.
    for statement in filter(str.strip, sql.split(";")):
        conn.execute(statement)


def _schema_event_log(conn: sqlite3.Connection) -> None:
    """Version 1: the event log, the engine snapshot, the action log, store facts."""
    _script(conn, """
    CREATE TABLE store_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
    CREATE TABLE events (
        position INTEGER PRIMARY KEY AUTOINCREMENT, id TEXT NOT NULL, type TEXT NOT NULL,
        at TEXT NOT NULL, body TEXT NOT NULL, source TEXT NOT NULL, received_at TEXT NOT NULL);
    CREATE INDEX events_by_id ON events (id);
    CREATE TABLE event_rejections (
        position INTEGER PRIMARY KEY REFERENCES events (position),
        message TEXT NOT NULL, decided_at TEXT NOT NULL);
    CREATE TABLE engine_snapshot (
        only INTEGER PRIMARY KEY CHECK (only = 1), position INTEGER NOT NULL,
        state_json TEXT NOT NULL, clock TEXT, rules_version TEXT NOT NULL,
        saved_at TEXT NOT NULL);
    CREATE TABLE actions (
        seq INTEGER PRIMARY KEY AUTOINCREMENT, id TEXT NOT NULL UNIQUE, type TEXT NOT NULL,
        client TEXT NOT NULL, at TEXT NOT NULL, body TEXT NOT NULL,
        position INTEGER NOT NULL, decided_at TEXT NOT NULL);
    CREATE INDEX actions_by_type ON actions (type, seq)""")


def _schema_outbox(conn: sqlite3.Connection) -> None:
    """Version 2: the outbox (one row per action and connector) and the dispatch log."""
    _script(conn, """
    CREATE TABLE outbox (
        action_id TEXT NOT NULL REFERENCES actions (id), connector TEXT NOT NULL,
        status TEXT NOT NULL CHECK (status IN ('pending', 'delivered', 'dead')),
        attempts INTEGER NOT NULL DEFAULT 0, next_attempt_at TEXT, leased_until TEXT,
        last_error TEXT, created_at TEXT NOT NULL, settled_at TEXT,
        PRIMARY KEY (action_id, connector));
    CREATE INDEX outbox_due ON outbox (status, next_attempt_at);
    CREATE TABLE dispatch_log (
        seq INTEGER PRIMARY KEY AUTOINCREMENT, action_id TEXT NOT NULL,
        connector TEXT NOT NULL, attempt INTEGER NOT NULL, outcome TEXT NOT NULL,
        error TEXT, at TEXT NOT NULL)""")


def _schema_rules_history(conn: sqlite3.Connection) -> None:
    """Version 3: every load of the rule folder, good or not."""
    _script(conn, """
    CREATE TABLE rules_history (
        seq INTEGER PRIMARY KEY AUTOINCREMENT, version TEXT NOT NULL, loaded_at TEXT NOT NULL,
        ok INTEGER NOT NULL, errors TEXT NOT NULL, source TEXT NOT NULL);
    CREATE INDEX rules_good ON rules_history (ok, seq)""")


def _schema_connector_state(conn: sqlite3.Connection) -> None:
    """Version 4: what source connectors keep (cursors, sealed tokens) and what they could not map."""
    _script(conn, """
    CREATE TABLE connector_state (
        connector TEXT NOT NULL, key TEXT NOT NULL, value TEXT NOT NULL,
        PRIMARY KEY (connector, key));
    CREATE TABLE source_problems (
        connector TEXT NOT NULL, record TEXT NOT NULL, message TEXT NOT NULL,
        first_seen TEXT NOT NULL, last_seen TEXT NOT NULL, seen INTEGER NOT NULL,
        PRIMARY KEY (connector, record))""")


def _schema_used_links(conn: sqlite3.Connection) -> None:
    """Version 5: single-use links (approval, sign-in) already used, until they expire."""
    _script(conn, """
    CREATE TABLE used_links (
        id TEXT PRIMARY KEY, purpose TEXT NOT NULL, used_at TEXT NOT NULL,
        expires_at TEXT NOT NULL);
    CREATE INDEX used_links_expiry ON used_links (expires_at)""")


MIGRATIONS: tuple[Callable[[sqlite3.Connection], None], ...] = (
    _schema_event_log, _schema_outbox, _schema_rules_history, _schema_connector_state,
    _schema_used_links)
SCHEMA_VERSION = len(MIGRATIONS)


def migrate(conn: sqlite3.Connection, upto: int = SCHEMA_VERSION) -> int:
    """Apply the migrations the file lacks, each in its own transaction; return the version."""
    conn.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")
    while True:
        conn.execute("BEGIN IMMEDIATE")  # re-read under the lock: another process may migrate
        try:
            row = conn.execute("SELECT version FROM schema_version").fetchone()
            version = row[0] if row else 0
            if version > SCHEMA_VERSION:
                raise StoreError(f"the store is at schema version {version}, written by a newer "
                                 f"billflow (this one knows up to {SCHEMA_VERSION})")
            if version >= upto:
                conn.execute("COMMIT")
                return version
            MIGRATIONS[version](conn)
            conn.execute("DELETE FROM schema_version")
            conn.execute("INSERT INTO schema_version (version) VALUES (?)", (version + 1,))
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise


def _utc(instant: datetime) -> str:
    if instant.tzinfo is None or instant.utcoffset() is None:
        raise StoreError(f"the store keeps aware datetimes only, not {instant.isoformat()}")
    return instant.astimezone(timezone.utc).isoformat(timespec="microseconds")


def _from_text(text: str | None) -> datetime | None:
    return None if text is None else datetime.fromisoformat(text)


class _Connection(sqlite3.Connection):
    """A connection that `close()` can reach through a weak reference."""


def _action_row(action: Action, position: int, decided_at: str) -> tuple[Any, ...]:
    try:
        body = dump_action(action)
    except (TypeError, ValueError) as exc:
        raise StoreError(f"action '{action.id}' cannot be written as JSON ({exc})") from None
    # A payment nobody could attribute has no client; the column indexes by client, so ""
    # stands for none there (the action's JSON keeps its null).
    return (action.id, action.type, action.client or "", action.at.isoformat(), body, position,
            decided_at)


_EVENT_COLUMNS = """e.position, e.id, e.type, e.at, e.body, e.source, e.received_at, r.message
    FROM events e LEFT JOIN event_rejections r ON r.position = e.position"""
_DELIVERY_COLUMNS = """o.action_id, o.connector, o.status, o.attempts, o.next_attempt_at,
    o.last_error, a.body FROM outbox o JOIN actions a ON a.id = o.action_id"""
_DUE = """o.status = 'pending' AND o.next_attempt_at <= :now
    AND (o.leased_until IS NULL OR o.leased_until <= :now)"""
_OUTCOME_STATUS = {"delivered": "delivered", "retry": "pending", "dead": "dead"}


def _stored_event(row: tuple[Any, ...]) -> StoredEvent:
    return StoredEvent(*row[:6], datetime.fromisoformat(row[6]), row[7])


def _delivery(row: tuple[Any, ...]) -> Delivery:
    return Delivery(*row[:4], _from_text(row[4]), *row[5:])


def _rules_record(row: tuple[Any, ...]) -> RulesRecord:
    return RulesRecord(row[0], datetime.fromisoformat(row[1]), bool(row[2]),
                       tuple(json.loads(row[3])), row[4])


class SqliteStore:
    """The Store on one SQLite file; safe to share between threads."""

    def __init__(self, path: str | Path, *,
                 now: Callable[[], datetime] = lambda: datetime.now(timezone.utc)) -> None:
        self.path = str(path)
        self._local = threading.local()
        self._connections: weakref.WeakSet[_Connection] = weakref.WeakSet()
        self._lock = threading.Lock()
        self._closed = False
        self._now = now
        self._claim: int | None = None
        conn = self._conn()
        # WAL: readers never block the writer nor it them, so intake, the engine and the
        # dispatcher run side by side; and a commit is one append to the log file.
        mode = self._run(lambda: conn.execute("PRAGMA journal_mode = WAL").fetchone()[0])
        if mode != "wal":
            raise StoreError(f"{self.path}: SQLite would not use write-ahead logging ({mode})")
        self._run(lambda: migrate(conn))
        with self._transaction() as tx:
            tx.execute("INSERT OR IGNORE INTO store_meta (key, value) VALUES ('created_at', ?)",
                       (_utc(now()),))

    # -- connections and transactions -------------------------------------------------
    def _connect(self, synchronous: str = "FULL") -> _Connection:
        conn = sqlite3.connect(self.path, timeout=BUSY_TIMEOUT_MS / 1000, factory=_Connection,
                               isolation_level=None, check_same_thread=False)
        # FULL: in WAL mode NORMAL skips the fsync at each commit, so a power cut can undo
        # the last commits. An event acknowledged to its sender, or an engine commit after
        # which a connector was called, must survive that; FULL makes every commit durable.
        conn.execute(f"PRAGMA synchronous = {synchronous}")
        conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        # The outbox names logged actions and rejections name logged events; say so.
        conn.execute("PRAGMA foreign_keys = ON")
        return conn

    def _conn(self, kind: str = "conn") -> _Connection:
        """Return this thread's connection: `conn` (every commit fsynced) or `settle`."""
        if self._closed:
            raise StoreError(f"{self.path}: the store is closed")
        conn = getattr(self._local, kind, None)
        if conn is None:
            try:
                # `settle` records delivery outcomes: NORMAL, so that the record follows the
                # far side's acceptance as closely as possible (docs/delivery.md). In WAL
                # mode a process crash never loses a committed transaction; only an OS crash
                # or power cut can undo the last NORMAL commits, and then a message is sent
                # again with the same idempotency key.
                conn = self._connect("NORMAL" if kind == "settle" else "FULL")
            except sqlite3.Error as exc:
                raise StoreError(f"{self.path}: cannot open the store ({exc})") from None
            setattr(self._local, kind, conn)  # closed with its thread, or by close()
            with self._lock:
                self._connections.add(conn)
        return conn

    def _run(self, work: Callable[[], Any]) -> Any:
        try:
            return work()
        except sqlite3.Error as exc:
            raise StoreError(f"{self.path}: {exc}") from exc

    def _query(self, sql: str, params: Sequence[Any] | dict[str, Any] = ()) -> list[Any]:
        conn = self._conn()
        return self._run(lambda: conn.execute(sql, params).fetchall())

    @contextmanager
    def _transaction(self, begin: str = "BEGIN IMMEDIATE", *,
                     kind: str = "conn") -> Iterator[_Connection]:
        conn = self._conn(kind)
        self._run(lambda: conn.execute(begin))
        try:
            yield conn
            conn.execute("COMMIT")
        except BaseException as exc:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            if isinstance(exc, sqlite3.Error):
                raise StoreError(f"{self.path}: {exc}") from exc
            raise

    def close(self) -> None:
        with self._lock:
            self._closed = True
            connections = list(self._connections)
            claim, self._claim = self._claim, None
        for conn in connections:
            conn.close()
        if claim is not None:
            os.close(claim)  # releases the daemon's lock

    # -- the one daemon of this file --------------------------------------------------
    def claim_for_daemon(self) -> int:
        """Make this store the running daemon's own; return how many stale leases it freed.

        A SQLite store is served by one daemon: an exclusive lock on `<file>.lock`, held
        until `close()` (or the process's end, however it ends), refuses a second one. The
        leases left in the outbox are therefore a dead daemon's, whose deliveries were cut
        short: they are due again at once instead of when their lease would run out.
        """
        if fcntl is not None and self._claim is None:
            handle = os.open(f"{self.path}.lock", os.O_RDWR | os.O_CREAT, 0o600)
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                os.close(handle)
                raise StoreError(f"{self.path}: another billflow daemon is running on this "
                                 "store") from None
            self._claim = handle
        with self._transaction() as conn:
            return conn.execute("UPDATE outbox SET leased_until = NULL WHERE status = 'pending' "
                                "AND leased_until IS NOT NULL").rowcount

    # -- event log --------------------------------------------------------------------
    def append_events(self, events: Sequence[IncomingEvent]) -> list[bool]:
        rows = [(e.id, e.type, e.at, e.body, e.source, _utc(e.received_at)) for e in events]
        if not rows:
            return []
        with self._transaction() as conn:
            live = self._live_ids(conn, sorted({e.id for e in events}))
            new = []
            for event in events:
                new.append(event.id not in live)
                live.add(event.id)
            conn.executemany("""INSERT INTO events (id, type, at, body, source, received_at)
                VALUES (?, ?, ?, ?, ?, ?)""", [row for row, is_new in zip(rows, new) if is_new])
        return new

    @staticmethod
    def _live_ids(conn: sqlite3.Connection, ids: list[str]) -> set[str]:
        """Return which of `ids` the log holds an event for that was not rejected."""
        return {row[0] for row in conn.execute(
            """SELECT DISTINCT e.id FROM events e WHERE e.id IN (SELECT value FROM json_each(?))
            AND NOT EXISTS (SELECT 1 FROM event_rejections r WHERE r.position = e.position)""",
            (json.dumps(ids),))}

    def events_after(self, position: int, limit: int) -> list[StoredEvent]:
        rows = self._query(f"SELECT {_EVENT_COLUMNS} WHERE e.position > ? "
                           "ORDER BY e.position LIMIT ?", (position, limit))
        return [_stored_event(row) for row in rows]

    def event(self, event_id: str) -> StoredEvent | None:
        rows = self._query(f"SELECT {_EVENT_COLUMNS} WHERE e.id = ? "
                           "ORDER BY e.position DESC LIMIT 1", (event_id,))
        return _stored_event(rows[0]) if rows else None

    # -- engine state -----------------------------------------------------------------
    def load_snapshot(self) -> Snapshot | None:
        rows = self._query("SELECT position, state_json, clock, rules_version, saved_at "
                           "FROM engine_snapshot")
        if not rows:
            return None
        position, state_json, clock, rules_version, saved_at = rows[0]
        return Snapshot(position, state_json, _from_text(clock), rules_version,
                        datetime.fromisoformat(saved_at))

    def commit_decisions(self, position: int, state_json: str, clock: datetime | None,
                         rules_version: str, actions: Sequence[Action],
                         deliveries: Sequence[tuple[str, str]],
                         rejected: Sequence[tuple[int, str]], decided_at: datetime) -> None:
        decided = _utc(decided_at)
        if clock is not None:
            _utc(clock)  # aware, or refused
        with self._transaction() as conn:
            stored = conn.execute("SELECT position FROM engine_snapshot").fetchone()
            if stored is not None and position < stored[0]:
                raise StoreError(f"the engine snapshot is at event {stored[0]} already; a "
                                 f"commit at {position} would go back (is another engine running?)")
            last = conn.execute("SELECT COALESCE(MAX(position), 0) FROM events").fetchone()[0]
            if position > last:
                raise StoreError(f"a commit at event {position}, but the log ends at {last}")
            conn.execute("INSERT OR REPLACE INTO engine_snapshot (only, position, state_json, "
                         "clock, rules_version, saved_at) VALUES (1, ?, ?, ?, ?, ?)",
                         (position, state_json, clock.isoformat() if clock else None,
                          rules_version, decided))
            # An action decided again (after a crash, or by a rebuild from the event log)
            # keeps its first decision and its deliveries: it is queued nowhere anew.
            logged = {row[0] for row in conn.execute(
                "SELECT id FROM actions WHERE id IN (SELECT value FROM json_each(?))",
                (json.dumps([action.id for action in actions]),))}
            # ON CONFLICT DO NOTHING, not INSERT OR IGNORE: only the repeat is ignored, a
            # row that breaks another constraint still fails the whole commit.
            conn.executemany("""INSERT INTO actions
                (id, type, client, at, body, position, decided_at) VALUES (?, ?, ?, ?, ?, ?, ?)
                ON CONFLICT (id) DO NOTHING""",
                             (_action_row(action, position, decided) for action in actions
                              if action.id not in logged))
            conn.executemany("""INSERT INTO outbox
                (action_id, connector, status, next_attempt_at, created_at)
                VALUES (?, ?, 'pending', ?, ?) ON CONFLICT (action_id, connector) DO NOTHING""",
                             [(action_id, connector, decided, decided)
                              for action_id, connector in deliveries if action_id not in logged])
            conn.executemany("INSERT OR REPLACE INTO event_rejections (position, message, "
                             "decided_at) VALUES (?, ?, ?)",
                             [(pos, message, decided) for pos, message in rejected])

    # -- outbox and dispatch ----------------------------------------------------------
    def due_deliveries(self, now: datetime, limit: int, *,
                       lease: timedelta = DEFAULT_LEASE) -> list[Delivery]:
        at = {"now": _utc(now), "until": _utc(now + lease), "limit": limit}
        # Look first without the write lock: an idle dispatcher must not queue up writers.
        rows = self._query(f"""SELECT {_DELIVERY_COLUMNS} WHERE {_DUE}
            ORDER BY o.next_attempt_at, a.seq, o.connector LIMIT :limit""", at)
        if not rows:
            return []
        leased = []
        with self._transaction() as conn:
            for row in rows:
                taken = conn.execute(f"""UPDATE outbox AS o SET leased_until = :until
                    WHERE o.action_id = :action AND o.connector = :connector AND {_DUE}""",
                                     {**at, "action": row[0], "connector": row[1]}).rowcount
                if taken:
                    leased.append(_delivery(row))
        return leased

    def record_attempt(self, action_id: str, connector: str, outcome: DeliveryOutcome,
                       error: str | None, next_attempt_at: datetime | None,
                       at: datetime) -> None:
        if outcome not in _OUTCOME_STATUS:
            raise StoreError(f"unknown delivery outcome '{outcome}'")
        if outcome == "retry" and next_attempt_at is None:
            raise StoreError("a retry needs the time of the next attempt")
        settled = _utc(at)
        next_at = _utc(next_attempt_at) if outcome == "retry" and next_attempt_at else None
        key = (action_id, connector)
        with self._transaction(kind="settle") as conn:
            row = conn.execute("SELECT status, attempts FROM outbox WHERE action_id = ? "
                               "AND connector = ?", key).fetchone()
            if row is None:
                raise StoreError(f"no delivery of action '{action_id}' to '{connector}'")
            status, attempts = row
            if status != "delivered":  # a late report of another attempt changes nothing
                conn.execute("""UPDATE outbox SET status = ?, attempts = ?, next_attempt_at = ?,
                    leased_until = NULL, last_error = ?, settled_at = ?
                    WHERE action_id = ? AND connector = ?""",
                             (_OUTCOME_STATUS[outcome], attempts + 1, next_at, error, settled,
                              *key))
            conn.execute("""INSERT INTO dispatch_log (action_id, connector, attempt, outcome,
                error, at) VALUES (?, ?, ?, ?, ?, ?)""", (*key, attempts + 1, outcome, error,
                                                          settled))

    def dead_letters(self) -> list[Delivery]:
        rows = self._query(f"SELECT {_DELIVERY_COLUMNS} WHERE o.status = 'dead' "
                           "ORDER BY o.settled_at, a.seq, o.connector")
        return [_delivery(row) for row in rows]

    def retry_dead(self, action_id: str, at: datetime | None = None) -> int:
        when = _utc(at or self._now())
        with self._transaction() as conn:
            connectors = [row[0] for row in conn.execute(
                """UPDATE outbox SET status = 'pending', attempts = 0, next_attempt_at = ?,
                leased_until = NULL WHERE action_id = ? AND status = 'dead' RETURNING connector""",
                (when, action_id)).fetchall()]
            conn.executemany("""INSERT INTO dispatch_log (action_id, connector, attempt,
                outcome, error, at) VALUES (?, ?, 0, 'requeued', NULL, ?)""",
                             [(action_id, connector, when) for connector in connectors])
        return len(connectors)

    def delivery_status(self, action_id: str) -> list[Delivery]:
        rows = self._query(f"SELECT {_DELIVERY_COLUMNS} WHERE o.action_id = ? "
                           "ORDER BY o.connector", (action_id,))
        return [_delivery(row) for row in rows]

    # -- rules history ----------------------------------------------------------------
    def record_rules(self, version: str, loaded_at: datetime, ok: bool,
                     errors: Sequence[str], source: str) -> None:
        row = (version, _utc(loaded_at), int(ok), json.dumps(list(errors)), source)
        with self._transaction() as conn:
            conn.execute("INSERT INTO rules_history (version, loaded_at, ok, errors, source) "
                         "VALUES (?, ?, ?, ?, ?)", row)

    def rules_history(self, limit: int) -> list[RulesRecord]:
        rows = self._query("SELECT version, loaded_at, ok, errors, source FROM rules_history "
                           "ORDER BY seq DESC LIMIT ?", (limit,))
        return [_rules_record(row) for row in rows]

    def last_good_rules(self) -> RulesRecord | None:
        rows = self._query("SELECT version, loaded_at, ok, errors, source FROM rules_history "
                           "WHERE ok = 1 ORDER BY seq DESC LIMIT 1")
        return _rules_record(rows[0]) if rows else None

    # -- connectors ---------------------------------------------------------------------
    def connector_value(self, connector: str, key: str) -> str | None:
        rows = self._query("SELECT value FROM connector_state WHERE connector = ? AND key = ?",
                           (connector, key))
        return rows[0][0] if rows else None

    def put_connector_value(self, connector: str, key: str, value: str | None) -> None:
        with self._transaction() as conn:
            if value is None:
                conn.execute("DELETE FROM connector_state WHERE connector = ? AND key = ?",
                             (connector, key))
            else:
                conn.execute("INSERT INTO connector_state (connector, key, value) VALUES (?, ?, ?) "
                             "ON CONFLICT (connector, key) DO UPDATE SET value = excluded.value",
                             (connector, key, value))

    def record_source_problems(self, connector: str, problems: Sequence[tuple[str, str]],
                               at: datetime) -> None:
        stamp = _utc(at)
        with self._transaction() as conn:
            conn.executemany(
                "INSERT INTO source_problems (connector, record, message, first_seen, last_seen, "
                "seen) VALUES (?, ?, ?, ?, ?, 1) ON CONFLICT (connector, record) DO UPDATE SET "
                "message = excluded.message, last_seen = excluded.last_seen, seen = seen + 1",
                [(connector, record, message, stamp, stamp) for record, message in problems])

    def source_problems(self, connector: str | None = None) -> list[SourceProblemRow]:
        sql = ("SELECT connector, record, message, first_seen, last_seen, seen "
               "FROM source_problems")
        params: tuple[Any, ...] = ()
        if connector is not None:
            sql, params = sql + " WHERE connector = ?", (connector,)
        rows = self._query(sql + " ORDER BY first_seen, connector, record", params)
        return [SourceProblemRow(row[0], row[1], row[2], _from_text(row[3]), _from_text(row[4]),
                                 row[5]) for row in rows]

    def clear_source_problems(self, connector: str) -> int:
        with self._transaction() as conn:
            return conn.execute("DELETE FROM source_problems WHERE connector = ?",
                                (connector,)).rowcount

    # -- single-use links -------------------------------------------------------------
    def use_link(self, link_id: str, purpose: str, used_at: datetime,
                 expires_at: datetime) -> bool:
        used = _utc(used_at)
        with self._transaction() as conn:
            conn.execute("DELETE FROM used_links WHERE expires_at < ?", (used,))
            return conn.execute("INSERT INTO used_links (id, purpose, used_at, expires_at) "
                                "VALUES (?, ?, ?, ?) ON CONFLICT (id) DO NOTHING",
                                (link_id, purpose, used, _utc(expires_at))).rowcount == 1

    def link_used(self, link_id: str) -> bool:
        return bool(self._query("SELECT 1 FROM used_links WHERE id = ?", (link_id,)))

    # -- queries ----------------------------------------------------------------------
    def actions(self, after: str | None = None,
                types: Iterable[str] | None = None) -> Iterator[dict[str, Any]]:
        start = 0
        if after is not None:
            rows = self._query("SELECT seq FROM actions WHERE id = ?", (after,))
            if not rows:
                raise StoreError(f"no action '{after}' in the action log")
            start = rows[0][0]
        return self._actions_from(start, None if types is None else sorted(set(types)))

    def _actions_from(self, seq: int, types: list[str] | None) -> Iterator[dict[str, Any]]:
        only = "" if types is None else f"AND type IN ({','.join('?' * len(types))})"
        while True:  # page by page: no cursor stays open between the caller's steps
            rows = self._query(f"SELECT seq, body FROM actions WHERE seq > ? {only} "
                               "ORDER BY seq LIMIT ?", (seq, *(types or ()), _PAGE))
            for seq, body in rows:
                yield json.loads(body)
            if len(rows) < _PAGE:
                return

    def action(self, action_id: str) -> dict[str, Any] | None:
        rows = self._query("SELECT body FROM actions WHERE id = ?", (action_id,))
        return json.loads(rows[0][0]) if rows else None

    def counts(self) -> StoreCounts:
        def one(sql: str) -> int:
            return conn.execute(sql).fetchone()[0]
        with self._transaction("BEGIN") as conn:  # one consistent view, no write lock
            events = one("SELECT COUNT(*) FROM events")
            undecided = one("SELECT COUNT(*) FROM events WHERE position > "
                            "COALESCE((SELECT position FROM engine_snapshot), 0)")
            rejected = one("SELECT COUNT(*) FROM event_rejections")
            by_type = dict(conn.execute("SELECT type, COUNT(*) FROM actions GROUP BY type"))
            outbox = dict(conn.execute("SELECT status, COUNT(*) FROM outbox GROUP BY status"))
        return StoreCounts(events, undecided, rejected, by_type, outbox.get("pending", 0),
                           outbox.get("dead", 0), outbox.get("delivered", 0))

    # -- meta -------------------------------------------------------------------------
    def created_on(self, zone: tzinfo | None = None) -> date:
        rows = self._query("SELECT value FROM store_meta WHERE key = 'created_at'")
        return datetime.fromisoformat(rows[0][0]).astimezone(zone or timezone.utc).date()
