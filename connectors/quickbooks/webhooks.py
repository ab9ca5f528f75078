"""Intuit webhook deliveries: both payload formats (the `intuit-signature`, base64
HMAC-SHA256 of the raw body under the verifier token, is checked in connectors/books.py).

Legacy: `{"eventNotifications": [{"realmId", "dataChangeEvent": {"entities": [{"name",
"id", "operation"}]}}]}`. CloudEvents: a JSON array of `{"type": "qbo.<entity>.<verb>.v1",
"intuitentityid", "intuitaccountid", ...}`; one delivery may span several companies.
Either way a notification names entities only; the connector reads them afterwards.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

__all__ = ["Notice", "notices", "is_payment_change"]

# What a change to a payment is called in each format; deletions and voids bring no money.
_LEGACY_OPERATIONS = frozenset({"create", "update", "merge"})
_CLOUD_VERBS = frozenset({"created", "updated", "merged"})


@dataclass(frozen=True)
class Notice:
    """One entity change of one company."""

    realm_id: str
    entity: str  # lower case: "payment", "invoice"
    entity_id: str
    operation: str  # lower case: "create", "update", "delete", ...


def notices(payload: Any) -> list[Notice] | None:
    """Return the changes a delivery names (None: not a delivery of either format)."""
    if isinstance(payload, list):
        return [notice for notice in map(_cloud_event, payload) if notice is not None]
    if isinstance(payload, Mapping) and isinstance(payload.get("eventNotifications"), list):
        found = []
        for notification in payload["eventNotifications"]:
            if not isinstance(notification, Mapping):
                continue
            realm = str(notification.get("realmId") or "")
            change = notification.get("dataChangeEvent") or {}
            for entity in change.get("entities") or [] if isinstance(change, Mapping) else []:
                if isinstance(entity, Mapping) and entity.get("id") is not None:
                    found.append(Notice(realm, str(entity.get("name") or "").lower(),
                                        str(entity["id"]),
                                        str(entity.get("operation") or "").lower()))
        return found
    return None


def _cloud_event(event: Any) -> Notice | None:
    if not isinstance(event, Mapping):
        return None
    parts = str(event.get("type") or "").split(".")
    if len(parts) < 3 or parts[0] != "qbo" or event.get("intuitentityid") is None:
        return None
    return Notice(str(event.get("intuitaccountid") or ""), parts[1].lower(),
                  str(event["intuitentityid"]), parts[2].lower())


def is_payment_change(notice: Notice) -> bool:
    """True for a payment created or changed (the only notices that can bring money)."""
    return notice.entity == "payment" and (notice.operation in _LEGACY_OPERATIONS
                                           or notice.operation in _CLOUD_VERBS)
