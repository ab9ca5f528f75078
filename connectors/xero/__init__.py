"""The `xero` connector: issued invoices into Xero, payments back out.

    deliver  invoice.issued -> find the client's contact, create the invoice (ACCREC,
             AUTHORISED, InvoiceNumber = the billflow number, `Idempotency-Key` from the
             action id), e-mail it if asked; invoice.voided -> void it
    sync     payments on sales invoices modified since the cursor -> payment.received
    webhook  `x-xero-signature` checked (intent to receive: 200 empty / 401); the invoices
             named are read and their payments become payment.received; replays add nothing
    check    the tokens refresh, the organisation answers, every client has a contact

The flow is every books connector's (connectors/books.py). Modules: settings, api (HTTP,
errors, xero-tenant-id), contacts, invoices, payments, webhooks, dates (Xero's dates).
OAuth2 lives in connectors/oauth.py.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import httpx

from connectors.books import BooksConnector
from connectors.sources import WebhookReply
from connectors.xero.api import XeroApi
from connectors.xero.contacts import ContactDirectory
from connectors.xero.invoices import InvoicePoster
from connectors.xero.payments import PaymentReader
from connectors.xero.settings import XeroSettings
from connectors.xero.webhooks import invoice_ids

__all__ = ["XeroConnector"]


class XeroConnector(BooksConnector):
    """Post invoices to one Xero organisation and read its payments."""

    type = "xero"
    vendor = "Xero"
    app = "the Xero app"
    settings_type = XeroSettings
    webhook_option = "webhook_key"
    signature_header = "x-xero-signature"
    delivery = "a Xero webhook delivery"
    directory_type = ContactDirectory
    poster_type = InvoicePoster
    payments_type = PaymentReader

    def make_api(self) -> XeroApi:
        return XeroApi(self, base_url=self.settings.base_url, tenant_id=self.settings.tenant_id,
                       tokens=self.tokens, requests_per_minute=self.settings.requests_per_minute,
                       timeout=self.settings.timeout)

    def named_in(self, payload: Any) -> list[str] | None:
        """Return the invoices of this organisation the delivery names."""
        return invoice_ids(payload, self.settings.tenant_id)

    def bad_signature(self) -> WebhookReply:
        return WebhookReply(401)  # intent to receive: a 401 with nothing in it

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

    def account_checked(self) -> str:
        body = self.api.get("Organisation", doing="reading the organisation")
        organisations = body.get("Organisations") or [{}]
        name = organisations[0].get("Name") or self.settings.tenant_id
        return f"organisation '{name}' (tenant {self.settings.tenant_id})"
