"""The daemon's HTTP surface on uvicorn: bound at start, stopped cleanly, intake limits,
webhooks handed to the daemon, security headers, and no token in the logs."""

from __future__ import annotations

import logging
import socket
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from engine.runtime.daemon import Daemon, DaemonOptions
from engine.runtime.http import HttpSurface, parse_address
from engine.web.headers import CSP
from engine.web.settings import WebOptions

RULES = Path(__file__).resolve().parents[1] / "web" / "fixtures" / "studio"
TOKEN = "http-test-token"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture()
def daemon(tmp_path: Path, monkeypatch) -> Iterator[Daemon]:
    monkeypatch.setenv("SMTP_HOST", "127.0.0.1")
    monkeypatch.setenv("SMTP_PORT", "1")
    running = Daemon(DaemonOptions(rules=str(RULES), db=str(tmp_path / "billflow.db"),
                                   http=("127.0.0.1", free_port()), token=TOKEN, watch=False,
                                   web=WebOptions(secret_key="k" * 40)))
    running.start()
    try:
        yield running
    finally:
        if not running._stop.is_set():
            running.stop()


def test_parse_address() -> None:
    assert parse_address("8787") == ("127.0.0.1", 8787)
    assert parse_address("0.0.0.0:80") == ("0.0.0.0", 80)
    assert parse_address("[::1]:8080") == ("::1", 8080)
    with pytest.raises(ValueError):
        parse_address("localhost:http")


def test_a_port_in_use_fails_at_once(daemon: Daemon) -> None:
    assert daemon.http is not None
    with pytest.raises(OSError):
        HttpSurface(daemon.http.server_address, daemon)


def test_stopping_the_daemon_stops_the_server(daemon: Daemon) -> None:
    assert daemon.http is not None
    url = daemon.http.url
    assert httpx.get(url + "/healthz").status_code == 200
    daemon.stop()
    assert daemon.http._thread is not None and not daemon.http._thread.is_alive()
    with pytest.raises(httpx.ConnectError):
        httpx.get(url + "/healthz", timeout=2)


def test_intake_refuses_oversized_and_non_utf8_bodies(daemon: Daemon) -> None:
    assert daemon.http is not None
    host, port = daemon.http.server_address
    with socket.create_connection((host, port)) as raw:
        raw.sendall(b"POST /events HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + TOKEN.encode()
                    + b"\r\nContent-Length: 99999999999\r\n\r\n")
        reply = raw.recv(4096)
    assert reply.startswith(b"HTTP/1.1 413")
    answer = httpx.post(daemon.http.url + "/events", content=b"\xff\xfe",
                        headers={"Authorization": f"Bearer {TOKEN}"})
    assert answer.status_code == 400 and answer.json() == {"error": "the body is not UTF-8 text"}
    assert httpx.get(daemon.http.url + "/events").status_code == 405
    assert daemon.store.counts().events == 0


def test_webhooks_reach_the_daemon(daemon: Daemon) -> None:
    assert daemon.http is not None
    for method in ("GET", "POST"):
        answer = httpx.request(method, daemon.http.url + "/webhooks/nobody/deep/path",
                               content=b"{}" if method == "POST" else None)
        # No connector 'nobody' is declared: the daemon's webhook answer, not the router's.
        assert 400 <= answer.status_code < 500, answer.text
    assert daemon.store.counts().events == 0


def test_security_headers_and_no_token_in_the_logs(daemon: Daemon, caplog) -> None:
    assert daemon.http is not None
    caplog.set_level(logging.DEBUG)
    secret_path = "eyJpIjoiYWNtZS9zb2NpYWwvMjAyNi0wMyJ9.c2VjcmV0LXRva2VuLWluLXRoZS1wYXRo"
    for path in (f"/approve/{secret_path}", f"/signin/{secret_path}"):
        page = httpx.get(daemon.http.url + path, headers={"Accept": "text/html"})
        assert page.status_code == 403
        assert page.headers["content-security-policy"] == CSP
        assert "'unsafe-inline'" not in CSP and "frame-ancestors 'none'" in CSP
        assert page.headers["referrer-policy"] == "no-referrer"
        assert page.headers["x-frame-options"] == "DENY"
        assert page.headers["x-content-type-options"] == "nosniff"
        assert page.headers["cache-control"] == "no-store"
        assert "<script" not in page.text and "style=" not in page.text
    health = httpx.get(daemon.http.url + "/healthz")
    assert health.headers["referrer-policy"] == "no-referrer"
    assert "server" not in health.headers
    served = "\n".join(record.getMessage() for record in caplog.records
                       if not record.name.startswith(("httpx", "httpcore")))  # the test's client
    assert "/healthz" not in served  # no access log at all
    assert secret_path not in served
    assert "k" * 40 not in served
