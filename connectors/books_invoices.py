"""Issued billflow invoices into an accounting system: create (once), e-mail, void.

Each write carries an idempotency key derived from the action id and the step, so the
dispatcher's retry after a lost reply creates nothing new; the vendor's id of every invoice
made is also kept in the connector's state (`invoice:<billflow id>`, and `number:<vendor id>`
for payments to find the billflow number), so even a retry days later finds it. A vendor's
poster says how its invoices are created, e-mailed, found and voided.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from decimal import Decimal
from typing import Any, ClassVar

from connectors.base import Delivery, DeliveryReceipt
from connectors.state import ConnectorState
from engine.errors import ConnectorError
from engine.ruleset.types import Client

__all__ = ["InvoicePoster", "INVOICES_KEY", "Created"]

INVOICES_KEY = "invoice:"  # + billflow invoice id -> {"id": vendor id, "number": ..., "emailed"}

Created = tuple[str, bool, Any]
"""What a create made: the vendor's id, whether the vendor e-mailed it, its total (or None)."""


class InvoicePoster:
    """Carry out invoice.issued and invoice.voided against one account."""

    vendor: ClassVar[str] = ""  # as people know it: "QuickBooks"
    total_hint: ClassVar[str] = ""  # what to check when the vendor's total differs

    def __init__(self, api: Any, directory: Any, settings: Any, state: ConnectorState,
                 fail: Callable[..., ConnectorError], log: Any) -> None:
        self.api = api
        self.directory = directory
        self.settings = settings
        self.state = state
        self._fail = fail
        self.log = log

    # -- a vendor says how ------------------------------------------------------------------
    def check_number(self, number: str) -> None:
        """Refuse a number the vendor cannot take."""

    def create(self, delivery: Delivery, invoice: Mapping[str, Any], client: Client,
               number: str) -> Created:
        """Create the invoice at the vendor."""
        raise NotImplementedError

    def email(self, delivery: Delivery, vendor_id: str, number: str) -> None:
        """Have the vendor e-mail the invoice to the client."""
        raise NotImplementedError

    def find(self, invoice_id: str, number: str) -> Mapping[str, Any] | None:
        """Return the vendor's invoice for a billflow invoice, or None when there is none."""
        raise NotImplementedError

    def id_of(self, found: Mapping[str, Any]) -> str:
        raise NotImplementedError

    def is_void(self, found: Mapping[str, Any]) -> bool:
        raise NotImplementedError

    def void_found(self, delivery: Delivery, found: Mapping[str, Any], number: str) -> None:
        """Void the vendor's invoice `found`."""
        raise NotImplementedError

    # -- the flow ---------------------------------------------------------------------------
    def issue(self, delivery: Delivery, client: Client) -> DeliveryReceipt:
        invoice = delivery.invoice or {}
        number = str(invoice.get("number") or "")
        if not number:
            raise self._fail(f"{delivery.idempotency_key}: the invoice has no number",
                             retryable=False)
        self.check_number(number)
        key = INVOICES_KEY + str(invoice["id"])
        kept = self.state.get(key)
        if kept is None:
            vendor_id, emailed, total = self.create(delivery, invoice, client, number)
            kept = {"id": vendor_id, "number": number, "emailed": emailed}
            self.state.put(key, kept)
            self.state.put(f"number:{vendor_id}", number)
            if total is not None and Decimal(str(total)) != Decimal(str(invoice["total"])):
                self.log.warning("invoice %s: %s computed a total of %s, billflow %s (%s)",
                                 number, self.vendor, total, invoice["total"], self.total_hint)
        detail = f"{self.vendor} invoice {kept['id']} ({number})"
        if self.settings.email_invoice and not kept.get("emailed"):
            self.email(delivery, kept["id"], number)
            kept = {**kept, "emailed": True}
            self.state.put(key, kept)
            detail += ", e-mailed"
        return DeliveryReceipt(external_id=kept["id"], detail=detail)

    def void(self, delivery: Delivery) -> DeliveryReceipt:
        invoice = delivery.invoice or {}
        number = invoice.get("number")
        if not number:
            return DeliveryReceipt(None, f"a draft: never posted to {self.vendor}, nothing to "
                                         f"void")
        found = self.find(str(invoice["id"]), str(number))
        if found is None:
            return DeliveryReceipt(None, f"invoice {number} is not in {self.vendor}; nothing "
                                         f"to void")
        vendor_id = self.id_of(found)
        if self.is_void(found):
            return DeliveryReceipt(vendor_id, f"{self.vendor} invoice {vendor_id} ({number}) "
                                              f"was already void")
        self.void_found(delivery, found, str(number))
        return DeliveryReceipt(vendor_id, f"{self.vendor} invoice {vendor_id} ({number}) voided")

    def kept(self, invoice_id: str) -> Mapping[str, Any] | None:
        """Return what was kept of the invoice billflow posted, or None."""
        return self.state.get(INVOICES_KEY + invoice_id)
