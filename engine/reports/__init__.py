"""Collections reports over the action history: aging, DSO, on-time rate, approvals."""

from engine.reports.aging import (
    BUCKETS,
    AgingReport,
    AgingRow,
    OpenInvoice,
    aging_report,
    bucket_of,
)
from engine.reports.approvals import (
    HUMAN_EVENTS,
    ApprovalReport,
    TouchStats,
    WaitStats,
    approval_report,
    approval_waits,
    median,
    p90,
    touches,
)
from engine.reports.command import (
    REPORT_KINDS, ReportRun, build_report, replay_span, run_report, store_report,
)
from engine.reports.dso import DsoReport, DsoRow, dso_report
from engine.reports.ledger import (
    ActionLike,
    CreditLine,
    InvoiceRecord,
    Ledger,
    PaymentLine,
    build_ledger,
)
from engine.reports.on_time import (
    LateInvoice,
    OnTimeReport,
    OnTimeRow,
    deadline,
    on_time_report,
    rate,
)
from engine.reports.render import FORMATS, Report, Table, hours, render, report_json, report_tables

__all__ = [
    # ledger
    "ActionLike",
    "CreditLine",
    "InvoiceRecord",
    "Ledger",
    "PaymentLine",
    "build_ledger",
    # aging
    "BUCKETS",
    "AgingReport",
    "AgingRow",
    "OpenInvoice",
    "aging_report",
    "bucket_of",
    # dso
    "DsoReport",
    "DsoRow",
    "dso_report",
    # on-time
    "LateInvoice",
    "OnTimeReport",
    "OnTimeRow",
    "deadline",
    "on_time_report",
    "rate",
    # approvals
    "HUMAN_EVENTS",
    "ApprovalReport",
    "TouchStats",
    "WaitStats",
    "approval_report",
    "approval_waits",
    "median",
    "p90",
    "touches",
    # render
    "FORMATS",
    "Report",
    "Table",
    "hours",
    "render",
    "report_json",
    "report_tables",
    # command
    "REPORT_KINDS",
    "ReportRun",
    "build_report",
    "replay_span",
    "run_report",
    "store_report",
]
