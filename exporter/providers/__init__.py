"""Provider registry: ``provider`` config key → module's :class:`ProviderSpec`.

One module per provider; each module's docstring lists the endpoints it calls, the credential
it needs and the series it yields.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

from exporter.providers import anthropic, openai
from exporter.providers.base import ProviderSpec

PROVIDERS: Final[Mapping[str, ProviderSpec]] = {
    "openai": openai.PROVIDER,
    "anthropic": anthropic.PROVIDER,
}
