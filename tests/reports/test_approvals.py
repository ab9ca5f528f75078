"""Approval wait (median, p90) and touches per invoice."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from decimal import Decimal

import pytest

import engine.reports
from engine.reports import approvals as approvals_module
from engine.reports.approvals import approval_report, median, p90

D = date.fromisoformat
H = timedelta(hours=1)


def test_public_names_are_exported():
    for name in approvals_module.__all__:
        if name != "ALL":
            assert name in engine.reports.__all__


@pytest.mark.parametrize(("hours", "middle", "ninetieth"), [
    ([5], 5, 5),
    ([1, 2, 3, 4, 5, 6, 7, 8, 9, 10], 5.5, 9),       # ⌈0.9·10⌉ = 9th
    ([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11], 6, 10),    # ⌈0.9·11⌉ = 10th
    ([40, 1, 30, 2], 16, 40),                          # unsorted; ⌈3.6⌉ = 4th
    (list(range(1, 21)), 10.5, 18),                    # ⌈18⌉ = 18th
])
def test_median_and_p90_of_a_known_list(hours, middle, ninetieth):
    waits = [n * H for n in hours]
    assert median(waits) == middle * H
    assert p90(waits) == ninetieth * H


def test_empty_lists_have_no_median():
    assert median([]) is None and p90([]) is None


def approved(history, invoice, requested, issued, approver="sam"):
    history.draft(invoice, requested, trigger="milestone")
    history.request(invoice, requested, approver)
    history.issue(invoice, issued, due="2026-12-31")


def test_wait_over_human_approvals_auto_approvals_apart(history, calendar):
    for n, hours in enumerate([2, 4, 6, 8, 50]):
        start = datetime(2026, 4, 6, 9) + timedelta(days=n)
        approved(history, f"acme/p/{n}", f"{start:%Y-%m-%d %H:%M}",
                 f"{start + hours * H:%Y-%m-%d %H:%M}", approver="sam" if n < 3 else "dana")
    history.invoice("acme/r/2026-04", "2026-04-01", due="2026-05-01")
    history.invoice("acme/r/2026-05", "2026-05-01", due="2026-05-31")
    report = approval_report(history.ledger(), [], D("2026-04-01"), D("2026-04-30"), calendar)
    assert (report.issued, report.auto_approved) == (6, 1)
    assert (report.wait.approved, report.wait.median, report.wait.p90) == (5, 6 * H, 50 * H)
    assert [(s.approver, s.approved, s.median, s.p90) for s in report.by_approver] == [
        ("dana", 2, 29 * H, 50 * H), ("sam", 3, 4 * H, 6 * H)]
    assert report.pending == 0


def test_a_flagged_draft_waits_from_its_first_request(history, calendar):
    history.draft("bleu/b/final", "2026-03-10 10:00", trigger="milestone")
    history.request("bleu/b/final", "2026-03-10 10:00", "lee")
    history.request("bleu/b/final", "2026-03-11 09:00", "lee")  # after flag and adjust
    history.issue("bleu/b/final", "2026-03-12 09:00", due="2026-03-27")
    report = approval_report(history.ledger(), [], D("2026-03-01"), D("2026-03-31"), calendar)
    assert report.wait.median == 47 * H


def test_drafts_still_waiting_are_counted_with_the_oldest_age(history, calendar):
    history.draft("acme/p/1", "2026-04-29 12:00", trigger="milestone")
    history.request("acme/p/1", "2026-04-29 12:00")
    history.draft("acme/p/2", "2026-04-30 18:00", trigger="milestone")
    history.request("acme/p/2", "2026-04-30 18:00")
    history.issue("acme/p/2", "2026-05-01 09:00", due="2026-05-31")  # after the period
    report = approval_report(history.ledger(), [], D("2026-04-01"), D("2026-04-30"), calendar)
    assert (report.issued, report.pending, report.oldest_pending) == (0, 2, 36 * H)


def event(event_id, kind, at, **payload):
    return {"id": event_id, "type": kind, "at": at, "payload": payload}


def test_touches_per_invoice(history, calendar):
    approved(history, "acme/p/a", "2026-04-01 09:00", "2026-04-02 09:00")
    approved(history, "acme/p/b", "2026-04-01 09:00", "2026-04-03 09:00")
    history.invoice("acme/r/2026-04", "2026-04-01", due="2026-05-01")
    history.invoice("acme/r/2026-03", "2026-03-01", due="2026-03-31")  # outside the period
    history.pay("pay-1", "2026-04-20", {"acme/r/2026-04": "60.00", "acme/r/2026-03": "40.00"})
    events = [
        event("e1", "invoice.approved", "2026-04-02T09:00:00-04:00", invoice="acme/p/a", by="sam"),
        event("e2", "invoice.flagged", "2026-04-01T12:00:00-04:00", invoice="acme/p/b", by="sam",
              comment="hours"),
        event("e3", "invoice.adjusted", "2026-04-02T10:00:00-04:00", invoice="acme/p/b", by="sam",
              lines_remove=["x"]),
        event("e4", "invoice.approved", "2026-04-03T09:00:00-04:00", invoice="acme/p/b", by="sam"),
        event("e4", "invoice.approved", "2026-04-03T09:00:00-04:00", invoice="acme/p/b", by="sam"),
        event("e5", "invoice.disputed", "2026-05-02T09:00:00-04:00", invoice="acme/p/b", by="sam",
              reason="after the as-of day"),
        event("e6", "payment.assigned", "2026-04-21T09:00:00-04:00", payment="pay-1", by="dana",
              client="acme"),
        event("e7", "payment.assigned", "2026-04-22T09:00:00-04:00", payment="pay-2", by="dana",
              client="acme"),
        event("e8", "time.approved", "2026-04-22T09:00:00-04:00", client="acme"),
        event("e9", "invoice.voided", "2026-04-22T09:00:00-04:00", invoice="acme/p/zzz", by="sam",
              reason="not in the population"),
    ]
    touches = approval_report(history.ledger(), events, D("2026-04-01"), D("2026-04-30"),
                              calendar).touches
    # a: approved (1); b: flagged, adjusted, approved once (3); r/2026-04: assigned (1)
    assert (touches.invoices, touches.touches, touches.mean) == (3, 5, Decimal("1.67"))
    assert touches.distribution == ((1, 2), (3, 1))
    assert dict(touches.by_type) == {"invoice.adjusted": 1, "invoice.approved": 2,
                                     "invoice.flagged": 1, "payment.assigned": 1}
    assert touches.unattributed == 1  # pay-2 settled no invoice


def test_touches_read_parsed_events_too(history, calendar, tmp_path):
    from engine.core.replay import read_events

    approved(history, "acme/p/a", "2026-04-01 09:00", "2026-04-02 09:00")
    path = tmp_path / "events.ndjson"
    path.write_text('{"id": "e1", "type": "invoice.approved", "at": "2026-04-02T09:00:00-04:00",'
                    ' "payload": {"invoice": "acme/p/a", "by": "sam"}}\n', encoding="utf-8")
    report = approval_report(history.ledger(), list(read_events(path)), D("2026-04-01"),
                             D("2026-04-30"), calendar)
    assert report.touches.distribution == ((1, 1),)
