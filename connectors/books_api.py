"""An accounting system's API as a books connector calls it: one account, OAuth, Decimal JSON.

Every call goes to one account (a QuickBooks company, a Xero organisation) whose rate limit
is shared by everything that calls it in this process (the dispatcher and the poller):
`account_bucket` hands out one bucket per account. Replies are read with amounts as Decimal;
an empty reply is `{}`. A 401 that a token refresh did not cure means the authorisation is
gone: the message says to run `billflow connect` again.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from typing import Any, ClassVar

import httpx

from connectors.base import Connector
from connectors.oauth import TokenKeeper
from connectors.vendor_api import TokenBucket, VendorApi
from connectors.wire import decode_json

__all__ = ["BooksApi", "account_bucket"]

_BUCKETS: dict[tuple[str, str], TokenBucket] = {}
_BUCKETS_GUARD = threading.Lock()
_UNAUTHORISED = frozenset({401})


def account_bucket(account: str, base_url: str, per_minute: int, *, burst: int) -> TokenBucket:
    """One bucket per account: the dispatcher's and the poller's calls count together."""
    with _BUCKETS_GUARD:
        key = (base_url, account)
        bucket = _BUCKETS.get(key)
        if bucket is None or bucket.refill_per_second != per_minute / 60:
            # The vendor also caps concurrent calls: bursts stay below that.
            bucket = _BUCKETS[key] = TokenBucket(per_minute, 60.0, burst=burst)
        return bucket


class BooksApi:
    """Calls to one account of an accounting system; a vendor's API subclasses it."""

    vendor: ClassVar[str] = ""  # as people know it: "QuickBooks", "Xero"

    def __init__(self, connector: Connector, url: str, *, bucket: TokenBucket,
                 tokens: TokenKeeper, timeout: float,
                 headers: Mapping[str, str] | None = None,
                 error_detail: Callable[[httpx.Response], str | None] | None = None) -> None:
        self.connector = connector
        self._api = VendorApi(
            connector, url,
            headers={"Accept": "application/json", "User-Agent": "billflow", **(headers or {})},
            bucket=bucket, authorize=tokens.authorize, reauthorize=tokens.reauthorize,
            error_detail=error_detail, timeout=httpx.Timeout(timeout, connect=min(timeout, 10.0)))

    def call(self, method: str, path: str, doing: str, **options: Any) -> Any:
        """Send one request and return its JSON (amounts as Decimal; no body: `{}`)."""
        response = self._api.request(method, path, doing=doing, accept=_UNAUTHORISED, **options)
        if response.status_code == 401:
            raise self.connector.fail(
                f"{doing}: {self.vendor} refused the access token even after a refresh "
                f"(HTTP 401); run `billflow connect {self.connector.name}` again",
                retryable=False)
        if not response.content:
            return {}
        try:
            return decode_json(response.content)
        except ValueError:
            raise self.connector.fail(f"{doing}: the reply is not JSON (HTTP "
                                      f"{response.status_code})", retryable=True) from None

    def close(self) -> None:
        self._api.close()
