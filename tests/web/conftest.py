"""Fixtures for the web pages: the real daemon on a real SQLite file, its real HTTP server
on a loopback port, a real SMTP server on loopback catching its mail, and real headless
Chromium (Debian's, driven by Playwright).

The rule set (fixtures/studio) bills Brill's hours per approved timesheet, capped, reviewed
by the account lead Lee; approval requests, invoices and flags go out through an smtp
connector pointed at the test's server.
"""

from __future__ import annotations

import email
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

import httpx
import pytest

from engine.runtime.daemon import Daemon
from engine.web.settings import WebOptions
from tests.support.daemon import base_url, running_daemon
from tests.support.http_calls import post_events
from tests.support.mail import Mailbox, mailbox_server, smtp_env
from tests.support.net import free_port
from tests.support.store import query
from tests.support.waiting import wait_for

RULES = Path(__file__).resolve().parent / "fixtures" / "studio"
TOKEN = "web-test-intake-token"
SECRET = "web-test-signing-key-0123456789abcdefghijklmnop"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update",
                 "--disable-sync"]
LINK = re.compile(r"https?://\S+/(?:approve|signin)/[A-Za-z0-9_\-.]+")


def body_of(mail: email.message.EmailMessage) -> str:
    part = mail.get_body(preferencelist=("plain",))
    return part.get_content() if part is not None else ""


def link_in(mail: email.message.EmailMessage) -> str:
    found = LINK.search(body_of(mail))
    assert found, body_of(mail)
    return found.group(0)


@dataclass
class Studio:
    """The running daemon, its mailbox and helpers to feed and read it."""

    daemon: Daemon
    mailbox: Mailbox
    base: str
    db: Path
    counter: list[int] = field(default_factory=lambda: [0])

    def client(self) -> httpx.Client:
        return httpx.Client(base_url=self.base, timeout=10, follow_redirects=False)

    def post_events(self, *events: dict) -> dict:
        answer = post_events(self.base, *events, token=TOKEN)
        assert answer.status == 202, answer.text
        return answer.json()

    def query(self, sql: str, params: tuple = ()) -> list[tuple]:
        return query(self.db, sql, params)

    def event_count(self) -> int:
        return self.query("SELECT COUNT(*) FROM events")[0][0]

    def action(self, action_id: str) -> dict | None:
        rows = self.query("SELECT body FROM actions WHERE id = ?", (action_id,))
        return json.loads(rows[0][0]) if rows else None

    def timesheet(self, *entries: tuple[str, str, str]) -> str:
        """Approve time entries (person, role, hours) for today; return the draft's id once
        its approval request has been mailed to Lee."""
        now = datetime.now(timezone.utc)
        today = now.astimezone(ZoneInfo("America/New_York")).date().isoformat()
        events = []
        for person, role, hours in entries:
            self.counter[0] += 1
            events.append({"id": f"t-{self.counter[0]}", "type": "time.approved",
                           "at": now.isoformat(),
                           "payload": {"client": "brill", "project": "brill-adhoc",
                                       "person": person, "role": role, "date": today,
                                       "hours": hours, "billable": True, "task": "Label design"}})
        before = len(self.mailbox.to("lee@studio.example", "Approval needed"))
        self.post_events(*events)
        wait_for(lambda: len(self.mailbox.to("lee@studio.example", "Approval needed")) > before,
                 "the approval request mail")
        mail = self.mailbox.to("lee@studio.example", "Approval needed")[-1]
        return str(mail["X-Billflow-Invoice"])

    def approval_mail(self, invoice_id: str) -> email.message.EmailMessage:
        return [m for m in self.mailbox.to("lee@studio.example", "Approval needed")
                if str(m["X-Billflow-Invoice"]) == invoice_id][-1]


@pytest.fixture()
def mailbox() -> Iterator[tuple[Mailbox, int]]:
    with mailbox_server() as caught:
        yield caught


@pytest.fixture()
def studio(tmp_path: Path, mailbox, monkeypatch) -> Iterator[Studio]:
    box, smtp_port = mailbox
    for name, value in smtp_env(smtp_port).items():
        monkeypatch.setenv(name, value)
    db = tmp_path / "store" / "billflow.db"
    db.parent.mkdir()
    # A fixed port: the approval and sign-in links in the mail name it.
    with running_daemon(RULES, db, port=free_port(), token=TOKEN,
                        web=WebOptions(secret_key=SECRET)) as daemon:
        yield Studio(daemon, box, base_url(daemon), db)


@pytest.fixture(scope="module")  # one Playwright at a time: each module starts its own
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture()
def page(browser):
    context = browser.new_context(viewport={"width": 1100, "height": 900})
    try:
        yield context.new_page()
    finally:
        context.close()
