"""An approver in real Chromium: the link from a real mail, the hours, one click, the client's mail.

Set BILLFLOW_SCREENSHOTS=1 to (re)write the approval page's screenshots under docs/screenshots/.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from playwright.sync_api import expect

from tests.web.conftest import body_of, link_in, wait_for

SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
WRITE_SCREENSHOTS = os.environ.get("BILLFLOW_SCREENSHOTS") == "1"


def test_approve_from_the_mail_in_one_click(studio, page) -> None:
    draft = studio.timesheet(("ola", "designer", "6"), ("lee", "account_lead", "2.5"))
    mail = studio.approval_mail(draft)
    link = link_in(mail)
    assert link.startswith(studio.base + "/approve/")
    assert "Approve it, or flag it for edits, here:" in body_of(mail)

    response = page.goto(link)
    assert response.status == 200
    assert response.headers["referrer-policy"] == "no-referrer"
    expect(page.get_by_role("heading", name="Approve the Brill Coffee Roasters invoice")
           ).to_be_visible()
    hours = page.locator("section[aria-labelledby=hours-title] table")
    # The hours behind the invoice: who, when, how long, at what rate.
    assert hours.locator("tbody tr").count() == 2
    row = hours.locator("tbody tr", has_text="Ola Berg")
    assert "designer" in row.inner_text() and "6" in row.inner_text()
    assert "140.00" in row.inner_text() and "840.00" in row.inner_text()
    assert "Lee Park" in hours.inner_text() and "2.5" in hours.inner_text()
    warnings = page.locator("section[aria-labelledby=warnings-title]").inner_text()
    assert "Over the engagement's cap of 1,000.00 USD" in warnings
    assert "first invoice to this client" in warnings
    invoice = page.locator("section[aria-labelledby=invoice-title]").inner_text()
    assert "Maine sales tax (5.5%)" in invoice and "1,202.70 USD" in invoice
    if WRITE_SCREENSHOTS:
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SCREENSHOTS / "approval-page.png"), full_page=True)
        page.set_viewport_size({"width": 390, "height": 844})
        page.screenshot(path=str(SCREENSHOTS / "approval-page-phone.png"), full_page=True)
        page.set_viewport_size({"width": 1100, "height": 900})

    events_before = studio.event_count()
    page.get_by_role("button", name="Approve and send").click()
    expect(page.get_by_role("heading", name="Approved")).to_be_visible()
    if WRITE_SCREENSHOTS:
        page.screenshot(path=str(SCREENSHOTS / "approval-done.png"), full_page=True)

    # One event, recorded through intake by the approver; the engine issues and mails.
    assert studio.event_count() == events_before + 1
    [(body, source)] = studio.query("SELECT body, source FROM events WHERE type = "
                                    "'invoice.approved'")
    assert source == "web:approve"
    assert json.loads(body)["payload"] == {"invoice": draft, "by": "lee"}
    issued = wait_for(lambda: studio.mailbox.to("accounts@brill.example"), "the client's invoice")
    [client_mail] = issued
    number = studio.action(f"invoice.issued:{draft}")["payload"]["invoice"]["number"]
    assert number in str(client_mail["Subject"])
    [pdf] = list(client_mail.iter_attachments())
    assert pdf.get_filename() == f"{number}.pdf"

    # The link is spent: opening it again says so, and changes nothing.
    again = page.goto(link)
    assert again.status == 410
    assert "used already" in page.locator("[role=alert]").inner_text()
    assert studio.event_count() == events_before + 1


def test_flag_with_a_comment_sends_the_draft_back(studio, page) -> None:
    draft = studio.timesheet(("ola", "designer", "3"))
    link = link_in(studio.approval_mail(draft))
    page.goto(link)
    flag_form = page.locator("form", has=page.get_by_role("button", name="Flag for edits"))
    comment = page.get_by_label("What needs changing?")
    assert comment.get_attribute("required") is not None  # the browser asks for it first
    comment.fill("Please bill the label work at the designer rate and add PO 7781.")
    flag_form.get_by_role("button", name="Flag for edits").click()
    expect(page.get_by_role("heading", name="Flagged for edits")).to_be_visible()

    # The author (the account lead) gets the comment by mail; the draft awaits an adjustment.
    flagged = wait_for(lambda: studio.mailbox.to("lee@studio.example", "Flagged for edits"),
                       "the flag mail to the author")
    assert "add PO 7781" in body_of(flagged[0])
    action = studio.action(f"invoice.flagged:{draft}:r1")
    assert action["payload"]["by"] == "lee"
    assert action["payload"]["invoice"]["status"] == "flagged"
    assert studio.action(f"invoice.issued:{draft}") is None
    [(source,)] = studio.query("SELECT source FROM events WHERE type = 'invoice.flagged'")
    assert source == "web:approve"


def test_a_flag_needs_a_comment(studio, page) -> None:
    draft = studio.timesheet(("ola", "designer", "1"))
    link = link_in(studio.approval_mail(draft))
    page.goto(link)
    events_before = studio.event_count()
    # Without the browser's own check (an old browser, a script), the server refuses it.
    page.locator("#comment").evaluate("el => el.required = false")
    page.get_by_role("button", name="Flag for edits").click()
    assert "a flag needs a comment" in page.locator("[role=alert]").inner_text()
    assert studio.event_count() == events_before
    # The link still works: nothing was spent.
    page.get_by_label("What needs changing?").fill("Wrong project.")
    page.get_by_role("button", name="Flag for edits").click()
    expect(page.get_by_role("heading", name="Flagged for edits")).to_be_visible()
