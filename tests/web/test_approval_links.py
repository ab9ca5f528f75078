"""Approval links that must not be honoured — forged, expired, reused, superseded — are
refused with a clear page and change nothing; a GET never changes anything."""

from __future__ import annotations

import base64
import json
import re
from datetime import datetime, timedelta, timezone

import httpx

from engine.web.signing import sign
from tests.web.conftest import SECRET, link_in, wait_for

CSRF = re.compile(r'name="csrf_token" value="([0-9a-f]+)"')


def open_link(client: httpx.Client, link: str) -> tuple[httpx.Response, str | None]:
    page = client.get(link)
    found = CSRF.search(page.text)
    return page, found.group(1) if found else None


def decide(client: httpx.Client, link: str, csrf: str, decision: str, comment: str = ""):
    return client.post(link, data={"csrf_token": csrf, "decision": decision, "comment": comment})


def test_a_get_changes_nothing_and_a_post_needs_the_csrf_token(studio) -> None:
    draft = studio.timesheet(("ola", "designer", "2"))
    link = link_in(studio.approval_mail(draft))
    before = studio.event_count()
    with studio.client() as client:
        for _ in range(3):  # a mail scanner, a preview, the approver
            page, csrf = open_link(client, link)
            assert page.status_code == 200 and csrf
        assert studio.event_count() == before
        assert client.post(link, data={"decision": "approve"}).status_code == 403
        assert decide(client, link, "0" * 64, "approve").status_code == 403
    with studio.client() as stranger:  # another browser: its own cookie, not this token
        assert decide(stranger, link, csrf, "approve").status_code == 403
    assert studio.event_count() == before
    with studio.client() as client:
        page, csrf = open_link(client, link)
        assert decide(client, link, csrf, "approve").status_code == 200
    assert studio.event_count() == before + 1


def test_forged_links_are_refused(studio) -> None:
    draft = studio.timesheet(("ola", "designer", "2"))
    link = link_in(studio.approval_mail(draft))
    body, signature = link.rsplit("/", 1)[1].split(".")
    claims = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    assert claims["i"] == draft and claims["a"] == "lee" and claims["r"] == 1
    forged = [
        link[:-3] + ("AAA" if not link.endswith("AAA") else "BBB"),  # signature changed
        studio.base + "/approve/" + sign(b"not-the-key-" * 4, "approve", claims,
                                          datetime.now(timezone.utc) + timedelta(days=1)),
        # genuine signature for another purpose (a sign-in token is not an approval link)
        studio.base + "/approve/" + sign(SECRET.encode(), "signin", {"s": "lee", "n": "x"},
                                          datetime.now(timezone.utc) + timedelta(days=1)),
        # genuine key, but for someone the request did not go to
        studio.base + "/approve/" + sign(SECRET.encode(), "approve", {**claims, "a": "fran"},
                                          datetime.now(timezone.utc) + timedelta(days=1)),
        studio.base + "/approve/not-a-token",
    ]
    before = studio.event_count()
    with studio.client() as client:
        _, csrf = open_link(client, link)
        for url in forged:
            page = client.get(url)
            assert page.status_code == 403, url
            assert 'data-reason="forged"' in page.text and "Nothing was changed" in page.text
            assert decide(client, url, csrf, "approve").status_code == 403
    assert studio.event_count() == before


def test_expired_links_are_refused(studio) -> None:
    draft = studio.timesheet(("ola", "designer", "2"))
    claims = {"i": draft, "r": 1, "a": "lee"}
    past = datetime.now(timezone.utc) - timedelta(minutes=1)
    expired = studio.base + "/approve/" + sign(SECRET.encode(), "approve", claims, past)
    before = studio.event_count()
    with studio.client() as client:
        page = client.get(expired)
        assert page.status_code == 410 and 'data-reason="expired"' in page.text
        _, csrf = open_link(client, link_in(studio.approval_mail(draft)))
        assert decide(client, expired, csrf, "approve").status_code == 410
    assert studio.event_count() == before
    assert studio.action(f"invoice.issued:{draft}") is None


def test_a_used_link_is_refused(studio) -> None:
    draft = studio.timesheet(("ola", "designer", "2"))
    link = link_in(studio.approval_mail(draft))
    with studio.client() as client:
        _, csrf = open_link(client, link)
        assert decide(client, link, csrf, "approve").status_code == 200
        after = studio.event_count()
        # The same form posted twice (a double click, a reload): refused, nothing added.
        again = decide(client, link, csrf, "approve")
        assert again.status_code == 410 and 'data-reason="used"' in again.text
        assert decide(client, link, csrf, "flag", "too late").status_code == 410
    assert studio.event_count() == after
    assert studio.query("SELECT COUNT(*) FROM events WHERE type LIKE 'invoice.%'")[0][0] == 1


def test_a_superseded_link_is_refused(studio) -> None:
    draft = studio.timesheet(("ola", "designer", "2"))
    first = link_in(studio.approval_mail(draft))
    now = datetime.now(timezone.utc)
    # Flagged from the command line, then adjusted: revision 2 waits with a link of its own.
    studio.post_events({"id": "flag-1", "type": "invoice.flagged", "at": now.isoformat(),
                        "payload": {"invoice": draft, "by": "lee", "comment": "Add the PO."}})
    wait_for(lambda: studio.action(f"invoice.flagged:{draft}:r1"), "the flag")
    with studio.client() as client:
        page = client.get(first)
        assert page.status_code == 409 and "flagged for edits" in page.text
    studio.post_events({"id": "adjust-1", "type": "invoice.adjusted", "at": now.isoformat(),
                        "payload": {"invoice": draft, "by": "lee",
                                    "lines_add": [{"description": "PO 7781 reference",
                                                   "quantity": "1", "unit_price": "0.01"}]}})
    wait_for(lambda: len([m for m in studio.mailbox.to("lee@studio.example", "Approval needed")
                          if str(m["X-Billflow-Invoice"]) == draft]) == 2, "the second request")
    second = link_in(studio.approval_mail(draft))
    assert second != first
    before = studio.event_count()
    with studio.client() as client:
        page, csrf = open_link(client, first)
        assert page.status_code == 409 and 'data-reason="superseded"' in page.text
        assert "a newer version awaits approval" in page.text
        _, csrf = open_link(client, second)
        assert decide(client, first, csrf, "approve").status_code == 409
        assert studio.event_count() == before
        page = client.get(second)
        assert page.status_code == 200 and "version 2" in page.text
        assert decide(client, second, csrf, "approve").status_code == 200
    wait_for(lambda: studio.action(f"invoice.issued:{draft}"), "the issue")
    with studio.client() as client:
        assert client.get(second).status_code == 410  # used; and issued besides


def test_a_link_has_one_spelling() -> None:
    """base64 ignores stray low bits: a respelt signature must not pass as a fresh link."""
    from engine.errors import LinkRefused
    from engine.web.signing import verify

    now = datetime.now(timezone.utc)
    token = sign(SECRET.encode(), "approve", {"i": "a/b/c", "r": 1, "a": "lee"},
                 now + timedelta(days=1))
    body, signature = token.split(".")
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    respelt = [f"{body}.{signature[:-1]}{c}" for c in alphabet if c != signature[-1]]
    accepted = []
    for candidate in respelt:
        try:
            verify(SECRET.encode(), "approve", candidate, now)
            accepted.append(candidate)
        except LinkRefused as refusal:
            assert refusal.reason == "forged"
    assert accepted == []
    assert verify(SECRET.encode(), "approve", token, now)["i"] == "a/b/c"


class ActionLog:
    """The store's action lookup over a few logged actions (all ApprovalLinks reads)."""

    def __init__(self, *actions: dict) -> None:
        self.actions = {action["id"]: action for action in actions}

    def action(self, action_id: str) -> dict | None:
        return self.actions.get(action_id)

    def link_used(self, link_id: str) -> bool:
        return False


def test_an_escalation_link_records_the_approval_of_the_person_it_goes_to() -> None:
    from engine.web.approval_links import ApprovalLinks
    from engine.web.settings import WebSettings

    invoice = {"id": "acme/adhoc/2026-11-30"}
    requested = {"id": f"approval.requested:{invoice['id']}:r1", "type": "approval.requested",
                 "at": "2026-11-30T09:00:00-05:00",
                 "payload": {"invoice": invoice, "approver": "lee"}}
    escalated = {"id": f"approval.escalated:{invoice['id']}:r1", "type": "approval.escalated",
                 "at": "2026-12-02T09:00:00-05:00",
                 "payload": {"invoice": invoice, "approver": "lee", "escalate_to": "fran"}}
    settings = WebSettings(SECRET.encode(), "environment", "https://billing.example", True)
    now = datetime(2026, 12, 2, 15, 0, tzinfo=timezone.utc)

    before = ApprovalLinks(settings, ActionLog(requested))
    assert before.token(invoice["id"], 1, "fran") is None  # not escalated yet: no link for fran
    links = ApprovalLinks(settings, ActionLog(requested, escalated))
    assert links.read(links.token(invoice["id"], 1, "fran"), now).approver == "fran"
    assert links.read(links.token(invoice["id"], 1), now).approver == "lee"
    assert links.token(invoice["id"], 1, "sam") is None
