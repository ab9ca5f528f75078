"""Sign-in: a single-use link mailed to people of the Agency file, or a personal token.

    GET  /signin               the form: an e-mail address (or a personal token)
    POST /signin               mail a sign-in link if the address is a person's; the same
                               neutral reply either way; limited per address and per IP
    GET  /signin/{token}       "Sign in as …?" (a GET spends nothing: mail scanners open links)
    POST /signin/{token}       spend the link, start the session, go where the person was going
    POST /signin/token         sign in with a personal token (`billflow web-token PERSON`)
    POST /signout              end the session
"""

from __future__ import annotations

import logging
import secrets
from datetime import datetime, timezone

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from engine.errors import ConnectorError, LinkRefused
from engine.web.auth import (backend_of, check_csrf, end_session, person_of_token,
                             settings_of, start_session)
from engine.web.mailer import mail_link
from engine.web.ratelimit import AttemptLimit
from engine.web.render import render
from engine.web.signing import sign, token_id, verify

__all__ = ["routes", "PURPOSE", "SigninLimits"]

log = logging.getLogger("billflow.web.signin")
PURPOSE = "signin"


class SigninLimits:
    """Per-app attempt limits: enough for a person who mistypes, too few to probe addresses
    or to flood someone's inbox."""

    def __init__(self) -> None:
        self.by_address = AttemptLimit(5, 15 * 60)
        self.by_client = AttemptLimit(20, 15 * 60)


def _limits(request: Request) -> SigninLimits:
    limits = getattr(request.app.state, "signin_limits", None)
    if limits is None:
        limits = request.app.state.signin_limits = SigninLimits()
    return limits


def _next(value: object) -> str:
    """Keep a local path to return to; anything else (another site) becomes /."""
    text = str(value or "")
    if not text.startswith("/") or text.startswith("//") or "\\" in text:
        return "/"
    return text


def _client_ip(request: Request) -> str:
    return request.client.host if request.client else "unknown"


async def signin_form(request: Request) -> Response:
    return render(request, "signin.html.j2", title="Sign in",
                  next=_next(request.query_params.get("next")), error=None, email="")


async def request_link(request: Request) -> Response:
    form = await check_csrf(request)
    email = str(form.get("email") or "").strip().lower()
    target = _next(form.get("next"))
    if not email or "@" not in email or len(email) > 254:
        return render(request, "signin.html.j2", status=422, title="Sign in", next=target,
                      error="Enter your work e-mail address.", email=email)
    limits = _limits(request)
    if not (limits.by_client.allow(_client_ip(request)) and limits.by_address.allow(email)):
        return render(request, "signin.html.j2", status=429, title="Sign in", next=target,
                      error="Too many sign-in attempts. Please wait a quarter of an hour and "
                            "try again.", email=email)
    backend = backend_of(request)
    person = next((p for p in backend.keeper.active.agency.people.values()
                   if p.email.lower() == email), None)
    if person is not None:
        await run_in_threadpool(_send_link, request, person, target)
    return render(request, "signin_sent.html.j2", title="Check your mail", email=email)


def _send_link(request: Request, person, target: str) -> None:
    backend, settings = backend_of(request), settings_of(request)
    now = backend.clock.now()
    expires = now + settings.signin_ttl
    token = sign(settings.secret, PURPOSE, {"s": person.id, "n": secrets.token_urlsafe(9),
                                            "t": target}, expires)
    minutes = int(settings.signin_ttl.total_seconds() // 60)
    agency = backend.keeper.active.agency.name
    body = (f"Hello {person.name},\n\n"
            f"Open this link to sign in to {agency} billing:\n"
            f"{settings.url('/signin/' + token)}\n\n"
            f"It works once, for the next {minutes} minutes. If you did not ask to sign in, "
            f"ignore this mail: nobody can sign in without opening the link.\n\n"
            f"{agency} billing\n")
    try:
        detail = mail_link(backend, person, f"Your sign-in link for {agency} billing", body)
        log.info("sign-in link mailed to person %s: %s", person.id, detail)
    except ConnectorError as exc:
        log.error("the sign-in link for person %s could not be mailed: %s", person.id, exc)


def _read(request: Request):
    backend, settings = backend_of(request), settings_of(request)
    token = request.path_params["token"]
    claims = verify(settings.secret, PURPOSE, token, backend.clock.now())
    person = backend.keeper.active.agency.people.get(str(claims.get("s")))
    if person is None:
        raise LinkRefused("forged", "This sign-in link names nobody in the Agency file.")
    if backend.store.link_used(token_id(token)):
        raise LinkRefused("used", "This sign-in link was used already.")
    return claims, person


def _refused(request: Request, refusal: LinkRefused) -> Response:
    return render(request, "signin.html.j2", status=403 if refusal.reason == "forged" else 410,
                  title="Sign in", next="/", email="",
                  error=f"{refusal.message} Ask for a new sign-in link below.")


async def confirm_page(request: Request) -> Response:
    try:
        claims, person = await run_in_threadpool(_read, request)
    except LinkRefused as refusal:
        return _refused(request, refusal)
    return render(request, "signin_confirm.html.j2", title="Sign in", person=person,
                  action=request.url.path)


async def use_link(request: Request) -> Response:
    await check_csrf(request)
    backend = backend_of(request)
    try:
        claims, person = await run_in_threadpool(_read, request)
    except LinkRefused as refusal:
        return _refused(request, refusal)
    now = backend.clock.now()
    expires = datetime.fromtimestamp(int(claims["x"]), timezone.utc)
    spent = await run_in_threadpool(backend.store.use_link, token_id(request.path_params["token"]),
                                    PURPOSE, now, expires)
    if not spent:
        return _refused(request, LinkRefused("used", "This sign-in link was used already."))
    response = RedirectResponse(_next(claims.get("t")), status_code=303)
    start_session(request, response, person.id)
    log.info("person %s signed in by mailed link", person.id)
    return response


async def use_personal_token(request: Request) -> Response:
    form = await check_csrf(request)
    target = _next(form.get("next"))
    if not _limits(request).by_client.allow(_client_ip(request)):
        return render(request, "signin.html.j2", status=429, title="Sign in", next=target,
                      email="", error="Too many sign-in attempts. Please wait a quarter of an "
                                      "hour and try again.")
    viewer = person_of_token(request, str(form.get("token") or ""))
    if viewer is None:
        return render(request, "signin.html.j2", status=403, title="Sign in", next=target,
                      email="", error="That personal token is not valid (or has expired).")
    response = RedirectResponse(target, status_code=303)
    start_session(request, response, viewer.id)
    log.info("person %s signed in by personal token", viewer.id)
    return response


async def signout(request: Request) -> Response:
    await check_csrf(request)
    response = RedirectResponse("/signin", status_code=303)
    end_session(request, response)
    return response


routes = [
    Route("/signin", signin_form, methods=["GET"]),
    Route("/signin", request_link, methods=["POST"]),
    Route("/signin/token", use_personal_token, methods=["POST"]),
    Route("/signin/{token}", confirm_page, methods=["GET"]),
    Route("/signin/{token}", use_link, methods=["POST"]),
    Route("/signout", signout, methods=["POST"]),
]
