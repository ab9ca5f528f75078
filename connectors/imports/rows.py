"""CSV exports read row by row: each row with the line it starts on, ids from its content."""

from __future__ import annotations

import csv
import hashlib
import io
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date

__all__ = ["CsvRow", "read_rows", "RowIds", "ImportResult"]


@dataclass(frozen=True)
class CsvRow:
    """One data row: the file line it starts on and its cells by header name."""

    line: int
    cells: Mapping[str, str]

    def get(self, *names: str) -> str:
        """Return the first of `names` the export has, stripped ("" when none)."""
        for name in names:
            if name in self.cells:
                return (self.cells[name] or "").strip()
        return ""

    def day(self, name: str, what: str) -> date:
        """Return column `name` as a date; `what` names it in the error ("start date")."""
        try:
            return date.fromisoformat(self.get(name))
        except ValueError:
            raise ValueError(f"{what} {self.get(name)!r} is not YYYY-MM-DD") from None


def read_rows(text: str, required: Sequence[Sequence[str]]) -> tuple[list[CsvRow], str | None]:
    """Return the rows of `text`, or a reason when its header lacks a `required` column.

    Each entry of `required` lists the names one column goes by (exports rename columns).
    """
    reader = csv.reader(io.StringIO(text.lstrip("\ufeff"), newline=""))
    try:
        header = [name.strip() for name in next(reader)]
    except StopIteration:
        return [], "the file is empty"
    missing = [names[0] for names in required if not any(n in header for n in names)]
    if missing:
        return [], f"line 1: not the expected export: no column {', '.join(missing)}"
    rows: list[CsvRow] = []
    start = reader.line_num + 1
    for cells in reader:
        if any(cell.strip() for cell in cells):
            rows.append(CsvRow(start, dict(zip(header, cells))))
        start = reader.line_num + 1
    return rows, None


class RowIds:
    """Event ids from a row's content: the same row in a re-imported file has the same id.

    Two identical rows in one file are two entries: the second gets `-2`, and so on.
    """

    def __init__(self, prefix: str) -> None:
        self.prefix = prefix
        self._seen: dict[str, int] = {}

    def of(self, parts: Sequence[str]) -> str:
        digest = hashlib.sha256("\x1f".join(parts).encode("utf-8")).hexdigest()[:20]
        count = self._seen[digest] = self._seen.get(digest, 0) + 1
        return f"{self.prefix}:{digest}" + (f"-{count}" if count > 1 else "")


@dataclass(frozen=True)
class ImportResult:
    """The events of the good rows, `FILE:LINE: message` for each bad one, rows passed over."""

    events: tuple[Mapping[str, object], ...] = ()
    errors: tuple[str, ...] = ()
    skipped: tuple[str, ...] = field(default=())

    def iter_lines(self) -> Iterator[str]:
        yield from self.errors
        yield from self.skipped
