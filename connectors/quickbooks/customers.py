"""Clients to QuickBooks customers and back (connectors/books_directory.py).

Customers are searched by DisplayName, then by primary e-mail, with Intuit's query
language; a payment names only its customer's id, so the customer is read to match it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from connectors.books_directory import PartyDirectory
from connectors.quickbooks.api import quote
from engine.errors import ConnectorError
from engine.ruleset.types import Client

__all__ = ["CustomerDirectory", "LEARNED_KEY"]

LEARNED_KEY = "customers"  # {customer id: client id} found by name or e-mail
_FIELDS = {"name": "DisplayName", "email": "PrimaryEmailAddr"}


class CustomerDirectory(PartyDirectory):
    """Find the customer of a client, and the client of a customer."""

    type = "quickbooks"
    vendor = "QuickBooks"
    party = "customer"
    party_id = "<customer Id>"
    learned_key = LEARNED_KEY

    def customer_of(self, client: Client) -> str:
        """Return the customer Id for `client`, or raise a permanent error naming the fix."""
        return self.party_of(client)

    def client_of(self, record: str, customer_id: Any) -> str:
        """Return the client of customer `customer_id`, or raise UnmappedRecord."""
        found = self.learned_client(record, customer_id)
        if found is not None:
            return found
        customer = self._customer(str(customer_id))
        if customer is not None:
            email = str((customer.get("PrimaryEmailAddr") or {}).get("Address") or "")
            found = self.client_named(str(customer_id), str(customer.get("DisplayName") or ""),
                                      email)
            if found is not None:
                return found
        raise self.unmapped(record, customer_id, customer and customer.get("DisplayName"))

    def matches(self, client: Client, field: str, value: str) -> Sequence[Mapping[str, Any]]:
        statement = f"select * from Customer where {_FIELDS[field]} = {quote(value)}"
        found = self.api.query(statement, doing=f"looking up the customer of '{client.id}'")
        customers = [c for c in found.get("Customer") or [] if isinstance(c, Mapping)]
        return [c for c in customers if c.get("Active", True)]

    def id_of(self, party: Mapping[str, Any]) -> str:
        return str(party["Id"])

    def _customer(self, customer_id: str) -> Mapping[str, Any] | None:
        try:
            body = self.api.get(f"customer/{customer_id}",
                                doing=f"reading customer {customer_id}")
        except ConnectorError as exc:
            if exc.retryable:
                raise
            return None
        customer = body.get("Customer") if isinstance(body, Mapping) else None
        return customer if isinstance(customer, Mapping) else None
