"""Clients to Xero contacts and back (connectors/books_directory.py).

Contacts are searched by Name, then by EmailAddress, with Xero's `where` filter; a payment's
invoice carries its contact, which is matched as it is.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from connectors.books_directory import PartyDirectory
from engine.ruleset.types import Client

__all__ = ["ContactDirectory", "LEARNED_KEY"]

LEARNED_KEY = "contacts"  # {ContactID: client id} found by name or e-mail
_FIELDS = {"name": "Name", "email": "EmailAddress"}


def _literal(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


class ContactDirectory(PartyDirectory):
    """Find the contact of a client, and the client of a contact."""

    type = "xero"
    vendor = "Xero"
    party = "contact"
    party_id = "<ContactID>"
    learned_key = LEARNED_KEY

    def contact_of(self, client: Client) -> str:
        """Return the ContactID for `client`, or raise a permanent error naming the fix."""
        return self.party_of(client)

    def client_of(self, record: str, contact: Mapping[str, Any]) -> str:
        """Return the client of `contact` (a Contact object), or raise UnmappedRecord."""
        contact_id = str(contact.get("ContactID") or "")
        found = (self.learned_client(record, contact_id)
                 or self.client_named(contact_id, str(contact.get("Name") or ""),
                                      str(contact.get("EmailAddress") or "")))
        if found is None:
            raise self.unmapped(record, contact_id, contact.get("Name"))
        return found

    def matches(self, client: Client, field: str, value: str) -> Sequence[Mapping[str, Any]]:
        body = self.api.get("Contacts", doing=f"looking up the contact of '{client.id}'",
                            params={"where": f"{_FIELDS[field]}=={_literal(value)}",
                                    "summaryOnly": "true"})
        return [c for c in body.get("Contacts") or []
                if isinstance(c, Mapping) and c.get("ContactStatus", "ACTIVE") == "ACTIVE"]

    def id_of(self, party: Mapping[str, Any]) -> str:
        return str(party["ContactID"])
