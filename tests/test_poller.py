"""The poller: one failing source never affects another; last good data is kept until stale;
failures outside a request are counted once; month-to-date is recomputed, not accumulated."""

from __future__ import annotations

from collections.abc import AsyncIterator

import aiohttp
import pytest

from exporter.config import AccountConfig, Config
from exporter.errors import RateLimitedError
from exporter.poller import Poller
from tests.conftest import FAKE_KEY, FakeSources, cost, tokens


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as s:
        yield s


def make(session: aiohttp.ClientSession, clock: Clock, **account: object) -> Poller:
    config = Config(
        poll_interval=60,
        accounts=(AccountConfig(provider="fake", name="a", api_key=FAKE_KEY, **account),),  # type: ignore[arg-type]
    )
    return Poller(config, session, clock=clock)


def value(poller: Poller, name: str, **labels: str) -> float | None:
    family = poller.snapshot.family(name)
    for sample in family.samples if family else ():
        if all(sample.labels.get(k) == v for k, v in labels.items()):
            return sample.value
    return None


async def test_failure_isolation_and_staleness(
    fake_provider: FakeSources, session: aiohttp.ClientSession
) -> None:
    clock = Clock(1_795_435_200.0)  # 2026-11-23 12:00 UTC
    poller = make(session, clock)
    fake_provider.results = {"costs": (cost(1, "2.5"),), "usage": (tokens(1, input=7),)}
    await poller.poll_once()
    assert poller.first_round.is_set()
    assert value(poller, "llm_cost_usd_total") == 2.5
    assert value(poller, "llm_source_up", source="costs") == 1.0

    # costs starts failing: its data stays (up=0), usage keeps updating.
    fake_provider.results = {
        "costs": RateLimitedError("GET /costs: HTTP 429"),
        "usage": (tokens(1, input=9),),
    }
    clock.now += 60
    await poller.poll_once()
    assert value(poller, "llm_source_up", source="costs") == 0.0
    assert value(poller, "llm_cost_usd_total") == 2.5
    assert value(poller, "llm_tokens_total", token_type="input") == 9  # replaced, not added
    assert value(poller, "llm_source_up", source="usage") == 1.0

    # After stale_polls (3) intervals without success, costs' data goes; health stays.
    clock.now += 3 * 60
    poller.rebuild()
    assert value(poller, "llm_cost_usd_total") is None
    assert value(poller, "llm_source_up", source="costs") == 0.0
    assert value(poller, "llm_source_last_success_timestamp_seconds", source="costs") == (
        1_795_435_200.0
    )

    # Recovery: data is back with no double count.
    fake_provider.results["costs"] = (cost(1, "2.5"), cost(2, "1"))
    await poller.poll_once()
    assert value(poller, "llm_cost_usd_total") == 3.5


async def test_unexpected_exception_counts_once(
    fake_provider: FakeSources, session: aiohttp.ClientSession
) -> None:
    poller = make(session, Clock(1_795_435_200.0))
    fake_provider.results = {"costs": KeyError("boom"), "usage": ()}
    await poller.poll_once()
    assert value(poller, "llm_source_up", source="costs") == 0.0
    assert (
        value(
            poller, "llm_upstream_request_failures_total", source="costs", reason="invalid_response"
        )
        == 1.0
    )
    state = next(s for s in poller.states if s.source == "costs")
    assert state.last_error == "unexpected KeyError"


async def test_missing_credential(
    fake_provider: FakeSources, session: aiohttp.ClientSession
) -> None:
    config = Config(accounts=(AccountConfig(provider="fake", name="a"),))
    poller = Poller(config, session, clock=Clock(1_795_435_200.0))
    await poller.poll_once()
    assert fake_provider.calls == []
    assert value(poller, "llm_source_up", source="costs") == 0.0
    state = next(s for s in poller.states if s.source == "costs")
    assert state.last_error is not None and state.last_error.startswith("no credential")


async def test_sources_subset_and_window(
    fake_provider: FakeSources, session: aiohttp.ClientSession
) -> None:
    poller = make(session, Clock(1_795_435_200.0), sources=("usage",), group_by=("model",))
    await poller.poll_once()
    assert fake_provider.calls == ["usage"]
    ctx = fake_provider.contexts[0]
    assert ctx.start.isoformat() == "2026-11-01T00:00:00+00:00"
    assert ctx.group_by == frozenset({"model"})
    assert FAKE_KEY not in repr(ctx)


async def test_publish_serves_a_prerendered_snapshot(
    fake_provider: FakeSources, session: aiohttp.ClientSession
) -> None:
    poller = make(session, Clock(1_795_435_200.0))
    fake_provider.results = {"costs": (cost(1, "2.5"),), "usage": (tokens(1, input=7),)}
    await poller.poll_account(poller.config.accounts[0])
    before = poller.snapshot
    await poller.publish()
    assert poller.snapshot is not before
    # What Prometheus asks for (OpenMetrics, gzip) is ready before the snapshot is served.
    assert poller.snapshot.rendered(openmetrics=True, compress=True)
    assert not poller.snapshot.rendered(openmetrics=False, compress=False)
    assert value(poller, "llm_cost_usd_total") == 2.5


async def test_a_slow_render_never_replaces_a_newer_snapshot(
    fake_provider: FakeSources, session: aiohttp.ClientSession, monkeypatch: pytest.MonkeyPatch
) -> None:
    import asyncio
    import threading

    from exporter.snapshot import Snapshot

    poller = make(session, Clock(1_795_435_200.0))
    fake_provider.results = {"costs": (cost(1, "1"),), "usage": ()}
    await poller.poll_account(poller.config.accounts[0])
    release, first_started = threading.Event(), threading.Event()
    render = Snapshot.prerender
    calls = 0

    def prerender(snapshot: Snapshot) -> None:
        nonlocal calls
        calls += 1
        if calls == 1:  # the older snapshot renders slowly
            first_started.set()
            release.wait(10)
        render(snapshot)

    monkeypatch.setattr(Snapshot, "prerender", prerender)
    older = asyncio.create_task(poller.publish())
    await asyncio.to_thread(first_started.wait, 10)
    fake_provider.results = {"costs": (cost(1, "1"), cost(2, "2")), "usage": ()}
    await poller.poll_account(poller.config.accounts[0])
    await poller.publish()
    assert value(poller, "llm_cost_usd_total") == 3.0
    release.set()
    await older
    assert value(poller, "llm_cost_usd_total") == 3.0  # not the older 1.0
