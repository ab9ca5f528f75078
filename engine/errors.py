"""The one exception tree of billflow.

    BillflowError
     ├── RuleError(path, line, col, message)      one problem in a rule file
     ├── RuleSetInvalid(errors)                    a rule folder with one or more RuleErrors
     ├── EventError(source, line, message)         a malformed or unknown-referencing event
     ├── ConnectorError(message, retryable)        a connector could not carry out an action
     │    └── UnmappedRecord(record, message)      a vendor record with no billflow counterpart
     ├── StoreError                                the durable store failed or is inconsistent
     │    └── StaleSnapshot(format, go_live)        an engine snapshot in an older format
     ├── UsageError                                a command was called the wrong way
     └── LinkRefused(reason, message)              a signed link or token that must not be honoured

Every error renders as one clear sentence (`str(err)`); no caller needs a traceback.
"""

from __future__ import annotations

from datetime import date

__all__ = [
    "BillflowError",
    "RuleError",
    "RuleSetInvalid",
    "EventError",
    "ConnectorError",
    "UnmappedRecord",
    "StoreError",
    "StaleSnapshot",
    "UsageError",
    "LinkRefused",
]


class BillflowError(Exception):
    """Base of every error billflow raises on purpose."""


class RuleError(BillflowError):
    """One problem in a rule file, located at `path:line:col`."""

    def __init__(self, path: str, line: int, col: int, message: str) -> None:
        super().__init__(f"{path}:{line}:{col}: {message}")
        self.path = path
        self.line = line
        self.col = col
        self.message = message

    def sort_key(self) -> tuple[str, int, int, str]:
        return (self.path, self.line, self.col, self.message)

    def as_dict(self) -> dict[str, object]:
        return {"path": self.path, "line": self.line, "column": self.col, "message": self.message}

    def __eq__(self, other: object) -> bool:
        return isinstance(other, RuleError) and self.sort_key() == other.sort_key()

    def __hash__(self) -> int:
        return hash(self.sort_key())


class RuleSetInvalid(BillflowError):
    """A rule folder that failed to load; carries every error found, in file order."""

    def __init__(self, errors: list[RuleError]) -> None:
        self.errors = sorted(set(errors), key=RuleError.sort_key)
        noun = "error" if len(self.errors) == 1 else "errors"
        super().__init__(f"{len(self.errors)} {noun} in the rule set")


class EventError(BillflowError):
    """An event that is malformed or names something unknown, located at `source:line`."""

    def __init__(self, source: str, line: int | None, message: str) -> None:
        where = f"{source}:{line}" if line is not None else source
        super().__init__(f"{where}: {message}")
        self.source = source
        self.line = line
        self.message = message


class ConnectorError(BillflowError):
    """A connector failed; `retryable` says whether the dispatcher should try again."""

    def __init__(self, message: str, *, retryable: bool, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retryable = retryable
        self.retry_after = retry_after


class UnmappedRecord(ConnectorError):
    """A vendor record names a client, project or person billflow cannot map; never retried."""

    def __init__(self, record: str, message: str) -> None:
        super().__init__(f"{record}: {message}", retryable=False)
        self.record = record
        self.message = message


class StoreError(BillflowError):
    """The durable store failed or holds something it should not."""


class StaleSnapshot(StoreError):
    """An engine snapshot in an older format than this billflow reads: rebuild, don't refuse.

    `go_live` is the go-live the old snapshot names, None where it cannot be read.
    """

    def __init__(self, format: int, go_live: date | None) -> None:
        super().__init__(f"the engine snapshot is in format {format}, which this billflow "
                         "no longer reads")
        self.format = format
        self.go_live = go_live


class UsageError(BillflowError):
    """A command was called with arguments that cannot work."""


class LinkRefused(BillflowError):
    """A signed link or token refused; `reason` is forged, expired, used or superseded."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message
