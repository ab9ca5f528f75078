"""A source connector run by the daemon's SourceRunner into a real SQLite store.

Shared by the runner tests of each source: a copy of Northwind that declares the connector,
a `SqliteStore` on the test's clock, and a `SourceRunner` whose HTTP goes to a vendor double.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from datetime import date, datetime
from pathlib import Path

import httpx

from connectors.registry import ConnectorRegistry
from engine.runtime.intake import ingest_text
from engine.runtime.rulekeeper import RuleKeeper
from engine.runtime.sources import SourceRunner
from engine.runtime.sqlite_store import SqliteStore
from tests.connectors.fixtures.source_double import mock_context

NORTHWIND = Path(__file__).resolve().parents[2] / "examples" / "northwind"
CONNECTORS_ANCHOR = ("  connectors:                         # named connector instances; "
                     "secrets come from ${ENV}\n")
SINCE = date(2026, 3, 1)


def northwind_with(folder: Path, connector_yaml: str) -> Path:
    """Copy Northwind's rules (no events, no scripts) into `folder`, declaring one more connector."""
    shutil.copytree(NORTHWIND, folder, ignore=shutil.ignore_patterns("*.ndjson", "*.py"))
    agency = folder / "agency.yaml"
    text = agency.read_text(encoding="utf-8")
    assert CONNECTORS_ANCHOR in text
    agency.write_text(text.replace(CONNECTORS_ANCHOR, CONNECTORS_ANCHOR + connector_yaml),
                      encoding="utf-8")
    return folder


@contextmanager
def sqlite_store(path: Path, now: datetime) -> Iterator[SqliteStore]:
    """Open a store at `path` whose clock stands at `now`; close it afterwards."""
    store = SqliteStore(path, now=lambda: now)
    try:
        yield store
    finally:
        store.close()


def source_runner(folder: Path, store: SqliteStore, double: Callable[[httpx.Request], httpx.Response],
                  *, env: Mapping[str, str], now: datetime, since: date = SINCE) -> SourceRunner:
    """Return a SourceRunner over the rules in `folder` whose connectors call `double`."""
    keeper = RuleKeeper(folder, lambda: now)
    outcome = keeper.reload()
    assert outcome.ok, outcome.errors

    def context(rules, **options):
        return mock_context(rules, double, env=env, **options)

    return SourceRunner(store, keeper, ConnectorRegistry.discover(), lambda: now,
                        lambda text, source: ingest_text(store, text, source, now),
                        since=since, context_factory=context)


def stored_ids(store: SqliteStore) -> list[str]:
    """Return the ids of the events in the store, in the order stored."""
    return [event.id for event in store.events_after(0, 1000)]
