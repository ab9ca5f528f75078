"""`/approve/{token}`: the approver's one-click page, reached from the approval request mail.

GET shows the draft as the client will see it, the time entries and expenses behind it and
the warnings, with two forms: Approve, or Flag with a comment. GET changes nothing (mail
scanners open links). POST (CSRF-checked) spends the link, then records `invoice.approved`
or `invoice.flagged` by the link's approver through the daemon's intake (source
"web:approve"): the engine decides what follows, exactly as for `POST /events`.
A forged, expired, used or superseded link gets a page saying so, and changes nothing.
"""

from __future__ import annotations

import json
import logging

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from engine.errors import LinkRefused
from engine.web.approval_links import ApprovalClaim, ApprovalLinks
from engine.web.approval_view import approval_view
from engine.web.auth import backend_of, check_csrf, settings_of
from engine.web.render import render

__all__ = ["routes", "INTAKE_SOURCE", "MAX_COMMENT"]

log = logging.getLogger("billflow.web.approval")
INTAKE_SOURCE = "web:approve"
MAX_COMMENT = 4000
_STATUS = {"forged": 403, "expired": 410, "used": 410, "superseded": 409}
_TITLE = {"forged": "This link is not valid", "expired": "This link has expired",
          "used": "This link was used already", "superseded": "This draft has moved on"}


def _links(request: Request) -> ApprovalLinks:
    return ApprovalLinks(settings_of(request), backend_of(request).store)


def _refused(request: Request, refusal: LinkRefused) -> Response:
    return render(request, "approve_refused.html.j2", status=_STATUS.get(refusal.reason, 400),
                  title=_TITLE.get(refusal.reason, "This link cannot be used"),
                  reason=refusal.reason, message=refusal.message)


async def _claim(request: Request) -> ApprovalClaim | Response:
    token = request.path_params["token"]
    now = backend_of(request).clock.now()
    try:
        return await run_in_threadpool(_links(request).read, token, now)
    except LinkRefused as refusal:
        return _refused(request, refusal)


def _page(request: Request, claim: ApprovalClaim, *, status: int = 200, error: str | None = None,
          comment: str = "") -> Response:
    view = approval_view(claim.request, backend_of(request).keeper.active)
    return render(request, "approve.html.j2", status=status, title=f"Approve {view.client_name}",
                  view=view, claim=claim, error=error, comment=comment,
                  action=request.url.path)


async def approval_page(request: Request) -> Response:
    found = await _claim(request)
    if isinstance(found, Response):
        return found
    return _page(request, found)


async def decide(request: Request) -> Response:
    form = await check_csrf(request)
    found = await _claim(request)
    if isinstance(found, Response):
        return found
    claim = found
    decision = str(form.get("decision") or "")
    comment = str(form.get("comment") or "").strip()
    if decision not in ("approve", "flag"):
        return _page(request, claim, status=400, error="Choose Approve or Flag for edits.")
    if decision == "flag" and not comment:
        return _page(request, claim, status=422, comment=comment,
                     error="Say what needs changing: a flag needs a comment for the author.")
    if len(comment) > MAX_COMMENT:
        return _page(request, claim, status=422, comment=comment[:MAX_COMMENT],
                     error=f"Please keep the comment under {MAX_COMMENT} characters.")
    backend = backend_of(request)
    now = backend.clock.now()
    if not await run_in_threadpool(_links(request).use, claim, now):
        return _refused(request, LinkRefused("used", "This link was used already."))
    kind = "invoice.approved" if decision == "approve" else "invoice.flagged"
    payload = {"invoice": claim.invoice_id, "by": claim.approver}
    if comment:
        payload["comment"] = comment
    event = {"id": f"web:{decision}:{claim.link_id[:32]}", "type": kind,
             "at": now.isoformat(), "payload": payload}
    result = await run_in_threadpool(backend.ingest, json.dumps(event), INTAKE_SOURCE)
    if result.errors:
        log.error("the %s of %s from its link was not recorded: %s", decision,
                  claim.invoice_id, "; ".join(result.errors))
        return render(request, "error.html.j2", status=500, title="Not recorded",
                      message="Your answer could not be recorded. Please tell finance.")
    log.info("%s r%d %s by %s from the approval page", claim.invoice_id, claim.revision,
             "approved" if decision == "approve" else "flagged", claim.approver)
    view = approval_view(claim.request, backend.keeper.active)
    return render(request, "approve_done.html.j2", title="Thank you", view=view,
                  decision=decision, comment=comment)


routes = [
    Route("/approve/{token}", approval_page, methods=["GET"]),
    Route("/approve/{token}", decide, methods=["POST"]),
]
