"""What a connector that brings events in returns: synced batches, webhook replies, problems.

A source connector turns a vendor's records into billflow events (SPEC §2). It does so in
one or both of two ways:

    sync(cursor) -> SyncResult         polled by the daemon: everything changed since `cursor`
    webhook(request) -> WebhookReply   called by `POST /webhooks/{connector}`

The cursor is the connector's own JSON object (a timestamp, a sync token, a page link). The
first sync gets `None` or `{"since": "YYYY-MM-DD"}` (the go-live day, or the day given to
`billflow connectors resync NAME --since`): every source reads `since` when it has no
position of its own.

Both are pure translations plus HTTP calls to the vendor: the daemon stores the events (intake
validates each, a repeated id is ignored) and only then saves the new cursor, so a crash
between the two re-fetches the same records and loses nothing. A record the connector cannot
map to billflow's clients, projects and people is never dropped silently: it comes back as a
`SourceProblem`, shown by `billflow status` until the mapping is fixed and the connector is
re-synced.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

__all__ = ["SourceProblem", "SyncResult", "WebhookRequest", "WebhookReply"]


@dataclass(frozen=True)
class SourceProblem:
    """A vendor record that did not become an event, and why (no secret in `message`)."""

    record: str  # the vendor's name for it: "time_entry 636709355"
    message: str  # what to fix: "Harvest project 14307913 is mapped to no billflow project"

    def __str__(self) -> str:
        return f"{self.record}: {self.message}"


@dataclass(frozen=True)
class SyncResult:
    """One batch of a poll: events to store, then the cursor to keep; `more` asks for another."""

    events: tuple[Mapping[str, Any], ...] = ()
    cursor: Mapping[str, Any] | None = None  # None: keep the cursor as it was
    problems: tuple[SourceProblem, ...] = ()
    more: bool = False  # the vendor has more right now: sync again without waiting


@dataclass(frozen=True)
class WebhookRequest:
    """An HTTP request to `/webhooks/{connector}`; `body` is the raw bytes, as signed."""

    method: str
    path: str  # below /webhooks/{connector}, "" for the endpoint itself
    headers: Mapping[str, str]  # names lower-cased
    body: bytes = field(default=b"", repr=False)
    query: Mapping[str, str] = field(default_factory=dict)

    def header(self, name: str) -> str | None:
        return self.headers.get(name.lower())


@dataclass(frozen=True)
class WebhookReply:
    """The answer to a webhook, and the events and problems it brought."""

    status: int
    body: bytes = b""
    headers: tuple[tuple[str, str], ...] = ()
    events: tuple[Mapping[str, Any], ...] = ()
    problems: tuple[SourceProblem, ...] = ()

    @classmethod
    def refused(cls, status: int, reason: str) -> "WebhookReply":
        """A plain-text refusal (a bad signature is 401, a bad body 400)."""
        return cls(status, reason.encode("utf-8") + b"\n",
                   (("Content-Type", "text/plain; charset=utf-8"),))
