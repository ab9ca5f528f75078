"""Clients to QuickBooks customers and back.

A client's customer is its `external_ids.quickbooks`; failing that, the one customer whose
DisplayName is the client's name, or whose primary e-mail is the client's first billing
e-mail. A customer found that way is remembered (in the connector's state), so payments from
it map back to the client. Anything else is an error that names the fix.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from connectors.mapping import VendorMapping
from connectors.quickbooks.api import QuickBooksApi, quote
from connectors.state import ConnectorState
from engine.errors import ConnectorError, UnmappedRecord
from engine.ruleset.types import Client, RuleSet

__all__ = ["CustomerDirectory", "LEARNED_KEY"]

LEARNED_KEY = "customers"  # {customer id: client id} found by name or e-mail


class CustomerDirectory:
    """Find the customer of a client, and the client of a customer."""

    def __init__(self, api: QuickBooksApi, rules: RuleSet, state: ConnectorState,
                 fail: Any) -> None:
        self.api = api
        self.rules = rules
        self.state = state
        self._fail = fail

    def customer_of(self, client: Client) -> str:
        """Return the customer Id for `client`, or raise a permanent error naming the fix."""
        given = client.external_ids.get("quickbooks")
        if given not in (None, ""):
            return str(given)
        found = self._search(client)
        if found is None:
            email = client.billing_contacts[0].email if client.billing_contacts else None
            tried = f"named {client.name!r}" + (f" or with e-mail {email}" if email else "")
            raise self._fail(
                f"client '{client.id}' has no external_ids.quickbooks and no QuickBooks "
                f"customer is {tried}: add `external_ids: {{quickbooks: \"<customer Id>\"}}` "
                f"to {client.source.file or 'its Client file'}", retryable=False)
        self._learn(found, client.id)
        return found

    def client_of(self, record: str, customer_id: Any) -> str:
        """Return the client of customer `customer_id`, or raise UnmappedRecord."""
        learned = self.state.get(LEARNED_KEY) or {}
        mapping = VendorMapping(self.rules, "quickbooks", "QuickBooks",
                                {"clients": learned})
        try:
            return mapping.client(record, customer_id)
        except UnmappedRecord:
            pass
        customer = self._customer(str(customer_id))
        if customer is not None:
            name = str(customer.get("DisplayName") or "").strip().casefold()
            email = str((customer.get("PrimaryEmailAddr") or {}).get("Address") or "")
            for client in self.rules.clients.values():
                if client.external_ids.get("quickbooks") not in (None, ""):
                    continue  # a client with an id is that customer, and no other
                emails = {c.email.casefold() for c in client.billing_contacts if c.email}
                if client.name.casefold() == name or (email and email.casefold() in emails):
                    self._learn(str(customer_id), client.id)
                    return client.id
        shown = f" ({customer.get('DisplayName')})" if customer and customer.get("DisplayName") else ""
        raise UnmappedRecord(record, f"QuickBooks customer {customer_id}{shown} is no billflow "
                                     f"client's external_ids.quickbooks, and no client has its "
                                     f"name or e-mail: add external_ids.quickbooks to the client")

    def _search(self, client: Client) -> str | None:
        statements = [f"select * from Customer where DisplayName = {quote(client.name)}"]
        if client.billing_contacts and client.billing_contacts[0].email:
            statements.append("select * from Customer where PrimaryEmailAddr = "
                              f"{quote(client.billing_contacts[0].email)}")
        for statement in statements:
            found = self.api.query(statement, doing=f"looking up the customer of '{client.id}'")
            customers = [c for c in found.get("Customer") or [] if isinstance(c, Mapping)]
            active = [c for c in customers if c.get("Active", True)]
            if len(active) == 1:
                return str(active[0]["Id"])
            if len(active) > 1:
                raise self._fail(f"client '{client.id}' matches {len(active)} QuickBooks "
                                 f"customers; set its external_ids.quickbooks", retryable=False)
        return None

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

    def _learn(self, customer_id: str, client_id: str) -> None:
        learned = dict(self.state.get(LEARNED_KEY) or {})
        if learned.get(customer_id) != client_id:
            learned[customer_id] = client_id
            self.state.put(LEARNED_KEY, learned)
