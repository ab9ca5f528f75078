"""`billflow connect`: a real loopback redirect (the test plays the browser), tokens sealed.

The token endpoints sit behind httpx.MockTransport (the vendor doubles); the redirect is a
real HTTP request to the one-shot server on 127.0.0.1.
"""

from __future__ import annotations

import threading
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from click.testing import CliRunner

from connectors.oauth import TOKENS_KEY
from connectors.state import ConnectorState, sealer_from_env
from engine.cli import cli
from engine.cli_connect import run_connect
from engine.errors import ConnectorError, UsageError
from engine.runtime.sqlite_store import SqliteStore
from tests.connectors.fixtures.quickbooks.vendor import REALM, FakeQuickBooks
from tests.connectors.fixtures.xero.vendor import TENANT, FakeXero

FIXTURES = Path(__file__).resolve().parent / "fixtures"
ENV = {"QBO_CLIENT_ID": "app-client-id", "QBO_CLIENT_SECRET": "app-client-secret",
       "QBO_VERIFIER_TOKEN": "verifier-token-123", "XERO_CLIENT_ID": "xero-client-id",
       "XERO_CLIENT_SECRET": "xero-client-secret", "XERO_WEBHOOK_KEY": "xero-webhook-key-123",
       "BILLFLOW_SECRET_KEY": "test-sealing-key-0123456789abcdefghij"}


@pytest.fixture(autouse=True)
def environment(monkeypatch):
    for key, value in ENV.items():
        monkeypatch.setenv(key, value)


class Browser:
    """Follow the authorisation URL the way the vendor would: back to the redirect URI."""

    def __init__(self, **redirect_params: str) -> None:
        self.redirect_params = redirect_params
        self.opened: list[str] = []
        self.reply: httpx.Response | None = None
        self.thread: threading.Thread | None = None

    def __call__(self, url: str) -> None:
        self.opened.append(url)
        query = {key: values[0] for key, values in parse_qs(urlsplit(url).query).items()}
        params = {"state": query["state"], **self.redirect_params}
        target = query["redirect_uri"].replace("localhost", "127.0.0.1")

        def visit() -> None:
            self.reply = httpx.get(target, params=params, timeout=10)

        self.thread = threading.Thread(target=visit, daemon=True)
        self.thread.start()

    def join(self) -> httpx.Response:
        assert self.thread is not None
        self.thread.join(timeout=10)
        assert self.reply is not None
        return self.reply


def kept_tokens(db: Path, name: str = "books") -> dict | None:
    store = SqliteStore(db)
    try:
        return ConnectorState(store, name, sealer_from_env()).get_secret(TOKENS_KEY)
    finally:
        store.close()


def test_connect_quickbooks_through_a_real_loopback_redirect(tmp_path):
    vendor = FakeQuickBooks()
    browser = Browser(code="good-code", realmId=REALM)
    lines: list[str] = []
    db = tmp_path / "store" / "billflow.db"
    run_connect("books", str(FIXTURES / "quickbooks" / "rules"), str(db), port=0, timeout=20,
                open_browser=browser, echo=lines.append, http_client_factory=vendor.client)
    reply = browser.join()
    assert reply.status_code == 200 and "connected to QuickBooks" in reply.text
    [url] = browser.opened
    query = parse_qs(urlsplit(url).query)
    assert url.startswith("https://appcenter.test/connect/oauth2?")
    assert query["client_id"] == ["app-client-id"]
    assert query["scope"] == ["com.intuit.quickbooks.accounting"]
    assert query["response_type"] == ["code"] and len(query["state"][0]) >= 24
    assert url in "\n".join(lines)
    [exchange] = [r for r in vendor.requests if r.url.path.endswith("/tokens/bearer")]
    form = parse_qs(exchange.content.decode())
    assert form["grant_type"] == ["authorization_code"] and form["code"] == ["good-code"]
    assert form["redirect_uri"] == query["redirect_uri"]
    tokens = kept_tokens(db)
    assert (tokens["access_token"], tokens["refresh_token"]) == ("access-1", "refresh-1")
    assert f"QuickBooks company {REALM} authorised" in lines
    assert lines[-1] == f"books (quickbooks): connected; tokens stored encrypted in {db}"
    assert not any("access-1" in line or "refresh-1" in line for line in lines)
    # Sealed at rest: the raw store row does not hold the token.
    raw = SqliteStore(db)
    try:
        assert "refresh-1" not in raw.connector_value("books", TOKENS_KEY)
    finally:
        raw.close()


def test_a_wrong_state_is_refused_and_nothing_is_stored(tmp_path):
    vendor = FakeQuickBooks()
    db = tmp_path / "billflow.db"

    class Forger(Browser):
        def __call__(self, url: str) -> None:
            super().__call__(url.replace("state=", "state=forged"))

    browser = Forger(code="good-code")
    with pytest.raises(ConnectorError, match="state does not match") as caught:
        run_connect("books", str(FIXTURES / "quickbooks" / "rules"), str(db), port=0,
                    timeout=20, open_browser=browser, echo=lambda line: None,
                    http_client_factory=vendor.client)
    assert caught.value.retryable is False
    assert browser.join().status_code == 400
    assert vendor.requests == []  # the code was never exchanged
    assert kept_tokens(db) is None


def test_connect_xero_lists_the_organisations_it_reaches(tmp_path):
    vendor = FakeXero()
    browser = Browser(code="good-code")
    lines: list[str] = []
    db = tmp_path / "billflow.db"
    run_connect("books", str(FIXTURES / "xero" / "rules"), str(db), port=0, timeout=20,
                open_browser=browser, echo=lines.append, http_client_factory=vendor.client)
    assert browser.join().status_code == 200
    scope = parse_qs(urlsplit(browser.opened[0]).query)["scope"][0]
    assert scope.split() == ["offline_access", "accounting.invoices", "accounting.payments.read",
                             "accounting.contacts.read", "accounting.settings.read"]
    assert f"Xero organisation 'Test Studio Ltd': tenant_id {TENANT}" in lines
    assert kept_tokens(db)["refresh_token"] == "refresh-1"


def test_a_denied_authorisation_ends_the_command_with_one_sentence(tmp_path, monkeypatch):
    browser = Browser(error="access_denied")
    monkeypatch.setattr("webbrowser.open", browser)
    result = CliRunner().invoke(cli, ["connect", "books", "--rules",
                                      str(FIXTURES / "xero" / "rules"), "--db",
                                      str(tmp_path / "billflow.db"), "--port", "0",
                                      "--timeout", "20"])
    assert browser.join().status_code == 400
    assert isinstance(result.exception, ConnectorError)
    assert "Xero did not grant access (access_denied); nothing was stored" in str(result.exception)


def test_connect_refuses_what_cannot_work(tmp_path, monkeypatch):
    rules = str(FIXTURES / "xero" / "rules")
    with pytest.raises(UsageError, match="declares no connector 'ledger'"):
        run_connect("ledger", rules, str(tmp_path / "a.db"))
    monkeypatch.delenv("BILLFLOW_SECRET_KEY")
    with pytest.raises(UsageError, match="set BILLFLOW_SECRET_KEY"):
        run_connect("books", rules, str(tmp_path / "a.db"))


def test_connectors_check_reads_the_tokens_from_the_store(tmp_path):
    db = tmp_path / "billflow.db"
    SqliteStore(db).close()
    result = CliRunner().invoke(cli, ["connectors", "check", str(FIXTURES / "quickbooks" / "rules"),
                                      "--db", str(db)])
    assert result.exit_code == 1
    assert ("books (quickbooks): FAILED — connector 'books' (quickbooks): not connected to "
            "QuickBooks yet: run `billflow connect books`") in result.output
