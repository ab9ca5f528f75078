"""The daemon's HTTP surface (loopback by default): one uvicorn server in a thread of its own.

    POST /events     JSON object, JSON array or NDJSON; `Authorization: Bearer <token>`
    GET  /healthz    200 {"status": "ok"} or 503 {"status": "degraded", "errors": [...]}
    GET  /metrics    Prometheus text format
    /webhooks/{connector}, /approve/{token}, /signin and the pages: engine/web (docs/web.md)

The socket is bound when the surface is made (a port in use fails `billflow run` at once);
uvicorn serves it on its own event loop in the `billflow-http` thread, and `stop()` lets the
requests in flight finish. The access log is off: paths carry approval and sign-in tokens.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import threading
from typing import Any, Protocol

from engine.runtime.intake import IntakeResult

__all__ = ["HttpSurface", "Backend", "MAX_BODY", "parse_address"]

MAX_BODY = 32 * 1024 * 1024
log = logging.getLogger("billflow.http")


class Backend(Protocol):
    """What the HTTP surface needs from the daemon (the pages need more: docs/web.md)."""

    token: str

    def ingest(self, text: str, source: str) -> IntakeResult: ...

    def health(self) -> tuple[bool, dict[str, Any]]: ...

    def metrics(self) -> str: ...

    def webhook(self, name: str, request: Any) -> Any:
        """Answer a vendor's push to /webhooks/{name} (connectors/sources.py)."""


class HttpSurface:
    """The HTTP server, bound at construction; `serve_in_thread` runs it in the background."""

    def __init__(self, address: tuple[str, int], backend: Backend, *, app: Any = None,
                 forwarded_allow_ips: str | None = None) -> None:
        host, port = address
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        self.socket = socket.socket(family, socket.SOCK_STREAM)
        self.socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            self.socket.bind((host, port))
        except OSError:
            self.socket.close()
            raise
        self.socket.listen(128)
        self.server_address = self.socket.getsockname()[:2]
        # Imported here: `billflow run --no-http` and the CLI start without a web stack.
        import uvicorn

        from engine.web.app import create_app

        class _Server(uvicorn.Server):
            def install_signal_handlers(self) -> None:  # the daemon's main thread owns them
                pass

        if app is None:
            app = create_app(backend)
        self.app = app
        self.backend = backend
        config = uvicorn.Config(
            app, access_log=False, log_config=None, lifespan="off",
            proxy_headers=forwarded_allow_ips is not None,
            forwarded_allow_ips=forwarded_allow_ips or "127.0.0.1",
            server_header=False, timeout_graceful_shutdown=5)
        # Paths carry approval and sign-in tokens: no access log, whatever logging says later.
        logging.getLogger("uvicorn.access").disabled = True
        self._server = _Server(config)
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        host, port = self.server_address
        return f"http://{f'[{host}]' if ':' in host else host}:{port}"

    def serve_in_thread(self) -> None:
        """Start serving; return once the server accepts connections."""
        started = threading.Event()

        def serve() -> None:
            loop = asyncio.new_event_loop()
            asyncio.set_event_loop(loop)
            try:
                loop.run_until_complete(self._serve(started))
            finally:
                loop.close()
                started.set()

        self._thread = threading.Thread(target=serve, name="billflow-http", daemon=True)
        self._thread.start()
        started.wait(timeout=30)

    async def _serve(self, started: threading.Event) -> None:
        task = asyncio.ensure_future(self._server.serve(sockets=[self.socket]))
        while not self._server.started and not task.done():
            await asyncio.sleep(0.01)
        started.set()
        await task

    def stop(self) -> None:
        """Stop accepting, let requests in flight finish, close the socket."""
        self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=10)
        self.socket.close()


def parse_address(text: str) -> tuple[str, int]:
    """Parse `host:port` (the port alone means loopback)."""
    host, _, port = text.rpartition(":")
    try:
        return (host.strip("[]") or "127.0.0.1", int(port))
    except ValueError:
        raise ValueError(f"'{text}' is not host:port") from None
