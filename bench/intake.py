"""billflow's intake benchmark: events to durable through the store and over HTTP, next to
raw SQLite, and how long an event takes to become a dispatched action.

    python bench/intake.py [--events 100000] [--batch 500] [--http-events 50000]
                           [--clients 4] [--latency-events 40]

1. raw (the ceiling): plain `executemany` of the same rows into a table shaped like the
   store's `events` (same columns, same AUTOINCREMENT key, same index), with the store's
   pragmas (WAL, `synchronous = FULL`, `BEGIN IMMEDIATE`), one commit per batch. Steps 1
   to 3 take their batches in turn, so that other load on the machine hits all three alike.
2. store: `SqliteStore.append_events`, one call (one transaction, one fsync) per batch:
   what intake costs once events are validated: the duplicate-id check and the insert.
3. intake: `ingest_text` per batch: JSON, validation against the event schemas, then
   `append_events`: what `billflow ingest` and `POST /events` do with a submission.
4. HTTP: `billflow run` as its own process (the decider running beside intake, as in
   production), `POST /events` of NDJSON batches over keep-alive connections on loopback,
   from one client and from `--clients` at once; then one event per request.
5. event -> action: one `milestone.completed` at a time over HTTP; the daemon decides the
   invoice (auto-approved: `invoice.issued`) and the `files` connector writes its HTML, PDF
   and mail. Measured from sending the request to the decision in the action log and to
   the delivery recorded in the outbox (polled every millisecond, read-only), on a fresh
   store and again on the store the HTTP rows filled.

Every rate is to durable: a batch counts once its commit has returned (an HTTP request
once its 202 has arrived). The time entries are on a fixed-fee project, which the engine
accepts without billing them by the hour, so the decider's share stays that of reading,
remembering and snapshotting events. The table goes to stdout, the figures to
`bench/results/intake.json`.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import platform
import shutil
import signal
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
REPO_ROOT = BENCH.parent
for entry in (str(BENCH), str(REPO_ROOT)):
    if entry not in sys.path:
        sys.path.insert(0, entry)

from engine.runtime.intake import ingest_text  # noqa: E402
from machine import cpu_model  # noqa: E402
from engine.runtime.sqlite_store import BUSY_TIMEOUT_MS, SqliteStore  # noqa: E402
from engine.runtime.store import IncomingEvent  # noqa: E402

RESULTS = BENCH / "results"
TARGET_OF_RAW = 0.5
TOKEN = "intake-benchmark"
MILESTONES = 25


def say(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


# -- the workload ----------------------------------------------------------------------------


def write_rules(folder: Path, out: Path, milestone_clients: int) -> None:
    """An agency whose time is logged on fixed-fee projects; milestones issue invoices."""
    folder.mkdir(parents=True)
    (folder / "agency.yaml").write_text(f"""apiVersion: billflow/v1
kind: Agency
metadata: {{id: bench, name: Bench Studio}}
spec:
  timezone: America/New_York
  currency: USD
  invoice_numbering: {{format: "BS-{{year}}-{{seq:06d}}", reset: yearly}}
  defaults: {{payment_terms: net_30, approval_route: auto, reminder_cadence: standard}}
  people:
    - {{id: lee, name: Lee Park, email: lee@bench.example, roles: [account_lead, designer]}}
  connectors:
    files: {{type: files, dir: "{out}"}}
  routing:
    invoice.issued: [files]
---
apiVersion: billflow/v1
kind: ApprovalRoute
metadata: {{id: auto, name: Approve automatically}}
spec:
  rules:
    - {{auto_approve: true}}
---
apiVersion: billflow/v1
kind: ReminderCadence
metadata: {{id: standard, name: One reminder a week after the due date}}
spec:
  steps:
    - {{offset: 7d, template: overdue}}
  send_at: "09:00"
""", encoding="utf-8")
    share = 100 // MILESTONES
    clients = []
    for c in range(milestone_clients):
        milestones = "\n".join(f'        - {{id: m{m:02d}, name: Milestone {m}, percent: "{share}"}}'
                               for m in range(MILESTONES))
        clients.append(f"""apiVersion: billflow/v1
kind: Client
metadata: {{id: client-{c}, name: Client {c}}}
spec:
  account_lead: lee
  contacts: {{billing: [{{name: Accounts, email: ap@client-{c}.example}}]}}
  engagements:
    - id: build
      model: project_fixed
      fee: "10000.00"
      milestones:
{milestones}
      projects: [client-{c}-build]
""")
    (folder / "clients.yaml").write_text("---\n".join(clients), encoding="utf-8")


def time_event(n: int, tag: str) -> dict[str, Any]:
    day = (datetime(2026, 11, 2) + timedelta(days=n % 20)).date().isoformat()
    return {"id": f"{tag}-{n:08d}", "type": "time.approved", "at": f"{day}T18:00:00-05:00",
            "payload": {"client": "client-0", "project": "client-0-build", "person": "lee",
                        "role": "designer", "date": day, "hours": f"{1 + n % 7}.25",
                        "billable": True, "source_id": f"{tag}-entry-{n}"}}


def batches(count: int, size: int, tag: str) -> list[str]:
    """NDJSON texts of `size` events each (the last may be shorter)."""
    lines = [json.dumps(time_event(n, tag), separators=(",", ":")) for n in range(count)]
    return ["\n".join(lines[i:i + size]) + "\n" for i in range(0, count, size)]


def incoming(text: str, received_at: datetime) -> list[IncomingEvent]:
    """The rows `ingest_text` would hand the store for `text` (validation done already)."""
    rows = []
    for line in text.splitlines():
        event = json.loads(line)
        rows.append(IncomingEvent(event["id"], event["type"], event["at"], line, "bench",
                                  received_at))
    return rows


# -- measuring -------------------------------------------------------------------------------


def summary(latencies: list[float], events: int, seconds: float, batch: int) -> dict[str, Any]:
    ordered = sorted(latencies)
    return {"events": events, "batch": batch, "seconds": seconds,
            "events_per_second": events / seconds if seconds else 0.0,
            "p50_ms": statistics.median(ordered) * 1000 if ordered else None,
            "p99_ms": ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] * 1000
            if ordered else None,
            "requests": len(ordered)}


RAW_SCHEMA = """CREATE TABLE events (
    position INTEGER PRIMARY KEY AUTOINCREMENT, id TEXT NOT NULL, type TEXT NOT NULL,
    at TEXT NOT NULL, body TEXT NOT NULL, source TEXT NOT NULL, received_at TEXT NOT NULL);
CREATE INDEX events_by_id ON events (id)"""


def bench_local(work: Path, texts: list[str], batch: int) -> dict[str, dict[str, Any]]:
    """Raw SQLite, `append_events` and `ingest_text`, batch by batch in turn.

    Each path writes its own file; taking their batches in turn (raw, store, intake, raw,
    ...) exposes the three to the same moments of the machine, so their ratios hold even
    while other work comes and goes.
    """
    received = datetime.now(timezone.utc)
    stamp = received.isoformat(timespec="microseconds")
    store_rows = [incoming(text, received) for text in texts]
    raw_rows = [[(e.id, e.type, e.at, e.body, e.source, stamp) for e in chunk]
                for chunk in store_rows]
    raw = sqlite3.connect(work / "raw.db", isolation_level=None, timeout=BUSY_TIMEOUT_MS / 1000)
    assert raw.execute("PRAGMA journal_mode = WAL").fetchone()[0] == "wal"
    raw.execute("PRAGMA synchronous = FULL")
    raw.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
    raw.execute("PRAGMA foreign_keys = ON")
    for statement in RAW_SCHEMA.split(";"):
        raw.execute(statement)
    store = SqliteStore(work / "store.db")
    intake = SqliteStore(work / "intake.db")
    latencies: dict[str, list[float]] = {"raw": [], "store": [], "intake": []}
    events = dict.fromkeys(latencies, 0)
    try:
        ingest_text(intake, "", "warm-up", received)
        for raw_chunk, chunk, text in zip(raw_rows, store_rows, texts):
            start = time.perf_counter()
            raw.execute("BEGIN IMMEDIATE")
            raw.executemany("INSERT INTO events (id, type, at, body, source, received_at) "
                            "VALUES (?, ?, ?, ?, ?, ?)", raw_chunk)
            raw.execute("COMMIT")
            latencies["raw"].append(time.perf_counter() - start)
            events["raw"] += len(raw_chunk)

            start = time.perf_counter()
            assert all(store.append_events(chunk))
            latencies["store"].append(time.perf_counter() - start)
            events["store"] += len(chunk)

            start = time.perf_counter()
            result = ingest_text(intake, text, "bench", datetime.now(timezone.utc))
            latencies["intake"].append(time.perf_counter() - start)
            assert not result.errors and result.accepted == len(chunk), result.errors[:3]
            events["intake"] += result.accepted
    finally:
        raw.close()
        store.close()
        intake.close()
    return {key: summary(latencies[key], events[key], sum(latencies[key]), batch)
            for key in latencies}


# -- the daemon ------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Daemon:
    """`billflow run` in its own process, on a loopback port."""

    def __init__(self, rules: Path, db: Path, log: Path) -> None:
        self.port = free_port()
        self.db = db
        env = {**os.environ, "BILLFLOW_TOKEN": TOKEN, "PYTHONPATH": str(REPO_ROOT)}
        self._log = log.open("ab")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "engine.cli", "run", str(rules), "--db", str(db),
             "--http", f"127.0.0.1:{self.port}", "--log-format", "json"],
            cwd=REPO_ROOT, env=env, stdout=self._log, stderr=self._log)
        deadline = time.monotonic() + 60
        while True:
            if self.process.poll() is not None:
                raise SystemExit(f"the daemon stopped: see {log}")
            try:
                connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=5)
                connection.request("GET", "/healthz")
                if connection.getresponse().status == 200:
                    connection.close()
                    break
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise SystemExit("the daemon did not come up within a minute")
            time.sleep(0.05)

    def connect(self) -> http.client.HTTPConnection:
        return http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)

    def post(self, connection: http.client.HTTPConnection, text: str) -> dict[str, Any]:
        connection.request("POST", "/events", body=text.encode("utf-8"), headers={
            "Authorization": f"Bearer {TOKEN}", "Content-Type": "application/x-ndjson"})
        response = connection.getresponse()
        body = json.loads(response.read())
        if response.status != 202:
            raise SystemExit(f"POST /events answered {response.status}: {body}")
        return body

    def events(self) -> int:
        conn = sqlite3.connect(f"file:{self.db}?mode=ro", uri=True, timeout=30)
        try:
            return conn.execute("SELECT COUNT(*) FROM events").fetchone()[0]
        finally:
            conn.close()

    def undecided(self) -> int:
        conn = sqlite3.connect(f"file:{self.db}?mode=ro", uri=True, timeout=30)
        try:
            return conn.execute("SELECT COUNT(*) FROM events WHERE position > COALESCE("
                                "(SELECT position FROM engine_snapshot), 0)").fetchone()[0]
        finally:
            conn.close()

    def stop(self) -> None:
        try:
            if self.process.poll() is None:
                self.process.send_signal(signal.SIGTERM)
                self.process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            pass
        finally:
            if self.process.poll() is None:
                self.process.kill()
                self.process.wait(timeout=10)
            self._log.close()


def bench_http(daemon: Daemon, texts: list[str], clients: int, batch: int) -> dict[str, Any]:
    """POST every text, from `clients` keep-alive connections at once."""
    latencies: list[float] = []
    failures: list[BaseException] = []
    lock = threading.Lock()
    queue = list(reversed(texts))
    events = [0]

    def client() -> None:
        connection = daemon.connect()
        try:
            while True:
                with lock:
                    if not queue or failures:
                        return
                    text = queue.pop()
                start = time.perf_counter()
                answer = daemon.post(connection, text)
                elapsed = time.perf_counter() - start
                with lock:
                    latencies.append(elapsed)
                    events[0] += answer["accepted"] + answer["duplicates"]
        except BaseException as exc:  # reported after the join
            with lock:
                failures.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=client) for _ in range(clients)]
    began = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=600)
    seconds = time.perf_counter() - began
    if failures:
        raise failures[0]
    return summary(latencies, events[0], seconds, batch) | {"clients": clients}


def wait_decided(daemon: Daemon, timeout: float = 300) -> float:
    began = time.perf_counter()
    while daemon.undecided():
        if time.perf_counter() - began > timeout:
            raise SystemExit("the decider did not catch up within five minutes")
        time.sleep(0.05)
    return time.perf_counter() - began


def bench_reaction(daemon: Daemon, count: int, first_client: int) -> dict[str, Any]:
    """One milestone at a time: request sent -> decided -> delivered by the files connector."""
    conn = sqlite3.connect(f"file:{daemon.db}?mode=ro", uri=True, timeout=30)
    connection = daemon.connect()
    decided: list[float] = []
    delivered: list[float] = []
    try:
        for n in range(count):
            client, milestone = first_client + n // MILESTONES, n % MILESTONES
            event = {"id": f"done-{client}-{milestone}", "type": "milestone.completed",
                     "at": "2026-11-20T12:00:00-05:00",
                     "payload": {"client": f"client-{client}", "engagement": "build",
                                 "milestone": f"m{milestone:02d}"}}
            action = f"invoice.issued:client-{client}/build/m{milestone:02d}"
            start = time.perf_counter()
            daemon.post(connection, json.dumps(event))
            seen_decision = None
            deadline = start + 30
            while True:
                now = time.perf_counter()
                if now > deadline:
                    raise SystemExit(f"{action} was not delivered within 30 s")
                if seen_decision is None and conn.execute(
                        "SELECT 1 FROM actions WHERE id = ?", (action,)).fetchone():
                    seen_decision = now
                row = conn.execute("SELECT status FROM outbox WHERE action_id = ?",
                                   (action,)).fetchone()
                if row and row[0] == "delivered":
                    decided.append((seen_decision or now) - start)
                    delivered.append(now - start)
                    break
                time.sleep(0.001)
            time.sleep(0.05)  # one at a time: the daemon idle again before the next
    finally:
        connection.close()
        conn.close()

    def stats(values: list[float]) -> dict[str, float]:
        ordered = sorted(values)
        return {"p50_ms": statistics.median(ordered) * 1000,
                "p99_ms": ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] * 1000,
                "max_ms": ordered[-1] * 1000}

    return {"events": count, "events_in_store": daemon.events(),
            "to_decided": stats(decided), "to_delivered": stats(delivered),
            "connector": "files (invoice HTML, PDF and .eml written and fsynced)"}


# -- reporting -------------------------------------------------------------------------------


def _git(*args: str) -> str | None:
    try:
        return subprocess.run(["git", *args], cwd=REPO_ROOT, capture_output=True, text=True,
                              timeout=10).stdout.strip() or None
    except (OSError, subprocess.TimeoutExpired):
        return None


def table(results: dict[str, Any]) -> str:
    raw = results["rows"]["raw"]["events_per_second"]
    lines = [f"{'path':<46}{'batch':>6}{'events/s':>11}{'of raw':>8}{'p50 ms':>9}{'p99 ms':>9}",
             "-" * 89]
    labels = {"raw": "raw SQLite executemany (same table, pragmas)",
              "store": "store: append_events",
              "intake": "intake: ingest_text (validate + append)",
              "http_1": "HTTP POST /events, 1 client",
              "http_n": f"HTTP POST /events, {results['rows']['http_n']['clients']} clients",
              "http_single": "HTTP POST /events, 1 event a request"}
    for key, label in labels.items():
        row = results["rows"][key]
        lines.append(f"{label:<46}{row['batch']:>6}{row['events_per_second']:>11,.0f}"
                     f"{row['events_per_second'] / raw:>8.2f}{row['p50_ms']:>9.2f}"
                     f"{row['p99_ms']:>9.2f}")
    lines.append(f"{'target (intake through the store)':<46}{'':>6}{raw * TARGET_OF_RAW:>11,.0f}"
                 f"{TARGET_OF_RAW:>8.2f}")
    fresh, loaded = results["event_to_action"]["fresh"], results["event_to_action"]["loaded"]
    lines += ["", f"event -> action: {fresh['events']} milestones one at a time, each an "
                  f"invoice issued via {fresh['connector']}",
              f"{'':<34}{'to decided':>22}{'to delivered':>22}",
              f"{'':<34}{'p50 ms':>11}{'p99 ms':>11}{'p50 ms':>11}{'p99 ms':>11}"]
    for label, row in ((f"fresh store ({fresh['events_in_store']:,} events)", fresh),
                       (f"after the HTTP rows ({loaded['events_in_store']:,} events)", loaded)):
        lines.append(f"{label:<34}{row['to_decided']['p50_ms']:>11.1f}"
                     f"{row['to_decided']['p99_ms']:>11.1f}{row['to_delivered']['p50_ms']:>11.1f}"
                     f"{row['to_delivered']['p99_ms']:>11.1f}")
    lines.append(f"the decider caught up {results['decider_catch_up_seconds']:.1f} s after the "
                 "last HTTP request")
    load = results["environment"]["load_average_at_start"][0]
    if load > 0.5:
        lines.append(f"the machine was busy (load average {load:.1f} at the start): compare "
                     "rows within this run only")
    store_share = results["rows"]["store"]["events_per_second"] / raw
    lines.append(f"store intake at {store_share:.0%} of raw: target "
                 f"{'met' if store_share >= TARGET_OF_RAW else 'NOT met'}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=100_000,
                        help="events for the raw, store and intake rows")
    parser.add_argument("--batch", type=int, default=500, help="events per batch or request")
    parser.add_argument("--http-events", type=int, default=50_000,
                        help="events for each batched HTTP row")
    parser.add_argument("--single-events", type=int, default=2_000,
                        help="events for the one-event-a-request HTTP row")
    parser.add_argument("--clients", type=int, default=4, help="concurrent HTTP clients")
    parser.add_argument("--latency-events", type=int, default=40,
                        help="milestones for the event -> action latency")
    args = parser.parse_args(argv)

    load_at_start = os.getloadavg()  # other work on the machine lowers every rate
    work = Path(tempfile.mkdtemp(prefix="billflow-intake-"))
    results: dict[str, Any] = {"rows": {}}
    try:
        texts = batches(args.events, args.batch, "ev")
        say(f"raw SQLite, append_events, ingest_text: {args.events:,} events each, in "
            f"batches of {args.batch}")
        results["rows"].update(bench_local(work, texts, args.batch))

        rules, out = work / "rules", work / "out"
        clients = max(1, -(-args.latency_events // MILESTONES))
        write_rules(rules, out, 2 * clients)
        say(f"event -> action: {args.latency_events} milestones, fresh store")
        daemon = Daemon(rules, work / "fresh" / "billflow.db", work / "daemon.log")
        try:
            fresh = bench_reaction(daemon, args.latency_events, 0)
        finally:
            daemon.stop()
        daemon = Daemon(rules, work / "daemon" / "billflow.db", work / "daemon.log")
        try:
            say(f"HTTP: {args.http_events:,} events, 1 client")
            results["rows"]["http_1"] = bench_http(
                daemon, batches(args.http_events, args.batch, "h1"), 1, args.batch)
            say(f"HTTP: {args.http_events:,} events, {args.clients} clients")
            results["rows"]["http_n"] = bench_http(
                daemon, batches(args.http_events, args.batch, "hn"), args.clients, args.batch)
            say(f"HTTP: {args.single_events:,} events, one a request")
            results["rows"]["http_single"] = bench_http(
                daemon, batches(args.single_events, 1, "h1e"), 1, 1)
            results["decider_catch_up_seconds"] = wait_decided(daemon)
            say(f"event -> action: {args.latency_events} milestones, after the HTTP rows")
            results["event_to_action"] = {
                "fresh": fresh, "loaded": bench_reaction(daemon, args.latency_events, clients)}
        finally:
            daemon.stop()
    finally:
        shutil.rmtree(work, ignore_errors=True)

    results["target"] = {"of_raw": TARGET_OF_RAW, "row": "store"}
    results["environment"] = {
        "commit": _git("rev-parse", "--short", "HEAD"), "python": platform.python_version(),
        "sqlite": sqlite3.sqlite_version, "cpu": cpu_model(), "cores": os.cpu_count(),
        "load_average_at_start": load_at_start, "load_average_at_end": os.getloadavg(),
        "when": datetime.now(timezone.utc).isoformat(timespec="seconds")}
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "intake.json").write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    print(table(results))


if __name__ == "__main__":
    main()
