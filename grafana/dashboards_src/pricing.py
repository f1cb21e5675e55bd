"""LLM / Pricing catalog: list prices in use, recent changes, unpriced models, freshness."""

from __future__ import annotations

from grafana_foundation_sdk.builders import dashboard as dashboard_builders

from .panels import (
    POLL_INTERVAL,
    Filters,
    bargauge_panel,
    label_variable,
    new_dashboard,
    query,
    stat_panel,
    table_panel,
    thresholds,
    timeseries_panel,
)

UID = "llm-pricing"
TITLE = "LLM / Pricing catalog"

F = Filters(["provider", "model"])

#: No business windows: every rate() here uses $__rate_interval.
BUSINESS_WINDOWS: dict[str, str] = {}

_PRICE = "provider, model, token_type, tier"
#: USD per million tokens: per-token prices are unreadable (0.000003).
PRICE_PER_MILLION = f"max by ({_PRICE}) ({F('llm_model_price_usd_per_token')}) * 1e6"
PRICE_PER_MILLION_1D_AGO = (
    f"max by ({_PRICE}) ({F('llm_model_price_usd_per_token')} offset 1d) * 1e6"
)
CHANGED = F("provider_model_token_type_tier:llm_model_price_usd_per_token:change1d") + " != 0"
UNPRICED = F("llm_unpriced_tokens_total")


def _variables() -> list[dashboard_builders.QueryVariable]:
    return [
        label_variable(
            "provider",
            "Provider",
            "llm_model_price_usd_per_token",
            Filters([]),
            "Provider of the priced model (openai, anthropic, openrouter, ...).",
        ),
        label_variable(
            "model",
            "Model",
            "llm_model_price_usd_per_token",
            Filters(["provider"]),
            "Model id as the catalog matched it.",
        ),
    ]


def _catalog(board: dashboard_builders.Dashboard) -> dashboard_builders.Dashboard:
    return (
        board.with_row(dashboard_builders.Row("Catalog"))
        .with_panel(
            stat_panel(
                "Priced models in use",
                "Models in use that have a list price (llm_model_price_usd_per_token is "
                "exported for models in use, and for the whole OpenRouter catalog if enabled).",
                "none",
                [
                    query(
                        f"count(count by (provider, model) ({F('llm_model_price_usd_per_token')}))"
                        " or vector(0)",
                        instant=True,
                    )
                ],
                width=4,
                height=5,
            )
        )
        .with_panel(
            stat_panel(
                "Unpriced models this month",
                "Models used since the 1st that the catalog has no price for: their tokens "
                "are left out of estimated cost (LLMUnpricedTokens). Add a price in the "
                "config's pricing section.",
                "none",
                [
                    query(
                        f"count(sum by (provider, account, model) ({UNPRICED}) > 0) or vector(0)",
                        instant=True,
                    )
                ],
                width=4,
                height=5,
                steps=thresholds((None, "green"), (1, "orange")),
            )
        )
        .with_panel(
            stat_panel(
                "Unpriced tokens this month",
                "Tokens since the 1st of models without a price (llm_unpriced_tokens_total).",
                "short",
                [query(f"sum({UNPRICED}) or vector(0)", instant=True)],
                width=4,
                height=5,
                steps=thresholds((None, "green"), (1, "orange")),
            )
        )
        .with_panel(
            table_panel(
                "Catalog sources",
                "When each price source was last updated: the bundled genai-prices snapshot "
                "(its data date), the live OpenRouter models list (last successful fetch), "
                "config (the exporter's start). LLMPricingCatalogStale fires for a live "
                "source older than 3 days or a bundled snapshot older than 90 days.",
                "dateTimeAsIso",
                [
                    query(
                        "max by (source) (llm_catalog_last_update_timestamp_seconds) * 1000",
                        instant=True,
                        table_format=True,
                    ),
                    query(
                        "time() - max by (source) (llm_catalog_last_update_timestamp_seconds)",
                        instant=True,
                        table_format=True,
                    ),
                ],
                rename={"source": "Source", "Value #A": "Last update", "Value #B": "Age"},
                units_by_query={"B": "s"},
                width=12,
                height=5,
            )
        )
    )


def _prices(board: dashboard_builders.Dashboard) -> dashboard_builders.Dashboard:
    keys = f"on ({_PRICE})"
    return (
        board.with_row(dashboard_builders.Row("Prices in use"))
        .with_panel(
            table_panel(
                "Prices in use",
                "List price in USD per million tokens of every model in use, by token type "
                "(input, cache_read, cache_write_5m / 1h, output) and tier (base, or a "
                "long-context tier such as above_200k), now and a day ago.",
                "currencyUSD",
                [
                    query(PRICE_PER_MILLION, instant=True, table_format=True),
                    query(PRICE_PER_MILLION_1D_AGO, instant=True, table_format=True),
                ],
                rename={
                    "provider": "Provider",
                    "model": "Model",
                    "token_type": "Token type",
                    "tier": "Tier",
                    "Value #A": "Per million tokens",
                    "Value #B": "A day ago",
                },
                width=14,
                height=10,
            )
        )
        .with_panel(
            table_panel(
                "Price changes within a day",
                "Prices that differ from a day ago: relative change and the prices per million "
                "tokens now and then. LLMModelPriceChanged fires beyond ±30%.",
                "currencyUSD",
                [
                    query(CHANGED, instant=True, table_format=True),
                    query(
                        f"{PRICE_PER_MILLION} and {keys} ({CHANGED})",
                        instant=True,
                        table_format=True,
                    ),
                    query(
                        f"{PRICE_PER_MILLION_1D_AGO} and {keys} ({CHANGED})",
                        instant=True,
                        table_format=True,
                    ),
                ],
                rename={
                    "provider": "Provider",
                    "model": "Model",
                    "token_type": "Token type",
                    "tier": "Tier",
                    "Value #A": "Change",
                    "Value #B": "Now",
                    "Value #C": "A day ago",
                },
                units_by_query={"A": "percentunit"},
                width=10,
                height=10,
            )
        )
        .with_panel(
            timeseries_panel(
                "Price history",
                "List price per million tokens over time; a step is a price change in the "
                "catalog. Narrow it down with the provider and model variables.",
                "currencyUSD",
                [query(PRICE_PER_MILLION, "{{provider}} {{model}} {{token_type}} {{tier}}")],
                width=24,
            )
        )
    )


def _unpriced(board: dashboard_builders.Dashboard) -> dashboard_builders.Dashboard:
    return (
        board.with_row(dashboard_builders.Row("Unpriced models"))
        .with_panel(
            bargauge_panel(
                "Unpriced tokens by model",
                "Tokens since the 1st of each model without a price, per account "
                "(llm_unpriced_tokens_total): these are missing from estimated cost.",
                "short",
                [
                    query(
                        f"topk(20, sum by (provider, account, model) ({UNPRICED}))",
                        "{{provider}}/{{account}} {{model}}",
                        instant=True,
                    )
                ],
            )
        )
        .with_panel(
            timeseries_panel(
                "Unpriced tokens per hour",
                "Tokens per hour of models without a price, by model and token type.",
                "short",
                [
                    query(
                        "sum by (provider, model, token_type) "
                        f"(rate({UNPRICED}[$__rate_interval])) * 3600",
                        "{{provider}} {{model}} {{token_type}}",
                    )
                ],
                stacked=True,
                min_interval=POLL_INTERVAL,
            )
        )
    )


def build() -> dashboard_builders.Dashboard:
    board = new_dashboard(
        UID,
        TITLE,
        "The pricing catalog behind estimated cost: list prices of the models in use, price "
        "changes within a day, models without a price, and when each price source was last "
        "updated.",
        time_from="now-30d",
        variables=_variables(),
    )
    board = _catalog(board)
    board = _prices(board)
    return _unpriced(board)
