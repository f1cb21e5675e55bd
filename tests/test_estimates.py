"""Estimated cost, unpriced tokens, gauges from sources, subscriptions and budget scopes in the
snapshot; billed and estimated cost never share a series or a budget sum for one account."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from exporter.config import AccountConfig, BudgetConfig, Config, SubscriptionConfig
from exporter.landing import render_landing
from exporter.pricing import Catalog, ModelPrice, Tier
from exporter.records import (
    EstimatedCostRecord,
    PriceRecord,
    UnpricedTokenRecord,
    gauge,
)
from exporter.snapshot import MonthToDateGuard, SourceState, build_snapshot
from tests.conftest import FakeSources, cost, day, tokens

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC).timestamp()
M = Decimal(1_000_000)


def price(model: str, inp: str, out: str, source: str = "genai-prices") -> ModelPrice:
    per = {
        "input": Decimal(inp) / M,
        "cache_read": Decimal(inp) / M / 10,
        "cache_write_5m": Decimal(inp) / M * Decimal("1.25"),
        "cache_write_1h": Decimal(inp) / M * 2,
        "output": Decimal(out) / M,
    }
    return ModelPrice("fake", model, source, per)


CATALOG = Catalog({("fake", "gpt-4o"): price("gpt-4o", "2.5", "10")}, {"genai-prices": 1.7e9})


def state(source: str, records: tuple[object, ...], account: str = "prod") -> SourceState:
    s = SourceState("fake", account, source, stale_after=900)
    s.records = records  # type: ignore[assignment]
    s.up = True
    s.last_success = NOW
    return s


def config(*budgets: BudgetConfig, sources: tuple[str, ...] | None = None) -> Config:
    return Config(
        accounts=(AccountConfig(provider="fake", name="prod", sources=sources),),
        budgets=budgets,
    )


def value(snap: object, name: str, **labels: str) -> float:
    family = snap.family(name)  # type: ignore[attr-defined]
    assert family is not None, name
    hits = [s.value for s in family.samples if labels.items() <= s.labels.items()]
    assert len(hits) == 1, (name, labels, family.samples)
    return float(hits[0])


def test_tokens_are_estimated_with_the_catalog(fake_provider: FakeSources) -> None:
    records = (
        tokens(1, input=1_000_000, cache_read=1_000_000, cache_write_5m=400_000, output=100_000),
        tokens(2, input=1_000_000, cache_write_1h=1_000_000),
    )
    snap = build_snapshot(config(), [state("usage", records)], MonthToDateGuard(), NOW, CATALOG)
    # 2 × 2.50 input + 0.25 cache read + 0.4 × 3.125 5m writes + 5.00 1h writes + 0.1 × 10 output
    expected = 5.0 + 0.25 + 1.25 + 5.0 + 1.0
    assert value(snap, "llm_estimated_cost_usd_total", model="gpt-4o") == pytest.approx(expected)
    assert snap.family("llm_unpriced_tokens_total") is None
    assert value(
        snap, "llm_model_price_usd_per_token", model="gpt-4o", token_type="output", tier="base"
    ) == pytest.approx(10e-6)
    assert value(snap, "llm_catalog_last_update_timestamp_seconds", source="genai-prices") == 1.7e9


def test_unknown_model_is_counted_apart_never_zero_cost(fake_provider: FakeSources) -> None:
    records = (tokens(1, model="mystery-1", input=700, output=30), tokens(1, input=1_000_000))
    snap = build_snapshot(config(), [state("usage", records)], MonthToDateGuard(), NOW, CATALOG)
    assert value(snap, "llm_unpriced_tokens_total", model="mystery-1", token_type="input") == 700
    assert value(snap, "llm_unpriced_tokens_total", model="mystery-1", token_type="output") == 30
    estimated = snap.family("llm_estimated_cost_usd_total")
    assert estimated is not None
    assert {s.labels["model"] for s in estimated.samples} == {"gpt-4o"}
    assert snap.unpriced_models == (("fake", "mystery-1"),)
    page = render_landing(config(), snap)
    assert "fake/mystery-1" in page and "pricing.prices" in page


def test_source_priced_tokens_are_not_estimated_twice(fake_provider: FakeSources) -> None:
    own = tokens(1, input=1_000_000)
    own = type(own)(**{**{f: getattr(own, f) for f in own.__slots__}, "priced_by_source": True})
    records = (
        own,
        EstimatedCostRecord(day(1), "proj_a", "key_1", "gpt-4o", Decimal("1.23")),
        UnpricedTokenRecord(day(1), "odd", "output", 5),
    )
    snap = build_snapshot(config(), [state("usage", records)], MonthToDateGuard(), NOW, CATALOG)
    assert value(snap, "llm_estimated_cost_usd_total", model="gpt-4o") == pytest.approx(1.23)
    assert value(snap, "llm_unpriced_tokens_total", model="odd") == 5


def test_live_prices_overlay_the_catalog_while_fresh(fake_provider: FakeSources) -> None:
    live = PriceRecord(price("gpt-4o", "5", "20", source="openrouter"))
    usage = state("usage", (tokens(1, input=1_000_000),))
    models = state("costs", (live,))
    snap = build_snapshot(config(), [usage, models], MonthToDateGuard(), NOW, CATALOG)
    assert value(snap, "llm_estimated_cost_usd_total") == pytest.approx(5.0)
    assert value(snap, "llm_catalog_last_update_timestamp_seconds", source="fake") == NOW
    models.last_success = NOW - 10_000  # stale: the bundled price is back
    snap = build_snapshot(config(), [usage, models], MonthToDateGuard(), NOW, CATALOG)
    assert value(snap, "llm_model_price_usd_per_token", token_type="input") == pytest.approx(2.5e-6)
    # ...and the live source's age stays visible for the staleness alert.
    stale_at = NOW - 10_000
    assert value(snap, "llm_catalog_last_update_timestamp_seconds", source="fake") == stale_at


def test_tier_prices_are_exported_and_request_cost_is_marginal() -> None:
    base = price("gpt-4o", "3", "15")
    tiered = ModelPrice(
        "fake",
        "gpt-4o",
        "genai-prices",
        base.per_token,
        (Tier(200_000, {**base.per_token, "input": Decimal(6) / M}),),
    )
    assert tiered.request_cost(300_000, 0, 0, 0, 0) == Decimal("0.6") + Decimal("0.6")
    assert tiered.request_cost(100_000, 0, 0, 0, 0) == Decimal("0.3")
    assert tiered.bucket_cost(300_000, 0, 0, 0, 0) == Decimal("0.9")


def test_gauge_records_become_samples_with_their_labels(fake_provider: FakeSources) -> None:
    records = (
        gauge("llm_credit_balance_usd", Decimal("12.5"), balance_type="prepaid"),
        gauge("llm_quota_utilization_ratio", Decimal("0.38"), window="7d"),
    )
    snap = build_snapshot(config(), [state("usage", records)], MonthToDateGuard(), NOW)
    assert value(snap, "llm_credit_balance_usd", balance_type="prepaid", account="prod") == 12.5
    assert value(snap, "llm_quota_utilization_ratio", window="7d") == 0.38
    bad = (gauge("llm_credit_balance_usd", 1, currency="USD"),)
    with pytest.raises(ValueError, match="do not match contract"):
        build_snapshot(config(), [state("usage", bad)], MonthToDateGuard(), NOW)


def test_subscription_fees_from_config(fake_provider: FakeSources) -> None:
    cfg = Config(
        subscriptions=(
            SubscriptionConfig(name="cursor-team", provider="cursor", monthly_usd=40, seats=3),
            SubscriptionConfig(name="claude-max", provider="anthropic", monthly_usd=200),
        )
    )
    snap = build_snapshot(cfg, [], MonthToDateGuard(), NOW)
    assert value(snap, "llm_subscription_cost_usd", subscription="cursor-team") == 120
    assert value(snap, "llm_subscription_cost_usd", subscription="claude-max") == 200


@pytest.mark.parametrize(
    ("include", "sources", "expected"),
    [
        ("billed", None, 4.0),
        ("estimated", None, 2.5),
        # The account polls a billed source: billed only, never billed + estimated.
        ("billed_or_estimated", None, 4.0),
        # Without its billed source the same budget falls back to the estimate.
        ("billed_or_estimated", ("usage",), 2.5),
    ],
)
def test_budget_include(
    fake_provider: FakeSources, include: str, sources: tuple[str, ...] | None, expected: float
) -> None:
    budget = BudgetConfig.model_validate({"name": "b", "limit_usd": 10, "include": include})
    records = [state("costs", (cost(1, "4"),)), state("usage", (tokens(1, input=1_000_000),))]
    if sources == ("usage",):
        records = records[1:]
    snap = build_snapshot(
        config(budget, sources=sources), records, MonthToDateGuard(), NOW, CATALOG
    )
    assert value(snap, "llm_budget_spend_usd", budget="b") == pytest.approx(expected)


def test_estimated_and_billed_are_distinct_series(fake_provider: FakeSources) -> None:
    records = [
        state("costs", (cost(1, "4", model="gpt-4o"),)),
        state("usage", (tokens(1, input=10),)),
    ]
    snap = build_snapshot(config(), records, MonthToDateGuard(), NOW, CATALOG)
    text = snap.render().decode()
    billed = [line for line in text.splitlines() if line.startswith("llm_cost_usd_total{")]
    estimated = [
        line for line in text.splitlines() if line.startswith("llm_estimated_cost_usd_total{")
    ]
    assert len(billed) == 1 and len(estimated) == 1
    assert "line_item" in billed[0] and "line_item" not in estimated[0]
