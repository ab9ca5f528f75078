"""An accounting system's payments into `payment.received` events: the shared part.

A vendor's reader pages its payments changed since the cursor (`sync`) and reads what a
webhook names (`fetch`); each payment becomes one event whose id is the vendor's payment id,
or a `SourceProblem` when its client or currency cannot be told, never a silent drop.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from datetime import datetime, time, timedelta, timezone
from typing import Any, TypeVar

from connectors.sources import SourceProblem, SyncResult
from connectors.state import ConnectorState
from connectors.translation import translate_records
from engine.errors import ConnectorError

__all__ = ["PaymentReader", "FIRST_SYNC"]

FIRST_SYNC = timedelta(days=30)  # with no cursor and no `since`
Item = TypeVar("Item")


class PaymentReader:
    """Read payments of one account and translate them; a vendor's reader subclasses it."""

    def __init__(self, api: Any, directory: Any, state: ConnectorState, home_currency: str,
                 page_size: int, now: Callable[[], datetime]) -> None:
        self.api = api
        self.directory = directory
        self.state = state
        self.home_currency = home_currency
        self.page_size = page_size
        self.now = now

    # -- a vendor says how ------------------------------------------------------------------
    def sync(self, cursor: Mapping[str, Any] | None) -> SyncResult:
        """Return the events of one page of payments changed since `cursor`."""
        raise NotImplementedError

    def fetch(self, named: Sequence[str]) -> tuple[list[dict], list[SourceProblem]]:
        """Read what a webhook delivery named and translate the payments found."""
        raise NotImplementedError

    def record_of(self, item: Any) -> str:
        """Return how a problem names the payment: "Payment 901"."""
        raise NotImplementedError

    def event(self, item: Any, record: str) -> dict | None:
        """Return the payment.received of `item` (None: no money arrived); raise
        UnmappedRecord when it cannot be told whose it is."""
        raise NotImplementedError

    # -- shared -----------------------------------------------------------------------------
    def translate(self, items: Iterable[Any]) -> tuple[list[dict], list[SourceProblem]]:
        """Translate payments; one whose client or currency cannot be told is a problem."""
        found = translate_records(items, self.record_of, self.event)
        return list(found.events), list(found.problems)

    def first_instant(self, cursor: Mapping[str, Any]) -> datetime:
        """Return where a sync without a position starts: the `since` day (UTC), else a
        while back."""
        if cursor.get("since"):
            day = datetime.fromisoformat(str(cursor["since"])).date()
            return datetime.combine(day, time(), timezone.utc)
        return self.now() - FIRST_SYNC

    @staticmethod
    def read_each(ids: Iterable[str], read: Callable[[str], Item]) -> Iterator[Item]:
        """Read each id once; one gone since the notification (refused for good) is skipped."""
        for named in dict.fromkeys(ids):
            try:
                found = read(named)
            except ConnectorError as exc:
                if exc.retryable:
                    raise
                continue
            yield found
