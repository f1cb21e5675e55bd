"""Fault matrix (issue 8): one fault in one source at a time, for every HTTP source of the demo.

Real HTTP on loopback: the simulator (:mod:`exporter.simulator.faults` injects the faults), the
real poller, the real ``/metrics`` endpoint (the starlette app, over ASGI). For every
(fault, source) pair :func:`test_fault_matrix` checks that

* ``/metrics`` answers 200 while the faulty poll is under way (for stalls: while it is stuck),
* the data of every other source, and the last good data of the faulty one, stay byte-identical,
* the faulty source's ``llm_source_up`` is 0 and ``llm_upstream_request_failures_total`` moved
  by exactly the expected ``reason`` and count, and nothing else moved,
* retries stop at the documented bound (requests counted at the simulator, or by the exporter
  for connection faults), with the documented delays (``Retry-After`` or exponential backoff),
  and a 429 also backs the source off for the next poll,
* the faulty data is served up to ``stale_after`` and dropped one second later (staleness rule),
* the next successful poll recovers the source with no double count: the exposition is
  byte-identical to the one before the fault, and month-to-date counters equal the simulator's
  exact totals,
* huge bodies and endless pagination end at the body and page caps (``invalid_response``) with
  bounded memory.

:func:`test_restated_downward` revises a past bucket of each month-to-date source downward and
checks the documented rule (:class:`~exporter.snapshot.MonthToDateGuard`: a counter keeps its
highest value within the month; the next higher value is the provider's total, not an increment
on top of the kept one). :func:`test_stuck_source_among_all_accounts` runs a stuck source next to
every account of the demo.

Test settings. Of the limits only the per-request ``timeout`` is configurable per account; the
connect timeout, body and page caps (:class:`~exporter.upstream.Limits`) and the retry policy are
not, so ``exporter.poller.account_upstream`` is wrapped to build the same client with the
production :class:`~exporter.upstream.RetryPolicy` (delays recorded instead of slept), a 1 MiB
body cap and 5 pages. The faulty source polls in an account of its own (same provider and name,
so the same source state); when the fault stalls it, with a 0.05 s request and connect timeout.
Every other request keeps 10 s, so a busy single-threaded test loop never times one out. Each
matrix case runs two accounts: the faulty source's (all its sources) and a witness of another
provider.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import tracemalloc
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from email.utils import format_datetime
from fractions import Fraction
from pathlib import Path
from typing import Any

import aiohttp
import httpx
import pytest
import pytest_asyncio
from aiohttp import web

import exporter.poller
from exporter.app import create_app as create_exporter_app
from exporter.config import AccountConfig, Config
from exporter.contract import METRICS, Scope
from exporter.demo import _credentials, demo_accounts
from exporter.poller import Poller
from exporter.pricing import Catalog, load_catalog
from exporter.providers import PROVIDERS
from exporter.providers.openai import USAGE_ENDPOINTS
from exporter.simulator import STATE, OrgModel, create_app
from exporter.simulator import openrouter as sim_openrouter
from exporter.simulator.balances import XAI_DAILY_USD, XAI_TEAM, groq_tokens
from exporter.simulator.faults import (
    FAULTS,
    Fault,
    FaultRegistry,
    FaultRule,
    HttpError,
    HugeBody,
    MalformedJson,
    PageLoop,
    Restated,
    Rewrite,
    SlowDrip,
    Stall,
    TruncatedBody,
    WrongSchema,
)
from exporter.simulator.model import DAY
from exporter.simulator.server import BEARER_PREFIXES
from exporter.snapshot import Snapshot, SourceState, month_start
from exporter.upstream import Limits, RequestStats, RetryPolicy, Upstream

#: The simulator, its session and the dead endpoints serve every case of the module.
in_module_loop = pytest.mark.asyncio(loop_scope="module")

SEED = 8
#: The simulator's frozen clock: 3 January, so the month has two whole days and a partial one.
NOW = datetime(2026, 1, 3, 10, 20, tzinfo=UTC).timestamp()
MONTH = month_start(NOW).timestamp()
FIRST_DAY = date(2026, 1, 1)
POLL = 300.0
STALE = 3 * POLL  # stale_polls (3) intervals
#: Request and connect timeout of the faulty source; every other source keeps NORMAL_TIMEOUT.
SHORT_TIMEOUT = 0.05
NORMAL_TIMEOUT = 10.0
LIMITS = Limits(max_body_bytes=1024 * 1024, max_pages=5)
RETRY = RetryPolicy()
ATTEMPTS = RETRY.attempts
HUGE = 40 * 1024 * 1024
#: Peak traced memory allowed while a huge body or an endless listing is refused.
MEMORY_BOUND = 8 * LIMITS.max_body_bytes
OPENAI_KEY = "sk-admin-FAULTmatrixOPENAIkey-0a1b2c3d"
ANTHROPIC_KEY = "sk-ant-admin01-FAULTmatrixANTHROPICkey-9z8y7x"
HEALTH = frozenset(name for name, spec in METRICS.items() if spec.scope is Scope.HEALTH)
MONTH_TO_DATE = frozenset(
    name for name, spec in METRICS.items() if spec.scope is Scope.MONTH_TO_DATE
)

Query = Mapping[str, str | None]


# --------------------------------------------------------------------------- the sources


@dataclass(frozen=True)
class Target:
    """Where a source's requests go: the first request of its poll (``path``) and, for a
    paginated source, the listing its pagination faults go to (``pages``)."""

    provider: str
    source: str
    path: str
    exact: bool = False
    query: Query = field(default_factory=dict)
    pages: tuple[str, bool, Query] | None = None

    @property
    def id(self) -> str:
        return f"{self.provider}.{self.source}"


def _report(provider: str, source: str, path: str) -> Target:
    return Target(provider, source, path, pages=(path, False, {}))


_XAI = f"/xai/v1/billing/teams/{XAI_TEAM}"
_ARCHIVED = {"include_archived": "true"}
TARGETS: tuple[Target, ...] = (
    _report("openai", "costs", "/v1/organization/costs"),
    *(
        _report("openai", f"usage_{kind}", f"/v1/organization/usage/{kind}")
        for kind in USAGE_ENDPOINTS
    ),
    # The projects source lists archived projects too; spend_limits lists active ones only.
    Target(
        "openai",
        "projects",
        "/v1/organization/projects",
        query=_ARCHIVED,
        pages=("/v1/organization/projects", False, _ARCHIVED),
    ),
    Target(
        "openai",
        "spend_limits",
        "/v1/organization/spend_limit",
        exact=True,
        pages=("/v1/organization/projects", True, {"include_archived": None}),
    ),
    _report("anthropic", "usage_messages", "/v1/organizations/usage_report/messages"),
    _report("anthropic", "cost_report", "/v1/organizations/cost_report"),
    _report("anthropic", "names", "/v1/organizations/workspaces"),
    Target("openrouter", "key", "/openrouter/api/v1/key"),
    Target("openrouter", "credits", "/openrouter/api/v1/credits"),
    _report("openrouter", "keys", "/openrouter/api/v1/keys"),
    Target("openrouter", "activity", "/openrouter/api/v1/activity"),
    Target("openrouter", "models", "/openrouter/api/v1/models"),
    Target("deepseek", "balance", "/deepseek/user/balance"),
    Target("moonshot", "balance", "/moonshot/v1/users/me/balance"),
    Target("groq", "metrics", "/groq/api/v1/query_range"),
    Target("xai", "balance", f"{_XAI}/prepaid/balance"),
    Target("xai", "usage", f"{_XAI}/usage"),
    Target("fireworks", "billing_summary", "/fireworks/v1/accounts/sim-account/billing/summary"),
    Target("claude_subscription", "quota", "/claude/api/oauth/usage"),
    Target("codex_subscription", "quota", "/chatgpt/backend-api/wham/usage"),
    Target("gemini_subscription", "quota", "/gemini/v1internal:retrieveUserQuota"),
)
#: Providers whose sources read local logs (out of scope: no HTTP).
LOCAL = frozenset({"claude_code", "codex"})


def witness_of(provider: str) -> str:
    """The other account of a matrix case: a cheap single-source provider."""
    return "moonshot" if provider == "deepseek" else "deepseek"


# --------------------------------------------------------------------------- the faults


Delays = Callable[[Sequence[float]], None]


def exactly(*waits: float) -> Delays:
    def check(delays: Sequence[float]) -> None:
        assert list(delays) == list(waits)

    return check


no_retry = exactly()


def backoff(delays: Sequence[float]) -> None:
    """Exponential backoff with jitter: 0.5-1 x base x 2^(n-1), capped."""
    assert len(delays) == ATTEMPTS - 1, delays
    for n, delay in enumerate(delays, start=1):
        ceiling = min(RETRY.max_delay, RETRY.base_delay * 2.0 ** (n - 1))
        assert ceiling / 2 <= delay <= ceiling, delays


def retry_after(seconds: float) -> Delays:
    def check(delays: Sequence[float]) -> None:
        assert len(delays) == ATTEMPTS - 1, delays
        # An HTTP-date has whole seconds: the wait is up to one second shorter.
        assert all(seconds - 1.5 <= delay <= seconds for delay in delays), delays

    return check


def http_date(seconds: float) -> str:
    return format_datetime(datetime.now(UTC) + timedelta(seconds=seconds), usegmt=True)


def retyped(body: Any) -> Any:
    """Schema drift: every top-level field of the real answer becomes a string."""
    return {key: "unexpected" for key in body} if isinstance(body, dict) else "unexpected"


@dataclass(frozen=True)
class FaultCase:
    name: str
    #: The ``reason`` the failure counter must move by (once per failed request, or once for
    #: a listing refused as a whole).
    reason: str
    #: Requests the fault answers (for connection faults: requests the exporter makes).
    hits: int
    delays: Delays
    make: Callable[[], Fault] | None = None
    #: Connection faults: the faulty source's base URL points at a dead endpoint instead.
    endpoint: str | None = None
    #: The poll is still under way when the scrape answers.
    stuck: bool = False
    paginated: bool = False
    #: Peak memory is checked (huge bodies, endless listings).
    memory: bool = False
    #: Failures counted: ``hits`` unless the requests succeed and the listing fails as a whole.
    failures: int | None = None


FAULT_CASES: tuple[FaultCase, ...] = (
    FaultCase("connect_timeout", "timeout", ATTEMPTS, backoff, endpoint="full", stuck=True),
    FaultCase("connection_refused", "connection", ATTEMPTS, backoff, endpoint="closed"),
    FaultCase("read_timeout", "timeout", ATTEMPTS, backoff, lambda: Stall(60.0), stuck=True),
    FaultCase(
        "http_429_retry_after_seconds",
        "rate_limited",
        ATTEMPTS,
        retry_after(7),
        lambda: HttpError(429, retry_after="7"),
    ),
    FaultCase(
        "http_429_retry_after_date",
        "rate_limited",
        ATTEMPTS,
        retry_after(30),
        lambda: HttpError(429, retry_after=http_date(30)),
    ),
    FaultCase("http_429_no_retry_after", "rate_limited", ATTEMPTS, backoff, lambda: HttpError(429)),
    # Honoured up to RetryPolicy.max_retry_after (120 s) in total: a second wait of 100 s would
    # pass it, so the request fails after two tries instead of stalling the poll for 300 s.
    FaultCase(
        "http_429_retry_after_long",
        "rate_limited",
        2,
        exactly(100.0),
        lambda: HttpError(429, retry_after="100"),
    ),
    FaultCase(
        "http_429_retry_after_too_long",
        "rate_limited",
        1,
        no_retry,
        lambda: HttpError(429, retry_after="3600"),
    ),
    FaultCase("http_500", "server_error", ATTEMPTS, backoff, lambda: HttpError(500)),
    FaultCase("http_502", "server_error", ATTEMPTS, backoff, lambda: HttpError(502)),
    FaultCase(
        "http_503_retry_after",
        "server_error",
        ATTEMPTS,
        retry_after(2),
        lambda: HttpError(503, retry_after="2"),
    ),
    FaultCase("http_401", "auth", 1, no_retry, lambda: HttpError(401)),
    FaultCase("http_403", "auth", 1, no_retry, lambda: HttpError(403)),
    FaultCase("malformed_json", "invalid_response", 1, no_retry, MalformedJson),
    FaultCase("wrong_schema_top_level", "invalid_response", 1, no_retry, WrongSchema),
    FaultCase(
        "wrong_schema_field_types", "invalid_response", 1, no_retry, lambda: Rewrite(retyped)
    ),
    FaultCase("truncated_body", "invalid_response", ATTEMPTS, backoff, TruncatedBody),
    FaultCase(
        "huge_body_chunked", "invalid_response", 1, no_retry, lambda: HugeBody(HUGE), memory=True
    ),
    FaultCase(
        "huge_body_declared",
        "invalid_response",
        1,
        no_retry,
        lambda: HugeBody(HUGE, declare_length=True),
        memory=True,
    ),
    FaultCase(
        "slow_drip",
        "timeout",
        ATTEMPTS,
        backoff,
        lambda: SlowDrip(interval=0.01, chunk_size=1),
        stuck=True,
    ),
    # A repeated cursor is caught on the second page; fresh cursors only by the page cap.
    FaultCase(
        "page_loop",
        "invalid_response",
        2,
        no_retry,
        PageLoop,
        paginated=True,
        memory=True,
        failures=1,
    ),
    FaultCase(
        "endless_pages",
        "invalid_response",
        LIMITS.max_pages,
        no_retry,
        lambda: PageLoop(endless=True),
        paginated=True,
        memory=True,
        failures=1,
    ),
)


FAULTS_BY_NAME = {case.name: case for case in FAULT_CASES}
TARGETS_BY_ID = {target.id: target for target in TARGETS}


def matrix() -> Iterator[Any]:
    for case in FAULT_CASES:
        for target in TARGETS:
            if case.paginated and target.pages is None:
                continue
            yield pytest.param(case, target, id=f"{case.name}-{target.id}")


# --------------------------------------------------------------------------- the world


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@web.middleware
async def _memoize(
    request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
) -> web.StreamResponse:
    """Answer a request seen before from memory (same model, same clock: same answer).

    Test speed only: the simulator recomputes a month of usage per request otherwise.
    """
    state = request.app[STATE]
    model = state.model
    key = (request.method, request.path_qs, await request.read(), model.restatements, model.now())
    cached = _ANSWERS.get(key)
    if cached is None:
        response = await handler(request)
        if not isinstance(response, web.Response) or response.status != 200:
            return response
        body = response.body
        assert isinstance(body, bytes)
        cached = _ANSWERS[key] = (body, response.content_type)
    return web.Response(body=cached[0], content_type=cached[1])


_ANSWERS: dict[tuple[Any, ...], tuple[bytes, str]] = {}


@dataclass
class World:
    """The simulator, dead endpoints, the shared ClientSession and the demo's accounts."""

    app: web.Application
    base: str
    session: aiohttp.ClientSession
    catalog: Catalog
    sim_clock: Clock
    accounts: dict[str, AccountConfig]
    #: Dead endpoints: ``closed`` refuses connections, ``full`` never completes a handshake.
    dead: dict[str, str]
    #: Backoff delays the exporter asked for, per source (RequestStats identity).
    delays: dict[int, tuple[RequestStats, list[float]]] = field(default_factory=dict)
    #: Called with each delay instead of sleeping (e.g. to move a test clock).
    advance: Callable[[float], None] | None = None
    #: Data with one source left out (reference for the staleness check), per target.
    references: dict[tuple[str, tuple[str, ...]], dict[Series, float]] = field(default_factory=dict)
    #: The simulator's month-to-date totals, per (provider, time).
    totals: dict[tuple[str, float], dict[tuple[str, str], Decimal]] = field(default_factory=dict)

    @property
    def faults(self) -> FaultRegistry:
        return self.app[FAULTS]

    @property
    def model(self) -> OrgModel:
        return self.app[STATE].model

    def delays_of(self, stats: RequestStats) -> list[float]:
        return self.delays.get(id(stats), (stats, []))[1]

    def upstream(
        self,
        session: aiohttp.ClientSession,
        account: AccountConfig,
        secret: str,
        stats: RequestStats,
        *,
        retry: RetryPolicy | None = None,
        timeout: float | None = None,
    ) -> Upstream:
        """``exporter.poller.account_upstream`` with the test's limits and recorded sleeps."""
        spec = PROVIDERS[account.provider]
        request_timeout = timeout or account.timeout
        limits = replace(LIMITS, connect_timeout=request_timeout, request_timeout=request_timeout)
        recorded = self.delays.setdefault(id(stats), (stats, []))[1]

        async def sleep(seconds: float) -> None:
            recorded.append(seconds)
            if self.advance is not None:
                self.advance(seconds)
            await asyncio.sleep(0)

        return Upstream(
            session,
            account.base_url or spec.default_base_url,
            spec.auth_headers(secret),
            stats,
            retry=retry,
            limits=limits,
            sleep=sleep,
        )

    def config(self, *providers: str, drop: Target | None = None) -> Config:
        accounts = []
        for provider in providers:
            account = self.accounts[provider]
            if drop is not None and drop.provider == provider:
                rest = tuple(s for s in account.enabled_sources() if s != drop.source)
                if not rest:
                    continue
                account = account.model_copy(update={"sources": rest})
            accounts.append(account)
        return Config(poll_interval=POLL, stale_polls=3, accounts=tuple(accounts))

    def poller(self, config: Config, clock: Clock) -> Poller:
        return Poller(config, self.session, clock=clock, jitter=0.0, catalog=self.catalog)


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def world(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[World]:
    keys = {"openai": OPENAI_KEY, "anthropic": ANTHROPIC_KEY, **_credentials()}
    sim_clock = Clock(NOW)
    app = create_app(
        OrgModel(seed=SEED, clock=sim_clock),
        openai_key=OPENAI_KEY,
        anthropic_key=ANTHROPIC_KEY,
        page_size=2,
        credentials={name: keys[name] for name in BEARER_PREFIXES.values()},
    )
    app.middlewares.append(_memoize)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    base = f"http://127.0.0.1:{runner.addresses[0][1]}"

    # Connection refused: a port nobody listens on.
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed_port = probe.getsockname()[1]
    # Connect timeout: a listener that never accepts, its accept queue filled, so the kernel
    # drops further handshakes (deterministic on loopback, unlike a non-routable address).
    full = socket.socket()
    full.bind(("127.0.0.1", 0))
    full.listen(0)
    fillers = []
    for _ in range(4):
        filler = socket.socket()
        filler.setblocking(False)
        with contextlib.suppress(BlockingIOError):
            filler.connect(full.getsockname())
        fillers.append(filler)

    root = tmp_path_factory.mktemp("fault-matrix")
    accounts = {
        account.provider: account.model_copy(update={"timeout": NORMAL_TIMEOUT})
        for account in demo_accounts(base, keys, root)
        if account.provider not in LOCAL
    }
    connector = aiohttp.TCPConnector(limit=32, limit_per_host=8)  # as exporter.app configures it
    async with aiohttp.ClientSession(connector=connector, trust_env=False) as session:
        world = World(
            app,
            base,
            session,
            load_catalog(Config().pricing),
            sim_clock,
            accounts,
            {
                "closed": f"http://127.0.0.1:{closed_port}",
                "full": f"http://127.0.0.1:{full.getsockname()[1]}",
            },
        )
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(exporter.poller, "account_upstream", world.upstream)
            yield world
        world.faults.clear()
    for sock in (*fillers, full):
        sock.close()
    await runner.cleanup()
    _ANSWERS.clear()


@pytest.fixture
def healthy(world: World) -> Iterator[World]:
    """The world, healthy again after the test whatever happened in it."""
    world.delays.clear()
    try:
        yield world
    finally:
        world.faults.clear()
        world.sim_clock.now = NOW
        world.advance = None


# --------------------------------------------------------------------------- helpers


async def poll(poller: Poller, accounts: Sequence[AccountConfig]) -> Snapshot:
    """One round over ``accounts`` (as the poller's tasks do), then the new snapshot."""
    await asyncio.gather(*(poller.poll_account(account) for account in accounts))
    return poller.rebuild()


def data_lines(exposition: Snapshot | str) -> list[str]:
    """The exposition (as /metrics serves it) without comments and health series."""
    text = exposition.render().decode() if isinstance(exposition, Snapshot) else exposition
    return [
        line
        for line in text.splitlines()
        if line and not line.startswith("#") and _name(line) not in HEALTH
    ]


def _name(line: str) -> str:
    return line.split("{", 1)[0].split(" ", 1)[0]


#: A series: metric name and sorted labels.
Series = tuple[str, tuple[tuple[str, str], ...]]


def samples(snapshot: Snapshot) -> dict[Series, float]:
    """Data series → value (what the exposition renders, without rendering it)."""
    return {
        (family.spec.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in snapshot.families
        if family.spec.name not in HEALTH
        for sample in family.samples
    }


def state_of(poller: Poller, account: AccountConfig, source: str) -> SourceState:
    return next(
        s
        for s in poller.states
        if (s.provider, s.account, s.source) == (account.provider_label, account.account, source)
    )


def health(poller: Poller) -> dict[tuple[str, str, str], tuple[bool | None, int, Counter[str]]]:
    return {
        (s.provider, s.account, s.source): (s.up, s.stats.requests, Counter(s.stats.failures))
        for s in poller.states
    }


def split(
    account: AccountConfig, source: str, base_url: str | None, timeout: float
) -> tuple[AccountConfig, AccountConfig | None]:
    """The faulty source alone (its own timeout, maybe a dead base URL) and the rest."""
    faulty = account.model_copy(
        update={"sources": (source,), "timeout": timeout, "base_url": base_url}
    )
    rest = tuple(s for s in account.enabled_sources() if s != source)
    return faulty, account.model_copy(update={"sources": rest}) if rest else None


def dead_base_url(world: World, account: AccountConfig, endpoint: str) -> str:
    assert account.base_url is not None and account.base_url.startswith(world.base)
    return world.dead[endpoint] + account.base_url.removeprefix(world.base)


async def scrape(poller: Poller, config: Config) -> httpx.Response:
    app = create_exporter_app(config)
    app.state.poller = poller  # what the lifespan sets; the lifespan itself is not run
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://exporter") as client:
        return await client.get("/metrics")


def expected_totals(world: World, provider: str, now: float) -> dict[tuple[str, str], Decimal]:
    """Month-to-date totals of the simulator: (metric, token_type or "") → value."""
    if (provider, now) not in world.totals:
        world.totals[(provider, now)] = _expected_totals(world.model, provider, now)
    return world.totals[(provider, now)]


def _expected_totals(model: OrgModel, provider: str, now: float) -> dict[tuple[str, str], Decimal]:
    if provider in ("openai", "anthropic"):
        if provider == "openai":
            cost, tokens = model.openai_cost(MONTH, now), model.openai_tokens(MONTH, now)
        else:
            cost, tokens = model.anthropic_cost(MONTH, now), model.anthropic_tokens(MONTH, now)
        return {
            ("llm_cost_usd_total", ""): cost,
            **{("llm_tokens_total", kind): Decimal(n) for kind, n in tokens.items() if n},
        }
    if provider == "openrouter":
        usd, counts = sim_openrouter.activity_totals(SEED, MONTH, now)
        return {
            ("llm_cost_usd_total", ""): usd,
            **{("llm_tokens_total", kind): Decimal(n) for kind, n in counts.items()},
        }
    if provider == "xai":
        return {("llm_cost_usd_total", ""): XAI_DAILY_USD * int((now - MONTH) // DAY)}
    if provider == "groq":
        step = 300
        rates = groq_tokens(MONTH + step, now - now % step, step)
        return {("llm_tokens_total", kind): n for kind, n in rates.items()}
    return {}


def assert_totals(world: World, snapshot: Snapshot, provider: str, now: float) -> None:
    want = expected_totals(world, provider, now)
    got: dict[tuple[str, str], Decimal] = {}
    for (name, pairs), value in samples(snapshot).items():
        labels = dict(pairs)
        if (labels.get("provider"), labels.get("account")) != (provider, "demo"):
            continue
        if name in ("llm_cost_usd_total", "llm_tokens_total"):
            kind = labels.get("token_type", "")
            got[(name, kind)] = got.get((name, kind), Decimal(0)) + Decimal(repr(value))
    for key, total in want.items():
        assert abs(got.get(key, Decimal(-1)) - total) < Decimal("0.000001"), (key, got, want)


async def reference(
    world: World, target: Target, providers: tuple[str, ...]
) -> dict[Series, float]:
    """The data of the same accounts without ``target`` (polled once, at the same time)."""
    key = (target.id, providers)
    if key not in world.references:
        config = world.config(*providers, drop=target)
        poller = world.poller(config, Clock(NOW))
        world.references[key] = samples(await poll(poller, config.accounts))
    return world.references[key]


def guarded(high: Mapping[Series, float], now: Mapping[Series, float]) -> dict[Series, float]:
    """What the month-to-date guard exposes: the series of ``now``, a month-to-date counter
    never below its ``high`` of this month (an estimate priced without live prices included)."""
    return {
        key: max(value, high.get(key, value)) if key[0] in MONTH_TO_DATE else value
        for key, value in now.items()
    }


async def until_faulted(
    rule: FaultRule | None, stats: RequestStats, before: int, task: asyncio.Task[Any]
) -> None:
    """Until the fault answered a request (connection faults: the exporter sent one)."""
    started = rule.first_hit.is_set if rule is not None else lambda: stats.requests > before
    while not started() and not task.done():
        await asyncio.sleep(0.001)


# --------------------------------------------------------------------------- tests


def test_every_http_source_of_the_demo_is_in_the_matrix(tmp_path: Path) -> None:
    keys = {"openai": OPENAI_KEY, "anthropic": ANTHROPIC_KEY, **_credentials()}
    demo = {
        (account.provider, source)
        for account in demo_accounts("http://127.0.0.1:1", keys, tmp_path)
        if account.provider not in LOCAL
        for source in account.enabled_sources()
    }
    assert {(t.provider, t.source) for t in TARGETS} == demo


@in_module_loop
@pytest.mark.parametrize(("case", "target"), list(matrix()))
async def test_fault_matrix(healthy: World, case: FaultCase, target: Target) -> None:
    await run_case(healthy, case, target, (target.provider, witness_of(target.provider)))


@in_module_loop
@pytest.mark.parametrize(
    ("case", "target"),
    [
        pytest.param(FAULTS_BY_NAME[fault], TARGETS_BY_ID[source], id=f"{fault}-{source}")
        for fault, source in (
            ("slow_drip", "openai.costs"),
            ("read_timeout", "anthropic.usage_messages"),
            ("connect_timeout", "gemini_subscription.quota"),
        )
    ],
)
async def test_stuck_source_among_all_accounts(
    healthy: World, case: FaultCase, target: Target
) -> None:
    """The same checks with every account of the demo polling next to the stuck source."""
    await run_case(healthy, case, target, tuple(healthy.accounts), crowded=True)


async def run_case(
    world: World,
    case: FaultCase,
    target: Target,
    providers: tuple[str, ...],
    *,
    crowded: bool = False,
) -> None:
    account = world.accounts[target.provider]
    config = world.config(*providers)
    clock = Clock(NOW)
    poller = world.poller(config, clock)
    others = [world.accounts[p] for p in providers if p != target.provider]

    # Before: everything up, month-to-date equal to the simulator's totals.
    before = await poll(poller, config.accounts)
    assert all(up for up, _, _ in health(poller).values())
    assert_totals(world, before, target.provider, NOW)
    state = state_of(poller, account, target.source)
    key = (state.provider, state.account, state.source)
    was = health(poller)

    # The fault, in this source only; the scrape runs while the poll is under way.
    clock.now = NOW + POLL
    base_url = dead_base_url(world, account, case.endpoint) if case.endpoint else None
    timeout = SHORT_TIMEOUT if case.stuck else NORMAL_TIMEOUT
    faulty, rest = split(account, target.source, base_url or account.base_url, timeout)
    rule: FaultRule | None = None
    if case.make is not None:
        path, exact, query = (
            target.pages
            if case.paginated and target.pages
            else (target.path, target.exact, target.query)
        )
        rule = world.faults.inject(path, case.make(), exact=exact, query=query)
    accounts = [faulty, *([rest] if rest else []), *others]
    if case.memory:
        tracemalloc.start()
    try:
        task = asyncio.create_task(poll(poller, accounts))
        await until_faulted(rule, state.stats, was[key][1], task)
        response = await scrape(poller, config)
        stuck = not task.done()
        during = await task
        peak = tracemalloc.get_traced_memory()[1] if case.memory else 0
    finally:
        if case.memory:
            tracemalloc.stop()
    assert response.status_code == 200
    assert data_lines(response.text) == data_lines(before)
    if case.stuck:
        assert stuck, "the poll should still have been stuck when the scrape answered"

    # Every other source untouched, the faulty one's last good data kept.
    assert data_lines(during) == data_lines(before)
    now = health(poller)
    for other, (up, _, failures) in now.items():
        if other != key:
            assert up is True, other
            assert failures == was[other][2], other
    up, requests, failures = now[key]
    assert up is False
    failed = case.hits if case.failures is None else case.failures
    assert failures - was[key][2] == Counter({case.reason: failed}), state.last_error
    assert state.last_error is not None and not state.last_error.startswith("unexpected")
    assert OPENAI_KEY not in state.last_error and ANTHROPIC_KEY not in state.last_error
    attempts = requests - was[key][1]
    if rule is None:
        assert attempts == case.hits
    elif crowded and case.stuck:
        # Next to every account an attempt can time out waiting for one of the 8 pooled
        # connections (exporter.app's limit per host) before it reaches the simulator.
        assert 1 <= rule.hits <= case.hits and attempts == case.hits
    else:
        assert rule.hits == case.hits and attempts >= case.hits
    case.delays(world.delays_of(state.stats))
    if case.memory:
        assert peak < MEMORY_BOUND, f"peak {peak} bytes"
    if rule is not None and isinstance(rule.fault, HugeBody):
        assert rule.bytes_sent < HUGE // 2, "the exporter should stop reading at its cap"

    # A 429 also backs the source off for the next interval (its data stays).
    if case.reason == "rate_limited":
        clock.now = NOW + POLL + 1
        hits = rule.hits if rule else 0
        await poll(poller, [faulty])
        assert health(poller)[key][1] == requests and (rule.hits if rule else 0) == hits

    # Staleness: the last good data is served up to stale_after, dropped a second later.
    clock.now = NOW + STALE
    assert samples(poller.rebuild()) == samples(before)
    clock.now = NOW + STALE + 1
    expired = await reference(world, target, providers)
    assert samples(poller.rebuild()) == guarded(samples(before), expired)

    # Recovery at the next successful poll: the same bytes as before, no double count.
    world.faults.clear()
    after = await poll(poller, [split(account, target.source, account.base_url, NORMAL_TIMEOUT)[0]])
    assert health(poller)[key][0] is True
    assert health(poller)[key][2] == failures
    assert state.last_success == clock.now
    assert data_lines(after) == data_lines(before)
    assert_totals(world, after, target.provider, NOW)


@in_module_loop
@pytest.mark.parametrize("target", TARGETS, ids=[t.id for t in TARGETS])
async def test_transient_fault_is_retried_without_double_count(
    healthy: World, target: Target
) -> None:
    """One 500, then the retry succeeds: the source stays up, its data unchanged."""
    world = healthy
    account = world.accounts[target.provider]
    config = world.config(target.provider)
    poller = world.poller(config, Clock(NOW))
    before = await poll(poller, config.accounts)
    state = state_of(poller, account, target.source)
    was = Counter(state.stats.failures)
    rule = world.faults.inject(
        target.path, HttpError(500), exact=target.exact, query=target.query, times=1
    )
    after = await poll(poller, config.accounts)
    assert rule.hits == 1
    assert state.up is True
    assert Counter(state.stats.failures) - was == Counter({"server_error": 1})
    assert len(world.delays_of(state.stats)) == 1
    assert data_lines(after) == data_lines(before)


@in_module_loop
@pytest.mark.parametrize("target", TARGETS, ids=[t.id for t in TARGETS])
async def test_rate_limited_source_gets_a_try_before_its_data_expire(
    healthy: World, target: Target
) -> None:
    """Consecutive 429s back a source off for 1, then 3 intervals, but never past the last
    regular poll before its data expire: a provider that recovered by then leaves no gap.

    The account keeps data for 5 intervals (``stale_after``); polls start on the interval and
    the backoff sleeps move the clock, as they take time in production.
    """
    world = healthy
    account = world.accounts[target.provider].model_copy(update={"stale_after": 5 * POLL})
    witness = world.accounts[witness_of(target.provider)]
    config = Config(poll_interval=POLL, stale_polls=3, accounts=(account, witness))
    clock = Clock(NOW)
    poller = world.poller(config, clock)
    before = await poll(poller, config.accounts)
    state = state_of(poller, account, target.source)
    faulty, rest = split(account, target.source, account.base_url, NORMAL_TIMEOUT)
    accounts = [faulty, *([rest] if rest else []), witness]
    rule = world.faults.inject(target.path, HttpError(429), exact=target.exact, query=target.query)
    world.advance = clock.advance

    async def round_at(interval: int) -> int:
        clock.now = NOW + interval * POLL
        hits = rule.hits
        await poll(poller, accounts)
        return rule.hits - hits

    assert await round_at(1) == ATTEMPTS  # rate limited: back off one interval
    assert await round_at(2) == 0
    assert await round_at(3) == ATTEMPTS  # rate limited again: three intervals...
    world.faults.clear()  # ... but the provider is fine again
    assert await round_at(4) == 0
    await round_at(5)  # the last regular poll before the data expire
    clock.now = NOW + 5 * POLL + 1
    assert state.up is True
    assert samples(poller.rebuild()) == samples(before)


# --------------------------------------------------------------------------- restatements


def _half(value: Any) -> Any:
    """A revised-down value that never reaches zero (a series must not vanish)."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int):
        return value - value // 2
    if isinstance(value, float):
        return value / 2
    if isinstance(value, str):
        return format(Decimal(value) / 2, "f")
    return value


def _restate_activity(body: Any) -> Any:
    for row in body["data"]:
        if row["date"] == FIRST_DAY.isoformat():
            for name in ("requests", "prompt_tokens", "completion_tokens", "usage"):
                row[name] = _half(row[name])
    return body


def _restate_groq(body: Any) -> Any:
    # A sample at t stands for (t - step, t]: those up to 00:00 on the 2nd are the 1st's.
    for series in body["data"]["result"]:
        series["values"] = [[t, _half(v) if t <= MONTH + DAY else v] for t, v in series["values"]]
    return body


def _restate_xai(body: Any) -> Any:
    for series in body["timeSeries"]:
        for point in series["dataPoints"]:
            if point["timestamp"].startswith(FIRST_DAY.isoformat()):
                point["values"] = [_half(v) for v in point["values"]]
    return body


def _restate_fireworks(body: Any) -> Any:
    """The month's total revised down by a tenth (Fireworks reports no days)."""
    for item in body["lineItems"]:
        cost = item["totalCost"]
        lower = (Decimal(cost["units"]) + Decimal(cost["nanos"]) / 10**9) * Decimal("0.9")
        cost["units"], cost["nanos"] = str(int(lower)), int((lower - int(lower)) * 10**9)
    return body


def _restated_model(world: World) -> Fault:
    return Restated(world.model.restate(FIRST_DAY, Fraction(1, 2)))


def _rewrite(transform: Callable[[Any], Any]) -> Callable[[World], Fault]:
    return lambda world: Rewrite(transform)


#: Month-to-date sources and how a past bucket of theirs is revised down. Left out:
#: openai usage_moderations (the simulator has no moderation usage) and usage_vector_stores
#: (a level, not a month-to-date counter).
RESTATEMENTS: tuple[tuple[str, Callable[[World], Fault]], ...] = (
    *(
        (f"openai.{source}", _restated_model)
        for source in ("costs", *(f"usage_{kind}" for kind in USAGE_ENDPOINTS))
        if source not in ("usage_moderations", "usage_vector_stores")
    ),
    ("anthropic.usage_messages", _restated_model),
    ("anthropic.cost_report", _restated_model),
    ("openrouter.activity", _rewrite(_restate_activity)),
    ("groq.metrics", _rewrite(_restate_groq)),
    ("xai.usage", _rewrite(_restate_xai)),
    ("fireworks.billing_summary", _rewrite(_restate_fireworks)),
)


async def provider_view(world: World, config: Config, now: float) -> dict[Series, float]:
    """What the providers say now, from an exporter with no history (no guard state)."""
    poller = world.poller(config, Clock(now))
    return samples(await poll(poller, config.accounts))


@in_module_loop
@pytest.mark.parametrize(("source", "restate"), RESTATEMENTS, ids=[r[0] for r in RESTATEMENTS])
async def test_restated_downward(
    healthy: World,
    source: str,
    restate: Callable[[World], Fault],
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The documented rule: within the month a month-to-date counter keeps its highest value
    (a downward restatement is logged, never exposed as a decrease); the next higher value is
    the provider's own total, not an increment on top of the kept one."""
    world = healthy
    caplog.set_level(logging.INFO, logger="exporter.snapshot")
    target = TARGETS_BY_ID[source]
    config = world.config(target.provider, witness_of(target.provider))
    clock = Clock(NOW)
    poller = world.poller(config, clock)
    before = samples(await poll(poller, config.accounts))

    # The 1st of the month revised down: every counter keeps its value.
    world.faults.inject(target.path, restate(world), exact=target.exact, query=target.query)
    clock.now = NOW + POLL
    held = samples(await poll(poller, config.accounts))
    assert all(state.up for state in poller.states)
    assert held == before
    revised = await provider_view(world, config, clock.now)
    assert revised.keys() == before.keys()
    lowered = {k for k in revised if k[0] in MONTH_TO_DATE and revised[k] < before[k]}
    assert lowered, "the restatement should lower some counter"
    assert all(revised[k] <= before[k] for k in revised if k[0] in MONTH_TO_DATE)
    assert "downward" in caplog.text

    # A day later the totals grew past the kept values: exposed as the provider's totals.
    world.sim_clock.now = clock.now = NOW + DAY
    after = samples(await poll(poller, config.accounts))
    totals = await provider_view(world, config, clock.now)
    assert after == guarded(held, totals)
    risen = {k for k in lowered if totals[k] > held[k]}
    assert risen, "some restated counter should have grown past its kept value"
    assert all(after[k] == totals[k] for k in risen)
    if target.id in ("openai.costs", "anthropic.cost_report"):
        restated = world.model.restate(FIRST_DAY, Fraction(1, 2))
        cost = restated.openai_cost if target.provider == "openai" else restated.anthropic_cost
        billed = sum(Decimal(repr(v)) for k, v in totals.items() if k[0] == "llm_cost_usd_total")
        assert abs(billed - cost(MONTH, clock.now)) < Decimal("0.000001")
