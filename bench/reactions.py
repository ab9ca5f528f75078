"""How the synthetic agency's people and clients answer what the engine decides.

- Approvers approve the drafts they are asked about: most within hours, some after the
  24-hour reminder, some only after the 48-hour escalation (then often a finance person
  approves instead). Now and then an approver flags a draft for a 5% discount; the account
  lead adds the discount line and the draft comes back for approval.
- Clients pay what is issued to them, as their payment style says: by invoice number in
  the reference (now and then rounding up, which leaves a credit), by exact amount with
  their client id, by name or billing e-mail only, in one remittance a month for
  everything due, or in two instalments; and as their lateness says: punctual, slow or
  late (late enough for the escalations and their late fees).
- A few invoices are disputed and undisputed later, then paid; a few are never paid and
  finance voids them; a few payments come from a payer nobody recognises and finance
  assigns them to the invoice.

Everything is drawn from its own seeded generator, in the order the actions arrive, so the
same engine decisions always get the same answers.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import ROUND_CEILING, Decimal
from typing import TYPE_CHECKING, Any

from synthetic import money_text

if TYPE_CHECKING:
    from synthetic import EventStream

__all__ = ["Reactions"]

FLAG_SHARE = 0.015
VOID_SHARE = 0.006
DISPUTE_SHARE = 0.005
OVERPAY_SHARE = 0.01
STRANGER_SHARE = 0.04
LATENESS_DAYS = {"punctual": (-12, 3), "slow": (-3, 25), "late": (20, 65)}


@dataclass
class OpenInvoice:
    number: str
    client: str
    currency: str
    total: Decimal
    balance: Decimal
    due: date


class Reactions:
    """Answers actions by scheduling events on the stream (`stream.later`)."""

    def __init__(self, stream: EventStream) -> None:
        self.stream = stream
        self.agency = stream.agency
        self.rng = random.Random(stream.agency.seed + 2)
        self.awaiting: dict[str, str] = {}  # invoice id -> revision asked about ("r1")
        self.open: dict[str, OpenInvoice] = {}
        self.client_open: dict[str, set[str]] = {}
        self.remittances: set[tuple[str, date]] = set()
        self.disputed: set[str] = set()
        self.strangers: dict[str, tuple[str, str]] = {}  # payment id -> (invoice, client)
        self._handlers = {
            "approval.requested": self._requested,
            "invoice.flagged": self._flagged,
            "invoice.issued": self._issued,
            "payment.applied": self._applied,
            "payment.unmatched": self._unmatched,
            "invoice.voided": lambda action: self._close(action.payload["invoice"]["id"]),
        }

    def on_action(self, action: Any) -> None:
        handler = self._handlers.get(action.type)
        if handler is not None:
            handler(action)

    # -- helpers ------------------------------------------------------------------------

    def _event(self, kind: str, prefix: str, ts: int, payload: dict[str, Any]) -> dict[str, Any]:
        number = self.stream.serial(prefix)
        return {"id": f"{prefix}-{number:07d}", "type": kind, "at": self.stream.iso(ts),
                "payload": payload}

    def _office(self, local: datetime) -> datetime:
        return self.stream.business_time(local)

    def _on(self, day: date, hour: int = 10) -> datetime:
        return self._office(datetime.combine(day, time(hour)) + timedelta(
            minutes=self.rng.randrange(0, 300)))

    def _close(self, invoice_id: str) -> None:
        record = self.open.pop(invoice_id, None)
        if record is not None:
            self.client_open.get(record.client, set()).discard(invoice_id)
        self.awaiting.pop(invoice_id, None)

    # -- approval -----------------------------------------------------------------------

    def _requested(self, action: Any) -> None:
        rng = self.rng
        invoice = action.payload["invoice"]
        invoice_id, approver = invoice["id"], action.payload["approver"]
        revision = action.id.rsplit(":", 1)[1]
        self.awaiting[invoice_id] = revision
        local = action.at.replace(tzinfo=None)
        if revision == "r1" and rng.random() < FLAG_SHARE:
            when = self._office(local + timedelta(minutes=rng.randrange(60, 600)))
            self.stream.later(when, lambda ts: self._flag(ts, invoice_id, revision, approver))
            return
        draw = rng.random()
        if draw < 0.65:
            delay = timedelta(minutes=rng.randrange(20, 480))
        elif draw < 0.88:
            delay = timedelta(hours=rng.randrange(25, 40))
        else:
            delay = timedelta(hours=rng.randrange(49, 80))
        by = approver
        if delay >= timedelta(hours=48) and rng.random() < 0.5:
            by = rng.choice(self.agency.finance)
        comment = rng.random() < 0.2
        self.stream.later(self._office(local + delay),
                          lambda ts: self._approve(ts, invoice_id, revision, by, comment))

    def _approve(self, ts: int, invoice_id: str, revision: str, by: str,
                 comment: bool) -> dict[str, Any] | None:
        if self.awaiting.get(invoice_id) != revision:
            return None
        payload = {"invoice": invoice_id, "by": by}
        if comment:
            payload["comment"] = "Checked against the timesheets, fine to send."
        return self._event("invoice.approved", "approval", ts, payload)

    def _flag(self, ts: int, invoice_id: str, revision: str, by: str) -> dict[str, Any] | None:
        if self.awaiting.get(invoice_id) != revision:
            return None
        return self._event("invoice.flagged", "approval", ts, {
            "invoice": invoice_id, "by": by,
            "comment": "Please apply the 5% discount agreed with the client for this quarter."})

    def _flagged(self, action: Any) -> None:
        invoice = action.payload["invoice"]
        invoice_id = invoice["id"]
        self.awaiting.pop(invoice_id, None)
        discount = money_text(Decimal(invoice["subtotal"]) * Decimal("0.05"), invoice["currency"])
        if Decimal(discount) <= 0:
            return
        author = action.payload["author"]
        when = self._office(action.at.replace(tzinfo=None) + timedelta(
            minutes=self.rng.randrange(60, 240)))
        self.stream.later(when, lambda ts: self._event("invoice.adjusted", "approval", ts, {
            "invoice": invoice_id, "by": author,
            "lines_add": [{"description": "Agreed discount (5%)", "quantity": "1",
                           "unit_price": f"-{discount}"}]}))

    # -- collection ---------------------------------------------------------------------

    def _issued(self, action: Any) -> None:
        invoice = action.payload["invoice"]
        invoice_id = invoice["id"]
        self.awaiting.pop(invoice_id, None)
        balance = Decimal(invoice["balance"])
        if balance <= 0:
            return
        record = OpenInvoice(invoice["number"], invoice["client"], invoice["currency"],
                             Decimal(invoice["total"]), balance,
                             date.fromisoformat(invoice["due_date"]))
        self.open[invoice_id] = record
        self.client_open.setdefault(record.client, set()).add(invoice_id)
        self._collect(action.at.replace(tzinfo=None), invoice_id, record)

    def _collect(self, issued: datetime, invoice_id: str, record: OpenInvoice) -> None:
        rng, stream = self.rng, self.stream
        client = self.agency.by_id[record.client]
        draw = rng.random()
        if draw < VOID_SHARE:
            stream.later(self._on(record.due + timedelta(days=75)),
                         lambda ts: self._void(ts, invoice_id))
            return
        if draw < VOID_SHARE + DISPUTE_SHARE:
            stream.later(self._on(record.due + timedelta(days=2)),
                         lambda ts: self._dispute(ts, invoice_id, client.account_lead))
            stream.later(self._on(record.due + timedelta(days=18)),
                         lambda ts: self._undispute(ts, invoice_id, client.account_lead))
            stream.later(self._on(record.due + timedelta(days=22)),
                         lambda ts: self._pay(ts, invoice_id, "reference", None))
            return
        low, high = LATENESS_DAYS[client.lateness]
        target = record.due + timedelta(days=rng.randint(low, high))
        if client.payment_style == "batch":
            day = target.replace(day=20) if target.day <= 20 else (
                target.replace(day=1) + timedelta(days=32)).replace(day=20)
            if (client.id, day) not in self.remittances:
                self.remittances.add((client.id, day))
                stream.later(self._on(day, 11), lambda ts: self._remit(ts, client.id, day))
            return
        when = max(issued + timedelta(hours=2), self._on(target))
        if client.payment_style == "instalments":
            stream.later(when, lambda ts: self._pay(ts, invoice_id, "reference", Decimal("0.4")))
            stream.later(self._office(when + timedelta(days=14)),
                         lambda ts: self._pay(ts, invoice_id, "reference", None))
            return
        stream.later(when, lambda ts: self._pay(ts, invoice_id, client.payment_style, None))

    def _pay(self, ts: int, invoice_id: str, style: str,
             share: Decimal | None) -> dict[str, Any] | None:
        record = self.open.get(invoice_id)
        if record is None:
            return None
        rng, currency = self.rng, record.currency
        amount = record.balance
        if share is not None:
            amount = min(amount, Decimal(money_text(record.total * share, currency)))
        elif style == "reference" and rng.random() < OVERPAY_SHARE:
            step = Decimal(10000) if currency == "JPY" else Decimal(100)
            amount = (amount / step).to_integral_value(rounding=ROUND_CEILING) * step
        if amount <= 0:
            return None
        client = self.agency.by_id[record.client]
        payload: dict[str, Any] = {"amount": money_text(amount, currency), "currency": currency,
                                   "date": self.stream.local(ts).date().isoformat()}
        if style == "reference":
            payload["reference"] = rng.choice((f"Invoice {record.number}", record.number,
                                               f"INV {record.number} / {client.name}"))
            if rng.random() < 0.5:
                payload["client"] = client.id
        elif style == "exact":
            payload["client"] = client.id
        elif rng.random() < STRANGER_SHARE:
            payload["payer"] = f"ACH CREDIT {rng.randrange(10 ** 7, 10 ** 8)}"
        else:
            payload["payer"] = client.name if rng.random() < 0.5 else client.email
        payload["source_id"] = f"bank:{rng.randrange(10 ** 9, 10 ** 10)}"
        event = self._event("payment.received", "bank", ts, payload)
        if payload.get("payer", "").startswith("ACH CREDIT"):
            self.strangers[event["id"]] = (invoice_id, client.id)
        return event

    def _remit(self, ts: int, client_id: str, day: date) -> dict[str, Any] | None:
        """One payment for everything of the client due by ten days after `day`."""
        self.remittances.discard((client_id, day))
        client = self.agency.by_id[client_id]
        due = [self.open[i] for i in self.client_open.get(client_id, ())
               if self.open[i].due <= day + timedelta(days=10)
               and self.open[i].currency == client.currency]
        amount = sum((record.balance for record in due), Decimal(0))
        if amount <= 0:
            return None
        return self._event("payment.received", "bank", ts, {
            "amount": money_text(amount, client.currency), "currency": client.currency,
            "date": self.stream.local(ts).date().isoformat(),
            "reference": f"Remittance advice {day:%Y-%m}", "client": client_id,
            "source_id": f"bank:{self.rng.randrange(10 ** 9, 10 ** 10)}"})

    def _applied(self, action: Any) -> None:
        for allocation in action.payload["allocations"]:
            record = self.open.get(allocation["invoice"])
            if record is not None:
                record.balance -= Decimal(allocation["amount"])
                if record.balance <= 0:
                    self._close(allocation["invoice"])

    def _unmatched(self, action: Any) -> None:
        payment_id = action.payload["payment"]["id"]
        found = self.strangers.pop(payment_id, None)
        if found is None:
            return
        invoice_id, client_id = found
        when = self._on(action.at.date() + timedelta(days=1))

        def assign(ts: int) -> dict[str, Any]:
            target = {"invoice": invoice_id} if invoice_id in self.open else {"client": client_id}
            return self._event("payment.assigned", "bank", ts, {
                "payment": payment_id, "by": self.agency.finance[0], **target})

        self.stream.later(when, assign)

    def _void(self, ts: int, invoice_id: str) -> dict[str, Any] | None:
        record = self.open.get(invoice_id)
        if record is None or record.balance != record.total:
            return None
        return self._event("invoice.voided", "void", ts, {
            "invoice": invoice_id, "by": self.agency.finance[0],
            "reason": "Uncollectable after collections; written off."})

    def _dispute(self, ts: int, invoice_id: str, by: str) -> dict[str, Any] | None:
        if invoice_id not in self.open:
            return None
        self.disputed.add(invoice_id)
        return self._event("invoice.disputed", "dispute", ts, {
            "invoice": invoice_id, "by": by,
            "reason": "The client queries the hours billed for two weeks of the period."})

    def _undispute(self, ts: int, invoice_id: str, by: str) -> dict[str, Any] | None:
        if invoice_id not in self.disputed:
            return None
        self.disputed.discard(invoice_id)
        return self._event("invoice.undisputed", "dispute", ts, {"invoice": invoice_id, "by": by})
