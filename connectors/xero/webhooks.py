"""Xero webhook deliveries: what they name, and the intent-to-receive probe.

Xero signs the raw body: base64(HMAC-SHA256(webhook key, body)). When a subscription is
created or changed it sends probes, some signed right and some not: the right ones get 200
with an empty body, the rest 401. A delivery is `{"events": [{"resourceId", "tenantId",
"eventCategory", "eventType", ...}], "firstEventSequence", "lastEventSequence", "entropy"}`;
the probe is the same with no events. Events name resources only; they are read afterwards.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = ["invoice_ids"]


def invoice_ids(payload: Any, tenant_id: str) -> list[str] | None:
    """Return the invoices of `tenant_id` the delivery names (None: not a Xero delivery)."""
    if not isinstance(payload, Mapping) or not isinstance(payload.get("events"), list):
        return None
    found = []
    for event in payload["events"]:
        if (isinstance(event, Mapping) and event.get("tenantId") == tenant_id
                and event.get("eventCategory") == "INVOICE" and event.get("resourceId")):
            found.append(str(event["resourceId"]))
    return found
