"""Demo mode: the provider simulator in-process on loopback, one account per provider.

``llm-cost-exporter --demo`` needs no key: it serves a seeded, simulated organisation through
the real providers, poller and exposition. Every account is named ``demo`` and the landing page
carries a banner, so simulated spend is never mistaken for real spend.
"""

from __future__ import annotations

import contextlib
import secrets
from collections.abc import AsyncIterator

from aiohttp import web
from pydantic import SecretStr

from exporter.config import AccountConfig, Config
from exporter.simulator import OrgModel, create_app


@contextlib.asynccontextmanager
async def running_simulator(config: Config, *, seed: int = 1) -> AsyncIterator[Config]:
    """Start the simulator on 127.0.0.1 (random port); yield ``config`` with demo accounts."""
    # Throwaway keys: the simulator checks them like a provider would.
    openai_key = "sk-admin-demo-" + secrets.token_hex(8)
    anthropic_key = "sk-ant-admin01-demo-" + secrets.token_hex(8)
    app = create_app(
        OrgModel(seed=seed), openai_key=openai_key, anthropic_key=anthropic_key, page_size=7
    )
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        port = int(runner.addresses[0][1])
        base_url = f"http://127.0.0.1:{port}"
        accounts = (
            AccountConfig(
                provider="openai", name="demo", api_key=SecretStr(openai_key), base_url=base_url
            ),
            AccountConfig(
                provider="anthropic",
                name="demo",
                api_key=SecretStr(anthropic_key),
                base_url=base_url,
            ),
        )
        yield config.model_copy(update={"accounts": accounts})
    finally:
        await runner.cleanup()
