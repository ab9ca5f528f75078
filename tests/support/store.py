"""Reading a daemon's SQLite store from the side, read-only, while the daemon writes it."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def read_only(db: Path | str) -> Iterator[sqlite3.Connection]:
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=10)
    try:
        yield conn
    finally:
        conn.close()


def query(db: Path | str, sql: str, params: tuple = ()) -> list[tuple]:
    with read_only(db) as conn:
        return conn.execute(sql, params).fetchall()
