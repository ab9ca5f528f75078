"""Issued billflow invoices into QuickBooks (connectors/books_invoices.py has the flow).

Each write carries a `requestid` derived from the action id and the step; DocNumber is the
billflow number (at most 21 characters); a void is `operation=void` with the SyncToken read.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from connectors.base import Delivery
from connectors.books_invoices import INVOICES_KEY, Created
from connectors.books_invoices import InvoicePoster as BooksInvoicePoster
from connectors.quickbooks.api import quote
from connectors.quickbooks.settings import QuickBooksSettings
from engine.ruleset.types import Client

__all__ = ["InvoicePoster", "invoice_body", "request_id", "INVOICES_KEY", "DOC_NUMBER_MAX"]

DOC_NUMBER_MAX = 21  # QuickBooks' limit on DocNumber
_NAMESPACE = uuid.UUID("5b0f3c1e-7d0a-4a53-9a55-1f7c0f6d2b10")


def request_id(action_id: str, step: str) -> str:
    """Return the `requestid` of one step of one action: stable, at most 36 characters."""
    return str(uuid.uuid5(_NAMESPACE, f"{action_id}\n{step}"))


def invoice_body(invoice: Mapping[str, Any], customer_id: str, client: Client,
                 settings: QuickBooksSettings) -> dict[str, Any]:
    """Return the QuickBooks Invoice for a billflow invoice (amounts exact, as Decimal)."""
    taxed = Decimal(str(invoice.get("tax") or "0")) != 0
    tax_code = settings.tax_code if taxed else settings.exempt_tax_code
    lines = []
    for line in invoice.get("lines") or []:
        quantity, price = Decimal(str(line["quantity"])), Decimal(str(line["unit_price"]))
        amount = Decimal(str(line["amount"]))
        detail: dict[str, Any] = {"ItemRef": {"value": settings.item_id}}
        # QuickBooks checks Amount = Qty x UnitPrice; a line rounded to cents may not be.
        if quantity * price == amount:
            detail["Qty"] = quantity
            detail["UnitPrice"] = price
        if tax_code:
            detail["TaxCodeRef"] = {"value": tax_code}
        lines.append({"Amount": amount, "Description": str(line.get("description") or ""),
                      "DetailType": "SalesItemLineDetail", "SalesItemLineDetail": detail})
    body: dict[str, Any] = {
        "CustomerRef": {"value": customer_id},
        "DocNumber": invoice["number"],
        "TxnDate": invoice.get("issue_date"),
        "DueDate": invoice.get("due_date"),
        "Line": lines,
        "PrivateNote": f"billflow {invoice['id']}",
    }
    if client.billing_contacts and client.billing_contacts[0].email:
        body["BillEmail"] = {"Address": client.billing_contacts[0].email}
    if settings.multicurrency:
        body["CurrencyRef"] = {"value": invoice["currency"]}
    if taxed and settings.txn_tax_code:
        body["TxnTaxDetail"] = {"TxnTaxCodeRef": {"value": settings.txn_tax_code},
                                "TotalTax": Decimal(str(invoice["tax"]))}
    return {key: value for key, value in body.items() if value is not None}


class InvoicePoster(BooksInvoicePoster):
    """Carry out invoice.issued and invoice.voided against one QuickBooks company."""

    vendor = "QuickBooks"
    total_hint = "check the tax settings"

    def check_number(self, number: str) -> None:
        if len(number) > DOC_NUMBER_MAX:
            raise self._fail(f"invoice number {number} is longer than QuickBooks' "
                             f"{DOC_NUMBER_MAX} characters (DocNumber); shorten the Agency's "
                             f"invoice_numbering format", retryable=False)

    def create(self, delivery: Delivery, invoice: Mapping[str, Any], client: Client,
               number: str) -> Created:
        customer_id = self.directory.customer_of(client)
        body = invoice_body(invoice, customer_id, client, self.settings)
        reply = self.api.post("invoice", body, doing=f"creating invoice {number}",
                              requestid=request_id(delivery.idempotency_key, "create"))
        created = reply.get("Invoice") or {}
        return (str(created.get("Id")), created.get("EmailStatus") == "EmailSent",
                created.get("TotalAmt"))

    def email(self, delivery: Delivery, vendor_id: str, number: str) -> None:
        self.api.post(f"invoice/{vendor_id}/send", None, doing=f"e-mailing invoice {number}",
                      requestid=request_id(delivery.idempotency_key, "send"))

    def id_of(self, found: Mapping[str, Any]) -> str:
        return str(found["Id"])

    def is_void(self, found: Mapping[str, Any]) -> bool:
        # QuickBooks zeroes a voided invoice and puts "Voided" before its private note.
        return str(found.get("PrivateNote") or "").startswith("Voided")

    def void_found(self, delivery: Delivery, found: Mapping[str, Any], number: str) -> None:
        self.api.post("invoice", {"Id": found["Id"], "SyncToken": found["SyncToken"]},
                      doing=f"voiding invoice {number}", params={"operation": "void"},
                      requestid=request_id(delivery.idempotency_key, "void"))

    def find(self, invoice_id: str, number: str) -> Mapping[str, Any] | None:
        kept = self.kept(invoice_id)
        if kept is not None:
            body = self.api.get(f"invoice/{kept['id']}", doing=f"reading invoice {number}")
            found = body.get("Invoice")
            if isinstance(found, Mapping):
                return found
        page = self.api.query(f"select * from Invoice where DocNumber = {quote(number)}",
                              doing=f"finding invoice {number}")
        invoices = [i for i in page.get("Invoice") or [] if isinstance(i, Mapping)]
        return invoices[0] if invoices else None
