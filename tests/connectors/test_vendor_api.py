"""VendorApi and TokenBucket: rate limits, Retry-After, typed errors, one re-authorisation."""

from __future__ import annotations

from datetime import datetime, timezone

import httpx
import pytest

from connectors.base import Connector, ConnectorContext
from connectors.vendor_api import Buckets, TokenBucket, VendorApi
from engine.errors import ConnectorError

NOW = datetime(2026, 11, 26, 14, 0, tzinfo=timezone.utc)


class FakeTime:
    """A monotonic clock that only moves when something sleeps on it."""

    def __init__(self) -> None:
        self.now = 100.0
        self.slept: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(round(seconds, 6))
        self.now += seconds


def test_the_bucket_lets_a_burst_through_then_paces_calls() -> None:
    time = FakeTime()
    bucket = TokenBucket(100, 15.0, clock=time.clock, sleep=time.sleep)  # Harvest: 100 per 15 s
    waits = [bucket.acquire() for _ in range(102)]
    assert waits[:100] == [0.0] * 100
    assert time.slept == [0.15, 0.15]  # one token every 15/100 s once the burst is spent


def test_the_bucket_refills_with_time_and_never_beyond_its_capacity() -> None:
    time = FakeTime()
    bucket = TokenBucket(2, 1.0, clock=time.clock, sleep=time.sleep)
    bucket.acquire(), bucket.acquire()
    time.now += 60  # a long quiet spell refills to capacity, not to 120 tokens
    assert [bucket.acquire() for _ in range(3)] == [0.0, 0.0, 0.5]


def test_pause_holds_every_call_for_the_vendors_retry_after() -> None:
    time = FakeTime()
    bucket = TokenBucket(10, 1.0, clock=time.clock, sleep=time.sleep)
    bucket.pause(30)
    assert bucket.acquire() == pytest.approx(30.1)


def api(handler, **options) -> tuple[VendorApi, list[httpx.Request]]:
    seen: list[httpx.Request] = []

    def record(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return handler(request)

    context = ConnectorContext(clock=lambda: NOW, http_client_factory=lambda **kw: httpx.Client(
        transport=httpx.MockTransport(record), **kw))
    connector = Connector("tracker", {}, context)
    return VendorApi(connector, "https://api.vendor.example/v2/", **options), seen


def test_a_call_goes_to_the_base_url_with_the_fixed_headers() -> None:
    client, seen = api(lambda r: httpx.Response(200, json={"ok": True}),
                       headers={"User-Agent": "billflow (ops@agency.example)"},
                       authorize=lambda: {"Authorization": "Bearer t0ken-abcdef"})
    assert client.json("GET", "/users/me", doing="reading the user", params={"page": 2}) == {
        "ok": True}
    assert str(seen[0].url) == "https://api.vendor.example/v2/users/me?page=2"
    assert seen[0].headers["User-Agent"] == "billflow (ops@agency.example)"
    assert seen[0].headers["Authorization"] == "Bearer t0ken-abcdef"
    client.request("GET", "https://api.vendor.example/v2/next?page=3", doing="paging")
    assert str(seen[1].url) == "https://api.vendor.example/v2/next?page=3"


def test_429_is_retryable_with_the_vendors_delay_and_pauses_the_bucket() -> None:
    time = FakeTime()
    bucket = TokenBucket(10, 1.0, clock=time.clock, sleep=time.sleep)
    client, _ = api(lambda r: httpx.Response(429, headers={"Retry-After": "17"},
                                             text="Too many requests"), bucket=bucket)
    with pytest.raises(ConnectorError) as caught:
        client.request("GET", "/time_entries", doing="listing time entries")
    assert caught.value.retryable and caught.value.retry_after == 17.0
    assert "listing time entries: HTTP 429 Too many requests" in str(caught.value)
    assert bucket.acquire() >= 17.0


@pytest.mark.parametrize("status, retryable", [(500, True), (503, True), (408, True),
                                               (400, False), (403, False), (404, False),
                                               (422, False), (402, False)])
def test_server_errors_are_retried_and_client_errors_are_not(status: int, retryable: bool) -> None:
    client, _ = api(lambda r: httpx.Response(status, text="nope"))
    with pytest.raises(ConnectorError) as caught:
        client.request("POST", "/invoices", doing="creating the invoice", json={})
    assert caught.value.retryable is retryable


def test_a_vendor_quota_status_can_be_made_retryable() -> None:
    client, _ = api(lambda r: httpx.Response(402, headers={"Retry-After": "900"},
                                             text="hourly quota"),
                    retryable_statuses=frozenset({402}))
    with pytest.raises(ConnectorError) as caught:
        client.request("GET", "/reports", doing="reading the report")
    assert caught.value.retryable and caught.value.retry_after == 900.0


def quota_reset(response: httpx.Response) -> float | None:
    value = response.headers.get("X-Quota-Resets-In")
    return float(value) if response.status_code == 402 and value else None


def test_a_vendors_own_retry_after_is_read_first_and_pauses_the_bucket() -> None:
    time = FakeTime()
    bucket = TokenBucket(10, 1.0, clock=time.clock, sleep=time.sleep)
    client, _ = api(lambda r: httpx.Response(402, headers={"X-Quota-Resets-In": "1200",
                                                           "Retry-After": "60"}),
                    bucket=bucket, retryable_statuses=frozenset({402}),
                    retry_after_of=quota_reset)
    with pytest.raises(ConnectorError) as caught:
        client.request("GET", "/reports", doing="reading the report")
    assert caught.value.retryable and caught.value.retry_after == 1200.0
    assert bucket.acquire() >= 1200.0


def test_retry_after_counts_when_the_vendors_reader_finds_nothing() -> None:
    replies = iter([httpx.Response(402, headers={"Retry-After": "60"}),
                    httpx.Response(429, headers={"X-Quota-Resets-In": "1200",
                                                 "Retry-After": "17"})])
    client, _ = api(lambda r: next(replies), retryable_statuses=frozenset({402}),
                    retry_after_of=quota_reset)
    for expected in (60.0, 17.0):
        with pytest.raises(ConnectorError) as caught:
            client.request("GET", "/reports", doing="reading the report")
        assert caught.value.retry_after == expected


def test_401_reauthorizes_once_and_repeats_the_call() -> None:
    tokens = iter(["old-token-1234", "new-token-5678"])
    current = {"token": next(tokens)}

    def refresh() -> bool:
        current["token"] = next(tokens)
        return True

    def handler(request: httpx.Request) -> httpx.Response:
        ok = request.headers["Authorization"] == "Bearer new-token-5678"
        return httpx.Response(200 if ok else 401, json={"ok": ok})

    client, seen = api(handler, authorize=lambda: {"Authorization": f"Bearer {current['token']}"},
                       reauthorize=refresh)
    assert client.json("GET", "/company", doing="reading the company") == {"ok": True}
    assert [r.headers["Authorization"] for r in seen] == ["Bearer old-token-1234",
                                                          "Bearer new-token-5678"]


def test_a_401_that_refresh_cannot_fix_is_permanent() -> None:
    client, seen = api(lambda r: httpx.Response(401, text="invalid token"),
                       reauthorize=lambda: True)
    with pytest.raises(ConnectorError) as caught:
        client.request("GET", "/company", doing="reading the company")
    assert not caught.value.retryable
    assert len(seen) == 2  # one repeat, not a loop


def test_no_reply_is_retryable_and_names_no_url() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("timed out reading https://api.vendor.example/?token=s3cret-value")

    client, _ = api(handler)
    with pytest.raises(ConnectorError) as caught:
        client.request("GET", "/x", doing="reading x")
    assert caught.value.retryable
    assert "s3cret" not in str(caught.value) and "timed out" in str(caught.value)


def test_a_reply_that_is_not_json_is_retryable() -> None:
    client, _ = api(lambda r: httpx.Response(200, text="<html>maintenance</html>"))
    with pytest.raises(ConnectorError, match="the reply is not JSON") as caught:
        client.json("GET", "/x", doing="reading x")
    assert caught.value.retryable


@pytest.mark.parametrize("status", [404, 412])
def test_accepted_statuses_are_handed_back_not_raised(status: int) -> None:
    client, _ = api(lambda r: httpx.Response(status, json={"sync": "fresh-token"}))
    response = client.request("GET", "/events", doing="reading events",
                              accept=frozenset({404, 412}))
    assert response.status_code == status and response.json() == {"sync": "fresh-token"}
    with pytest.raises(ConnectorError):
        client.request("GET", "/events", doing="reading events", accept=frozenset({409}))


def test_accept_still_reauthorizes_a_401_first() -> None:
    refreshed = []

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200 if refreshed else 401)

    client, seen = api(handler, reauthorize=lambda: refreshed.append(True) or True)
    assert client.request("GET", "/x", doing="reading x", accept=frozenset({401})).status_code == 200
    assert len(seen) == 2


def test_a_vendor_error_reader_words_the_message() -> None:
    def detail(response: httpx.Response) -> str | None:
        return None if response.status_code >= 500 else response.json()["errors"][0]["title"]

    client, _ = api(lambda r: httpx.Response(422, json={"errors": [{"title": "Bad date"}]}),
                    error_detail=detail)
    with pytest.raises(ConnectorError) as caught:
        client.request("POST", "/entries", doing="creating an entry")
    assert "creating an entry: HTTP 422 Bad date" in str(caught.value)
    assert not caught.value.retryable
    # None: the body's own text, and the status still decides what is retryable.
    busy, _ = api(lambda r: httpx.Response(503, text="down for  maintenance"), error_detail=detail)
    with pytest.raises(ConnectorError) as caught:
        busy.request("GET", "/entries", doing="reading entries")
    assert "reading entries: HTTP 503 down for maintenance" in str(caught.value)
    assert caught.value.retryable


def test_error_detail_can_be_overridden_by_a_subclass() -> None:
    class Described(VendorApi):
        def error_detail(self, response: httpx.Response) -> str:
            return f"vendor code {response.headers['X-Code']}"

    context = ConnectorContext(clock=lambda: NOW, http_client_factory=lambda **kw: httpx.Client(
        transport=httpx.MockTransport(lambda r: httpx.Response(400, headers={"X-Code": "E7"})),
        **kw))
    client = Described(Connector("tracker", {}, context), "https://api.vendor.example")
    with pytest.raises(ConnectorError, match="reading x: HTTP 400 vendor code E7"):
        client.request("GET", "/x", doing="reading x")


def test_buckets_wait_for_each_and_pause_all() -> None:
    fast_time, slow_time = FakeTime(), FakeTime()
    fast = TokenBucket(2, 1.0, clock=fast_time.clock, sleep=fast_time.sleep)
    slow = TokenBucket(3, 60.0, clock=slow_time.clock, sleep=slow_time.sleep)
    both = Buckets(fast, slow)
    assert [both.acquire() for _ in range(3)] == [0.0, 0.0, 0.5]  # the fast one paces first
    assert both.acquire() == pytest.approx(0.5 + 20.0)  # then the slow one is spent too
    both.pause(30)
    assert fast.acquire() >= 30 and slow.acquire() >= 30


def test_any_object_with_acquire_and_pause_paces_the_calls() -> None:
    class Counting:
        def __init__(self) -> None:
            self.calls, self.paused = 0, []

        def acquire(self) -> float:
            self.calls += 1
            return 0.0

        def pause(self, seconds: float) -> None:
            self.paused.append(seconds)

    limit = Counting()
    client, _ = api(lambda r: httpx.Response(429, headers={"Retry-After": "9"}), bucket=limit)
    with pytest.raises(ConnectorError):
        client.request("GET", "/x", doing="reading x")
    assert (limit.calls, limit.paused) == (1, [9.0])
