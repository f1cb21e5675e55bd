"""Outbound HTTP to provider APIs: retries, timeouts, size and page caps, request accounting.

One :class:`Upstream` is bound to one (account, source): its base URL, auth headers and the
:class:`RequestStats` behind ``llm_upstream_requests_total`` and
``llm_upstream_request_failures_total``. The aiohttp ``ClientSession`` is shared and owned by the
application's lifespan.

Retry rules: 429 and 503 honour ``Retry-After`` (seconds or HTTP-date) up to
``RetryPolicy.max_retry_after`` in total per request; other 5xx, timeouts and connection errors
back off exponentially with jitter; 401/403 and other 4xx are never retried. Every attempt counts
as a request; every failed attempt counts as a failure with its reason.

Error bodies are never read. A body that is read has every credential the request carried
(:data:`CREDENTIAL_HEADERS`) replaced by ``[REDACTED]`` before it is decoded, so a server that
echoes the key back (in an id, a name, a malformed number) cannot move it into labels, error
messages or logs.
"""

from __future__ import annotations

import asyncio
import json
import random
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from email.utils import parsedate_to_datetime
from typing import Any, Final

import aiohttp

from exporter import __version__
from exporter.errors import (
    AuthError,
    InvalidResponseError,
    RateLimitedError,
    SourceError,
    UpstreamClientError,
    UpstreamConnectionError,
    UpstreamServerError,
    UpstreamTimeoutError,
)

USER_AGENT = (
    f"llm-cost-exporter/{__version__} (+https://github.com/llm-cost-exporter/llm-cost-exporter)"
)

QueryParams = Sequence[tuple[str, str]]

#: Request headers (lower case) whose values are credentials, redacted from response bodies.
CREDENTIAL_HEADERS: Final = frozenset(
    {"authorization", "proxy-authorization", "x-api-key", "api-key", "x-goog-api-key", "cookie"}
)
REDACTED: Final = b"[REDACTED]"
#: Shorter header values are not redacted: no credential is that short, and replacing a
#: short string in a body would corrupt data.
MIN_REDACTED_LENGTH: Final = 8


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    #: Total tries per request, the first included.
    attempts: int = 4
    base_delay: float = 1.0
    max_delay: float = 30.0
    #: Retry-After is honoured up to this many seconds in total per request; a server asking
    #: for more fails the request now instead of stalling the poll.
    max_retry_after: float = 120.0


@dataclass(frozen=True, slots=True)
class Limits:
    #: Per request: connect and whole-request timeouts in seconds.
    connect_timeout: float = 10.0
    request_timeout: float = 60.0
    #: A response body larger than this is rejected as invalid_response (memory bound).
    max_body_bytes: int = 32 * 1024 * 1024
    #: A paginated listing longer than this is rejected as invalid_response (loop bound).
    max_pages: int = 500


@dataclass(slots=True)
class RequestStats:
    """Process-lifetime request accounting of one (account, source)."""

    requests: int = 0
    failures: Counter[str] = field(default_factory=Counter)


Sleep = Callable[[float], Awaitable[None]]


def parse_retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (delta-seconds or HTTP-date)."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


class Upstream:
    """JSON requests against one provider base URL on behalf of one source."""

    def __init__(
        self,
        session: aiohttp.ClientSession,
        base_url: str,
        headers: Mapping[str, str],
        stats: RequestStats,
        *,
        retry: RetryPolicy | None = None,
        limits: Limits | None = None,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        self._session = session
        self._base_url = base_url.rstrip("/")
        self._headers = {"User-Agent": USER_AGENT, "Accept": "application/json", **headers}
        self._credentials = _credentials(self._headers)
        self.stats = stats
        self.retry = retry or RetryPolicy()
        self.limits = limits or Limits()
        self._sleep = sleep

    def __repr__(self) -> str:  # headers hold credentials: never show them
        return f"Upstream(base_url={self._base_url!r})"

    @property
    def base_url(self) -> str:
        """The base URL requests go to (no trailing slash); sources read its host."""
        return self._base_url

    def with_headers(self, headers: Mapping[str, str]) -> Upstream:
        """The same client (stats, policy, base URL) sending ``headers`` too.

        For sources that read their credential at poll time (OAuth files) or need a
        per-request header (an account id).
        """
        return Upstream(
            self._session,
            self._base_url,
            {**self._headers, **headers},
            self.stats,
            retry=self.retry,
            limits=self.limits,
            sleep=self._sleep,
        )

    async def get_json(self, path: str, params: QueryParams = ()) -> Any:
        return await self._request("GET", path, params, None)

    async def post_json(self, path: str, body: Any, params: QueryParams = ()) -> Any:
        return await self._request("POST", path, params, body)

    async def paginate(
        self,
        path: str,
        params: QueryParams,
        *,
        cursor_param: str = "page",
        next_cursor: Callable[[Mapping[str, Any]], str | None] | None = None,
    ) -> AsyncIterator[Mapping[str, Any]]:
        """Yield each page of a cursor-paginated listing.

        By default the cursor is the page's ``next_page`` and the listing ends when
        ``has_more`` is false or the cursor is null. A cursor seen twice (a server loop) or more
        than ``Limits.max_pages`` pages raise :class:`InvalidResponseError`.
        """
        pick = next_cursor or _next_page_cursor
        seen: set[str] = set()
        cursor: str | None = None
        for _ in range(self.limits.max_pages):
            query = list(params) + ([(cursor_param, cursor)] if cursor else [])
            page = await self.get_json(path, query)
            if not isinstance(page, Mapping):
                self.stats.failures["invalid_response"] += 1
                raise InvalidResponseError(f"GET {path}: expected a JSON object page")
            yield page
            cursor = pick(page)
            if cursor is None:
                return
            if cursor in seen:
                self.stats.failures["invalid_response"] += 1
                raise InvalidResponseError(f"GET {path}: pagination cursor repeated (server loop)")
            seen.add(cursor)
        self.stats.failures["invalid_response"] += 1
        raise InvalidResponseError(f"GET {path}: more than {self.limits.max_pages} pages")

    async def _request(self, method: str, path: str, params: QueryParams, body: Any) -> Any:
        url = f"{self._base_url}/{path.lstrip('/')}"
        where = f"{method} {path}"
        timeout = aiohttp.ClientTimeout(
            total=self.limits.request_timeout, sock_connect=self.limits.connect_timeout
        )
        last_error: SourceError | None = None
        retry_after: float | None = None
        waited = 0.0  # Retry-After seconds honoured so far
        for attempt in range(self.retry.attempts):
            if attempt:
                await self._sleep(self._delay(attempt, retry_after))
            self.stats.requests += 1
            try:
                result = await self._attempt(method, url, where, params, body, timeout)
            except _Retryable as retryable:
                last_error, retry_after = retryable.error, retryable.retry_after
                self.stats.failures[last_error.reason] += 1
                if retry_after is not None:
                    # max_retry_after bounds the total wait, not each wait: three waits of 100 s
                    # would outlast the poll's time budget and skip the poller's 429 backoff.
                    if waited + retry_after > self.retry.max_retry_after:
                        raise last_error from None
                    waited += retry_after
                continue
            except SourceError as final:
                self.stats.failures[final.reason] += 1
                raise
            return result
        assert last_error is not None
        raise last_error

    def _delay(self, attempt: int, retry_after: float | None) -> float:
        if retry_after is not None:
            return retry_after
        backoff = min(self.retry.max_delay, self.retry.base_delay * 2.0 ** (attempt - 1))
        return backoff * (0.5 + random.random() / 2)

    async def _attempt(
        self,
        method: str,
        url: str,
        where: str,
        params: QueryParams,
        body: Any,
        timeout: aiohttp.ClientTimeout,
    ) -> Any:
        try:
            async with self._session.request(
                method,
                url,
                params=list(params),
                json=body,
                headers=self._headers,
                timeout=timeout,
                allow_redirects=False,
            ) as resp:
                status = resp.status
                if status in (401, 403):
                    raise AuthError(f"{where}: HTTP {status} (credential rejected)")
                if status == 429 or status >= 500:
                    retry_after = parse_retry_after(resp.headers.get("Retry-After"))
                    if status == 429:
                        error: SourceError = RateLimitedError(f"{where}: HTTP 429 (rate limited)")
                    else:
                        error = UpstreamServerError(f"{where}: HTTP {status}")
                    honour = retry_after if status in (429, 503) else None
                    raise _Retryable(error, honour)
                if status >= 300:
                    raise UpstreamClientError(f"{where}: HTTP {status}", status=status)
                raw = self._redact(await self._read_capped(resp, where))
        except SourceError:
            raise
        except _Retryable:
            raise
        except TimeoutError:
            raise _Retryable(UpstreamTimeoutError(f"{where}: timed out"), None) from None
        except aiohttp.ClientPayloadError:
            raise _Retryable(
                InvalidResponseError(f"{where}: truncated or malformed body"), None
            ) from None
        except aiohttp.ClientError as exc:
            raise _Retryable(
                UpstreamConnectionError(f"{where}: {type(exc).__name__}"), None
            ) from None
        try:
            return json.loads(raw, parse_float=Decimal)
        except json.JSONDecodeError as exc:
            raise InvalidResponseError(f"{where}: malformed JSON ({exc.msg})") from None
        except UnicodeDecodeError:
            raise InvalidResponseError(f"{where}: body is not UTF-8") from None
        except ValueError:  # an integer longer than sys.get_int_max_str_digits()
            raise InvalidResponseError(f"{where}: number out of range") from None
        except RecursionError:
            raise InvalidResponseError(f"{where}: JSON nested too deeply") from None

    def _redact(self, raw: bytes) -> bytes:
        for credential in self._credentials:
            if credential in raw:
                raw = raw.replace(credential, REDACTED)
        return raw

    async def _read_capped(self, resp: aiohttp.ClientResponse, where: str) -> bytes:
        cap = self.limits.max_body_bytes
        declared = resp.content_length
        if declared is not None and declared > cap:
            raise InvalidResponseError(f"{where}: body of {declared} bytes exceeds {cap}")
        chunks: list[bytes] = []
        size = 0
        async for chunk in resp.content.iter_chunked(65536):
            size += len(chunk)
            if size > cap:
                raise InvalidResponseError(f"{where}: body exceeds {cap} bytes")
            chunks.append(chunk)
        return b"".join(chunks)


def _credentials(headers: Mapping[str, str]) -> tuple[bytes, ...]:
    """The credentials in ``headers`` (``Authorization: Bearer <token>``: the token)."""
    found: set[bytes] = set()
    for name, value in headers.items():
        if name.lower() not in CREDENTIAL_HEADERS:
            continue
        scheme, _, token = value.strip().partition(" ")
        credential = token.strip() or scheme
        if len(credential) >= MIN_REDACTED_LENGTH:
            found.add(credential.encode())
    return tuple(found)


class _Retryable(Exception):
    def __init__(self, error: SourceError, retry_after: float | None) -> None:
        super().__init__(str(error))
        self.error = error
        self.retry_after = retry_after


def _next_page_cursor(page: Mapping[str, Any]) -> str | None:
    cursor = page.get("next_page")
    if page.get("has_more") is False or not cursor:
        return None
    return str(cursor)


def last_id_cursor(page: Mapping[str, Any]) -> str | None:
    """The cursor of an id-paginated listing (OpenAI ``after``, Anthropic ``after_id``).

    ``last_id`` while ``has_more`` is true, else the last item's ``id``; a listing that says
    it has more but names no id is an invalid response.
    """
    if page.get("has_more") is not True:
        return None
    cursor = page.get("last_id")
    if not isinstance(cursor, str) or not cursor:
        data = page.get("data")
        if isinstance(data, list) and data and isinstance(data[-1], Mapping):
            cursor = data[-1].get("id")
    if not isinstance(cursor, str) or not cursor:
        raise InvalidResponseError("listing: has_more is true but last_id is missing")
    return cursor
