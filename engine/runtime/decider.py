"""The daemon's deciding loop: event log in, the pure core, decisions out — atomically.

Each round reads the events appended after the snapshot's position and hands them to the
same Engine that `simulate` drives, exactly as a replay does: before each event the clock
ticks to the moment the event was received, then the event is applied at that moment;
finally the clock ticks to now. The new state, its position in the event log and every
decided action (with one outbox row per connector the Agency's routing names) are then
committed in ONE transaction. A crash before the commit re-decides the same actions with
the same ids from the same events; a crash after it has lost nothing.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from engine.core.engine import Engine
from engine.core.snapshot import dump_state, load_state
from engine.core.state import EngineState
from engine.errors import EventError, StaleSnapshot
from engine.model.actions import Action
from engine.model.events import parse_event
from engine.runtime.clock import Clock
from engine.runtime.rulekeeper import RuleKeeper
from engine.runtime.store import IncomingEvent, Store

__all__ = ["Decider", "Round", "DOWNTIME_GRACE"]

# A gap longer than this between the engine's clock and now means it was not running:
# the first tick after start then catches up as after downtime (no reminder bursts).
DOWNTIME_GRACE = timedelta(minutes=10)
BATCH = 2_000

log = logging.getLogger("billflow.decider")


@dataclass(frozen=True)
class Round:
    """What one round decided."""

    events: int
    rejected: int
    actions: tuple[Action, ...]
    position: int


class Decider:
    """Own the engine state; run rounds; swap rule sets when the keeper has a new one."""

    def __init__(self, store: Store, keeper: RuleKeeper, clock: Clock, *,
                 go_live: date | None = None) -> None:
        self.store = store
        self.keeper = keeper
        self.clock = clock
        self.rules = keeper.active
        self.engine = Engine(self.rules)
        snapshot = store.load_snapshot()
        restored: EngineState | None = None
        # A rebuild decides up to the old snapshot's position before its first commit: the
        # store refuses a commit that goes back.
        self._rebuild_until = 0
        if snapshot is not None:
            try:
                restored = load_state(snapshot.state_json)
            except StaleSnapshot as stale:
                log.warning("%s: rebuilding the state by replaying the event log from its "
                            "first event (the snapshot was at event %d)", stale, snapshot.position)
                go_live = stale.go_live or go_live
                self._rebuild_until = snapshot.position
        if restored is None:
            # A first start bills from the day the store was created, unless told otherwise;
            # a rebuild from the go-live its old snapshot names.
            start = go_live or store.created_on(self.rules.agency.calendar.zone)
            self.state: EngineState = self.engine.new_state(start)
            self.position = 0
        else:
            self.state = restored
            self.position = snapshot.position
            self.engine.adopt(self.state)
        if snapshot is not None and snapshot.rules_version != self.rules.version:
            self._announce_rules(snapshot.rules_version)
        # Downtime: from the engine's clock to this start. Every tick that begins inside it
        # catches up `resumed` (missed drafts all created, of reminders and nudges only the
        # latest), in whatever rounds and between whatever events received meanwhile.
        self._down_until: datetime | None = None
        now = clock.now()
        if self.state.clock is not None and now - self.state.clock > DOWNTIME_GRACE:
            self._down_until = now

    def _announce_rules(self, previous: str | None) -> None:
        """Log `rules.changed` in the event log, so history shows when rules took effect."""
        now = self.clock.now()
        version = self.rules.version
        body = {"id": f"rules.changed:{version}:{now.isoformat()}", "type": "rules.changed",
                "at": now.isoformat(), "payload": {"version": version}}
        if previous:
            body["payload"]["previous"] = previous
        self.store.append_events([IncomingEvent(
            id=body["id"], type="rules.changed", at=body["at"], body=json.dumps(body),
            source="engine", received_at=now)])

    def adopt_new_rules(self) -> bool:
        """Switch to the keeper's rule set if it changed; return whether it did."""
        latest = self.keeper.active
        if latest.version == self.rules.version:
            return False
        previous = self.rules.version
        self.rules = latest
        self.engine = Engine(latest)
        self.engine.adopt(self.state)
        self._announce_rules(previous)
        log.info("rules %s in force (was %s)", latest.version, previous)
        return True

    def _tick(self, until: datetime, actions: list[Action]) -> None:
        clock = self.state.clock
        resumed = (self._down_until is not None and clock is not None
                   and clock < self._down_until)
        if self._down_until is not None and until >= self._down_until:
            self._down_until = None  # this tick ends the catch-up
        actions.extend(self.engine.tick(self.state, until, resumed=resumed))

    def run_round(self) -> Round:
        """Decide on every event not yet decided, tick to now, and commit it all at once."""
        self.adopt_new_rules()
        limit = max(BATCH, self._rebuild_until - self.position)
        events = self.store.events_after(self.position, limit)
        actions: list[Action] = []
        rejected: list[tuple[int, str]] = []
        position = self.position
        for stored in events:
            at = stored.received_at
            if self.state.clock is not None and at < self.state.clock:
                at = self.state.clock
            self._tick(at, actions)
            try:
                event = parse_event(json.loads(stored.body), stored.source)
                actions.extend(self.engine.apply(self.state, event, at))
            except EventError as exc:
                rejected.append((stored.position, exc.message))
                log.warning("event %s rejected: %s", stored.id, exc.message)
            except ValueError as exc:  # the body is not JSON: intake should have said so
                rejected.append((stored.position, f"not valid JSON ({exc})"))
            position = stored.position
        now = self.clock.now()
        if len(events) < limit:  # caught up with the log: the clock may reach now
            self._tick(now, actions)
        routing = self.rules.agency.routing
        deliveries = [(action.id, connector) for action in actions
                      for connector in routing.get(action.type, ())]
        if actions or rejected or position != self.position:
            self.store.commit_decisions(position, dump_state(self.state), self.state.clock,
                                        self.rules.version, actions, deliveries, rejected, now)
        self.position = position
        for action in actions:
            log.info("decided %s", action.id, extra={"action": action.id, "type": action.type,
                                                     "client": action.client})
        return Round(len(events), len(rejected), tuple(actions), position)

    def next_wake(self) -> datetime | None:
        """Return when the next timer fires (the loop sleeps until then, or until woken)."""
        return self.state.timers.peek_time()
