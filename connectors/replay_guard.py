"""Replayed webhook deliveries: a body already taken is answered 200 and read no further.

Vendors retry a delivery they think failed (QuickBooks, Xero): the connector checks the
signature, asks `seen(body)`, and calls `remember(body)` only once the delivery is read.
"""

from __future__ import annotations

import hashlib

from connectors.state import ConnectorState

__all__ = ["ReplayGuard"]

KEEP = 500  # digests remembered; vendors retry for hours, not for thousands of deliveries


class ReplayGuard:
    """Remember the digests of the last deliveries taken, in the connector's state."""

    def __init__(self, state: ConnectorState, key: str = "webhook_digests") -> None:
        self.state = state
        self.key = key

    @staticmethod
    def digest(body: bytes) -> str:
        return hashlib.sha256(body).hexdigest()

    def seen(self, body: bytes) -> bool:
        return self.digest(body) in (self.state.get(self.key) or [])

    def remember(self, body: bytes) -> None:
        kept = [d for d in self.state.get(self.key) or [] if d != self.digest(body)]
        kept.append(self.digest(body))
        self.state.put(self.key, kept[-KEEP:])
