"""The JSON API on the live loopback server: who sees what, assignments, and schemathesis."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.http_calls import bearer, call as call_url

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _status_fixtures import (  # noqa: E402
    REPO, STRAY_CLIENT, STRAY_PAYMENT, Site, northwind_site,
)

ASSIGN = f"/api/v1/payments/{STRAY_PAYMENT['id']}/assign"


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    with northwind_site(tmp_path_factory.mktemp("northwind")) as running:
        yield running


def call(site: Site, path: str, *, token: str | None = None, cookie: str | None = None,
         body: object = None, headers: dict[str, str] | None = None) -> tuple[int, dict]:
    sent = {**(headers or {}), **bearer(token)}
    if cookie:
        sent["Cookie"] = f"billflow_session={cookie}"
    data = None
    if body is not None:
        data = json.dumps(body).encode("utf-8")
        sent["Content-Type"] = "application/json"
    reply = call_url(site.base + path, body=data, headers=sent, timeout=60)
    return reply.status, reply.json()


def test_nothing_without_a_token_or_session(site: Site) -> None:
    for path in ("/api/v1/clients", "/api/v1/clients/bowery-hotels", "/api/v1/queue",
                 "/api/v1/metrics"):
        assert call(site, path)[0] == 401
        assert call(site, path, token="not-a-token")[0] == 401
    assert call(site, ASSIGN, body={"invoice": "x"})[0] == 401


def test_an_account_lead_reads_only_their_clients(site: Site) -> None:
    token = site.token("sam")
    status, body = call(site, "/api/v1/clients", token=token)
    assert status == 200
    rules = site.daemon.keeper.active
    assert {c["id"] for c in body["clients"]} == {
        c.id for c in rules.clients.values() if c.account_lead == "sam"}
    assert call(site, "/api/v1/clients/bowery-hotels", token=token)[0] == 200
    assert call(site, "/api/v1/clients/kumo-robotics", token=token)[0] == 404
    assert call(site, "/api/v1/queue", token=token)[0] == 403
    assert call(site, ASSIGN, token=token, body={"client": STRAY_CLIENT})[0] == 403
    status, metrics = call(site, "/api/v1/metrics", token=token)
    assert status == 200 and len(metrics["metrics"]["months"]) == 12


def test_finance_reads_every_client_and_the_queue(site: Site) -> None:
    token = site.token("dana")
    status, body = call(site, "/api/v1/clients", token=token)
    assert status == 200 and len(body["clients"]) == len(site.daemon.keeper.active.clients)
    status, body = call(site, "/api/v1/clients?lead=sam", token=token)
    assert {c["account_lead"] for c in body["clients"]} == {"sam"}
    status, body = call(site, "/api/v1/queue", token=token)
    assert status == 200
    assert STRAY_PAYMENT["id"] in [p["id"] for p in body["queue"]["unmatched"]]
    assert body["queue"]["dead_letters"]


def test_assigning_a_payment_through_the_api(site: Site) -> None:
    token = site.token("dana")
    # A session POST needs the CSRF header; a bearer call does not.
    assert call(site, ASSIGN, cookie=site.session("dana"),
                body={"client": STRAY_CLIENT})[0] == 403
    assert call(site, "/api/v1/payments/no-such-payment/assign", token=token,
                body={"client": STRAY_CLIENT})[0] == 404
    status, body = call(site, ASSIGN, token=token,
                        body={"client": STRAY_CLIENT, "invoice": "x"})
    assert status == 422
    # The engine refuses an invoice in another currency, and says why.
    euro = next(i for i in site.daemon.decider.state.open_invoices() if i.currency == "EUR")
    status, body = call(site, ASSIGN, token=token, body={"invoice": euro.id})
    assert (status, body["outcome"]) == (422, "refused")
    assert "EUR" in body["message"]
    # A corrected assignment (same event id: a refused id may be sent again) is applied.
    status, body = call(site, ASSIGN, token=token, body={"client": STRAY_CLIENT})
    assert (status, body["outcome"]) == (200, "applied")
    assert body["allocations"][0]["invoice"].startswith(f"{STRAY_CLIENT}/")
    status, body = call(site, "/api/v1/queue", token=token)
    assert STRAY_PAYMENT["id"] not in [p["id"] for p in body["queue"]["unmatched"]]
    status, body = call(site, ASSIGN, token=token, body={"client": STRAY_CLIENT})
    assert status == 404  # nothing is waiting any more


def test_schemathesis_finds_no_server_errors(site: Site, tmp_path: Path) -> None:
    report = tmp_path / "junit.xml"
    run = subprocess.run(
        [sys.executable, "-m", "schemathesis.cli", "run", f"{site.base}/api/openapi.json",
         "--header", f"Authorization: Bearer {site.token('dana')}",
         "--checks", "not_a_server_error,response_schema_conformance,"
                     "content_type_conformance",
         "--phases", "coverage,fuzzing", "--max-examples", "15", "--workers", "1",
         "--generation-deterministic",
         "--report", "junit", "--report-junit-path", str(report)],
        cwd=REPO, capture_output=True, text=True, timeout=900)
    assert run.returncode == 0, run.stdout[-6000:] + run.stderr[-3000:]
