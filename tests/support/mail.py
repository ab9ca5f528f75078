"""A real SMTP server (aiosmtpd) on loopback, catching what the daemon's smtp connector sends.

Rule sets under test take the server's address from `${SMTP_HOST}` and `${SMTP_PORT}`:
`smtp_env` gives both for the port `smtp_server` or `mailbox_server` yields.
"""

from __future__ import annotations

import email
import email.policy
from collections.abc import Iterator
from contextlib import contextmanager
from email.message import EmailMessage

from aiosmtpd.controller import Controller

from tests.support.net import LOOPBACK, free_port


class Mailbox:
    """An aiosmtpd handler keeping every accepted message with its envelope."""

    def __init__(self) -> None:
        self.received: list[tuple[str, list[str], EmailMessage]] = []  # (from, to, message)

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd's name
        mail = email.message_from_bytes(envelope.original_content, policy=email.policy.default)
        self.received.append((envelope.mail_from, list(envelope.rcpt_tos), mail))
        return "250 Message accepted for delivery"

    def to(self, address: str, subject_part: str = "") -> list[EmailMessage]:
        """The messages sent to `address` whose subject contains `subject_part`, in order."""
        return [mail for _, rcpt, mail in self.received
                if address in rcpt and subject_part in str(mail["Subject"])]

    def by_message_id(self) -> dict[str, tuple[str, list[str], EmailMessage]]:
        return {str(mail["Message-ID"]): (sender, rcpt, mail)
                for sender, rcpt, mail in self.received}


@contextmanager
def smtp_server(handler: object, controller: type[Controller] = Controller) -> Iterator[int]:
    """Serve SMTP on a free loopback port with `handler`; yield the port."""
    port = free_port()
    server = controller(handler, hostname=LOOPBACK, port=port)
    server.start()
    try:
        yield port
    finally:
        server.stop()


@contextmanager
def mailbox_server() -> Iterator[tuple[Mailbox, int]]:
    """Catch mail in a `Mailbox` served on a free loopback port; yield it and the port."""
    mailbox = Mailbox()
    with smtp_server(mailbox) as port:
        yield mailbox, port


def smtp_env(port: int) -> dict[str, str]:
    """The environment pointing a rule set's smtp connector at `port` on loopback."""
    return {"SMTP_HOST": LOOPBACK, "SMTP_PORT": str(port)}
