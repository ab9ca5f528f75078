"""The daemon's HTTP surface (loopback by default): event intake, health, metrics.

    POST /events     JSON object, JSON array or NDJSON; `Authorization: Bearer <token>`
    GET  /healthz    200 {"status": "ok"} or 503 {"status": "degraded", "errors": [...]}
    GET  /metrics    Prometheus text format

A thread per request (the standard library's ThreadingHTTPServer): intake only appends to
the store's event log and wakes the engine, so requests never wait on billing decisions.
"""

from __future__ import annotations

import hmac
import json
import logging
import threading
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Protocol

from engine.runtime.intake import IntakeResult

__all__ = ["HttpSurface", "Backend", "MAX_BODY", "parse_address"]

MAX_BODY = 32 * 1024 * 1024
log = logging.getLogger("billflow.http")


class Backend(Protocol):
    """What the HTTP surface needs from the daemon."""

    token: str

    def ingest(self, text: str, source: str) -> IntakeResult: ...

    def health(self) -> tuple[bool, dict[str, Any]]: ...

    def metrics(self) -> str: ...


class _Handler(BaseHTTPRequestHandler):
    server: "HttpSurface"
    protocol_version = "HTTP/1.1"
    # A reply is written as headers, then body: with Nagle's algorithm the body waits for
    # the client's delayed ACK of the headers, 40 ms on every keep-alive request.
    disable_nagle_algorithm = True

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
        # Requests are logged without headers or bodies: they carry tokens and client data.
        log.debug("%s %s", self.command, self.path.split("?", 1)[0])

    def _reply(self, status: int, body: bytes, content_type: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        self.wfile.write(body)

    def _json(self, status: int, data: Any) -> None:
        self._reply(status, json.dumps(data, indent=2).encode("utf-8") + b"\n", "application/json")

    def do_GET(self) -> None:  # noqa: N802 - stdlib name
        path = self.path.split("?", 1)[0]
        backend = self.server.backend
        if path == "/healthz":
            ok, detail = backend.health()
            self._json(HTTPStatus.OK if ok else HTTPStatus.SERVICE_UNAVAILABLE, detail)
        elif path == "/metrics":
            self._reply(HTTPStatus.OK, backend.metrics().encode("utf-8"),
                        "text/plain; version=0.0.4; charset=utf-8")
        else:
            self._json(HTTPStatus.NOT_FOUND, {"error": f"no such page: {path}"})

    def do_POST(self) -> None:  # noqa: N802 - stdlib name
        path = self.path.split("?", 1)[0]
        if path != "/events":
            self._json(HTTPStatus.NOT_FOUND, {"error": f"no such endpoint: {path}"})
            return
        backend = self.server.backend
        given = self.headers.get("Authorization", "")
        expected = f"Bearer {backend.token}"
        if not hmac.compare_digest(given.encode("utf-8"), expected.encode("utf-8")):
            self._json(HTTPStatus.UNAUTHORIZED, {"error": "a valid bearer token is required"})
            return
        length = int(self.headers.get("Content-Length") or 0)
        if length > MAX_BODY:
            self._json(HTTPStatus.REQUEST_ENTITY_TOO_LARGE,
                       {"error": f"at most {MAX_BODY} bytes per request"})
            return
        try:
            text = self.rfile.read(length).decode("utf-8")
        except UnicodeDecodeError:
            self._json(HTTPStatus.BAD_REQUEST, {"error": "the body is not UTF-8 text"})
            return
        result = backend.ingest(text, "http")
        status = HTTPStatus.ACCEPTED if not result.errors else HTTPStatus.UNPROCESSABLE_ENTITY
        self._json(status, result.as_json())


class HttpSurface(ThreadingHTTPServer):
    """The HTTP server, bound at construction; `serve_in_thread` runs it in the background."""

    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], backend: Backend) -> None:
        super().__init__(address, _Handler)
        self.backend = backend
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host}:{port}"

    def serve_in_thread(self) -> None:
        self._thread = threading.Thread(target=self.serve_forever, name="billflow-http",
                                        kwargs={"poll_interval": 0.2}, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self.shutdown()
        self.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)


def parse_address(text: str) -> tuple[str, int]:
    """Parse `host:port` (the port alone means loopback)."""
    host, _, port = text.rpartition(":")
    try:
        return (host or "127.0.0.1", int(port))
    except ValueError:
        raise ValueError(f"'{text}' is not host:port") from None

