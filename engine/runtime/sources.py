"""Run the Agency's source connectors: poll them on their interval, answer their webhooks.

Every connector whose type produces events (Harvest, Toggl, Asana, Productive, the books'
payments) is a source. For each sync batch or webhook the runner

1. stores the events through intake (each validated; a repeated id is ignored, so a replayed
   webhook or a re-fetched page adds nothing),
2. notes every record the connector could not map, and every event intake refused, as a source
   problem (shown by `billflow status` and `/healthz` details until re-synced),
3. only then keeps the connector's new cursor: a crash before step 3 fetches the same records
   again, and step 1 makes that harmless.

A retryable failure (429, 5xx, a timeout) waits for the vendor's `Retry-After` or a growing
backoff; a permanent one (bad credentials) is noted as a problem and retried at the normal
interval, so fixing the credentials is enough.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from connectors.base import Connector, ConnectorContext
from connectors.registry import ConnectorRegistry
from connectors.sources import SourceProblem, WebhookReply, WebhookRequest
from connectors.state import ConnectorState
from engine.errors import ConnectorError, StoreError
from engine.runtime.intake import IntakeResult
from engine.runtime.rulekeeper import RuleKeeper
from engine.runtime.store import Store

__all__ = ["SourceRunner", "PollOutcome", "CURSOR_KEY", "MAX_BATCHES", "since_cursor", "resync"]

log = logging.getLogger("billflow.sources")

CURSOR_KEY = "cursor"
MAX_BATCHES = 50  # batches in one poll before other connectors get their turn
_MAX_BACKOFF = timedelta(hours=1)

Ingest = Callable[[str, str], IntakeResult]


def since_cursor(day: date | None) -> dict[str, Any] | None:
    """The cursor of a first sync: everything from `day` (None: the connector's own default).

    Each connector keeps its own cursor shape; every one reads `since` when it has no position.
    """
    return {"since": day.isoformat()} if day is not None else None


def resync(store: Store, connector: str, since: date | None) -> int:
    """Make `connector` fetch again from `since` and forget its problems; return how many.

    The records fetched again that were stored before are repeats (same event ids): harmless.
    """
    ConnectorState(store, connector).put(CURSOR_KEY, since_cursor(since))
    return store.clear_source_problems(connector)


@dataclass(frozen=True)
class PollOutcome:
    """What one poll of one connector did."""

    connector: str
    accepted: int = 0
    duplicates: int = 0
    problems: int = 0
    error: str | None = None


class SourceRunner:
    """Build the source connectors of the rules in force; poll them and take their webhooks."""

    def __init__(self, store: Store, keeper: RuleKeeper, registry: ConnectorRegistry,
                 now: Callable[[], datetime], ingest: Ingest, *, since: date | None = None,
                 context_factory: Callable[..., ConnectorContext] | None = None) -> None:
        self.store = store
        self.keeper = keeper
        self.registry = registry
        self.now = now
        self.ingest = ingest
        self.since = since
        self._context_factory = context_factory or ConnectorContext
        self._connectors: dict[str, Connector] = {}
        self._built_for: str | None = None
        self._next_poll: dict[str, datetime] = {}
        self._failures: dict[str, int] = {}
        self._lock = threading.RLock()  # the poll and webhook threads build connectors once

    # -- the connectors ----------------------------------------------------------------
    def sources(self) -> dict[str, Connector]:
        """Return the source connectors of the rules in force, built once per rule version."""
        with self._lock:
            rules = self.keeper.active
            if self._built_for == rules.version:
                return self._connectors
            self.close()
            self._built_for = rules.version
            for name, config in rules.agency.connectors.items():
                if config.type not in self.registry:
                    continue  # `billflow connectors check` reports a type that is not installed
                if not self.registry.connector_class(config.type).produces:
                    continue
                context = self._context_factory(rules, clock=self.now, state=self.store)
                try:
                    self._connectors[name] = self.registry.build(config, context)
                except ConnectorError as exc:
                    log.error("source connector '%s' cannot start: %s", name, exc)
                    self._note(name, [SourceProblem("configuration", str(exc))])
            return self._connectors

    # -- polling -----------------------------------------------------------------------
    def poll_due(self) -> list[PollOutcome]:
        """Poll every polled source whose time has come."""
        outcomes = []
        for name, connector in list(self.sources().items()):
            if not connector.polls():
                continue
            due = self._next_poll.get(name)
            if due is None or due <= self.now():
                outcomes.append(self.poll(name))
        return outcomes

    def poll(self, name: str) -> PollOutcome:
        """Sync connector `name` now, batch after batch while it says there is more.

        Only the poll thread polls; webhooks are answered meanwhile (no lock is held across
        the vendor's replies).
        """
        connector = self.sources().get(name)
        if connector is None or not connector.polls():
            raise ConnectorError(f"'{name}' is not a polled source connector in the Agency",
                                 retryable=False)
        totals = {"accepted": 0, "duplicates": 0, "problems": 0}
        try:
            interval = connector.poll_interval()
            cursor = connector.state.get(CURSOR_KEY)
            if cursor is None:
                cursor = since_cursor(self.since)
            for _ in range(MAX_BATCHES):
                result = connector.sync(cursor)
                taken = self._take(name, result.events, result.problems, f"connector:{name}")
                for key in totals:
                    totals[key] += taken[key]
                if result.cursor is not None:
                    cursor = dict(result.cursor)
                    connector.state.put(CURSOR_KEY, cursor)
                if not result.more:
                    break
        except ConnectorError as exc:
            return self._failed(name, connector, exc, totals)
        except StoreError as exc:  # the events were not stored: the cursor stayed put
            log.error("source '%s': events not stored, will retry: %s", name, exc)
            self._next_poll[name] = self.now() + self._backoff(name, None)
            return PollOutcome(name, error=str(exc), **totals)
        self._failures.pop(name, None)
        self._next_poll[name] = self.now() + timedelta(seconds=interval)
        if totals["accepted"] or totals["problems"]:
            log.info("source '%s': %d new events, %d repeated, %d problems", name,
                     totals["accepted"], totals["duplicates"], totals["problems"])
        return PollOutcome(name, **totals)

    def _failed(self, name: str, connector: Connector, exc: ConnectorError,
                totals: dict[str, int]) -> PollOutcome:
        if exc.retryable:
            wait = self._backoff(name, exc.retry_after)
            log.warning("source '%s' sync failed, retry in %ds: %s", name,
                        int(wait.total_seconds()), exc)
        else:
            self._failures.pop(name, None)
            self._note(name, [SourceProblem("sync", str(exc))])
            try:
                wait = timedelta(seconds=connector.poll_interval())
            except ConnectorError:
                wait = timedelta(seconds=connector.default_poll_interval)
            log.error("source '%s' sync failed: %s", name, exc)
        self._next_poll[name] = self.now() + wait
        return PollOutcome(name, error=str(exc), **totals)

    def _backoff(self, name: str, retry_after: float | None) -> timedelta:
        failures = self._failures[name] = self._failures.get(name, 0) + 1
        if retry_after is not None:
            return timedelta(seconds=max(retry_after, 1.0))
        return min(_MAX_BACKOFF, timedelta(seconds=15 * 2 ** (failures - 1)))

    def next_wake(self) -> datetime | None:
        """When the next poll is due (None: nothing polls)."""
        polled = [name for name, c in self.sources().items() if c.polls()]
        if not polled:
            return None
        if any(name not in self._next_poll for name in polled):
            return self.now()
        return min(self._next_poll[name] for name in polled)

    # -- webhooks ----------------------------------------------------------------------
    def webhook(self, name: str, request: WebhookRequest) -> WebhookReply:
        """Hand a push to connector `name`; store what it brings before answering 2xx."""
        connector = self.sources().get(name)
        if connector is None:
            return WebhookReply.refused(404, f"no source connector named '{name}'")
        try:
            reply = connector.webhook(request)
        except ConnectorError as exc:
            log.warning("webhook for '%s' failed: %s", name, exc)
            return WebhookReply.refused(503 if exc.retryable else 400, "not processed")
        if reply.events or reply.problems:
            try:
                self._take(name, reply.events, reply.problems, f"webhook:{name}")
            except StoreError as exc:  # the vendor retries a 5xx: nothing is lost
                log.error("webhook for '%s': events not stored: %s", name, exc)
                return WebhookReply.refused(503, "not stored, retry later")
        return reply

    # -- shared ------------------------------------------------------------------------
    def _take(self, name: str, events: Sequence[Mapping[str, Any]],
              problems: Sequence[SourceProblem], source: str) -> dict[str, int]:
        noted = list(problems)
        accepted = duplicates = 0
        if events:
            text = "\n".join(json.dumps(event, separators=(",", ":"), sort_keys=True)
                             for event in events)
            result = self.ingest(text, source)
            accepted, duplicates = result.accepted, result.duplicates
            noted.extend(SourceProblem("event", error) for error in result.errors)
        if noted:
            self._note(name, noted)
        return {"accepted": accepted, "duplicates": duplicates, "problems": len(noted)}

    def _note(self, name: str, problems: Sequence[SourceProblem]) -> None:
        for problem in problems:
            log.warning("source '%s': %s", name, problem)
        self.store.record_source_problems(name, [(p.record, p.message) for p in problems],
                                          self.now())

    def close(self) -> None:
        with self._lock:
            for connector in self._connectors.values():
                connector.close()
            self._connectors.clear()
            self._built_for = None
