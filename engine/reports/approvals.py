"""Approval wait and touches per invoice, over the invoices issued in a period.

- **Wait** of an invoice that a person approved = the time it was issued minus the time
  approval was first requested (a flag, the author's edit and the second request all fall
  inside it). Invoices that no person was asked to approve are auto-approved: counted
  apart, never as a wait of zero. The median of an even count is the mean of the two
  middle waits; p90 is the nearest rank: the smallest wait that at least 90% of waits do
  not exceed. Per approver, the wait belongs to whoever was asked last. Drafts still
  waiting at the end of the period are not in the wait (it has not ended); they are
  counted beside it, with the age of the oldest.
- **Touches** of an invoice = the human events about it (approved, flagged, adjusted,
  voided, disputed, and payments a person assigned), the measurable stand-in for time spent
  invoicing. A payment assigned to a client touches each invoice it settled; an assignment
  that settled none is counted as unattributed. Events with the same id count once; events
  at or after `until` do not count.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import TYPE_CHECKING, Any

from engine.reports.ledger import InvoiceRecord, Ledger

if TYPE_CHECKING:
    from engine.model.calendar import AgencyCalendar
    from engine.model.events import Event

__all__ = ["HUMAN_EVENTS", "WaitStats", "TouchStats", "ApprovalReport", "approval_report",
           "approval_waits", "touches", "median", "p90", "ALL"]

HUMAN_EVENTS = ("invoice.approved", "invoice.flagged", "invoice.adjusted", "invoice.voided",
                "invoice.disputed", "payment.assigned")
ALL = "TOTAL"


def median(values: list[timedelta]) -> timedelta | None:
    """Return the median (the mean of the two middle values for an even count)."""
    if not values:
        return None
    ordered = sorted(values)
    middle = len(ordered) // 2
    if len(ordered) % 2:
        return ordered[middle]
    return (ordered[middle - 1] + ordered[middle]) / 2


def p90(values: list[timedelta]) -> timedelta | None:
    """Return the 90th percentile by nearest rank: the ⌈0.9·n⌉-th smallest value."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[-(-9 * len(ordered) // 10) - 1]


@dataclass(frozen=True)
class WaitStats:
    """How long drafts waited for one approver (or TOTAL, over all of them)."""

    approver: str
    approved: int
    median: timedelta | None
    p90: timedelta | None


@dataclass(frozen=True)
class TouchStats:
    """Human events per invoice: how many in all, the mean, and how many invoices had n."""

    invoices: int
    touches: int
    mean: Decimal | None
    distribution: tuple[tuple[int, int], ...]
    by_type: tuple[tuple[str, int], ...]
    unattributed: int


@dataclass(frozen=True)
class ApprovalReport:
    """Approval wait and touches for the invoices issued in `start`..`end`."""

    start: date
    end: date
    issued: int
    auto_approved: int
    wait: WaitStats
    by_approver: tuple[WaitStats, ...]
    touches: TouchStats
    pending: int
    oldest_pending: timedelta | None


def _stats(approver: str, waits: list[timedelta]) -> WaitStats:
    return WaitStats(approver, len(waits), median(waits), p90(waits))


def approval_waits(
        records: Iterable[InvoiceRecord]) -> tuple[WaitStats, tuple[WaitStats, ...], int]:
    """Return the overall and per-approver wait of `records`, and how many were auto-approved."""
    waits: dict[str, list[timedelta]] = {}
    auto = 0
    for record in records:
        if record.issued_at is None:
            continue
        if record.requested_at is None:
            auto += 1
            continue
        waits.setdefault(record.approver or "", []).append(record.issued_at - record.requested_at)
    overall = _stats(ALL, [wait for values in waits.values() for wait in values])
    return overall, tuple(_stats(name, values) for name, values in sorted(waits.items())), auto


def _fields(event: Event | Mapping[str, Any]) -> tuple[str, str, datetime, Mapping[str, Any]]:
    if isinstance(event, Mapping):
        at = event["at"]
        return (event["id"], event["type"],
                datetime.fromisoformat(at) if isinstance(at, str) else at, event["payload"])
    payload = event.payload._asdict() if hasattr(event.payload, "_asdict") else event.payload
    return event.id, event.type, event.at, payload


def touches(ledger: Ledger, records: Iterable[InvoiceRecord],
            events: Iterable[Event | Mapping[str, Any]],
            until: datetime | None = None) -> TouchStats:
    """Count the human events about each of `records` that happened before `until`."""
    counted = {record.id: 0 for record in records}
    by_type: dict[str, int] = {}
    seen: set[str] = set()
    unattributed = 0
    for event in events:
        event_id, kind, at, payload = _fields(event)
        if kind not in HUMAN_EVENTS or event_id in seen or (until is not None and at >= until):
            continue
        seen.add(event_id)
        if kind == "payment.assigned" and not payload.get("invoice"):
            subjects = ledger.settled_by.get(payload["payment"], ())
            if not subjects:
                unattributed += 1
                continue
        else:
            subjects = (payload["invoice"],)
        for subject in dict.fromkeys(subjects):
            if subject in counted:
                counted[subject] += 1
                by_type[kind] = by_type.get(kind, 0) + 1
    total = sum(counted.values())
    spread: dict[int, int] = {}
    for n in counted.values():
        spread[n] = spread.get(n, 0) + 1
    mean = ((Decimal(total) / len(counted)).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
            if counted else None)
    return TouchStats(len(counted), total, mean, tuple(sorted(spread.items())),
                      tuple(sorted(by_type.items())), unattributed)


def approval_report(ledger: Ledger, events: Iterable[Event | Mapping[str, Any]], start: date,
              end: date, calendar: AgencyCalendar) -> ApprovalReport:
    """Report approval wait and touches for the invoices issued in `start`..`end`.

    Pass the events the engine accepted; those after the end of `end` are left out.
    """
    issued = ledger.issued_between(start, end)
    overall, by_approver, auto = approval_waits(issued)
    until = calendar.start_of_day(end + timedelta(days=1))
    pending = [until - record.requested_at for record in ledger.invoices
               if record.requested_at is not None and record.requested_at < until
               and not record.issued_by(end) and not record.voided_by(end)]
    return ApprovalReport(start, end, len(issued), auto, overall, by_approver,
                          touches(ledger, issued, events, until), len(pending),
                          max(pending, default=None))
