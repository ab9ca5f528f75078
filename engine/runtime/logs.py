"""Structured logs: one line per decision and per dispatch, as text or JSON lines."""

from __future__ import annotations

import json
import logging
import sys
from datetime import datetime, timezone

__all__ = ["configure_logging", "JsonLinesFormatter"]

# Attributes every LogRecord has; anything else was passed as `extra=` and is a field.
_STANDARD = set(logging.LogRecord("", 0, "", 0, "", (), None).__dict__) | {"message", "asctime"}


class JsonLinesFormatter(logging.Formatter):
    """Format each record as one JSON object: time, level, logger, message, extra fields."""

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": datetime.fromtimestamp(record.created, timezone.utc).isoformat(),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        entry.update({key: value for key, value in record.__dict__.items()
                      if key not in _STANDARD and not key.startswith("_")})
        if record.exc_info:
            entry["error"] = self.formatException(record.exc_info).splitlines()[-1]
        return json.dumps(entry, default=str)


def configure_logging(fmt: str = "text", level: str = "info") -> None:
    """Send billflow's logs to stderr as `text` or `json` lines."""
    handler = logging.StreamHandler(sys.stderr)
    if fmt == "json":
        handler.setFormatter(JsonLinesFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger("billflow")
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    root.propagate = False
