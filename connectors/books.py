"""The shared flow of an accounting-system connector (QuickBooks Online, Xero).

    deliver  invoice.issued -> find the client's party, create the invoice once (the
             vendor's idempotency key from the action id), e-mail it if asked;
             invoice.voided -> void it (connectors/books_invoices.py)
    sync     payments changed since the cursor -> payment.received (books_payments.py)
    webhook  the vendor's base64 HMAC-SHA256 signature checked on the raw body; a replayed
             delivery adds nothing (replay_guard.py); what it names is read and its payments
             become payment.received
    check    the tokens refresh, the account answers, every client has a party

A vendor's connector subclasses `BooksConnector` with its settings, API, directory, poster and
payment reader, and says what its webhooks name and what its account is called.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from connectors.base import Connector, ConnectorContext, Delivery, DeliveryReceipt
from connectors.books_api import BooksApi
from connectors.books_directory import PartyDirectory
from connectors.books_invoices import InvoicePoster
from connectors.books_payments import PaymentReader
from connectors.books_settings import BooksSettings
from connectors.oauth import OAuthClient, TokenKeeper, TokenSet
from connectors.replay_guard import ReplayGuard
from connectors.signatures import hmac_matches
from connectors.sources import SyncResult, WebhookReply, WebhookRequest
from connectors.wire import decode_json
from engine.errors import ConnectorError, UnmappedRecord
from engine.ruleset.types import Client, RuleSet

__all__ = ["BooksConnector"]


class BooksConnector(Connector):
    """Post invoices to one account of an accounting system and read its payments."""

    consumes = frozenset({"invoice.issued", "invoice.voided"})
    produces = frozenset({"payment.received"})
    default_poll_interval = 900.0  # webhooks bring payments sooner; polling catches misses

    vendor: ClassVar[str] = ""  # as people know it: "QuickBooks"
    app: ClassVar[str] = ""  # whose OAuth2 app: "the Intuit app"
    settings_type: ClassVar[type[BooksSettings]] = BooksSettings
    webhook_option: ClassVar[str] = ""  # the option holding the webhook key
    signature_header: ClassVar[str] = ""
    delivery: ClassVar[str] = ""  # what a webhook delivery is: "an Intuit webhook delivery"
    directory_type: ClassVar[type[PartyDirectory]] = PartyDirectory
    poster_type: ClassVar[type[InvoicePoster]] = InvoicePoster
    payments_type: ClassVar[type[PaymentReader]] = PaymentReader

    def __init__(self, name: str, config: Mapping[str, Any], context: ConnectorContext) -> None:
        super().__init__(name, config, context)
        try:
            self.settings: Any = self.settings_type.read(config, self.number_option)
        except ValueError as exc:
            raise self.fail(str(exc), retryable=False) from None
        for secret in self.settings.secrets:
            context.mark_secret(secret)
        self.oauth = OAuthClient(self, self.vendor, self.settings.authorize_url,
                                 self.settings.token_url, self.settings.client_id or "",
                                 self.settings.client_secret or "", self.settings.scopes,
                                 timeout=self.settings.timeout)
        self.tokens = TokenKeeper(self.oauth, seed_refresh_token=self.settings.refresh_token)
        self._api: BooksApi | None = None

    # -- what a vendor says ----------------------------------------------------------------
    def make_api(self) -> BooksApi:
        """Return the vendor's API client for the configured account."""
        raise NotImplementedError

    def named_in(self, payload: Any) -> list[str] | None:
        """Return what a webhook delivery names for `fetch` (None: not a delivery)."""
        raise NotImplementedError

    def bad_signature(self) -> WebhookReply:
        """Return the answer to a webhook whose signature is wrong."""
        return WebhookReply.refused(401, "bad signature")

    def account_checked(self) -> str:
        """Read the account; return how `check` names it ("company 'X' (realm 1)")."""
        raise NotImplementedError

    def check_client(self, client: Client, directory: PartyDirectory) -> str | None:
        """Find the party of `client`; return what is wrong with it, or None."""
        directory.party_of(client)
        return None

    # -- parts, made on first use ----------------------------------------------------------
    @property
    def api(self) -> Any:
        if not (self.settings.client_id and self.settings.client_secret):
            raise self.fail(f"set client_id and client_secret ({self.app}'s OAuth2 "
                            f"credentials)", retryable=False)
        if self._api is None:
            self._api = self.make_api()
        return self._api

    def rules(self) -> RuleSet:
        if self.context.rules is None:
            raise self.fail("needs the rule set (clients and their external ids)",
                            retryable=False)
        return self.context.rules

    def directory(self) -> Any:
        return self.directory_type(self.api, self.rules(), self.state, self.fail)

    def payments(self) -> Any:
        return self.payments_type(self.api, self.directory(), self.state,
                                  self.settings.currency or self.rules().agency.currency,
                                  self.settings.page_size, self.context.now)

    # -- actions ---------------------------------------------------------------------------
    def deliver(self, delivery: Delivery) -> DeliveryReceipt:
        """Create (once) and optionally e-mail an issued invoice, or void one."""
        self.require_consumed(delivery)
        poster = self.poster_type(self.api, self.directory(), self.settings, self.state,
                                  self.fail, self.log)
        if delivery.type == "invoice.voided":
            receipt = poster.void(delivery)
        else:
            invoice = delivery.invoice or {}
            client = self.rules().clients.get(str(invoice.get("client")))
            if client is None:
                raise self.fail(f"{delivery.idempotency_key}: client {invoice.get('client')!r} "
                                f"is not in the rules", retryable=False)
            receipt = poster.issue(delivery, client)
        self.log.info("%s: %s", delivery.idempotency_key, receipt.detail)
        return receipt

    # -- payments in -----------------------------------------------------------------------
    def sync(self, cursor: Mapping[str, Any] | None) -> SyncResult:
        """Return payment.received for the payments changed since `cursor`, a page at a time."""
        return self.payments().sync(cursor)

    def webhook(self, request: WebhookRequest) -> WebhookReply:
        """Check the signature, then read the payments the delivery names."""
        key = self.settings.webhook_secret
        if not key:
            return WebhookReply.refused(404, f"webhooks are off: set {self.webhook_option}")
        if request.method != "POST":
            return WebhookReply.refused(405, "POST only")
        if not hmac_matches(key, request.body, request.header(self.signature_header),
                            encoding="base64"):
            self.log.warning("webhook refused: bad %s", self.signature_header)
            return self.bad_signature()
        guard = ReplayGuard(self.state)
        if guard.seen(request.body):
            self.log.info("webhook: a delivery already taken came again; ignored")
            return WebhookReply(200)
        try:
            named = self.named_in(decode_json(request.body))
        except ValueError:
            named = None
        if named is None:
            return WebhookReply.refused(400, f"not {self.delivery}")
        events, problems = self.payments().fetch(named) if named else ([], [])
        guard.remember(request.body)
        return WebhookReply(200, events=tuple(events), problems=tuple(problems))

    # -- check -----------------------------------------------------------------------------
    def check(self) -> str:
        """Refresh the tokens if due, read the account, and find every client's party."""
        self.api  # client credentials present
        tokens = self.tokens.current()
        if not tokens.fresh(self.context.now()):
            tokens = self.tokens.refresh_now()
        account = self.account_checked()
        directory = self.directory()
        mapped, missing = 0, []
        for client in self.rules().clients.values():
            try:
                problem = self.check_client(client, directory)
            except UnmappedRecord as exc:
                problem = str(exc)
            except ConnectorError as exc:
                if exc.retryable:
                    raise
                problem = str(exc).split(": ", 1)[-1]
            if problem is None:
                mapped += 1
            else:
                missing.append(problem)
        if missing:
            raise self.fail("; ".join(missing), retryable=False)
        return (f"{self.type} connector '{self.name}': {account} answers; {mapped} clients "
                f"mapped to {directory.party}s{_valid_until(tokens)}")

    def close(self) -> None:
        if self._api is not None:
            self._api.close()
            self._api = None


def _valid_until(tokens: TokenSet) -> str:
    if tokens.refresh_expires_at is None:  # Xero does not say
        return ""
    return f"; authorisation valid until {tokens.refresh_expires_at.date().isoformat()}"
