"""Crash and replica safety, end to end: the simulator → real exporter processes on loopback.

The simulator runs in the test's event loop (as in :mod:`tests.e2e.test_pipeline`) with its
clock frozen at the test's start, serving every simulated provider the demo uses (API keys,
OAuth quota sources, Claude Code / Codex logs written up to the frozen instant). The exporters
are real ``python -m exporter`` subprocesses reading one YAML config.

A poll is made slow by a test-side aiohttp middleware added to the simulator app before it
starts (:class:`Gate`): it can delay every request or those of one path, or let a few requests
through and hold the rest until released. The simulator's handlers and the exporter's HTTP
client are untouched.

**Provider data** (what must survive a crash and be identical on replicas) is every line of
``/metrics`` — ``# HELP``, ``# TYPE``, samples and OpenMetrics ``_created`` samples — of a metric
whose contract scope (:data:`exporter.contract.METRICS`) is *not* ``HEALTH``: the month-to-date
counters, levels, info series and config-derived series (budgets, subscription fees, prices).
``HEALTH`` metrics describe the process, not the provider (``llm_source_up``, poll durations,
last-success times, upstream request and failure counters, build info, catalog update time,
credential expiry, skipped log lines, folded series) and are left out. Any line that belongs to
no contract metric (``process_*``, ``python_*``, ...) fails the test; only OpenMetrics' ``# EOF``
is allowed. Lines are compared in exposition order, not sorted: the rendering must be
deterministic.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import signal
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import yaml
from aiohttp import web

from exporter.contract import METRICS, MetricSpec, Scope
from exporter.demo import _credentials, demo_accounts
from exporter.simulator import OrgModel, create_app
from exporter.simulator.agent_logs import AgentLogWriter
from exporter.simulator.openrouter import PREFIX as OPENROUTER_PREFIX
from exporter.simulator.server import BEARER_PREFIXES
from exporter.snapshot import month_start
from tests.e2e.test_pipeline import (
    Processes,
    costs_match,
    eventually,
    expected,
    free_port,
    processes,  # noqa: F401  (fixture)
    serve,
    wait_ready,
)

pytestmark = pytest.mark.e2e

SEED = 7
ACCOUNT = "demo"
OPENMETRICS = "application/openmetrics-text; version=1.0.0"
_SAMPLE = re.compile(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$")
_LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')

#: Every name a contract metric's lines can carry → its spec.
_NAMES: dict[str, MetricSpec] = {}
for _spec in METRICS.values():
    for _name in (_spec.name, _spec.family, f"{_spec.family}_created"):
        _NAMES[_name] = _spec


def provider_lines(text: str) -> list[str]:
    """The provider-data lines of an exposition, in order (rule: the module docstring)."""
    kept = []
    for line in text.splitlines():
        if line == "# EOF":
            continue
        if line.startswith("# "):
            name = line.split(" ", 3)[2]
        else:
            match = _SAMPLE.match(line)
            assert match, f"unparseable exposition line: {line!r}"
            name = match.group(1)
        spec = _NAMES.get(name)
        assert spec is not None, f"line of a metric outside the contract: {line!r}"
        if spec.scope is not Scope.HEALTH:
            kept.append(line)
    return kept


def samples(lines: list[str], metric: str) -> list[tuple[dict[str, str], Decimal]]:
    out = []
    for line in lines:
        match = _SAMPLE.match(line)
        if match and match.group(1) == metric:
            labels = dict(_LABEL.findall(match.group(2) or ""))
            out.append((labels, Decimal(match.group(3))))
    return out


def model_totals_match(lines: list[str], model: OrgModel, now: float) -> None:
    """The OpenAI and Anthropic accounts' month-to-date cost and tokens equal the model's."""
    want_cost, want_tokens = expected(model, now)
    cost: dict[tuple[str, ...], Decimal] = {}
    for labels, value in samples(lines, "llm_cost_usd_total"):
        if labels["account"] == ACCOUNT and labels["provider"] in ("openai", "anthropic"):
            key = (labels["provider"],)
            cost[key] = cost.get(key, Decimal(0)) + value
    tokens: dict[tuple[str, ...], Decimal] = {}
    for labels, value in samples(lines, "llm_tokens_total"):
        if labels["account"] == ACCOUNT and labels["provider"] in ("openai", "anthropic"):
            key = (labels["provider"], labels["token_type"])
            tokens[key] = tokens.get(key, Decimal(0)) + value
    assert costs_match(cost, want_cost), (cost, want_cost)
    assert tokens == {k: Decimal(v) for k, v in want_tokens.items()}, (tokens, want_tokens)


@dataclass
class Gate:
    """Test-side latency for the simulator: delay every request or those of one path, or hold
    all but a few."""

    delay: float = 0.0
    #: Extra delay of requests to ``slow_path``.
    slow_path: str | None = None
    slow_delay: float = 0.0
    #: When set, this many more requests pass; later ones wait for ``release``.
    pass_before_hold: int | None = None
    held: int = 0
    release: asyncio.Event = field(default_factory=asyncio.Event)

    def middleware(self) -> Callable[..., Awaitable[web.StreamResponse]]:
        @web.middleware
        async def gate(
            request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
        ) -> web.StreamResponse:
            if self.pass_before_hold is not None:
                if self.pass_before_hold > 0:
                    self.pass_before_hold -= 1
                else:
                    self.held += 1
                    await self.release.wait()
            if self.delay:
                await asyncio.sleep(self.delay)
            if self.slow_path is not None and request.path == self.slow_path:
                await asyncio.sleep(self.slow_delay)
            return await handler(request)

        return gate


@dataclass
class Simulated:
    model: OrgModel
    now: float
    gate: Gate
    config: Path


@contextlib.asynccontextmanager
async def simulated_org(tmp_path: Path) -> AsyncIterator[Simulated]:
    """The simulator (frozen clock, every provider, a :class:`Gate`) and an exporter config."""
    now = time.time()
    if month_start(now + 300) != month_start(now):
        pytest.skip("too close to a month rollover")
    keys = {
        "openai": "sk-admin-E2EcrashOPENAIkey-5f6e7d",
        "anthropic": "sk-ant-admin01-E2EcrashANTHROPICkey-1c2b3a",
        **_credentials(),
    }
    model = OrgModel(seed=SEED, clock=lambda: now)
    app = create_app(
        model,
        openai_key=keys["openai"],
        anthropic_key=keys["anthropic"],
        page_size=2,
        credentials={name: keys[name] for name in BEARER_PREFIXES.values()},
    )
    gate = Gate()
    app.middlewares.append(gate.middleware())  # innermost: after the simulator's own checks
    runner, base_url = await serve(app)
    root = tmp_path / "org"
    AgentLogWriter(SEED, root / "claude", root / "codex").write_until(now)
    try:
        accounts = []
        for account in demo_accounts(base_url, keys, root):
            entry: dict[str, Any] = {"provider": account.provider, "name": account.name}
            if account.secret is not None:
                entry["api_key"] = account.secret
            if account.base_url is not None:
                entry["base_url"] = account.base_url
            if account.options:
                entry["options"] = {
                    name: [str(v) for v in value] if isinstance(value, list) else str(value)
                    for name, value in account.options.items()
                }
            accounts.append(entry)
        config = {
            "poll_interval": "2s",
            # The simulator shares the test's event loop: with two exporters a round can take
            # more than 3 × 2s, and staleness (not under test here) would drop data meanwhile.
            "stale_polls": 1000,
            "accounts": accounts,
            "budgets": [
                {"name": "everything", "limit_usd": 100_000},
                {"name": "anthropic", "limit_usd": 500, "match": {"provider": "anthropic"}},
                {
                    "name": "openai-estimated",
                    "limit_usd": 500,
                    "match": {"provider": "openai"},
                    "include": "estimated",
                },
            ],
            "subscriptions": [
                {"name": "team-plan", "provider": "anthropic", "monthly_usd": "30", "seats": 4}
            ],
        }
        path = tmp_path / "exporter.yml"
        path.write_text(yaml.safe_dump(config), encoding="utf-8")
        yield Simulated(model, now, gate, path)
    finally:
        gate.release.set()
        await runner.cleanup()


def start_exporter(procs: Processes, name: str, config: Path) -> tuple[str, Any]:
    port = free_port()
    process = procs.start(
        name,
        sys.executable, "-m", "exporter",
        "--config.file", str(config),
        "--web.listen-address", f"127.0.0.1:{port}",
    )  # fmt: skip
    return f"http://127.0.0.1:{port}", process


async def scrape(http: aiohttp.ClientSession, exporter: str, *, openmetrics: bool = False) -> str:
    headers = {"Accept": OPENMETRICS} if openmetrics else {}
    async with http.get(f"{exporter}/metrics", headers=headers) as response:
        assert response.status == 200
        return await response.text()


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession(trust_env=False) as session:  # loopback only
        yield session


async def test_sigkill_mid_poll_then_restart_exports_the_same_month_to_date(
    tmp_path: Path,
    processes: Processes,  # noqa: F811
    http: aiohttp.ClientSession,
) -> None:
    """Killed while a poll round is half answered, the restarted exporter's first complete
    round exports exactly the provider data of before (and the simulator's totals); while that
    round is still running, every provider line it already exports is one of before's."""
    procs = processes
    async with simulated_org(tmp_path) as sim:
        exporter, first = start_exporter(procs, "exporter", sim.config)
        await wait_ready(http, exporter, procs, "exporter")
        before = provider_lines(await scrape(http, exporter))
        before_om = provider_lines(await scrape(http, exporter, openmetrics=True))
        assert samples(before, "llm_cost_usd_total") and samples(before, "llm_budget_spend_usd")
        model_totals_match(before, sim.model, sim.now)

        # The next round: a few requests are answered, then every request hangs.
        sim.gate.pass_before_hold = 5

        async def mid_poll() -> bool | None:
            return True if sim.gate.held >= 3 else None

        await eventually(mid_poll, timeout=20, what="a poll round held mid-way", procs=procs)
        first.send_signal(signal.SIGKILL)
        first.wait(timeout=10)
        assert first.returncode == -signal.SIGKILL

        # The restarted exporter's polls are slow (every request delayed), not held.
        sim.gate.pass_before_hold = None
        sim.gate.delay = 0.05
        sim.gate.release.set()
        exporter, _ = start_exporter(procs, "restarted", sim.config)
        first_round_scrapes: list[list[str]] = []

        async def ready() -> bool | None:
            with contextlib.suppress(aiohttp.ClientError):
                first_round_scrapes.append(provider_lines(await scrape(http, exporter)))
            async with http.get(f"{exporter}/-/ready") as response:
                return True if response.status == 200 else None

        await eventually(ready, timeout=60, what="restarted exporter ready", procs=procs)
        after = provider_lines(await scrape(http, exporter))
        after_om = provider_lines(await scrape(http, exporter, openmetrics=True))

    assert after == before
    assert after_om == before_om
    model_totals_match(after, sim.model, sim.now)
    final = set(before)
    for lines in first_round_scrapes:
        partial = [line for line in lines if line not in final]
        missing = [line for line in before if line not in lines and not line.startswith("#")]
        assert not partial, (
            f"exported during the first round, never final: {partial}\n"
            f"final: {[line for line in before if 'budget_spend' in line]}\n"
            f"not (yet) in that scrape: {missing}\n{procs.describe()}"
        )


async def test_two_replicas_export_identical_provider_data(
    tmp_path: Path,
    processes: Processes,  # noqa: F811
    http: aiohttp.ClientSession,
) -> None:
    """Two exporters on one config serve byte-identical provider lines in both exposition
    formats, though their first rounds met the sources in different orders: replica a got
    OpenRouter's live price list (``/models``) seconds after the activity it prices, while the
    other accounts' polls rebuilt its snapshot; replica b starts after a has polled several
    rounds, with no delay."""
    procs = processes
    async with simulated_org(tmp_path) as sim:
        sim.gate.slow_path, sim.gate.slow_delay = f"{OPENROUTER_PREFIX}/models", 4.0
        first, _ = start_exporter(procs, "replica-a", sim.config)
        await wait_ready(http, first, procs, "replica a")
        sim.gate.slow_path = None
        await asyncio.sleep(4.5)  # a couple of 2s rounds on replica a only
        second, _ = start_exporter(procs, "replica-b", sim.config)
        await wait_ready(http, second, procs, "replica b")
        bodies: dict[str, list[str]] = {}
        for openmetrics in (False, True):
            for name, url in (("a", first), ("b", second)):
                text = await scrape(http, url, openmetrics=openmetrics)
                bodies[f"{name}{'-om' if openmetrics else ''}"] = provider_lines(text)

    assert bodies["a"], "no provider data"
    assert any("_created" in line for line in bodies["a-om"])
    for a, b in (("a", "b"), ("a-om", "b-om")):
        only_a = [line for line in bodies[a] if line not in bodies[b]]
        only_b = [line for line in bodies[b] if line not in bodies[a]]
        assert bodies[a] == bodies[b], f"only in {a}: {only_a[:10]}\nonly in {b}: {only_b[:10]}"
    model_totals_match(bodies["a"], sim.model, sim.now)
