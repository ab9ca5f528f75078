"""Render pages: one Jinja2 environment (autoescaped) over engine/web/templates.

Every template gets `request`, `viewer` (or None), `csrf_token` (a function: call it in a
form as `{{ csrf_field() }}`), `nav` (the menu entries) and `agency` (the Agency's name)
besides what the page passes. `money`, `longdate` and `hours` filters format values.
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from markupsafe import Markup, escape
from starlette.requests import Request
from starlette.responses import HTMLResponse

from engine.model.money import display_money
from engine.ruleset.templates import longdate
from engine.web.auth import CSRF_FIELD, backend_of, csrf_token, set_csrf_cookie, viewer_of

__all__ = ["render", "environment", "NAV", "TEMPLATES"]

TEMPLATES = Path(__file__).resolve().parent / "templates"

# The menu of every page for signed-in people (label, path); Sign out is added by the layout.
NAV: tuple[tuple[str, str], ...] = (
    ("Status", "/status"),
    ("Finance", "/finance"),
    ("Metrics", "/insights"),
)


def _money(value: Any, currency: str | None = None) -> str:
    amount = value if isinstance(value, Decimal) else Decimal(str(value))
    return display_money(amount, currency) if currency else f"{amount:,f}"


def _hours(value: Any) -> str:
    amount = value if isinstance(value, Decimal) else Decimal(str(value))
    return f"{amount.normalize():f}"


def _longdate(value: Any) -> str:
    return longdate(value) if value else ""


def environment() -> Environment:
    env = Environment(loader=FileSystemLoader(str(TEMPLATES)),
                      autoescape=select_autoescape(default=True, default_for_string=True),
                      undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True)
    env.filters.update(money=_money, hours=_hours, longdate=_longdate)
    return env


_ENV = environment()


def render(request: Request, template_name: str, status: int = 200,
           **context: Any) -> HTMLResponse:
    """Render `template_name` with the page's context into an HTML response."""

    def csrf_field() -> Markup:
        return Markup(f'<input type="hidden" name="{CSRF_FIELD}" '
                      f'value="{escape(csrf_token(request))}">')

    try:
        agency = backend_of(request).keeper.active.agency.name
    except Exception:  # no rules loaded: the page still renders
        agency = "billflow"
    values = {"request": request, "viewer": viewer_of(request), "csrf_field": csrf_field,
              "csrf_token": lambda: csrf_token(request), "nav": NAV, "agency_name": agency,
              "title": None, **context}
    html = _ENV.get_template(template_name).render(values)
    response = HTMLResponse(html, status_code=status)
    set_csrf_cookie(request, response)
    return response
