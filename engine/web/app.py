"""The web application: every page module's routes behind one set of middleware.

`create_app(backend)` mounts the machine endpoints (surface.py), sign-in, the approval
pages, and the route lists of the page modules that exist (`engine.web.status`,
`engine.web.finance`, `engine.web.metrics_page`, `engine.web.api`: each a module-level
`routes` list). The backend is the daemon, or anything with the same attributes
(docs/web.md lists them); it is reachable from a request as `request.app.state.backend`.
"""

from __future__ import annotations

import importlib
import logging
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

from engine.web.auth import CsrfRefused, viewer_of
from engine.web.headers import SecurityHeaders
from engine.web.render import render
from engine.web.settings import WebOptions, WebSettings, resolve_settings
from engine.web.surface import json_reply
from engine.web.surface import routes as surface_routes

__all__ = ["create_app", "PAGE_MODULES"]

log = logging.getLogger("billflow.web")
STATIC = Path(__file__).resolve().parent / "static"

# Our own pages first, then the page modules of the status, finance and metrics views.
PAGE_MODULES = ("engine.web.signin", "engine.web.approval", "engine.web.status",
                "engine.web.finance", "engine.web.metrics_page", "engine.web.api")


def _page_routes(module_name: str) -> list[BaseRoute]:
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name == module_name:
            return []  # that page module is not built (yet)
        log.exception("the pages of %s are not served: they cannot be imported", module_name)
        return []
    except Exception:  # intake, health and approval links must not depend on a view page
        log.exception("the pages of %s are not served: they cannot be imported", module_name)
        return []
    return list(getattr(module, "routes", ()))


async def home(request: Request) -> Response:
    target = "/status" if viewer_of(request) is not None else "/signin"
    return RedirectResponse(target, status_code=303)


def _wants_html(request: Request) -> bool:
    return "text/html" in request.headers.get("accept", "")


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    if _wants_html(request):
        return render(request, "error.html.j2", status=exc.status_code,
                      title="Not found" if exc.status_code == 404 else "Error",
                      message="There is no such page." if exc.status_code == 404 else exc.detail)
    if exc.status_code == 404:
        return json_reply(404, {"error": f"no such page: {request.url.path}"})
    return json_reply(exc.status_code, {"error": exc.detail})


async def _csrf_refused(request: Request, exc: Exception) -> Response:
    return render(request, "error.html.j2", status=403, title="Form expired",
                  message="This form could not be accepted: it came from another page, or it "
                          "expired. Go back, reload the page and try again.")


def settings_for(backend: Any) -> WebSettings:
    """Return the backend's web settings, or resolve the defaults for a bare backend."""
    settings = getattr(backend, "web", None)
    if isinstance(settings, WebSettings):
        return settings
    options = getattr(getattr(backend, "options", None), "web", None) or WebOptions()
    db = getattr(getattr(backend, "options", None), "db", ".billflow/store.db")
    http = getattr(getattr(backend, "options", None), "http", None)
    return resolve_settings(options, db=db, http=http)


def create_app(backend: Any, settings: WebSettings | None = None) -> Starlette:
    """Build the Starlette app serving `backend` (the daemon)."""
    settings = settings or settings_for(backend)
    routes: list[BaseRoute] = [*surface_routes, Route("/", home, methods=["GET"])]
    for module_name in PAGE_MODULES:
        routes += _page_routes(module_name)
    routes.append(Mount("/static", app=StaticFiles(directory=str(STATIC)), name="static"))
    app = Starlette(
        routes=routes,
        middleware=[Middleware(SecurityHeaders,
                               hsts=settings.public_url.startswith("https://"))],
        exception_handlers={HTTPException: _http_error, CsrfRefused: _csrf_refused},
    )
    app.state.backend = backend
    app.state.settings = settings
    return app
