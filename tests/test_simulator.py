"""The generative Admin API simulator (``exporter.simulator``) and the real CLI against it."""

from __future__ import annotations

import asyncio
import json
import os
import sys
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from aiohttp import ClientSession, web

from exporter.simulator import STATE, OrgModel, create_app
from exporter.simulator.model import DAY, day_start
from exporter.snapshot import month_start

OPENAI_KEY = "sk-admin-SIMtestOPENAIkey-0a1b2c3d"
ANTHROPIC_KEY = "sk-ant-admin01-SIMtestANTHROPICkey-9z8y7x"
OPENAI_AUTH = {"Authorization": f"Bearer {OPENAI_KEY}"}
ANTHROPIC_AUTH = {"x-api-key": ANTHROPIC_KEY, "anthropic-version": "2023-06-01"}
#: A fixed moment mid-month (2025-10-15 13:20 UTC).
MID_MONTH = datetime(2025, 10, 15, 13, 20, tzinfo=UTC).timestamp()


async def serve(app: web.Application) -> tuple[web.AppRunner, str]:
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    return runner, f"http://127.0.0.1:{port}"


@pytest.fixture
async def live() -> AsyncIterator[tuple[web.Application, str, float]]:
    """A simulator whose clock is the real time, frozen when the test starts (so the
    subprocess's month and the model agree while expected totals stay exact)."""
    now = time.time()
    if month_start(now + 120) != month_start(now):
        pytest.skip("too close to a month rollover")
    model = OrgModel(seed=7, clock=lambda: now)
    app = create_app(
        model,
        openai_key=OPENAI_KEY,
        anthropic_key=ANTHROPIC_KEY,
        page_size=2,
        rate_limit_every=5,
    )
    runner, base = await serve(app)
    yield app, base, now
    await runner.cleanup()


def write_config(tmp_path: Path, base: str) -> Path:
    (tmp_path / "anthropic_key").write_text(ANTHROPIC_KEY + "\n")
    path = tmp_path / "config.yml"
    path.write_text(f"""
poll_interval: 5m
accounts:
  - provider: openai
    name: sim
    api_key: ${{SIM_TEST_OPENAI_KEY}}
    base_url: {base}
  - provider: anthropic
    name: sim
    api_key_file: {tmp_path / "anthropic_key"}
    base_url: {base}
""")
    return path


async def run_once(config: Path) -> tuple[int, list[dict[str, Any]], str]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "exporter",
        "--once",
        "--format",
        "json",
        "--config.file",
        str(config),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env={**os.environ, "SIM_TEST_OPENAI_KEY": OPENAI_KEY},
    )
    out, err = await asyncio.wait_for(proc.communicate(), timeout=120)
    assert proc.returncode is not None
    rows = json.loads(out) if out.strip() else []
    return proc.returncode, rows, err.decode()


def totals(rows: list[dict[str, Any]], provider: str) -> tuple[Decimal, dict[str, int]]:
    cost = Decimal(0)
    tokens: dict[str, int] = {}
    for row in rows:
        if row["labels"].get("provider") != provider:
            continue
        if row["name"] == "llm_cost_usd_total":
            cost += Decimal(repr(row["value"]))
        elif row["name"] == "llm_tokens_total":
            kind = row["labels"]["token_type"]
            tokens[kind] = tokens.get(kind, 0) + int(row["value"])
    return cost, tokens


def expected(model: OrgModel, now: float) -> dict[str, tuple[Decimal, dict[str, int]]]:
    start = month_start(now).timestamp()
    return {
        "openai": (model.openai_cost(start, now), model.openai_tokens(start, now)),
        "anthropic": (model.anthropic_cost(start, now), model.anthropic_tokens(start, now)),
    }


def assert_matches(rows: list[dict[str, Any]], want: dict[str, Any]) -> None:
    for provider, (cost, tokens) in want.items():
        got_cost, got_tokens = totals(rows, provider)
        assert abs(got_cost - cost) < Decimal("0.000001"), (provider, got_cost, cost)
        assert got_tokens == {k: v for k, v in tokens.items() if v}, provider


async def test_cli_month_to_date_equals_model(
    live: tuple[web.Application, str, float], tmp_path: Path
) -> None:
    app, base, now = live
    state = app[STATE]
    code, rows, err = await run_once(write_config(tmp_path, base))
    assert code == 0, err
    want = expected(state.model, now)
    assert_matches(rows, want)
    assert all(r["value"] == 1 for r in rows if r["name"] == "llm_source_up")
    # The run really was paginated and rate limited.
    statuses = [status for _, status in state.log]
    assert statuses.count(429) >= 3
    assert any("page=page_" in path for path, _ in state.log)
    assert any("after_id=" in path for path, _ in state.log)
    assert any("after=" in path for path, _ in state.log)
    print("simulator totals:", {p: (str(c), t) for p, (c, t) in want.items()})


async def test_cli_follows_restatement(
    live: tuple[web.Application, str, float], tmp_path: Path
) -> None:
    app, base, now = live
    state = app[STATE]
    config = write_config(tmp_path, base)
    code, before_rows, err = await run_once(config)
    assert code == 0, err
    before = expected(state.model, now)
    assert_matches(before_rows, before)

    today = datetime.fromtimestamp(now, UTC).date()
    day = today - timedelta(days=1)
    if day.month != today.month:
        day = today
    state.model = state.model.restate(day, 3)  # a past bucket revised upward
    code, after_rows, err = await run_once(config)
    assert code == 0, err
    after = expected(state.model, now)
    assert_matches(after_rows, after)
    for provider in ("openai", "anthropic"):
        assert after[provider][0] > before[provider][0]
        assert totals(after_rows, provider)[0] > totals(before_rows, provider)[0]


# ------------------------------------------------------------------------- in-process checks

PATHS = [
    ("/v1/organization/costs?start_time={s}&bucket_width=1d&limit=31"
     "&group_by[]=project_id&group_by[]=line_item", OPENAI_AUTH),
    ("/v1/organization/usage/completions?start_time={s}&limit=31&group_by[]=model", OPENAI_AUTH),
    ("/v1/organization/usage/embeddings?start_time={s}&limit=31", OPENAI_AUTH),
    ("/v1/organization/projects?limit=100&include_archived=true", OPENAI_AUTH),
    ("/v1/organizations/usage_report/messages?starting_at={iso}&limit=31"
     "&group_by[]=workspace_id&group_by[]=api_key_id&group_by[]=model", ANTHROPIC_AUTH),
    ("/v1/organizations/cost_report?starting_at={iso}&limit=31&group_by[]=description",
     ANTHROPIC_AUTH),
    ("/v1/organizations/workspaces?include_archived=true", ANTHROPIC_AUTH),
    ("/v1/organizations/api_keys?limit=100", ANTHROPIC_AUTH),
]  # fmt: skip


async def fetch_all(base: str, path: str, headers: dict[str, str]) -> list[Any]:
    """Every page of ``path``, following ``next_page`` or ``last_id`` cursors."""
    pages: list[Any] = []
    async with ClientSession() as session:
        url = base + path
        while True:
            async with session.get(url, headers=headers) as resp:
                assert resp.status == 200, await resp.text()
                page = await resp.json()
            pages.append(page)
            if not page["has_more"]:
                return pages
            if page.get("next_page"):
                url = f"{base}{path}&page={page['next_page']}"
            else:
                param = "after_id" if "organizations/" in path else "after"
                url = f"{base}{path}&{param}={page['last_id']}"


def month_paths(now: float) -> list[tuple[str, dict[str, str]]]:
    start = month_start(now)
    iso = start.strftime("%Y-%m-%dT%H:%M:%SZ")
    return [(p.format(s=int(start.timestamp()), iso=iso), h) for p, h in PATHS]


async def test_same_seed_same_responses() -> None:
    bodies = []
    for seed in (3, 3, 4):
        app = create_app(
            OrgModel(seed=seed, clock=lambda: MID_MONTH),
            openai_key=OPENAI_KEY,
            anthropic_key=ANTHROPIC_KEY,
            page_size=3,
        )
        runner, base = await serve(app)
        try:
            bodies.append([await fetch_all(base, p, h) for p, h in month_paths(MID_MONTH)])
        finally:
            await runner.cleanup()
    assert json.dumps(bodies[0]) == json.dumps(bodies[1])
    assert json.dumps(bodies[0]) != json.dumps(bodies[2])


async def test_pages_sum_to_model_and_day_grows() -> None:
    clock = [MID_MONTH]
    model = OrgModel(seed=1, clock=lambda: clock[0])
    app = create_app(model, openai_key=OPENAI_KEY, anthropic_key=ANTHROPIC_KEY, page_size=2)
    runner, base = await serve(app)
    try:
        costs_path, auth = month_paths(MID_MONTH)[0]
        pages = await fetch_all(base, costs_path, auth)
        buckets = [b for p in pages for b in p["data"]]
        # 15 daily buckets from the 1st up to "now" (the 15th), 2 per page.
        assert len(buckets) == 15 and len(pages) == 8
        assert max(b["start_time"] for b in buckets) < MID_MONTH
        total = sum(
            (Decimal(str(r["amount"]["value"])) for b in buckets for r in b["results"]),
            Decimal(0),
        )
        start = month_start(MID_MONTH).timestamp()
        assert total == model.openai_cost(start, MID_MONTH)
        assert any(isinstance(r["amount"]["value"], str) for b in buckets for r in b["results"])

        cost_report, auth = month_paths(MID_MONTH)[5]
        cents = sum(
            Decimal(r["amount"])
            for p in await fetch_all(base, cost_report, auth)
            for b in p["data"]
            for r in b["results"]
        )
        assert cents / 100 == model.anthropic_cost(start, MID_MONTH)

        # Today's bucket grows during the day; earlier days do not change.
        today = day_start(MID_MONTH)
        first = model.anthropic_tokens(today, today + DAY)
        yesterday = model.anthropic_tokens(today - DAY, today)
        clock[0] = MID_MONTH + 3600
        later = model.anthropic_tokens(today, today + DAY)
        assert all(later[k] >= first[k] for k in first) and later != first
        assert model.anthropic_tokens(today - DAY, today) == yesterday
        # Windows add up exactly.
        mid = today - DAY / 3
        assert {
            k: model.openai_tokens(start, mid)[k] + model.openai_tokens(mid, clock[0])[k]
            for k in first
        } == model.openai_tokens(start, clock[0])
    finally:
        await runner.cleanup()


async def test_auth_rate_limit_and_bad_cursor() -> None:
    app = create_app(
        OrgModel(seed=1, clock=lambda: MID_MONTH),
        openai_key=OPENAI_KEY,
        anthropic_key=ANTHROPIC_KEY,
        rate_limit_every=3,
    )
    runner, base = await serve(app)
    try:
        async with ClientSession() as session:
            path = base + "/v1/organization/projects"
            async with session.get(path, headers={"Authorization": "Bearer nope"}) as resp:
                assert resp.status == 401
            wrong = {"x-api-key": ANTHROPIC_KEY}  # no anthropic-version
            async with session.get(base + "/v1/organizations/workspaces", headers=wrong) as resp:
                assert resp.status == 401
            async with session.get(path, headers=OPENAI_AUTH) as resp:
                assert resp.status == 429 and resp.headers["Retry-After"] == "1"
            async with session.get(path + "?after=proj_nope", headers=OPENAI_AUTH) as resp:
                assert resp.status == 400
            async with session.get(path, headers=OPENAI_AUTH) as resp:
                assert resp.status == 200
    finally:
        await runner.cleanup()
