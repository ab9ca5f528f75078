"""Everything the engine remembers between inputs.

The state is owned by whoever drives the engine (a replay, a scenario test, the daemon);
`Engine.apply` and `Engine.tick` change it in place and return the actions they decided.
They are deterministic — no wall clock, no I/O, no randomness — so the same inputs give
the same state and actions. The daemon snapshots the state in the same transaction as
the outbox; a replay simply starts from an empty one.

What grows and what does not: billed time entries leave the pool as soon as an invoice
takes them, and a retainer period's per-entry hours collapse to totals once its overage
has been billed. What must be remembered is kept compact: the ids of events already seen
(idempotent intake) and of time entries already billed (billed once, ever) are stored as
64-bit digests, packed in DigestSets (engine/core/digests.py) at about 8 bytes an id.
When the agency closes its books (`books_close_after`, engine/billing/books.py), the ids
of approved time and expenses are kept by the month the work is dated in
(`seen_by_month`), and the entries billed are logged by that month too
(`closing_entries`): when a month closes, its ids are forgotten. From then on work dated
in it is refused by its date, so its ids are no longer needed to count it once.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from operator import itemgetter
from typing import TYPE_CHECKING, NamedTuple

from engine.billing.periods import period_of
from engine.core.digests import DigestSet, digest
from engine.core.timers import TimerQueue
from engine.model.invoice import Invoice

if TYPE_CHECKING:
    from engine.model.events import Event

__all__ = ["EngineState", "Billable", "BILLING_ORDER", "ApprovalWait", "PeriodHours", "RetainerEntry",
           "Payment", "digest"]


class Billable(NamedTuple):
    """An approved, billable, not yet invoiced time entry or expense."""

    key: str
    event: str
    kind: str  # "time" | "expense"
    date: date
    project: str
    person: str | None
    role: str | None
    task: str | None
    hours: Decimal
    amount: Decimal
    description: str
    approved_at: datetime


# Events about work done on a date: remembered by its month while the books close.
DATED_EVENTS = frozenset({"time.approved", "expense.approved"})
MONTH_PREFIX_BITS = 12
"""A month's ids are tens of thousands, not millions: 4,096 packs."""


def _log(logs: dict[str, bytearray], day: date) -> bytearray:
    """Return the log of the month `day` is in, made empty the first time."""
    month = period_of(day)
    log = logs.get(month)
    if log is None:
        log = logs[month] = bytearray()
    return log


def _month_ids(sets: dict[str, DigestSet], day: date) -> DigestSet:
    """Return the id set of the month `day` is in, made empty the first time."""
    month = period_of(day)
    ids = sets.get(month)
    if ids is None:
        ids = sets[month] = DigestSet(prefix_bits=MONTH_PREFIX_BITS)
    return ids

BILLING_ORDER = itemgetter(3, 0)
"""Sort key of Billables in the order an invoice lists them: by date, then by key."""


class RetainerEntry(NamedTuple):
    """A time entry counted against a retainer's included hours."""

    engagement: str
    period: str
    hours: Decimal


@dataclass(slots=True)  # one per retainer and month, kept for years
class PeriodHours:
    """Hours logged against a retainer in one month, and how many were billed as overage."""

    hours: Decimal = Decimal(0)
    overage_billed: Decimal = Decimal(0)
    entries: dict[str, Decimal] = field(default_factory=dict)


class ApprovalWait(NamedTuple):
    """A draft waiting on a person: since when, and whether the SLA timers have fired."""

    approver: str
    requested_at: datetime
    revision: int
    route: str
    escalate_to: str | None
    reminded: bool = False
    escalated: bool = False


class Payment(NamedTuple):
    """A payment that arrived and could not be matched safely (waits for a person)."""

    id: str
    amount: Decimal
    currency: str
    date: date
    reference: str | None
    payer: str | None
    client: str | None
    at: datetime


@dataclass
class EngineState:
    """The engine's memory; see the module docstring for who owns and changes it."""

    go_live: date
    clock: datetime | None = None
    seen_events: DigestSet = field(default_factory=DigestSet)
    invoices: dict[str, Invoice] = field(default_factory=dict)
    # Indexes of `invoices`, kept by put_invoice: by client, by number, the open ones.
    by_client: dict[str, list[str]] = field(default_factory=dict)
    numbers: dict[str, str] = field(default_factory=dict)
    open_ids: set[str] = field(default_factory=set)
    supporting: dict[str, tuple[Billable, ...]] = field(default_factory=dict)
    awaiting: dict[str, ApprovalWait] = field(default_factory=dict)
    flagged_by: dict[str, str] = field(default_factory=dict)
    pool: dict[str, dict[str, Billable]] = field(default_factory=dict)
    pool_index: dict[str, str] = field(default_factory=dict)
    billed_entries: DigestSet = field(default_factory=DigestSet)
    retainer_hours: dict[str, dict[str, PeriodHours]] = field(default_factory=dict)
    retainer_index: dict[str, RetainerEntry] = field(default_factory=dict)
    cursors: dict[str, tuple[int, int]] = field(default_factory=dict)
    milestones_done: set[str] = field(default_factory=set)
    sequences: dict[str, int] = field(default_factory=dict)
    clients_invoiced: set[str] = field(default_factory=set)
    timers: TimerQueue = field(default_factory=TimerQueue)
    credits: dict[tuple[str, str], Decimal] = field(default_factory=dict)
    unmatched: dict[str, Payment] = field(default_factory=dict)
    escalations_fired: dict[str, dict[str, tuple[date, int]]] = field(default_factory=dict)
    disputed: set[str] = field(default_factory=set)
    rules_version: str = ""
    # Closing the books: time and expenses dated up to this day are refused (None: the
    # books never close). By open month ("2026-03"): the ids of the time and expense
    # events about work dated in it (not in seen_events), and the digests of its entries
    # in billed_entries, to forget when it closes.
    books_closed_through: date | None = None
    seen_by_month: dict[str, DigestSet] = field(default_factory=dict)
    closing_entries: dict[str, bytearray] = field(default_factory=dict)

    def put_invoice(self, invoice: Invoice) -> None:
        """Store a new or changed invoice and keep the indexes true."""
        if invoice.id not in self.invoices:
            self.by_client.setdefault(invoice.client, []).append(invoice.id)
        self.invoices[invoice.id] = invoice
        if invoice.number is not None:
            self.numbers[invoice.number] = invoice.id
        if invoice.is_open:
            self.open_ids.add(invoice.id)
        else:
            self.open_ids.discard(invoice.id)

    def add_unbilled(self, engagement_key: str, item: Billable) -> None:
        """Put an approved entry or expense in its engagement's unbilled pool."""
        pool = self.pool.get(engagement_key)
        if pool is None:
            pool = self.pool[engagement_key] = {}
        pool[item.key] = item
        self.pool_index[item.key] = engagement_key

    def bill(self, engagement_key: str, items: tuple[Billable, ...]) -> None:
        """Take items out of the unbilled pool: an invoice now bills them, once, ever."""
        pool = self.pool.get(engagement_key, {})
        pool_index = self.pool_index
        # An invoice's entries share a few dates: they are remembered a date at a time.
        by_day: dict[date, list[str]] = {}
        for item in items:
            key = item.key
            del pool[key]
            pool_index.pop(key, None)
            keys = by_day.get(item.date)
            if keys is None:
                by_day[item.date] = [key]
            else:
                keys.append(key)
        for day, keys in by_day.items():
            self.remember_billed_all(keys, day)

    def remember_billed_all(self, keys: Iterable[str], day: date) -> None:
        """Remember that the entries `keys`, dated in the month of `day`, are billed: for
        good, or until the books of that month close (an entry of a closed month is
        refused by its date)."""
        closed = self.books_closed_through
        if closed is None:
            self.billed_entries.add_texts(keys)
        elif day > closed:
            _log(self.closing_entries, day).extend(self.billed_entries.add_texts(keys))

    def close_books(self, through: date) -> None:
        """Refuse work dated up to `through` from now on, and forget the ids kept for the
        months that closed."""
        self.books_closed_through = through
        last = period_of(through)
        for month in [month for month in self.seen_by_month if month <= last]:
            del self.seen_by_month[month]
        for month in [month for month in self.closing_entries if month <= last]:
            self.billed_entries.discard_all(self.closing_entries.pop(month))

    def unbill(self, engagement_key: str, items: tuple[Billable, ...]) -> None:
        """Give items of a voided invoice back to the unbilled pool."""
        for item in items:
            self.billed_entries.discard(digest(item.key))
            self.add_unbilled(engagement_key, item)

    def open_invoices(self) -> list[Invoice]:
        """Return the invoices with a balance still owed, in id order."""
        return [self.invoices[invoice_id] for invoice_id in sorted(self.open_ids)]

    def client_invoices(self, client_id: str) -> list[Invoice]:
        """Return a client's invoices in the order they were drafted."""
        return [self.invoices[i] for i in self.by_client.get(client_id, ())]

    def remember_event(self, event: Event) -> bool:
        """Record an event's id; return False if it was seen before (a repeat to ignore).

        While the books close, approved time and expenses are remembered by the month
        they are dated in, and not at all when it is closed (they are refused by date).
        """
        closed = self.books_closed_through
        if closed is None or event.type not in DATED_EVENTS:
            return self.seen_events.add_text(event.id)
        day = event.payload.date
        if day <= closed:
            return True
        return _month_ids(self.seen_by_month, day).add_text(event.id)

    def forget_event(self, event: Event) -> None:
        """Forget a rejected event, so a corrected resend with the same id is accepted."""
        closed = self.books_closed_through
        if closed is None or event.type not in DATED_EVENTS:
            self.seen_events.discard(digest(event.id))
        elif event.payload.date > closed:
            _month_ids(self.seen_by_month, event.payload.date).discard(digest(event.id))
