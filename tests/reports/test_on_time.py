"""On-time rate against `send_within`, business days included.

2026-03-06 is a Friday; 2026-07-03 is the observed Independence Day (a Friday).
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

import engine.reports
from engine.model.duration import parse_duration
from engine.reports import on_time as on_time_module
from engine.reports.on_time import deadline, on_time_report, rate

D = date.fromisoformat
ONE_BUSINESS_DAY = parse_duration("1 business day")


def test_public_names_are_exported():
    for name in on_time_module.__all__:
        assert name in engine.reports.__all__


def milestone(history, invoice, triggered, issued):
    history.draft(invoice, triggered, trigger="milestone")
    history.request(invoice, triggered)
    history.issue(invoice, issued, due="2026-12-31")


def test_one_business_day_across_a_weekend(history, calendar):
    milestone(history, "acme/p/friday-ok", "2026-03-06 16:00", "2026-03-09 16:00")
    milestone(history, "acme/p/friday-late", "2026-03-06 16:00", "2026-03-09 16:01")
    milestone(history, "acme/p/saturday", "2026-03-07 10:00", "2026-03-09 10:00")
    milestone(history, "acme/p/holiday", "2026-07-02 12:00", "2026-07-06 11:59")
    report = on_time_report(history.ledger(), D("2026-01-01"), D("2026-12-31"),
                            ONE_BUSINESS_DAY, calendar)
    assert (report.total.issued, report.total.on_time, report.total.rate) == (4, 3,
                                                                              Decimal("75.0"))
    (late,) = report.late
    assert late.invoice == "acme/p/friday-late"
    assert late.deadline.isoformat() == "2026-03-09T16:00:00-04:00"  # Monday, after DST began
    assert late.late_by == timedelta(minutes=1)


@pytest.mark.parametrize(("trigger", "due"), [
    ("2026-03-06 16:00", "2026-03-09T16:00:00-04:00"),  # Friday afternoon -> Monday, same time
    ("2026-03-05 00:00", "2026-03-06T00:00:00-05:00"),  # a Thursday billing day: its own end
    ("2026-01-31 00:00", "2026-02-03T00:00:00-05:00"),  # Saturday: the clock starts Monday
    ("2026-03-07 10:00", "2026-03-10T00:00:00-04:00"),  # Saturday 10:00: all of Monday
    ("2026-07-02 12:00", "2026-07-06T12:00:00-04:00"),  # Thursday; Friday 07-03 is a holiday
    ("2026-07-03 09:00", "2026-07-07T00:00:00-04:00"),  # on the holiday: all of Monday
])
def test_business_day_deadlines(calendar, trigger, due):
    at = datetime.fromisoformat(trigger).replace(tzinfo=ZoneInfo("America/New_York"))
    assert deadline(at, ONE_BUSINESS_DAY, calendar) == datetime.fromisoformat(due)


def test_a_weekend_billing_day_is_on_time_when_issued_on_monday(history, calendar):
    history.draft("acme/t/2026-01-31", "2026-01-31 00:00")  # a Saturday
    history.request("acme/t/2026-01-31", "2026-01-31 00:00")
    history.issue("acme/t/2026-01-31", "2026-02-02 09:08", due="2026-03-04")
    history.draft("acme/t/2026-02-28", "2026-02-28 00:00")  # also a Saturday
    history.request("acme/t/2026-02-28", "2026-02-28 00:00")
    history.issue("acme/t/2026-02-28", "2026-03-03 00:01", due="2026-04-02")  # Tuesday
    report = on_time_report(history.ledger(), D("2026-01-01"), D("2026-03-31"),
                            ONE_BUSINESS_DAY, calendar)
    assert (report.total.on_time, [item.invoice for item in report.late]) == (
        1, ["acme/t/2026-02-28"])


def test_rows_per_trigger_and_the_billing_day_starts_at_midnight(history, calendar):
    history.draft("acme/r/2026-05", "2026-05-01 00:00")  # a Friday
    history.request("acme/r/2026-05", "2026-05-01 00:00")
    history.issue("acme/r/2026-05", "2026-05-04 00:00", due="2026-06-03")  # Monday, 00:00
    history.draft("acme/r/2026-06", "2026-06-01 00:00")
    history.issue("acme/r/2026-06", "2026-06-01 00:00", due="2026-07-01")
    milestone(history, "acme/p/1", "2026-05-12 09:00", "2026-05-14 09:00")
    report = on_time_report(history.ledger(), D("2026-05-01"), D("2026-06-30"),
                            ONE_BUSINESS_DAY, calendar)
    assert [(r.trigger, r.issued, r.on_time, r.late) for r in report.rows] == [
        ("billing_day", 2, 2, 0), ("milestone", 1, 0, 1)]
    assert report.send_within == "1 business day"


def test_only_invoices_issued_in_the_period_count(history, calendar):
    milestone(history, "acme/p/before", "2026-03-30 10:00", "2026-03-31 10:00")
    milestone(history, "acme/p/inside", "2026-03-31 10:00", "2026-04-01 09:00")
    milestone(history, "acme/p/after", "2026-04-30 10:00", "2026-05-01 09:00")
    report = on_time_report(history.ledger(), D("2026-04-01"), D("2026-04-30"),
                            ONE_BUSINESS_DAY, calendar)
    assert report.total.issued == 1


def test_unissued_drafts_past_their_deadline_are_counted_beside_the_rate(history, calendar):
    history.draft("acme/p/waiting", "2026-04-28 10:00", trigger="milestone")  # due 04-29 10:00
    history.draft("acme/p/recent", "2026-04-30 10:00", trigger="milestone")  # due 05-01 10:00
    history.draft("acme/p/voided", "2026-04-01 10:00", trigger="milestone")
    history.void("acme/p/voided", "2026-04-02 10:00")
    report = on_time_report(history.ledger(), D("2026-04-01"), D("2026-04-30"),
                            ONE_BUSINESS_DAY, calendar)
    assert (report.total.issued, report.total.rate, report.overdue) == (0, None, 1)


def test_an_issue_without_its_draft_is_untracked(history, calendar):
    history.invoices["acme/x/1"] = {"id": "acme/x/1", "client": "acme", "currency": "USD",
                                    "total": "10.00"}
    history.issue("acme/x/1", "2026-04-02 10:00", due="2026-05-02")
    report = on_time_report(history.ledger(), D("2026-04-01"), D("2026-04-30"),
                            ONE_BUSINESS_DAY, calendar)
    assert (report.total.issued, report.untracked) == (0, 1)


def test_a_plain_duration_is_exact(history, calendar):
    milestone(history, "acme/p/1", "2026-03-07 10:00", "2026-03-08 10:00")  # 23 h across DST
    report = on_time_report(history.ledger(), D("2026-03-01"), D("2026-03-31"),
                            parse_duration("23h"), calendar)
    assert report.total.on_time == 1


def test_rate_rounds_half_up_to_a_tenth():
    assert rate(2, 3) == Decimal("66.7")
    assert rate(1, 8) == Decimal("12.5")
    assert rate(0, 0) is None
