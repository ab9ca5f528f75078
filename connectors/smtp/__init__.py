"""The `smtp` connector: real e-mail through an SMTP server (smtplib).

One connection per delivery: implicit TLS (`tls`, usually port 465) or STARTTLS (`starttls`,
usually 587), then an optional login. The Message-ID comes from the action id, so a message
sent twice (a timeout after the server accepted it) is recognisably the same message.

Errors: a refused or timed-out connection, a dropped session and any 4xx reply are
retryable; a 5xx reply (550 mailbox unavailable), a failed login, a server that lacks a
required extension and a TLS certificate that does not verify are permanent.
"""

from __future__ import annotations

import smtplib
import ssl
from collections.abc import Iterator
from contextlib import contextmanager
from email.utils import parseaddr

from connectors.base import (
    MESSAGE_ACTION_TYPES, Connector, ConnectorContext, Delivery, DeliveryReceipt,
)
from engine.errors import ConnectorError

__all__ = ["SmtpConnector", "classify_smtp_error"]

_DEFAULT_TIMEOUT = 30.0
# OpenSSL's names for "the other side does not speak TLS here" (tls on a plain port, or the reverse).
_PROTOCOL_MISMATCH = frozenset({"WRONG_VERSION_NUMBER", "RECORD_LAYER_FAILURE", "UNKNOWN_PROTOCOL",
                                "PACKET_LENGTH_TOO_LONG", "HTTP_REQUEST"})


def _reply(code: int, text: bytes | str) -> str:
    message = text.decode("utf-8", "replace") if isinstance(text, bytes) else str(text)
    return f"{code} {' '.join(message.split())}".strip()


def classify_smtp_error(exc: BaseException) -> tuple[bool, str]:
    """Return (retryable, what happened) for an error raised while talking SMTP."""
    if isinstance(exc, smtplib.SMTPAuthenticationError):
        return False, f"login refused ({_reply(exc.smtp_code, exc.smtp_error)})"
    if isinstance(exc, smtplib.SMTPNotSupportedError):
        return False, f"the server does not support it: {exc}"
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        replies = [f"{address}: {_reply(code, text)}" for address, (code, text)
                   in sorted(exc.recipients.items())]
        retryable = all(400 <= code < 500 for code, _ in exc.recipients.values())
        return retryable, "every recipient refused (" + "; ".join(replies) + ")"
    if isinstance(exc, smtplib.SMTPResponseException):
        code = exc.smtp_code
        reply = _reply(code, exc.smtp_error)
        if 500 <= code < 600:
            return False, f"server refused ({reply})"
        return True, f"server asked to try later ({reply})"
    if isinstance(exc, smtplib.SMTPServerDisconnected):
        return True, f"the server closed the connection ({exc})"
    if isinstance(exc, smtplib.SMTPException):
        return True, str(exc)
    if isinstance(exc, ssl.SSLCertVerificationError):
        return False, f"the server's TLS certificate does not verify ({exc.verify_message})"
    if isinstance(exc, ssl.SSLError):
        # A plain-text server answering a TLS hello is a setting to fix, not a bad moment.
        permanent = exc.reason in _PROTOCOL_MISMATCH
        return not permanent, f"TLS failed ({exc.reason or exc})"
    if isinstance(exc, TimeoutError):
        return True, "timed out"
    if isinstance(exc, OSError):
        return True, f"cannot connect ({exc.strerror or exc})"
    return False, f"{type(exc).__name__}: {exc}"


class SmtpConnector(Connector):
    """Send each action's rendered message as e-mail."""

    type = "smtp"
    consumes = MESSAGE_ACTION_TYPES
    produces = frozenset()

    def __init__(self, name: str, config, context: ConnectorContext) -> None:
        super().__init__(name, config, context)
        self.host = str(config["host"])
        self.tls = bool(config.get("tls", False))
        self.starttls = bool(config.get("starttls", False))
        if self.tls and self.starttls:
            raise self.fail("choose tls or starttls, not both", retryable=False)
        default_port = 465 if self.tls else 587 if self.starttls else 25
        self.port = self.number_option("port", default_port, int)
        self.timeout = self.number_option("timeout", _DEFAULT_TIMEOUT, float)
        self.sender = str(config["from"])
        self.envelope_from = parseaddr(self.sender)[1]
        if "@" not in self.envelope_from:
            raise self.fail("option 'from' is not an e-mail address", retryable=False)
        self.username = config.get("username")
        self.password = config.get("password")
        if self.password:
            context.mark_secret(str(self.password))

    @contextmanager
    def _session(self) -> Iterator[smtplib.SMTP]:
        """Yield a connected, secured and logged-in SMTP session."""
        tls_context = ssl.create_default_context()
        if self.tls:
            session: smtplib.SMTP = smtplib.SMTP_SSL(self.host, self.port, timeout=self.timeout,
                                                     context=tls_context)
        else:
            session = smtplib.SMTP(self.host, self.port, timeout=self.timeout)
        try:
            session.ehlo()
            if self.starttls:
                session.starttls(context=tls_context)
                session.ehlo()
            if self.username:
                session.login(str(self.username), str(self.password or ""))
            yield session
        finally:
            try:
                session.quit()
            except (smtplib.SMTPException, OSError):
                session.close()

    def _error(self, exc: BaseException, doing: str) -> ConnectorError:
        retryable, what = classify_smtp_error(exc)
        return self.fail(f"{doing} via {self.host}:{self.port}: {what}", retryable=retryable)

    def deliver(self, delivery: Delivery) -> DeliveryReceipt:
        """Send the delivery's message; the PDF of an invoice rides along as an attachment."""
        self.require_consumed(delivery)
        delivery = self.prepared(delivery)
        message = delivery.message
        if message is None:
            raise self.fail(f"{delivery.idempotency_key}: no message to send", retryable=False)
        recipients = list(message.recipients)
        if not recipients:
            raise self.fail(f"{delivery.idempotency_key}: the message has no recipient",
                            retryable=False)
        mail = message.as_email(self.sender, self.context.now())
        try:
            with self._session() as session:
                refused = session.send_message(mail, from_addr=self.envelope_from,
                                               to_addrs=recipients)
        except Exception as exc:  # every failure is classified, none escapes untyped
            raise self._error(exc, f"sending {delivery.idempotency_key}") from None
        accepted = len(recipients) - len(refused)
        detail = f"accepted by {self.host} for {accepted} of {len(recipients)} recipients"
        if refused:
            # Some went out: a retry would send those twice, so report the rest instead.
            listed = "; ".join(f"{address}: {_reply(code, text)}"
                               for address, (code, text) in sorted(refused.items()))
            detail += f"; refused: {listed}"
            self.log.warning("%s: %s", delivery.idempotency_key, detail)
        else:
            self.log.info("%s: %s", delivery.idempotency_key, detail)
        return DeliveryReceipt(external_id=message.message_id, detail=detail)

    def check(self) -> str:
        """Connect, secure the connection and log in, as a delivery would."""
        try:
            with self._session() as session:
                code, _ = session.noop()
        except Exception as exc:  # classified like a delivery failure
            raise self._error(exc, "checking the connection") from None
        if not 200 <= code < 300:
            raise self.fail(f"the server answered NOOP with {code}", retryable=True)
        how = "implicit TLS" if self.tls else "STARTTLS" if self.starttls else "no TLS"
        who = f", logged in as {self.username}" if self.username else ""
        return f"smtp connector '{self.name}': connected to {self.host}:{self.port} ({how}){who}"
