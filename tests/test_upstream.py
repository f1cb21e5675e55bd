"""Upstream client: retry bounds, Retry-After, no retry on auth, caps and accounting."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import aiohttp
import pytest
from aioresponses import aioresponses

from exporter.errors import (
    AuthError,
    InvalidResponseError,
    RateLimitedError,
    UpstreamClientError,
    UpstreamConnectionError,
    UpstreamServerError,
    UpstreamTimeoutError,
)
from exporter.upstream import Limits, RequestStats, RetryPolicy, Upstream, parse_retry_after

BASE = "https://api.example.test"
KEY = "sk-upstream-test-WWsecret0123456789"
URL = re.compile(r"^https://api\.example\.test/v1/thing.*$")


class Sleeps:
    def __init__(self) -> None:
        self.calls: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.calls.append(seconds)


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as s:
        yield s


def client(session: aiohttp.ClientSession, sleeps: Sleeps, **kw: object) -> Upstream:
    return Upstream(
        session, BASE, {"Authorization": f"Bearer {KEY}"}, RequestStats(), sleep=sleeps, **kw
    )  # type: ignore[arg-type]


async def test_success_parses_decimals(session: aiohttp.ClientSession) -> None:
    with aioresponses() as m:
        m.get(URL, body='{"a": 0.1, "b": 2}')
        up = client(session, Sleeps())
        data = await up.get_json("/v1/thing")
    assert str(data["a"]) == "0.1" and data["b"] == 2
    assert up.stats.requests == 1 and not up.stats.failures


async def test_auth_is_not_retried(session: aiohttp.ClientSession) -> None:
    sleeps = Sleeps()
    with aioresponses() as m:
        m.get(URL, status=401, repeat=True)
        up = client(session, sleeps)
        with pytest.raises(AuthError) as info:
            await up.get_json("/v1/thing", [("key", KEY)])
    assert up.stats.requests == 1 and up.stats.failures == {"auth": 1}
    assert sleeps.calls == []
    assert KEY not in str(info.value) and KEY not in repr(up)


async def test_retry_after_seconds_then_success(session: aiohttp.ClientSession) -> None:
    sleeps = Sleeps()
    with aioresponses() as m:
        m.get(URL, status=429, headers={"Retry-After": "7"})
        m.get(URL, body="{}")
        up = client(session, sleeps)
        assert await up.get_json("/v1/thing") == {}
    assert sleeps.calls == [7.0]
    assert up.stats.requests == 2 and up.stats.failures == {"rate_limited": 1}


async def test_retry_after_http_date(session: aiohttp.ClientSession) -> None:
    now = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
    header = format_datetime(now + timedelta(seconds=30), usegmt=True)
    assert parse_retry_after(header, now) == 30.0
    assert parse_retry_after("garbage", now) is None
    assert parse_retry_after(None) is None


async def test_too_long_retry_after_fails_now(session: aiohttp.ClientSession) -> None:
    sleeps = Sleeps()
    with aioresponses() as m:
        m.get(URL, status=429, headers={"Retry-After": "3600"}, repeat=True)
        up = client(session, sleeps)
        with pytest.raises(RateLimitedError):
            await up.get_json("/v1/thing")
    assert up.stats.requests == 1 and sleeps.calls == []


async def test_server_errors_retry_to_the_bound(session: aiohttp.ClientSession) -> None:
    sleeps = Sleeps()
    with aioresponses() as m:
        m.get(URL, status=502, repeat=True)
        up = client(session, sleeps, retry=RetryPolicy(attempts=3, base_delay=1, max_delay=4))
        with pytest.raises(UpstreamServerError):
            await up.get_json("/v1/thing")
    assert up.stats.requests == 3 and up.stats.failures == {"server_error": 3}
    assert len(sleeps.calls) == 2
    assert 0.5 <= sleeps.calls[0] <= 1.0 and 1.0 <= sleeps.calls[1] <= 2.0


async def test_client_error_not_retried(session: aiohttp.ClientSession) -> None:
    with aioresponses() as m:
        m.get(URL, status=404, repeat=True)
        up = client(session, Sleeps())
        with pytest.raises(UpstreamClientError):
            await up.get_json("/v1/thing")
    assert up.stats.requests == 1 and up.stats.failures == {"client_error": 1}


async def test_timeouts_and_connection_errors(session: aiohttp.ClientSession) -> None:
    with aioresponses() as m:
        m.get(URL, exception=TimeoutError(), repeat=True)
        up = client(session, Sleeps(), retry=RetryPolicy(attempts=2))
        with pytest.raises(UpstreamTimeoutError):
            await up.get_json("/v1/thing")
    assert up.stats.failures == {"timeout": 2}
    with aioresponses() as m:
        m.get(URL, exception=aiohttp.ClientConnectionError("refused"), repeat=True)
        up = client(session, Sleeps(), retry=RetryPolicy(attempts=2))
        with pytest.raises(UpstreamConnectionError):
            await up.get_json("/v1/thing")
    assert up.stats.failures == {"connection": 2}


async def test_malformed_json(session: aiohttp.ClientSession) -> None:
    with aioresponses() as m:
        m.get(URL, body='{"data": [1, 2')
        up = client(session, Sleeps())
        with pytest.raises(InvalidResponseError, match="malformed JSON"):
            await up.get_json("/v1/thing")
    assert up.stats.failures == {"invalid_response": 1}


async def test_body_cap(session: aiohttp.ClientSession) -> None:
    with aioresponses() as m:
        m.get(URL, body='{"x": "' + "a" * 5000 + '"}')
        up = client(session, Sleeps(), limits=Limits(max_body_bytes=1024))
        with pytest.raises(InvalidResponseError, match="exceeds 1024"):
            await up.get_json("/v1/thing")


async def test_pagination_follows_cursor(session: aiohttp.ClientSession) -> None:
    with aioresponses() as m:
        m.get(URL, body='{"data": [1], "has_more": true, "next_page": "p2"}')
        m.get(URL, body='{"data": [2], "has_more": false, "next_page": null}')
        up = client(session, Sleeps())
        pages = [p async for p in up.paginate("/v1/thing", [("limit", "1")])]
        requested = [str(key[1]) for key in m.requests]
    assert [p["data"] for p in pages] == [[1], [2]]
    assert any("page=p2" in url for url in requested)


async def test_pagination_loop_and_cap(session: aiohttp.ClientSession) -> None:
    with aioresponses() as m:
        m.get(URL, body='{"has_more": true, "next_page": "same"}', repeat=True)
        up = client(session, Sleeps())
        with pytest.raises(InvalidResponseError, match="repeated"):
            _ = [p async for p in up.paginate("/v1/thing", [])]
    counter = iter(range(10_000))
    with aioresponses() as m:
        m.get(URL, callback=lambda *a, **k: _page(next(counter)), repeat=True)
        up = client(session, Sleeps(), limits=Limits(max_pages=5))
        with pytest.raises(InvalidResponseError, match="more than 5 pages"):
            _ = [p async for p in up.paginate("/v1/thing", [])]
    assert up.stats.requests == 5


def _page(n: int) -> object:
    from aioresponses import CallbackResult

    return CallbackResult(body=f'{{"has_more": true, "next_page": "c{n}"}}')
