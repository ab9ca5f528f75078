"""The SQLite store, against real files: intake, commits, outbox, rules history, migrations."""

from __future__ import annotations

import inspect
import json
import sqlite3
import threading
from collections.abc import Iterator
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from engine.errors import StoreError
from engine.model.actions import Action, dump_action
from engine.runtime import sqlite_store, store as store_module
from engine.runtime.sqlite_store import SCHEMA_VERSION, SqliteStore, migrate
from engine.runtime.store import IncomingEvent, Store, open_store

T0 = datetime(2026, 3, 2, 14, 0, tzinfo=timezone.utc)
NEW_YORK = ZoneInfo("America/New_York")
EST = timezone(timedelta(hours=-5))


def incoming(event_id: str, source: str = "http", at: datetime = T0) -> IncomingEvent:
    body = {"id": event_id, "type": "invoice.approved", "at": "2026-03-02T09:00:00-05:00",
            "payload": {"invoice": "acme/social/2026-02", "by": "marcus"}}
    return IncomingEvent(event_id, "invoice.approved", body["at"], json.dumps(body), source, at)


def action(action_id: str, kind: str = "invoice.issued", **payload: object) -> Action:
    return Action(action_id, kind, datetime(2026, 3, 2, 9, 0, tzinfo=EST), "acme",
                  "issue#on_approval", "3f9a0c1d", payload or {"invoice": action_id})


def commit(store: SqliteStore, position: int, state: str = "{}", actions=(), deliveries=(),
           rejected=(), at: datetime = T0) -> None:
    store.commit_decisions(position, state, at.astimezone(EST), "3f9a0c1d", list(actions),
                           list(deliveries), list(rejected), at)


@pytest.fixture
def path(tmp_path: Path) -> Path:
    return tmp_path / "billflow.db"


@pytest.fixture
def store(path: Path) -> Iterator[SqliteStore]:
    opened = SqliteStore(path, now=lambda: T0)
    yield opened
    opened.close()


def test_public_names() -> None:
    assert set(store_module.__all__) == {
        "Store", "open_store", "IncomingEvent", "StoredEvent", "Snapshot", "Delivery",
        "DeliveryOutcome", "RulesRecord", "StoreCounts", "SourceProblemRow", "DEFAULT_LEASE"}
    assert set(sqlite_store.__all__) == {"SqliteStore", "MIGRATIONS", "SCHEMA_VERSION",
                                         "BUSY_TIMEOUT_MS"}


def test_the_sqlite_store_implements_the_protocol_exactly() -> None:
    members = [name for name, value in vars(Store).items()
               if callable(value) and not name.startswith("_")]
    assert len(members) >= 23  # the protocol only grows
    for name in members:
        wanted = inspect.signature(getattr(Store, name))
        found = inspect.signature(getattr(SqliteStore, name))
        assert list(found.parameters) == list(wanted.parameters), name


def test_open_store_reads_urls(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    for url, file in [("sqlite:///relative.db", tmp_path / "relative.db"),
                      (f"sqlite:///{tmp_path}/absolute.db", tmp_path / "absolute.db"),
                      (str(tmp_path / "bare.db"), tmp_path / "bare.db")]:
        opened = open_store(url)
        opened.close()
        assert file.exists(), url
    with pytest.raises(StoreError, match="PostgreSQL support is not built yet"):
        open_store("postgresql://billflow@db.internal/billflow")
    for url in ("mysql://db/billflow", "sqlite://relative.db", ":memory:", "sqlite:///"):
        with pytest.raises(StoreError):
            open_store(url)
    with pytest.raises(StoreError, match="cannot open|unable to open"):
        open_store(str(tmp_path / "missing" / "dir" / "billflow.db"))


def test_append_is_idempotent(store: SqliteStore) -> None:
    assert store.append_events([incoming("e1"), incoming("e2", "ingest:jan.ndjson:2")]) == [
        True, True]
    assert store.append_events([incoming("e2", "connector:harvest"), incoming("e3"),
                                incoming("e3")]) == [False, True, False]
    assert store.append_events([]) == []
    assert store.counts().events == 3
    kept = store.event("e2")
    assert kept is not None and kept.source == "ingest:jan.ndjson:2"
    assert kept.received_at == T0 and kept.rejection is None
    assert json.loads(kept.body)["payload"]["by"] == "marcus"
    assert store.event("nope") is None
    big = [incoming(f"bulk-{i}", f"ingest:year.ndjson:{i}") for i in range(5000)]
    assert store.append_events(big + big[:3]) == [True] * 5000 + [False] * 3
    assert store.counts().events == 5003


def test_positions_increase_and_page(store: SqliteStore) -> None:
    for batch in range(3):
        store.append_events([incoming(f"e{batch}-{i}") for i in range(4)])
    events = store.events_after(0, 100)
    positions = [e.position for e in events]
    assert positions == sorted(set(positions)) and len(positions) == 12
    assert [e.id for e in events[:5]] == ["e0-0", "e0-1", "e0-2", "e0-3", "e1-0"]
    page = store.events_after(positions[4], 3)
    assert [e.id for e in page] == ["e1-1", "e1-2", "e1-3"]
    assert store.events_after(positions[-1], 10) == []


def test_a_rejected_event_can_be_sent_again(store: SqliteStore) -> None:
    store.append_events([incoming("e1"), incoming("bad")])
    first = store.event("bad")
    commit(store, first.position, rejected=[(first.position, "unknown client 'acme'")])
    assert store.event("bad").rejection == "unknown client 'acme'"
    assert store.counts().events_rejected == 1
    assert store.append_events([incoming("bad"), incoming("e1")]) == [True, False]
    resent = store.event("bad")
    assert resent.position > first.position and resent.rejection is None
    assert store.append_events([incoming("bad")]) == [False]


def test_commit_writes_snapshot_actions_outbox_and_rejections(store: SqliteStore) -> None:
    assert store.load_snapshot() is None
    store.append_events([incoming("e1"), incoming("e2")])
    issued = action("invoice.issued:acme/social/2026-02")
    commit(store, 2, '{"format": 1}', [issued], [(issued.id, "files"), (issued.id, "email")],
           [(1, "no such invoice")])
    snap = store.load_snapshot()
    assert (snap.position, snap.state_json, snap.rules_version) == (2, '{"format": 1}',
                                                                   "3f9a0c1d")
    assert snap.clock == T0 and snap.clock.utcoffset() == timedelta(hours=-5)
    assert snap.saved_at == T0
    assert store.action(issued.id) == json.loads(dump_action(issued))
    assert [d.connector for d in store.delivery_status(issued.id)] == ["email", "files"]
    assert store.event("e1").rejection == "no such invoice"
    counts = store.counts()
    assert (counts.events, counts.events_undecided, counts.events_rejected) == (2, 0, 1)
    assert counts.actions == {"invoice.issued": 1} and counts.outbox_pending == 2
    store.append_events([incoming("e3")])
    assert store.counts().events_undecided == 1


def _everything(path: Path) -> dict[str, list[tuple]]:
    with sqlite3.connect(path) as raw:
        return {table: raw.execute(f"SELECT * FROM {table}").fetchall() for table in (
            "engine_snapshot", "actions", "outbox", "event_rejections", "dispatch_log")}


@pytest.mark.parametrize("spoil", ["unserialisable action", "delivery of no action"])
def test_a_commit_that_fails_leaves_nothing_behind(store: SqliteStore, path: Path,
                                                   spoil: str) -> None:
    store.append_events([incoming("e1"), incoming("e2")])
    commit(store, 1, '{"state": "before"}', [action("a1")], [("a1", "files")])
    before = _everything(path)
    actions = [action("a2"), action("a3")]
    deliveries = [("a2", "files"), ("a3", "files")]
    if spoil == "unserialisable action":
        actions.append(action("a4", amount=object()))
    else:
        deliveries.append(("never-decided", "files"))
    with pytest.raises(StoreError):
        commit(store, 2, '{"state": "after"}', actions, deliveries, [(2, "rejected")])
    assert _everything(path) == before
    assert store.load_snapshot().state_json == '{"state": "before"}'
    assert [a["id"] for a in store.actions()] == ["a1"]
    commit(store, 2, '{"state": "after"}', actions[:2], deliveries[:2])  # the store still works
    assert [a["id"] for a in store.actions()] == ["a1", "a2", "a3"]


def test_repeated_action_ids_keep_the_first_decision(store: SqliteStore) -> None:
    store.append_events([incoming("e1"), incoming("e2")])
    commit(store, 1, actions=[action("a1", note="first")], deliveries=[("a1", "files")])
    store.record_attempt("a1", "files", "delivered", None, None, T0)
    # A restart re-decides a1 from the same events, then decides a2 as well.
    commit(store, 2, actions=[action("a1", note="again"), action("a2")],
           deliveries=[("a1", "files"), ("a2", "files")])
    assert [a["id"] for a in store.actions()] == ["a1", "a2"]
    assert store.action("a1")["payload"] == {"note": "first"}
    assert [(d.status, d.attempts) for d in store.delivery_status("a1")] == [("delivered", 1)]
    assert [d.action_id for d in store.due_deliveries(T0, 10)] == ["a2"]


def test_an_action_decided_again_is_queued_nowhere_anew(store: SqliteStore) -> None:
    store.append_events([incoming("e1"), incoming("e2")])
    commit(store, 1, actions=[action("a1")], deliveries=[("a1", "files")])
    store.record_attempt("a1", "files", "delivered", None, None, T0)
    # A rebuild from the event log decides a1 again, under a routing that now names email.
    commit(store, 2, actions=[action("a1"), action("a2")],
           deliveries=[("a1", "files"), ("a1", "email"), ("a2", "email")])
    assert [(d.connector, d.status) for d in store.delivery_status("a1")] == [
        ("files", "delivered")]
    assert [(d.action_id, d.connector) for d in store.due_deliveries(T0, 10)] == [("a2", "email")]


def test_an_event_rejected_again_keeps_one_note(store: SqliteStore) -> None:
    store.append_events([incoming("e1"), incoming("e2")])
    commit(store, 1, rejected=[(1, "unknown client 'acme'")])
    commit(store, 2, rejected=[(1, "unknown client 'acme'"), (2, "no such invoice")])
    assert store.event("e1").rejection == "unknown client 'acme'"
    assert store.counts().events_rejected == 2


def test_a_commit_never_goes_back(store: SqliteStore) -> None:
    store.append_events([incoming("e1"), incoming("e2")])
    commit(store, 2)
    commit(store, 2)  # timers only: same position
    with pytest.raises(StoreError, match="another engine"):
        commit(store, 1)
    with pytest.raises(StoreError, match="log ends at 2"):
        commit(store, 3)


def test_outbox_lifecycle(store: SqliteStore, path: Path) -> None:
    store.append_events([incoming("e1")])
    commit(store, 1, actions=[action("a1")], deliveries=[("a1", "files")])
    [due] = store.due_deliveries(T0, 10)
    assert (due.action_id, due.connector, due.attempts, due.status) == ("a1", "files", 0,
                                                                        "pending")
    assert json.loads(due.action_json)["id"] == "a1" and due.next_attempt_at == T0
    assert store.due_deliveries(T0, 10) == []  # leased to the first caller
    retry_at = T0 + timedelta(minutes=10)
    store.record_attempt("a1", "files", "retry", "HTTP 503", retry_at, T0 + timedelta(seconds=2))
    assert store.due_deliveries(T0 + timedelta(minutes=9), 10) == []
    [again] = store.due_deliveries(retry_at, 10)
    assert (again.attempts, again.last_error, again.next_attempt_at) == (1, "HTTP 503", retry_at)
    store.record_attempt("a1", "files", "delivered", None, None, retry_at)
    assert store.due_deliveries(retry_at + timedelta(days=30), 10) == []
    [done] = store.delivery_status("a1")
    assert (done.status, done.attempts, done.next_attempt_at) == ("delivered", 2, None)
    assert store.counts().outbox_delivered == 1
    with sqlite3.connect(path) as raw:
        log = raw.execute("SELECT attempt, outcome, error FROM dispatch_log ORDER BY seq")
        assert log.fetchall() == [(1, "retry", "HTTP 503"), (2, "delivered", None)]


def test_a_lease_runs_out_when_its_dispatcher_died(store: SqliteStore) -> None:
    store.append_events([incoming("e1")])
    commit(store, 1, actions=[action("a1")], deliveries=[("a1", "files")])
    assert len(store.due_deliveries(T0, 10, lease=timedelta(minutes=1))) == 1
    assert store.due_deliveries(T0 + timedelta(seconds=59), 10) == []
    assert len(store.due_deliveries(T0 + timedelta(minutes=1), 10)) == 1


def test_dead_letters_can_be_retried(store: SqliteStore) -> None:
    store.append_events([incoming("e1")])
    commit(store, 1, actions=[action("a1"), action("a2")],
           deliveries=[("a1", "files"), ("a1", "email"), ("a2", "files")])
    store.record_attempt("a1", "email", "dead", "mailbox unavailable", None, T0)
    [dead] = store.dead_letters()
    assert (dead.action_id, dead.connector, dead.last_error) == ("a1", "email",
                                                                 "mailbox unavailable")
    assert {(d.action_id, d.connector) for d in store.due_deliveries(T0, 10)} == {
        ("a1", "files"), ("a2", "files")}
    assert store.counts().outbox_dead == 1
    later = T0 + timedelta(minutes=1)  # the other two are still leased
    assert store.retry_dead("a1", later) == 1
    assert store.retry_dead("a1") == 0 and store.retry_dead("unknown") == 0
    assert store.dead_letters() == []
    [requeued] = store.due_deliveries(later, 10)
    assert (requeued.connector, requeued.attempts, requeued.status) == ("email", 0, "pending")


def test_attempts_are_checked(store: SqliteStore) -> None:
    store.append_events([incoming("e1")])
    commit(store, 1, actions=[action("a1")], deliveries=[("a1", "files")])
    with pytest.raises(StoreError, match="no delivery"):
        store.record_attempt("a1", "email", "delivered", None, None, T0)
    with pytest.raises(StoreError, match="next attempt"):
        store.record_attempt("a1", "files", "retry", "timeout", None, T0)
    with pytest.raises(StoreError, match="outcome"):
        store.record_attempt("a1", "files", "lost", None, None, T0)  # type: ignore[arg-type]
    with pytest.raises(StoreError, match="aware"):
        store.record_attempt("a1", "files", "delivered", None, None, datetime(2026, 3, 2))


def test_rules_history(store: SqliteStore) -> None:
    assert store.last_good_rules() is None and store.rules_history(5) == []
    store.record_rules("3f9a0c1d", T0, True, [], "rules/")
    store.record_rules("", T0 + timedelta(hours=1), False,
                       ["rules/clients/acme.yaml:4:3: unknown key 'fequency'"], "rules/")
    latest, first = store.rules_history(5)
    assert (latest.ok, latest.errors) == (False, (
        "rules/clients/acme.yaml:4:3: unknown key 'fequency'",))
    assert (first.version, first.loaded_at, first.errors) == ("3f9a0c1d", T0, ())
    assert store.last_good_rules() == first
    assert store.rules_history(1) == [latest]


def test_actions_in_decision_order_by_type_and_after(store: SqliteStore) -> None:
    store.append_events([incoming("e1")])
    decided = [action(f"a{i:04d}", "reminder.sent" if i % 3 else "invoice.issued")
               for i in range(1200)]
    commit(store, 1, actions=decided)
    assert [a["id"] for a in store.actions()] == [a.id for a in decided]
    issued = list(store.actions(types=["invoice.issued"]))
    assert len(issued) == 400 and {a["type"] for a in issued} == {"invoice.issued"}
    assert [a["id"] for a in store.actions(after="a1196")] == ["a1197", "a1198", "a1199"]
    assert [a["id"] for a in store.actions(after="a1196", types=["invoice.issued"])] == [
        "a1197"]
    assert list(store.actions(types=[])) == []
    with pytest.raises(StoreError, match="no action"):
        store.actions(after="never")
    assert store.counts().actions == {"invoice.issued": 400, "reminder.sent": 800}


def test_created_on_is_the_first_opening(path: Path) -> None:
    first = SqliteStore(path, now=lambda: datetime(2026, 1, 1, 3, 0, tzinfo=timezone.utc))
    assert first.created_on() == date(2026, 1, 1)
    assert first.created_on(NEW_YORK) == date(2025, 12, 31)
    first.close()
    again = SqliteStore(path, now=lambda: T0)
    assert again.created_on() == date(2026, 1, 1)
    again.close()


def test_concurrent_appends_from_two_threads(store: SqliteStore) -> None:
    ids = [f"e{i:03d}" for i in range(300)]
    shares = {"intake": ids[:200], "connector": ids[100:]}  # 100 ids sent by both
    start = threading.Barrier(3)
    results: dict[str, list[tuple[str, bool]]] = {}
    seen: list[str] = []
    done = threading.Event()

    def send(name: str) -> None:
        start.wait()
        mine = shares[name]
        results[name] = []
        for i in range(0, len(mine), 10):
            batch = mine[i:i + 10]
            results[name] += zip(batch, store.append_events([incoming(e, name) for e in batch]))

    def follow() -> None:  # an engine reading while intake writes must skip nothing
        start.wait()
        position = 0
        while True:
            finished = done.is_set()
            for event in store.events_after(position, 50):
                assert event.position > position
                position = event.position
                seen.append(event.id)
            if finished and not store.events_after(position, 1):
                return

    threads = [threading.Thread(target=send, args=(name,)) for name in shares]
    reader = threading.Thread(target=follow)
    for thread in [*threads, reader]:
        thread.start()
    for thread in threads:
        thread.join()
    done.set()
    reader.join()
    new = [event_id for outcome in results.values() for event_id, is_new in outcome if is_new]
    assert sorted(new) == ids  # each id new exactly once, whichever thread won
    assert sorted(seen) == ids and store.counts().events == 300


def test_reopening_keeps_everything(path: Path) -> None:
    first = SqliteStore(path, now=lambda: T0)
    first.append_events([incoming("e1"), incoming("e2")])
    commit(first, 2, '{"k": 1}', [action("a1")], [("a1", "files")], [(1, "no")])
    first.record_attempt("a1", "files", "dead", "gone", None, T0)
    first.record_rules("3f9a0c1d", T0, True, [], "rules/")
    first.close()
    with pytest.raises(StoreError, match="closed"):
        first.events_after(0, 10)
    again = SqliteStore(path)
    assert [e.id for e in again.events_after(0, 10)] == ["e1", "e2"]
    assert again.event("e1").rejection == "no"
    assert again.load_snapshot().state_json == '{"k": 1}'
    assert [d.last_error for d in again.dead_letters()] == ["gone"]
    assert again.last_good_rules().version == "3f9a0c1d"
    assert again.append_events([incoming("e2")]) == [False]
    again.close()


def test_every_connection_is_durable_and_checked(store: SqliteStore, path: Path) -> None:
    found = {}

    def pragmas(name: str) -> None:
        conn = store._conn()
        found[name] = tuple(conn.execute(f"PRAGMA {p}").fetchone()[0] for p in (
            "journal_mode", "synchronous", "foreign_keys", "busy_timeout"))

    pragmas("main")
    other = threading.Thread(target=pragmas, args=("other",))
    other.start()
    other.join()
    assert found["main"] == found["other"] == ("wal", 2, 1, sqlite_store.BUSY_TIMEOUT_MS)


def test_upgrading_a_version_1_file(path: Path) -> None:
    raw = sqlite3.connect(path, isolation_level=None)
    assert migrate(raw, upto=1) == 1
    raw.execute("INSERT INTO events (id, type, at, body, source, received_at) VALUES "
                "('old', 'time.approved', '2026-01-05T10:10:00-05:00', '{}', 'http', ?)",
                (T0.isoformat(),))
    tables = {row[0] for row in raw.execute("SELECT name FROM sqlite_master")}
    assert "events" in tables and "outbox" not in tables
    raw.close()
    upgraded = SqliteStore(path, now=lambda: T0)
    assert [e.id for e in upgraded.events_after(0, 10)] == ["old"]
    commit(upgraded, 1, actions=[action("a1")], deliveries=[("a1", "files")])
    assert len(upgraded.due_deliveries(T0, 10)) == 1
    upgraded.record_rules("3f9a0c1d", T0, True, [], "rules/")
    upgraded.close()
    with sqlite3.connect(path) as check:
        assert check.execute("SELECT version FROM schema_version").fetchall() == [
            (SCHEMA_VERSION,)]
    assert SCHEMA_VERSION == len(sqlite_store.MIGRATIONS) >= 2


def test_a_newer_schema_is_refused(path: Path) -> None:
    SqliteStore(path).close()
    with sqlite3.connect(path) as raw:
        raw.execute("UPDATE schema_version SET version = 99")
    with pytest.raises(StoreError, match="newer billflow"):
        SqliteStore(path)


def test_a_file_that_is_not_a_store_is_refused(path: Path) -> None:
    path.write_text("just some notes\n" * 100)
    with pytest.raises(StoreError):
        SqliteStore(path)
