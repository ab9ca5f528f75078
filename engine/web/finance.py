"""The finance queue (`/finance`, finance only): what the automation could not decide.

Assigning an unmatched payment records a `payment.assigned` event by the signed-in person
through the daemon's intake, the same path as `POST /events`; the engine decides on it
(applies the payment, or refuses it with a reason) and the page reports what it decided.
The event id is `payment.assigned:<payment>`: a double submit is one event, and after a
refusal a corrected assignment is accepted (intake forgets refused ids).

Retrying a dead letter queues its deliveries again with a fresh retry budget.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Literal
from urllib.parse import urlencode

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from engine.runtime.store import Store
from engine.web.auth import Viewer, backend_of, check_csrf, requires_viewer
from engine.web.render import render
from engine.web.status import wording
from engine.web.views import finance_queue, history_of, unmatched_payment

__all__ = ["routes", "Assignment", "assign_payment", "assignment_of", "finance_only"]

# How long a request waits for the engine to decide on the assignment it recorded.
DECISION_WAIT = 10.0

Outcome = Literal["applied", "refused", "pending", "invalid", "not_waiting"]


@dataclass(frozen=True)
class Assignment:
    """What became of an assignment: applied (with its allocations), refused, or pending."""

    payment: str
    event: str
    outcome: Outcome
    message: str
    allocations: tuple[Mapping[str, str], ...] = ()
    credit: str | None = None


def event_id(payment: str) -> str:
    return f"payment.assigned:{payment}"


def assignment_of(store: Store, payment: str) -> Assignment | None:
    """Read what the engine decided on the assignment of `payment` (None: none recorded)."""
    stored = store.event(event_id(payment))
    if stored is None:
        return None
    if stored.rejection is not None:
        return Assignment(payment, stored.id, "refused", stored.rejection)
    snapshot = store.load_snapshot()
    if snapshot is None or snapshot.position < stored.position:
        return Assignment(payment, stored.id, "pending",
                          "Recorded; the engine applies it in a moment.")
    applied = store.action(f"payment.applied:{payment}")
    if applied is None:
        return Assignment(payment, stored.id, "pending", "Recorded.")
    body = applied["payload"]
    allocations = tuple(body.get("allocations") or ())
    currency = body["payment"]["currency"]
    parts = [f"{item.get('number') or item['invoice']} ({item['amount']} {currency})"
             for item in allocations]
    credit = body.get("credit")
    message = (f"Applied to {', '.join(parts)}" if parts else "Applied")
    if credit and Decimal(credit) > 0:
        message += f"; {credit} {currency} kept as the client's credit"
    return Assignment(payment, stored.id, "applied", message + ".", allocations, credit)


async def assign_payment(backend: Any, viewer: Viewer, payment: str, *,
                         invoice: str | None = None, client: str | None = None) -> Assignment:
    """Record `viewer`'s assignment of `payment` and wait (briefly) for the engine's decision."""
    if bool(invoice) == bool(client):
        return Assignment(payment, event_id(payment), "invalid",
                          "Choose either an invoice or a client.")
    waiting = await run_in_threadpool(
        lambda: unmatched_payment(history_of(backend), payment) is not None)
    if not waiting:
        return Assignment(payment, event_id(payment), "not_waiting",
                          f"No payment '{payment}' is waiting to be assigned.")
    target = {"invoice": invoice} if invoice else {"client": client}
    event = {"id": event_id(payment), "type": "payment.assigned",
             "at": backend.clock.now().isoformat(),
             "payload": {"payment": payment, "by": viewer.id, **target}}
    result = await run_in_threadpool(backend.ingest, json.dumps(event), f"web:{viewer.id}")
    if result.errors:
        return Assignment(payment, event["id"], "invalid", "; ".join(result.errors))
    deadline = time.monotonic() + DECISION_WAIT
    while True:
        found = await run_in_threadpool(assignment_of, backend.store, payment)
        if found is not None and found.outcome != "pending":
            return found
        if time.monotonic() >= deadline:
            return found or Assignment(payment, event["id"], "pending", "Recorded.")
        await asyncio.sleep(0.05)


def finance_only(request: Request, viewer: Viewer) -> Response | None:
    """Return the refusal page for someone without the finance role, else None."""
    if viewer.is_finance:
        return None
    return render(request, "error.html.j2", status=403, title="Finance only",
                  message="The finance queue is for people with the finance role.")


@requires_viewer
async def queue_page(request: Request, viewer: Viewer) -> Response:
    refused = finance_only(request, viewer)
    if refused is not None:
        return refused
    backend = backend_of(request)
    assigned = request.query_params.get("assigned")
    retried = request.query_params.get("retried")

    def read():  # type: ignore[no-untyped-def]
        history = history_of(backend)
        outcome = assignment_of(backend.store, assigned) if assigned else None
        return history, finance_queue(history), outcome

    history, queue, outcome = await run_in_threadpool(read)
    return render(request, "finance.html.j2", title="Finance queue", queue=queue,
                  outcome=outcome, retried=retried,
                  requeued=request.query_params.get("requeued"), **wording(history.rules))


@requires_viewer
async def assign(request: Request, viewer: Viewer) -> Response:
    refused = finance_only(request, viewer)
    if refused is not None:
        return refused
    form = await check_csrf(request)
    payment = str(form.get("payment") or "")
    outcome = await assign_payment(backend_of(request), viewer, payment,
                                   invoice=str(form.get("invoice") or "") or None,
                                   client=str(form.get("client") or "") or None)
    if outcome.outcome in ("invalid", "not_waiting"):
        history = await run_in_threadpool(history_of, backend_of(request))
        queue = await run_in_threadpool(finance_queue, history)
        return render(request, "finance.html.j2", status=422, title="Finance queue",
                      queue=queue, outcome=outcome, retried=None, requeued=None,
                      **wording(history.rules))
    return RedirectResponse("/finance?" + urlencode({"assigned": payment}), status_code=303)


@requires_viewer
async def retry(request: Request, viewer: Viewer) -> Response:
    refused = finance_only(request, viewer)
    if refused is not None:
        return refused
    form = await check_csrf(request)
    action = str(form.get("action") or "")
    backend = backend_of(request)
    count = await run_in_threadpool(backend.store.retry_dead, action, backend.clock.now())
    return RedirectResponse("/finance?" + urlencode({"retried": action, "requeued": count}),
                            status_code=303)


routes = [
    Route("/finance", queue_page, methods=["GET"], name="finance"),
    Route("/finance/assign", assign, methods=["POST"], name="finance_assign"),
    Route("/finance/retry", retry, methods=["POST"], name="finance_retry"),
]
