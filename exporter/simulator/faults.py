"""Fault injection for the simulator: make chosen endpoints misbehave on purpose.

A :class:`FaultRegistry` (``app[FAULTS]`` of every simulator app) holds rules, each a
:class:`Fault` bound to a path prefix; :func:`fault_middleware` answers a matching request
with the fault instead of (or around) the real handler. It runs after authentication, so the
simulator's request log and counters see faulted requests too. For example::

    registry = app[FAULTS]
    rule = registry.inject("/v1/organization/costs", HttpError(503, retry_after="2"))
    ...                     # poll; rule.hits counts the requests the fault answered
    registry.clear()        # healthy again (stalled responses are released at once)

A prefix matches its own path and the paths below it (``/a/b`` matches ``/a/b`` and
``/a/b/c``, never ``/a/bc``); ``exact=True`` matches the path alone, and ``query`` requires
query parameters (a value of ``None``: the parameter must be absent). ``times=N`` faults only
the next N matching requests (a transient fault).

Faults: :class:`HttpError` (any status, optional ``Retry-After``), :class:`Stall` (answer
late: a read timeout), :class:`MalformedJson`, :class:`WrongSchema`, :class:`TruncatedBody`
(``Content-Length`` larger than what is sent, then the connection closes), :class:`HugeBody`
(tens of MB of valid JSON, streamed), :class:`SlowDrip` (the real body, a few bytes at a time),
:class:`PageLoop` (pagination that never ends), :class:`Rewrite` (any change to the real JSON)
and :class:`Restated` (answer from a revised model: a restatement of one endpoint).

Connection-level faults (refused, connect timeout) cannot be told apart by path: point the
client at a closed port, or at a listening socket whose accept queue is full.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Awaitable, Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Final, Protocol

from aiohttp import web

from exporter.simulator.model import OrgModel

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

#: Query parameters that carry a pagination cursor in the simulated APIs.
CURSOR_PARAMS: Final = frozenset({"page", "after", "after_id", "offset"})


class Fault(Protocol):
    """How a faulted request is answered (``handler`` serves the real response)."""

    async def respond(
        self, request: web.Request, handler: Handler, rule: FaultRule
    ) -> web.StreamResponse: ...


@dataclass(eq=False)
class FaultRule:
    """One injected fault and what it did (``hits``: requests it answered)."""

    path: str
    fault: Fault
    exact: bool = False
    query: Mapping[str, str | None] = field(default_factory=dict)
    #: Requests still to fault; None: every matching request until cleared.
    remaining: int | None = None
    hits: int = 0
    #: Body bytes the fault wrote (streamed faults), to show a client stopped reading.
    bytes_sent: int = 0
    #: Set at the first faulted request (a test can act while the client is stuck).
    first_hit: asyncio.Event = field(default_factory=asyncio.Event)
    #: Set by :meth:`FaultRegistry.clear`: stalls and drips stop at once.
    released: asyncio.Event = field(default_factory=asyncio.Event)

    def matches(self, request: web.Request) -> bool:
        path = request.path
        if self.exact:
            if path != self.path:
                return False
        elif path != self.path and not path.startswith(self.path.rstrip("/") + "/"):
            return False
        for name, wanted in self.query.items():
            if request.query.get(name) != wanted:
                return False
        return self.remaining is None or self.remaining > 0


class FaultRegistry:
    """The faults of one simulator app; the first matching rule answers."""

    def __init__(self) -> None:
        self.rules: list[FaultRule] = []

    def inject(
        self,
        path: str,
        fault: Fault,
        *,
        exact: bool = False,
        query: Mapping[str, str | None] | None = None,
        times: int | None = None,
    ) -> FaultRule:
        rule = FaultRule(path, fault, exact, dict(query or {}), times)
        self.rules.append(rule)
        return rule

    def clear(self) -> None:
        """Remove every rule and release the responses they are holding back."""
        for rule in self.rules:
            rule.released.set()
        self.rules.clear()

    def take(self, request: web.Request) -> FaultRule | None:
        """The rule that answers ``request`` (its hit counted), or None."""
        for rule in self.rules:
            if rule.matches(request):
                rule.hits += 1
                if rule.remaining is not None:
                    rule.remaining -= 1
                rule.first_hit.set()
                return rule
        return None


FAULTS: Final = web.AppKey("llm_simulator_faults", FaultRegistry)


@web.middleware
async def fault_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    registry = request.app.get(FAULTS)
    rule = registry.take(request) if registry is not None else None
    if rule is None:
        return await handler(request)
    return await rule.fault.respond(request, handler, rule)


# --------------------------------------------------------------------------- helpers


async def _real(request: web.Request, handler: Handler) -> tuple[int, bytes]:
    """Status and body of the real answer."""
    response = await handler(request)
    body = response.body if isinstance(response, web.Response) else None
    if not isinstance(body, bytes):
        raise web.HTTPInternalServerError(text="fault needs a buffered response")
    return response.status, body


async def _released_or(rule: FaultRule, seconds: float) -> bool:
    """Wait ``seconds``; True when the rule was released (cleared) first."""
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(rule.released.wait(), seconds)
    return rule.released.is_set()


async def _stream(
    request: web.Request,
    rule: FaultRule,
    chunks: Iterable[bytes],
    *,
    content_length: int | None,
    interval: float = 0.0,
) -> web.StreamResponse:
    """Stream ``chunks`` (made lazily) until done, released or the client left."""
    response = web.StreamResponse(headers={"Content-Type": "application/json"})
    if content_length is not None:
        response.content_length = content_length
    await response.prepare(request)
    try:
        for chunk in chunks:
            if interval and await _released_or(rule, interval):
                break
            if rule.released.is_set():
                break
            await response.write(chunk)
            rule.bytes_sent += len(chunk)
    except ConnectionError:
        pass  # the client gave up: that is the point
    return response


def _close_connection(request: web.Request) -> None:
    transport = request.transport
    if transport is not None:
        transport.close()


# --------------------------------------------------------------------------- faults


@dataclass(frozen=True, slots=True)
class HttpError:
    """An error status with a JSON error body and, optionally, ``Retry-After``."""

    status: int
    retry_after: str | None = None

    async def respond(
        self, request: web.Request, handler: Handler, rule: FaultRule
    ) -> web.StreamResponse:
        body = {"error": {"message": f"simulated HTTP {self.status}", "type": "simulated"}}
        response = web.json_response(body, status=self.status)
        if self.retry_after is not None:
            response.headers["Retry-After"] = self.retry_after
        return response


@dataclass(frozen=True, slots=True)
class Stall:
    """Send nothing for ``seconds`` (a client read timeout), then answer normally."""

    seconds: float

    async def respond(
        self, request: web.Request, handler: Handler, rule: FaultRule
    ) -> web.StreamResponse:
        await _released_or(rule, self.seconds)
        return await handler(request)


@dataclass(frozen=True, slots=True)
class MalformedJson:
    """``200`` with a JSON content type and a body that is not JSON."""

    body: bytes = b'{"data": [{"start_time": 1767225600, "results": [{"amount": '

    async def respond(
        self, request: web.Request, handler: Handler, rule: FaultRule
    ) -> web.StreamResponse:
        return web.Response(body=self.body, content_type="application/json")


@dataclass(frozen=True, slots=True)
class WrongSchema:
    """``200`` with valid JSON of the wrong shape (default: a list where every API answers
    an object)."""

    body: Any = field(default_factory=lambda: [{"unexpected": "schema", "value": 1}])

    async def respond(
        self, request: web.Request, handler: Handler, rule: FaultRule
    ) -> web.StreamResponse:
        return web.json_response(self.body)


@dataclass(frozen=True, slots=True)
class TruncatedBody:
    """The real body's first half under a ``Content-Length`` of the whole, then the connection
    closes."""

    async def respond(
        self, request: web.Request, handler: Handler, rule: FaultRule
    ) -> web.StreamResponse:
        _, body = await _real(request, handler)
        response = web.StreamResponse(headers={"Content-Type": "application/json"})
        response.content_length = len(body)
        await response.prepare(request)
        half = body[: len(body) // 2]
        await response.write(half)
        rule.bytes_sent += len(half)
        _close_connection(request)
        return response


@dataclass(frozen=True, slots=True)
class HugeBody:
    """``size`` bytes of valid JSON (an object with a long ``data`` list), streamed.

    ``declare_length``: announce the size in ``Content-Length`` (else chunked, so only a
    client that counts while reading can stop it).
    """

    size: int = 40 * 1024 * 1024
    declare_length: bool = False
    chunk_size: int = 64 * 1024

    async def respond(
        self, request: web.Request, handler: Handler, rule: FaultRule
    ) -> web.StreamResponse:
        head, tail = b'{"data": [', b'{"filler": 0}]}'
        item = b'{"filler": "' + b"x" * 1000 + b'"},'
        per_chunk = max(1, self.chunk_size // len(item))
        count = max(0, (self.size - len(head) - len(tail)) // len(item))
        total = len(head) + count * len(item) + len(tail)

        def chunks() -> Iterator[bytes]:
            yield head
            left = count
            while left > 0:
                n = min(per_chunk, left)
                yield item * n
                left -= n
            yield tail

        length = total if self.declare_length else None
        return await _stream(request, rule, chunks(), content_length=length)


@dataclass(frozen=True, slots=True)
class SlowDrip:
    """The real body, ``chunk_size`` bytes every ``interval`` seconds (correct
    ``Content-Length``): slower in total than a client's request timeout allows."""

    interval: float = 0.02
    chunk_size: int = 16

    async def respond(
        self, request: web.Request, handler: Handler, rule: FaultRule
    ) -> web.StreamResponse:
        _, body = await _real(request, handler)
        step = self.chunk_size
        chunks = (body[i : i + step] for i in range(0, len(body), step))
        return await _stream(
            request, rule, chunks, content_length=len(body), interval=self.interval
        )


@dataclass(frozen=True, slots=True)
class PageLoop:
    """Pagination that never ends: every page says there is more.

    The cursor of the request is ignored (the first page is served again). ``endless=False``
    hands out the same cursor every time (a loop a client can detect); ``endless=True`` a new
    cursor, new item ids and new OpenRouter key hashes on every page (only a page cap stops
    it). Report pages get ``has_more``/``next_page``, listings ``has_more``/``last_id``; an
    offset listing (OpenRouter ``/keys``) repeats its first page (or with new key hashes).
    """

    endless: bool = False

    async def respond(
        self, request: web.Request, handler: Handler, rule: FaultRule
    ) -> web.StreamResponse:
        url = request.rel_url
        query = [(k, v) for k, v in url.query.items() if k not in CURSOR_PARAMS]
        status, raw = await _real(request.clone(rel_url=url.with_query(query)), handler)
        body = json.loads(raw)
        if isinstance(body, dict):
            cursor = f"loop-{rule.hits}" if self.endless else "loop"
            if "next_page" in body:
                body.update(has_more=True, next_page=cursor)
            elif "last_id" in body:
                body.update(has_more=True, last_id=cursor)
            if self.endless and isinstance(body.get("data"), list):
                for item in body["data"]:
                    for key in ("id", "hash"):
                        if isinstance(item, dict) and isinstance(item.get(key), str):
                            item[key] = f"{item[key]}-{cursor}"
        return web.json_response(body, status=status)


@dataclass(frozen=True, slots=True)
class Rewrite:
    """The real JSON answer passed through ``transform`` (schema drift, revised values...)."""

    transform: Callable[[Any], Any]

    async def respond(
        self, request: web.Request, handler: Handler, rule: FaultRule
    ) -> web.StreamResponse:
        status, raw = await _real(request, handler)
        return web.json_response(self.transform(json.loads(raw)), status=status)


@dataclass(frozen=True, slots=True)
class Restated:
    """Answer from ``model`` instead of the app's model, e.g. ``model.restate(day, 0.5)``:
    a restatement that only the matched endpoints show."""

    model: OrgModel

    async def respond(
        self, request: web.Request, handler: Handler, rule: FaultRule
    ) -> web.StreamResponse:
        from exporter.simulator.server import STATE

        # The swap below must not span a suspension, or a concurrent request would see it: the
        # simulator's handlers never wait, and the body is read now (later reads are cached).
        await request.read()
        state = request.app[STATE]
        original = state.model
        state.model = self.model
        try:
            return await handler(request)
        finally:
            state.model = original
