"""Messages rendered from real actions of a Northwind replay: recipients, subjects, contexts."""

from __future__ import annotations

import dataclasses
import json
import re
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

import pytest

import engine.runtime.messages as messages_module
from engine.core.replay import read_events, replay
from engine.errors import ConnectorError
from engine.model.actions import Action, dump_action
from engine.model.events import Event, parse_event
from engine.ruleset.loader import load_ruleset
from engine.ruleset.templates import RenderedMessage, compile_template, longdate, money
from engine.ruleset.vocabulary import MESSAGE_VARIABLES, TEMPLATE_ROOTS
from engine.runtime.messages import (
    MESSAGE_ACTION_TYPES, build_delivery, message_id, render_message,
)

NORTHWIND = Path(__file__).resolve().parents[2] / "examples" / "northwind"
# Work events only: with no approval and no payment every draft waits and every invoice runs its
# reminders into escalation, so every message-bearing action type occurs.
WORK_EVENTS = frozenset({"time.approved", "time.unapproved", "expense.approved",
                         "milestone.completed"})
START, END = date(2026, 1, 1), date(2026, 3, 31)
COMMENT = "Please add PO 4471.\nAnd name the campaign."


def approval_link(invoice_id: str, revision: int, person: str) -> str:
    return f"https://billing.example/approve/{invoice_id}/r{revision}/{person}"


@pytest.fixture(scope="module")
def rules():
    return load_ruleset(NORTHWIND)


@pytest.fixture(scope="module")
def replayed(rules):
    """Northwind's first quarter of work, plus a flag on the first waiting draft."""
    events = [e for e in read_events(NORTHWIND / "events.ndjson")
              if isinstance(e, Event) and e.type in WORK_EVENTS]
    request = next(a for a in replay(rules, events, START, END).actions
                   if a.type == "approval.requested")
    flag = parse_event({"id": "test-flag-1", "type": "invoice.flagged",
                        "at": (request.at + timedelta(hours=1)).isoformat(),
                        "payload": {"invoice": request.payload["invoice"]["id"],
                                    "by": request.payload["approver"], "comment": COMMENT}}, "test")
    result = replay(rules, [*events, flag], START, END)
    assert not result.errors
    return result.actions


@pytest.fixture(scope="module")
def actions(replayed) -> list[dict]:
    return [json.loads(dump_action(action)) for action in replayed]


@pytest.fixture(scope="module")
def invoices(actions):
    """Look up the latest JSON of any invoice by id, as the daemon's state would."""
    known = {}
    for action in actions:
        invoice = action["payload"].get("invoice")
        if isinstance(invoice, dict):
            known[invoice["id"]] = invoice
    return known.get


def first(actions, action_type, **payload):
    for action in actions:
        if action["type"] == action_type and all(
                action["payload"].get(k) == v for k, v in payload.items()):
            return action
    raise LookupError(action_type)


def emails(recipients):
    return [address for _, address in recipients]


def test_every_message_action_of_the_replay_renders(rules, actions, invoices):
    seen = set()
    for action in actions:
        delivery = build_delivery(rules, action, approval_url=approval_link,
                                  invoice_lookup=invoices)
        if action["type"] not in MESSAGE_ACTION_TYPES:
            assert delivery.message is None
            continue
        seen.add(action["type"])
        message = delivery.message
        assert message.to and message.subject and message.body.strip()
        assert "None" not in message.subject
        assert message.message_id == message_id(action["id"])
        assert message.header("X-Billflow-Action") == action["id"]
    assert seen == MESSAGE_ACTION_TYPES


def test_message_ids_are_stable_and_distinct():
    assert re.fullmatch(r"<[0-9a-f]{32}@billflow>", message_id("invoice.issued:a/b/2026-01"))
    assert message_id("invoice.issued:a/b/2026-01") == message_id("invoice.issued:a/b/2026-01")
    assert message_id("invoice.issued:a/b/2026-01") != message_id("invoice.issued:a/b/2026-02")


def test_engine_actions_and_json_render_alike(rules, replayed):
    action = next(a for a in replayed if a.type == "invoice.issued")
    assert isinstance(action, Action)
    assert render_message(rules, action) == render_message(rules, json.loads(dump_action(action)))


def person(rules, action, key):
    return rules.agency.people[action["payload"][key]]


def shown(invoice, key):
    return money(Decimal(invoice[key]), invoice["currency"])


def test_approval_request_goes_to_the_approver_with_link_and_warnings(rules, actions):
    action = next(a for a in actions if a["type"] == "approval.requested"
                  and a["payload"].get("warnings"))
    invoice, approver = action["payload"]["invoice"], person(rules, action, "approver")
    client = rules.clients[action["client"]]
    delivery = build_delivery(rules, action, approval_url=approval_link)
    message = delivery.message
    assert message.to == ((approver.name, approver.email),)
    assert message.subject == (f"Approval needed: {client.name} invoice draft for "
                               f"{shown(invoice, 'total')}")
    assert message.body.startswith(f"Hello {approver.name},")
    link = approval_link(invoice["id"], 1, approver.id)
    assert f"here:\n{link}\n" in message.body
    for warning in action["payload"]["warnings"]:
        assert f"  - {warning}\n" in message.body
    assert message.attachments == ()
    assert delivery.link == link
    assert message.header("Auto-Submitted") == "auto-generated"


def test_approval_request_without_a_link_still_renders(rules, actions):
    message = render_message(rules, first(actions, "approval.requested"))
    assert "flag it for edits, here:\n\n" in message.body


def test_supporting_entries_are_counted(rules, actions):
    action = next(a for a in actions if a["type"] == "approval.requested"
                  and len(a["payload"]["supporting"]["time"]) > 1)
    count = len(action["payload"]["supporting"]["time"]) + len(
        action["payload"]["supporting"]["expenses"])
    body = render_message(rules, action).body
    assert f"{count} supporting entries are attached." in body


def test_reminded_and_escalated_approvals(rules, actions):
    action = first(actions, "approval.reminded")
    reminded = render_message(rules, action)
    assert reminded.subject.startswith("Reminder: Approval needed: ")
    assert emails(reminded.to) == [person(rules, action, "approver").email]
    action = first(actions, "approval.escalated")
    escalated = render_message(rules, action)
    escalate_to = person(rules, action, "escalate_to")
    assert escalated.subject.startswith("Escalated: Approval needed: ")
    assert emails(escalated.to) == [escalate_to.email]
    assert emails(escalated.cc) == [person(rules, action, "approver").email]
    assert escalated.body.startswith(f"Hello {escalate_to.name},")
    # The escalation's link records the approval of the person it goes to.
    linked = build_delivery(rules, action, approval_url=approval_link)
    assert linked.link == approval_link(action["payload"]["invoice"]["id"], 1,
                                        action["payload"]["escalate_to"])
    assert linked.link in linked.message.body


def test_issued_invoice_goes_to_billing_contacts_with_its_pdf(rules, actions):
    action = first(actions, "invoice.issued")
    invoice = action["payload"]["invoice"]
    client = rules.clients[action["client"]]
    delivery = build_delivery(rules, action)
    message = delivery.message
    assert message.to == tuple((c.name, c.email) for c in client.billing_contacts)
    assert message.subject == f"Invoice {invoice['number']} from {rules.agency.name}"
    assert message.body.startswith(f"Hello {client.billing_contacts[0].name},")
    assert f"Total due: {shown(invoice, 'total')}" in message.body
    assert f"Due date: {longdate(invoice['due_date'])}" in message.body
    assert rules.agency.payment_instructions.splitlines()[0] in message.body
    assert "\n\n\n" not in message.body
    [pdf] = message.attachments
    assert (pdf.filename, pdf.content_type) == (f"{invoice['number']}.pdf", "application/pdf")
    assert pdf.data == delivery.document.pdf and pdf.data.startswith(b"%PDF-")
    assert message.header("Auto-Submitted") is None  # client mail may be answered by a person


@pytest.mark.parametrize("template, subject", [
    ("friendly_nudge", "A quick note about invoice {number}"),  # Northwind's own wording
    ("due_today", "Invoice {number} is due today"),             # the built-in one
    ("overdue", "Invoice {number} is past due"),                # Northwind's own wording
])
def test_reminders_use_their_steps_template(rules, actions, template, subject):
    # "due today" holds when the reminder goes out on the due date itself (not moved off a weekend).
    action = next(a for a in actions if a["type"] == "reminder.sent"
                  and a["payload"]["template"] == template
                  and (template != "due_today" or a["at"][:10] == a["payload"]["invoice"]["due_date"]))
    invoice = action["payload"]["invoice"]
    contact = rules.clients[action["client"]].billing_contacts[0]
    message = build_delivery(rules, action).message
    assert message.subject == subject.format(number=invoice["number"])
    assert message.template == template
    assert message.to[0] == (contact.name, contact.email)
    assert contact.name in message.body.splitlines()[0]
    assert [a.filename for a in message.attachments] == [f"{invoice['number']}.pdf"]


def test_reminders_print_the_balance_of_the_action(rules, actions):
    action = first(actions, "reminder.sent", template="friendly_nudge")
    changed = {**action, "payload": {**action["payload"], "balance": "12.34"}}
    assert f"(12.34 {action['payload']['invoice']['currency']})" in render_message(
        rules, changed).body


def test_escalation_notifies_people_and_mentions_the_late_fee(rules, actions, invoices):
    action = next(a for a in actions if a["type"] == "escalation.triggered"
                  and a["payload"].get("late_fee_invoice"))
    payload, invoice = action["payload"], action["payload"]["invoice"]
    message = render_message(rules, action, invoice_lookup=invoices)
    assert emails(message.to) == [rules.agency.people[p].email for p in payload["notify"]]
    days = payload["days_overdue"]
    assert message.subject == (f"Escalation: {rules.clients[action['client']].name} invoice "
                               f"{invoice['number']} is {days} days overdue")
    fee = invoices(payload["late_fee_invoice"])
    assert (f"A late-fee invoice of {shown(fee, 'total')} ({fee['id']}) has been drafted"
            in message.body)
    assert f'Raised by escalation rule "{payload["rule"]}".' in message.body
    without_lookup = render_message(rules, action)
    assert "late-fee invoice" not in without_lookup.body


def test_escalation_resolves_roles_too(rules, actions):
    action = first(actions, "escalation.triggered")
    action = {**action, "payload": {**action["payload"], "notify": ["account_lead", "partner"]}}
    message = render_message(rules, action)
    lead = rules.agency.people[rules.clients[action["client"]].account_lead]
    partners = [p.email for p in rules.agency.people_with_role("partner") if p.email != lead.email]
    assert emails(message.to) == [lead.email, *partners]


def test_flagged_draft_goes_back_to_its_author_with_the_comment(rules, actions):
    action = first(actions, "invoice.flagged")
    author, by = person(rules, action, "author"), person(rules, action, "by")
    client = rules.clients[action["client"]]
    message = render_message(rules, action)
    assert message.to == ((author.name, author.email),)
    assert emails(message.reply_to) == [by.email]
    assert message.subject == (f"Flagged for edits: {client.name} invoice draft "
                               f"{action['payload']['invoice']['id']}")
    assert "  > Please add PO 4471.\n  > And name the campaign.\n" in message.body
    assert f"{by.name} flagged the draft invoice for {client.name}" in message.body
    assert message.template is None


class Spy:
    """A template stand-in that records the context it is rendered with."""

    def __init__(self) -> None:
        self.contexts: list[dict] = []

    def render(self, context):
        self.contexts.append(dict(context))
        return RenderedMessage("subject", "body")


def test_contexts_hold_exactly_the_vocabulary_with_typed_values(rules, actions, invoices):
    spy = Spy()
    spied = dataclasses.replace(rules, templates={name: spy for name in rules.templates})
    expected = {"approval.requested": "approval_request", "invoice.issued": "invoice",
                "reminder.sent": "reminder", "escalation.triggered": "escalation"}
    for action_type, message in expected.items():
        render_message(spied, first(actions, action_type), invoice_lookup=invoices)
        context = spy.contexts[-1]
        assert set(context) == MESSAGE_VARIABLES[message], action_type
        invoice = context["invoice"]
        assert set(invoice) == TEMPLATE_ROOTS["invoice"]
        assert all(isinstance(invoice[k], Decimal) for k in ("subtotal", "tax", "total", "balance"))
        assert isinstance(invoice["lines"][0]["amount"], Decimal)
        assert isinstance(invoice["period"]["start"], date)
        assert isinstance(context["today"], date)
        assert set(context["client"]) == TEMPLATE_ROOTS["client"]
        assert set(context["agency"]) == TEMPLATE_ROOTS["agency"]
        if "contact" in context:
            assert set(context["contact"]) == TEMPLATE_ROOTS["contact"]
    approval = spy.contexts[0]
    assert isinstance(approval["supporting"], list) and isinstance(approval["warnings"], list)
    assert set(approval["approver"]) == TEMPLATE_ROOTS["approver"]
    escalation = spy.contexts[-1]
    assert set(escalation["escalation"]) == TEMPLATE_ROOTS["escalation"]
    assert set(escalation["late_fee_invoice"]) == TEMPLATE_ROOTS["late_fee_invoice"]
    reminder, sent = spy.contexts[2], first(actions, "reminder.sent")
    assert reminder["step"] == {"id": sent["payload"]["step"], "offset": sent["payload"]["step"],
                                "template": sent["payload"]["template"]}
    assert reminder["invoice"]["trigger"] in {"billing_day", "milestone", "timesheet"}
    assert isinstance(reminder["invoice"]["is_first"], bool)


def test_every_invoice_field_is_in_every_context(rules, actions):
    fields = sorted(TEMPLATE_ROOTS["invoice"])
    body = " ".join(f"{{{{ invoice.{name} is none }}}}" for name in fields)
    for action_type, template_id in (("approval.requested", "approval_request"),
                                     ("invoice.issued", "invoice"),
                                     ("reminder.sent", "friendly_nudge"),
                                     ("escalation.triggered", "escalation")):
        custom = compile_template(template_id, "s", body)
        patched = dataclasses.replace(rules, templates={**rules.templates, template_id: custom})
        assert render_message(patched, first(actions, action_type)).body.count("False") >= 15


def test_a_template_that_cannot_render_is_a_permanent_error(rules, actions):
    broken = compile_template("approval_request", "Invoice {{ invoice.number }}", "body")
    patched = dataclasses.replace(rules, templates={**rules.templates, "approval_request": broken})
    with pytest.raises(ConnectorError) as caught:
        render_message(patched, first(actions, "approval.requested"))
    assert caught.value.retryable is False
    assert "template 'approval_request' cannot be rendered" in str(caught.value)


def test_unknown_clients_and_people_are_permanent_errors(rules, actions):
    action = first(actions, "approval.requested")
    with pytest.raises(ConnectorError, match="person 'nobody'"):
        render_message(rules, {**action, "payload": {**action["payload"], "approver": "nobody"}})
    with pytest.raises(ConnectorError, match="client 'ghost'"):
        render_message(rules, {**action, "client": "ghost"})


def test_public_api_is_explicit():
    for name in messages_module.__all__:
        assert hasattr(messages_module, name), name
