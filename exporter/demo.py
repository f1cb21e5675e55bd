"""Demo mode: the provider simulator in-process on loopback, one account per provider.

``llm-cost-exporter --demo`` needs no key: it serves a seeded, simulated organisation through
the real providers, poller and exposition. API accounts are named ``demo``; accounts whose
``provider`` label another source already uses are ``demo-<source>`` (``demo-claude-code``,
``demo-chatgpt``, ...). The landing page carries a banner, so simulated spend is never mistaken
for real spend.

What the demo sets up besides the simulator (all in a temporary directory, removed on exit):
throwaway credential files for the Claude, Codex and Gemini quota sources (the simulator
accepts exactly these tokens) and Claude Code / Codex log directories, appended to every
minute by :class:`~exporter.simulator.agent_logs.AgentLogWriter` so the 5-hour block stays
live.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import secrets
import tempfile
import time
from collections.abc import AsyncIterator, Mapping
from decimal import Decimal
from pathlib import Path
from typing import Any

from aiohttp import web
from pydantic import SecretStr

from exporter.config import AccountConfig, BudgetConfig, Config, SubscriptionConfig
from exporter.simulator import OrgModel, create_app
from exporter.simulator.agent_logs import AgentLogWriter
from exporter.simulator.balances import FIREWORKS_ACCOUNT, XAI_TEAM
from exporter.simulator.server import BEARER_PREFIXES
from exporter.simulator.subscriptions import CODEX_ACCOUNT_ID

#: Shown when the config has none, so the budget and total-spend panels have data.
DEMO_BUDGETS = (
    BudgetConfig.model_validate({"name": "demo-all-providers", "limit_usd": 25_000}),
    BudgetConfig.model_validate(
        {"name": "demo-openrouter", "limit_usd": 150, "match": {"provider": "openrouter"}}
    ),
)
DEMO_SUBSCRIPTIONS = (
    SubscriptionConfig(name="demo-claude-max", provider="anthropic", monthly_usd=Decimal(200)),
    SubscriptionConfig(name="demo-chatgpt-plus", provider="openai", monthly_usd=Decimal(20)),
    SubscriptionConfig(
        name="demo-cursor-team", provider="cursor", monthly_usd=Decimal(40), seats=3
    ),
)
#: How often the demo appends new agent-log lines.
LOG_EVERY = 60.0
_YEAR = 365 * 86400


def _fake_jwt(claims: Mapping[str, Any]) -> str:
    """An unsigned JWT-shaped token (the Codex source reads ``exp`` and the account id)."""

    def part(value: Mapping[str, Any]) -> str:
        raw = json.dumps(value, separators=(",", ":")).encode()
        return base64.urlsafe_b64encode(raw).decode().rstrip("=")

    return f"{part({'alg': 'none', 'typ': 'JWT'})}.{part(claims)}.demo"


def _credentials() -> dict[str, str]:
    creds = {name: f"demo-{name}-" + secrets.token_hex(8) for name in BEARER_PREFIXES.values()}
    creds["codex"] = _fake_jwt(
        {
            "exp": int(time.time()) + _YEAR,
            "https://api.openai.com/auth": {"chatgpt_account_id": CODEX_ACCOUNT_ID},
            "nonce": secrets.token_hex(8),
        }
    )
    return creds


def _write_credential_files(root: Path, creds: Mapping[str, str]) -> dict[str, Path]:
    expires_ms = int((time.time() + _YEAR) * 1000)
    files = {
        "claude": (
            root / "claude" / ".credentials.json",
            {
                "claudeAiOauth": {
                    "accessToken": creds["claude"],
                    "refreshToken": "demo-never-used",
                    "expiresAt": expires_ms,
                    "scopes": ["user:inference", "user:profile"],
                    "subscriptionType": "max",
                }
            },
        ),
        "codex": (
            root / "codex" / "auth.json",
            {
                "OPENAI_API_KEY": None,
                "tokens": {
                    "id_token": _fake_jwt({"email": "demo@example.com"}),
                    "access_token": creds["codex"],
                    "refresh_token": "demo-never-used",
                    "account_id": CODEX_ACCOUNT_ID,
                },
            },
        ),
        "gemini": (
            root / "gemini" / "oauth_creds.json",
            {
                "access_token": creds["gemini"],
                "refresh_token": "demo-never-used",
                "expiry_date": expires_ms,
                "token_type": "Bearer",
            },
        ),
    }
    paths = {}
    for name, (path, body) in files.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(body), encoding="utf-8")
        paths[name] = path
    return paths


def demo_accounts(base_url: str, keys: Mapping[str, str], root: Path) -> tuple[AccountConfig, ...]:
    """One account per simulated provider, against the simulator at ``base_url``."""
    files = _write_credential_files(root, keys)

    def api(provider: str, key: str, path: str = "", **options: Any) -> AccountConfig:
        return AccountConfig(
            provider=provider,
            name="demo",
            api_key=SecretStr(key),
            base_url=base_url + path,
            options=options,
        )

    def local(provider: str, name: str, path: str = "", **options: Any) -> AccountConfig:
        return AccountConfig(
            provider=provider,
            name=name,
            base_url=base_url + path if path else None,
            options=options,
        )

    return (
        api("openai", keys["openai"]),
        api("anthropic", keys["anthropic"]),
        api("openrouter", keys["openrouter"], "/openrouter/api/v1"),
        api("deepseek", keys["deepseek"], "/deepseek"),
        api("moonshot", keys["moonshot"], "/moonshot", currency="CNY"),
        api("groq", keys["groq"], "/groq"),
        api("xai", keys["xai"], "/xai", team_id=XAI_TEAM),
        api("fireworks", keys["fireworks"], "/fireworks", account_id=FIREWORKS_ACCOUNT),
        local("claude_subscription", "demo-claude", "/claude", credentials_file=files["claude"]),
        local(
            "codex_subscription",
            "demo-chatgpt",
            "/chatgpt/backend-api",
            auth_file=files["codex"],
        ),
        local(
            "gemini_subscription", "demo-gemini-cli", "/gemini", credentials_file=files["gemini"]
        ),
        local("claude_code", "demo-claude-code", paths=[root / "claude"]),
        local("codex", "demo-codex", paths=[root / "codex"]),
    )


@contextlib.asynccontextmanager
async def running_simulator(config: Config, *, seed: int = 1) -> AsyncIterator[Config]:
    """Start the simulator on 127.0.0.1 (random port); yield ``config`` with demo accounts."""
    keys = {
        "openai": "sk-admin-demo-" + secrets.token_hex(8),
        "anthropic": "sk-ant-admin01-demo-" + secrets.token_hex(8),
        **_credentials(),
    }
    model = OrgModel(seed=seed)
    app = create_app(
        model,
        openai_key=keys["openai"],
        anthropic_key=keys["anthropic"],
        page_size=7,
        # A few 429s (each retry succeeds) so the health dashboard shows retries at work.
        rate_limit_every=40,
        credentials={name: keys[name] for name in BEARER_PREFIXES.values()},
    )
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    with tempfile.TemporaryDirectory(prefix="llm-exporter-demo-") as tmp:
        root = Path(tmp)
        writer = AgentLogWriter(seed, root / "claude", root / "codex")
        await asyncio.to_thread(writer.write_until, model.now())

        async def append_logs() -> None:
            while True:
                await asyncio.sleep(LOG_EVERY)
                await asyncio.to_thread(writer.write_until, model.now())

        appender = asyncio.create_task(append_logs())
        try:
            port = int(runner.addresses[0][1])
            accounts = demo_accounts(f"http://127.0.0.1:{port}", keys, root)
            update: dict[str, Any] = {"accounts": accounts}
            if not config.budgets:
                update["budgets"] = DEMO_BUDGETS
            if not config.subscriptions:
                update["subscriptions"] = DEMO_SUBSCRIPTIONS
            yield config.model_copy(update=update)
        finally:
            appender.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await appender
            await runner.cleanup()
