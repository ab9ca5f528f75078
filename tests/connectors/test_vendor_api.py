"""VendorApi and TokenBucket: rate limits, Retry-After, typed errors, one re-authorisation."""

from __future__ import annotations

from datetime import datetime, timezone

import httpx
import pytest

from connectors.base import Connector, ConnectorContext
from connectors.vendor_api import TokenBucket, VendorApi
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
