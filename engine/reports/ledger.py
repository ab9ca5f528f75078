"""Fold the action history into one record per invoice: the ground every report stands on.

Reports read the history (the actions, in the order they were decided), never the engine's
state, so a replay and the daemon's outbox give the same numbers. An action may be an
`Action` or its JSON form (a mapping with `type`, `at` and `payload`, `at` as ISO 8601).

- Money comes from the contract's decimal strings, as `Decimal`.
- An action's `at` carries agency-local wall time, so its `.date()` is the agency-local day;
  it is pinned to its UTC offset, so that differences across a DST change are true
  durations (two datetimes sharing a ZoneInfo subtract as wall clocks).
- A payment counts from its own `payment.date` (the day the money arrived, or for client
  credit used at issue, the issue day), not from when the engine matched it.
- A draft voided and drafted again under the same id (a voided milestone completed anew)
  starts a fresh record: the voided draft was never issued and owes nothing.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from types import MappingProxyType
from typing import Any

from engine.model.actions import Action

__all__ = ["ActionLike", "PaymentLine", "CreditLine", "InvoiceRecord", "Ledger", "build_ledger",
           "CREDIT_PREFIX"]

ActionLike = Action | Mapping[str, Any]
CREDIT_PREFIX = "credit:"
_ZERO = Decimal(0)


@dataclass(frozen=True)
class PaymentLine:
    """Money applied to one invoice: which payment, dated when, how much."""

    payment: str
    date: date
    amount: Decimal


@dataclass(frozen=True)
class CreditLine:
    """A change in a client's unapplied credit: + a payment's remainder, − credit used."""

    client: str
    currency: str
    date: date
    amount: Decimal


@dataclass(frozen=True)
class InvoiceRecord:
    """One invoice's life as the actions tell it; times are agency-local instants."""

    id: str
    client: str
    currency: str
    total: Decimal
    trigger: str | None = None
    drafted_at: datetime | None = None
    requested_at: datetime | None = None
    approver: str | None = None
    issued_at: datetime | None = None
    issue_date: date | None = None
    due_date: date | None = None
    number: str | None = None
    payments: tuple[PaymentLine, ...] = ()
    voided_at: datetime | None = None
    auto_approved: bool = False

    def issued_by(self, day: date) -> bool:
        """Tell whether the invoice had been issued by the end of `day`."""
        return self.issue_date is not None and self.issue_date <= day

    def voided_by(self, day: date) -> bool:
        """Tell whether the invoice had been voided by the end of `day`."""
        return self.voided_at is not None and self.voided_at.date() <= day

    def paid_as_of(self, day: date) -> Decimal:
        """Return what had been applied to the invoice from payments dated up to `day`."""
        return sum((line.amount for line in self.payments if line.date <= day), _ZERO)

    def balance_as_of(self, day: date) -> Decimal:
        """Return what the client owed on the invoice at the end of `day`.

        Nothing is owed on an invoice not yet issued on `day`, or voided by then.
        """
        if not self.issued_by(day) or self.voided_by(day):
            return _ZERO
        return self.total - self.paid_as_of(day)

    def paid_in_full_on(self) -> date | None:
        """Return the date of the payment that brought the balance to zero, if one did."""
        if self.issue_date is None or self.voided_at is not None:
            return None
        if self.total <= 0:
            return self.issue_date
        paid = _ZERO
        for line in sorted(self.payments, key=lambda line: line.date):
            paid += line.amount
            if paid >= self.total:
                return line.date
        return None


@dataclass(frozen=True)
class Ledger:
    """Every invoice the history mentions (in drafting order) and every credit movement."""

    invoices: tuple[InvoiceRecord, ...] = ()
    credits: tuple[CreditLine, ...] = ()
    settled_by: Mapping[str, tuple[str, ...]] = field(
        default_factory=lambda: MappingProxyType({}))

    def get(self, invoice_id: str) -> InvoiceRecord | None:
        """Return the latest record of `invoice_id`, or None."""
        for record in reversed(self.invoices):
            if record.id == invoice_id:
                return record
        return None

    def open_as_of(self, day: date) -> list[InvoiceRecord]:
        """Return the invoices with a balance open at the end of `day`."""
        return [record for record in self.invoices if record.balance_as_of(day) > 0]

    def issued_between(self, start: date, end: date) -> list[InvoiceRecord]:
        """Return the invoices whose issue date falls in `start`..`end` (both included)."""
        return [record for record in self.invoices
                if record.issue_date is not None and start <= record.issue_date <= end]

    def credit_as_of(self, day: date) -> dict[tuple[str, str], Decimal]:
        """Return each client's unapplied credit per currency at the end of `day`."""
        totals: dict[tuple[str, str], Decimal] = {}
        for line in self.credits:
            if line.date <= day:
                key = (line.client, line.currency)
                totals[key] = totals.get(key, _ZERO) + line.amount
        return {key: amount for key, amount in totals.items() if amount != 0}


def _pinned(at: datetime) -> datetime:
    return at.replace(tzinfo=timezone(at.utcoffset() or timedelta(0)))


def _parts(action: ActionLike) -> tuple[str, datetime, Mapping[str, Any]]:
    if isinstance(action, Action):
        return action.type, _pinned(action.at), action.payload
    at = action["at"]
    return action["type"], _pinned(datetime.fromisoformat(at) if isinstance(at, str) else at), \
        action["payload"]


def _opt_date(text: str | None) -> date | None:
    return date.fromisoformat(text) if text else None


class _Builder:
    """The mutable fold behind `build_ledger`; records are replaced, never changed."""

    def __init__(self) -> None:
        self.records: list[InvoiceRecord] = []
        self.latest: dict[str, int] = {}
        self.credits: list[CreditLine] = []
        self.settled_by: dict[str, list[str]] = {}

    def record(self, invoice: Mapping[str, Any]) -> InvoiceRecord:
        index = self.latest.get(invoice["id"])
        if index is not None:
            return self.records[index]
        return self.put(InvoiceRecord(id=invoice["id"], client=invoice["client"],
                                      currency=invoice["currency"],
                                      total=Decimal(invoice["total"])))

    def put(self, record: InvoiceRecord, *, new: bool = False) -> InvoiceRecord:
        index = self.latest.get(record.id)
        if index is None or new:
            self.latest[record.id] = len(self.records)
            self.records.append(record)
        else:
            self.records[index] = record
        return record

    def drafted(self, at: datetime, payload: Mapping[str, Any]) -> None:
        invoice = payload["invoice"]
        existing = self.latest.get(invoice["id"])
        fresh = InvoiceRecord(id=invoice["id"], client=invoice["client"],
                              currency=invoice["currency"], total=Decimal(invoice["total"]),
                              trigger=payload.get("trigger"), drafted_at=at)
        if existing is None or self.records[existing].voided_at is not None:
            self.put(fresh, new=True)
        else:
            self.put(replace(self.records[existing], trigger=fresh.trigger, drafted_at=at,
                             total=fresh.total))

    def requested(self, at: datetime, payload: Mapping[str, Any]) -> None:
        record = self.record(payload["invoice"])
        self.put(replace(record, requested_at=record.requested_at or at,
                         approver=payload.get("approver") or record.approver,
                         total=Decimal(payload["invoice"]["total"])))

    def issued(self, at: datetime, payload: Mapping[str, Any]) -> None:
        invoice = payload["invoice"]
        record = self.record(invoice)
        self.put(replace(record, issued_at=at, total=Decimal(invoice["total"]),
                         currency=invoice["currency"], number=invoice.get("number"),
                         issue_date=_opt_date(invoice.get("issue_date")) or at.date(),
                         due_date=_opt_date(invoice.get("due_date")),
                         auto_approved=record.requested_at is None))

    def voided(self, at: datetime, payload: Mapping[str, Any]) -> None:
        record = self.record(payload["invoice"])
        self.put(replace(record, voided_at=at))

    def applied(self, payload: Mapping[str, Any]) -> None:
        payment = payload["payment"]
        paid_on = date.fromisoformat(payment["date"])
        settled = self.settled_by.setdefault(payment["id"], [])
        for allocation in payload.get("allocations") or ():
            index = self.latest.get(allocation["invoice"])
            settled.append(allocation["invoice"])
            if index is None:
                continue  # an invoice from before the history began
            record = self.records[index]
            line = PaymentLine(payment["id"], paid_on, Decimal(allocation["amount"]))
            self.records[index] = replace(record, payments=record.payments + (line,))
        client, currency = payment.get("client"), payment["currency"]
        if client is None:
            return
        if payment["id"].startswith(CREDIT_PREFIX):
            self.credits.append(CreditLine(client, currency, paid_on, -Decimal(payment["amount"])))
        elif Decimal(payload.get("credit") or 0) > 0:
            self.credits.append(CreditLine(client, currency, paid_on, Decimal(payload["credit"])))

    def ledger(self) -> Ledger:
        settled = {key: tuple(value) for key, value in self.settled_by.items()}
        return Ledger(tuple(self.records), tuple(self.credits), MappingProxyType(settled))


def build_ledger(actions: Iterable[ActionLike]) -> Ledger:
    """Fold actions, in the order they were decided, into a Ledger."""
    builder = _Builder()
    for action in actions:
        kind, at, payload = _parts(action)
        if kind == "invoice.drafted":
            builder.drafted(at, payload)
        elif kind == "approval.requested":
            builder.requested(at, payload)
        elif kind == "invoice.issued":
            builder.issued(at, payload)
        elif kind == "invoice.voided":
            builder.voided(at, payload)
        elif kind == "payment.applied":
            builder.applied(payload)
    return builder.ledger()
