"""The `quickbooks` connector: issued invoices into QuickBooks Online, payments back out.

    deliver  invoice.issued -> find the client's customer, create the invoice (DocNumber =
             the billflow number, `requestid` from the action id), e-mail it if asked;
             invoice.voided -> void it
    sync     payments changed since the cursor -> payment.received
    webhook  `intuit-signature` checked; legacy and CloudEvents deliveries; the payments named
             are read and become payment.received; a replayed delivery adds nothing
    check    the tokens refresh, the company answers, every client has a customer

The flow is every books connector's (connectors/books.py). Modules: settings (options), api
(HTTP, faults, minorversion), customers, invoices, payments, webhooks. OAuth2 lives in
connectors/oauth.py.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from connectors.books import BooksConnector
from connectors.books_directory import PartyDirectory
from connectors.quickbooks.api import QuickBooksApi
from connectors.quickbooks.customers import CustomerDirectory
from connectors.quickbooks.invoices import InvoicePoster
from connectors.quickbooks.payments import PaymentReader
from connectors.quickbooks.settings import QuickBooksSettings
from connectors.quickbooks.webhooks import is_payment_change, notices
from engine.ruleset.types import Client

__all__ = ["QuickBooksConnector"]


class QuickBooksConnector(BooksConnector):
    """Post invoices to one QuickBooks Online company and read its payments."""

    type = "quickbooks"
    vendor = "QuickBooks"
    app = "the Intuit app"
    settings_type = QuickBooksSettings
    webhook_option = "webhook_verifier_token"
    signature_header = "intuit-signature"
    delivery = "an Intuit webhook delivery"
    directory_type = CustomerDirectory
    poster_type = InvoicePoster
    payments_type = PaymentReader

    def make_api(self) -> QuickBooksApi:
        return QuickBooksApi(self, base_url=self.settings.base_url,
                             realm_id=self.settings.realm_id,
                             minor_version=self.settings.minor_version, tokens=self.tokens,
                             requests_per_minute=self.settings.requests_per_minute,
                             timeout=self.settings.timeout)

    def named_in(self, payload: Any) -> list[str] | None:
        """Return the payments of this company that the delivery says changed."""
        changes = notices(payload)
        if changes is None:
            return None
        return [n.entity_id for n in changes
                if n.realm_id == self.settings.realm_id and is_payment_change(n)]

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
    def account_checked(self) -> str:
        body = self.api.get(f"companyinfo/{self.settings.realm_id}",
                            doing="reading the company")
        company = (body.get("CompanyInfo") or {}).get("CompanyName") or self.settings.realm_id
        return f"company '{company}' (realm {self.settings.realm_id})"

    def check_client(self, client: Client, directory: PartyDirectory) -> str | None:
        customer_id = directory.party_of(client)
        body = self.api.get(f"customer/{customer_id}", doing=f"reading customer {customer_id}")
        if not (body.get("Customer") or {}).get("Active", True):
            return f"client '{client.id}': QuickBooks customer {customer_id} is inactive"
        return None
