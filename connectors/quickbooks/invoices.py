"""Issued billflow invoices into QuickBooks: create (once), e-mail, void.

Each write carries a `requestid` derived from the action id and the step, so the
dispatcher's retry after a lost reply creates nothing new; the QuickBooks Id of every
invoice made is also kept in the connector's state, so even a retry days later finds it.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from connectors.base import Delivery, DeliveryReceipt
from connectors.quickbooks.api import QuickBooksApi, quote
from connectors.quickbooks.customers import CustomerDirectory
from connectors.quickbooks.settings import QuickBooksSettings
from connectors.state import ConnectorState
from engine.ruleset.types import Client

__all__ = ["InvoicePoster", "invoice_body", "request_id", "INVOICES_KEY", "DOC_NUMBER_MAX"]

INVOICES_KEY = "invoice:"  # + billflow invoice id -> {"id": QuickBooks Id, "number": DocNumber}
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


class InvoicePoster:
    """Carry out invoice.issued and invoice.voided against one QuickBooks company."""

    def __init__(self, api: QuickBooksApi, customers: CustomerDirectory,
                 settings: QuickBooksSettings, state: ConnectorState, fail: Any, log: Any) -> None:
        self.api = api
        self.customers = customers
        self.settings = settings
        self.state = state
        self._fail = fail
        self.log = log

    def issue(self, delivery: Delivery, client: Client) -> DeliveryReceipt:
        invoice = delivery.invoice or {}
        number = str(invoice.get("number") or "")
        if not number:
            raise self._fail(f"{delivery.idempotency_key}: the invoice has no number",
                             retryable=False)
        if len(number) > DOC_NUMBER_MAX:
            raise self._fail(f"invoice number {number} is longer than QuickBooks' "
                             f"{DOC_NUMBER_MAX} characters (DocNumber); shorten the Agency's "
                             f"invoice_numbering format", retryable=False)
        kept = self.state.get(INVOICES_KEY + str(invoice["id"]))
        if kept is None:
            customer_id = self.customers.customer_of(client)
            body = invoice_body(invoice, customer_id, client, self.settings)
            reply = self.api.post("invoice", body, doing=f"creating invoice {number}",
                                  requestid=request_id(delivery.idempotency_key, "create"))
            created = reply.get("Invoice") or {}
            kept = {"id": str(created.get("Id")), "number": number,
                    "emailed": created.get("EmailStatus") == "EmailSent"}
            self.state.put(INVOICES_KEY + str(invoice["id"]), kept)
            self.state.put(f"number:{kept['id']}", number)
            total = created.get("TotalAmt")
            if total is not None and Decimal(str(total)) != Decimal(str(invoice["total"])):
                self.log.warning("invoice %s: QuickBooks computed a total of %s, billflow %s "
                                 "(check the tax settings)", number, total, invoice["total"])
        detail = f"QuickBooks invoice {kept['id']} ({number})"
        if self.settings.email_invoice and not kept.get("emailed"):
            self.api.post(f"invoice/{kept['id']}/send", None, doing=f"e-mailing invoice {number}",
                          requestid=request_id(delivery.idempotency_key, "send"))
            kept = {**kept, "emailed": True}
            self.state.put(INVOICES_KEY + str(invoice["id"]), kept)
            detail += ", e-mailed"
        return DeliveryReceipt(external_id=kept["id"], detail=detail)

    def void(self, delivery: Delivery) -> DeliveryReceipt:
        invoice = delivery.invoice or {}
        number = invoice.get("number")
        if not number:
            return DeliveryReceipt(None, "a draft: never posted to QuickBooks, nothing to void")
        found = self._find(str(invoice["id"]), str(number))
        if found is None:
            return DeliveryReceipt(None, f"invoice {number} is not in QuickBooks; nothing to void")
        # QuickBooks zeroes a voided invoice and puts "Voided" before its private note.
        if str(found.get("PrivateNote") or "").startswith("Voided"):
            return DeliveryReceipt(str(found["Id"]), f"QuickBooks invoice {found['Id']} "
                                                     f"({number}) was already void")
        self.api.post("invoice", {"Id": found["Id"], "SyncToken": found["SyncToken"]},
                      doing=f"voiding invoice {number}", params={"operation": "void"},
                      requestid=request_id(delivery.idempotency_key, "void"))
        return DeliveryReceipt(str(found["Id"]), f"QuickBooks invoice {found['Id']} ({number}) "
                                                 f"voided")

    def _find(self, invoice_id: str, number: str) -> Mapping[str, Any] | None:
        kept = self.state.get(INVOICES_KEY + invoice_id)
        if kept is not None:
            body = self.api.get(f"invoice/{kept['id']}", doing=f"reading invoice {number}")
            found = body.get("Invoice")
            if isinstance(found, Mapping):
                return found
        page = self.api.query(f"select * from Invoice where DocNumber = {quote(number)}",
                              doing=f"finding invoice {number}")
        invoices = [i for i in page.get("Invoice") or [] if isinstance(i, Mapping)]
        return invoices[0] if invoices else None
