"""End to end: simulator → ``llm-cost-exporter backfill`` (console script) → ``promtool tsdb
create-blocks-from openmetrics`` → real Prometheus on those blocks → the HTTP API at past instants.

The two months before the current one (before yesterday's month, so the run never touches the
last 3 hours) are backfilled from the simulator; their totals at the last second of each month,
and at the end of a day mid-month, must equal the model's exact totals.
"""

from __future__ import annotations

import asyncio
import subprocess
import time
from collections.abc import AsyncIterator, Iterator
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import yaml

from exporter.simulator import OrgModel, create_app
from exporter.snapshot import month_start, next_month_start
from tests.e2e.test_pipeline import Processes, free_port, serve, wait_ready
from tests.stack.helpers import REPO, require_binary

pytestmark = pytest.mark.e2e

OPENAI_KEY = "sk-admin-E2EbackfillOPENAIkey-1a2b3c"
ANTHROPIC_KEY = "sk-ant-admin01-E2EbackfillANTHROPICkey-4d5e6f"
JOB = "llm-cost-exporter"
INSTANCE = "exporter:9771"
TOLERANCE = Decimal("0.000001")


@pytest.fixture
def procs(tmp_path: Path) -> Iterator[Processes]:
    running = Processes(tmp_path)
    try:
        yield running
    finally:
        running.stop_all()


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession(trust_env=False) as session:  # loopback only
        yield session


async def query_at(
    http: aiohttp.ClientSession, prom: str, expr: str, at: float, labels: tuple[str, ...]
) -> dict[tuple[str, ...], Decimal]:
    params = {"query": expr, "time": str(at)}
    async with http.get(f"{prom}/api/v1/query", params=params) as response:
        body: dict[str, Any] = await response.json()
    assert body["status"] == "success", body
    return {
        tuple(row["metric"].get(label, "") for label in labels): Decimal(row["value"][1])
        for row in body["data"]["result"]
    }


def expected(model: OrgModel, start: datetime, end: datetime) -> dict[str, dict[Any, Decimal]]:
    a, b = start.timestamp(), end.timestamp()
    tokens: dict[Any, Decimal] = {}
    for provider, totals in (
        ("openai", model.openai_tokens(a, b)),
        ("anthropic", model.anthropic_tokens(a, b)),
    ):
        tokens.update({(provider, kind): Decimal(n) for kind, n in totals.items() if n})
    cost = {("openai",): model.openai_cost(a, b), ("anthropic",): model.anthropic_cost(a, b)}
    return {"cost": cost, "tokens": tokens}


def assert_costs(got: dict[tuple[str, ...], Decimal], want: dict[Any, Decimal]) -> None:
    assert got.keys() == want.keys(), (got, want)
    for key, value in want.items():
        assert abs(got[key] - value) < TOLERANCE, (key, got[key], value)


def check(args: tuple[str | Path, ...], code: int | None, out: str, err: str) -> None:
    assert code == 0, (
        f"{' '.join(str(a) for a in args)} exited {code}\n"
        f"--- stdout\n{out[-3000:]}\n--- stderr\n{err[-3000:]}"
    )


async def run(*args: str | Path) -> str:
    """Run a command without blocking the loop (the simulator answers in this loop)."""
    process = await asyncio.create_subprocess_exec(
        *(str(a) for a in args),
        cwd=REPO,
        stdin=subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        out, err = await asyncio.wait_for(process.communicate(), timeout=300)
    except TimeoutError:
        process.kill()
        await process.wait()
        raise
    check(args, process.returncode, out.decode(errors="replace"), err.decode(errors="replace"))
    return err.decode(errors="replace")


async def test_backfill_blocks_answer_past_month_totals(
    tmp_path: Path, procs: Processes, http: aiohttp.ClientSession
) -> None:
    exporter_bin = require_binary("llm-cost-exporter")
    promtool_bin = require_binary("promtool")
    prometheus_bin = require_binary("prometheus")

    now = time.time()
    model = OrgModel(seed=21, clock=lambda: now)
    app = create_app(model, openai_key=OPENAI_KEY, anthropic_key=ANTHROPIC_KEY, page_size=7)
    runner, simulator = await serve(app)
    try:
        # The two complete months before yesterday's month.
        last_month = month_start(month_start(now - 86400).timestamp() - 1)
        first_month = month_start(last_month.timestamp() - 1)
        end = next_month_start(last_month)
        config = tmp_path / "exporter.yml"
        config.write_text(
            yaml.safe_dump(
                {
                    "accounts": [
                        {"provider": p, "name": "e2e", "api_key": key, "base_url": simulator}
                        for p, key in (("openai", OPENAI_KEY), ("anthropic", ANTHROPIC_KEY))
                    ]
                }
            ),
            encoding="utf-8",
        )
        history = tmp_path / "history.om"
        started = time.monotonic()
        stderr = await run(
            exporter_bin, "backfill",
            "--config.file", config,
            "--since", f"{first_month:%Y-%m}",
            "--until", f"{last_month:%Y-%m}",
            "--output", history,
            "--label", f"job={JOB}",
            "--label", f"instance={INSTANCE}",
        )  # fmt: skip
        print(f"backfill took {time.monotonic() - started:.1f}s\n{stderr.strip()}")
        assert "skipped projects" in stderr and "skipped names" in stderr
        text = history.read_text(encoding="utf-8")
        assert text.endswith("# EOF\n")
        assert "llm_source_up" not in text and "llm_budget" not in text
    finally:
        await runner.cleanup()

    # promtool turns the file into TSDB blocks.
    data = tmp_path / "data"
    started = time.monotonic()
    await run(promtool_bin, "tsdb", "create-blocks-from", "openmetrics", history, data)
    print(f"promtool took {time.monotonic() - started:.1f}s")
    assert any(data.iterdir())

    # Prometheus on those blocks (retention long enough to keep them: the default is 15d).
    prom_config = tmp_path / "prometheus.yml"
    prom_config.write_text("global:\n  scrape_interval: 1m\n", encoding="utf-8")
    port = free_port()
    prom = f"http://127.0.0.1:{port}"
    procs.start(
        "prometheus",
        prometheus_bin,
        f"--config.file={prom_config}",
        f"--storage.tsdb.path={data}",
        "--storage.tsdb.retention.time=3650d",
        f"--web.listen-address=127.0.0.1:{port}",
    )
    await wait_ready(http, prom, procs, "prometheus")

    cost_expr = "sum by (provider) (llm_cost_usd_total)"
    tokens_expr = "sum by (provider, token_type) (llm_tokens_total)"
    for month in (first_month, last_month):
        month_end = next_month_start(month)
        last_instant = month_end.timestamp() - 1
        want = expected(model, month, month_end)
        got = await query_at(http, prom, cost_expr, last_instant, ("provider",))
        assert_costs(got, want["cost"])
        tokens = await query_at(http, prom, tokens_expr, last_instant, ("provider", "token_type"))
        assert tokens == want["tokens"]

    # Mid-month: the end of the 10th is month-to-date through the 10th.
    tenth = last_month + timedelta(days=10)
    want = expected(model, last_month, tenth)
    got = await query_at(http, prom, cost_expr, tenth.timestamp(), ("provider",))
    assert_costs(got, want["cost"])

    # Counters reset at the month boundary; target labels are on every series; no health data.
    at = end.timestamp() - 1
    window = f"{(end - first_month).days}d"
    resets = await query_at(http, prom, f"sum(resets(llm_cost_usd_total[{window}]))", at, ())
    assert resets[()] >= 1, resets
    targets = await query_at(
        http, prom, "count by (job, instance) (llm_cost_usd_total)", at, ("job", "instance")
    )
    assert set(targets) == {(JOB, INSTANCE)}, targets
    health = 'count({__name__=~"llm_(source|budget|upstream|exporter)_.*"})'
    assert await query_at(http, prom, health, at, ()) == {}
    created = await query_at(http, prom, "max(llm_cost_usd_created)", at, ())
    assert created == {(): Decimal(int(last_month.timestamp()))}
