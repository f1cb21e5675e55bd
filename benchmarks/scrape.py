"""Scrape cost, poll-round concurrency and memory at scale, each against a naive baseline.

1. **Scrape**: snapshots of 1k/10k/50k series built with the real contract
   (:func:`exporter.snapshot.build_snapshot` over ``CostRecord``/``TokenRecord`` of many
   projects and models); ``/metrics`` of the real ASGI app (:func:`exporter.app.create_app`,
   around a real :class:`~exporter.poller.Poller` whose snapshot is set) through an in-process
   client (``httpx.ASGITransport``) and over loopback HTTP (uvicorn in a thread), plain and
   gzip. Baseline: ``prometheus_client.generate_latest`` over a conventional registry of
   Gauge/Counter objects with the same label sets and values (what a naive exporter does per
   scrape), called directly and served by ``prometheus_client.start_http_server``. A snapshot
   renders once and caches its bytes: steady-state scrapes are measured, the first render is
   reported apart ("render once").
2. **Poll round**: 10 accounts (openai/anthropic) against the built-in simulator (one server
   per provider, as in reality two hosts; small pages so reports take several pages) with
   latency injected per request; ``Poller.poll_once()`` wall time against the slowest single
   account's sources polled one after another, and CPU time per account per round.
3. **Memory**: RSS of a fresh process holding a 50k-series snapshot (records, guard, the app,
   rendered plain and gzip bytes) against one holding the conventional registry.

Machines are shared and noisy: ratios measured in one run matter, absolute times are context.
Not part of the test suite (``tests/test_benchmarks_smoke.py`` runs ``--smoke``). Usage::

    python -m benchmarks.scrape                  # full run
    python -m benchmarks.scrape --smoke          # tiny sizes, a few seconds
    python -m benchmarks.scrape --json out.json
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import json
import os
import platform
import resource
import socket
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Awaitable, Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import aiohttp
import httpx
import prometheus_client
import uvicorn
from aiohttp import web
from prometheus_client import CollectorRegistry, Counter, Gauge, generate_latest
from pydantic import SecretStr

from exporter.app import create_app
from exporter.config import AccountConfig, Config
from exporter.contract import MetricType
from exporter.poller import Poller, account_upstream
from exporter.providers import PROVIDERS
from exporter.providers.base import SourceContext
from exporter.records import CostRecord, Record, TokenRecord
from exporter.simulator import OrgModel
from exporter.simulator import create_app as create_simulator
from exporter.snapshot import MonthToDateGuard, Snapshot, SourceState, build_snapshot, month_start

#: Targets from issue 7.
TARGET_SCRAPE_RATIO = 1 / 20
TARGET_SCALING = 2.0
TARGET_POLL_RATIO = 1.5
TARGET_RSS_MB = 150.0

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
#: A fixed moment mid-month, so every record is in the month to date.
NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC).timestamp()
OPENAI_KEY = "sk-admin-BENCHfakeOPENAIkey-000000"
ANTHROPIC_KEY = "sk-ant-admin01-BENCHfakeANTHROPICkey-000000"
MODELS = tuple(
    f"{family}-{variant}"
    for family in ("gpt-4o", "gpt-4.1", "o3", "claude-sonnet-4", "claude-opus-4")
    for variant in ("2025-01", "2025-04", "2025-08", "mini", "nano", "latest")
)


@dataclass(frozen=True)
class Sizes:
    series: tuple[int, ...]
    accounts: int
    latency: float
    page_size: int
    memory_series: int
    #: Per measurement: at most this many runs, and stop after this many seconds (at least 5).
    runs: int
    budget: float


FULL = Sizes((1_000, 10_000, 50_000), 10, 0.100, 7, 50_000, 400, 4.0)
SMOKE = Sizes((200,), 2, 0.010, 7, 200, 20, 0.3)


# --------------------------------------------------------------------------- snapshots


def bench_config(max_series: int) -> Config:
    account = AccountConfig(
        provider="openai", name="bench", api_key=SecretStr(OPENAI_KEY), max_series=max_series
    )
    return Config(accounts=(account,))


def bench_records(series: int) -> tuple[Record, ...]:
    """About ``series`` month-to-date series: half cost series, half token series.

    A cost record is one ``llm_cost_usd_total`` series; a token record with input and output is
    two ``llm_tokens_total`` series (priced by the source, so no estimate series is added).
    """
    day = datetime(2026, 11, 3, tzinfo=UTC)
    records: list[Record] = []
    for i in range(series // 2):
        model = MODELS[i % len(MODELS)]
        project = f"proj_{i // len(MODELS):05d}"
        side = "input" if i % 2 else "output"
        amount = Decimal(i % 997) / 100 + Decimal("0.01")
        records.append(CostRecord(day, project, model, f"{model}, {side}", amount))
    for i in range(series // 4):
        model = MODELS[i % len(MODELS)]
        project = f"proj_{i // len(MODELS):05d}"
        records.append(
            TokenRecord(day, project, f"key_{i % 50:02d}", model, 1000 + i, 0, 0, 0, 10 + i, True)
        )
    return tuple(records)


def bench_state(records: tuple[Record, ...]) -> SourceState:
    state = SourceState("openai", "bench", "costs", stale_after=900)
    state.records = records
    state.up = True
    state.last_success = NOW
    state.last_duration = 0.5
    state.stats.requests = 12
    return state


def build(series: int) -> tuple[Snapshot, SourceState, MonthToDateGuard]:
    state = bench_state(bench_records(series))
    guard = MonthToDateGuard()
    snapshot = build_snapshot(bench_config(series * 2), [state], guard, NOW)
    return snapshot, state, guard


def series_count(snapshot: Snapshot) -> int:
    return sum(len(family.samples) for family in snapshot.families)


def conventional_registry(snapshot: Snapshot) -> CollectorRegistry:
    """A naive exporter's registry: one Gauge/Counter per metric, a child per label set."""
    registry = CollectorRegistry(auto_describe=False)
    for family in snapshot.families:
        spec = family.spec
        labels = list(spec.labels)
        if spec.type is MetricType.COUNTER:
            counter = Counter(spec.family, spec.help, labels, registry=registry)
            for sample in family.samples:
                counter.labels(*(sample.labels[n] for n in labels)).inc(sample.value)
        else:
            gauge = Gauge(spec.name, spec.help, labels, registry=registry)
            for sample in family.samples:
                gauge.labels(*(sample.labels[n] for n in labels)).set(sample.value)
    return registry


# --------------------------------------------------------------------------- timing


@dataclass
class Timing:
    p50_ms: float
    p99_ms: float
    runs: int


def summarise(durations: Sequence[float]) -> Timing:
    ordered = sorted(durations)
    p99 = ordered[min(len(ordered) - 1, round(0.99 * (len(ordered) - 1)))]
    return Timing(statistics.median(ordered) * 1000, p99 * 1000, len(ordered))


def time_sync(call: Callable[[], object], sizes: Sizes) -> Timing:
    call()  # warm-up (connections, caches)
    durations: list[float] = []
    deadline = time.perf_counter() + sizes.budget
    while len(durations) < sizes.runs and (len(durations) < 5 or time.perf_counter() < deadline):
        started = time.perf_counter()
        call()
        durations.append(time.perf_counter() - started)
    return summarise(durations)


async def time_async(call: Callable[[], Awaitable[object]], sizes: Sizes) -> Timing:
    await call()
    durations: list[float] = []
    deadline = time.perf_counter() + sizes.budget
    while len(durations) < sizes.runs and (len(durations) < 5 or time.perf_counter() < deadline):
        started = time.perf_counter()
        await call()
        durations.append(time.perf_counter() - started)
    return summarise(durations)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@contextlib.contextmanager
def server_process(kind: str, series: int) -> Iterator[str]:
    """``/metrics`` of ``kind`` (``ours``: the app under uvicorn; ``baseline``:
    ``prometheus_client.start_http_server``) holding ``series`` series, in its own process
    (as a real exporter runs apart from Prometheus; no GIL shared with the client)."""
    port = free_port()
    command = [sys.executable, "-m", "benchmarks.scrape", "--serve-child", kind]
    command += ["--child-series", str(series), "--child-port", str(port)]
    child = subprocess.Popen(command, cwd=REPO)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 300
        while True:
            try:
                httpx.get(base + "/metrics", timeout=60).raise_for_status()
                break
            except httpx.TransportError:
                if child.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"{kind} server did not start") from None
                time.sleep(0.1)
        yield base
    finally:
        child.terminate()
        child.wait(timeout=30)


def serve_child(kind: str, series: int, port: int) -> None:
    snapshot, state, guard = build(series)
    if kind == "baseline":
        prometheus_client.disable_created_metrics()  # type: ignore[no-untyped-call]
        registry = conventional_registry(snapshot)
        del snapshot, state, guard
        _server, thread = prometheus_client.start_http_server(port, "127.0.0.1", registry=registry)
        thread.join()
        return

    async def serve() -> None:
        async with aiohttp.ClientSession() as session:
            poller = Poller(bench_config(series * 2), session, clock=lambda: NOW)
            _with_snapshot(poller, snapshot)
            snapshot.render()
            snapshot.render(compress=True)
            app = create_app(poller.config)
            app.state.poller = poller
            config = uvicorn.Config(
                app, host="127.0.0.1", port=port, lifespan="off", log_level="warning"
            )
            config.access_log = False
            await uvicorn.Server(config).serve()

    asyncio.run(serve())


# --------------------------------------------------------------------------- 1. scrape


def _with_snapshot(poller: Poller, snapshot: Snapshot) -> None:
    # The poller swaps its snapshot in one reference assignment; the benchmark does the same.
    poller._snapshot = snapshot


def loopback_timings(base: str, sizes: Sizes) -> tuple[dict[str, Any], dict[str, Any]]:
    """Plain and gzip ``/metrics`` over one keep-alive connection. The body is read raw:
    decompressing is the scraper's cost, the same for both sides, not the exporter's."""
    with httpx.Client(base_url=base) as client:

        def get(encoding: str) -> None:
            headers = {"Accept-Encoding": encoding}
            with client.stream("GET", "/metrics", headers=headers) as reply:
                reply.raise_for_status()
                for _chunk in reply.iter_raw():
                    pass

        plain = time_sync(lambda: get("identity"), sizes)
        packed = time_sync(lambda: get("gzip"), sizes)
    return plain.__dict__, packed.__dict__


@contextlib.contextmanager
def without_created_series() -> Iterator[None]:
    """Our text exposition has no ``_created`` lines; the baseline must not add one per
    counter child either (the setting is process-wide, so it is restored afterwards)."""
    was = prometheus_client.metrics._use_created
    prometheus_client.disable_created_metrics()  # type: ignore[no-untyped-call]
    try:
        yield
    finally:
        if was:
            prometheus_client.enable_created_metrics()  # type: ignore[no-untyped-call]


async def scrape_size(series: int, sizes: Sizes) -> dict[str, Any]:
    snapshot, _state, _guard = build(series)
    row: dict[str, Any] = {"series_requested": series, "series": series_count(snapshot)}
    started = time.perf_counter()
    plain = snapshot.render()
    row["render_once_ms"] = (time.perf_counter() - started) * 1000
    started = time.perf_counter()
    packed = snapshot.render(compress=True)
    row["render_once_gzip_ms"] = (time.perf_counter() - started) * 1000
    row["body_bytes"], row["gzip_bytes"] = len(plain), len(packed)

    registry = conventional_registry(snapshot)
    baseline_body = generate_latest(registry)
    row["baseline_body_bytes"] = len(baseline_body)
    row["same_bytes_as_baseline"] = baseline_body == plain
    row["baseline_lines"] = baseline_body.count(b"\n")
    row["lines"] = plain.count(b"\n")
    row["baseline"] = time_sync(lambda: generate_latest(registry), sizes).__dict__

    gzip_header = {"Accept-Encoding": "gzip"}
    plain_header = {"Accept-Encoding": "identity"}
    async with aiohttp.ClientSession() as session:
        poller = Poller(bench_config(series * 2), session, clock=lambda: NOW)
        _with_snapshot(poller, snapshot)
        app = create_app(poller.config)
        app.state.poller = poller
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://bench") as client:
            response = await client.get("/metrics", headers=plain_header)
            assert response.content == plain, "app served other bytes than the snapshot"

            async def get(headers: dict[str, str]) -> None:
                # Raw body: decompressing is the scraper's cost, not the exporter's.
                async with client.stream("GET", "/metrics", headers=headers) as reply:
                    reply.raise_for_status()
                    async for _chunk in reply.aiter_raw():
                        pass

            row["asgi"] = (await time_async(lambda: get(plain_header), sizes)).__dict__
            row["asgi_gzip"] = (await time_async(lambda: get(gzip_header), sizes)).__dict__

    # Loopback: each server in its own process, holding the same series.
    with server_process("ours", series) as base:
        row["http"], row["http_gzip"] = loopback_timings(base, sizes)
    with server_process("baseline", series) as base:
        row["baseline_http"], row["baseline_http_gzip"] = loopback_timings(base, sizes)
    for kind in ("asgi", "asgi_gzip"):
        row[f"ratio_{kind}"] = row[kind]["p50_ms"] / row["baseline"]["p50_ms"]
    for kind in ("http", "http_gzip"):
        row[f"ratio_{kind}"] = row[kind]["p50_ms"] / row[f"baseline_{kind}"]["p50_ms"]
    return row


async def scrape_section(sizes: Sizes) -> dict[str, Any]:
    rows = [await scrape_size(n, sizes) for n in sizes.series]
    result: dict[str, Any] = {"sizes": rows}
    first, last = rows[0], rows[-1]
    result["scaling"] = {
        kind: last[kind]["p50_ms"] / first[kind]["p50_ms"]
        for kind in ("asgi", "asgi_gzip", "http", "http_gzip", "baseline")
    }
    result["scaling_between"] = [first["series"], last["series"]]
    return result


# --------------------------------------------------------------------------- 2. poll round


def latency_middleware(delay: float) -> Any:
    @web.middleware
    async def delayed(request: web.Request, handler: Any) -> web.StreamResponse:
        await asyncio.sleep(delay)
        response: web.StreamResponse = await handler(request)
        return response

    return delayed


class SimulatorThread:
    """Two simulators (an "openai" and an "anthropic" host) on their own loop and thread, so
    the poller's thread CPU time is the poller's own."""

    def __init__(self, latency: float, page_size: int) -> None:
        self.latency = latency
        self.page_size = page_size
        self.bases: list[str] = []
        self.requests = 0
        self._loop = asyncio.new_event_loop()
        self._runners: list[web.AppRunner] = []
        self._apps: list[web.Application] = []
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)

    async def _start(self) -> None:
        model = OrgModel(seed=3, clock=lambda: NOW)
        for _ in range(2):
            app = create_simulator(
                model, openai_key=OPENAI_KEY, anthropic_key=ANTHROPIC_KEY, page_size=self.page_size
            )
            app.middlewares.insert(0, latency_middleware(self.latency))
            runner = web.AppRunner(app, access_log=None)
            await runner.setup()
            site = web.TCPSite(runner, "127.0.0.1", 0)
            await site.start()
            self._runners.append(runner)
            self._apps.append(app)
            self.bases.append(f"http://127.0.0.1:{runner.addresses[0][1]}")

    def __enter__(self) -> SimulatorThread:
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self._start(), self._loop).result(timeout=30)
        return self

    def request_count(self) -> int:
        from exporter.simulator import STATE

        return sum(app[STATE].requests for app in self._apps)

    def __exit__(self, *exc: object) -> None:
        async def stop() -> None:
            for runner in self._runners:
                await runner.cleanup()

        asyncio.run_coroutine_threadsafe(stop(), self._loop).result(timeout=30)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)
        self._loop.close()


def poll_accounts(count: int, openai_base: str, anthropic_base: str) -> tuple[AccountConfig, ...]:
    accounts = []
    for i in range(count):
        provider = "openai" if i % 2 == 0 else "anthropic"
        key = OPENAI_KEY if provider == "openai" else ANTHROPIC_KEY
        base = openai_base if provider == "openai" else anthropic_base
        accounts.append(
            AccountConfig(
                provider=provider, name=f"acct{i:02d}", api_key=SecretStr(key), base_url=base
            )
        )
    return tuple(accounts)


def app_session() -> aiohttp.ClientSession:
    # The app's own connector limits (exporter.app.create_app).
    return aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=32, limit_per_host=8))


async def sequential_chain(account: AccountConfig, session: aiohttp.ClientSession) -> float:
    """One account's sources polled one after another, as the poller builds their context."""
    spec = PROVIDERS[account.provider]
    secret = account.secret or ""
    started = time.perf_counter()
    for source in account.enabled_sources():
        state = SourceState(account.provider_label, account.account, source, 900)
        context = SourceContext(
            upstream=account_upstream(session, account, secret, state.stats),
            start=month_start(NOW),
            end=datetime.fromtimestamp(NOW, UTC),
            group_by=frozenset(account.group_by),
            options=account.parsed_options,
            memo=state.memo,
        )
        await spec.sources[source](context)
    return time.perf_counter() - started


async def poll_section(sizes: Sizes) -> dict[str, Any]:
    with SimulatorThread(sizes.latency, sizes.page_size) as simulator:
        accounts = poll_accounts(sizes.accounts, *simulator.bases)
        config = Config(accounts=accounts)
        async with app_session() as session:
            chains = {}
            for account in accounts[:2]:  # one of each provider; the others are identical
                chains[account.provider] = min(
                    [await sequential_chain(account, session) for _ in range(2)]
                )
            slowest_provider = max(chains, key=lambda p: chains[p])
            poller = Poller(config, session, clock=lambda: NOW)
            await poller.poll_once()  # warm-up: connections, catalog
            rounds = []
            requests_before = simulator.request_count()
            for _ in range(3):
                wall0, cpu0, thread0 = time.perf_counter(), time.process_time(), time.thread_time()
                snapshot = await poller.poll_once()
                rounds.append(
                    (
                        time.perf_counter() - wall0,
                        time.process_time() - cpu0,
                        time.thread_time() - thread0,
                    )
                )
            requests = (simulator.request_count() - requests_before) // len(rounds)
            down = [s for s in poller.states if s.up is not True and s.unavailable is None]
            if down:
                raise RuntimeError(f"{len(down)} sources failed: {down[0].last_error}")
    wall = statistics.median(r[0] for r in rounds)
    chain = chains[slowest_provider]
    return {
        "accounts": len(accounts),
        "latency_ms": sizes.latency * 1000,
        "page_size": sizes.page_size,
        "requests_per_round": requests,
        "series_after_round": series_count(snapshot),
        "sequential_chain_s": chains,
        "slowest_chain_provider": slowest_provider,
        "round_wall_s": wall,
        "ratio": wall / chain,
        "poller_cpu_ms_per_account": statistics.median(r[2] for r in rounds) * 1000 / len(accounts),
        "process_cpu_ms_per_account": statistics.median(r[1] for r in rounds)
        * 1000
        / len(accounts),
    }


# --------------------------------------------------------------------------- 3. memory


def rss_report() -> dict[str, float]:
    status = {}
    with open("/proc/self/status", encoding="ascii") as f:
        for line in f:
            name, _, value = line.partition(":")
            if name in ("VmRSS", "VmHWM"):
                status[name] = int(value.split()[0]) / 1024
    return {
        "rss_mb": status["VmRSS"],
        "peak_rss_mb": status["VmHWM"],
        "maxrss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def memory_child(kind: str, series: int) -> None:
    """Run in a fresh process: hold what a running exporter holds, print its RSS as JSON."""
    held: list[object] = []
    if kind == "ours":
        snapshot, state, guard = build(series)
        snapshot.render()
        snapshot.render(compress=True)
        app = create_app(bench_config(series * 2))
        held += [snapshot, state, guard, app]
    elif kind == "baseline":
        prometheus_client.disable_created_metrics()  # type: ignore[no-untyped-call]
        snapshot, state, guard = build(series)
        registry = conventional_registry(snapshot)
        del snapshot, state, guard
        gc.collect()
        generate_latest(registry)
        held.append(registry)
    else:  # the exporter's modules and app, no data
        held.append(create_app(bench_config(2000)))
    gc.collect()
    print(json.dumps({**rss_report(), "held": len(held)}))


def memory_section(sizes: Sizes) -> dict[str, Any]:
    result: dict[str, Any] = {"series": sizes.memory_series}
    for kind in ("empty", "ours", "baseline"):
        out = subprocess.run(
            [sys.executable, "-m", "benchmarks.scrape", "--memory-child", kind],
            input=str(sizes.memory_series),
            capture_output=True,
            text=True,
            check=True,
            cwd=REPO,
            timeout=600,
        )
        result[kind] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


# --------------------------------------------------------------------------- report


def machine() -> dict[str, Any]:
    model = ""
    with contextlib.suppress(OSError), open("/proc/cpuinfo", encoding="utf-8") as f:
        model = next((ln.split(":", 1)[1].strip() for ln in f if ln.startswith("model name")), "")
    return {
        "nproc": os.cpu_count(),
        "cpu": model,
        "python": platform.python_version(),
        "prometheus_client": prometheus_client.__version__
        if hasattr(prometheus_client, "__version__")
        else "",
    }


def verdict(ok: bool) -> str:
    return "ok" if ok else "MISSED"


def table(results: dict[str, Any]) -> str:
    lines = []
    m = results["machine"]
    lines.append(f"machine: {m['nproc']} CPUs, {m['cpu']}, Python {m['python']}")
    lines.append("")
    lines.append("1. Scrape /metrics, p50 / p99 ms (ratio = p50 ours / p50 baseline)")
    head = (
        f"{'series':>7} {'render once':>12} {'baseline':>16} {'ASGI':>14} {'ASGI gzip':>14}"
        f" {'ratio':>7} {'HTTP':>14} {'HTTP gzip':>14} {'base HTTP':>16} {'ratio':>7}"
    )
    lines.append(head)

    def pp(t: dict[str, float]) -> str:
        return f"{t['p50_ms']:.3f}/{t['p99_ms']:.3f}"

    for row in results["scrape"]["sizes"]:
        lines.append(
            f"{row['series']:>7} {row['render_once_ms']:>10.1f}ms {pp(row['baseline']):>16}"
            f" {pp(row['asgi']):>14} {pp(row['asgi_gzip']):>14} {row['ratio_asgi']:>7.4f}"
            f" {pp(row['http']):>14} {pp(row['http_gzip']):>14}"
            f" {pp(row['baseline_http']):>16} {row['ratio_http']:>7.4f}"
        )
    scrape = results["scrape"]
    last = scrape["sizes"][-1]
    lo, hi = scrape["scaling_between"]
    lines.append(
        f"target p50 ours/baseline at {hi} ≤ {TARGET_SCRAPE_RATIO:.3f}:"
        f" ASGI {last['ratio_asgi']:.4f}"
        f" {verdict(last['ratio_asgi'] <= TARGET_SCRAPE_RATIO)}, HTTP {last['ratio_http']:.4f}"
        f" {verdict(last['ratio_http'] <= TARGET_SCRAPE_RATIO)}"
        f" (HTTP gzip vs prometheus_client gzip {last['ratio_http_gzip']:.4f})"
    )
    scaling = scrape["scaling"]
    lines.append(
        f"target scrape({hi})/scrape({lo}) ≤ {TARGET_SCALING}: "
        + ", ".join(f"{k} {v:.2f}" for k, v in scaling.items() if k != "baseline")
        + f" {verdict(max(v for k, v in scaling.items() if k != 'baseline') <= TARGET_SCALING)}"
        + f" (baseline {scaling['baseline']:.1f})"
    )
    poll = results["poll"]
    lines.append("")
    lines.append(
        f"2. Poll round: {poll['accounts']} accounts, {poll['latency_ms']:.0f} ms per request, "
        f"page size {poll['page_size']}, {poll['requests_per_round']} requests per round"
    )
    chains = ", ".join(f"{p} {s:.2f}s" for p, s in poll["sequential_chain_s"].items())
    lines.append(f"   sequential chain of one account: {chains}")
    lines.append(
        f"   poll_once wall {poll['round_wall_s']:.2f}s; ratio to slowest chain "
        f"{poll['ratio']:.2f} (target ≤ {TARGET_POLL_RATIO})"
        f" {verdict(poll['ratio'] <= TARGET_POLL_RATIO)}"
    )
    lines.append(
        f"   CPU per account per round: poller thread {poll['poller_cpu_ms_per_account']:.1f} ms,"
        f" whole process incl. simulator {poll['process_cpu_ms_per_account']:.1f} ms"
    )
    mem = results["memory"]
    lines.append("")
    lines.append(f"3. Memory of a process holding {mem['series']} series (RSS / peak MB)")
    for kind, label in (
        ("empty", "exporter, no data"),
        ("ours", "exporter + snapshot"),
        ("baseline", "prometheus_client registry"),
    ):
        lines.append(f"   {label:<28} {mem[kind]['rss_mb']:7.1f} / {mem[kind]['peak_rss_mb']:7.1f}")
    ours = mem["ours"]["rss_mb"]
    lines.append(f"   target ≤ {TARGET_RSS_MB:.0f} MB: {ours:.1f} {verdict(ours <= TARGET_RSS_MB)}")
    return "\n".join(lines)


async def run(sizes: Sizes) -> dict[str, Any]:
    results: dict[str, Any] = {"machine": machine(), "sizes": sizes.__dict__}
    with without_created_series():
        results["scrape"] = await scrape_section(sizes)
    results["poll"] = await poll_section(sizes)
    results["memory"] = memory_section(sizes)
    return results


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.scrape", description=__doc__)
    parser.add_argument("--smoke", action="store_true", help="tiny sizes, a few seconds")
    parser.add_argument("--json", metavar="PATH", help="also write the results as JSON")
    parser.add_argument("--serve-child", choices=("ours", "baseline"), help=argparse.SUPPRESS)
    parser.add_argument("--child-series", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--child-port", type=int, help=argparse.SUPPRESS)
    parser.add_argument(
        "--memory-child", choices=("empty", "ours", "baseline"), help=argparse.SUPPRESS
    )
    args = parser.parse_args(argv)
    if args.serve_child:
        serve_child(args.serve_child, args.child_series, args.child_port)
        return 0
    if args.memory_child:
        memory_child(args.memory_child, int(sys.stdin.read()))
        return 0
    results = asyncio.run(run(SMOKE if args.smoke else FULL))
    print(table(results))
    if args.json:
        with open(args.json, "w", encoding="utf-8") as f:
            json.dump(results, f, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
