"""Carry the history's payment references over to the head rules' invoice numbers.

Numbers are given in issue order, so a change that issues one invoice a day later shifts
the numbers of those issued in between. A payment in the history cites the number its
client saw, which the base rules gave; under the head rules the same number may belong
to another invoice. The plan reads such a reference as naming the invoice, not the
number: each token that was a base number is replaced, as the replay reaches the
payment, by the number the head rules gave that invoice (if they issued it by then).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping

from engine.errors import EventError
from engine.model.actions import Action
from engine.model.events import Event

__all__ = ["NumberTranslator", "issued_numbers"]

# The tokens reconciliation reads invoice numbers from (engine/workflow/reconciliation.py).
_TOKEN = re.compile(r"[A-Za-z0-9][A-Za-z0-9\-_/.]*[A-Za-z0-9]|[A-Za-z0-9]")


def issued_numbers(actions: Iterable[Action]) -> dict[str, str]:
    """Return number -> invoice id for every invoice the actions issued."""
    numbers: dict[str, str] = {}
    for action in actions:
        if action.type == "invoice.issued":
            invoice = action.payload["invoice"]
            numbers[invoice["number"]] = invoice["id"]
    return numbers


class NumberTranslator:
    """Rewrite payment references from base numbers to head numbers, event by event."""

    def __init__(self, base_numbers: Mapping[str, str]) -> None:
        self._base = base_numbers          # base number -> invoice id
        self._head: dict[str, str] = {}    # invoice id -> head number, as issued so far
        self.rewritten = 0

    def record(self, action: Action) -> None:
        """Note a number the head rules gave (the replay's on_action callback)."""
        if action.type == "invoice.issued":
            invoice = action.payload["invoice"]
            self._head[invoice["id"]] = invoice["number"]

    def _token(self, match: re.Match[str]) -> str:
        token = match.group(0)
        invoice_id = self._base.get(token)
        return self._head.get(invoice_id, token) if invoice_id is not None else token

    def events(self, items: Iterable[Event | EventError]) -> Iterator[Event | EventError]:
        """Yield the items in replay order, payment references rewritten on the way.

        The order is the replay's own: rejected lines first, then events by time (file
        order among equal times); the replay pulls each event only after it has applied
        the one before, so every number issued earlier is known by then.
        """
        listed = list(items)
        yield from (item for item in listed if isinstance(item, EventError))
        ordered = sorted(((item, index) for index, item in enumerate(listed)
                          if isinstance(item, Event)), key=lambda pair: (pair[0].at, pair[1]))
        for event, _ in ordered:
            payload = event.payload
            if event.type == "payment.received" and payload.reference:
                reference = _TOKEN.sub(self._token, payload.reference)
                if reference != payload.reference:
                    self.rewritten += 1
                    event = event._replace(payload=payload._replace(reference=reference))
            yield event
