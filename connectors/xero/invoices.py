"""Issued billflow invoices into Xero (connectors/books_invoices.py has the flow).

An invoice is created ACCREC and AUTHORISED, InvoiceNumber the billflow number; each write
carries an `Idempotency-Key` derived from the action id and the step; a void sets VOIDED.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from connectors.base import Delivery
from connectors.books_invoices import INVOICES_KEY, Created
from connectors.books_invoices import InvoicePoster as BooksInvoicePoster
from connectors.xero.api import idempotency_key
from connectors.xero.settings import XeroSettings
from engine.ruleset.types import Client

__all__ = ["InvoicePoster", "invoice_body", "INVOICES_KEY"]


def invoice_body(invoice: Mapping[str, Any], contact_id: str,
                 settings: XeroSettings) -> dict[str, Any]:
    """Return the Xero Invoice (ACCREC, AUTHORISED) for a billflow invoice."""
    taxed = Decimal(str(invoice.get("tax") or "0")) != 0
    tax_type = settings.tax_type if taxed else settings.exempt_tax_type
    lines = []
    for line in invoice.get("lines") or []:
        quantity, price = Decimal(str(line["quantity"])), Decimal(str(line["unit_price"]))
        amount = Decimal(str(line["amount"]))
        if quantity * price != amount:  # Xero computes the line amount from these two
            quantity, price = Decimal(1), amount
        item: dict[str, Any] = {"Description": str(line.get("description") or ""),
                                "Quantity": quantity, "UnitAmount": price,
                                "AccountCode": settings.account_code}
        if tax_type:
            item["TaxType"] = tax_type
        lines.append(item)
    body = {
        "Type": "ACCREC",
        "Contact": {"ContactID": contact_id},
        "InvoiceNumber": invoice["number"],
        "Reference": str(invoice["id"]),
        "Date": invoice.get("issue_date"),
        "DueDate": invoice.get("due_date"),
        "CurrencyCode": invoice["currency"],
        "LineAmountTypes": "Exclusive",
        "Status": "AUTHORISED",
        "LineItems": lines,
    }
    return {key: value for key, value in body.items() if value is not None}


class InvoicePoster(BooksInvoicePoster):
    """Carry out invoice.issued and invoice.voided against one Xero organisation."""

    vendor = "Xero"
    total_hint = "check tax_type"

    def create(self, delivery: Delivery, invoice: Mapping[str, Any], client: Client,
               number: str) -> Created:
        contact_id = self.directory.contact_of(client)
        body = {"Invoices": [invoice_body(invoice, contact_id, self.settings)]}
        reply = self.api.write("PUT", "Invoices", body, doing=f"creating invoice {number}",
                               key=idempotency_key(delivery.idempotency_key, "create"))
        created = _first(reply, "Invoices")
        if created.get("HasErrors"):
            messages = "; ".join(str(e.get("Message")) for e in
                                 created.get("ValidationErrors") or [])
            raise self._fail(f"creating invoice {number}: {messages or 'refused'}",
                             retryable=False)
        return str(created.get("InvoiceID")), False, created.get("Total")

    def email(self, delivery: Delivery, vendor_id: str, number: str) -> None:
        self.api.write("POST", f"Invoices/{vendor_id}/Email", {},
                       doing=f"e-mailing invoice {number}",
                       key=idempotency_key(delivery.idempotency_key, "email"))

    def id_of(self, found: Mapping[str, Any]) -> str:
        return str(found["InvoiceID"])

    def is_void(self, found: Mapping[str, Any]) -> bool:
        return found.get("Status") in ("VOIDED", "DELETED")

    def void_found(self, delivery: Delivery, found: Mapping[str, Any], number: str) -> None:
        invoice_id = self.id_of(found)
        self.api.write("POST", f"Invoices/{invoice_id}",
                       {"Invoices": [{"InvoiceID": invoice_id, "Status": "VOIDED"}]},
                       doing=f"voiding invoice {number}",
                       key=idempotency_key(delivery.idempotency_key, "void"))

    def find(self, invoice_id: str, number: str) -> Mapping[str, Any] | None:
        kept = self.kept(invoice_id)
        if kept is not None:
            return _first(self.api.get(f"Invoices/{kept['id']}",
                                       doing=f"reading invoice {number}"), "Invoices") or None
        reply = self.api.get("Invoices", doing=f"finding invoice {number}",
                             params={"InvoiceNumbers": number})
        return _first(reply, "Invoices") or None


def _first(reply: Any, key: str) -> Mapping[str, Any]:
    items = reply.get(key) if isinstance(reply, Mapping) else None
    return items[0] if isinstance(items, list) and items and isinstance(items[0], Mapping) else {}
