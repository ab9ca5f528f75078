"""On-time rate: the share of invoices issued within `send_within` of their trigger.

The invoices counted are those issued in the period (by issue date, both ends included),
voided later or not: issuing happened. The trigger instant is the `invoice.drafted`
action's time — when the milestone or timesheet arrived, the start of the billing day, or
when an escalation drafted a late fee. The deadline is the trigger plus `send_within`:
a fixed duration (`24h`, `2d`) is elapsed time; `N business days` is counted on a
business-day clock — only business days run, whole, so a trigger on a weekend or holiday
starts the clock at the start of the next business day, and from there N business days
are added keeping the time of day, as the engine adds them. Issued at or before the deadline
is on time. An invoice whose draft is not in the history cannot be judged and is counted
apart (`untracked`). The rate is over issued invoices only; drafts still unissued at the
end of the period past their deadline are counted beside it (`overdue`), so a backlog
cannot hide behind a good rate.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal

from engine.model.calendar import AgencyCalendar
from engine.model.duration import Duration
from engine.reports.ledger import Ledger
from engine.workflow.timing import after

__all__ = ["OnTimeRow", "LateInvoice", "OnTimeReport", "on_time_report", "deadline", "rate"]

_TENTH = Decimal("0.1")
ALL = "TOTAL"


def rate(part: int, whole: int) -> Decimal | None:
    """Return part ÷ whole as a percentage rounded half-up to a tenth, None when whole is 0."""
    if whole == 0:
        return None
    return (Decimal(part) * 100 / whole).quantize(_TENTH, rounding=ROUND_HALF_UP)


@dataclass(frozen=True)
class OnTimeRow:
    """Invoices issued in the period for one trigger kind (or TOTAL), and how many on time."""

    trigger: str
    issued: int
    on_time: int
    rate: Decimal | None

    @property
    def late(self) -> int:
        return self.issued - self.on_time


@dataclass(frozen=True)
class LateInvoice:
    """An invoice issued after its deadline, and by how much."""

    invoice: str
    number: str | None
    client: str
    trigger: str
    triggered_at: datetime
    deadline: datetime
    issued_at: datetime
    late_by: timedelta


@dataclass(frozen=True)
class OnTimeReport:
    """The on-time rate of a period, per trigger kind and overall, with the late invoices."""

    start: date
    end: date
    send_within: str
    rows: tuple[OnTimeRow, ...]
    total: OnTimeRow
    late: tuple[LateInvoice, ...]
    untracked: int
    overdue: int


def deadline(trigger: datetime, send_within: Duration, calendar: AgencyCalendar) -> datetime:
    """Return the instant by which an invoice triggered at `trigger` is on time."""
    if not send_within.is_business:
        return trigger + send_within.as_timedelta()
    day = calendar.local_date(trigger)
    if not calendar.is_business_day(day):
        # Nobody is expected to bill on a Sunday: the clock starts when business does.
        trigger = calendar.start_of_day(calendar.next_business_day(day))
    return after(trigger, send_within, calendar)


def on_time_report(ledger: Ledger, start: date, end: date, send_within: Duration,
            calendar: AgencyCalendar) -> OnTimeReport:
    """Judge every invoice issued in `start`..`end` against `send_within`."""
    counts: dict[str, list[int]] = {}
    late: list[LateInvoice] = []
    untracked = 0
    for record in ledger.issued_between(start, end):
        if record.drafted_at is None or record.issued_at is None:
            untracked += 1
            continue
        trigger = record.trigger or "unknown"
        due = deadline(record.drafted_at, send_within, calendar)
        tally = counts.setdefault(trigger, [0, 0])
        tally[0] += 1
        if record.issued_at <= due:
            tally[1] += 1
        else:
            late.append(LateInvoice(record.id, record.number, record.client, trigger,
                                    record.drafted_at, due, record.issued_at,
                                    record.issued_at - due))
    rows = tuple(OnTimeRow(trigger, issued, good, rate(good, issued))
                 for trigger, (issued, good) in sorted(counts.items()))
    issued = sum(row.issued for row in rows)
    good = sum(row.on_time for row in rows)
    late.sort(key=lambda item: (item.issued_at, item.invoice))
    until = calendar.start_of_day(end + timedelta(days=1))
    overdue = sum(1 for record in ledger.invoices
                  if record.drafted_at is not None and record.drafted_at < until
                  and not record.issued_by(end) and not record.voided_by(end)
                  and deadline(record.drafted_at, send_within, calendar) < until)
    return OnTimeReport(start, end, str(send_within), rows,
                        OnTimeRow(ALL, issued, good, rate(good, issued)), tuple(late), untracked,
                        overdue)
