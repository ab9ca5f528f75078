"""The machine endpoints: event intake, health, metrics, connector webhooks.

    POST /events                  JSON object, JSON array or NDJSON; `Authorization: Bearer <token>`
    GET  /healthz                 200 {"status": "ok"} or 503 {"status": "degraded", "errors": [...]}
    GET  /metrics                 Prometheus text format
    GET|POST /webhooks/{name}[/…] handed to the connector `name` (it checks its signature)

Intake only appends to the store's event log and wakes the engine: a request never waits on
billing decisions. Store calls run in worker threads, never on the event loop.
"""

from __future__ import annotations

import hmac
import json
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from engine.runtime.http import MAX_BODY

__all__ = ["routes", "MAX_BODY", "json_reply"]


def json_reply(status: int, data: Any) -> Response:
    """The JSON shape the daemon has always answered with: indented, newline-terminated."""
    return Response(json.dumps(data, indent=2).encode("utf-8") + b"\n", status_code=status,
                    media_type="application/json", headers={"Cache-Control": "no-store"})


async def _read_body(request: Request, limit: int) -> bytes | None:
    """Return the body, or None once it grows past `limit` bytes."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        return None
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
    return b"".join(chunks)


async def post_events(request: Request) -> Response:
    backend = request.app.state.backend
    given = request.headers.get("authorization", "")
    expected = f"Bearer {backend.token}"
    if not hmac.compare_digest(given.encode("utf-8"), expected.encode("utf-8")):
        return json_reply(401, {"error": "a valid bearer token is required"})
    body = await _read_body(request, MAX_BODY)
    if body is None:
        return json_reply(413, {"error": f"at most {MAX_BODY} bytes per request"})
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        return json_reply(400, {"error": "the body is not UTF-8 text"})
    result = await run_in_threadpool(backend.ingest, text, "http")
    return json_reply(202 if not result.errors else 422, result.as_json())


async def healthz(request: Request) -> Response:
    ok, detail = await run_in_threadpool(request.app.state.backend.health)
    return json_reply(200 if ok else 503, detail)


async def metrics(request: Request) -> Response:
    text = await run_in_threadpool(request.app.state.backend.metrics)
    return Response(text.encode("utf-8"), media_type="text/plain; version=0.0.4; charset=utf-8",
                    headers={"Cache-Control": "no-store"})


async def webhook(request: Request) -> Response:
    backend = request.app.state.backend
    name = request.path_params["connector"]
    from connectors.sources import WebhookRequest

    body = await _read_body(request, MAX_BODY)
    if body is None:
        return json_reply(413, {"error": f"at most {MAX_BODY} bytes per request"})
    incoming = WebhookRequest(
        method=request.method, path=request.path_params.get("rest", ""),
        headers={key.lower(): value for key, value in request.headers.items()},
        body=body, query=dict(request.query_params))
    reply = await run_in_threadpool(backend.webhook, name, incoming)
    headers = {key: value for key, value in reply.headers}
    headers.setdefault("Cache-Control", "no-store")
    return Response(reply.body, status_code=reply.status, headers=headers)


routes = [
    Route("/events", post_events, methods=["POST"]),
    Route("/healthz", healthz, methods=["GET"]),
    Route("/metrics", metrics, methods=["GET"]),
    Route("/webhooks/{connector}", webhook, methods=["GET", "POST"]),
    Route("/webhooks/{connector}/{rest:path}", webhook, methods=["GET", "POST"]),
]
