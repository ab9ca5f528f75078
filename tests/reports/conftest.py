"""Hand-built action histories for the report tests: small, and checkable by hand."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from engine.model.actions import Action
from engine.model.calendar import AgencyCalendar
from engine.reports.ledger import Ledger, build_ledger

NEW_YORK = ZoneInfo("America/New_York")
CALENDAR = AgencyCalendar("America/New_York", "US")


def local(text: str) -> datetime:
    """Return 'YYYY-MM-DD HH:MM' New York time as an aware datetime (as actions carry it)."""
    return datetime.fromisoformat(text).replace(tzinfo=NEW_YORK)


class History:
    """Record actions the way the engine emits them, one call per decision."""

    def __init__(self) -> None:
        self.actions: list[Action] = []
        self.invoices: dict[str, dict] = {}

    def _emit(self, kind: str, subject: str, at: str, payload: dict) -> None:
        client = subject.split("/")[0]
        self.actions.append(Action(f"{kind}:{subject}:{len(self.actions)}", kind, local(at),
                                   client, "test", "v1", payload))

    def draft(self, invoice: str, at: str, total: str = "100.00", currency: str = "USD",
              trigger: str = "billing_day") -> History:
        body = {"id": invoice, "number": None, "status": "draft",
                "client": invoice.split("/")[0], "engagement": invoice.split("/")[1],
                "currency": currency, "lines": [], "subtotal": total, "tax": "0.00",
                "total": total, "balance": total, "issue_date": None, "due_date": None}
        self.invoices[invoice] = body
        self._emit("invoice.drafted", invoice, at, {"invoice": body, "trigger": trigger})
        return self

    def request(self, invoice: str, at: str, approver: str = "sam") -> History:
        body = dict(self.invoices[invoice], status="awaiting_approval")
        self._emit("approval.requested", invoice, at, {"invoice": body, "approver": approver})
        return self

    def issue(self, invoice: str, at: str, due: str, number: str | None = None) -> History:
        body = dict(self.invoices[invoice], status="issued", issue_date=at[:10], due_date=due,
                    number=number or f"N-{len(self.actions):04d}")
        self.invoices[invoice] = body
        self._emit("invoice.issued", invoice, at, {"invoice": body})
        return self

    def invoice(self, invoice: str, issued: str, due: str, total: str = "100.00",
                currency: str = "USD") -> History:
        """Draft and auto-approve an invoice at `issued` (a date or 'date time')."""
        at = issued if " " in issued else f"{issued} 00:00"
        return self.draft(invoice, at, total, currency).issue(invoice, at, due)

    def void(self, invoice: str, at: str) -> History:
        body = dict(self.invoices[invoice], status="voided", balance="0.00")
        self._emit("invoice.voided", invoice, at, {"invoice": body})
        return self

    def pay(self, payment: str, on: str, allocations: dict[str, str], currency: str = "USD",
            client: str | None = None, credit: str = "0.00", at: str | None = None) -> History:
        client = client or next(iter(allocations)).split("/")[0]
        amount = sum((Decimal(a) for a in allocations.values()), Decimal(credit))
        self._emit("payment.applied", client, at or f"{on} 12:00", {
            "payment": {"id": payment, "amount": str(amount), "currency": currency,
                        "date": on, "client": client},
            "allocations": [{"invoice": i, "amount": a} for i, a in allocations.items()],
            "credit": credit,
        })
        return self

    def ledger(self) -> Ledger:
        return build_ledger(self.actions)


@pytest.fixture
def history() -> History:
    return History()


@pytest.fixture(scope="session")
def new_history():
    """The History class itself, for property tests that build many histories."""
    return History


@pytest.fixture(scope="session")
def calendar() -> AgencyCalendar:
    """New York time with US holidays, as the histories are written."""
    return CALENDAR
