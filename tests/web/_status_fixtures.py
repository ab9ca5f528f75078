"""Northwind's year, decided by a real daemon, for the status, finance, metrics and API tests.

`northwind_site` copies the northwind example rules into a temporary folder (the `files`
connector writes there; escalations also go to a webhook on loopback that refuses them,
so the finance queue has dead letters), writes northwind's events into a SQLite store as
if each had arrived at its own `at`, adds a payment from a payer no client answers to,
then starts the real daemon (ManualClock at NOW) with its HTTP surface on a free loopback
port and waits until it has decided every event.

People: sam leads bowery-hotels, empire-realty, hudson-coffee and liberty-books; rachel
leads others; dana and priya are finance.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from engine.model.events import parse_event
from engine.runtime.clock import ManualClock
from engine.runtime.daemon import Daemon
from engine.runtime.sqlite_store import SqliteStore
from engine.runtime.store import IncomingEvent
from engine.web.auth import SESSION_COOKIE, person_token
from engine.web.signing import sign
from tests.support.daemon import base_url, copy_rules, running_daemon
from tests.support.waiting import wait_for

REPO = Path(__file__).resolve().parents[2]
NORTHWIND = REPO / "examples" / "northwind"
NOW = datetime(2026, 12, 31, 22, 0, tzinfo=timezone.utc)  # 17:00 in New York
GO_LIVE = date(2026, 1, 1)
HOOK_SECRET_ENV = "BILLFLOW_STATUS_TEST_HOOK_SECRET"
SETTLE_TIMEOUT = 120.0

# Bowery Hotels' December retainer (NW-2026-00275, 10,887.50 USD) is overdue on NOW; this
# payment of exactly that amount comes from a payer no client answers to: unmatched.
STRAY_PAYMENT = {
    "id": "pay-stray-0001", "type": "payment.received", "at": "2026-12-31T11:00:00-05:00",
    "payload": {"amount": "10887.50", "currency": "USD", "date": "2026-12-31",
                "reference": "WIRE 88123 BHG", "payer": "BHG HOLDINGS INTL"}}
STRAY_INVOICE = "bowery-hotels/brand-social/2026-12"
STRAY_CLIENT = "bowery-hotels"


class _Refusing(BaseHTTPRequestHandler):
    """A webhook receiver that refuses everything for good (HTTP 410)."""

    def do_POST(self) -> None:  # noqa: N802 - stdlib name
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.send_response(410)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        pass


@contextmanager
def refusing_webhook() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Refusing)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/hook"
    finally:
        server.shutdown()
        server.server_close()


def northwind_rules(folder: Path, hook_url: str) -> Path:
    """Copy the northwind rules to `folder`: files under it, escalations to the webhook."""
    rules = copy_rules(NORTHWIND, folder, "events.ndjson", "*.py")
    agency = rules / "agency.yaml"
    text = agency.read_text(encoding="utf-8")
    text = text.replace("files: {type: files, dir: out/northwind}",
                        f"files: {{type: files, dir: {json.dumps(str(folder / 'out'))}}}\n"
                        f"    hook: {{type: webhook, url: {json.dumps(hook_url)}, "
                        f"secret: \"${{{HOOK_SECRET_ENV}}}\"}}")
    text = re.sub(r"\n  routing:.*", "\n  routing:\n    escalation.triggered: [hook]\n", text,
                  flags=re.S)
    agency.write_text(text, encoding="utf-8")
    return rules


def event_lines() -> list[str]:
    """Northwind's events, then the stray payment."""
    lines = (NORTHWIND / "events.ndjson").read_text(encoding="utf-8").splitlines()
    return [line for line in lines if line.strip()] + [json.dumps(STRAY_PAYMENT)]


def fill_store(db: Path, lines: list[str]) -> None:
    """Append each event as received at its own `at`, as a live intake would have."""
    store = SqliteStore(db, now=lambda: datetime(2025, 12, 1, tzinfo=timezone.utc))
    try:
        incoming = []
        for number, line in enumerate(lines, start=1):
            event = parse_event(json.loads(line), f"northwind:{number}")
            incoming.append(IncomingEvent(event.id, event.type, event.at.isoformat(), line,
                                          f"northwind:{number}", event.at))
        store.append_events(incoming)
    finally:
        store.close()


@dataclass
class Site:
    """The running daemon and how to reach it as a given person."""

    daemon: Daemon
    clock: ManualClock
    rules: Path

    @property
    def base(self) -> str:
        return base_url(self.daemon)

    @property
    def settings(self):  # type: ignore[no-untyped-def]
        assert self.daemon.http is not None
        return self.daemon.http.app.state.settings

    def session(self, person: str) -> str:
        """Return a session cookie value for `person`, as signing in sets it."""
        return sign(self.settings.secret, "session",
                    {"s": person, "n": secrets.token_urlsafe(12)},
                    self.clock.now() + timedelta(hours=12))

    def cookie(self, person: str) -> dict[str, str]:
        return {SESSION_COOKIE: self.session(person)}

    def token(self, person: str) -> str:
        """Return a personal API token for `person`."""
        return person_token(self.settings, person, self.clock.now())

    def settled(self) -> None:
        """Wait until the daemon has decided every event in its log."""
        wait_for(lambda: self.daemon.store.counts().events_undecided == 0, "the decider",
                 SETTLE_TIMEOUT)


@contextmanager
def northwind_site(folder: Path) -> Iterator[Site]:
    """Run the daemon over northwind's decided year (see the module docstring)."""
    os.environ[HOOK_SECRET_ENV] = "status-test-hook-secret"
    with refusing_webhook() as hook:
        rules = northwind_rules(folder, hook)
        db = folder / "store.db"
        fill_store(db, event_lines())
        clock = ManualClock(NOW)
        with running_daemon(rules, db, go_live=GO_LIVE, clock=clock) as daemon:
            site = Site(daemon, clock, rules)
            site.settled()
            wait_for(lambda: daemon.store.counts().outbox_pending == 0, "the dispatcher",
                     SETTLE_TIMEOUT)
            yield site
