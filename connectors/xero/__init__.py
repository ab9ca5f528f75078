"""The `xero` connector: issued invoices into Xero, payments back out.

    deliver  invoice.issued -> find the client's contact, create the invoice (ACCREC,
             AUTHORISED, InvoiceNumber = the billflow number, `Idempotency-Key` from the
             action id), e-mail it if asked; invoice.voided -> void it
    sync     payments on sales invoices modified since the cursor -> payment.received
    webhook  `x-xero-signature` checked (intent to receive: 200 empty / 401); the invoices
             named are read and their payments become payment.received; replays add nothing
    check    the tokens refresh, the organisation answers, every client has a contact

Modules: settings, api (HTTP, errors, xero-tenant-id), contacts, invoices, payments,
webhooks, replay, wire (Decimal JSON, Xero dates). OAuth2 lives in connectors/oauth.py.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import httpx

from connectors.base import Connector, ConnectorContext, Delivery, DeliveryReceipt
from connectors.oauth import OAuthClient, TokenKeeper
from connectors.sources import SyncResult, WebhookReply, WebhookRequest
from connectors.xero.api import XeroApi
from connectors.xero.contacts import ContactDirectory
from connectors.xero.invoices import InvoicePoster
from connectors.xero.payments import PaymentReader
from connectors.xero.replay import ReplayGuard
from connectors.xero.settings import XeroSettings
from connectors.xero.webhooks import invoice_ids, signature_ok
from connectors.xero.wire import decode_json
from engine.errors import ConnectorError, UnmappedRecord

__all__ = ["XeroConnector"]


class XeroConnector(Connector):
    """Post invoices to one Xero organisation and read its payments."""

    type = "xero"
    consumes = frozenset({"invoice.issued", "invoice.voided"})
    produces = frozenset({"payment.received"})
    default_poll_interval = 900.0

    def __init__(self, name: str, config: Mapping[str, Any], context: ConnectorContext) -> None:
        super().__init__(name, config, context)
        self.settings = XeroSettings.read(config, self.number_option)
        for secret in (self.settings.client_secret, self.settings.refresh_token,
                       self.settings.webhook_key):
            if secret:
                context.mark_secret(secret)
        self.oauth = OAuthClient(self, "Xero", self.settings.authorize_url,
                                 self.settings.token_url, self.settings.client_id or "",
                                 self.settings.client_secret or "", self.settings.scopes,
                                 timeout=self.settings.timeout)
        self.tokens = TokenKeeper(self.oauth, seed_refresh_token=self.settings.refresh_token)
        self._api: XeroApi | None = None

    @property
    def api(self) -> XeroApi:
        if not (self.settings.client_id and self.settings.client_secret):
            raise self.fail("set client_id and client_secret (the Xero app's OAuth2 "
                            "credentials)", retryable=False)
        if self._api is None:
            self._api = XeroApi(self, base_url=self.settings.base_url,
                                tenant_id=self.settings.tenant_id, tokens=self.tokens,
                                requests_per_minute=self.settings.requests_per_minute,
                                timeout=self.settings.timeout)
        return self._api

    def _rules(self):
        if self.context.rules is None:
            raise self.fail("needs the rule set (clients and their external ids)",
                            retryable=False)
        return self.context.rules

    def _contacts(self) -> ContactDirectory:
        return ContactDirectory(self.api, self._rules(), self.state, self.fail)

    def _payments(self) -> PaymentReader:
        return PaymentReader(self.api, self._contacts(),
                             self.settings.currency or self._rules().agency.currency,
                             self.settings.page_size, self.context.now)

    # -- actions ---------------------------------------------------------------------------
    def deliver(self, delivery: Delivery) -> DeliveryReceipt:
        """Create (once) and optionally e-mail an issued invoice, or void one."""
        self.require_consumed(delivery)
        poster = InvoicePoster(self.api, self._contacts(), self.settings, self.state,
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
        """Return payment.received for payments modified since `cursor`, a page at a time."""
        return self._payments().sync(cursor)

    def webhook(self, request: WebhookRequest) -> WebhookReply:
        """Answer Xero: 401 unless signed right; else 200, empty, with the payments read."""
        key = self.settings.webhook_key
        if not key:
            return WebhookReply.refused(404, "webhooks are off: set webhook_key")
        if request.method != "POST":
            return WebhookReply.refused(405, "POST only")
        if not signature_ok(key, request.body, request.header("x-xero-signature")):
            self.log.warning("webhook refused: bad x-xero-signature")
            return WebhookReply(401)
        guard = ReplayGuard(self.state)
        if guard.seen(request.body):
            self.log.info("webhook: a delivery already taken came again; ignored")
            return WebhookReply(200)
        try:
            named = invoice_ids(decode_json(request.body), self.settings.tenant_id)
        except ValueError:
            named = None
        if named is None:
            return WebhookReply.refused(400, "not a Xero webhook delivery")
        events, problems = self._payments().fetch_invoices(named) if named else ([], [])
        guard.remember(request.body)
        return WebhookReply(200, events=tuple(events), problems=tuple(problems))

    def connected(self, params: Mapping[str, str]) -> list[str]:
        """After `billflow connect`: list the organisations the authorisation reaches."""
        doing = "listing the authorised organisations"
        try:
            with self.context.http_client(timeout=self.settings.timeout) as client:
                response = client.get(self.settings.connections_url,
                                      headers={**self.tokens.authorize(),
                                               "Accept": "application/json"})
            tenants = response.json() if response.status_code == 200 else None
        except (httpx.HTTPError, ValueError) as exc:
            return [f"warning: {doing} failed ({type(exc).__name__})"]
        if not isinstance(tenants, list):
            return [f"warning: {doing} failed (HTTP {response.status_code})"]
        lines = [f"Xero organisation {t.get('tenantName')!r}: tenant_id {t.get('tenantId')}"
                 for t in tenants if isinstance(t, Mapping)]
        ids = {t.get("tenantId") for t in tenants if isinstance(t, Mapping)}
        if self.settings.tenant_id not in ids:
            lines.append(f"warning: the connector's tenant_id {self.settings.tenant_id} is not "
                         f"among them: set tenant_id to one listed above")
        return lines

    # -- check -----------------------------------------------------------------------------
    def check(self) -> str:
        """Refresh the tokens if due, read the organisation, and find every client's contact."""
        self.api
        tokens = self.tokens.current()
        if not tokens.fresh(self.context.now()):
            tokens = self.tokens.refresh_now()
        body = self.api.get("Organisation", doing="reading the organisation")
        organisations = body.get("Organisations") or [{}]
        name = organisations[0].get("Name") or self.settings.tenant_id
        mapped, missing = 0, []
        contacts = self._contacts()
        for client in self._rules().clients.values():
            try:
                contacts.contact_of(client)
                mapped += 1
            except UnmappedRecord as exc:
                missing.append(str(exc))
            except ConnectorError as exc:
                if exc.retryable:
                    raise
                missing.append(str(exc).split(": ", 1)[-1])
        if missing:
            raise self.fail("; ".join(missing), retryable=False)
        return (f"xero connector '{self.name}': organisation '{name}' (tenant "
                f"{self.settings.tenant_id}) answers; {mapped} clients mapped to contacts")

    def close(self) -> None:
        if self._api is not None:
            self._api.close()
            self._api = None
