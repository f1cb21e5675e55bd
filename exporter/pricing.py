"""The pricing catalog: list prices per (provider, model) that turn tokens into estimated USD.

INTERFACE SEAM (filled in by the catalog work): :class:`ModelPrice` and :class:`Catalog` are
what the snapshot and the local-log readers use. ``Catalog.lookup`` is the only way to find a
price; it returns ``None`` for an unknown model, which callers must report as unpriced tokens
(never a silent $0).
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import TYPE_CHECKING, Final

if TYPE_CHECKING:
    from exporter.config import PricingConfig

#: Token types a price exists for. ``cache_write_5m`` and ``cache_write_1h`` are priced apart.
PRICE_TOKEN_TYPES: Final[tuple[str, ...]] = (
    "input",
    "cache_read",
    "cache_write_5m",
    "cache_write_1h",
    "output",
)


@dataclass(frozen=True, slots=True)
class Tier:
    """Prices that apply to the tokens of one request beyond ``above_tokens`` input tokens."""

    above_tokens: int
    per_token: Mapping[str, Decimal]


@dataclass(frozen=True, slots=True)
class ModelPrice:
    provider: str
    #: The catalog's id of the model (may differ from the id it was looked up with).
    model: str
    #: ``genai-prices``, ``openrouter`` or ``config``.
    source: str
    #: USD per token for every type in :data:`PRICE_TOKEN_TYPES`.
    per_token: Mapping[str, Decimal]
    tiers: tuple[Tier, ...] = ()

    def bucket_cost(
        self, input: int, cache_read: int, cache_write_5m: int, cache_write_1h: int, output: int
    ) -> Decimal:
        """Cost of aggregated tokens at base prices (bucket totals cannot be tiered)."""
        p = self.per_token
        return (
            input * p["input"]
            + cache_read * p["cache_read"]
            + cache_write_5m * p["cache_write_5m"]
            + cache_write_1h * p["cache_write_1h"]
            + output * p["output"]
        )

    def request_cost(
        self, input: int, cache_read: int, cache_write_5m: int, cache_write_1h: int, output: int
    ) -> Decimal:
        """Cost of one request's tokens with long-context tiers applied.

        Each token type is priced marginally, as ccusage does: the first ``above_tokens``
        tokens of a type at the base price, the rest at the tier's price.
        """
        counts = {
            "input": input,
            "cache_read": cache_read,
            "cache_write_5m": cache_write_5m,
            "cache_write_1h": cache_write_1h,
            "output": output,
        }
        total = Decimal(0)
        for token_type, count in counts.items():
            base = self.per_token[token_type]
            tier = next(
                (
                    t
                    for t in reversed(self.tiers)
                    if count > t.above_tokens and token_type in t.per_token
                ),
                None,
            )
            if tier is None:
                total += count * base
            else:
                total += tier.above_tokens * base
                total += (count - tier.above_tokens) * tier.per_token[token_type]
        return total


@dataclass(frozen=True)
class Catalog:
    """Prices by (provider, model id) with the update time of each price source."""

    prices: Mapping[tuple[str, str], ModelPrice] = field(default_factory=dict)
    #: Price source → unix time it was last updated.
    updated: Mapping[str, float] = field(default_factory=dict)

    def lookup(self, provider: str, model: str) -> ModelPrice | None:
        return self.prices.get((provider, model))

    def overlay(self, prices: Iterable[ModelPrice], source: str, updated: float) -> Catalog:
        """A catalog where ``prices`` replace entries of the same (provider, model)."""
        merged = dict(self.prices)
        for price in prices:
            merged[(price.provider, price.model)] = price
        return Catalog(merged, {**self.updated, source: updated})


_PER_MILLION = Decimal(1_000_000)


def load_catalog(pricing: PricingConfig) -> Catalog:
    """The catalog the exporter starts with: operator prices from the config."""
    prices = []
    for entry in pricing.prices:
        given = entry.usd_per_million_tokens
        per_token = {
            "input": given.input / _PER_MILLION,
            "output": given.output / _PER_MILLION,
            "cache_read": (given.cache_read if given.cache_read is not None else given.input)
            / _PER_MILLION,
            "cache_write_5m": (
                given.cache_write_5m if given.cache_write_5m is not None else given.input
            )
            / _PER_MILLION,
            "cache_write_1h": (
                given.cache_write_1h if given.cache_write_1h is not None else given.input
            )
            / _PER_MILLION,
        }
        prices.append(ModelPrice(entry.provider, entry.model, "config", per_token))
    catalog = Catalog()
    if prices:
        catalog = catalog.overlay(prices, "config", time.time())
    return catalog
