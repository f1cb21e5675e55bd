"""The simulator's Bearer APIs (OpenRouter, balances, Groq, quota endpoints) and its agent-log
writer: documented shapes, authentication, and totals that add up exactly."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from aiohttp import ClientSession

from exporter.simulator import OrgModel, create_app
from exporter.simulator import openrouter as sim_openrouter
from exporter.simulator.agent_logs import AgentLogWriter
from exporter.simulator.balances import groq_tokens
from exporter.simulator.model import DAY
from exporter.simulator.server import default_credentials
from exporter.simulator.subscriptions import CODEX_ACCOUNT_ID, window
from tests.test_simulator import serve

NOW = datetime(2026, 11, 23, 13, 20, tzinfo=UTC).timestamp()
CREDS = default_credentials(3)


@pytest.fixture
async def sim() -> AsyncIterator[str]:
    app = create_app(OrgModel(seed=3, clock=lambda: NOW), openai_key="a", anthropic_key="b")
    runner, base = await serve(app)
    yield base
    await runner.cleanup()


async def get(base: str, path: str, name: str, **headers: str) -> tuple[int, Any]:
    auth = {"Authorization": f"Bearer {CREDS[name]}", **headers}
    async with ClientSession() as session, session.get(base + path, headers=auth) as resp:
        return resp.status, await resp.json()


@pytest.mark.parametrize(
    ("path", "name"),
    [
        ("/openrouter/api/v1/credits", "openrouter"),
        ("/deepseek/user/balance", "deepseek"),
        ("/moonshot/v1/users/me/balance", "moonshot"),
        ("/claude/api/oauth/usage", "claude"),
    ],
)
async def test_bearer_apis_reject_a_wrong_credential(sim: str, path: str, name: str) -> None:
    bad = {"Authorization": "Bearer nope"}
    async with ClientSession() as session, session.get(sim + path, headers=bad) as resp:
        assert resp.status == 401
    status, _ = await get(sim, path, name, **{"anthropic-beta": "oauth-2025-04-20"})
    assert status == 200


async def test_openrouter_activity_has_completed_days_only_and_adds_up(sim: str) -> None:
    status, body = await get(sim, "/openrouter/api/v1/activity", "openrouter")
    assert status == 200
    dates = {row["date"] for row in body["data"]}
    assert max(dates) == "2026-11-22" and len(dates) == 30
    month = datetime(2026, 11, 1, tzinfo=UTC).timestamp()
    usd, tokens = sim_openrouter.activity_totals(3, month, NOW)
    rows = [r for r in body["data"] if r["date"] >= "2026-11-01"]
    assert sum(Decimal(repr(r["usage"])) for r in rows) == usd
    assert sum(r["prompt_tokens"] for r in rows) == tokens["input"]
    assert sum(r["completion_tokens"] for r in rows) == tokens["output"]
    assert sim_openrouter.UNLISTED_MODEL in {r["model"] for r in rows}


async def test_openrouter_credits_keys_and_models(sim: str) -> None:
    _, credits = await get(sim, "/openrouter/api/v1/credits", "openrouter")
    data = credits["data"]
    assert data["total_credits"] == 250 * 11
    assert 0 < data["total_usage"] < data["total_credits"]
    _, page1 = await get(sim, "/openrouter/api/v1/keys", "openrouter")
    _, page2 = await get(sim, "/openrouter/api/v1/keys?offset=2", "openrouter")
    _, page3 = await get(sim, "/openrouter/api/v1/keys?offset=4", "openrouter")
    assert [len(p["data"]) for p in (page1, page2, page3)] == [2, 1, 0]
    keys = page1["data"] + page2["data"]
    # Shares 5:3:2 of one spend: per-key lifetime usage adds up to the account's.
    assert sum(k["usage"] for k in keys) == pytest.approx(data["total_usage"], abs=1e-5)
    staging = next(k for k in keys if k["name"] == "staging")
    assert staging["limit"] == 400 and staging["limit_remaining"] == pytest.approx(
        400 - staging["usage"]
    )
    assert all(k["limit"] is None for k in keys if k["name"] != "staging")
    _, models = await get(sim, "/openrouter/api/v1/models", "openrouter")
    ids = {m["id"] for m in models["data"]}
    assert sim_openrouter.UNLISTED_MODEL not in ids
    assert all(isinstance(v, str) for m in models["data"] for v in m["pricing"].values())


async def test_balances(sim: str) -> None:
    _, deepseek = await get(sim, "/deepseek/user/balance", "deepseek")
    info = deepseek["balance_infos"][0]
    assert Decimal(info["total_balance"]) == Decimal(info["granted_balance"]) + Decimal(
        info["topped_up_balance"]
    )
    _, moonshot = await get(sim, "/moonshot/v1/users/me/balance", "moonshot")
    data = moonshot["data"]
    assert data["available_balance"] == pytest.approx(
        data["voucher_balance"] + data["cash_balance"]
    )


async def test_groq_query_range_integrates_exactly(sim: str) -> None:
    start = datetime(2026, 11, 1, tzinfo=UTC).timestamp()
    path = (
        f"/groq/api/v1/query_range?query=sum(x:tokens_in:rate5m)&start={start}&end={NOW}&step=300"
    )
    _, body = await get(sim, path, "groq")
    total = sum(Decimal(v) * 300 for series in body["data"]["result"] for _, v in series["values"])
    assert total == groq_tokens(start, NOW)["input"]


async def test_quota_endpoints(sim: str) -> None:
    _, claude = await get(
        sim, "/claude/api/oauth/usage", "claude", **{"anthropic-beta": "oauth-2025-04-20"}
    )
    used, resets = window("claude_7d", NOW)
    assert claude["seven_day"]["utilization"] == pytest.approx(used * 100)
    assert datetime.fromisoformat(claude["seven_day"]["resets_at"]).timestamp() == pytest.approx(
        resets, abs=1
    )
    assert claude["seven_day_opus"] is None
    status, _ = await get(sim, "/chatgpt/backend-api/wham/usage", "codex")
    assert status == 400  # no account id
    _, codex = await get(
        sim, "/chatgpt/backend-api/wham/usage", "codex", **{"ChatGPT-Account-Id": CODEX_ACCOUNT_ID}
    )
    assert codex["rate_limit"]["primary_window"]["limit_window_seconds"] == 7 * 86400


def test_agent_logs_append_only_new_turns(tmp_path: Path) -> None:
    writer = AgentLogWriter(3, tmp_path / "claude", tmp_path / "codex", history=4 * DAY)
    writer.write_until(NOW)
    files = sorted((tmp_path / "claude" / "projects").rglob("*.jsonl"))
    assert files and len(list((tmp_path / "codex" / "sessions").rglob("*.jsonl"))) >= 4
    before = sum(len(f.read_text().splitlines()) for f in files)
    writer.write_until(NOW + 1800)  # three more Claude turns: 3 lines each
    after = sum(
        len(f.read_text().splitlines()) for f in (tmp_path / "claude" / "projects").rglob("*.jsonl")
    )
    assert after - before == 9
    # Dedup by (message.id, requestId) keeping the larger copy gives the model's totals.
    kept: dict[tuple[str, str], dict[str, int]] = {}
    for f in (tmp_path / "claude" / "projects").rglob("*.jsonl"):
        for line in f.read_text().splitlines():
            row = json.loads(line)
            if row["type"] != "assistant":
                continue
            key = (row["message"]["id"], row["requestId"])
            usage = row["message"]["usage"]
            if key not in kept or usage["output_tokens"] > kept[key]["output_tokens"]:
                kept[key] = usage
    expected = writer.claude_totals(NOW - 4 * DAY, NOW + 1800)
    assert sum(u["output_tokens"] for u in kept.values()) == expected["output"]
    assert sum(u["cache_read_input_tokens"] for u in kept.values()) == expected["cache_read"]


def test_codex_cumulative_totals_are_consistent(tmp_path: Path) -> None:
    writer = AgentLogWriter(3, tmp_path / "claude", tmp_path / "codex", history=4 * DAY)
    writer.write_until(NOW)
    writer.write_until(NOW + 3600)
    last_sum = {"input": 0, "cached": 0}
    for f in (tmp_path / "codex" / "sessions").rglob("*.jsonl"):
        running = 0
        for line in f.read_text().splitlines():
            row = json.loads(line)
            if row["type"] == "event_msg":
                info = row["payload"]["info"]
                running += info["last_token_usage"]["input_tokens"]
                assert info["total_token_usage"]["input_tokens"] == running
                last_sum["input"] += info["last_token_usage"]["input_tokens"]
                last_sum["cached"] += info["last_token_usage"]["cached_input_tokens"]
    expected = writer.codex_totals(NOW - 4 * DAY, NOW + 3600)
    assert last_sum["input"] - last_sum["cached"] == expected["input"]
    assert last_sum["cached"] == expected["cache_read"]
