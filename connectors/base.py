"""The connector interface: what a connector receives, returns, raises and may use.

A connector type is a class with three class attributes and three methods:

    type       the name used in an Agency's `connectors:` (`type: smtp`)
    consumes   the action types it carries out (a subset of ACTION_TYPES)
    produces   the event types it emits (a subset of EVENT_TYPES)
    deliver(delivery) -> DeliveryReceipt    carry out one action, or raise ConnectorError
    check() -> str                          verify configuration and credentials
    close()                                 release connections

A connector that brings events in (its `produces` is not empty) also overrides one or both of

    sync(cursor) -> SyncResult              what changed at the vendor since `cursor`
    webhook(request) -> WebhookReply        a push from the vendor to /webhooks/{name}

and keeps its cursor, handshake secrets and OAuth tokens in `self.state` (connectors/state.py).

`deliver` is called with the action id as the idempotency key, possibly more than once for
the same action (a retry after a timeout): a connector must make a repeat harmless where the
far side allows it. It raises `ConnectorError(message, retryable=..., retry_after=...)` and
nothing else; a message never contains a secret.
"""

from __future__ import annotations

import email.policy
import hashlib
import logging
import os
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime, parsedate_to_datetime
from types import MappingProxyType
from typing import Any, ClassVar

import httpx

from connectors.sources import SyncResult, WebhookReply, WebhookRequest
from connectors.state import ConnectorState, MemoryBackend, StateBackend, sealer_from_env
from engine.errors import ConnectorError
from engine.ruleset.types import RuleSet

__all__ = [
    "MESSAGE_ACTION_TYPES",
    "Attachment",
    "Message",
    "Document",
    "Delivery",
    "DeliveryReceipt",
    "ConnectorContext",
    "Connector",
    "Recipient",
    "ENV_REFERENCE",
    "retry_after_seconds",
    "http_status_error",
    "http_transport_error",
]

Recipient = tuple[str, str]
"""A (display name, e-mail address) pair; the name may be empty."""

# RFC 5322's hard line limit: ids in X-Billflow headers stay on one line, unfolded.
_MAIL_POLICY = email.policy.SMTP.clone(max_line_length=998)

ENV_REFERENCE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


# The action types that send a message (a person is told something): what the message
# connectors (files, smtp, slack) carry out.
MESSAGE_ACTION_TYPES = frozenset({
    "approval.requested", "approval.reminded", "approval.escalated", "invoice.issued",
    "reminder.sent", "escalation.triggered", "invoice.flagged",
})


@dataclass(frozen=True)
class Attachment:
    """A file sent with a message."""

    filename: str
    content_type: str
    data: bytes = field(repr=False)


@dataclass(frozen=True)
class Message:
    """A rendered message, ready for any channel; `headers` include a stable Message-ID."""

    to: tuple[Recipient, ...]
    subject: str
    body: str
    cc: tuple[Recipient, ...] = ()
    html_body: str | None = None
    reply_to: tuple[Recipient, ...] = ()
    headers: tuple[tuple[str, str], ...] = ()
    attachments: tuple[Attachment, ...] = ()
    template: str | None = None

    def header(self, name: str) -> str | None:
        """Return the value of header `name` (case-insensitive), or None."""
        wanted = name.lower()
        return next((value for key, value in self.headers if key.lower() == wanted), None)

    @property
    def message_id(self) -> str | None:
        return self.header("Message-ID")

    @property
    def recipients(self) -> tuple[str, ...]:
        """Return every address the message goes to (To, then Cc), without repeats."""
        seen: dict[str, None] = {}
        for _, address in (*self.to, *self.cc):
            seen.setdefault(address, None)
        return tuple(seen)

    def as_email(self, sender: str, sent_at: datetime) -> EmailMessage:
        """Build the RFC 5322 message, attachments included, from `sender` at `sent_at`."""
        mail = EmailMessage(policy=_MAIL_POLICY)
        mail["From"] = sender
        mail["To"] = _addresses(self.to)
        if self.cc:
            mail["Cc"] = _addresses(self.cc)
        if self.reply_to:
            mail["Reply-To"] = _addresses(self.reply_to)
        mail["Subject"] = self.subject
        mail["Date"] = format_datetime(sent_at if sent_at.tzinfo else
                                       sent_at.replace(tzinfo=timezone.utc))
        for name, value in self.headers:
            mail[name] = value
        mail.set_content(self.body)
        if self.html_body is not None:
            mail.add_alternative(self.html_body, subtype="html")
        for attachment in self.attachments:
            maintype, _, subtype = attachment.content_type.partition("/")
            mail.add_attachment(attachment.data, maintype=maintype,
                                subtype=subtype or "octet-stream", filename=attachment.filename)
        # MIME boundaries are random by default; derived ones make the same message the same bytes.
        seed = self._digest(sender, sent_at) if mail.is_multipart() else ""
        for index, part in enumerate(p for p in mail.walk() if p.is_multipart()):
            part.set_boundary(f"=_billflow_{seed}_{index}")
        return mail


    def _digest(self, sender: str, sent_at: datetime) -> str:
        digest = hashlib.sha256(repr((self.to, self.cc, self.reply_to, self.subject, self.body,
                                      self.html_body, self.headers, sender,
                                      sent_at.isoformat())).encode("utf-8"))
        for attachment in self.attachments:
            digest.update(attachment.filename.encode("utf-8"))
            digest.update(attachment.data)
        return digest.hexdigest()[:24]


def _addresses(recipients: Iterable[Recipient]) -> list[Address]:
    result = []
    for name, address in recipients:
        username, _, domain = address.rpartition("@")
        result.append(Address(display_name=name, username=username, domain=domain))
    return result


@dataclass(frozen=True)
class Document:
    """An invoice rendered for people: printable HTML and PDF."""

    invoice_id: str
    number: str | None
    html: str = field(repr=False)
    pdf: bytes = field(repr=False)

    @property
    def stem(self) -> str:
        """Return a file name stem: the number once issued, else the draft id."""
        return safe_filename(self.number or self.invoice_id)


def safe_filename(text: str) -> str:
    """Return `text` with everything but letters, digits, '.', '_' and '-' made '_'."""
    cleaned = re.sub(r"[^A-Za-z0-9._-]+", "_", text).strip("._")
    return cleaned or "_"


@dataclass(frozen=True)
class Delivery:
    """One action to carry out: its JSON, its idempotency key, and what was rendered for it."""

    action: Mapping[str, Any]
    idempotency_key: str
    message: Message | None = None
    document: Document | None = None
    link: str | None = None

    @classmethod
    def of(cls, action: Mapping[str, Any], message: Message | None = None,
           document: Document | None = None, link: str | None = None) -> "Delivery":
        """Wrap an action's JSON; its id is the idempotency key."""
        return cls(MappingProxyType(dict(action)), str(action["id"]), message, document, link)

    @property
    def type(self) -> str:
        return str(self.action["type"])

    @property
    def payload(self) -> Mapping[str, Any]:
        return self.action.get("payload") or {}

    @property
    def invoice(self) -> Mapping[str, Any] | None:
        """Return the invoice object of the action, if it has one."""
        invoice = self.payload.get("invoice")
        return invoice if isinstance(invoice, Mapping) else None


@dataclass(frozen=True)
class DeliveryReceipt:
    """What the far side said: its id for the thing made (if any) and a short note."""

    external_id: str | None
    detail: str


class _Redactor:
    """Remember secret values and blank them out of any text."""

    def __init__(self) -> None:
        self._secrets: set[str] = set()

    def add(self, value: str) -> None:
        # Very short values would blank out ordinary words; no real secret is that short.
        if len(value) >= 4:
            self._secrets.add(value)

    def __call__(self, text: str) -> str:
        for secret in sorted(self._secrets, key=len, reverse=True):
            text = text.replace(secret, "***")
        return text


class _RedactingLogger(logging.LoggerAdapter):
    """A logger adapter that formats the message itself and removes secrets from it."""

    def __init__(self, logger: logging.Logger, redact: _Redactor) -> None:
        super().__init__(logger, {})
        self._redact = redact

    def log(self, level: int, msg: object, *args: object, **kwargs: Any) -> None:
        if not self.isEnabledFor(level):
            return
        text = str(msg) % args if args else str(msg)
        kwargs.pop("exc_info", None)  # a traceback could quote a secret from a local
        self.logger.log(level, self._redact(text), **kwargs)


class ConnectorContext:
    """What a connector may use: the rule set, `${ENV}` resolution, HTTP clients, a logger, a clock."""

    def __init__(self, rules: RuleSet | None = None, *,
                 env: Mapping[str, str] | None = None,
                 http_client_factory: Callable[..., httpx.Client] | None = None,
                 logger: logging.Logger | None = None,
                 clock: Callable[[], datetime] | None = None,
                 state: StateBackend | None = None) -> None:
        self.rules = rules
        self._env = os.environ if env is None else env
        self._state = state if state is not None else MemoryBackend()
        self._sealer = sealer_from_env(self._env)
        self._http_client_factory = http_client_factory or httpx.Client
        self._redact = _Redactor()
        self._logger = logger or logging.getLogger("billflow.connectors")
        self._clock = clock or (lambda: datetime.now(timezone.utc))

    def now(self) -> datetime:
        """Return the current time (aware)."""
        return self._clock()

    def logger(self, name: str | None = None) -> logging.LoggerAdapter:
        """Return a logger (a child named `name`, if given) that never prints a known secret."""
        base = self._logger.getChild(name) if name else self._logger
        return _RedactingLogger(base, self._redact)

    def redact(self, text: str) -> str:
        """Return `text` with every secret this context has resolved replaced by ***."""
        return self._redact(text)

    def mark_secret(self, value: str) -> None:
        """Treat `value` as a secret from now on (never logged, never in an error)."""
        self._redact.add(value)

    def resolve(self, value: Any, where: str, *, secret: bool = False) -> Any:
        """Replace every `${NAME}` in `value` (strings, lists, mappings) from the environment."""
        if isinstance(value, str):
            return self._resolve_text(value, where, secret)
        if isinstance(value, Mapping):
            return {key: self.resolve(item, f"{where}.{key}", secret=secret)
                    for key, item in value.items()}
        if isinstance(value, (list, tuple)):
            return [self.resolve(item, f"{where}[{i}]", secret=secret)
                    for i, item in enumerate(value)]
        return value

    def _resolve_text(self, text: str, where: str, secret: bool) -> str:
        def lookup(match: re.Match[str]) -> str:
            name = match.group(1)
            found = self._env.get(name)
            if found is None:
                raise ConnectorError(f"{where}: environment variable {name} is not set",
                                     retryable=False)
            # Anything read from the environment may be a credential: keep it out of logs.
            self._redact.add(found)
            return found

        resolved = ENV_REFERENCE.sub(lookup, text)
        if secret:
            self._redact.add(resolved)
        return resolved

    def state_for(self, connector: str) -> ConnectorState:
        """Return the kept state of connector instance `connector` (secrets sealed at rest)."""
        return ConnectorState(self._state, connector, self._sealer)

    def http_client(self, **options: Any) -> httpx.Client:
        """Return a new httpx client; tests pass a factory that adds a MockTransport."""
        return self._http_client_factory(**options)


class Connector:
    """Base of every connector type; subclasses set the class attributes and override methods."""

    type: ClassVar[str] = ""
    consumes: ClassVar[frozenset[str]] = frozenset()
    produces: ClassVar[frozenset[str]] = frozenset()

    def __init__(self, name: str, config: Mapping[str, Any], context: ConnectorContext) -> None:
        self.name = name
        self.config: Mapping[str, Any] = MappingProxyType(dict(config))
        self.context = context
        self.log = context.logger(name)
        self.state = context.state_for(name)

    def deliver(self, delivery: Delivery) -> DeliveryReceipt:
        """Carry out one action; raise ConnectorError (retryable or not) when it cannot."""
        raise ConnectorError(f"connector '{self.name}' ({self.type}) delivers nothing",
                             retryable=False)

    def check(self) -> str:
        """Verify the configuration (and credentials, where possible); return what was checked."""
        return f"{self.type} connector '{self.name}' is configured"

    def close(self) -> None:
        """Release whatever the connector holds open."""

    # Sources (connectors whose `produces` is not empty) override these.

    default_poll_interval: ClassVar[float] = 300.0  # seconds; the `poll_interval` option wins

    def sync(self, cursor: Mapping[str, Any] | None) -> SyncResult:
        """Return the events for what changed since `cursor` (None: from the start) and the new cursor."""
        raise self.fail("has nothing to poll", retryable=False)

    def webhook(self, request: WebhookRequest) -> WebhookReply:
        """Verify and translate one push from the vendor."""
        return WebhookReply.refused(404, f"connector '{self.name}' takes no webhooks")

    @classmethod
    def polls(cls) -> bool:
        """True when the type overrides `sync` (the daemon then polls it)."""
        return cls.sync is not Connector.sync

    def poll_interval(self) -> float:
        """Return seconds between polls: the `poll_interval` option (30s, 5m, 1h) or the default."""
        text = str(self.config.get("poll_interval") or "").strip()
        if not text:
            return self.default_poll_interval
        unit = {"s": 1, "m": 60, "h": 3600}.get(text[-1:])
        if unit is None or not text[:-1].isdigit() or int(text[:-1]) <= 0:
            raise self.fail("option 'poll_interval' must look like 30s, 5m or 1h", retryable=False)
        return float(int(text[:-1]) * unit)

    def __enter__(self) -> "Connector":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name!r} ({self.type})>"

    # Helpers for subclasses.

    def fail(self, message: str, *, retryable: bool, retry_after: float | None = None) -> ConnectorError:
        """Return a ConnectorError naming this connector, with any secret removed."""
        text = self.context.redact(f"connector '{self.name}' ({self.type}): {message}")
        return ConnectorError(text, retryable=retryable, retry_after=retry_after)

    def prepared(self, delivery: Delivery) -> Delivery:
        """Return `delivery` with its message and invoice document, rendering what is missing."""
        if self.context.rules is None:
            return delivery
        # The runtime sits above connectors: import it only for this fallback.
        from engine.runtime.messages import DOCUMENT_ACTION_TYPES, build_delivery

        lacks_message = delivery.message is None and delivery.type in MESSAGE_ACTION_TYPES
        lacks_document = delivery.document is None and delivery.type in DOCUMENT_ACTION_TYPES
        if not (lacks_message or lacks_document):
            return delivery
        built = build_delivery(self.context.rules, delivery.action)
        return Delivery(delivery.action, delivery.idempotency_key,
                        delivery.message or built.message, delivery.document or built.document,
                        delivery.link)

    def require_consumed(self, delivery: Delivery) -> None:
        """Refuse, permanently, an action type this connector does not carry out."""
        if delivery.type not in self.consumes:
            raise self.fail(f"does not carry out '{delivery.type}' actions", retryable=False)

    def option(self, key: str, default: Any = None) -> Any:
        return self.config.get(key, default)

    def number_option(self, key: str, default: float | int, kind: type = float) -> Any:
        """Return option `key` as `kind` (an `${ENV}` value arrives as text); refuse a bad one."""
        value = self.config.get(key, default)
        try:
            number = kind(value)
        except (TypeError, ValueError):
            raise self.fail(f"option '{key}' must be a number", retryable=False) from None
        if number <= 0:
            raise self.fail(f"option '{key}' must be greater than zero", retryable=False)
        return number


def retry_after_seconds(value: str | None, now: datetime) -> float | None:
    """Parse a Retry-After header: delay-seconds or an HTTP date; None if absent or unreadable."""
    if not value:
        return None
    text = value.strip()
    if text.isdigit():
        return float(text)
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    return max(0.0, (when - now).total_seconds())


def http_status_error(connector: Connector, response: httpx.Response, doing: str) -> ConnectorError:
    """Type a failed HTTP reply: 429 and 5xx (and 408) are retryable, other 4xx permanent."""
    status = response.status_code
    # The body says why (Slack: "channel_not_found"); keep it short, it goes into logs.
    reason = " ".join(response.text.split())[:200] if response.content else response.reason_phrase
    what = f"{doing}: HTTP {status} {reason}".rstrip()
    if status == 429 or status == 408 or status >= 500:
        delay = retry_after_seconds(response.headers.get("Retry-After"), connector.context.now())
        return connector.fail(what, retryable=True, retry_after=delay)
    return connector.fail(what, retryable=False)


def http_transport_error(connector: Connector, exc: Exception, doing: str) -> ConnectorError:
    """Type an HTTP failure that got no reply: a bad URL is permanent, the network is not."""
    if isinstance(exc, (httpx.UnsupportedProtocol, httpx.InvalidURL)):
        return connector.fail(f"{doing}: the URL is not usable ({type(exc).__name__})",
                              retryable=False)
    kind = "timed out" if isinstance(exc, httpx.TimeoutException) else "no reply"
    # httpx messages can quote the URL, which may be the credential itself (Slack).
    return connector.fail(f"{doing}: {kind} ({type(exc).__name__})", retryable=True)
