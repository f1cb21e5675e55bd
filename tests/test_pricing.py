"""The pricing catalog: genai-prices' bundled data behind our (provider, model) lookup, the
fallback rules for missing token prices, tiers, dated and time-of-day prices, config prices,
overlays, and estimated cost through the snapshot.

Expected prices come from two independent places: genai-prices' own ``calc_price`` over the
same bundled data, and small hand-built genai-prices providers whose numbers are written here.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

import genai_prices
import pytest
from genai_prices import types as gp

from exporter.config import Config, PriceConfig, PricingConfig
from exporter.pricing import (
    GENAI_PROVIDER_IDS,
    PRICE_TOKEN_TYPES,
    BundledPrices,
    Catalog,
    ModelPrice,
    Tier,
    bundled_prices,
    load_catalog,
)
from exporter.records import CostRecord
from exporter.snapshot import MonthToDateGuard, SourceState, build_snapshot
from tests.conftest import day, tokens

M = Decimal(1_000_000)
#: A fixed request time for everything dated (the bundled data has prices from 2026-11-09).
WHEN = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)


def per_million(price: ModelPrice) -> dict[str, Decimal]:
    return {t: price.per_token[t] * M for t in PRICE_TOKEN_TYPES}


def lookup(provider: str, model: str, at: datetime = WHEN) -> ModelPrice | None:
    return bundled_prices().lookup(provider, model, at)


def genai_cost(
    provider: str,
    model: str,
    *,
    input: int = 0,
    cache_read: int = 0,
    cache_write_5m: int = 0,
    cache_write_1h: int = 0,
    output: int = 0,
    at: datetime = WHEN,
) -> Decimal:
    """genai-prices' own price of one request (its input count includes cached tokens)."""
    usage = genai_prices.Usage(
        input_tokens=input + cache_read + cache_write_5m + cache_write_1h,
        cache_read_tokens=cache_read,
        cache_write_tokens=cache_write_5m + cache_write_1h,
        cache_write_1h_tokens=cache_write_1h,
        output_tokens=output,
    )
    result = genai_prices.calc_price(
        usage, model, provider_id=GENAI_PROVIDER_IDS[provider], genai_request_timestamp=at
    )
    return result.total_price


# --------------------------------------------------------------------------- model ids


@pytest.mark.parametrize(
    ("provider", "model", "catalog_id"),
    [
        ("openai", "gpt-4o", "gpt-4o"),
        ("openai", "gpt-4o-2024-08-06", "gpt-4o"),
        ("openai", "GPT-4o-2024-11-20", "gpt-4o"),
        ("anthropic", "claude-sonnet-4-20250514", "claude-sonnet-4-0"),
        ("anthropic", "claude-sonnet-4@20250514", "claude-sonnet-4-0"),
        ("anthropic", "claude-sonnet-4-5-20250929", "claude-sonnet-4-5"),
        ("xai", "grok-4", "grok-4-0709"),
        ("moonshot", "kimi-k2-0905-preview", "kimi-k2-0905-preview"),
        ("fireworks", "accounts/fireworks/models/llama-v3p1-8b-instruct", "llama-v3p1-8b-instruct"),
        ("google", "gemini-2.5-pro", "gemini-2.5-pro"),
        ("deepseek", "deepseek-chat", "deepseek-chat"),
        ("groq", "llama-3.3-70b-versatile", "llama-3.3-70b-versatile"),
    ],
)
def test_dated_and_plain_ids_resolve_with_genai_prices_rules(
    provider: str, model: str, catalog_id: str
) -> None:
    price = lookup(provider, model)
    assert price is not None
    assert (price.provider, price.model, price.source) == (provider, catalog_id, "genai-prices")


def test_dated_snapshot_has_the_undated_price() -> None:
    dated, plain = lookup("openai", "gpt-4o-2024-08-06"), lookup("openai", "gpt-4o")
    assert dated is not None and dated == plain
    assert per_million(dated)["input"] == Decimal("2.5")
    assert per_million(dated)["output"] == Decimal(10)


@pytest.mark.parametrize(
    ("provider", "model", "catalog_id"),
    [
        # The vendor prefix names the same provider: retried without it.
        ("openai", "openai/gpt-4o", "gpt-4o"),
        # A real Groq model id with a slash matches as it is.
        ("groq", "openai/gpt-oss-120b", "openai/gpt-oss-120b"),
        # OpenRouter's own table first ...
        ("openrouter", "anthropic/claude-sonnet-4", "anthropic/claude-sonnet-4"),
        ("openrouter", "openai/gpt-4o-2024-08-06", "openai/gpt-4o"),
        # ... then the vendor's price for ids it does not list (a dated permaslug).
        ("openrouter", "anthropic/claude-4-sonnet-20250522", "claude-sonnet-4-0"),
        # Bedrock inference-profile ids under the anthropic label: Bedrock's prices.
        (
            "anthropic",
            "us.anthropic.claude-sonnet-4-20250514-v1:0",
            "regional.anthropic.claude-sonnet-4-20250514-v1:0",
        ),
    ],
)
def test_prefixed_ids(provider: str, model: str, catalog_id: str) -> None:
    price = lookup(provider, model)
    assert price is not None
    assert (price.provider, price.model) == (provider, catalog_id)


@pytest.mark.parametrize(
    ("provider", "model"),
    [
        ("openai", "mystery-1"),
        ("openai", ""),
        ("fake", "gpt-4o"),  # a label with no genai-prices provider
        ("anthropic", "openai/gpt-4o"),  # another vendor's prefix is not stripped
        ("openrouter", "mystery/model-9"),
        # A free variant: genai-prices lists it without prices, and it must not fall back to
        # the paid vendor price either.
        ("openrouter", "deepseek/deepseek-r1:free"),
        ("openrouter", "deepseek/deepseek-chat-v3.1:free"),
        ("openai", "whisper-1"),  # priced per audio hour, not per token
        # Fine-tuned models: genai-prices matches only dated ft ids; never the base price.
        ("openai", "ft:gpt-4o-mini:org::id"),
        ("openai", "ft:gpt-4.1-2025-04-14:acme::x1"),
    ],
)
def test_models_without_a_price_are_none(provider: str, model: str) -> None:
    assert lookup(provider, model) is None


def test_fine_tuned_model_uses_genai_prices_fine_tune_entry() -> None:
    price = lookup("openai", "ft:gpt-4o-mini-2024-07-18:acme::abc123")
    assert price is not None and price.model == "ft:gpt-4o-mini"
    base = lookup("openai", "gpt-4o-mini")
    assert base is not None and base.per_token["input"] != price.per_token["input"]
    assert per_million(price) == {
        "input": Decimal("0.3"),
        "cache_read": Decimal("0.3"),  # no cached-input price in the data: input price
        "cache_write_5m": Decimal("0.3"),
        "cache_write_1h": Decimal("0.3"),
        "output": Decimal("1.2"),
    }


# --------------------------------------------------------------------------- exact prices


@pytest.mark.parametrize(
    ("provider", "model"),
    [
        ("anthropic", "claude-sonnet-4-20250514"),
        ("anthropic", "claude-opus-4-1-20250805"),
        ("openai", "gpt-4o-2024-08-06"),
        ("openai", "gpt-5"),
        ("openrouter", "openai/gpt-4o"),
        ("google", "gemini-2.5-pro"),
        ("xai", "grok-4"),
        ("moonshot", "kimi-k2-0905-preview"),
        ("groq", "llama-3.3-70b-versatile"),
    ],
)
def test_bucket_cost_equals_genai_prices_calc_price(provider: str, model: str) -> None:
    counts = {
        "input": 12_345,
        "cache_read": 67_891,
        "cache_write_5m": 2_345,
        "cache_write_1h": 1_234,
        "output": 4_321,
    }
    price = lookup(provider, model)
    assert price is not None
    ours = price.bucket_cost(**counts)
    assert ours == genai_cost(provider, model, **counts)
    assert ours > 0


def test_claude_without_a_1h_price_in_the_data_gets_twice_input() -> None:
    # genai-prices' OpenRouter entry has no 1-hour write price; it would bill those writes at
    # the 5-minute price. Anthropic's rule (and OpenRouter's live list) says 2 × input.
    price = lookup("openrouter", "anthropic/claude-sonnet-4")
    assert price is not None
    assert per_million(price)["cache_write_5m"] == Decimal("3.75")
    assert per_million(price)["cache_write_1h"] == Decimal(6)
    counts = {"input": 12_345, "cache_read": 67_891, "cache_write_5m": 2_345, "output": 4_321}
    assert price.bucket_cost(cache_write_1h=0, **counts) == genai_cost(
        "openrouter", "anthropic/claude-sonnet-4", **counts
    )


def test_claude_sonnet_4_prices_per_token_type() -> None:
    price = lookup("anthropic", "claude-sonnet-4-20250514")
    assert price is not None
    assert per_million(price) == {
        "input": Decimal(3),
        "cache_read": Decimal("0.3"),
        "cache_write_5m": Decimal("3.75"),
        "cache_write_1h": Decimal(6),
        "output": Decimal(15),
    }
    assert price.tiers == ()
    # Exact Decimal arithmetic, no float rounding: 1 token of each type.
    assert price.bucket_cost(1, 1, 1, 1, 1) == Decimal("0.00002805")


# --------------------------------------------------------------------------- tiers


def test_long_context_tier_of_claude_sonnet_4_5() -> None:
    price = lookup("anthropic", "claude-sonnet-4-5")
    assert price is not None
    assert len(price.tiers) == 1
    tier = price.tiers[0]
    assert tier.above_tokens == 200_000
    assert {t: v * M for t, v in tier.per_token.items()} == {
        "input": Decimal(6),
        "cache_read": Decimal("0.6"),
        "cache_write_5m": Decimal("7.5"),
        "cache_write_1h": Decimal(12),
        "output": Decimal("22.5"),
    }


def test_request_cost_is_marginal_bucket_cost_is_base_and_genai_is_whole_request() -> None:
    price = lookup("anthropic", "claude-sonnet-4-5")
    assert price is not None
    # Below the threshold all three agree.
    small = {"input": 150_000, "output": 2_000}
    assert price.request_cost(small["input"], 0, 0, 0, small["output"]) == Decimal("0.48")
    assert price.bucket_cost(small["input"], 0, 0, 0, small["output"]) == Decimal("0.48")
    assert genai_cost("anthropic", "claude-sonnet-4-5", **small) == Decimal("0.48")
    # 300k input: ccusage's rule prices the 100k above the threshold at $6/M ...
    assert price.request_cost(300_000, 0, 0, 0, 1_000) == Decimal("0.6") + Decimal("0.6") + Decimal(
        "0.015"
    )
    # ... bucket totals stay at base prices ...
    assert price.bucket_cost(300_000, 0, 0, 0, 1_000) == Decimal("0.915")
    # ... while genai-prices (like Anthropic's bill) prices the whole request at the tier.
    assert genai_cost("anthropic", "claude-sonnet-4-5", input=300_000, output=1_000) == Decimal(
        "1.8225"
    )


def test_dated_prices_follow_the_day_asked_for() -> None:
    # Sonnet 4.6 had a long-context tier until Anthropic dropped it on 2026-03-13.
    before = lookup("anthropic", "claude-sonnet-4-6", datetime(2026, 3, 12, 23, 0, tzinfo=UTC))
    after = lookup("anthropic", "claude-sonnet-4-6", datetime(2026, 3, 13, 0, 30, tzinfo=UTC))
    assert before is not None and after is not None
    assert [t.above_tokens for t in before.tiers] == [200_000]
    assert after.tiers == ()
    assert before.per_token == after.per_token


def test_time_of_day_prices_use_the_dearest() -> None:
    price = lookup("deepseek", "deepseek-chat")
    assert price is not None
    peak = genai_cost("deepseek", "deepseek-chat", input=1_000_000, at=WHEN)
    off_peak = genai_cost(
        "deepseek", "deepseek-chat", input=1_000_000, at=datetime(2026, 11, 23, 20, tzinfo=UTC)
    )
    assert off_peak < peak
    assert price.bucket_cost(1_000_000, 0, 0, 0, 0) == peak == Decimal("0.27")


def test_lookups_are_cached_per_provider_model_and_day(monkeypatch: pytest.MonkeyPatch) -> None:
    bundled = BundledPrices()
    calls: list[tuple[str, str]] = []
    find = bundled._find

    def counting(provider: str, model: str) -> gp.ModelInfo | None:
        calls.append((provider, model))
        return find(provider, model)

    monkeypatch.setattr(bundled, "_find", counting)
    first = bundled.lookup("openai", "gpt-4o", WHEN)
    assert bundled.lookup("openai", "gpt-4o", WHEN.replace(hour=23)) is first
    assert bundled.lookup("openai", "mystery-1", WHEN) is None
    assert bundled.lookup("openai", "mystery-1", WHEN) is None
    assert calls == [("openai", "gpt-4o"), ("openai", "mystery-1")]
    bundled.lookup("openai", "gpt-4o", datetime(2026, 11, 24, tzinfo=UTC))
    assert len(calls) == 3


# --------------------------------------------------------------------------- fallback rules


def _provider(pid: str, *models: gp.ModelInfo, claude_rule: bool = False) -> gp.Provider:
    return gp.Provider(
        id=pid,
        name=pid,
        api_pattern="https://example.invalid",
        model_match=gp.ClauseContains(contains="claude") if claude_rule else None,
        models=list(models),
    )


def _model(model_id: str, prices: gp.ModelPrice | list[gp.ConditionalPrice]) -> gp.ModelInfo:
    return gp.ModelInfo(id=model_id, match=gp.ClauseEquals(equals=model_id), prices=prices)


def _d(value: str) -> Decimal:
    return Decimal(value)


HAND_BUILT = BundledPrices(
    [
        _provider(
            "anthropic",
            _model(
                "claude-test",
                gp.ModelPrice(
                    input_mtok=gp.TieredPrices(_d("2"), [gp.Tier(100_000, _d("4"))]),
                    cache_write_mtok=_d("2.5"),
                    output_mtok=_d("10"),
                ),
            ),
            claude_rule=True,
        ),
        _provider(
            "openai",
            _model(
                "cached-writes",
                gp.ModelPrice(input_mtok=_d("1"), cache_write_mtok=_d("1.5"), output_mtok=_d("4")),
            ),
            _model(
                "explicit-writes",
                gp.ModelPrice(
                    input_mtok=_d("1"),
                    cache_read_mtok=_d("0.1"),
                    cache_write_5m_mtok=_d("1.2"),
                    cache_write_mtok=_d("1.9"),
                    cache_write_1h_mtok=_d("3"),
                    output_mtok=_d("4"),
                ),
            ),
            _model("embedding", gp.ModelPrice(input_mtok=_d("0.02"))),
            gp.ModelInfo(
                id="gpt-z",
                match=gp.ClauseContains(contains="gpt-z"),
                prices=gp.ModelPrice(input_mtok=_d("1"), output_mtok=_d("2")),
            ),
            _model("empty", gp.ModelPrice()),
            _model(
                "repriced",
                [
                    gp.ConditionalPrice(
                        prices=gp.ModelPrice(input_mtok=_d("1"), output_mtok=_d("2"))
                    ),
                    gp.ConditionalPrice(
                        constraint=gp.StartDateConstraint(date(2026, 6, 1)),
                        prices=gp.ModelPrice(input_mtok=_d("3"), output_mtok=_d("6")),
                    ),
                    gp.ConditionalPrice(
                        constraint=gp.StartDateConstraint(date(2027, 1, 1)),
                        prices=gp.ModelPrice(input_mtok=_d("5"), output_mtok=_d("9")),
                    ),
                ],
            ),
        ),
    ]
)


def hand_built(model: str, provider: str = "openai") -> dict[str, Decimal]:
    price = HAND_BUILT.lookup(provider, model, WHEN)
    assert price is not None
    return per_million(price)


def test_cache_write_1h_is_twice_input_for_claude_models_without_one() -> None:
    price = HAND_BUILT.lookup("anthropic", "claude-test", WHEN)
    assert price is not None
    assert per_million(price) == {
        "input": Decimal(2),
        "cache_read": Decimal(2),  # no cache-read price: input
        "cache_write_5m": Decimal("2.5"),
        "cache_write_1h": Decimal(4),  # 2 × input, not the 5m write price
        "output": Decimal(10),
    }
    # The doubled input applies to the input's tiers too; types without tiers stay at base.
    assert price.tiers == (
        Tier(
            100_000,
            {"input": _d("4") / M, "cache_read": _d("4") / M, "cache_write_1h": _d("8") / M},
        ),
    )


def test_cache_write_1h_is_the_write_price_for_other_models() -> None:
    assert hand_built("cached-writes")["cache_write_5m"] == Decimal("1.5")
    assert hand_built("cached-writes")["cache_write_1h"] == Decimal("1.5")
    assert hand_built("cached-writes")["cache_read"] == Decimal(1)


def test_explicit_ttl_prices_win_over_the_generic_write_price() -> None:
    assert hand_built("explicit-writes") == {
        "input": Decimal(1),
        "cache_read": Decimal("0.1"),
        "cache_write_5m": Decimal("1.2"),
        "cache_write_1h": Decimal(3),
        "output": Decimal(4),
    }


def test_input_only_models_and_empty_entries() -> None:
    assert hand_built("embedding")["output"] == Decimal("0.02")
    assert HAND_BUILT.lookup("openai", "empty", WHEN) is None


def test_fine_tuned_ids_never_take_a_base_model_price() -> None:
    assert hand_built("gpt-z")["input"] == Decimal(1)
    assert HAND_BUILT.lookup("openai", "ft:gpt-z:acme::abc", WHEN) is None


def test_start_dated_prices_and_the_data_age() -> None:
    assert hand_built("repriced")["input"] == Decimal(3)
    early = HAND_BUILT.lookup("openai", "repriced", datetime(2026, 5, 31, tzinfo=UTC))
    assert early is not None and early.per_token["input"] == 1 / M
    # The 2027 price is announced but not in force: it does not make the data look newer.
    assert HAND_BUILT.newest_price_change(date(2026, 11, 23)) == date(2026, 6, 1)
    assert HAND_BUILT.newest_price_change(date(2026, 5, 1)) is None


# --------------------------------------------------------------------------- the catalog


def test_empty_catalog() -> None:
    catalog = Catalog()
    assert catalog.lookup("openai", "gpt-4o") is None
    assert catalog.prices == {} and catalog.updated == {}


def test_load_catalog_is_bundled_data_with_its_snapshot_date() -> None:
    catalog = load_catalog(PricingConfig())
    price = catalog.lookup("anthropic", "claude-sonnet-4-20250514")
    assert price is not None and price.source == "genai-prices"
    today = datetime.now(UTC).date()
    newest = bundled_prices().newest_price_change(today)
    assert newest is not None
    midnight = datetime(newest.year, newest.month, newest.day, tzinfo=UTC).timestamp()
    assert catalog.updated == {"genai-prices": midnight}
    assert catalog.prices == {}


def config_price(provider: str, model: str, **usd: str) -> PriceConfig:
    return PriceConfig.model_validate(
        {"provider": provider, "model": model, "usd_per_million_tokens": usd}
    )


def test_config_prices_win_over_everything() -> None:
    pricing = PricingConfig(
        prices=(
            config_price("anthropic", "claude-sonnet-4-20250514", input="1", output="2"),
            config_price("openai", "ft:gpt-4o-mini:org::id", input="0.3", output="1.2"),
            config_price("openrouter", "anthropic/claude-sonnet-4", input="7", output="8"),
        )
    )
    catalog = load_catalog(pricing)
    assert set(catalog.updated) == {"genai-prices", "config"}
    sonnet = catalog.lookup("anthropic", "claude-sonnet-4-20250514")
    assert sonnet is not None and sonnet.source == "config"
    assert per_million(sonnet) == {
        "input": Decimal(1),
        "cache_read": Decimal(1),
        "cache_write_5m": Decimal(1),
        "cache_write_1h": Decimal(2),  # Claude: 2 × input
        "output": Decimal(2),
    }
    fine_tuned = catalog.lookup("openai", "ft:gpt-4o-mini:org::id")
    assert fine_tuned is not None and per_million(fine_tuned)["cache_write_1h"] == Decimal("0.3")
    # Other models still come from the bundled data.
    bundled = catalog.lookup("anthropic", "claude-sonnet-4-5")
    assert bundled is not None and bundled.source == "genai-prices"
    # A live OpenRouter price for the same model does not replace the operator's.
    live = ModelPrice("openrouter", "anthropic/claude-sonnet-4", "openrouter", sonnet.per_token)
    overlaid = catalog.overlay([live], "openrouter", 1.8e9)
    kept = overlaid.lookup("openrouter", "anthropic/claude-sonnet-4")
    assert kept is not None and kept.source == "config" and kept.per_token["input"] == 7 / M
    assert overlaid.updated["openrouter"] == 1.8e9


def test_overlay_replaces_adds_and_keeps() -> None:
    per = {t: Decimal(1) / M for t in PRICE_TOKEN_TYPES}
    base = Catalog(
        {("openrouter", "a/x"): ModelPrice("openrouter", "a/x", "openrouter", per)},
        {"genai-prices": 1.0},
        bundled_prices(),
    )
    dearer = {t: Decimal(2) / M for t in PRICE_TOKEN_TYPES}
    new = base.overlay(
        [
            ModelPrice("openrouter", "a/x", "openrouter", dearer),
            ModelPrice("openrouter", "b/y", "openrouter", per),
        ],
        "openrouter",
        5.0,
    )
    assert new.lookup("openrouter", "a/x") == ModelPrice("openrouter", "a/x", "openrouter", dearer)
    assert new.lookup("openrouter", "b/y") is not None
    assert new.updated == {"genai-prices": 1.0, "openrouter": 5.0}
    # The original is unchanged and the bundled data still answers the rest.
    assert base.lookup("openrouter", "a/x") == ModelPrice("openrouter", "a/x", "openrouter", per)
    assert base.lookup("openrouter", "b/y") is None
    gpt = new.lookup("openai", "gpt-4o")
    assert gpt is not None and gpt.source == "genai-prices"


# --------------------------------------------------------------------------- snapshot

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC).timestamp()


def _state(records: tuple[object, ...], source: str) -> SourceState:
    state = SourceState("anthropic", "prod", source, stale_after=900)
    state.records = records  # type: ignore[assignment]
    state.up = True
    state.last_success = NOW
    return state


def test_snapshot_estimates_with_the_bundled_catalog() -> None:
    usage = _state(
        (
            tokens(
                1,
                model="claude-sonnet-4-20250514",
                input=1_000_000,
                cache_read=2_000_000,
                cache_write_5m=400_000,
                cache_write_1h=100_000,
                output=50_000,
            ),
            tokens(2, model="claude-sonnet-4-20250514", input=500_000),
            tokens(2, model="mystery-1", input=700, cache_read=5, output=30),
        ),
        "usage",
    )
    costs = _state((CostRecord(day(1), "proj_a", "", "claude-sonnet-4", Decimal("4")),), "costs")
    catalog = load_catalog(PricingConfig())
    snap = build_snapshot(Config(), [usage, costs], MonthToDateGuard(), NOW, catalog)

    estimated = snap.family("llm_estimated_cost_usd_total")
    assert estimated is not None
    assert [(s.labels["model"], s.value) for s in estimated.samples] == [
        # 1.5M × $3 + 2M × $0.30 + 0.4M × $3.75 + 0.1M × $6 + 0.05M × $15
        ("claude-sonnet-4-20250514", pytest.approx(4.5 + 0.6 + 1.5 + 0.6 + 0.75))
    ]
    unpriced = snap.family("llm_unpriced_tokens_total")
    assert unpriced is not None
    assert {(s.labels["model"], s.labels["token_type"]): s.value for s in unpriced.samples} == {
        ("mystery-1", "input"): 700,
        ("mystery-1", "cache_read"): 5,
        ("mystery-1", "output"): 30,
    }
    assert snap.unpriced_models == (("anthropic", "mystery-1"),)
    prices = snap.family("llm_model_price_usd_per_token")
    assert prices is not None
    assert {
        (s.labels["model"], s.labels["token_type"], s.labels["tier"]): s.value
        for s in prices.samples
        if s.labels["token_type"] == "cache_write_1h"
    } == {("claude-sonnet-4-20250514", "cache_write_1h", "base"): pytest.approx(6e-6)}
    updated = snap.family("llm_catalog_last_update_timestamp_seconds")
    assert updated is not None
    assert [s.labels["source"] for s in updated.samples] == ["genai-prices"]

    # Billed and estimated cost stay two metrics: no exposed sample adds one to the other.
    samples = [
        line.rsplit(" ", 1) for line in snap.render().decode().splitlines() if line[:1] != "#"
    ]
    assert [float(v) for n, v in samples if n.startswith("llm_cost_usd_total{")] == [4.0]
    assert [float(v) for n, v in samples if n.startswith("llm_estimated_cost_usd_total{")] == [
        pytest.approx(7.95)
    ]
    assert not [n for n, v in samples if float(v) == pytest.approx(4.0 + 7.95)]
