"""Billing status for account managers: `/status` (their clients) and `/status/{client}`.

An account lead sees the clients they lead; finance sees every client and may narrow the
list to one lead's (`?lead=sam`). A client the viewer may not see answers 404, as an
unknown one does: the page does not say which clients exist.
"""

from __future__ import annotations

from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from engine.web.auth import Viewer, backend_of, requires_viewer
from engine.web.render import render
from engine.ruleset.types import RuleSet
from engine.web.views import (
    BUCKET_NAMES, account_leads, bucket_label, client_status, client_statuses, history_of,
    local_time, visible_clients, wait_text,
)

__all__ = ["routes", "status_index", "status_client", "wording"]


def wording(rules: RuleSet) -> dict[str, Any]:
    """The helpers templates use to say buckets, instants (agency time) and waits."""
    zone = rules.agency.calendar.zone
    return {"bucket_label": bucket_label, "wait_text": wait_text,
            "local_time": lambda instant: local_time(instant, zone)}


@requires_viewer
async def status_index(request: Request, viewer: Viewer) -> Response:
    backend = backend_of(request)
    lead = request.query_params.get("lead") or None

    def read():  # type: ignore[no-untyped-def]
        history = history_of(backend)
        everyone = visible_clients(history.rules, viewer.id, viewer.is_finance)
        shown = visible_clients(history.rules, viewer.id, viewer.is_finance, lead)
        return history, client_statuses(history, shown), account_leads(history.rules, everyone)

    history, statuses, leads = await run_in_threadpool(read)
    return render(request, "status.html.j2", title="Billing status", statuses=statuses,
                  leads=leads, lead=lead, today=history.today, buckets=BUCKET_NAMES,
                  **wording(history.rules))


@requires_viewer
async def status_client(request: Request, viewer: Viewer) -> Response:
    backend = backend_of(request)
    client_id = request.path_params["client"]

    def read():  # type: ignore[no-untyped-def]
        history = history_of(backend)
        if client_id not in visible_clients(history.rules, viewer.id, viewer.is_finance):
            return history, None
        return history, client_status(history, client_id)

    history, status = await run_in_threadpool(read)
    if status is None:
        raise HTTPException(404, f"no client '{client_id}' among the clients you can see")
    return render(request, "status_client.html.j2", title=status.name, client=status,
                  today=history.today, buckets=BUCKET_NAMES, **wording(history.rules))


routes = [
    Route("/status", status_index, methods=["GET"], name="status"),
    Route("/status/{client}", status_client, methods=["GET"], name="status_client"),
]
