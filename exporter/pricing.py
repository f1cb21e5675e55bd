"""The pricing catalog: list prices per (provider, model) that turn tokens into estimated USD.

:class:`ModelPrice` and :class:`Catalog` are what the snapshot and the local-log readers use.
``Catalog.lookup`` is the only way to find a price; it returns ``None`` for a model without a
known price, which callers must report as unpriced tokens (never a silent $0).

Price sources, strongest first
------------------------------
1. ``config``: the operator's ``pricing.prices`` (fine-tuned and private models, negotiated
   rates). They win over every other source: :meth:`Catalog.overlay` never replaces them.
2. Live prices a source fetched (OpenRouter ``GET /api/v1/models``, source ``openrouter``),
   laid over the catalog by the snapshot while that source is fresh. Matched by exact id.
3. ``genai-prices``: the price database bundled with the installed ``genai-prices`` package
   (maintained by Pydantic, https://github.com/pydantic/genai-prices). Only the bundled data
   is read: the package's ``UpdatePrices`` background fetch is never started and its
   process-wide "custom snapshot" is ignored, so nothing touches the network at runtime.
   Lookups resolve lazily and are cached per (provider, model, UTC day).

Provider labels → genai-prices providers
----------------------------------------
``openai``→``openai``, ``anthropic``→``anthropic``, ``openrouter``→``openrouter``,
``groq``→``groq``, ``deepseek``→``deepseek``, ``xai``→``x-ai``, ``google``→``google``,
``fireworks``→``fireworks``, ``moonshot``→``moonshotai``. Any other label that is exactly a
genai-prices provider id is used as is; every other label has no bundled prices (config prices
still apply).

Model id matching (the bundled data)
------------------------------------
* genai-prices' own match rules decide (``Provider.find_model``): they cover dated snapshots
  (``claude-sonnet-4-20250514`` → ``claude-sonnet-4-0``, ``gpt-4o-2024-08-06`` → ``gpt-4o``),
  Vertex ids (``claude-sonnet-4@20250514``), compact dates (``gpt-5.2-20251211``) and the
  provider's own fallbacks (Google's Vertex Claude models → Anthropic). Matching is
  case-insensitive. No regexes of ours.
* A ``vendor/model`` id is retried without its prefix when genai-prices resolves ``vendor``
  to the same provider (``openai/gpt-4o`` under ``openai``). Ids such as Groq's
  ``openai/gpt-oss-120b`` are real model ids of that provider and match before any stripping.
* ``openrouter``: genai-prices' OpenRouter table first (``anthropic/claude-sonnet-4``). An id
  it does not know (e.g. the dated permaslug ``anthropic/claude-4-sonnet-20250522``) falls
  back to the vendor's own price (``anthropic`` → Anthropic's ``claude-sonnet-4-0``): OpenRouter
  charges the vendor's list price for inference. Not for variant ids with a ``:`` suffix
  (``:free``, ``:nitro``, ...), which OpenRouter prices differently from the vendor.
* ``anthropic``: ids Anthropic's table does not know are tried against genai-prices' AWS
  Bedrock table, which matches Bedrock ids (``anthropic.claude-…-v1:0``,
  ``us.anthropic.claude-…``) at Bedrock's prices (e.g. Claude Code run through Bedrock).
* Fine-tuned ids (``ft:…``): only genai-prices' own fine-tuned entries price them
  (``ft:gpt-4o-mini-2024-07-18:org::id`` → ``ft:gpt-4o-mini``, $0.30/$1.20). An ``ft:`` id
  that would resolve to a base model's entry is unpriced: OpenAI bills fine-tuned inference
  at other prices than the base model, so the base price would be a guess. Add a config price.

Prices per token type
---------------------
genai-prices gives USD per million tokens; we divide by 10⁶ exactly (``Decimal``).

* ``input`` = ``input_mtok`` (required: an entry without it, e.g. an audio model priced per
  hour, or an empty entry, is unpriced).
* ``output`` = ``output_mtok``; missing only for input-only models (embeddings), whose output
  is priced at the input price so the entry stays usable (they produce no output tokens).
* ``cache_read`` = ``cache_read_mtok``; missing → the input price: no discount is known, and
  providers without a cache discount bill cached tokens as input.
* ``cache_write_5m`` = ``cache_write_5m_mtok`` if present, else ``cache_write_mtok``; missing
  → the input price (OpenAI and others charge nothing extra for writing the cache).
* ``cache_write_1h`` = ``cache_write_1h_mtok``; missing → 2 × input for Anthropic (Claude)
  models (Anthropic's documented multiplier, also ccusage's rule), else the 5m write price.
* Per-request, per-search, audio, image and reasoning prices are not used: the estimate is
  for text tokens only. Price variants (batch, priority/flex/fast tiers) are not applied:
  usage buckets are estimated at standard prices.
* ``TieredPrices`` (long-context prices) become :class:`Tier` entries: ``Tier(start, …)``
  holds each type's price above ``start`` tokens. genai-prices (like Anthropic and Google)
  prices a whole request at the tier's rates once its *total input* passes the threshold;
  :meth:`ModelPrice.request_cost` keeps ccusage's marginal per-type rule instead, and bucket
  totals (:meth:`ModelPrice.bucket_cost`) are always priced at base rates.

Prices that change over time
----------------------------
* Dated prices (``StartDateConstraint``): the price in force on the day asked for
  (``lookup(..., at=)``, default today, UTC); the same "last active entry wins" rule as
  genai-prices.
* Time-of-day prices (``TimeOfDateConstraint``, DeepSeek's peak/off-peak hours): usage buckets
  cannot be split by hour, so the dearest of the prices that can apply that day is used. The
  estimate is then an upper bound for off-peak usage rather than an understatement.

``updated["genai-prices"]``
---------------------------
genai-prices ships no generation time for its data. The catalog reports the date of the newest
dated price change in the bundled data that is not in the future when the catalog loads: a
lower bound of the data's age, so a stale-catalog alert fires no later than it should.
"""

from __future__ import annotations

import functools
import os
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Final

if TYPE_CHECKING:
    from genai_prices import types as gp

    from exporter.config import PricingConfig

#: Token types a price exists for. ``cache_write_5m`` and ``cache_write_1h`` are priced apart.
PRICE_TOKEN_TYPES: Final[tuple[str, ...]] = (
    "input",
    "cache_read",
    "cache_write_5m",
    "cache_write_1h",
    "output",
)

#: Price source name of the bundled data.
GENAI_PRICES: Final = "genai-prices"

#: Our provider label → genai-prices provider id.
GENAI_PROVIDER_IDS: Final[Mapping[str, str]] = {
    "openai": "openai",
    "anthropic": "anthropic",
    "openrouter": "openrouter",
    "groq": "groq",
    "deepseek": "deepseek",
    "xai": "x-ai",
    "google": "google",
    "fireworks": "fireworks",
    "moonshot": "moonshotai",
}

#: genai-prices providers tried after a provider's own table (by genai-prices provider id).
_EXTRA_FALLBACKS: Final[Mapping[str, tuple[str, ...]]] = {"anthropic": ("aws",)}

_PER_MILLION: Final = Decimal(1_000_000)
#: Bounds the bundled lookup cache (one entry per provider, model and day asked for).
_CACHE_LIMIT: Final = 20_000


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
    """Prices by (provider, model id) with the update time of each price source.

    ``prices`` holds the explicit entries (config and live prices), matched by exact id;
    ``bundled`` answers every other lookup from genai-prices' data. ``Catalog()`` is empty.
    """

    prices: Mapping[tuple[str, str], ModelPrice] = field(default_factory=dict)
    #: Price source → unix time it was last updated.
    updated: Mapping[str, float] = field(default_factory=dict)
    bundled: BundledPrices | None = field(default=None, compare=False)

    def lookup(self, provider: str, model: str, *, at: datetime | None = None) -> ModelPrice | None:
        """The price of ``model`` under the ``provider`` label, or ``None`` when unknown.

        ``at`` picks dated bundled prices (default: now); explicit entries have no dates.
        """
        price = self.prices.get((provider, model))
        if price is not None or self.bundled is None:
            return price
        return self.bundled.lookup(provider, model, at)

    def overlay(self, prices: Iterable[ModelPrice], source: str, updated: float) -> Catalog:
        """A catalog where ``prices`` replace entries of the same (provider, model).

        Config prices are never replaced by another source: the operator's price wins.
        """
        merged = dict(self.prices)
        for price in prices:
            key = (price.provider, price.model)
            current = merged.get(key)
            if current is not None and current.source == "config" and source != "config":
                continue
            merged[key] = price
        return Catalog(merged, {**self.updated, source: updated}, self.bundled)


# --------------------------------------------------------------------------- bundled data

#: (base, ((start, price), ...)) in USD per million tokens for one token type.
_Schedule = tuple[Decimal, tuple[tuple[int, Decimal], ...]]


class BundledPrices:
    """genai-prices' bundled price data, resolved lazily and cached per (provider, model, day)."""

    def __init__(self, providers: Sequence[gp.Provider] | None = None) -> None:
        if providers is None:
            from genai_prices.data import providers as bundled

            providers = bundled
        self._providers = list(providers)
        self._by_id = {p.id: p for p in self._providers}
        anthropic = self._by_id.get("anthropic")
        self._claude = anthropic.model_match if anthropic is not None else None
        self._cache: dict[tuple[str, str, date], ModelPrice | None] = {}

    def __repr__(self) -> str:
        return f"BundledPrices({len(self._providers)} providers)"

    def is_claude(self, model: str) -> bool:
        """Whether genai-prices' Anthropic match rule takes ``model`` for a Claude model."""
        return self._claude is not None and self._claude.is_match(model.lower())

    def lookup(self, provider: str, model: str, at: datetime | None = None) -> ModelPrice | None:
        day = (at.astimezone(UTC) if at is not None else datetime.now(UTC)).date()
        key = (provider, model, day)
        try:
            return self._cache[key]
        except KeyError:
            pass
        if len(self._cache) >= _CACHE_LIMIT:
            self._cache.clear()
        info = self._find(provider, model)
        price = self._price(provider, info, day) if info is not None else None
        self._cache[key] = price
        return price

    def newest_price_change(self, today: date) -> date | None:
        """The newest dated price change on or before ``today`` (the data's age, see above)."""
        from genai_prices.types import StartDateConstraint

        newest: date | None = None
        for provider in self._providers:
            for info in provider.models:
                conditional = [] if not isinstance(info.prices, list) else info.prices
                constraints = [c.constraint for c in conditional]
                constraints += [v.constraint for v in info.price_variants or ()]
                for constraint in constraints:
                    if isinstance(constraint, StartDateConstraint):
                        start = constraint.start_date
                        if start <= today and (newest is None or start > newest):
                            newest = start
        return newest

    def _home(self, provider: str) -> gp.Provider | None:
        return self._by_id.get(GENAI_PROVIDER_IDS.get(provider, provider))

    def _find(self, provider: str, model: str) -> gp.ModelInfo | None:
        from genai_prices.data_snapshot import find_provider_by_id

        home = self._home(provider)
        ref = model.strip().lower()
        if home is None or not ref:  # an unmapped provider, or tokens without a model id
            return None
        info = home.find_model(ref, all_providers=self._providers)
        if info is None and "/" in ref:
            vendor_id, _, rest = ref.partition("/")
            vendor = find_provider_by_id(self._providers, vendor_id)
            resellable = home.id == "openrouter" and ":" not in rest
            if vendor is not None and rest and (vendor is home or resellable):
                info = vendor.find_model(rest, all_providers=self._providers)
        for extra_id in _EXTRA_FALLBACKS.get(home.id, ()):
            extra = self._by_id.get(extra_id)
            if info is None and extra is not None:
                info = extra.find_model(ref)
        if info is not None and "ft:" in ref and not info.id.lower().startswith("ft:"):
            return None  # a fine-tuned model is not priced like its base model
        return info

    def _price(self, provider: str, info: gp.ModelInfo, day: date) -> ModelPrice | None:
        prices = _prices_on(info, day)
        if prices is None:
            return None
        input_price = _schedule(prices, "input_mtok")
        if input_price is None:
            return None
        cache_write_5m = (
            _schedule(prices, "cache_write_5m_mtok")
            or _schedule(prices, "cache_write_mtok")
            or input_price
        )
        cache_write_1h = _schedule(prices, "cache_write_1h_mtok")
        if cache_write_1h is None:
            claude = self.is_claude(info.id)
            cache_write_1h = _scaled(input_price, 2) if claude else cache_write_5m
        schedules = {
            "input": input_price,
            "cache_read": _schedule(prices, "cache_read_mtok") or input_price,
            "cache_write_5m": cache_write_5m,
            "cache_write_1h": cache_write_1h,
            "output": _schedule(prices, "output_mtok") or input_price,
        }
        per_token = {t: schedules[t][0] / _PER_MILLION for t in PRICE_TOKEN_TYPES}
        starts = sorted({start for base, tiers in schedules.values() for start, _ in tiers})
        tiers = []
        for start in starts:
            above: dict[str, Decimal] = {}
            for token_type in PRICE_TOKEN_TYPES:
                reached = [p for s, p in schedules[token_type][1] if s <= start]
                if reached:
                    above[token_type] = reached[-1] / _PER_MILLION
            tiers.append(Tier(start, above))
        return ModelPrice(provider, info.id, GENAI_PRICES, per_token, tuple(tiers))


def _prices_on(info: gp.ModelInfo, day: date) -> gp.ModelPrice | None:
    """The standard prices of ``info`` on ``day``: dated entries as genai-prices resolves them
    (last active wins, else the first); time-of-day entries that could override that entry on
    that day compete with it, and the dearest is taken (buckets cannot be split by hour)."""
    from genai_prices.types import ModelPrice as GenaiModelPrice
    from genai_prices.types import StartDateConstraint, TimeOfDateConstraint

    if isinstance(info.prices, GenaiModelPrice):
        return info.prices
    entries = info.prices
    if not entries:
        return None
    moment = datetime(day.year, day.month, day.day, tzinfo=UTC)
    standard = 0
    for index in range(len(entries) - 1, -1, -1):
        constraint = entries[index].constraint
        if constraint is None or (
            isinstance(constraint, StartDateConstraint) and constraint.active(moment)
        ):
            standard = index
            break
    candidates = [entries[standard].prices] + [
        e.prices for e in entries[standard + 1 :] if isinstance(e.constraint, TimeOfDateConstraint)
    ]
    return max(candidates, key=_dearness)


def _dearness(prices: gp.ModelPrice) -> tuple[Decimal, Decimal]:
    def base(key: str) -> Decimal:
        schedule = _schedule(prices, key)
        return schedule[0] if schedule is not None else Decimal(-1)

    return base("input_mtok"), base("output_mtok")


def _schedule(prices: gp.ModelPrice, key: str) -> _Schedule | None:
    from genai_prices.types import TieredPrices

    value: object = prices.__dict__.get(key)
    if isinstance(value, Decimal):
        return value, ()
    if isinstance(value, TieredPrices):
        return value.base, tuple((tier.start, tier.price) for tier in value.tiers)
    return None


def _scaled(schedule: _Schedule, factor: int) -> _Schedule:
    base, tiers = schedule
    return base * factor, tuple((start, price * factor) for start, price in tiers)


@functools.cache
def bundled_prices() -> BundledPrices:
    """The process-wide bundled catalog (its lookup cache is shared by every catalog)."""
    return BundledPrices()


def _bundled_updated(bundled: BundledPrices, now: float) -> float:
    newest = bundled.newest_price_change(datetime.fromtimestamp(now, UTC).date())
    if newest is None:  # no dated price at all: the installed data file's time is all we have
        import genai_prices.data

        return os.path.getmtime(genai_prices.data.__file__)
    return datetime(newest.year, newest.month, newest.day, tzinfo=UTC).timestamp()


def load_catalog(pricing: PricingConfig) -> Catalog:
    """The catalog the exporter starts with: genai-prices' bundled data under the operator's
    prices from the config.

    A type a config price leaves out follows the bundled data's rules: cache reads and 5-minute
    writes at the input price, 1-hour writes at 2 × input for Claude models (``anthropic``
    label or an id genai-prices matches as Claude) and at the 5-minute write price otherwise.
    """
    now = time.time()
    bundled = bundled_prices()
    prices = []
    for entry in pricing.prices:
        given = entry.usd_per_million_tokens
        cache_write_5m = given.cache_write_5m if given.cache_write_5m is not None else given.input
        if given.cache_write_1h is not None:
            cache_write_1h = given.cache_write_1h
        elif entry.provider == "anthropic" or bundled.is_claude(entry.model):
            cache_write_1h = 2 * given.input
        else:
            cache_write_1h = cache_write_5m
        per_million = {
            "input": given.input,
            "cache_read": given.cache_read if given.cache_read is not None else given.input,
            "cache_write_5m": cache_write_5m,
            "cache_write_1h": cache_write_1h,
            "output": given.output,
        }
        per_token = {t: usd / _PER_MILLION for t, usd in per_million.items()}
        prices.append(ModelPrice(entry.provider, entry.model, "config", per_token))
    catalog = Catalog({}, {GENAI_PRICES: _bundled_updated(bundled, now)}, bundled)
    if prices:
        catalog = catalog.overlay(prices, "config", now)
    return catalog
