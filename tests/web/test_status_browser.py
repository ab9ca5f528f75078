"""In real headless Chromium against the real daemon: status, finance queue, screenshots.

The daemon runs over northwind's decided year (tests/web/_status_fixtures.py) with its HTTP
surface on a loopback port. People sign in through the sign-in page with a personal token.
"""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _status_fixtures import (  # noqa: E402
    REPO, STRAY_CLIENT, STRAY_INVOICE, STRAY_PAYMENT, Site, northwind_site,
)
from tests.web.conftest import CHROMIUM, CHROMIUM_ARGS  # noqa: E402

# BILLFLOW_SCREENSHOTS=1 (re)writes the README's screenshots; otherwise they go to a temp dir.
WRITE_SCREENSHOTS = os.environ.get("BILLFLOW_SCREENSHOTS") == "1"
SAMS_CLIENTS = {"bowery-hotels", "empire-realty", "hudson-coffee", "liberty-books"}


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    with northwind_site(tmp_path_factory.mktemp("northwind")) as running:
        yield running


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    if not Path(CHROMIUM).exists():
        pytest.skip(f"no Chromium at {CHROMIUM}")
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield launched
        launched.close()


def signed_in(browser: Browser, site: Site, person: str, path: str,
              viewport: dict[str, int] | None = None) -> Page:
    """Open `path`, get sent to sign-in, sign in with `person`'s personal token, come back."""
    page = browser.new_context(viewport=viewport or {"width": 1280, "height": 900}).new_page()
    page.goto(site.base + path)
    expect(page).to_have_url(re.compile(r"/signin\?next="))
    page.get_by_text("Sign in with a personal token").click()
    page.get_by_label("Personal token").fill(site.token(person))
    page.get_by_role("button", name="Sign in", exact=True).click()
    expect(page).to_have_url(site.base + path)
    return page


def test_nothing_is_open_without_signing_in(browser: Browser, site: Site) -> None:
    page = browser.new_page()
    for path in ("/status", "/status/bowery-hotels", "/finance", "/insights"):
        page.goto(site.base + path)
        expect(page.get_by_role("heading", name="Sign in to Northwind Creative billing")) \
            .to_be_visible()
    page.close()


def test_an_account_manager_sees_only_the_clients_they_lead(browser: Browser, site: Site) -> None:
    page = signed_in(browser, site, "sam", "/status")
    rows = page.locator("#clients tbody tr")
    expect(rows).to_have_count(len(SAMS_CLIENTS))
    shown = {rows.nth(i).get_attribute("data-client") for i in range(rows.count())}
    assert shown == SAMS_CLIENTS
    expect(page.get_by_role("link", name="Kumo Robotics")).to_have_count(0)
    # Someone else's client is not there, not even by its address.
    page.goto(site.base + "/status/kumo-robotics")
    expect(page.get_by_role("heading", name="Not found")).to_be_visible()
    # Nor is the finance queue.
    page.goto(site.base + "/finance")
    expect(page.get_by_role("heading", name="Finance only")).to_be_visible()
    # Their own client shows the overdue December invoice with its reminder history.
    page.goto(site.base + "/status/bowery-hotels")
    overdue = page.locator(f'section[data-invoice="{STRAY_INVOICE}"]')
    expect(overdue).to_contain_text("NW-2026-00275")
    expect(overdue.get_by_role("listitem")).to_have_count(2)  # due-3 and due-day reminders
    page.context.close()


def test_finance_sees_every_client_and_filters_by_lead(browser: Browser, site: Site) -> None:
    page = signed_in(browser, site, "dana", "/status")
    expect(page.locator("#clients tbody tr")).to_have_count(len(site.daemon.keeper.active.clients))
    page.get_by_label("Account lead").select_option(label="Sam Lee")
    page.get_by_role("button", name="Show").click()
    expect(page.locator("#clients tbody tr")).to_have_count(len(SAMS_CLIENTS))
    page.context.close()


def test_screenshots_of_the_status_and_metrics_pages(browser: Browser, site: Site,
                                                     tmp_path: Path) -> None:
    folder = REPO / "docs" / "screenshots" if WRITE_SCREENSHOTS else tmp_path
    folder.mkdir(parents=True, exist_ok=True)
    page = signed_in(browser, site, "sam", "/status")
    page.screenshot(path=str(folder / "status.png"), full_page=True)
    page.goto(site.base + "/insights")
    for chart in ("chart-dso", "chart-on-time", "chart-approval", "chart-touches", "chart-aging"):
        expect(page.locator(f"svg#{chart}")).to_be_visible()
    page.screenshot(path=str(folder / "metrics.png"), full_page=True)
    page.context.close()
    for name in ("status.png", "metrics.png"):
        assert (folder / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_finance_assigns_an_unmatched_payment_and_the_invoice_shows_paid(
        browser: Browser, site: Site) -> None:
    page = signed_in(browser, site, "dana", "/finance")
    card = page.locator(f'section[data-payment="{STRAY_PAYMENT["id"]}"]')
    expect(card).to_contain_text("BHG HOLDINGS INTL")
    card.get_by_label("Assign to an invoice").select_option(STRAY_INVOICE)
    card.get_by_role("button", name="Assign to invoice").click()

    expect(page.locator("#outcome")).to_contain_text("Applied to NW-2026-00275")
    expect(page.locator(f'section[data-payment="{STRAY_PAYMENT["id"]}"]')).to_have_count(0)
    # The engine decided: the assignment is an accepted event by dana, and the invoice paid.
    stored = site.daemon.store.event(f"payment.assigned:{STRAY_PAYMENT['id']}")
    assert stored is not None and stored.rejection is None and '"by":"dana"' in \
        stored.body.replace(" ", "")
    page.goto(site.base + f"/status/{STRAY_CLIENT}")
    expect(page.locator(f'#paid ~ div tr[data-invoice="{STRAY_INVOICE}"]')).to_contain_text(
        "2026-12-31")
    expect(page.locator(f'section[data-invoice="{STRAY_INVOICE}"]')).to_have_count(0)
    page.context.close()


def test_a_form_without_the_csrf_token_is_refused(browser: Browser, site: Site) -> None:
    page = signed_in(browser, site, "dana", "/finance")
    response = page.request.post(site.base + "/finance/retry",
                                 form={"action": "anything"})
    assert response.status == 403
    page.context.close()


def test_pages_work_on_a_phone(browser: Browser, site: Site) -> None:
    page = signed_in(browser, site, "sam", "/status/bowery-hotels",
                     viewport={"width": 375, "height": 740})
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 375
    page.context.close()
