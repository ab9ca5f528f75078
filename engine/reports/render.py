"""Render a report as an aligned table for people, JSON, or CSV for spreadsheets.

- `table`: one or more titled tables; numbers right-aligned, money with thousands
  separators, waits in hours.
- `json`: everything the report holds; money and other decimals as strings (never
  floats), counts as integers, instants as ISO 8601, a missing value as null.
- `csv`: the report's main table (the first one `table` prints, totals rows included and
  labelled TOTAL), with plain decimals a spreadsheet reads.
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any, Callable

from engine.model.money import display_money, format_money
from engine.reports.aging import BUCKETS, AgingReport, AgingRow
from engine.reports.approvals import ApprovalReport, WaitStats
from engine.reports.dso import DsoReport
from engine.reports.on_time import OnTimeReport, OnTimeRow

__all__ = ["FORMATS", "Report", "Table", "render", "report_json", "report_tables", "hours"]

FORMATS = ("table", "json", "csv")
Report = AgingReport | DsoReport | OnTimeReport | ApprovalReport
TOTAL = "TOTAL"
_HUNDREDTH = Decimal("0.01")


@dataclass(frozen=True)
class Table:
    """A titled table of strings; the columns named in `right` are right-aligned."""

    title: str
    headers: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]
    right: frozenset[str]


def hours(span: timedelta | None) -> Decimal | None:
    """Return a timedelta in hours, rounded half-up to a hundredth (no float involved)."""
    if span is None:
        return None
    micro = (span.days * 86_400 + span.seconds) * 1_000_000 + span.microseconds
    return (Decimal(micro) / Decimal(3_600_000_000)).quantize(_HUNDREDTH, rounding=ROUND_HALF_UP)


@dataclass(frozen=True)
class _Style:
    """How cells are written: for people (1,234.50 and "-") or for tools (1234.50 and "")."""

    money: Callable[[Decimal, str], str]
    missing: str

    def text(self, value: Any) -> str:
        return self.missing if value is None else str(value)


PEOPLE = _Style(display_money, "-")
TOOLS = _Style(format_money, "")


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" + ("" if n == 1 else "s")


def _plain(value: Any) -> Any:
    if value is None or isinstance(value, (int, str)):
        return value
    if isinstance(value, (date, datetime)):
        return value.isoformat()
    return str(value)


# --- aging --------------------------------------------------------------------------------

def _aging_table(report: AgingReport, style: _Style) -> Table:
    def cells(row: AgingRow, label: str) -> tuple[str, ...]:
        amounts = (*row.buckets, row.total, row.credit)
        return (label, row.currency, str(row.invoices),
                *(style.money(amount, row.currency) for amount in amounts))

    headers = ("client", "currency", "invoices", *BUCKETS, "total", "credit")
    rows = [cells(row, row.client) for row in report.rows]
    rows += [cells(row, TOTAL) for row in report.totals]
    return Table(f"Aging as of {report.as_of}: open balances by days past due "
                 "(credit: unapplied, not deducted)", headers, tuple(rows),
                 frozenset(headers[2:]))


def _aging_json(report: AgingReport) -> dict[str, Any]:
    def row(item: AgingRow, with_client: bool) -> dict[str, Any]:
        body: dict[str, Any] = {"client": item.client} if with_client else {}
        body.update(currency=item.currency, invoices=item.invoices)
        body.update({name: format_money(amount, item.currency)
                     for name, amount in zip(BUCKETS, item.buckets)})
        body.update(total=format_money(item.total, item.currency),
                    credit=format_money(item.credit, item.currency))
        return body

    return {
        "report": "aging", "as_of": report.as_of.isoformat(), "buckets": list(BUCKETS),
        "rows": [row(item, True) for item in report.rows],
        "totals": [row(item, False) for item in report.totals],
        "invoices": [{
            "invoice": item.invoice, "number": item.number, "client": item.client,
            "currency": item.currency, "issue_date": item.issue_date.isoformat(),
            "due_date": item.due_date.isoformat(), "days_past_due": item.days_past_due,
            "bucket": item.bucket, "balance": format_money(item.balance, item.currency),
        } for item in report.invoices],
    }


# --- dso ----------------------------------------------------------------------------------

def _dso_table(report: DsoReport, style: _Style) -> Table:
    headers = ("currency", "receivables", "invoiced", "dso_days", "paid", "avg_days_to_pay")
    rows = [(row.currency, style.money(row.receivables, row.currency),
             style.money(row.invoiced, row.currency), style.text(row.dso), str(row.paid),
             style.text(row.avg_days_to_pay)) for row in report.rows]
    rows.append((TOTAL, "", "", "", str(report.paid), style.text(report.avg_days_to_pay)))
    return Table(f"DSO {report.start} to {report.end} ({report.days} days)", headers,
                 tuple(rows), frozenset(headers[1:]))


def _dso_json(report: DsoReport) -> dict[str, Any]:
    return {
        "report": "dso", "start": report.start.isoformat(), "end": report.end.isoformat(),
        "days": report.days,
        "rows": [{"currency": row.currency,
                  "receivables": format_money(row.receivables, row.currency),
                  "invoiced": format_money(row.invoiced, row.currency),
                  "dso": _plain(row.dso), "paid": row.paid,
                  "avg_days_to_pay": _plain(row.avg_days_to_pay)} for row in report.rows],
        "paid": report.paid, "avg_days_to_pay": _plain(report.avg_days_to_pay),
    }


# --- on-time ------------------------------------------------------------------------------

def _on_time_cells(row: OnTimeRow, label: str, style: _Style) -> tuple[str, ...]:
    return (label, str(row.issued), str(row.on_time), str(row.late), style.text(row.rate))


def _on_time_tables(report: OnTimeReport, style: _Style) -> list[Table]:
    headers = ("trigger", "issued", "on_time", "late", "rate_pct")
    rows = [_on_time_cells(row, row.trigger, style) for row in report.rows]
    rows.append(_on_time_cells(report.total, TOTAL, style))
    notes = (f"; {_count(report.overdue, 'draft')} unissued past the deadline"
             if report.overdue else "")
    if report.untracked:
        notes += f"; {_count(report.untracked, 'invoice')} issued without a draft in the history"
    main = Table(f"On-time {report.start} to {report.end}: issued within {report.send_within} "
                 f"of the trigger{notes}", headers, tuple(rows), frozenset(headers[1:]))
    late_headers = ("invoice", "number", "trigger", "triggered_at", "deadline", "issued_at",
                    "late_hours")
    late_rows = tuple((item.invoice, item.number or "", item.trigger,
                       item.triggered_at.strftime("%Y-%m-%d %H:%M"),
                       item.deadline.strftime("%Y-%m-%d %H:%M"),
                       item.issued_at.strftime("%Y-%m-%d %H:%M"), style.text(hours(item.late_by)))
                      for item in report.late)
    return [main, Table("Late invoices", late_headers, late_rows, frozenset({"late_hours"}))]


def _on_time_json(report: OnTimeReport) -> dict[str, Any]:
    def row(item: OnTimeRow) -> dict[str, Any]:
        return {"trigger": item.trigger, "issued": item.issued, "on_time": item.on_time,
                "late": item.late, "rate": _plain(item.rate)}

    return {
        "report": "on-time", "start": report.start.isoformat(), "end": report.end.isoformat(),
        "send_within": report.send_within,
        "rows": [row(item) for item in report.rows],
        "total": {key: value for key, value in row(report.total).items() if key != "trigger"},
        "late": [{"invoice": item.invoice, "number": item.number, "client": item.client,
                  "trigger": item.trigger, "triggered_at": item.triggered_at.isoformat(),
                  "deadline": item.deadline.isoformat(), "issued_at": item.issued_at.isoformat(),
                  "late_hours": _plain(hours(item.late_by))} for item in report.late],
        "untracked": report.untracked, "overdue": report.overdue,
    }


# --- approvals ----------------------------------------------------------------------------

def _wait_cells(stats: WaitStats, label: str, style: _Style) -> tuple[str, ...]:
    return (label, str(stats.approved), style.text(hours(stats.median)),
            style.text(hours(stats.p90)))


def _approval_tables(report: ApprovalReport, style: _Style) -> list[Table]:
    headers = ("approver", "approved", "median_wait_hours", "p90_wait_hours")
    rows = [_wait_cells(stats, stats.approver, style) for stats in report.by_approver]
    rows.append(_wait_cells(report.wait, TOTAL, style))
    pending = (f"; {report.pending} still waiting, the oldest for "
               f"{hours(report.oldest_pending)} hours" if report.pending else "")
    main = Table(f"Approval wait, invoices issued {report.start} to {report.end}: "
                 f"{report.issued} issued, {report.auto_approved} auto-approved (not in the wait)"
                 f"{pending}", headers, tuple(rows), frozenset(headers[1:]))
    touches = report.touches
    unattributed = (f"; {_count(touches.unattributed, 'payment assignment')} settled no invoice"
                    if touches.unattributed else "")
    spread = Table(f"Touches per invoice (human events): {touches.touches} over "
                   f"{touches.invoices} invoices, mean {style.text(touches.mean)}{unattributed}",
                   ("touches", "invoices"),
                   tuple((str(n), str(count)) for n, count in touches.distribution),
                   frozenset({"touches", "invoices"}))
    kinds = Table("Touches by event", ("event", "touches"),
                  tuple((kind, str(count)) for kind, count in touches.by_type),
                  frozenset({"touches"}))
    return [main, spread, kinds]


def _approvals_json(report: ApprovalReport) -> dict[str, Any]:
    def wait(stats: WaitStats) -> dict[str, Any]:
        return {"approved": stats.approved, "median_hours": _plain(hours(stats.median)),
                "p90_hours": _plain(hours(stats.p90))}

    touches = report.touches
    return {
        "report": "approvals", "start": report.start.isoformat(), "end": report.end.isoformat(),
        "issued": report.issued, "auto_approved": report.auto_approved,
        "wait": wait(report.wait),
        "by_approver": [{"approver": stats.approver, **wait(stats)}
                        for stats in report.by_approver],
        "touches": {
            "invoices": touches.invoices, "touches": touches.touches,
            "mean": _plain(touches.mean),
            "distribution": [{"touches": n, "invoices": count}
                             for n, count in touches.distribution],
            "by_type": dict(touches.by_type), "unattributed": touches.unattributed,
        },
        "pending": report.pending, "oldest_pending_hours": _plain(hours(report.oldest_pending)),
    }


# --- dispatch -----------------------------------------------------------------------------

def report_tables(report: Report, *, for_people: bool = True) -> list[Table]:
    """Return the report's tables, the main one first; money for people or for tools."""
    style = PEOPLE if for_people else TOOLS
    if isinstance(report, AgingReport):
        return [_aging_table(report, style)]
    if isinstance(report, DsoReport):
        return [_dso_table(report, style)]
    if isinstance(report, OnTimeReport):
        return _on_time_tables(report, style)
    if isinstance(report, ApprovalReport):
        return _approval_tables(report, style)
    raise TypeError(f"not a report: {type(report).__name__}")


def report_json(report: Report) -> dict[str, Any]:
    """Return the report as JSON-ready data: decimals as strings, counts as integers."""
    if isinstance(report, AgingReport):
        return _aging_json(report)
    if isinstance(report, DsoReport):
        return _dso_json(report)
    if isinstance(report, OnTimeReport):
        return _on_time_json(report)
    if isinstance(report, ApprovalReport):
        return _approvals_json(report)
    raise TypeError(f"not a report: {type(report).__name__}")


def _aligned(table: Table) -> str:
    widths = [max([len(h)] + [len(row[i]) for row in table.rows])
              for i, h in enumerate(table.headers)]
    lines = [table.title]
    for row in (table.headers, *table.rows):
        cells = [cell.rjust(width) if table.headers[i] in table.right else cell.ljust(width)
                 for i, (cell, width) in enumerate(zip(row, widths))]
        lines.append("  ".join(cells).rstrip())
    if not table.rows:
        lines.append("(none)")
    return "\n".join(lines)


def render(report: Report, fmt: str) -> str:
    """Render `report` as `table`, `json` or `csv` (see the module docstring)."""
    if fmt == "json":
        return json.dumps(report_json(report), indent=2, ensure_ascii=False)
    if fmt == "csv":
        main = report_tables(report, for_people=False)[0]
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(main.headers)
        writer.writerows(main.rows)
        return out.getvalue().rstrip("\n")
    if fmt == "table":
        return "\n\n".join(_aligned(table) for table in report_tables(report))
    raise ValueError(f"unknown format '{fmt}'; use one of {', '.join(FORMATS)}")
