"""A vendor's HTTP API as a connector uses it: base URL, auth, a rate limit, timeouts, typed errors.

Every SaaS connector (Harvest, Toggl, Asana, Productive, QuickBooks Online, Xero) talks to its
vendor through one `VendorApi`:

- a `TokenBucket` keeps calls under the vendor's published limit (Harvest 100 per 15 s,
  Xero 60 per minute, ...), so billflow waits instead of collecting 429s;
- a 429 or 5xx (and 408) is a retryable `ConnectorError` carrying the vendor's `Retry-After`;
  any other 4xx is permanent; statuses a vendor uses for quotas (Toggl's 402) can be added,
  and a vendor that says when to come back elsewhere (a quota-reset header) passes
  `retry_after_of`, read before `Retry-After`;
  statuses a call expects (Asana's 412 with a fresh sync token, a 404 for a record that may
  be gone) are handed back instead: `request(..., accept=frozenset({404}))`;
- the message of an error says what the vendor's body says: `error_detail` reads it (the
  body's text by default; a vendor with structured errors passes its own reader);
- a 401 asks `reauthorize` (an OAuth refresh) once and repeats the call;
- a timeout or lost connection is retryable; nothing the vendor says about a failure can
  carry a secret into a log (messages pass the connector's redactor).

A `RateLimit` is anything with `acquire()` and `pause(seconds)`: one `TokenBucket`, or
`Buckets(...)` when a vendor publishes several limits at once (Productive).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from typing import Any, Protocol

import httpx

from connectors.base import Connector, http_transport_error, retry_after_seconds

__all__ = ["RateLimit", "TokenBucket", "Buckets", "VendorApi", "reply_text"]

DEFAULT_TIMEOUT = httpx.Timeout(30.0, connect=10.0)


class TokenBucket:
    """Allow `rate` calls per `per` seconds on average, `burst` at once; `acquire` waits."""

    def __init__(self, rate: int, per: float, *, burst: int | None = None,
                 clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        if rate <= 0 or per <= 0:
            raise ValueError("a token bucket needs a positive rate and period")
        self.capacity = float(burst if burst is not None else rate)
        self.refill_per_second = rate / per
        self._tokens = self.capacity
        self._clock = clock
        self._sleep = sleep
        self._stamp = clock()
        self._lock = threading.Lock()

    def acquire(self) -> float:
        """Take one token, waiting for it if need be; return the seconds waited."""
        with self._lock:
            now = self._clock()
            self._tokens = min(self.capacity,
                               self._tokens + (now - self._stamp) * self.refill_per_second)
            self._stamp = now
            self._tokens -= 1.0
            wait = 0.0 if self._tokens >= 0 else -self._tokens / self.refill_per_second
        if wait > 0:
            self._sleep(wait)
        return wait

    def pause(self, seconds: float) -> None:
        """Empty the bucket for `seconds` (the vendor said Retry-After)."""
        with self._lock:
            self._tokens = min(self._tokens, -seconds * self.refill_per_second)


def reply_text(response: httpx.Response) -> str:
    """Return a failed reply's body as one short line, or its reason phrase when it is empty."""
    # The body says why (Slack: "channel_not_found"); keep it short, it goes into logs.
    return " ".join(response.text.split())[:200] if response.content else response.reason_phrase


class RateLimit(Protocol):
    """What VendorApi paces its calls with."""

    def acquire(self) -> float:
        """Wait for the right to make one call; return the seconds waited."""
        ...

    def pause(self, seconds: float) -> None:
        """Hold every call for `seconds` (the vendor said Retry-After)."""
        ...


class Buckets:
    """Several rate limits taken together: a call waits for a token from each."""

    def __init__(self, *buckets: RateLimit) -> None:
        self.buckets = buckets

    def acquire(self) -> float:
        return sum(bucket.acquire() for bucket in self.buckets)

    def pause(self, seconds: float) -> None:
        for bucket in self.buckets:
            bucket.pause(seconds)


class VendorApi:
    """HTTP calls to one vendor on behalf of `connector`."""

    def __init__(self, connector: Connector, base_url: str, *,
                 headers: Mapping[str, str] | None = None,
                 bucket: RateLimit | None = None,
                 authorize: Callable[[], Mapping[str, str]] | None = None,
                 reauthorize: Callable[[], bool] | None = None,
                 retryable_statuses: frozenset[int] = frozenset(),
                 error_detail: Callable[[httpx.Response], str | None] | None = None,
                 retry_after_of: Callable[[httpx.Response], float | None] | None = None,
                 timeout: httpx.Timeout | float = DEFAULT_TIMEOUT) -> None:
        self.connector = connector
        self.base_url = base_url.rstrip("/")
        self.bucket = bucket
        self._authorize = authorize
        self._reauthorize = reauthorize
        self._retryable = retryable_statuses
        self._error_detail = error_detail
        self._retry_after_of = retry_after_of
        self._client = connector.context.http_client(timeout=timeout,
                                                     headers=dict(headers or {}))

    def url(self, path: str) -> str:
        """Return the absolute URL of `path` (an absolute URL, e.g. a next-page link, as is)."""
        if path.startswith(("http://", "https://")):
            return path
        return f"{self.base_url}/{path.lstrip('/')}"

    def request(self, method: str, path: str, *, doing: str,
                accept: frozenset[int] = frozenset(), **options: Any) -> httpx.Response:
        """Send one request; return a 2xx/3xx response, or one whose status is in `accept`,
        else raise a typed ConnectorError."""
        response = self._send(method, path, doing, options)
        if response.status_code == 401 and self._reauthorize is not None and self._reauthorize():
            response = self._send(method, path, doing, options)
        if response.status_code >= 400 and response.status_code not in accept:
            raise self._error(response, doing)
        return response

    def error_detail(self, response: httpx.Response) -> str:
        """Return what a failed reply says, for the error message: the vendor's reader's
        reading of it, else its body's text (shortened), else the reason phrase."""
        if self._error_detail is not None:
            detail = self._error_detail(response)
            if detail is not None:
                return detail
        return reply_text(response)

    def retry_after(self, response: httpx.Response) -> float | None:
        """Return the seconds a failed reply asks to wait: the vendor's reader's reading of
        it, else its `Retry-After`, else None."""
        if self._retry_after_of is not None:
            delay = self._retry_after_of(response)
            if delay is not None:
                return delay
        return retry_after_seconds(response.headers.get("Retry-After"),
                                   self.connector.context.now())

    def json(self, method: str, path: str, *, doing: str, **options: Any) -> Any:
        """Send one request and return its JSON body (a non-JSON reply is a retryable error)."""
        response = self.request(method, path, doing=doing, **options)
        try:
            return response.json()
        except ValueError:
            raise self.connector.fail(f"{doing}: the reply is not JSON "
                                      f"(HTTP {response.status_code})", retryable=True) from None

    def _send(self, method: str, path: str, doing: str, options: dict[str, Any]) -> httpx.Response:
        if self.bucket is not None:
            self.bucket.acquire()
        headers = dict(options.pop("headers", None) or {})
        if self._authorize is not None:
            headers.update(self._authorize())
        try:
            return self._client.request(method, self.url(path), headers=headers, **options)
        except httpx.HTTPError as exc:
            raise http_transport_error(self.connector, exc, doing) from None
        finally:
            options["headers"] = headers  # a repeat after reauthorize sends the same extras

    def _error(self, response: httpx.Response, doing: str) -> Exception:
        status = response.status_code
        delay = self.retry_after(response)
        if delay is not None and self.bucket is not None and status in (429, *self._retryable):
            self.bucket.pause(delay)
        what = f"{doing}: HTTP {status} {self.error_detail(response)}".rstrip()
        if status in self._retryable or status in (408, 429) or status >= 500:
            return self.connector.fail(what, retryable=True, retry_after=delay)
        return self.connector.fail(what, retryable=False)

    def close(self) -> None:
        self._client.close()
