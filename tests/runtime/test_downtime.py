"""Downtime: the daemon stopped for 40 days catches up once, without bursts; go-live.

In-process `Daemon`s on one store, driven by a `ManualClock`. While it runs, the clock is
moved in one jump: a running engine fires each timer at its own instant (as if it had been
up all along). Across a stop and a start longer than DOWNTIME_GRACE it catches up instead:
every missed draft is created once; of each invoice's missed reminder steps only the
latest is sent, and of an approval's nudges only the latest. The reference for "what an
uninterrupted run would have decided" is the pure engine ticked from the same snapshot.
"""

from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, datetime, timedelta, timezone
from pathlib import Path


from engine.core.engine import Engine
from engine.core.snapshot import load_state
from engine.model.actions import dump_action
from engine.ruleset.loader import load_ruleset
from engine.runtime.clock import ManualClock
from engine.runtime.daemon import Daemon, DaemonOptions
from engine.runtime.decider import DOWNTIME_GRACE
from engine.runtime.intake import ingest_text
from engine.runtime.sqlite_store import SqliteStore

RULES = Path(__file__).resolve().parent / "fixtures" / "downtime"
UTC = timezone.utc
GO_LIVE = date(2026, 3, 1)
T0 = datetime(2026, 3, 2, 14, 0, tzinfo=UTC)           # 09:00 in New York
STOP = datetime(2026, 3, 18, 20, 0, tzinfo=UTC)        # corvo's draft waits for approval
DOWNTIME = timedelta(days=40)                          # back on 27 April
SETTLE_TIMEOUT = 30.0


def entry(event_id: str, day: str, hours: str = "2.0") -> dict:
    return {"id": event_id, "type": "time.approved", "at": f"{day}T18:00:00-04:00",
            "payload": {"client": "brill", "project": "brill-adhoc", "person": "ana",
                        "role": "designer", "date": day, "hours": hours, "billable": True}}


def ndjson(*events: dict) -> str:
    return "".join(json.dumps(event) + "\n" for event in events)


def settle(daemon: Daemon) -> None:
    """Wait until two decision rounds have run since now: both saw the clock as it is."""
    assert daemon.decider is not None
    counter = daemon.__dict__.setdefault("_rounds", [0])
    if not getattr(daemon.decider, "_counted", False):
        decider, original = daemon.decider, daemon.decider.run_round

        def counted():
            result = original()
            counter[0] += 1
            return result

        decider.run_round = counted  # type: ignore[method-assign]
        decider._counted = True  # type: ignore[attr-defined]
    start = counter[0]
    deadline = time.monotonic() + SETTLE_TIMEOUT
    while counter[0] < start + 2:
        assert time.monotonic() < deadline, "the decider did not finish its rounds"
        time.sleep(0.01)
    assert daemon.store.counts().events_undecided == 0


@contextmanager
def running(db: Path, clock: ManualClock, *, go_live: date | None = GO_LIVE,
            store: SqliteStore | None = None) -> Iterator[Daemon]:
    daemon = Daemon(DaemonOptions(rules=str(RULES), db=str(db), http=None, watch=False,
                                  go_live=go_live), clock=clock, store=store)
    daemon.start()
    try:
        settle(daemon)
        yield daemon
    finally:
        daemon.stop()


def actions(db: Path) -> list[dict]:
    store = SqliteStore(db)
    try:
        return list(store.actions())
    finally:
        store.close()


def snapshot_state(db: Path):
    store = SqliteStore(db)
    try:
        snapshot = store.load_snapshot()
    finally:
        store.close()
    assert snapshot is not None
    return load_state(snapshot.state_json)


def uninterrupted(db: Path, until: datetime) -> list[dict]:
    """What an engine that never stopped would have decided from the store's snapshot on."""
    rules = load_ruleset(RULES)
    engine = Engine(rules)
    state = snapshot_state(db)
    engine.adopt(state)
    return [json.loads(dump_action(action)) for action in engine.tick(state, until)]


def of_type(found: list[dict], kind: str) -> list[dict]:
    return [a for a in found if a["type"] == kind]


def invoice_of(action: dict) -> str:
    return action["payload"]["invoice"]["id"]


def before_the_stop(tmp_path: Path) -> tuple[Path, ManualClock]:
    """Run from T0 to STOP with work and approvals in flight; return the store and clock."""
    db = tmp_path / "billflow.db"
    clock = ManualClock(T0)
    with running(db, clock) as daemon:
        daemon.ingest(ndjson(entry("te-1", "2026-03-02"), entry("te-2", "2026-03-05", "3.5")),
                      "test")
        settle(daemon)
        clock.set(datetime(2026, 3, 16, 16, 0, tzinfo=UTC))
        settle(daemon)
        daemon.ingest(ndjson(entry("te-3", "2026-03-16", "1.5")), "test")
        clock.set(STOP)
        settle(daemon)
    return db, clock


def test_a_running_daemon_fires_each_timer_at_its_instant(tmp_path: Path) -> None:
    db, _ = before_the_stop(tmp_path)
    found = actions(db)
    issued = {invoice_of(a) for a in of_type(found, "invoice.issued")}
    assert issued == {"acme/social/2026-03", "brill/adhoc/2026-03-15"}
    [request] = of_type(found, "approval.requested")
    assert invoice_of(request) == "corvo/care/2026-03"
    # Nothing of what falls due after the stop has been decided yet.
    assert of_type(found, "reminder.sent") == []
    assert of_type(found, "approval.reminded") == of_type(found, "approval.escalated") == []


def test_after_40_days_down_each_missed_thing_happens_once(tmp_path: Path) -> None:
    db, clock = before_the_stop(tmp_path)
    known = {a["id"] for a in actions(db)}
    back = clock.advance(DOWNTIME)
    reference = uninterrupted(db, back)

    with running(db, clock):
        pass
    after = [a for a in actions(db) if a["id"] not in known]

    # Every missed draft, exactly once, as the uninterrupted engine would have drafted them.
    drafted = Counter(invoice_of(a) for a in of_type(after, "invoice.drafted"))
    assert drafted == Counter(invoice_of(a) for a in of_type(reference, "invoice.drafted"))
    assert set(drafted) == {"acme/social/2026-04", "brill/adhoc/2026-04-15", "corvo/care/2026-04"}
    assert set(drafted.values()) == {1}

    # Reminders: the uninterrupted run sends every step; the catch-up only the latest one.
    sent = {invoice_of(a): a["payload"]["step"] for a in of_type(after, "reminder.sent")}
    assert len(of_type(after, "reminder.sent")) == len(sent)  # one per invoice
    everything: dict[str, list[str]] = {}
    for a in of_type(reference, "reminder.sent"):
        everything.setdefault(invoice_of(a), []).append(a["payload"]["step"])
    assert everything == {"acme/social/2026-03": ["-3d", "0d", "7d", "14d", "21d"],
                          "brill/adhoc/2026-03-15": ["-3d", "0d", "7d"]}
    assert sent == {invoice: steps[-1] for invoice, steps in everything.items()}
    for a in of_type(after, "reminder.sent"):
        assert a["at"].startswith("2026-04-27")  # sent on return, not back-dated

    # Approval nudges: March's reminder and escalation were both missed; only the
    # escalation goes out. (April's draft waits for approval from today: its nudges are
    # not due yet, where the uninterrupted run drafted it on the 18th and nudged twice.)
    nudged = ["corvo/care/2026-03", "corvo/care/2026-04"]
    assert [invoice_of(a) for a in of_type(reference, "approval.reminded")] == nudged
    assert [invoice_of(a) for a in of_type(reference, "approval.escalated")] == nudged
    assert of_type(after, "approval.reminded") == []
    assert [invoice_of(a) for a in of_type(after, "approval.escalated")] == ["corvo/care/2026-03"]
    assert [invoice_of(a) for a in of_type(after, "approval.requested")] == ["corvo/care/2026-04"]

    # A quick restart (shorter than the grace) decides nothing again.
    decided = {a["id"] for a in actions(db)}
    clock.advance(DOWNTIME_GRACE / 2)
    with running(db, clock):
        pass
    assert {a["id"] for a in actions(db)} == decided


def test_events_received_while_down_do_not_turn_the_catch_up_into_a_burst(tmp_path: Path) -> None:
    db, clock = before_the_stop(tmp_path)
    known = {a["id"] for a in actions(db)}
    # While the daemon is down, `billflow ingest` stores time approved on 7 April (evening).
    while_down = datetime(2026, 4, 8, 0, 30, tzinfo=UTC)
    store = SqliteStore(db)
    try:
        result = ingest_text(store, ndjson(entry("te-4", "2026-04-07")), "ingest:late.ndjson",
                             while_down)
    finally:
        store.close()
    assert result.accepted == 1
    clock.advance(DOWNTIME)

    with running(db, clock):
        pass
    after = [a for a in actions(db) if a["id"] not in known]
    steps: dict[str, list[str]] = {}
    for a in of_type(after, "reminder.sent"):
        steps.setdefault(invoice_of(a), []).append(a["payload"]["step"])
    # Two stretches of downtime (before and after the event): at most one step per stretch,
    # the latest of each, where an uninterrupted run would have sent five and three.
    assert steps == {"acme/social/2026-03": ["7d", "21d"], "brill/adhoc/2026-03-15": ["7d"]}
    drafted = Counter(invoice_of(a) for a in of_type(after, "invoice.drafted"))
    assert drafted == Counter({"acme/social/2026-04": 1, "brill/adhoc/2026-04-15": 1,
                               "corvo/care/2026-04": 1})
    assert of_type(after, "approval.reminded") == []


def test_a_first_deployment_never_bills_the_past(tmp_path: Path) -> None:
    """Go-live defaults to the day the store is made: nothing dated before it is billed."""
    clock = ManualClock(datetime(2026, 3, 20, 14, 0, tzinfo=UTC))
    db = tmp_path / "billflow.db"
    store = SqliteStore(db, now=clock.now)  # the store is made "today", by the test's clock
    with running(db, clock, go_live=None, store=store) as daemon:
        daemon.ingest(ndjson(
            entry("te-old", "2026-03-05", "4.0"),            # worked before go-live
            entry("te-new", "2026-03-20", "1.0"),
            {"id": "ms-old", "type": "milestone.completed", "at": "2026-03-20T10:00:00-04:00",
             "payload": {"client": "brill", "engagement": "site", "milestone": "design",
                         "completed_on": "2026-03-10"}}), "test")
        settle(daemon)
        clock.set(datetime(2026, 4, 16, 14, 0, tzinfo=UTC))
        settle(daemon)
    found = actions(db)
    drafted = [invoice_of(a) for a in of_type(found, "invoice.drafted")]
    # No March retainer (its billing day, 1 March, is before go-live), no milestone
    # completed before go-live, and of the time only what was worked from go-live on.
    assert sorted(drafted) == ["acme/social/2026-04", "brill/adhoc/2026-04-15"]
    [brill] = [a for a in of_type(found, "invoice.drafted")
               if invoice_of(a) == "brill/adhoc/2026-04-15"]
    assert brill["payload"]["invoice"]["subtotal"] == "100.00"
