"""A Harvest API v2 double on httpx.MockTransport, serving the fixture pages."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import httpx

from connectors.base import ConnectorContext
from connectors.harvest import HarvestConnector

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "harvest"
TOKEN = "hv-pat-3141592653589793"
BASE = "https://api.harvestapp.com/v2"
MAP = {"projects": {"14307913": "atlas-outfitters-adhoc", "14307914": "gotham-health-campaigns"},
       "people": {"1782959": "leo"},
       "roles": {"Graphic Design": "designer"}}


def fixture(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


class HarvestDouble:
    """Answer like Harvest: routes by path (and the cursor of a next link); keep every request."""

    def __init__(self) -> None:
        self.requests: list[httpx.Request] = []
        self.overrides: list[Callable[[httpx.Request], httpx.Response | None]] = []
        self.pages: dict[str, bytes] = {
            "/v2/time_entries": fixture("time_entries_page1.json"),
            "/v2/time_entries?next": fixture("time_entries_page2.json"),
            "/v2/expenses": fixture("expenses.json"),
            "/v2/users": fixture("users.json"),
            "/v2/users/me": fixture("users_me.json"),
            "/v2/projects": fixture("projects.json"),
        }

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        for override in list(self.overrides):
            reply = override(request)
            if reply is not None:
                return reply
        key = request.url.path
        if request.url.params.get("ref") == "next_cursor":
            key += "?next"
        body = self.pages.get(key)
        if body is None:
            return httpx.Response(404, json={"error": "not_found"})
        return httpx.Response(200, content=body, headers={"Content-Type": "application/json"})

    def fail_once(self, status: int, path: str | None = None, **headers: str) -> None:
        """Answer the next request (to `path`, if given) with `status`, once."""

        def failing(request: httpx.Request) -> httpx.Response | None:
            if path is not None and request.url.path != path:
                return None
            self.overrides.remove(failing)
            return httpx.Response(status, headers=headers, json={"message": "no"})

        self.overrides.append(failing)

    def paths(self) -> list[str]:
        return [r.url.path + (f"?{r.url.query.decode()}" if r.url.query else "")
                for r in self.requests]


def context(rules, double: HarvestDouble, **options) -> ConnectorContext:
    return ConnectorContext(rules, http_client_factory=lambda **kw: httpx.Client(
        transport=httpx.MockTransport(double), **kw), **options)


def harvest(rules, double: HarvestDouble, **config) -> HarvestConnector:
    options = {"account_id": "123456", "token": TOKEN, "user_agent": "billflow (ops@northwind.example)",
               "map": MAP, **config}
    return HarvestConnector("harvest", options, context(rules, double))


def sync_all(connector, cursor=None, limit: int = 20):
    """Run batches until the connector says no more; return (events, problems, cursor)."""
    events, problems = [], []
    for _ in range(limit):
        result = connector.sync(cursor)
        events.extend(result.events)
        problems.extend(result.problems)
        cursor = result.cursor if result.cursor is not None else cursor
        if not result.more:
            return events, problems, cursor
    raise AssertionError("the sync never finished")


def body(name: str) -> dict:
    return json.loads(fixture(name))
