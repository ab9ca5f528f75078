"""Clients to Xero contacts and back.

A client's contact is its `external_ids.xero` (a ContactID); failing that, the one contact
whose Name is the client's name, or whose EmailAddress is the client's first billing e-mail.
A contact found that way is remembered in the connector's state, so its payments map back.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from connectors.mapping import VendorMapping
from connectors.state import ConnectorState
from connectors.xero.api import XeroApi
from engine.errors import UnmappedRecord
from engine.ruleset.types import Client, RuleSet

__all__ = ["ContactDirectory", "LEARNED_KEY"]

LEARNED_KEY = "contacts"  # {ContactID: client id} found by name or e-mail


def _literal(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


class ContactDirectory:
    """Find the contact of a client, and the client of a contact."""

    def __init__(self, api: XeroApi, rules: RuleSet, state: ConnectorState, fail: Any) -> None:
        self.api = api
        self.rules = rules
        self.state = state
        self._fail = fail

    def contact_of(self, client: Client) -> str:
        """Return the ContactID for `client`, or raise a permanent error naming the fix."""
        given = client.external_ids.get("xero")
        if given not in (None, ""):
            return str(given)
        email = client.billing_contacts[0].email if client.billing_contacts else None
        found = self._search(f"Name=={_literal(client.name)}", client)
        if found is None and email:
            found = self._search(f"EmailAddress=={_literal(email)}", client)
        if found is None:
            tried = f"named {client.name!r}" + (f" or with e-mail {email}" if email else "")
            raise self._fail(
                f"client '{client.id}' has no external_ids.xero and no Xero contact is {tried}: "
                f"add `external_ids: {{xero: \"<ContactID>\"}}` to "
                f"{client.source.file or 'its Client file'}", retryable=False)
        self._learn(found, client.id)
        return found

    def client_of(self, record: str, contact: Mapping[str, Any]) -> str:
        """Return the client of `contact` (a Contact object), or raise UnmappedRecord."""
        contact_id = str(contact.get("ContactID") or "")
        learned = self.state.get(LEARNED_KEY) or {}
        mapping = VendorMapping(self.rules, "xero", "Xero", {"clients": learned})
        try:
            return mapping.client(record, contact_id)
        except UnmappedRecord:
            pass
        name = str(contact.get("Name") or "").strip().casefold()
        email = str(contact.get("EmailAddress") or "").casefold()
        for client in self.rules.clients.values():
            if client.external_ids.get("xero") not in (None, ""):
                continue
            emails = {c.email.casefold() for c in client.billing_contacts if c.email}
            if (name and client.name.casefold() == name) or (email and email in emails):
                self._learn(contact_id, client.id)
                return client.id
        shown = f" ({contact.get('Name')})" if contact.get("Name") else ""
        raise UnmappedRecord(record, f"Xero contact {contact_id}{shown} is no billflow client's "
                                     f"external_ids.xero, and no client has its name or "
                                     f"e-mail: add external_ids.xero to the client")

    def _search(self, where: str, client: Client) -> str | None:
        body = self.api.get("Contacts", doing=f"looking up the contact of '{client.id}'",
                            params={"where": where, "summaryOnly": "true"})
        contacts = [c for c in body.get("Contacts") or []
                    if isinstance(c, Mapping) and c.get("ContactStatus", "ACTIVE") == "ACTIVE"]
        if len(contacts) > 1:
            raise self._fail(f"client '{client.id}' matches {len(contacts)} Xero contacts; "
                             f"set its external_ids.xero", retryable=False)
        return str(contacts[0]["ContactID"]) if contacts else None

    def _learn(self, contact_id: str, client_id: str) -> None:
        learned = dict(self.state.get(LEARNED_KEY) or {})
        if learned.get(contact_id) != client_id:
            learned[contact_id] = client_id
            self.state.put(LEARNED_KEY, learned)
