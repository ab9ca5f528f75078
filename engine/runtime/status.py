"""What `billflow status` and `billflow explain` read out of the daemon's store."""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from engine.core.snapshot import load_state
from engine.errors import UsageError
from engine.explain.text import action_header, timer_cause
from engine.model.money import format_money
from engine.runtime.store import Store

__all__ = ["StatusReport", "store_status", "explain_action"]


@dataclass(frozen=True)
class StatusReport:
    """A snapshot of billing and of the daemon's health, for people and for tools."""

    rules: dict[str, Any]
    engine: dict[str, Any]
    invoices: dict[str, Any]
    awaiting_approval: list[dict[str, Any]] = field(default_factory=list)
    overdue: list[dict[str, Any]] = field(default_factory=list)
    unmatched_payments: list[dict[str, Any]] = field(default_factory=list)
    outbox: dict[str, Any] = field(default_factory=dict)
    dead_letters: list[dict[str, Any]] = field(default_factory=list)
    source_problems: list[dict[str, Any]] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        return {"rules": self.rules, "engine": self.engine, "invoices": self.invoices,
                "awaiting_approval": self.awaiting_approval, "overdue": self.overdue,
                "unmatched_payments": self.unmatched_payments, "outbox": self.outbox,
                "dead_letters": self.dead_letters, "source_problems": self.source_problems}

    def as_text(self) -> str:
        rules = self.rules
        lines = [f"rules      {rules.get('version') or '-'} ({rules['status']})"]
        lines += [f"           ! {error}" for error in rules.get("errors", [])]
        engine = self.engine
        lines.append(f"engine     clock {engine.get('clock') or '-'}; {engine['events']} events, "
                     f"{engine['undecided']} waiting, {engine['rejected']} rejected")
        if engine.get("books_closed_through"):
            lines.append(f"books      closed through {engine['books_closed_through']}")
        open_totals = ", ".join(f"{amount} {currency}"
                                for currency, amount in self.invoices["open_by_currency"].items())
        lines.append(f"invoices   {self.invoices['issued']} issued, {self.invoices['paid']} paid, "
                     f"{self.invoices['drafts']} drafts; open: {open_totals or 'nothing'}")
        lines.append(f"approval   {len(self.awaiting_approval)} waiting")
        lines += [f"           {row['invoice']}  {row['total']} {row['currency']}  "
                  f"with {row['approver']} since {row['since']}" for row in self.awaiting_approval]
        lines.append(f"overdue    {len(self.overdue)}")
        lines += [f"           {row['number']}  {row['client']}  {row['balance']} "
                  f"{row['currency']}  {row['days_overdue']} days" for row in self.overdue]
        lines.append(f"payments   {len(self.unmatched_payments)} unmatched")
        lines += [f"           {row['id']}  {row['amount']} {row['currency']}  "
                  f"payer {row['payer'] or '-'}" for row in self.unmatched_payments]
        outbox = self.outbox
        lines.append(f"outbox     {outbox['pending']} pending, {outbox['delivered']} delivered, "
                     f"{outbox['dead']} dead")
        lines += [f"           dead: {row['action']} via {row['connector']} after "
                  f"{row['attempts']} attempts: {row['error']}  (billflow retry {row['action']})"
                  for row in self.dead_letters]
        lines.append(f"sources    {len(self.source_problems)} problem(s)")
        lines += [f"           {row['connector']}: {row['record']}: {row['message']}"
                  for row in self.source_problems]
        if self.source_problems:
            lines.append("           fix the mapping, then `billflow connectors resync NAME`")
        return "\n".join(lines)


def store_status(store: Store, now: datetime) -> StatusReport:
    """Read the store: the latest rules load, the engine's state, the outbox."""
    history = store.rules_history(1)
    last = history[0] if history else None
    good = store.last_good_rules()
    rules: dict[str, Any] = {"version": good.version if good else None,
                             "status": "ok" if last is None or last.ok else "degraded"}
    if last is not None and not last.ok:
        rules["errors"] = list(last.errors)
    counts = store.counts()
    snapshot = store.load_snapshot()
    engine = {"clock": snapshot.clock.isoformat() if snapshot and snapshot.clock else None,
              "events": counts.events, "undecided": counts.events_undecided,
              "rejected": counts.events_rejected}
    invoices: dict[str, Any] = {"issued": 0, "paid": 0, "drafts": 0, "open_by_currency": {}}
    awaiting: list[dict[str, Any]] = []
    overdue: list[dict[str, Any]] = []
    unmatched: list[dict[str, Any]] = []
    if snapshot is not None:
        state = load_state(snapshot.state_json)
        closed = state.books_closed_through
        engine["books_closed_through"] = closed.isoformat() if closed else None
        today = now.date()
        open_totals: dict[str, Decimal] = defaultdict(Decimal)
        for invoice in state.invoices.values():
            if invoice.status in ("draft", "awaiting_approval", "flagged"):
                invoices["drafts"] += 1
            elif invoice.status == "paid":
                invoices["paid"] += 1
            if invoice.status == "issued":
                invoices["issued"] += 1
                open_totals[invoice.currency] += invoice.balance
                if invoice.due_date is not None and invoice.due_date < today:
                    overdue.append({"invoice": invoice.id, "number": invoice.number,
                                    "client": invoice.client, "currency": invoice.currency,
                                    "balance": format_money(invoice.balance, invoice.currency),
                                    "days_overdue": (today - invoice.due_date).days})
        invoices["open_by_currency"] = {currency: format_money(amount, currency)
                                        for currency, amount in sorted(open_totals.items())}
        for invoice_id, wait in sorted(state.awaiting.items()):
            invoice = state.invoices[invoice_id]
            awaiting.append({"invoice": invoice_id, "approver": wait.approver,
                             "since": wait.requested_at.isoformat(), "currency": invoice.currency,
                             "total": format_money(invoice.total, invoice.currency)})
        for payment in state.unmatched.values():
            unmatched.append({"id": payment.id, "amount": str(payment.amount),
                              "currency": payment.currency, "payer": payment.payer})
    dead = [{"action": row.action_id, "connector": row.connector, "attempts": row.attempts,
             "error": row.last_error} for row in store.dead_letters()]
    outbox = {"pending": counts.outbox_pending, "delivered": counts.outbox_delivered,
              "dead": counts.outbox_dead}
    problems = [{"connector": row.connector, "record": row.record, "message": row.message,
                 "last_seen": row.last_seen.isoformat(), "seen": row.seen}
                for row in store.source_problems()]
    return StatusReport(rules, engine, invoices, awaiting,
                        sorted(overdue, key=lambda row: -row["days_overdue"]), unmatched, outbox,
                        dead, problems)


def explain_action(store: Store, action_id: str) -> str:
    """Say what caused an action: the event or timer, the rule, the rule version."""
    action = store.action(action_id)
    if action is None:
        raise UsageError(f"no action '{action_id}' in the store")
    lines = action_header(action)
    for record in store.rules_history(50):
        if record.ok and record.version == action["rules_version"]:
            lines[-1] += f" (loaded {record.loaded_at.isoformat()} from {record.source})"
            break
    cause = action.get("cause", "")
    if cause.startswith("event:"):
        event = store.event(cause[len("event:"):])
        if event is not None:
            lines.append(f"  because   event {event.id} ({event.type}) received "
                         f"{event.received_at.isoformat()} via {event.source}")
            lines.append(f"            {json.dumps(json.loads(event.body)['payload'])}")
        else:
            lines.append(f"  because   {cause} (not in this store)")
    elif cause.startswith("timer:"):
        lines.append(timer_cause(cause) or f"  because   {cause}")
    for row in store.delivery_status(action_id):
        lines.append(f"  delivery  {row.connector}: {row.status} after {row.attempts} attempt(s)"
                     + (f" — {row.last_error}" if row.last_error else ""))
    return "\n".join(lines)
