"""What each issued invoice still owes, as an action stream tells it (for stream invariants)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from decimal import Decimal
from typing import Any


def owed_over_time(actions: Iterable[dict[str, Any]]
                   ) -> Iterator[tuple[dict[str, Any], dict[str, Decimal]]]:
    """Yield (action, what each issued invoice still owes after it), as the actions tell it."""
    owed: dict[str, Decimal] = {}
    for action in actions:
        kind, payload = action["type"], action["payload"]
        if kind == "invoice.issued":
            owed[payload["invoice"]["id"]] = Decimal(payload["invoice"]["total"])
        elif kind == "invoice.voided":
            owed[payload["invoice"]["id"]] = Decimal(0)
        elif kind == "payment.applied":
            for row in payload["allocations"]:
                owed[row["invoice"]] -= Decimal(row["amount"])
        yield action, owed
