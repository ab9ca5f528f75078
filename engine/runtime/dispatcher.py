"""Deliver outbox entries to connectors: idempotency key, retries with backoff, dead letters.

Dedup → send with retries → record (Alertmanager's notify pipeline): each outbox row is one
(action, connector); the action id is the idempotency key every connector passes on (an
e-mail's Message-ID, an API's Idempotency-Key / requestid). A retryable failure is tried
again after an exponential backoff with jitter, or after the `Retry-After` the far side
asked for; a permanent failure, or the last of `max_attempts`, parks the row as dead
(listed by `status`, re-queued by `billflow retry ID`).

The narrow window: a connector that has no idempotency key (SMTP) can deliver twice only
if the process dies after the far side accepted the message and before the delivery is
recorded — one local SQLite commit. Everything else repeats harmlessly.
"""

from __future__ import annotations

import json
import logging
import random
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Callable

from connectors.base import Connector, ConnectorContext
from connectors.registry import ConnectorRegistry
from engine.errors import ConnectorError
from engine.runtime.messages import ApprovalUrl, build_delivery
from engine.runtime.rulekeeper import RuleKeeper
from engine.runtime.store import Delivery, Store

__all__ = ["Dispatcher", "RetryPolicy", "DispatchResult"]

log = logging.getLogger("billflow.dispatch")


@dataclass(frozen=True)
class RetryPolicy:
    """Exponential backoff with full jitter, capped; `max_attempts` then dead."""

    max_attempts: int = 8
    base: timedelta = timedelta(seconds=30)
    cap: timedelta = timedelta(hours=2)

    def delay(self, attempts: int, retry_after: float | None, rng: random.Random) -> timedelta:
        """Return how long to wait before attempt number `attempts + 1`."""
        if retry_after is not None:
            return timedelta(seconds=max(retry_after, 0.0))
        ceiling = min(self.cap, self.base * (2 ** max(attempts - 1, 0)))
        return timedelta(seconds=ceiling.total_seconds() * (0.5 + rng.random() / 2))


@dataclass(frozen=True)
class DispatchResult:
    delivered: int
    retried: int
    dead: int


class Dispatcher:
    """Deliver due outbox rows with the connectors of the rule set in force."""

    def __init__(self, store: Store, keeper: RuleKeeper, registry: ConnectorRegistry,
                 now: Callable[[], datetime], *, policy: RetryPolicy = RetryPolicy(),
                 approval_url: ApprovalUrl | None = None,
                 context_factory: Callable[..., ConnectorContext] | None = None,
                 rng: random.Random | None = None) -> None:
        self.store = store
        self.keeper = keeper
        self.registry = registry
        self.now = now
        self.policy = policy
        self.approval_url = approval_url
        self._context_factory = context_factory or ConnectorContext
        self._rng = rng or random.Random()
        self._connectors: dict[str, Connector] = {}
        self._built_for: str | None = None

    def _connector(self, name: str) -> Connector:
        rules = self.keeper.active
        if self._built_for != rules.version:
            self.close()
            self._built_for = rules.version
        connector = self._connectors.get(name)
        if connector is None:
            config = rules.agency.connectors.get(name)
            if config is None:
                raise ConnectorError(f"connector '{name}' is no longer declared in the Agency",
                                     retryable=False)
            context = self._context_factory(rules, clock=self.now)
            connector = self.registry.build(config, context)
            self._connectors[name] = connector
        return connector

    def _invoice_lookup(self, invoice_id: str) -> dict | None:
        """Return an invoice as last decided (issued, else drafted), by its id."""
        for kind in ("invoice.issued", "invoice.drafted"):
            action = self.store.action(f"{kind}:{invoice_id}")
            if action is not None:
                return action["payload"]["invoice"]
        return None

    def deliver_one(self, row: Delivery) -> str:
        """Attempt one outbox row; record and return the outcome."""
        at = self.now()
        action = json.loads(row.action_json)
        try:
            connector = self._connector(row.connector)
            delivery = build_delivery(self.keeper.active, action, approval_url=self.approval_url,
                                      invoice_lookup=self._invoice_lookup)
            receipt = connector.deliver(delivery)
        except ConnectorError as exc:
            attempts = row.attempts + 1
            if exc.retryable and attempts < self.policy.max_attempts:
                wait = self.policy.delay(attempts, exc.retry_after, self._rng)
                self.store.record_attempt(row.action_id, row.connector, "retry", str(exc),
                                          at + wait, at)
                log.warning("dispatch %s via %s failed (attempt %d), retry in %ss: %s",
                            row.action_id, row.connector, attempts, int(wait.total_seconds()), exc)
                return "retry"
            self.store.record_attempt(row.action_id, row.connector, "dead", str(exc), None, at)
            log.error("dispatch %s via %s is dead after %d attempts: %s",
                      row.action_id, row.connector, attempts, exc)
            return "dead"
        except Exception as exc:  # a connector bug must not stop the dispatcher
            self.store.record_attempt(row.action_id, row.connector, "retry",
                                      f"internal error: {type(exc).__name__}: {exc}",
                                      at + self.policy.delay(row.attempts + 1, None, self._rng), at)
            log.exception("dispatch %s via %s raised", row.action_id, row.connector)
            return "retry"
        self.store.record_attempt(row.action_id, row.connector, "delivered",
                                  receipt.detail or None, None, at)
        log.info("dispatched %s via %s", row.action_id, row.connector,
                 extra={"action": row.action_id, "connector": row.connector})
        return "delivered"

    def run_once(self, limit: int = 100) -> DispatchResult:
        """Deliver every row due now (up to `limit`)."""
        counts = {"delivered": 0, "retry": 0, "dead": 0}
        for row in self.store.due_deliveries(self.now(), limit):
            counts[self.deliver_one(row)] += 1
        return DispatchResult(counts["delivered"], counts["retry"], counts["dead"])

    def close(self) -> None:
        for connector in self._connectors.values():
            connector.close()
        self._connectors.clear()
