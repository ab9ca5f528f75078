"""Read models of the billing status, the finance queue and the metrics.

They read the daemon's store (the engine's state snapshot and its action log) and the
rule set in force; they never change anything. Pages and the JSON API render the same
models.
"""

from engine.reports.aging import BUCKETS as BUCKET_NAMES
from engine.web.views.access import account_leads, visible_clients
from engine.web.views.clients import (
    AgingBuckets, ClientStatus, FollowUp, InvoiceSummary, OverdueInvoice, PendingApproval,
    client_status, client_statuses, person_name,
)
from engine.web.views.encode import to_json
from engine.web.views.history import History, history_of, read_history
from engine.web.views.money import Money
from engine.web.views.queue import (
    AssignChoice, DeadLetter, FinanceQueue, LateApproval, RulesProblem, UnmatchedPayment,
    finance_queue, unmatched_payment,
)
from engine.web.views.trends import CurrencyDso, PeriodMetrics, Trends, trends
from engine.web.views.wording import bucket_label, local_time, wait_text

__all__ = [
    "BUCKET_NAMES", "AgingBuckets", "AssignChoice", "ClientStatus", "CurrencyDso",
    "DeadLetter", "FinanceQueue", "FollowUp", "History", "InvoiceSummary", "LateApproval",
    "Money", "OverdueInvoice", "PendingApproval", "PeriodMetrics", "RulesProblem", "Trends",
    "UnmatchedPayment", "account_leads", "bucket_label", "client_status", "client_statuses",
    "finance_queue", "history_of", "local_time", "person_name", "read_history", "to_json",
    "trends", "unmatched_payment", "visible_clients", "wait_text",
]
