"""`billflow status` reads the daemon's store: here, what it says of the books' closing."""

from __future__ import annotations

from datetime import date, datetime, timezone
from pathlib import Path

from engine.core.snapshot import dump_state
from engine.core.state import EngineState
from engine.runtime.sqlite_store import SqliteStore
from engine.runtime.status import store_status

NOW = datetime(2026, 4, 2, 12, 0, tzinfo=timezone.utc)


def _status(tmp_path: Path, closed: date | None):
    store = SqliteStore(tmp_path / "billflow.db")
    try:
        state = EngineState(go_live=date(2026, 1, 1), clock=NOW)
        state.books_closed_through = closed
        store.commit_decisions(0, dump_state(state), NOW, "3f9a0c1d", [], [], [], NOW)
        return store_status(store, NOW)
    finally:
        store.close()


def test_status_says_how_far_the_books_are_closed(tmp_path: Path) -> None:
    report = _status(tmp_path, date(2026, 2, 28))
    assert report.as_json()["engine"]["books_closed_through"] == "2026-02-28"
    assert "books      closed through 2026-02-28" in report.as_text().splitlines()


def test_books_that_never_close_are_not_mentioned(tmp_path: Path) -> None:
    report = _status(tmp_path, None)
    assert report.as_json()["engine"]["books_closed_through"] is None
    assert "books" not in report.as_text()
