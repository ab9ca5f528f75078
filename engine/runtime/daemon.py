"""`billflow run`: intake, the deciding loop, the dispatcher, hot reload and HTTP together.

Threads: the decider (the only writer of engine state), the dispatcher, the rule watcher
and the HTTP server. They meet only in the store (the event log and the outbox) and in two
wake-up events, so each can stop at any instant without losing anything.
"""

from __future__ import annotations

import logging
from collections import Counter
import secrets
import threading
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any, Callable

import httpx

from connectors.base import ConnectorContext
from connectors.registry import ConnectorRegistry
from connectors.sources import WebhookReply, WebhookRequest
from engine.runtime.clock import Clock, SystemClock
from engine.runtime.decider import Decider
from engine.runtime.dispatcher import Dispatcher, RetryPolicy
from engine.runtime.http import HttpSurface
from engine.runtime.intake import IntakeResult, ingest_text
from engine.runtime.metrics import Metric, render_metrics
from engine.runtime.rulekeeper import RuleKeeper
from engine.runtime.sources import SourceRunner
from engine.runtime.store import Store, open_store
from engine.runtime.watcher import RuleWatcher
from engine.web.approval_links import ApprovalLinks
from engine.web.settings import WebOptions, WebSettings, resolve_settings

__all__ = ["Daemon", "DaemonOptions"]

log = logging.getLogger("billflow.daemon")
# The loops re-check at least this often (a changed clock, a stop request).
MAX_SLEEP = 1.0


@dataclass(frozen=True)
class DaemonOptions:
    rules: str
    db: str
    http: tuple[str, int] | None = ("127.0.0.1", 8787)
    token: str | None = None
    watch: bool = True
    retry: RetryPolicy = RetryPolicy()
    go_live: date | None = None  # first start only: when billing starts (default: today)
    web: WebOptions = WebOptions()  # approval links, sign-in, pages (docs/web.md)


class Daemon:
    """Run billflow unattended; `start()` returns once every part is up, `stop()` drains."""

    def __init__(self, options: DaemonOptions, *, clock: Clock | None = None,
                 registry: ConnectorRegistry | None = None, store: Store | None = None,
                 http_client_factory: Callable[..., httpx.Client] | None = None) -> None:
        self.options = options
        self.clock = clock or SystemClock()
        self.store = store or open_store(options.db)
        self.keeper = RuleKeeper(options.rules, self.clock.now)
        self.registry = registry or ConnectorRegistry.discover()
        self._http_client_factory = http_client_factory  # tests: vendors behind a MockTransport
        self.token = options.token or secrets.token_urlsafe(24)
        self._stop = threading.Event()
        self._wake_decider = threading.Event()
        self._wake_dispatcher = threading.Event()
        self._threads: list[threading.Thread] = []
        self.http: HttpSurface | None = None
        self.web: WebSettings | None = None
        self.watcher: RuleWatcher | None = None
        self.decider: Decider | None = None
        self.dispatcher: Dispatcher | None = None
        self.sources: SourceRunner | None = None
        self.dispatch_counts = {"attempts": 0, "failures": 0}

    # -- lifecycle ---------------------------------------------------------------------
    def start(self) -> None:
        """Load the rules (they must be valid to start), then start every part."""
        claim = getattr(self.store, "claim_for_daemon", None)
        if claim is not None:  # one daemon per SQLite file; a dead one's leases are freed
            freed = claim()
            if freed:
                log.info("%d deliveries cut short by the previous run are due again", freed)
        outcome = self.reload_rules("start")
        if not outcome:
            raise SystemExit(1)
        self.decider = Decider(self.store, self.keeper, self.clock, go_live=self.options.go_live)
        self.web = resolve_settings(self.options.web, db=self.options.db, http=self.options.http)
        # Approval mails carry a one-click link when some server answers it.
        serving = self.options.http is not None or self.options.web.public_url is not None
        self.dispatcher = Dispatcher(self.store, self.keeper, self.registry, self.clock.now,
                                     policy=self.options.retry,
                                     context_factory=self.connector_context,
                                     approval_url=ApprovalLinks(self.web, self.store).url
                                     if serving else None)
        self._spawn("billflow-decider", self._decide_forever)
        self._spawn("billflow-dispatcher", self._dispatch_forever)
        self.sources = SourceRunner(self.store, self.keeper, self.registry, self.clock.now,
                                    self.ingest, since=self.options.go_live or self.store.created_on(),
                                    context_factory=self.connector_context)
        self._spawn("billflow-sources", self._poll_forever)
        if self.options.watch:
            self.watcher = RuleWatcher(self.options.rules, self._on_rules_changed)
            self.watcher.start()
        if self.options.http is not None:
            self.http = HttpSurface(self.options.http, self,
                                    forwarded_allow_ips=self.web.forwarded_allow_ips)
            self.http.serve_in_thread()
            log.info("listening on %s", self.http.url)

    def _spawn(self, name: str, target: Any) -> None:
        thread = threading.Thread(target=target, name=name, daemon=True)
        thread.start()
        self._threads.append(thread)

    def stop(self) -> None:
        """Stop taking work, let the current round and delivery finish, close the store."""
        self._stop.set()
        self._wake_decider.set()
        self._wake_dispatcher.set()
        if self.http is not None:
            self.http.stop()
        if self.watcher is not None:
            self.watcher.stop()
        for thread in self._threads:
            thread.join(timeout=30)
        if self.dispatcher is not None:
            self.dispatcher.close()
        if self.sources is not None:
            self.sources.close()
        self.store.close()
        log.info("stopped")

    def wait(self) -> None:
        """Block until `stop()` is requested (signal handlers call it)."""
        while not self._stop.wait(0.5):
            pass

    def request_stop(self) -> None:
        self._stop.set()

    # -- loops -------------------------------------------------------------------------
    def _decide_forever(self) -> None:
        assert self.decider is not None
        while not self._stop.is_set():
            try:
                result = self.decider.run_round()
                if result.actions:
                    self._wake_dispatcher.set()
                if result.events:
                    continue  # more may be waiting
            except Exception:  # keep deciding; the store holds everything to retry with
                log.exception("decision round failed; retrying")
                self.decider = Decider(self.store, self.keeper, self.clock,
                                       go_live=self.options.go_live)
                self._stop.wait(1.0)
            self._sleep_until(self.decider.next_wake(), self._wake_decider)

    def _dispatch_forever(self) -> None:
        assert self.dispatcher is not None
        while not self._stop.is_set():
            try:
                result = self.dispatcher.run_once()
                self.dispatch_counts["attempts"] += result.delivered + result.retried + result.dead
                self.dispatch_counts["failures"] += result.retried + result.dead
                if result.delivered + result.retried + result.dead:
                    continue
            except Exception:
                log.exception("dispatch round failed; retrying")
            self._sleep_until(None, self._wake_dispatcher)

    def _poll_forever(self) -> None:
        assert self.sources is not None
        while not self._stop.is_set():
            try:
                self.sources.poll_due()
                wake = self.sources.next_wake()
            except Exception:  # a source's bug must not stop the others; the cursor held
                log.exception("source polling failed; retrying")
                wake = None
            self.clock.sleep(_seconds_until(wake, self.clock.now()), self._stop)

    def _sleep_until(self, instant: datetime | None, wake: threading.Event) -> None:
        self.clock.sleep(_seconds_until(instant, self.clock.now()), wake)
        wake.clear()

    # -- rules -------------------------------------------------------------------------
    def reload_rules(self, source: str) -> bool:
        outcome = self.keeper.reload()
        self.store.record_rules(outcome.version or "", outcome.at, outcome.ok, outcome.errors,
                                source)
        if outcome.ok:
            if outcome.changed:
                log.info("rules %s loaded from %s", outcome.version, self.options.rules)
        else:
            for error in outcome.errors:
                log.error("rules not reloaded: %s", error)
            if self.keeper.last_success is not None:
                log.error("the last good rules (%s) stay in force",
                          self.keeper.last_success.version)
        return outcome.ok

    def _on_rules_changed(self) -> None:
        if self.reload_rules("watch"):
            self._wake_decider.set()

    # -- what HTTP and the CLI ask -----------------------------------------------------
    def connector_context(self, rules: Any, **options: Any) -> ConnectorContext:
        """A connector's context in the daemon: its state (cursors, sealed tokens) in the store."""
        options.setdefault("state", self.store)  # the source runner passes it too
        return ConnectorContext(rules, http_client_factory=self._http_client_factory, **options)

    def webhook(self, name: str, request: WebhookRequest) -> WebhookReply:
        """Answer `POST /webhooks/{name}`: the connector verifies, intake stores, then 2xx."""
        if self.sources is None:
            return WebhookReply.refused(503, "starting")
        return self.sources.webhook(name, request)

    def ingest(self, text: str, source: str) -> IntakeResult:
        result = ingest_text(self.store, text, source, self.clock.now())
        if result.accepted:
            self._wake_decider.set()
        return result

    def health(self) -> tuple[bool, dict[str, Any]]:
        success = self.keeper.last_success
        detail: dict[str, Any] = {
            "status": "degraded" if self.keeper.degraded else "ok",
            "rules_version": success.version if success else None,
            "rules_loaded_at": success.at.isoformat() if success else None,
        }
        if self.keeper.last_error is not None:
            detail["errors"] = list(self.keeper.last_error.errors)
        # Unmapped vendor records need a person, not a restart: reported, not "degraded".
        problems = self.store.source_problems()
        if problems:
            detail["source_problems"] = len(problems)
        return not self.keeper.degraded, detail

    def metrics(self) -> str:
        counts = self.store.counts()
        success = self.keeper.last_success
        clock = self.decider.state.clock if self.decider else None
        families = [
            Metric("billflow_events_total", "counter", "Events accepted into the event log.",
                   (({}, counts.events),)),
            Metric("billflow_events_rejected_total", "counter",
                   "Events the engine refused (unknown client, invoice...).",
                   (({}, counts.events_rejected),)),
            Metric("billflow_actions_total", "counter", "Actions decided, by type.",
                   tuple(({"type": kind}, n) for kind, n in sorted(counts.actions.items()))),
            Metric("billflow_dispatch_attempts_total", "counter",
                   "Delivery attempts since start.", (({}, self.dispatch_counts["attempts"]),)),
            Metric("billflow_dispatch_failures_total", "counter",
                   "Failed delivery attempts since start.",
                   (({}, self.dispatch_counts["failures"]),)),
            Metric("billflow_outbox_pending", "gauge", "Deliveries waiting or retrying.",
                   (({}, counts.outbox_pending),)),
            Metric("billflow_dead_letters", "gauge", "Deliveries given up on.",
                   (({}, counts.outbox_dead),)),
            Metric("billflow_source_problems", "gauge",
                   "Vendor records a source connector could not map, by connector.",
                   tuple(({"connector": name}, n) for name, n in sorted(Counter(
                       row.connector for row in self.store.source_problems()).items()))),
            Metric("billflow_rules_info", "gauge", "The rule set in force (by version).",
                   (({"version": success.version or ""}, 1),) if success else ()),
            Metric("billflow_rules_last_reload_success_timestamp_seconds", "gauge",
                   "When the rules were last loaded successfully.",
                   (({}, success.at.timestamp()),) if success else ()),
            Metric("billflow_rules_degraded", "gauge",
                   "1 while the newest rule files failed to load.",
                   (({}, 1 if self.keeper.degraded else 0),)),
            Metric("billflow_engine_clock_timestamp_seconds", "gauge",
                   "How far the engine's clock has advanced.",
                   (({}, clock.timestamp()),) if clock else ()),
        ]
        return render_metrics(families)


def _seconds_until(instant: datetime | None, now: datetime) -> float:
    if instant is None:
        return MAX_SLEEP
    return min(MAX_SLEEP, max(0.0, (instant - now).total_seconds()))


def write_token_file(db: str, token: str) -> Path:
    """Write the intake token beside the store, readable by its owner only."""
    path = Path(db.removeprefix("sqlite:///")).with_suffix(".token")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.touch(mode=0o600, exist_ok=True)
    path.write_text(token + "\n", encoding="utf-8")
    path.chmod(0o600)
    return path

