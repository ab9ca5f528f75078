"""Clients to an accounting system's parties (QuickBooks customers, Xero contacts) and back.

A client's party is its `external_ids.<type>`; failing that, the one active party whose name
is the client's name, or whose e-mail is the client's first billing e-mail. A party found
that way is remembered in the connector's state, so its payments map back to the client.
Anything else is an error that names the fix. A vendor's directory says how to search its
parties and what they are called.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any, ClassVar

from connectors.mapping import VendorMapping
from connectors.state import ConnectorState
from engine.errors import ConnectorError, UnmappedRecord
from engine.ruleset.types import Client, RuleSet

__all__ = ["PartyDirectory"]


class PartyDirectory:
    """Find the party of a client, and the client of a party."""

    type: ClassVar[str] = ""  # the connector type, the key of `external_ids`: "quickbooks"
    vendor: ClassVar[str] = ""  # as people know it: "QuickBooks"
    party: ClassVar[str] = ""  # what the vendor calls a client: "customer", "contact"
    party_id: ClassVar[str] = ""  # what the vendor calls its id, for the fix: "<ContactID>"
    learned_key: ClassVar[str] = ""  # state key of {party id: client id} found by name or e-mail

    def __init__(self, api: Any, rules: RuleSet, state: ConnectorState,
                 fail: Callable[..., ConnectorError]) -> None:
        self.api = api
        self.rules = rules
        self.state = state
        self._fail = fail

    # -- a vendor says how its parties are found -----------------------------------------------
    def matches(self, client: Client, field: str, value: str) -> Sequence[Mapping[str, Any]]:
        """Return the active parties whose `field` ("name" or "email") is `value`."""
        raise NotImplementedError

    def id_of(self, party: Mapping[str, Any]) -> str:
        """Return the id of a party the vendor returned."""
        raise NotImplementedError

    # -- client -> party -------------------------------------------------------------------
    def party_of(self, client: Client) -> str:
        """Return the party id for `client`, or raise a permanent error naming the fix."""
        given = client.external_ids.get(self.type)
        if given not in (None, ""):
            return str(given)
        email = client.billing_contacts[0].email if client.billing_contacts else None
        found = self._search(client, "name", client.name)
        if found is None and email:
            found = self._search(client, "email", email)
        if found is None:
            tried = f"named {client.name!r}" + (f" or with e-mail {email}" if email else "")
            raise self._fail(
                f"client '{client.id}' has no external_ids.{self.type} and no {self.vendor} "
                f"{self.party} is {tried}: add `external_ids: {{{self.type}: "
                f"\"{self.party_id}\"}}` to {client.source.file or 'its Client file'}",
                retryable=False)
        self._learn(found, client.id)
        return found

    def _search(self, client: Client, field: str, value: str) -> str | None:
        found = self.matches(client, field, value)
        if len(found) > 1:
            raise self._fail(f"client '{client.id}' matches {len(found)} {self.vendor} "
                             f"{self.party}s; set its external_ids.{self.type}", retryable=False)
        return self.id_of(found[0]) if found else None

    # -- party -> client -------------------------------------------------------------------
    def learned_client(self, record: str, party_id: str) -> str | None:
        """Return the client of `party_id` by its external id or as learned before, or None."""
        learned = self.state.get(self.learned_key) or {}
        mapping = VendorMapping(self.rules, self.type, self.vendor, {"clients": learned})
        try:
            return mapping.client(record, party_id)
        except UnmappedRecord:
            return None

    def client_named(self, party_id: str, name: str, email: str) -> str | None:
        """Return (and remember) the client without an external id that has this name or
        billing e-mail, or None."""
        name, email = name.strip().casefold(), email.casefold()
        for client in self.rules.clients.values():
            if client.external_ids.get(self.type) not in (None, ""):
                continue  # a client with an id is that party, and no other
            emails = {c.email.casefold() for c in client.billing_contacts if c.email}
            if (name and client.name.casefold() == name) or (email and email in emails):
                self._learn(party_id, client.id)
                return client.id
        return None

    def unmapped(self, record: str, party_id: str, name: Any) -> UnmappedRecord:
        """Return the problem of a party that is no client's."""
        shown = f" ({name})" if name else ""
        return UnmappedRecord(record, f"{self.vendor} {self.party} {party_id}{shown} is no "
                                      f"billflow client's external_ids.{self.type}, and no "
                                      f"client has its name or e-mail: add "
                                      f"external_ids.{self.type} to the client")

    def _learn(self, party_id: str, client_id: str) -> None:
        learned = dict(self.state.get(self.learned_key) or {})
        if learned.get(party_id) != client_id:
            learned[party_id] = client_id
            self.state.put(self.learned_key, learned)
