"""Provider registry: ``provider`` config key → module's :class:`ProviderSpec`.

One module per provider; each module's docstring lists the endpoints it calls, the credential
it needs and the series it yields.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

from exporter.providers import (
    anthropic,
    claude_code,
    claude_subscription,
    codex,
    codex_subscription,
    deepseek,
    fireworks,
    gemini_subscription,
    groq,
    moonshot,
    openai,
    openrouter,
    xai,
)
from exporter.providers.base import ProviderSpec

PROVIDERS: Final[Mapping[str, ProviderSpec]] = {
    "openai": openai.PROVIDER,
    "anthropic": anthropic.PROVIDER,
    "openrouter": openrouter.PROVIDER,
    "deepseek": deepseek.PROVIDER,
    "moonshot": moonshot.PROVIDER,
    "groq": groq.PROVIDER,
    "xai": xai.PROVIDER,
    "fireworks": fireworks.PROVIDER,
    "claude_subscription": claude_subscription.PROVIDER,
    "codex_subscription": codex_subscription.PROVIDER,
    "codex": codex.PROVIDER,
    "claude_code": claude_code.PROVIDER,
    "gemini_subscription": gemini_subscription.PROVIDER,
}
