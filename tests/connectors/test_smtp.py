"""The smtp connector against a real SMTP server on loopback (aiosmtpd)."""

from __future__ import annotations

import email
import email.policy
import socket
from collections.abc import Iterator

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult

from connectors.base import ConnectorContext, Delivery
from connectors.smtp import SmtpConnector
from engine.errors import ConnectorError
from engine.runtime.messages import build_delivery, message_id


class Mailbox:
    """An aiosmtpd handler that keeps what it accepts and answers as told."""

    def __init__(self) -> None:
        self.received: list[email.message.EmailMessage] = []
        self.envelopes: list[tuple[str, list[str]]] = []
        self.rcpt_replies: dict[str, str] = {}
        self.data_reply: str | None = None

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address in self.rcpt_replies:
            return self.rcpt_replies[address]
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        if self.data_reply:
            return self.data_reply
        self.envelopes.append((envelope.mail_from, list(envelope.rcpt_tos)))
        self.received.append(email.message_from_bytes(envelope.original_content,
                                                      policy=email.policy.default))
        return "250 Message accepted for delivery"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def check_login(server, session, envelope, mechanism, auth_data) -> AuthResult:
    # handled=False: aiosmtpd then answers a failure with 535 itself.
    return AuthResult(success=(auth_data.login, auth_data.password) == (b"billing", b"right-one"),
                      handled=False)


@pytest.fixture()
def server() -> Iterator[tuple[Mailbox, int]]:
    mailbox = Mailbox()
    port = free_port()
    controller = Controller(mailbox, hostname="127.0.0.1", port=port, authenticator=check_login,
                            auth_require_tls=False)
    controller.start()
    try:
        yield mailbox, port
    finally:
        controller.stop()


def connector(port: int, rules, **options) -> SmtpConnector:
    config = {"host": "127.0.0.1", "port": port, "from": "Northwind Billing <billing@northwind.example>",
              "timeout": 5, **options}
    return SmtpConnector("mail", config, ConnectorContext(rules))


def test_sends_the_invoice_with_its_pdf(server, rules, first_of):
    mailbox, port = server
    action = first_of("invoice.issued")
    receipt = connector(port, rules).deliver(build_delivery(rules, action))
    [mail] = mailbox.received
    [(sender, recipients)] = mailbox.envelopes
    contacts = [c.email for c in rules.clients[action["client"]].billing_contacts]
    assert sender == "billing@northwind.example"
    assert recipients == contacts
    assert mail["Message-ID"] == message_id(action["id"]) == receipt.external_id
    assert mail["From"].addresses[0].display_name == "Northwind Billing"
    [pdf] = list(mail.iter_attachments())
    assert pdf.get_content_type() == "application/pdf"
    assert pdf.get_content().startswith(b"%PDF-")
    assert "accepted by 127.0.0.1" in receipt.detail


def test_the_same_action_keeps_its_message_id(server, rules, first_of):
    mailbox, port = server
    mail = connector(port, rules)
    action = first_of("reminder.sent")
    mail.deliver(build_delivery(rules, action))
    mail.deliver(build_delivery(rules, action))
    assert len(mailbox.received) == 2
    ids = {received["Message-ID"] for received in mailbox.received}
    assert ids == {message_id(action["id"])}


def email_of(rules, person_id: str) -> str:
    return rules.agency.people[person_id].email


def test_internal_messages_go_to_staff_with_cc(server, rules, first_of):
    mailbox, port = server
    action = first_of("approval.escalated")
    connector(port, rules).deliver(build_delivery(rules, action))
    [(_, recipients)] = mailbox.envelopes
    approver = rules.agency.people[action["payload"]["approver"]]
    assert recipients == [email_of(rules, action["payload"]["escalate_to"]), approver.email]
    assert mailbox.received[0]["Cc"] == f"{approver.name} <{approver.email}>"


def test_a_4xx_reply_is_retryable(server, rules, first_of):
    mailbox, port = server
    mailbox.data_reply = "451 4.3.0 Try again later"
    with pytest.raises(ConnectorError) as caught:
        connector(port, rules).deliver(build_delivery(rules, first_of("invoice.issued")))
    assert caught.value.retryable is True
    assert "451" in str(caught.value)


def test_a_5xx_reply_is_permanent(server, rules, first_of):
    mailbox, port = server
    action = first_of("approval.requested")
    mailbox.rcpt_replies[email_of(rules, action["payload"]["approver"])] = (
        "550 5.1.1 Mailbox unavailable")
    with pytest.raises(ConnectorError) as caught:
        connector(port, rules).deliver(build_delivery(rules, action))
    assert caught.value.retryable is False
    assert "550 5.1.1 Mailbox unavailable" in str(caught.value)
    assert mailbox.received == []


def test_a_partly_refused_message_is_reported_not_resent(server, rules, first_of):
    mailbox, port = server
    action = first_of("approval.escalated")
    approver = email_of(rules, action["payload"]["approver"])
    mailbox.rcpt_replies[approver] = "550 5.1.1 Mailbox unavailable"
    receipt = connector(port, rules).deliver(build_delivery(rules, action))
    assert len(mailbox.received) == 1
    assert "1 of 2 recipients" in receipt.detail
    assert f"{approver}: 550" in receipt.detail


def test_login_and_a_failed_login(server, rules, first_of):
    mailbox, port = server
    good = connector(port, rules, username="billing", password="right-one")
    good.deliver(build_delivery(rules, first_of("invoice.issued")))
    assert len(mailbox.received) == 1
    assert "logged in as billing" in good.check()
    bad = connector(port, rules, username="billing", password="wrong-one")
    with pytest.raises(ConnectorError) as caught:
        bad.deliver(build_delivery(rules, first_of("invoice.issued")))
    assert caught.value.retryable is False
    assert "login refused" in str(caught.value)
    assert "wrong-one" not in str(caught.value)


def test_a_refused_connection_is_retryable(rules, first_of):
    with pytest.raises(ConnectorError) as caught:
        connector(free_port(), rules).deliver(build_delivery(rules, first_of("invoice.issued")))
    assert caught.value.retryable is True
    assert "cannot connect" in str(caught.value)


def test_a_silent_server_times_out_and_is_retryable(rules, first_of):
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(1)
        port = silent.getsockname()[1]
        with pytest.raises(ConnectorError) as caught:
            connector(port, rules, timeout=0.3).deliver(
                build_delivery(rules, first_of("invoice.issued")))
    assert caught.value.retryable is True
    assert "timed out" in str(caught.value)


def test_tls_against_a_plain_server_is_a_setting_to_fix(server, rules, first_of):
    _, port = server
    with pytest.raises(ConnectorError) as caught:
        connector(port, rules, tls=True).deliver(build_delivery(rules, first_of("invoice.issued")))
    assert caught.value.retryable is False
    assert "TLS failed" in str(caught.value)


def test_check_connects(server, rules):
    _, port = server
    assert connector(port, rules).check() == (
        f"smtp connector 'mail': connected to 127.0.0.1:{port} (no TLS)")


def test_a_bare_delivery_is_rendered_with_its_pdf(server, rules, first_of):
    mailbox, port = server
    connector(port, rules).deliver(Delivery.of(first_of("invoice.issued")))
    assert len(list(mailbox.received[0].iter_attachments())) == 1


def test_configuration_mistakes_are_permanent(rules):
    with pytest.raises(ConnectorError, match="tls or starttls"):
        connector(25, rules, tls=True, starttls=True)
    with pytest.raises(ConnectorError, match="'from' is not an e-mail address"):
        connector(25, rules, **{"from": "Billing"})
    ports = [SmtpConnector("m", {"host": "h", "from": "a@b.example", **tls}, ConnectorContext()).port
             for tls in ({}, {"starttls": True}, {"tls": True})]
    assert ports == [25, 587, 465]
