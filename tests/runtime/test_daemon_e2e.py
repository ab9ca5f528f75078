"""End to end: `billflow run` as a real process, a real SMTP server, events over HTTP and
`billflow ingest`, mail counted at the server.

The daemon is started as `python -m engine.cli run RULES --db ... --http 127.0.0.1:<port>`
with `BILLFLOW_TOKEN` set; the rule set (fixtures/mail) routes `invoice.issued`,
`approval.requested` and `reminder.sent` to an smtp connector whose host and port come
from `${SMTP_HOST}` / `${SMTP_PORT}`, pointed at an aiosmtpd server this test runs on
loopback. The go-live is 45 days back, so the first start issues a retainer invoice in
the past and sends its (overdue) reminder.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from engine.ruleset.loader import load_ruleset
from engine.runtime.messages import message_id
from tests.support.http_calls import bearer, call
from tests.support.mail import Mailbox, mailbox_server, smtp_env
from tests.support.net import LOOPBACK, free_port
from tests.support.store import query
from tests.support.waiting import wait_for

REPO = Path(__file__).resolve().parents[2]
RULES = Path(__file__).resolve().parent / "fixtures" / "mail"
TOKEN = "e2e-test-token"
MAILED = ("invoice.issued", "approval.requested", "reminder.sent")


@dataclass
class Running:
    process: subprocess.Popen
    base: str
    db: Path
    env: dict[str, str]
    log: Path

    def request(self, method: str, path: str, body: bytes | None = None,
                token: str | None = TOKEN) -> tuple[int, str, str]:
        return call(self.base + path, method=method, body=body, headers=bearer(token))

    def cli(self, *args: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "engine.cli", *args, "--db", str(self.db)],
                              cwd=REPO, env=self.env, capture_output=True, text=True,
                              timeout=60)

    def query(self, sql: str, params: tuple = ()) -> list[tuple]:
        return query(self.db, sql, params)

    def status(self) -> dict:
        shown = self.cli("status", "--format", "json")
        assert shown.returncode == 0, shown.stderr
        return json.loads(shown.stdout)


@pytest.fixture()
def smtp() -> Iterator[tuple[Mailbox, int]]:
    with mailbox_server() as caught:
        yield caught


@pytest.fixture()
def daemon(tmp_path: Path, smtp) -> Iterator[Running]:
    _, smtp_port = smtp
    port = free_port()
    db = tmp_path / "store" / "billflow.db"
    env = {**os.environ, **smtp_env(smtp_port), "BILLFLOW_TOKEN": TOKEN, "PYTHONPATH": str(REPO)}
    go_live = (datetime.now(timezone.utc).date() - timedelta(days=45)).isoformat()
    log = tmp_path / "daemon.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "engine.cli", "run", str(RULES), "--db", str(db),
             "--http", f"{LOOPBACK}:{port}", "--go-live", go_live],
            cwd=REPO, env=env, stdout=out, stderr=out)
    running = Running(process, f"http://{LOOPBACK}:{port}", db, env, log)
    try:
        def up() -> bool:
            assert process.poll() is None, log.read_text()
            try:
                return running.request("GET", "/healthz")[0] == 200
            except OSError:
                return False

        wait_for(up, "the daemon's /healthz")
        yield running
    finally:
        if process.poll() is None:
            process.kill()
        process.wait(timeout=10)


def parse_metrics(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Parse Prometheus text format (0.0.4): every sample must belong to a declared family."""
    types: dict[str, str] = {}
    samples: dict[tuple[str, tuple[tuple[str, str], ...]], float] = {}
    sample = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$')
    label = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')
    for line in text.splitlines():
        if line.startswith("# TYPE "):
            _, _, name, kind = line.split(" ", 3)
            assert kind in ("counter", "gauge", "histogram", "summary", "untyped"), line
            types[name] = kind
            continue
        if not line or line.startswith("#"):
            continue
        match = sample.match(line)
        assert match, f"not a Prometheus sample line: {line!r}"
        name, labels, value = match.groups()
        assert name in types, f"{name} has no # TYPE line"
        pairs = tuple(sorted(label.findall(labels or "")))
        samples[(name, pairs)] = float(value)
    return samples


def milestone(event_id: str, name: str) -> dict:
    return {"id": event_id, "type": "milestone.completed", "at": "2026-11-20T12:00:00-05:00",
            "payload": {"client": "acme", "engagement": "site", "milestone": name}}


def mailed_actions(daemon: Running) -> dict[str, str]:
    """Return {action id: type} of every decided action the routing sends by mail."""
    rows = daemon.query(f"SELECT id, type FROM actions WHERE type IN ({','.join('?' * len(MAILED))})",
                        MAILED)
    return dict(rows)


def all_delivered(daemon: Running, mailbox: Mailbox) -> dict[str, str]:
    expected = mailed_actions(daemon)
    pending = daemon.query("SELECT COUNT(*) FROM outbox WHERE status != 'delivered'")[0][0]
    if pending or len(mailbox.received) < len(expected):
        return {}
    return expected


def test_events_in_mail_out(daemon: Running, smtp, tmp_path: Path) -> None:
    mailbox, _ = smtp
    version = load_ruleset(RULES).version

    # -- HTTP intake: the token is required --------------------------------------------
    one = (json.dumps(milestone("ev-design", "design")) + "\n").encode()
    assert daemon.request("POST", "/events", one, token=None)[0] == 401
    assert daemon.request("POST", "/events", one, token="not-the-token")[0] == 401
    assert daemon.query("SELECT COUNT(*) FROM events")[0][0] == 0

    # A submission with a malformed line and an invalid event: 422, each error with its
    # line, and the good lines around them kept.
    timesheet = {"id": "ev-time-1", "type": "time.approved", "at": "2026-11-20T17:00:00-05:00",
                 "payload": {"client": "brill", "project": "brill-adhoc", "person": "lee",
                             "role": "account_lead", "date": "2026-11-19", "hours": "2.5",
                             "billable": True}}
    body = "\n".join([json.dumps(milestone("ev-design", "design")), json.dumps(timesheet),
                      '{"id": "ev-broken", "type": ', json.dumps(
                          {"id": "ev-no-at", "type": "milestone.completed",
                           "payload": {"client": "acme"}})]) + "\n"
    code, content_type, text = daemon.request("POST", "/events", body.encode())
    assert code == 422 and content_type == "application/json"
    answer = json.loads(text)
    assert answer["accepted"] == 2 and answer["duplicates"] == 0
    [broken, missing] = answer["errors"]
    assert broken.startswith("http:3: not valid JSON")
    assert missing.startswith("http:4: ") and "'at'" in missing
    # Sending the same event again is harmless.
    code, _, text = daemon.request("POST", "/events", one)
    assert code == 202 and json.loads(text) == {"accepted": 0, "duplicates": 1, "errors": []}
    assert daemon.request("GET", "/nowhere")[0] == 404

    # -- `billflow ingest FILE` ----------------------------------------------------------
    feed = tmp_path / "more.ndjson"
    feed.write_text(json.dumps(milestone("ev-build", "build")) + "\n"
                    + json.dumps(milestone("ev-design", "design")) + "\n", encoding="utf-8")
    ingested = daemon.cli("ingest", str(feed))
    assert ingested.returncode == 0, ingested.stderr
    assert f"{feed}: 1 events stored, 1 already known, 0 rejected" in ingested.stdout

    # -- decisions become mail -------------------------------------------------------------
    expected = wait_for(lambda: all_delivered(daemon, mailbox) if len(
        mailed_actions(daemon)) >= 5 else {}, "every mail of the first events")
    kinds = Counter(expected.values())
    # corvo's retainer (issued in the past, and reminded) and acme's two milestones; brill's
    # timesheet waits for its approver.
    assert kinds == Counter({"invoice.issued": 3, "reminder.sent": 1, "approval.requested": 1})
    [request] = [a for a, kind in expected.items() if kind == "approval.requested"]
    draft = request.split(":", 1)[1].rsplit(":", 1)[0]
    assert draft.startswith("brill/adhoc/")

    # A person approves on the command line; the invoice goes out.
    approved = daemon.cli("approve", draft, "--by", "lee")
    assert approved.returncode == 0, approved.stderr
    wait_for(lambda: f"invoice.issued:{draft}" in all_delivered(daemon, mailbox),
             "the approved invoice's mail")
    expected = mailed_actions(daemon)
    assert len(expected) == 6

    # -- at the server: each expected message once, to the right people ----------------------
    ids = Counter(str(mail["Message-ID"]) for _, _, mail in mailbox.received)
    assert ids == Counter({message_id(action): 1 for action in expected})
    received = mailbox.by_message_id()
    invoices = {"acme": ["ap@acme.example", "ada@acme.example"],
                "brill": ["accounts@brill.example"], "corvo": ["finance@corvo.example"]}
    numbers = set()
    for action, kind in expected.items():
        sender, rcpt, mail = received[message_id(action)]
        assert sender == "billing@studio.example"
        assert mail["X-Billflow-Action"] == action
        attachments = list(mail.iter_attachments())
        if kind == "approval.requested":
            assert rcpt == ["lee@studio.example"]
            assert attachments == []
            continue
        client = action.split(":", 1)[1].split("/", 1)[0]
        assert rcpt == invoices[client], action
        [pdf] = attachments
        assert pdf.get_content_type() == "application/pdf"
        assert pdf.get_content().startswith(b"%PDF-")
        if kind == "invoice.issued":
            number = json.loads(daemon.query("SELECT body FROM actions WHERE id = ?",
                                             (action,))[0][0])["payload"]["invoice"]["number"]
            assert pdf.get_filename() == f"{number}.pdf"
            assert number in str(mail["Subject"])
            numbers.add(number)
    assert len(numbers) == 4

    # -- /healthz and /metrics -----------------------------------------------------------------
    code, content_type, text = daemon.request("GET", "/healthz", token=None)
    assert code == 200 and content_type == "application/json"
    health = json.loads(text)
    assert health["status"] == "ok" and health["rules_version"] == version
    assert "errors" not in health

    code, content_type, text = daemon.request("GET", "/metrics", token=None)
    assert code == 200 and content_type.startswith("text/plain; version=0.0.4")
    metrics = parse_metrics(text)
    decided = dict(daemon.query("SELECT type, COUNT(*) FROM actions GROUP BY type"))
    by_type = {dict(labels)["type"]: value for (name, labels), value in metrics.items()
               if name == "billflow_actions_total"}
    assert by_type == {kind: float(n) for kind, n in decided.items()}
    assert by_type["invoice.issued"] == 4 and by_type["reminder.sent"] == 1
    assert by_type["approval.requested"] == 1 and by_type["invoice.drafted"] == 4
    events = daemon.query("SELECT COUNT(*) FROM events")[0][0]
    assert events == 4  # design, the timesheet, build, the approval
    assert metrics[("billflow_events_total", ())] == events
    assert metrics[("billflow_events_rejected_total", ())] == 0
    assert metrics[("billflow_outbox_pending", ())] == 0
    assert metrics[("billflow_dead_letters", ())] == 0
    assert metrics[("billflow_dispatch_attempts_total", ())] == len(expected)
    assert metrics[("billflow_dispatch_failures_total", ())] == 0
    assert metrics[("billflow_rules_info", (("version", version),))] == 1
    assert metrics[("billflow_rules_degraded", ())] == 0

    # -- `billflow status` -------------------------------------------------------------------
    report = daemon.status()
    assert report["rules"] == {"version": version, "status": "ok"}
    assert report["engine"]["events"] == events and report["engine"]["undecided"] == 0
    assert report["awaiting_approval"] == []
    assert report["outbox"] == {"pending": 0, "delivered": len(expected), "dead": 0}
    assert [row["client"] for row in report["overdue"]] == ["corvo"]

    # -- one daemon per store --------------------------------------------------------------------
    second = subprocess.run([sys.executable, "-m", "engine.cli", "run", str(RULES), "--db",
                             str(daemon.db), "--no-http"], cwd=REPO, env=daemon.env,
                            capture_output=True, text=True, timeout=60)
    assert second.returncode == 1
    assert "another billflow daemon is running on this store" in second.stderr

    # -- a clean stop ----------------------------------------------------------------------------
    daemon.process.send_signal(signal.SIGTERM)
    assert daemon.process.wait(timeout=30) == 0
    assert "stopped" in daemon.log.read_text()
    assert len(mailbox.received) == len(expected)  # nothing more went out on the way down
