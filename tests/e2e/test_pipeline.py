"""End to end: simulator → the real exporter → real Prometheus → real Alertmanager → webhook.

Everything runs on 127.0.0.1 with free ports and temporary directories. The simulator's clock
is the real time frozen when the test starts, so the month-to-date totals the exporter reports
must equal the model's exact totals. The shipped Prometheus, rule and Alertmanager files are
used; copies are rewritten only for addresses, intervals and (budget alert) ``for:`` durations.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any, TypeVar

import aiohttp
import pytest
import yaml
from aiohttp import web

from exporter.simulator import STATE, OrgModel, create_app
from exporter.snapshot import month_start
from tests.stack.helpers import (
    ALERTMANAGER_CONFIG,
    PROMETHEUS_DIR,
    REPO,
    load_yaml,
    require_binary,
    rule_files,
)

pytestmark = pytest.mark.e2e

OPENAI_KEY = "sk-admin-E2EtestOPENAIkey-0a1b2c3d"
ANTHROPIC_KEY = "sk-ant-admin01-E2EtestANTHROPICkey-9z8y7x"
BUDGET = "e2e-budget"
JOB = "llm-cost-exporter"
PROVIDER_METRICS = ("llm_cost_usd_total{", "llm_tokens_total{")
T = TypeVar("T")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def serve(app: web.Application) -> tuple[web.AppRunner, str]:
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    return runner, f"http://127.0.0.1:{port}"


class Processes:
    """Subprocesses with their output in files; every one is killed in teardown."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.running: list[subprocess.Popen[bytes]] = []
        self.logs: dict[str, Path] = {}

    def start(
        self, name: str, *args: str, env: dict[str, str] | None = None
    ) -> subprocess.Popen[bytes]:
        log = self.workdir / f"{name}.log"
        self.logs[name] = log
        with log.open("ab") as out:
            process = subprocess.Popen(
                args,
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                cwd=REPO,
                env=env,
            )
        self.running.append(process)
        return process

    def tail(self, name: str, chars: int = 3000) -> str:
        path = self.logs.get(name)
        return path.read_text(errors="replace")[-chars:] if path and path.exists() else ""

    def describe(self) -> str:
        return "\n".join(f"--- {name} log\n{self.tail(name)}" for name in self.logs)

    def stop_all(self) -> None:
        for process in reversed(self.running):
            if process.poll() is None:
                process.kill()
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(timeout=10)
        self.running.clear()


@pytest.fixture
def processes(tmp_path: Path) -> Iterator[Processes]:
    procs = Processes(tmp_path)
    try:
        yield procs
    finally:
        procs.stop_all()


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    # Never routed through a proxy: everything is on loopback.
    async with aiohttp.ClientSession(trust_env=False) as session:
        yield session


async def eventually(
    probe: Callable[[], Awaitable[T | None]],
    *,
    timeout: float,
    what: str,
    procs: Processes,
    interval: float = 0.25,
    fail: bool = True,
) -> T | None:
    """Poll ``probe`` until it returns something other than None.

    At the deadline: fail (``fail=True``) or return None, so the caller can assert on the last
    values with a precise message. A process that exits unexpectedly fails at once.
    """
    deadline = time.monotonic() + timeout
    last_error: BaseException | None = None
    while True:
        try:
            result = await probe()
            if result is not None:
                return result
        except (aiohttp.ClientError, OSError, KeyError, ValueError) as exc:
            last_error = exc
        for process in procs.running:
            if process.poll() is not None and process.returncode != -signal.SIGKILL:
                pytest.fail(f"{process.args[0]} exited {process.returncode}\n{procs.describe()}")
        if time.monotonic() > deadline:
            if not fail:
                return None
            pytest.fail(
                f"timed out after {timeout}s: {what} (last error: {last_error!r})\n"
                f"{procs.describe()}"
            )
        await asyncio.sleep(interval)


async def wait_ready(http: aiohttp.ClientSession, url: str, procs: Processes, what: str) -> None:
    async def probe() -> bool | None:
        async with http.get(f"{url}/-/ready") as response:
            return True if response.status == 200 else None

    await eventually(probe, timeout=30, what=f"{what} ready", procs=procs)


async def prom_query(http: aiohttp.ClientSession, prom: str, expr: str) -> list[dict[str, Any]]:
    async with http.get(f"{prom}/api/v1/query", params={"query": expr}) as response:
        body = await response.json()
    assert body["status"] == "success", body
    result: list[dict[str, Any]] = body["data"]["result"]
    return result


async def by_labels(
    http: aiohttp.ClientSession, prom: str, expr: str, labels: tuple[str, ...]
) -> dict[tuple[str, ...], Decimal]:
    return {
        tuple(row["metric"].get(label, "") for label in labels): Decimal(row["value"][1])
        for row in await prom_query(http, prom, expr)
    }


def expected(
    model: OrgModel, now: float
) -> tuple[dict[tuple[str, ...], Decimal], dict[tuple[str, ...], int]]:
    """Per-provider month-to-date cost and per (provider, token_type) tokens of the model."""
    start = month_start(now).timestamp()
    cost = {
        ("openai",): model.openai_cost(start, now),
        ("anthropic",): model.anthropic_cost(start, now),
    }
    tokens: dict[tuple[str, ...], int] = {}
    for provider, totals in (
        ("openai", model.openai_tokens(start, now)),
        ("anthropic", model.anthropic_tokens(start, now)),
    ):
        tokens.update({(provider, kind): n for kind, n in totals.items() if n})
    return cost, tokens


def costs_match(got: dict[tuple[str, ...], Decimal], want: dict[tuple[str, ...], Decimal]) -> bool:
    return got.keys() == want.keys() and all(
        abs(got[key] - want[key]) < Decimal("0.000001") for key in want
    )


async def scrape_provider_lines(http: aiohttp.ClientSession, exporter: str) -> list[str]:
    async with http.get(f"{exporter}/metrics") as response:
        assert response.status == 200
        text = await response.text()
    return sorted(line for line in text.splitlines() if line.startswith(PROVIDER_METRICS))


def write_exporter_config(tmp_path: Path, simulator: str) -> Path:
    config = {
        "poll_interval": "2s",
        "accounts": [
            {"provider": "openai", "name": "e2e", "api_key": OPENAI_KEY, "base_url": simulator},
            {
                "provider": "anthropic",
                "name": "e2e",
                "api_key": ANTHROPIC_KEY,
                "base_url": simulator,
            },
        ],
        # Far below the simulated month-to-date spend: the budget is exhausted.
        "budgets": [{"name": BUDGET, "limit_usd": 1}],
    }
    path = tmp_path / "exporter.yml"
    path.write_text(yaml.safe_dump(config), encoding="utf-8")
    return path


def write_alertmanager_config(workdir: Path, webhook: str) -> Path:
    """The shipped alertmanager.yml, routed to the test's webhook with 1s grouping."""
    config = load_yaml(ALERTMANAGER_CONFIG)
    config["route"].update(receiver="e2e-webhook", group_wait="1s", group_interval="1s")
    config["receivers"].append(
        {"name": "e2e-webhook", "webhook_configs": [{"url": webhook, "send_resolved": False}]}
    )
    path = workdir / "alertmanager.yml"
    path.write_text(yaml.safe_dump(config), encoding="utf-8")
    return path


def write_prometheus_config(workdir: Path, exporter: str, alertmanager: str) -> Path:
    """The shipped prometheus.yml with test addresses, 1s intervals and copied rule files."""
    rules_dir = workdir / "rules"
    rules_dir.mkdir()
    for source in rule_files():
        rules = load_yaml(source)
        for group in rules["groups"]:
            for rule in group["rules"]:
                # Test-only rewrite: the shipped `for: 10m` of the budget alert would keep it
                # pending for the whole test; fire on the first evaluation instead.
                if rule.get("alert") == "LLMBudgetSpendHigh":
                    rule["for"] = "0s"
        (rules_dir / source.name).write_text(yaml.safe_dump(rules), encoding="utf-8")
    config = load_yaml(PROMETHEUS_DIR / "prometheus.yml")
    config["global"].update(scrape_interval="1s", scrape_timeout="1s", evaluation_interval="1s")
    config["rule_files"] = [str(rules_dir / "*.rules.yml")]
    config["alerting"]["alertmanagers"][0]["static_configs"] = [{"targets": [alertmanager]}]
    (scrape,) = config["scrape_configs"]
    assert scrape["job_name"] == JOB
    scrape["static_configs"] = [{"targets": [exporter]}]
    path = workdir / "prometheus.yml"
    path.write_text(yaml.safe_dump(config), encoding="utf-8")
    return path


async def test_pipeline(tmp_path: Path, processes: Processes, http: aiohttp.ClientSession) -> None:
    prometheus_bin = require_binary("prometheus")
    alertmanager_bin = require_binary("prometheus-alertmanager")
    procs = processes

    # 1. The simulator, its clock frozen at the test's start (exact expected totals).
    now = time.time()
    if month_start(now + 120) != month_start(now):
        pytest.skip("too close to a month rollover")
    sim_app = create_app(
        OrgModel(seed=11, clock=lambda: now),
        openai_key=OPENAI_KEY,
        anthropic_key=ANTHROPIC_KEY,
        page_size=2,
    )
    sim_runner, simulator = await serve(sim_app)

    # 3. The webhook receiver (in this loop, like the simulator).
    received: list[dict[str, Any]] = []

    async def webhook_handler(request: web.Request) -> web.Response:
        received.append(await request.json())
        return web.Response(text="ok")

    hook_app = web.Application()
    hook_app.router.add_post("/alerts", webhook_handler)
    hook_runner, hook = await serve(hook_app)

    try:
        # 2. The real exporter.
        exporter_port = free_port()
        exporter = f"http://127.0.0.1:{exporter_port}"
        exporter_args = (
            sys.executable, "-m", "exporter",
            "--config.file", str(write_exporter_config(tmp_path, simulator)),
            "--web.listen-address", f"127.0.0.1:{exporter_port}",
        )  # fmt: skip
        first = procs.start("exporter", *exporter_args)
        await wait_ready(http, exporter, procs, "exporter")
        started = time.monotonic()

        # 4. Alertmanager.
        am_dir = tmp_path / "alertmanager"
        am_dir.mkdir()
        am_port = free_port()
        procs.start(
            "alertmanager",
            alertmanager_bin,
            f"--config.file={write_alertmanager_config(am_dir, f'{hook}/alerts')}",
            f"--storage.path={am_dir / 'data'}",
            f"--web.listen-address=127.0.0.1:{am_port}",
            "--cluster.listen-address=",
        )
        await wait_ready(http, f"http://127.0.0.1:{am_port}", procs, "alertmanager")

        # 5. Prometheus.
        prom_dir = tmp_path / "prometheus"
        prom_dir.mkdir()
        prom_port = free_port()
        prom = f"http://127.0.0.1:{prom_port}"
        prom_config = write_prometheus_config(
            prom_dir, f"127.0.0.1:{exporter_port}", f"127.0.0.1:{am_port}"
        )
        procs.start(
            "prometheus",
            prometheus_bin,
            f"--config.file={prom_config}",
            f"--storage.tsdb.path={prom_dir / 'data'}",
            f"--web.listen-address=127.0.0.1:{prom_port}",
        )
        await wait_ready(http, prom, procs, "prometheus")

        # 6. Prometheus sees exactly the model's month-to-date totals.
        async def up() -> bool | None:
            rows = await prom_query(http, prom, f'up{{job="{JOB}"}} == 1')
            return True if rows else None

        await eventually(up, timeout=30, what="up == 1", procs=procs)
        want_cost, want_tokens = expected(sim_app[STATE].model, now)
        cost_expr = "sum by (provider) (llm_cost_usd_total)"
        tokens_expr = "sum by (provider, token_type) (llm_tokens_total)"

        async def totals_match() -> bool | None:
            cost = await by_labels(http, prom, cost_expr, ("provider",))
            tokens = await by_labels(http, prom, tokens_expr, ("provider", "token_type"))
            return True if costs_match(cost, want_cost) and tokens == want_tokens else None

        await eventually(totals_match, timeout=30, what="totals", procs=procs, fail=False)
        cost = await by_labels(http, prom, cost_expr, ("provider",))
        tokens = await by_labels(http, prom, tokens_expr, ("provider", "token_type"))
        assert costs_match(cost, want_cost), (cost, want_cost)
        assert tokens == {k: Decimal(v) for k, v in want_tokens.items()}, (tokens, want_tokens)
        budget = await by_labels(http, prom, "llm_budget_spend_usd", ("budget",))
        assert abs(budget[(BUDGET,)] - sum(want_cost.values())) < Decimal("0.000001")

        # 7. The exhausted budget pages: LLMBudgetSpendHigh (critical) reaches the webhook.
        async def budget_alert() -> dict[str, Any] | None:
            for payload in received:
                for alert in payload["alerts"]:
                    labels = alert["labels"]
                    if (
                        labels.get("alertname") == "LLMBudgetSpendHigh"
                        and labels.get("severity") == "critical"
                        and labels.get("budget") == BUDGET
                        and alert["status"] == "firing"
                    ):
                        return dict(alert)
            return None

        alert = await eventually(budget_alert, timeout=40, what="budget alert", procs=procs)
        assert alert is not None
        print(f"budget alert at the webhook {time.monotonic() - started:.1f}s after ready")
        annotations = alert["annotations"]
        assert annotations["summary"] == "An LLM budget is exhausted."
        assert f"Budget {BUDGET} has used" in annotations["description"]
        assert annotations["runbook_url"].endswith("RUNBOOK.md#llmbudgetspendhigh")

        # 8. A crash and restart does not double count: the provider data is identical.
        before = await scrape_provider_lines(http, exporter)
        assert before
        first.send_signal(signal.SIGKILL)
        first.wait(timeout=10)
        procs.start("exporter", *exporter_args)
        await wait_ready(http, exporter, procs, "restarted exporter")
        after = await scrape_provider_lines(http, exporter)
        assert after == before

        # 9. A past bucket restated upward reaches Prometheus as the model's new total.
        today = datetime.fromtimestamp(now, UTC).date()
        day = today - timedelta(days=1)
        if day.month != today.month:
            day = today
        sim_app[STATE].model = sim_app[STATE].model.restate(day, 3)
        new_cost, new_tokens = expected(sim_app[STATE].model, now)
        assert all(new_cost[key] > want_cost[key] for key in want_cost)

        async def restated() -> bool | None:
            cost = await by_labels(http, prom, cost_expr, ("provider",))
            return True if costs_match(cost, new_cost) else None

        await eventually(restated, timeout=30, what="restated totals", procs=procs, fail=False)
        cost = await by_labels(http, prom, cost_expr, ("provider",))
        assert costs_match(cost, new_cost), (cost, new_cost)
        tokens = await by_labels(http, prom, tokens_expr, ("provider", "token_type"))
        assert tokens == {k: Decimal(v) for k, v in new_tokens.items()}, (tokens, new_tokens)
        print(f"restatement in Prometheus {time.monotonic() - started:.1f}s after first ready")
    finally:
        procs.stop_all()
        await hook_runner.cleanup()
        await sim_runner.cleanup()
