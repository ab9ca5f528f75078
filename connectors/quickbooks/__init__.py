"""The `quickbooks` connector: issued invoices into QuickBooks Online, payments back out.

    deliver  invoice.issued -> find the client's customer, create the invoice (DocNumber =
             the billflow number, `requestid` from the action id), e-mail it if asked;
             invoice.voided -> void it
    sync     payments changed since the cursor -> payment.received
    webhook  `intuit-signature` checked; legacy and CloudEvents deliveries; the payments named
             are read and become payment.received; a replayed delivery adds nothing
    check    the tokens refresh, the company answers, every client has a customer

Modules: settings (options), api (HTTP, faults, minorversion), customers, invoices,
payments, webhooks, replay, wire (Decimal JSON). OAuth2 lives in connectors/oauth.py.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from connectors.base import Connector, ConnectorContext, Delivery, DeliveryReceipt
from connectors.oauth import OAuthClient, TokenKeeper
from connectors.quickbooks.api import QuickBooksApi
from connectors.quickbooks.customers import CustomerDirectory
from connectors.quickbooks.invoices import InvoicePoster
from connectors.quickbooks.payments import PaymentReader
from connectors.quickbooks.replay import ReplayGuard
from connectors.quickbooks.settings import QuickBooksSettings
from connectors.quickbooks.webhooks import is_payment_change, notices, signature_ok
from connectors.quickbooks.wire import decode_json
from connectors.sources import SyncResult, WebhookReply, WebhookRequest
from engine.errors import ConnectorError, UnmappedRecord

__all__ = ["QuickBooksConnector"]


class QuickBooksConnector(Connector):
    """Post invoices to one QuickBooks Online company and read its payments."""

    type = "quickbooks"
    consumes = frozenset({"invoice.issued", "invoice.voided"})
    produces = frozenset({"payment.received"})
    default_poll_interval = 900.0  # webhooks bring payments sooner; polling catches misses

    def __init__(self, name: str, config: Mapping[str, Any], context: ConnectorContext) -> None:
        super().__init__(name, config, context)
        try:
            self.settings = QuickBooksSettings.read(config, self.number_option)
        except ValueError as exc:
            raise self.fail(str(exc), retryable=False) from None
        for secret in (self.settings.client_secret, self.settings.refresh_token,
                       self.settings.webhook_verifier_token):
            if secret:
                context.mark_secret(secret)
        self.oauth = OAuthClient(self, "QuickBooks", self.settings.authorize_url,
                                 self.settings.token_url, self.settings.client_id or "",
                                 self.settings.client_secret or "", self.settings.scopes,
                                 timeout=self.settings.timeout)
        self.tokens = TokenKeeper(self.oauth, seed_refresh_token=self.settings.refresh_token)
        self._api: QuickBooksApi | None = None

    # -- parts, made on first use ----------------------------------------------------------
    @property
    def api(self) -> QuickBooksApi:
        if not (self.settings.client_id and self.settings.client_secret):
            raise self.fail("set client_id and client_secret (the Intuit app's OAuth2 "
                            "credentials)", retryable=False)
        if self._api is None:
            self._api = QuickBooksApi(self, base_url=self.settings.base_url,
                                      realm_id=self.settings.realm_id,
                                      minor_version=self.settings.minor_version,
                                      tokens=self.tokens,
                                      requests_per_minute=self.settings.requests_per_minute,
                                      timeout=self.settings.timeout)
        return self._api

    def _rules(self):
        if self.context.rules is None:
            raise self.fail("needs the rule set (clients and their external ids)",
                            retryable=False)
        return self.context.rules

    def _customers(self) -> CustomerDirectory:
        return CustomerDirectory(self.api, self._rules(), self.state, self.fail)

    def _payments(self) -> PaymentReader:
        rules = self._rules()
        return PaymentReader(self.api, self._customers(), self.state,
                             self.settings.currency or rules.agency.currency,
                             self.settings.page_size, self.context.now)

    # -- actions ---------------------------------------------------------------------------
    def deliver(self, delivery: Delivery) -> DeliveryReceipt:
        """Create (once) and optionally e-mail an issued invoice, or void one."""
        self.require_consumed(delivery)
        poster = InvoicePoster(self.api, self._customers(), self.settings, self.state,
                               self.fail, self.log)
        if delivery.type == "invoice.voided":
            receipt = poster.void(delivery)
        else:
            invoice = delivery.invoice or {}
            client = self._rules().clients.get(str(invoice.get("client")))
            if client is None:
                raise self.fail(f"{delivery.idempotency_key}: client {invoice.get('client')!r} "
                                f"is not in the rules", retryable=False)
            receipt = poster.issue(delivery, client)
        self.log.info("%s: %s", delivery.idempotency_key, receipt.detail)
        return receipt

    # -- payments in -----------------------------------------------------------------------
    def sync(self, cursor: Mapping[str, Any] | None) -> SyncResult:
        """Return payment.received for the payments changed since `cursor`, a page at a time."""
        return self._payments().sync(cursor)

    def webhook(self, request: WebhookRequest) -> WebhookReply:
        """Check the signature, then read the payments the delivery names."""
        token = self.settings.webhook_verifier_token
        if not token:
            return WebhookReply.refused(404, "webhooks are off: set webhook_verifier_token")
        if request.method != "POST":
            return WebhookReply.refused(405, "POST only")
        if not signature_ok(token, request.body, request.header("intuit-signature")):
            self.log.warning("webhook refused: bad intuit-signature")
            return WebhookReply.refused(401, "bad signature")
        guard = ReplayGuard(self.state)
        if guard.seen(request.body):
            self.log.info("webhook: a delivery already taken came again; ignored")
            return WebhookReply(200)
        try:
            changes = notices(decode_json(request.body))
        except ValueError:
            changes = None
        if changes is None:
            return WebhookReply.refused(400, "not an Intuit webhook delivery")
        wanted = [n.entity_id for n in changes
                  if n.realm_id == self.settings.realm_id and is_payment_change(n)]
        events, problems = self._payments().fetch(wanted) if wanted else ([], [])
        guard.remember(request.body)
        return WebhookReply(200, events=tuple(events), problems=tuple(problems))

    def connected(self, params: Mapping[str, str]) -> list[str]:
        """After `billflow connect`: say which company was authorised (the redirect's realmId)."""
        realm = params.get("realmId")
        if not realm:
            return []
        self.state.put("authorised_realm", realm)
        if realm != self.settings.realm_id:
            return [f"warning: QuickBooks company {realm} was authorised, but the connector's "
                    f"realm_id is {self.settings.realm_id}: set realm_id to {realm}"]
        return [f"QuickBooks company {realm} authorised"]

    # -- check -----------------------------------------------------------------------------
    def check(self) -> str:
        """Refresh the tokens if due, read the company, and find every client's customer."""
        self.api  # client credentials present
        tokens = self.tokens.current()
        if not tokens.fresh(self.context.now()):
            tokens = self.tokens.refresh_now()
        body = self.api.get(f"companyinfo/{self.settings.realm_id}",
                            doing="reading the company")
        company = (body.get("CompanyInfo") or {}).get("CompanyName") or self.settings.realm_id
        mapped, missing = self._check_clients()
        if missing:
            raise self.fail("; ".join(missing), retryable=False)
        until = (f"; authorisation valid until {tokens.refresh_expires_at.date().isoformat()}"
                 if tokens.refresh_expires_at else "")
        return (f"quickbooks connector '{self.name}': company '{company}' "
                f"(realm {self.settings.realm_id}) answers; {mapped} clients mapped to "
                f"customers{until}")

    def _check_clients(self) -> tuple[int, list[str]]:
        customers = self._customers()
        mapped, missing = 0, []
        for client in self._rules().clients.values():
            try:
                customer_id = customers.customer_of(client)
                body = self.api.get(f"customer/{customer_id}",
                                    doing=f"reading customer {customer_id}")
                if not (body.get("Customer") or {}).get("Active", True):
                    missing.append(f"client '{client.id}': QuickBooks customer {customer_id} "
                                   f"is inactive")
                    continue
                mapped += 1
            except UnmappedRecord as exc:
                missing.append(str(exc))
            except ConnectorError as exc:
                if exc.retryable:
                    raise
                missing.append(str(exc).split(": ", 1)[-1])
        return mapped, missing

    def close(self) -> None:
        if self._api is not None:
            self._api.close()
            self._api = None
