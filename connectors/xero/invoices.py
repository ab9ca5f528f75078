"""Issued billflow invoices into Xero: create (once, ACCREC, AUTHORISED), e-mail, void.

Each write carries an `Idempotency-Key` derived from the action id and the step; the
InvoiceID of every invoice made is also kept in the connector's state.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from connectors.base import Delivery, DeliveryReceipt
from connectors.state import ConnectorState
from connectors.xero.api import XeroApi, idempotency_key
from connectors.xero.contacts import ContactDirectory
from connectors.xero.settings import XeroSettings
from engine.ruleset.types import Client

__all__ = ["InvoicePoster", "invoice_body", "INVOICES_KEY"]

INVOICES_KEY = "invoice:"  # + billflow invoice id -> {"id": InvoiceID, "number": ...}


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


class InvoicePoster:
    """Carry out invoice.issued and invoice.voided against one Xero organisation."""

    def __init__(self, api: XeroApi, contacts: ContactDirectory, settings: XeroSettings,
                 state: ConnectorState, fail: Any, log: Any) -> None:
        self.api = api
        self.contacts = contacts
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
        kept = self.state.get(INVOICES_KEY + str(invoice["id"]))
        if kept is None:
            contact_id = self.contacts.contact_of(client)
            body = {"Invoices": [invoice_body(invoice, contact_id, self.settings)]}
            reply = self.api.write("PUT", "Invoices", body, doing=f"creating invoice {number}",
                                   key=idempotency_key(delivery.idempotency_key, "create"))
            created = _first(reply, "Invoices")
            if created.get("HasErrors"):
                messages = "; ".join(str(e.get("Message")) for e in
                                     created.get("ValidationErrors") or [])
                raise self._fail(f"creating invoice {number}: {messages or 'refused'}",
                                 retryable=False)
            kept = {"id": str(created.get("InvoiceID")), "number": number, "emailed": False}
            self.state.put(INVOICES_KEY + str(invoice["id"]), kept)
            self.state.put(f"number:{kept['id']}", number)
            total = created.get("Total")
            if total is not None and Decimal(str(total)) != Decimal(str(invoice["total"])):
                self.log.warning("invoice %s: Xero computed a total of %s, billflow %s "
                                 "(check tax_type)", number, total, invoice["total"])
        detail = f"Xero invoice {kept['id']} ({number})"
        if self.settings.email_invoice and not kept.get("emailed"):
            self.api.write("POST", f"Invoices/{kept['id']}/Email", {},
                           doing=f"e-mailing invoice {number}",
                           key=idempotency_key(delivery.idempotency_key, "email"))
            kept = {**kept, "emailed": True}
            self.state.put(INVOICES_KEY + str(invoice["id"]), kept)
            detail += ", e-mailed"
        return DeliveryReceipt(external_id=kept["id"], detail=detail)

    def void(self, delivery: Delivery) -> DeliveryReceipt:
        invoice = delivery.invoice or {}
        number = invoice.get("number")
        if not number:
            return DeliveryReceipt(None, "a draft: never posted to Xero, nothing to void")
        found = self._find(str(invoice["id"]), str(number))
        if found is None:
            return DeliveryReceipt(None, f"invoice {number} is not in Xero; nothing to void")
        invoice_id = str(found["InvoiceID"])
        if found.get("Status") in ("VOIDED", "DELETED"):
            return DeliveryReceipt(invoice_id, f"Xero invoice {invoice_id} ({number}) was "
                                               f"already void")
        self.api.write("POST", f"Invoices/{invoice_id}",
                       {"Invoices": [{"InvoiceID": invoice_id, "Status": "VOIDED"}]},
                       doing=f"voiding invoice {number}",
                       key=idempotency_key(delivery.idempotency_key, "void"))
        return DeliveryReceipt(invoice_id, f"Xero invoice {invoice_id} ({number}) voided")

    def _find(self, invoice_id: str, number: str) -> Mapping[str, Any] | None:
        kept = self.state.get(INVOICES_KEY + invoice_id)
        if kept is not None:
            return _first(self.api.get(f"Invoices/{kept['id']}",
                                       doing=f"reading invoice {number}"), "Invoices") or None
        reply = self.api.get("Invoices", doing=f"finding invoice {number}",
                             params={"InvoiceNumbers": number})
        return _first(reply, "Invoices") or None


def _first(reply: Any, key: str) -> Mapping[str, Any]:
    items = reply.get(key) if isinstance(reply, Mapping) else None
    return items[0] if isinstance(items, list) and items and isinstance(items[0], Mapping) else {}
