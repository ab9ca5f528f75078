"""Render the message each message-bearing action sends, with the rule set's templates.

    action                 template               to                      attached
    approval.requested     approval_request       the approver
    approval.reminded      approval_request       the approver            ("Reminder: ")
    approval.escalated     approval_request       escalate_to, cc approver ("Escalated: ")
    invoice.issued         invoice                the billing contacts    the invoice PDF
    reminder.sent          the step's template    the billing contacts    the invoice PDF
    escalation.triggered   escalation             the notify people
    invoice.flagged        (built-in text)        the author, reply-to the flagger

Each context holds exactly the variables `MESSAGE_VARIABLES` lists for its message: money is
Decimal, dates are `date`, `today` is the agency-local date of the action. A message is the
same on every retry (its Message-ID comes from the action id), so a receiver can spot a repeat.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable, Mapping
from datetime import date, datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from connectors.base import (
    MESSAGE_ACTION_TYPES, Attachment, Delivery, Document, Message, Recipient,
)
from connectors.documents import invoice_html, invoice_pdf
from engine.errors import ConnectorError
from engine.model.actions import Action, dump_action
from engine.ruleset.templates import TemplateError, longdate, money
from engine.ruleset.types import Client, Person, RuleSet
from engine.ruleset.vocabulary import MESSAGE_VARIABLES

__all__ = [
    "MESSAGE_ACTION_TYPES",
    "DOCUMENT_ACTION_TYPES",
    "ApprovalUrl",
    "InvoiceLookup",
    "message_id",
    "render_message",
    "invoice_document",
    "build_delivery",
]

ApprovalUrl = Callable[[str, int, str], "str | None"]
"""(invoice id, revision, person) -> that person's one-click link, or None when there is none."""

InvoiceLookup = Callable[[str], "Mapping[str, Any] | None"]
"""Invoice id -> that invoice's JSON object, or None when it is unknown."""

DOCUMENT_ACTION_TYPES = frozenset({"invoice.issued", "reminder.sent"})
_APPROVAL_PREFIX = {"approval.reminded": "Reminder: ", "approval.escalated": "Escalated: "}
_REVISION = re.compile(r":r(\d+)$")


def message_id(action_id: str) -> str:
    """Return the Message-ID of an action's message: the same on every retry."""
    return f"<{hashlib.sha256(action_id.encode('utf-8')).hexdigest()[:32]}@billflow>"


def _as_json(action: Action | Mapping[str, Any]) -> dict[str, Any]:
    if isinstance(action, Action):
        return json.loads(dump_action(action))
    return dict(action)


class _Render:
    """One action's rendering: its lookups, its context and its failures."""

    def __init__(self, rules: RuleSet, action: Mapping[str, Any], approval_url: ApprovalUrl | None,
                 invoice_lookup: InvoiceLookup | None) -> None:
        self.rules = rules
        self.action = action
        self.id = str(action["id"])
        self.type = str(action["type"])
        self.payload: Mapping[str, Any] = action.get("payload") or {}
        self.invoice: Mapping[str, Any] = self.payload.get("invoice") or {}
        self.approval_url = approval_url
        self.invoice_lookup = invoice_lookup
        self.agency = rules.agency
        at = datetime.fromisoformat(str(action["at"]))
        self.today: date = at.astimezone(ZoneInfo(self.agency.timezone)).date()
        self.client = self._client()

    def fail(self, message: str) -> ConnectorError:
        return ConnectorError(f"{self.type} {self.id}: {message}", retryable=False)

    def _client(self) -> Client:
        client_id = str(self.action.get("client") or self.invoice.get("client") or "")
        client = self.rules.clients.get(client_id)
        if client is None:
            raise self.fail(f"client '{client_id}' is not in the active rule set")
        return client

    def person(self, person_id: object) -> Person:
        person = self.agency.people.get(str(person_id))
        if person is None:
            raise self.fail(f"person '{person_id}' is not in the Agency's people")
        return person

    def people(self, names: object) -> list[Person]:
        """Resolve person ids, the client's roles and agency roles to people, without repeats."""
        found: dict[str, Person] = {}
        for name in names if isinstance(names, list) else [names]:
            name = str(name)
            if name in self.agency.people:
                matches: tuple[Person, ...] = (self.agency.people[name],)
            elif name == "account_lead":
                matches = (self.person(self.client.account_lead),)
            else:
                matches = self.agency.people_with_role(name)
            if not matches:
                raise self.fail(f"'{name}' names no person of the Agency")
            for person in matches:
                found.setdefault(person.email.lower(), person)
        return list(found.values())

    # --- contexts ------------------------------------------------------------------------

    def invoice_context(self, invoice: Mapping[str, Any],
                        balance: Decimal | None = None) -> dict[str, Any]:
        currency = str(invoice["currency"])
        due = _date(invoice.get("due_date"))
        period = invoice.get("period")
        start, end = (_date(period["start"]), _date(period["end"])) if period else (None, None)
        owed = balance if balance is not None else _money(invoice["balance"])
        warnings = list(invoice.get("warnings") or ())
        lines = [{"description": line["description"], "quantity": _money(line["quantity"]),
                  "unit_price": _money(line["unit_price"]), "amount": _money(line["amount"])}
                 for line in invoice.get("lines") or ()]
        total = _money(invoice["total"])
        return {
            "id": invoice["id"], "number": invoice.get("number"), "status": invoice.get("status"),
            "client": invoice["client"], "engagement": invoice.get("engagement"),
            "currency": currency, "subtotal": _money(invoice["subtotal"]),
            "tax": _money(invoice["tax"]), "total": total, "balance": owed,
            "issue_date": _date(invoice.get("issue_date")), "due_date": due,
            "days_overdue": (self.today - due).days if due else 0,
            "period_start": start, "period_end": end, "trigger": self.trigger(invoice),
            "line_count": len(lines), "is_first": "first_invoice" in warnings,
            "warnings": warnings, "lines": lines,
            "period": {"start": start, "end": end} if period else None,
            "total_display": money(total, currency), "balance_display": money(owed, currency),
        }

    def trigger(self, invoice: Mapping[str, Any]) -> str:
        """Return what drafted the invoice, read from its id and engagement."""
        if str(invoice["id"]).endswith("/late-fee"):
            return "late_fee"
        engagement = self.client.engagements.get(str(invoice.get("engagement")))
        if engagement is None:
            return ""
        if engagement.model == "project_fixed":
            return "milestone"
        if engagement.model == "time_and_materials" and engagement.cadence == "on_approval":
            return "timesheet"
        return "billing_day"

    def base_context(self) -> dict[str, Any]:
        agency = self.agency
        return {
            "invoice": self.invoice_context(self.invoice),
            "client": {"id": self.client.id, "name": self.client.name,
                       "currency": self.client.currency},
            "agency": {"id": agency.id, "name": agency.name, "timezone": agency.timezone,
                       "currency": agency.currency,
                       # Block scalars end in a newline; the templates add their own spacing.
                       "payment_instructions": _trimmed(agency.payment_instructions),
                       "address": _trimmed(agency.address)},
            "today": self.today,
        }

    def contact(self) -> dict[str, str]:
        contacts = self.client.billing_contacts
        if not contacts:
            raise self.fail(f"client '{self.client.id}' has no billing contact")
        return {"name": contacts[0].name, "email": contacts[0].email}

    def supporting(self) -> list[dict[str, Any]]:
        """Flatten the billed time entries and expenses into one list, money as Decimal."""
        found = self.payload.get("supporting") or {}
        items: list[dict[str, Any]] = []
        for kind, entries in (("time", found.get("time") or ()),
                              ("expense", found.get("expenses") or ())):
            for entry in entries:
                item: dict[str, Any] = {"kind": kind, **entry}
                for key in ("hours", "billed_hours", "rate", "amount"):
                    if item.get(key) is not None:
                        item[key] = _money(item[key])
                if item.get("date"):
                    item["date"] = _date(item["date"])
                items.append(item)
        return items

    # --- messages ------------------------------------------------------------------------

    def render(self, template_id: str, message: str, context: Mapping[str, Any]) -> tuple[str, str]:
        template = self.rules.templates.get(template_id)
        if template is None:
            raise self.fail(f"template '{template_id}' is not in the rule set")
        wanted = MESSAGE_VARIABLES[message]
        try:
            rendered = template.render({k: v for k, v in context.items() if k in wanted})
        except TemplateError as exc:
            raise self.fail(f"template '{template_id}' cannot be rendered: {exc}") from None
        return rendered.subject, rendered.body

    def approval(self) -> Message:
        approver = self.person(self.payload["approver"])
        to, cc = approver, None
        if self.type == "approval.escalated":
            to, cc = self.person(self.payload["escalate_to"]), approver
        context = self.base_context() | {
            "approver": _person(to), "approval_url": self.link() or "",
            "supporting": self.supporting(),
            "warnings": list(self.payload.get("warnings") or self.invoice.get("warnings") or ()),
        }
        subject, body = self.render("approval_request", "approval_request", context)
        return self.message((_recipient(to),), _APPROVAL_PREFIX.get(self.type, "") + subject,
                            body, "approval_request", cc=(_recipient(cc),) if cc else (),
                            internal=True)

    def issued(self, document: Document | None) -> Message:
        context = self.base_context() | {"contact": self.contact()}
        subject, body = self.render("invoice", "invoice", context)
        return self.message(self.billing_recipients(), subject, body, "invoice",
                            attachments=_pdf(document))

    def reminder(self, document: Document | None) -> Message:
        template_id = str(self.payload["template"])
        balance = _money(self.payload["balance"]) if "balance" in self.payload else None
        context = self.base_context() | {
            "invoice": self.invoice_context(self.invoice, balance),
            "contact": self.contact(), "step": self.step(template_id),
        }
        subject, body = self.render(template_id, "reminder", context)
        return self.message(self.billing_recipients(), subject, body, template_id,
                            attachments=_pdf(document))

    def step(self, template_id: str) -> dict[str, str]:
        step_id = str(self.payload["step"])
        cadence = self.rules.reminder_cadences.get(self.client.reminder_cadence)
        offset = step_id
        for step in cadence.steps if cadence else ():
            if step.id == step_id or str(step.offset) == step_id:
                offset = str(step.offset)
        return {"id": step_id, "offset": offset, "template": template_id}

    def escalation(self) -> Message:
        notified = self.people(self.payload["notify"])
        due = _date(self.invoice.get("due_date"))
        days = self.payload.get("days_overdue")
        if days is None:
            days = (self.today - due).days if due else 0
        late_fee = None
        late_fee_id = self.payload.get("late_fee_invoice")
        if late_fee_id and self.invoice_lookup is not None:
            found = self.invoice_lookup(str(late_fee_id))
            late_fee = self.invoice_context(found) if found else None
        context = self.base_context() | {
            "escalation": {"rule": str(self.payload["rule"]), "days_overdue": int(days),
                           "notify": [person.name for person in notified]},
            "late_fee_invoice": late_fee,
        }
        subject, body = self.render("escalation", "escalation", context)
        return self.message(tuple(_recipient(p) for p in notified), subject, body, "escalation",
                            internal=True)

    def flagged(self) -> Message:
        author, by = self.person(self.payload["author"]), self.person(self.payload["by"])
        invoice = self.invoice_context(self.invoice)
        currency = invoice["currency"]
        lines = "".join(
            f"  - {line['description']}: {line['quantity']} x {money(line['unit_price'])}"
            f" = {money(line['amount'], currency)}\n" for line in invoice["lines"])
        period = ""
        if invoice["period"]:
            period = (f"  Period: {longdate(invoice['period_start'])} to "
                      f"{longdate(invoice['period_end'])}\n")
        comment = "\n".join(f"  > {line}" for line in str(self.payload["comment"]).splitlines())
        body = (
            f"Hello {author.name},\n\n"
            f"{by.name} flagged the draft invoice for {self.client.name} for edits:\n\n"
            f"{comment}\n\n"
            f"  Draft: {invoice['id']}\n{period}"
            f"  Total: {money(invoice['total'], currency)}\n\n{lines}\n"
            f"Once the draft is adjusted it goes back to {by.name} for approval.\n\n"
            f"Thank you,\n{self.agency.name} billing\n"
        )
        subject = f"Flagged for edits: {self.client.name} invoice draft {invoice['id']}"
        return self.message((_recipient(author),), subject, body, None,
                            reply_to=(_recipient(by),), internal=True)

    def billing_recipients(self) -> tuple[Recipient, ...]:
        self.contact()
        return tuple((c.name, c.email) for c in self.client.billing_contacts)

    def link(self) -> str | None:
        return approval_link(self.approval_url, self.action)

    def message(self, to: tuple[Recipient, ...], subject: str, body: str, template: str | None,
                *, cc: tuple[Recipient, ...] = (), reply_to: tuple[Recipient, ...] = (),
                attachments: tuple[Attachment, ...] = (), internal: bool = False) -> Message:
        headers = [("Message-ID", message_id(self.id)), ("X-Billflow-Action", self.id)]
        if self.invoice.get("id"):
            headers.append(("X-Billflow-Invoice", str(self.invoice["id"])))
        if internal:
            # Notifications to staff are machine-made: out-of-office replies should skip them.
            headers.append(("Auto-Submitted", "auto-generated"))
        return Message(to=to, cc=cc, subject=subject, body=body, reply_to=reply_to,
                       headers=tuple(headers), attachments=attachments, template=template)


def _trimmed(text: str | None) -> str | None:
    return text.rstrip() if text else text


def _money(value: object) -> Decimal:
    return Decimal(str(value))


def _date(value: object) -> date | None:
    return date.fromisoformat(str(value)) if value else None


def _person(person: Person) -> dict[str, str]:
    return {"id": person.id, "name": person.name, "email": person.email}


def _recipient(person: Person) -> Recipient:
    return (person.name, person.email)


def _pdf(document: Document | None) -> tuple[Attachment, ...]:
    if document is None:
        return ()
    return (Attachment(f"{document.stem}.pdf", "application/pdf", document.pdf),)


def invoice_document(rules: RuleSet, invoice: Mapping[str, Any]) -> Document:
    """Render an invoice's JSON object as HTML and PDF."""
    client = rules.clients.get(str(invoice["client"]))
    if client is None:
        raise ConnectorError(f"invoice {invoice['id']}: client '{invoice['client']}' is not in "
                             f"the active rule set", retryable=False)
    return Document(invoice_id=str(invoice["id"]), number=invoice.get("number"),
                    html=invoice_html(invoice, client, rules.agency),
                    pdf=invoice_pdf(invoice, client, rules.agency))


def render_message(rules: RuleSet, action: Action | Mapping[str, Any], *,
                   approval_url: ApprovalUrl | None = None,
                   invoice_lookup: InvoiceLookup | None = None,
                   document: Document | None = None) -> Message | None:
    """Return the message `action` sends (None for a type that sends none)."""
    data = _as_json(action)
    if data["type"] not in MESSAGE_ACTION_TYPES:
        return None
    job = _Render(rules, data, approval_url, invoice_lookup)
    if job.type.startswith("approval."):
        return job.approval()
    if job.type == "invoice.issued":
        return job.issued(document)
    if job.type == "reminder.sent":
        return job.reminder(document)
    if job.type == "escalation.triggered":
        return job.escalation()
    return job.flagged()


def build_delivery(rules: RuleSet, action: Action | Mapping[str, Any], *,
                   approval_url: ApprovalUrl | None = None,
                   invoice_lookup: InvoiceLookup | None = None) -> Delivery:
    """Prepare everything connectors need for `action`: message, invoice document, link."""
    data = _as_json(action)
    document = None
    if data["type"] in DOCUMENT_ACTION_TYPES:
        document = invoice_document(rules, data["payload"]["invoice"])
    message = render_message(rules, data, approval_url=approval_url,
                             invoice_lookup=invoice_lookup, document=document)
    return Delivery.of(data, message, document, approval_link(approval_url, data))


def approval_link(approval_url: ApprovalUrl | None, action: Mapping[str, Any]) -> str | None:
    """Return the one-click link of an approval message, for the person it goes to.

    An escalation goes to `escalate_to`, so its link records their approval, not the first
    approver's.
    """
    if approval_url is None or not str(action["type"]).startswith("approval."):
        return None
    payload = action["payload"]
    person = payload["approver"]
    if action["type"] == "approval.escalated" and payload.get("escalate_to"):
        person = payload["escalate_to"]
    match = _REVISION.search(str(action["id"]))
    return approval_url(str(payload["invoice"]["id"]), int(match.group(1)) if match else 1,
                        str(person)) or None
