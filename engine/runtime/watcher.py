"""Watch the rule folder and ask for a reload when it settles after a change."""

from __future__ import annotations

import logging
import threading
from pathlib import Path
from typing import Callable

from watchdog.events import FileSystemEvent, FileSystemEventHandler
from watchdog.observers import Observer

__all__ = ["RuleWatcher"]

log = logging.getLogger("billflow.watch")
# Editors and `git checkout` write several files in a burst: reload once it is quiet.
SETTLE_SECONDS = 0.3


class _Changes(FileSystemEventHandler):
    def __init__(self, on_change: Callable[[], None]) -> None:
        self._on_change = on_change

    def on_any_event(self, event: FileSystemEvent) -> None:
        if event.event_type in ("opened", "closed_no_write"):
            return
        self._on_change()


class RuleWatcher:
    """Call `reload` once the folder has been quiet for SETTLE_SECONDS after a change."""

    def __init__(self, folder: str | Path, reload: Callable[[], None]) -> None:
        self.folder = str(folder)
        self._reload = reload
        self._timer: threading.Timer | None = None
        self._lock = threading.Lock()
        self._observer = Observer()
        self._observer.schedule(_Changes(self._changed), self.folder, recursive=True)

    def _changed(self) -> None:
        with self._lock:
            if self._timer is not None:
                self._timer.cancel()
            self._timer = threading.Timer(SETTLE_SECONDS, self._fire)
            self._timer.daemon = True
            self._timer.start()

    def _fire(self) -> None:
        try:
            self._reload()
        except Exception:  # a failed reload must not kill the watcher
            log.exception("reload after a change failed")

    def start(self) -> None:
        self._observer.start()

    def stop(self) -> None:
        with self._lock:
            if self._timer is not None:
                self._timer.cancel()
        self._observer.stop()
        self._observer.join(timeout=5)
