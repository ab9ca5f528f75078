"""The real daemon in this process: a rule folder, a SQLite store, HTTP on loopback."""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from engine.runtime.clock import Clock
from engine.runtime.daemon import Daemon, DaemonOptions
from tests.support.net import LOOPBACK


def copy_rules(source: Path, folder: Path, *ignore: str) -> Path:
    """Copy the rule folder `source` to `folder`/rules (leaving out names matching `ignore`),
    for a test that edits it or points its connectors elsewhere; return the copy."""
    rules = folder / "rules"
    shutil.copytree(source, rules, ignore=shutil.ignore_patterns(*ignore) if ignore else None)
    return rules


@contextmanager
def running_daemon(rules: Path, db: Path, *, port: int = 0, clock: Clock | None = None,
                   http_client_factory: Callable[..., httpx.Client] | None = None,
                   **options: object) -> Iterator[Daemon]:
    """Start a daemon on `rules` and the SQLite store `db`, serving HTTP on loopback `port`
    (0: any; the web's public URL names the port given), without watching the rules unless
    `watch=True`; stop it on the way out. Other `options` are `DaemonOptions` fields."""
    options.setdefault("watch", False)
    daemon = Daemon(DaemonOptions(rules=str(rules), db=str(db), http=(LOOPBACK, port),
                                  **options),  # type: ignore[arg-type]
                    clock=clock, http_client_factory=http_client_factory)
    daemon.start()
    try:
        yield daemon
    finally:
        daemon.stop()


def base_url(daemon: Daemon) -> str:
    """Where the running daemon's HTTP surface answers."""
    assert daemon.http is not None
    return daemon.http.url
