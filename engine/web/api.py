"""The JSON API over the same read models as the pages (`/api/v1/...`).

    GET  /api/v1/clients                    the clients the caller may see (?lead=PERSON)
    GET  /api/v1/clients/{client}           one client's billing status
    GET  /api/v1/queue                      the finance queue (finance only)
    GET  /api/v1/metrics                    the §7 metrics, month by month (last twelve)
    POST /api/v1/payments/{payment}/assign  {"invoice": ID} or {"client": ID} (finance only)
    GET  /api/openapi.json                  the OpenAPI 3.1 description of all of the above

Callers authenticate with a personal token (`Authorization: Bearer ...`) or a session
cookie; a POST made with the session cookie also needs the page's CSRF token in the
`X-CSRF-Token` header (a personal token is never sent by a browser on its own). Money is
{"amount": "1234.50", "currency": "USD"}: decimal strings, never floats.
"""

from __future__ import annotations

import hmac
import json
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from engine.web.auth import Viewer, backend_of, csrf_token, requires_api_viewer
from engine.web.finance import assign_payment
from engine.web.openapi import openapi_document
from engine.web.surface import json_reply
from engine.web.views import (
    client_status, client_statuses, finance_queue, history_of, to_json, trends,
    visible_clients,
)

__all__ = ["routes", "CSRF_HEADER"]

CSRF_HEADER = "x-csrf-token"
_ASSIGN_STATUS = {"applied": 200, "pending": 202, "refused": 422, "invalid": 422,
                  "not_waiting": 404}


def _error(status: int, message: str) -> Response:
    return json_reply(status, {"error": message})


def _finance_only(viewer: Viewer) -> Response | None:
    if viewer.is_finance:
        return None
    return _error(403, "only people with the finance role may do this")


@requires_api_viewer
async def list_clients(request: Request, viewer: Viewer) -> Response:
    backend = backend_of(request)
    lead = request.query_params.get("lead") or None

    def read() -> dict[str, Any]:
        history = history_of(backend)
        shown = visible_clients(history.rules, viewer.id, viewer.is_finance, lead)
        return {"as_of": history.today.isoformat(),
                "clients": to_json(client_statuses(history, shown))}

    return json_reply(200, await run_in_threadpool(read))


@requires_api_viewer
async def get_client(request: Request, viewer: Viewer) -> Response:
    backend = backend_of(request)
    client_id = request.path_params["client"]

    def read() -> dict[str, Any] | None:
        history = history_of(backend)
        if client_id not in visible_clients(history.rules, viewer.id, viewer.is_finance):
            return None
        return {"as_of": history.today.isoformat(),
                "client": to_json(client_status(history, client_id))}

    found = await run_in_threadpool(read)
    if found is None:
        return _error(404, f"no client '{client_id}' among the clients you can see")
    return json_reply(200, found)


@requires_api_viewer
async def get_queue(request: Request, viewer: Viewer) -> Response:
    refused = _finance_only(viewer)
    if refused is not None:
        return refused
    backend = backend_of(request)

    def read() -> dict[str, Any]:
        history = history_of(backend)
        return {"as_of": history.today.isoformat(), "queue": to_json(finance_queue(history))}

    return json_reply(200, await run_in_threadpool(read))


@requires_api_viewer
async def get_metrics(request: Request, viewer: Viewer) -> Response:
    backend = backend_of(request)

    def read() -> dict[str, Any]:
        history = history_of(backend)
        return {"as_of": history.today.isoformat(), "metrics": to_json(trends(history))}

    return json_reply(200, await run_in_threadpool(read))


def _csrf_missing(request: Request) -> bool:
    """A session-authenticated POST without the page's CSRF token (bearer calls are exempt)."""
    if request.headers.get("authorization", "").lower().startswith("bearer "):
        return False
    given = request.headers.get(CSRF_HEADER, "")
    return not given or not hmac.compare_digest(given, csrf_token(request))


@requires_api_viewer
async def post_assign(request: Request, viewer: Viewer) -> Response:
    refused = _finance_only(viewer)
    if refused is not None:
        return refused
    if _csrf_missing(request):
        return _error(403, f"a POST with the session cookie needs the {CSRF_HEADER} header")
    try:
        body = json.loads(await request.body())
    except (ValueError, UnicodeDecodeError):
        return _error(422, 'the body must be a JSON object: {"invoice": ID} or {"client": ID}')
    if not isinstance(body, dict) or set(body) - {"invoice", "client"}:
        return _error(422, 'the body must be a JSON object: {"invoice": ID} or {"client": ID}')
    invoice, client = body.get("invoice"), body.get("client")
    if not all(value is None or isinstance(value, str) for value in (invoice, client)):
        return _error(422, "invoice and client are ids: strings")
    outcome = await assign_payment(backend_of(request), viewer,
                                   request.path_params["payment"],
                                   invoice=invoice or None, client=client or None)
    return json_reply(_ASSIGN_STATUS[outcome.outcome], to_json(outcome))


async def get_openapi(request: Request) -> Response:
    return json_reply(200, openapi_document())


routes = [
    Route("/api/v1/clients", list_clients, methods=["GET"]),
    Route("/api/v1/clients/{client}", get_client, methods=["GET"]),
    Route("/api/v1/queue", get_queue, methods=["GET"]),
    Route("/api/v1/metrics", get_metrics, methods=["GET"]),
    Route("/api/v1/payments/{payment}/assign", post_assign, methods=["POST"]),
    Route("/api/openapi.json", get_openapi, methods=["GET"]),
]
