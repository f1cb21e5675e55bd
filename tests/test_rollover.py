"""Month rollover with an injected clock: the real poller and snapshot, across 1 February 2026.

The poller's clock (``Poller(clock=...)``) and the simulator's (``OrgModel(clock=...)``) are
the same controllable :class:`Clock` unless a test skews them; the simulator is served on
loopback, so the real OpenAI and Anthropic sources page through its buckets. Checked at every
step: month-to-date counters equal the model's exact month-to-date totals (so the last day of
January is never counted in February, nor February's first minutes in January), they reset
exactly once at the boundary, ``_created`` is the current month's start, budgets roll over
(period end and spend of the new period), and previous-month data arriving after the rollover
changes nothing.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from exporter.config import AccountConfig, BudgetConfig, Config
from exporter.contract import METRICS, Scope
from exporter.poller import Poller
from exporter.records import TokenRecord
from exporter.simulator import STATE, OrgModel, SimulatorState, create_app
from exporter.snapshot import Snapshot, month_start
from tests.conftest import FAKE_KEY, FakeSources, cost, day

OPENAI_KEY = "sk-admin-RolloverTestOPENAIkey-0f1e2d"
ANTHROPIC_KEY = "sk-ant-admin01-RolloverTestANTHROPICkey-3c4b5a"
JAN_1 = datetime(2026, 1, 1, tzinfo=UTC).timestamp()
FEB_1 = datetime(2026, 2, 1, tzinfo=UTC).timestamp()
MAR_1 = datetime(2026, 3, 1, tzinfo=UTC).timestamp()
HOUR = 3600.0
TOLERANCE = Decimal("0.000001")
COUNTERS = tuple(name for name, spec in METRICS.items() if spec.scope is Scope.MONTH_TO_DATE)
_CREATED = re.compile(r"^(\w+)_created\{.*\} (\S+)$", re.MULTILINE)

SeriesKey = tuple[str, tuple[tuple[str, str], ...]]


class Clock:
    def __init__(self, now: float, offset: float = 0.0) -> None:
        self.now = now
        self.offset = offset

    def __call__(self) -> float:
        return self.now

    def ahead(self) -> float:
        """The provider's clock: ``offset`` seconds ahead of ours."""
        return self.now + self.offset


@dataclass
class Org:
    model: OrgModel
    clock: Clock
    poller: Poller
    simulator: SimulatorState


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession(trust_env=False) as s:
        yield s


@pytest.fixture
async def simulated(
    session: aiohttp.ClientSession,
) -> AsyncIterator[Callable[..., Awaitable[Org]]]:
    """Start the simulator at ``start`` (provider clock ``offset`` s ahead) and a poller."""
    servers: list[TestServer] = []

    async def make(
        start: float, offset: float = 0.0, on_request: Callable[[Clock], None] | None = None
    ) -> Org:
        clock = Clock(start, offset)
        model = OrgModel(seed=5, clock=clock.ahead)
        app = create_app(model, openai_key=OPENAI_KEY, anthropic_key=ANTHROPIC_KEY, page_size=4)
        if on_request is not None:
            hook = on_request

            @web.middleware
            async def before_handler(
                request: web.Request,
                handler: Callable[[web.Request], Awaitable[web.StreamResponse]],
            ) -> web.StreamResponse:
                hook(clock)
                return await handler(request)

            app.middlewares.insert(0, before_handler)
        server = TestServer(app, host="127.0.0.1")
        await server.start_server()
        servers.append(server)
        base = str(server.make_url("")).rstrip("/")
        config = Config(
            poll_interval=300,
            accounts=(
                AccountConfig(provider="openai", name="sim", api_key=OPENAI_KEY, base_url=base),  # type: ignore[arg-type]
                AccountConfig(
                    provider="anthropic",
                    name="sim",
                    api_key=ANTHROPIC_KEY,  # type: ignore[arg-type]
                    base_url=base,
                ),
            ),
            budgets=(
                BudgetConfig.model_validate({"name": "all", "limit_usd": 100_000}),
                BudgetConfig.model_validate(
                    {"name": "openai", "limit_usd": 1_000, "match": {"provider": "openai"}}
                ),
            ),
        )
        return Org(model, clock, Poller(config, session, clock=clock, jitter=0), app[STATE])

    yield make
    for server in servers:
        await server.close()


# --------------------------------------------------------------------------- reading snapshots


def counters(snapshot: Snapshot) -> dict[SeriesKey, float]:
    out: dict[SeriesKey, float] = {}
    for name in COUNTERS:
        family = snapshot.family(name)
        for sample in family.samples if family else ():
            out[(name, tuple(sorted(sample.labels.items())))] = sample.value
    return out


def gauge(snapshot: Snapshot, name: str, **labels: str) -> float | None:
    family = snapshot.family(name)
    for sample in family.samples if family else ():
        if all(sample.labels.get(k) == v for k, v in labels.items()):
            return sample.value
    return None


def by_provider(snapshot: Snapshot, name: str) -> dict[str, Decimal]:
    totals: dict[str, Decimal] = {}
    family = snapshot.family(name)
    for sample in family.samples if family else ():
        provider = sample.labels["provider"]
        totals[provider] = totals.get(provider, Decimal(0)) + Decimal(repr(sample.value))
    return totals


def assert_model_month_to_date(org: Org, snapshot: Snapshot) -> Decimal:
    """Cost and tokens equal the model's totals from the exporter's month start to the
    provider's now, capped at the exporter's month end; returns the billed total."""
    now = org.clock()
    start = month_start(now).timestamp()
    end = min(org.clock.ahead(), MAR_1 if start == FEB_1 else FEB_1)
    want_cost = {
        "openai": org.model.openai_cost(start, end),
        "anthropic": org.model.anthropic_cost(start, end),
    }
    got_cost = by_provider(snapshot, "llm_cost_usd_total")
    for provider, want in want_cost.items():
        got = got_cost.get(provider, Decimal(0))
        assert abs(got - want) < TOLERANCE, (provider, now, got, want)
    got_tokens = by_provider(snapshot, "llm_tokens_total")
    for provider, totals in (
        ("openai", org.model.openai_tokens(start, end)),
        ("anthropic", org.model.anthropic_tokens(start, end)),
    ):
        assert got_tokens.get(provider, Decimal(0)) == sum(totals.values()), (provider, now)
    return sum(want_cost.values(), Decimal(0))


def created_values(snapshot: Snapshot) -> set[float]:
    text = snapshot.render(openmetrics=True).decode()
    return {float(value) for _, value in _CREATED.findall(text)}


def input_tokens(d: int, month: int, count: int) -> TokenRecord:
    return TokenRecord(
        day(d, month=month, year=2026), "proj_a", "key_1", "gpt-4o", count, 0, 0, 0, 0
    )


def decreases(history: list[dict[SeriesKey, float]]) -> dict[SeriesKey, list[int]]:
    """Steps at which each series is lower than the last time it was present."""
    last: dict[SeriesKey, float] = {}
    drops: dict[SeriesKey, list[int]] = {}
    for step, values in enumerate(history):
        for key, value in values.items():
            if key in last and value < last[key]:
                drops.setdefault(key, []).append(step)
            last[key] = value
    return drops


# --------------------------------------------------------------------------- tests


async def test_counters_reset_once_and_exactly_at_the_boundary(
    simulated: Callable[..., Awaitable[Org]],
) -> None:
    """Polls from 31 January 18:00 to 2 February 06:00, one at exactly 00:00:00: every
    series drops once, at its first February sample; budgets follow the new period."""
    org = await simulated(FEB_1 - 6 * HOUR)
    steps = [
        FEB_1 - 6 * HOUR,
        FEB_1 - HOUR,
        FEB_1 - 1,
        FEB_1,
        FEB_1 + 1,
        FEB_1 + 600,
        FEB_1 + 6 * HOUR,
        FEB_1 + 30 * HOUR,
    ]
    history: list[dict[SeriesKey, float]] = []
    boundary = steps.index(FEB_1)
    for step, now in enumerate(steps):
        org.clock.now = now
        if step == boundary:
            # The sweeper's rebuild after midnight, before any poll of February: January's
            # records no longer count, and nothing of January is exported as February's.
            snapshot = org.poller.rebuild()
            assert counters(snapshot) == {}, "January's values exported after the rollover"
        snapshot = await org.poller.poll_once()
        assert all(s.up for s in org.poller.states), [s.last_error for s in org.poller.states]
        billed = assert_model_month_to_date(org, snapshot)
        history.append(counters(snapshot))

        start = month_start(now).timestamp()
        assert created_values(snapshot) == ({start} if history[-1] else set()), now
        end = MAR_1 if start == FEB_1 else FEB_1
        assert gauge(snapshot, "llm_budget_period_end_timestamp_seconds", budget="all") == end
        spend = gauge(snapshot, "llm_budget_spend_usd", budget="all")
        assert spend is not None and abs(Decimal(repr(spend)) - billed) < TOLERANCE, (now, spend)
        openai = gauge(snapshot, "llm_budget_spend_usd", budget="openai")
        want = org.model.openai_cost(start, now)
        assert openai is not None and abs(Decimal(repr(openai)) - want) < TOLERANCE

    # Exactly one reset per series, at the first step of February where it is present.
    assert history[boundary - 1] and history[-1]
    drops = decreases(history)
    january = set(history[boundary - 1])
    for key in january & set(history[-1]):
        first_in_february = next(i for i in range(boundary, len(steps)) if key in history[i])
        assert drops.get(key) == [first_in_february], (key, drops.get(key))
    assert set(drops) <= january


async def test_provider_clock_ahead_counts_next_month_only_once(
    simulated: Callable[..., Awaitable[Org]],
) -> None:
    """The provider's clock is 2 minutes ahead: at 23:59 (ours) it already reports a bucket
    for 1 February. January must not include it; February counts it once."""
    org = await simulated(FEB_1 - 6 * HOUR, offset=120)
    last_january = 0.0
    for now in (FEB_1 - 6 * HOUR, FEB_1 - 60, FEB_1 - 1):
        org.clock.now = now
        snapshot = await org.poller.poll_once()
        assert_model_month_to_date(org, snapshot)
        last_january = gauge(snapshot, "llm_budget_spend_usd", budget="all") or 0.0
    full_january = org.model.openai_cost(JAN_1, FEB_1) + org.model.anthropic_cost(JAN_1, FEB_1)
    assert abs(Decimal(repr(last_january)) - full_january) < TOLERANCE

    org.clock.now = FEB_1 + 300
    snapshot = await org.poller.poll_once()
    assert_model_month_to_date(org, snapshot)
    assert created_values(snapshot) == {FEB_1}


async def test_poll_straddling_midnight_counts_only_february(
    simulated: Callable[..., Awaitable[Org]],
) -> None:
    """A poll that starts at 23:59:59 (window from 1 January) and is answered after midnight:
    its January buckets are dropped at the rebuild, its 1 February bucket counts."""

    def midnight_passes(clock: Clock) -> None:
        if clock.now == FEB_1 - 1:  # the first request of the poll started at 23:59:59
            clock.now = FEB_1 + 45

    org = await simulated(FEB_1 - HOUR, on_request=midnight_passes)
    await org.poller.poll_once()
    answered = len(org.simulator.log)
    org.clock.now = FEB_1 - 1
    snapshot = await org.poller.poll_once()
    assert org.clock() == FEB_1 + 45
    # The poll asked for January (its window started at 23:59:59) ...
    january = f"start_time={int(JAN_1)}"
    assert any(january in path for path, _ in org.simulator.log[answered:])
    # ... and only 1 February counts.
    assert_model_month_to_date(org, snapshot)
    assert org.model.openai_cost(FEB_1, FEB_1 + 45) > 0
    assert created_values(snapshot) == {FEB_1}
    assert gauge(snapshot, "llm_budget_period_end_timestamp_seconds", budget="all") == MAR_1


async def test_late_previous_month_data_does_not_touch_the_new_month(
    fake_provider: FakeSources, session: aiohttp.ClientSession
) -> None:
    """After the rollover the source still returns January (restated higher, and a late
    31 January) next to February: only February counts, and January's high-water marks are
    not carried over by the restatement guard."""
    config = Config(
        poll_interval=300,
        accounts=(AccountConfig(provider="fake", name="a", api_key=FAKE_KEY),),  # type: ignore[arg-type]
        budgets=(BudgetConfig.model_validate({"name": "all", "limit_usd": 100}),),
    )
    clock = Clock(FEB_1 - HOUR)
    poller = Poller(config, session, clock=clock, jitter=0)
    fake_provider.results = {
        "costs": (cost(30, "40", month=1), cost(31, "5", month=1)),
        "usage": (input_tokens(31, 1, 1000),),
    }
    snapshot = await poller.poll_once()
    assert gauge(snapshot, "llm_cost_usd_total") == 45.0
    assert gauge(snapshot, "llm_budget_spend_usd", budget="all") == 45.0

    clock.now = FEB_1 + 2 * HOUR
    fake_provider.results = {
        "costs": (
            cost(30, "60", month=1),  # restated upward, late
            cost(31, "25", month=1),  # the rest of 31 January, late
            cost(1, "3", month=2),
        ),
        "usage": (input_tokens(31, 1, 9000), input_tokens(1, 2, 10)),
    }
    snapshot = await poller.poll_once()
    assert gauge(snapshot, "llm_cost_usd_total") == 3.0
    assert gauge(snapshot, "llm_tokens_total", token_type="input") == 10.0
    assert gauge(snapshot, "llm_budget_spend_usd", budget="all") == 3.0
    assert gauge(snapshot, "llm_budget_period_end_timestamp_seconds", budget="all") == MAR_1
    assert created_values(snapshot) == {FEB_1}
    windows = {(ctx.start.timestamp(), ctx.end.timestamp()) for ctx in fake_provider.contexts}
    assert (FEB_1, FEB_1 + 2 * HOUR) in windows

    # February grows from its own value: no January high-water mark survives the rollover.
    clock.now = FEB_1 + 3 * HOUR
    fake_provider.results["costs"] = (cost(31, "99", month=1), cost(1, "4", month=2))
    snapshot = await poller.poll_once()
    assert gauge(snapshot, "llm_cost_usd_total") == 4.0
