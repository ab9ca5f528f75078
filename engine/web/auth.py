"""Who is looking: the Viewer, the session cookie, personal tokens and CSRF.

    viewer = await viewer_or_redirect(request)     a Viewer, or a RedirectResponse to /signin
    @requires_viewer                               the same for a page endpoint: (request, viewer)
    @requires_api_viewer                           for JSON: 401 instead of a redirect; also
                                                   takes `Authorization: Bearer <personal token>`
    csrf_token(request)                            the hidden form field's value, for templates
    await check_csrf(request, form)                raise CsrfRefused unless the field matches

The session is a signed cookie (`billflow_session`: person id, nonce, expiry), HttpOnly,
SameSite=Lax, Secure unless the surface runs on plain HTTP on loopback. People are read
from the Agency file in force: someone removed from it is signed out at their next request.
CSRF tokens are HMACs of the session's nonce (or, before sign-in, of a random cookie), so a
page of another site can neither read nor forge them.
"""

from __future__ import annotations

import functools
import hmac
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response

from engine.errors import LinkRefused
from engine.ruleset.types import Person
from engine.web.settings import WebSettings
from engine.web.signing import sign, verify

__all__ = [
    "Viewer", "SESSION_COOKIE", "CSRF_COOKIE", "CSRF_FIELD", "CsrfRefused", "backend_of",
    "settings_of", "viewer_of", "viewer_or_redirect", "requires_viewer", "requires_api_viewer",
    "csrf_token", "check_csrf", "start_session", "end_session", "person_token", "viewer_for",
]

SESSION_COOKIE = "billflow_session"
CSRF_COOKIE = "billflow_csrf"
CSRF_FIELD = "csrf_token"


@dataclass(frozen=True)
class Viewer:
    """A signed-in person of the Agency file."""

    id: str
    name: str
    email: str
    roles: tuple[str, ...]
    session_nonce: str = ""

    @property
    def is_finance(self) -> bool:
        return "finance" in self.roles

    def leads(self, client: Any) -> bool:
        """Say whether this person is the account lead of `client` (a Client or its id)."""
        if isinstance(client, str):
            return False
        return getattr(client, "account_lead", None) == self.id

    @classmethod
    def of(cls, person: Person, nonce: str = "") -> "Viewer":
        return cls(person.id, person.name, person.email, tuple(person.roles), nonce)


class CsrfRefused(Exception):
    """A form posted without this site's CSRF token."""


def backend_of(request: Request) -> Any:
    return request.app.state.backend


def settings_of(request: Request) -> WebSettings:
    return request.app.state.settings


def _now(request: Request):
    return backend_of(request).clock.now()


def viewer_for(request: Request, person_id: str, nonce: str = "") -> Viewer | None:
    """Return the Viewer for a person id of the Agency file in force, or None."""
    person = backend_of(request).keeper.active.agency.people.get(person_id)
    return Viewer.of(person, nonce) if person is not None else None


def viewer_of(request: Request) -> Viewer | None:
    """Return who the session cookie says is signed in (None when nobody is)."""
    if "viewer" in request.scope.get("state", {}):
        return request.state.viewer
    viewer = None
    cookie = request.cookies.get(SESSION_COOKIE)
    if cookie:
        try:
            claims = verify(settings_of(request).secret, "session", cookie, _now(request))
            viewer = viewer_for(request, str(claims["s"]), str(claims["n"]))
        except LinkRefused:
            viewer = None
    request.state.viewer = viewer
    return viewer


def _bearer_viewer(request: Request) -> Viewer | None:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token:
        return None
    try:
        claims = verify(settings_of(request).secret, "person", token.strip(), _now(request))
    except LinkRefused:
        return None
    return viewer_for(request, str(claims["s"]), str(claims["n"]))


async def viewer_or_redirect(request: Request) -> Viewer | RedirectResponse:
    """Return the signed-in Viewer, or a redirect to /signin that comes back here."""
    viewer = viewer_of(request)
    if viewer is not None:
        return viewer
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return RedirectResponse(f"/signin?next={_quote(target)}", status_code=303)


def _quote(path: str) -> str:
    from urllib.parse import quote
    return quote(path, safe="")


Endpoint = Callable[..., Awaitable[Response]]


def requires_viewer(endpoint: Endpoint) -> Callable[[Request], Awaitable[Response]]:
    """Page endpoint `(request, viewer)`: signed-in people only, others go to /signin."""

    @functools.wraps(endpoint)
    async def page(request: Request) -> Response:
        found = await viewer_or_redirect(request)
        if isinstance(found, Response):
            return found
        return await endpoint(request, found)

    return page


def requires_api_viewer(endpoint: Endpoint) -> Callable[[Request], Awaitable[Response]]:
    """JSON endpoint `(request, viewer)`: a session or a personal bearer token, else 401."""

    @functools.wraps(endpoint)
    async def api(request: Request) -> Response:
        viewer = _bearer_viewer(request) or viewer_of(request)
        if viewer is None:
            return JSONResponse({"error": "sign in, or send Authorization: Bearer <personal "
                                          "token> (billflow web-token PERSON)"}, status_code=401,
                                headers={"WWW-Authenticate": 'Bearer realm="billflow"'})
        request.state.viewer = viewer
        return await endpoint(request, viewer)

    return api


# -- sessions and personal tokens -------------------------------------------------------

def _cookie(response: Response, settings: WebSettings, name: str, value: str,
            max_age: int | None) -> None:
    response.set_cookie(name, value, max_age=max_age, path="/", httponly=True,
                        samesite="lax", secure=settings.cookie_secure)


def start_session(request: Request, response: Response, person_id: str) -> None:
    """Sign `person_id` in on `response` (a fresh nonce: a new CSRF anchor too)."""
    settings = settings_of(request)
    expires = _now(request) + settings.session_ttl
    value = sign(settings.secret, "session", {"s": person_id, "n": secrets.token_urlsafe(12)},
                 expires)
    _cookie(response, settings, SESSION_COOKIE, value, int(settings.session_ttl.total_seconds()))


def end_session(request: Request, response: Response) -> None:
    settings = settings_of(request)
    response.delete_cookie(SESSION_COOKIE, path="/", httponly=True, samesite="lax",
                           secure=settings.cookie_secure)


def person_token(settings: WebSettings, person_id: str, now) -> str:
    """Return a long-lived personal token (API bearer token, or sign-in by token)."""
    return sign(settings.secret, "person", {"s": person_id, "n": secrets.token_urlsafe(9)},
                now + settings.person_token_ttl)


def person_of_token(request: Request, token: str) -> Viewer | None:
    """Return the Viewer a personal token names, if it is genuine and unexpired."""
    try:
        claims = verify(settings_of(request).secret, "person", token.strip(), _now(request))
    except LinkRefused:
        return None
    return viewer_for(request, str(claims["s"]), str(claims["n"]))


# -- CSRF -------------------------------------------------------------------------------

def _csrf_anchor(request: Request) -> str:
    viewer = viewer_of(request)
    if viewer is not None and viewer.session_nonce:
        return "s:" + viewer.session_nonce
    anchor = request.cookies.get(CSRF_COOKIE) or getattr(request.state, "new_csrf_anchor", None)
    if not anchor:
        anchor = secrets.token_urlsafe(18)
        request.state.new_csrf_anchor = anchor  # render() sets the cookie on its response
    return "c:" + anchor


def csrf_token(request: Request) -> str:
    """Return the CSRF token for forms on this page."""
    mac = hmac.new(settings_of(request).secret, f"billflow:csrf:{_csrf_anchor(request)}".encode(),
                   "sha256")
    return mac.hexdigest()


def set_csrf_cookie(request: Request, response: Response) -> None:
    """Set the pre-sign-in CSRF cookie if `csrf_token` had to make one for this page."""
    anchor = getattr(request.state, "new_csrf_anchor", None)
    if anchor:
        _cookie(response, settings_of(request), CSRF_COOKIE, anchor, None)


async def check_csrf(request: Request, form: FormData | None = None) -> FormData:
    """Return the posted form if it carries this site's CSRF token; raise CsrfRefused."""
    form = form if form is not None else await request.form()
    given = str(form.get(CSRF_FIELD) or "")
    if request.cookies.get(CSRF_COOKIE) is None and viewer_of(request) is None:
        raise CsrfRefused()
    if not given or not hmac.compare_digest(given, csrf_token(request)):
        raise CsrfRefused()
    return form
