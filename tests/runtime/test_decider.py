"""The decider over a real SQLite store: a snapshot of an older format is rebuilt from the log.

A store is decided round by round over two months (milestones, a timesheet waiting for
its approver, an event the engine rejects, reminders), some of its deliveries made. Its
snapshot is then turned into format 1, as an older billflow would have left it. A new
decider replays the event log from its first event: it ends in the state a decider that
never had a snapshot reaches over the same log, and it queues no action and no delivery
a second time.
"""

from __future__ import annotations

import json
import sqlite3
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import pytest

from engine.core.snapshot import dump_state
from engine.runtime import decider as decider_module
from engine.runtime.clock import ManualClock
from engine.runtime.decider import Decider
from engine.runtime.intake import ingest_text
from engine.runtime.rulekeeper import RuleKeeper
from engine.runtime.sqlite_store import SqliteStore
from engine.runtime.store import IncomingEvent
from tests.support.mail import smtp_env
from tests.support.store import query

RULES = Path(__file__).resolve().parent / "fixtures" / "mail"
UTC = timezone.utc
CREATED = datetime(2026, 11, 2, 14, 0, tzinfo=UTC)
GO_LIVE = date(2026, 10, 1)     # before the store was made: corvo's retainer is overdue
END = datetime(2027, 1, 4, 14, 0, tzinfo=UTC)


@pytest.fixture(autouse=True)
def smtp_address(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in smtp_env(2525).items():  # the rules name it; nothing is sent
        monkeypatch.setenv(name, value)


@pytest.fixture(autouse=True)
def small_batches(monkeypatch: pytest.MonkeyPatch) -> None:
    # A rebuild must replay past the old snapshot's position before it commits, however
    # many batches that takes.
    monkeypatch.setattr(decider_module, "BATCH", 2)


def event(event_id: str, kind: str, at: str, **payload: object) -> str:
    return json.dumps({"id": event_id, "type": kind, "at": at, "payload": payload}) + "\n"


def milestone(event_id: str, name: str, at: str) -> str:
    return event(event_id, "milestone.completed", at, client="acme", engagement="site",
                 milestone=name)


FEEDS = [  # (received, events)
    (CREATED, milestone("ev-design", "design", "2026-11-02T09:00:00-05:00")
     + event("ev-time-1", "time.approved", "2026-11-02T17:00:00-05:00", client="brill",
             project="brill-adhoc", person="lee", role="account_lead", date="2026-11-02",
             hours="2.5", billable=True)),
    (datetime(2026, 11, 20, 17, 0, tzinfo=UTC),
     milestone("ev-build", "build", "2026-11-20T12:00:00-05:00")
     + milestone("ev-painting", "painting", "2026-11-20T12:00:00-05:00")),  # rejected
    (datetime(2026, 12, 15, 15, 0, tzinfo=UTC),
     milestone("ev-launch", "launch", "2026-12-15T10:00:00-05:00")),
]


def decide(decider: Decider) -> list[str]:
    """Run rounds until the log is decided and the clock is now; return the actions' ids."""
    decided = []
    while True:
        round_ = decider.run_round()
        decided += [action.id for action in round_.actions]
        if not round_.events:
            return decided


def open_decider(db: Path, clock: ManualClock, go_live: date | None) -> Decider:
    keeper = RuleKeeper(RULES, clock.now)
    assert keeper.reload().ok
    return Decider(SqliteStore(db, now=lambda: CREATED), keeper, clock, go_live=go_live)


def rows(db: Path) -> dict[str, list[tuple]]:
    return {"actions": query(db, "SELECT id, position, decided_at FROM actions ORDER BY seq"),
            "outbox": query(db, "SELECT * FROM outbox ORDER BY action_id, connector"),
            "rejections": query(db, "SELECT position, message FROM event_rejections")}


def make_stale(db: Path) -> None:
    """Rewrite the snapshot as format 1, the format of an older billflow."""
    with sqlite3.connect(db) as conn:
        [(text,)] = conn.execute("SELECT state_json FROM engine_snapshot").fetchall()
        conn.execute("UPDATE engine_snapshot SET state_json = ?",
                     (json.dumps({**json.loads(text), "format": 1}),))
    conn.close()


def test_a_snapshot_of_an_older_format_is_rebuilt_from_the_event_log(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    db = tmp_path / "billflow.db"
    clock = ManualClock(CREATED)
    running = open_decider(db, clock, GO_LIVE)
    for received, text in FEEDS:
        clock.set(received)
        assert not ingest_text(running.store, text, "test", received).errors
        decide(running)
    clock.set(END)
    decide(running)
    store = running.store
    delivered = [d.action_id for d in store.due_deliveries(END, 2)]
    for action_id in delivered:
        store.record_attempt(action_id, "mail", "delivered", None, None, END)
    store.close()
    before = rows(db)
    assert len(before["actions"]) >= 5 and len(before["rejections"]) == 1
    assert len(before["outbox"]) >= 5 and len(delivered) == 2

    make_stale(db)
    clock.set(END + timedelta(minutes=5))  # the upgrade: a restart within the grace
    caplog.clear()
    # Told no go-live, as on any restart: the old snapshot's go-live is the one kept.
    rebuilt = open_decider(db, clock, None)
    assert rebuilt.position == 0 and rebuilt.state.go_live == GO_LIVE
    [warning] = caplog.records
    assert "format 1" in warning.getMessage() and "event log" in warning.getMessage()
    decided_again = decide(rebuilt)
    rebuilt.store.close()

    assert set(decided_again) == {action_id for action_id, *_ in before["actions"]}
    assert rows(db) == before  # nothing logged or queued twice, no delivery made again

    old_store, fresh_store = SqliteStore(db), SqliteStore(tmp_path / "fresh.db")
    fresh_store.append_events([IncomingEvent(e.id, e.type, e.at, e.body, e.source, e.received_at)
                               for e in old_store.events_after(0, 100)])
    old_store.close()
    fresh_store.close()
    fresh = open_decider(tmp_path / "fresh.db", clock, GO_LIVE)
    decide(fresh)
    fresh.store.close()
    assert dump_state(rebuilt.state) == dump_state(fresh.state)
    assert rebuilt.position == fresh.position == len(query(db, "SELECT id FROM events"))
