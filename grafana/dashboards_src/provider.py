"""LLM / Provider: drill-down into one provider account's spend and usage."""

from __future__ import annotations

from grafana_foundation_sdk.builders import dashboard as dashboard_builders

from .panels import (
    POLL_INTERVAL,
    UNIT_CNY,
    Filters,
    bargauge_panel,
    label_variable,
    limit_thresholds,
    new_dashboard,
    provider_account_variables,
    query,
    stat_panel,
    table_panel,
    timeseries_panel,
    with_api_key_name,
    with_project_name,
)

UID = "llm-provider"
TITLE = "LLM / Provider"

F = Filters(["provider", "account", "project", "model", "api_key"])

#: No business windows: every rate() here uses $__rate_interval.
BUSINESS_WINDOWS: dict[str, str] = {}

_RATE_NOTE = (
    " Providers are polled every 5 minutes, so the minimum interval is 5m; values move in "
    "steps when the provider reports new buckets."
)


def _variables() -> list[dashboard_builders.QueryVariable]:
    return [
        *provider_account_variables(),
        label_variable(
            "project",
            "Project",
            "llm_cost_usd_total",
            Filters(["provider", "account"]),
            "OpenAI project id or Anthropic workspace id ('default' for the default workspace).",
        ),
        label_variable(
            "model",
            "Model",
            "llm_cost_usd_total",
            Filters(["provider", "account", "project"]),
            "Model as the provider names it.",
        ),
        label_variable(
            "api_key",
            "API key",
            "llm_tokens_total",
            Filters(["provider", "account", "project", "model"]),
            "API key id (never key material). Filters usage panels only: cost has no "
            "api_key label.",
        ),
    ]


def _spend(board: dashboard_builders.Dashboard) -> dashboard_builders.Dashboard:
    cost = F("llm_cost_usd_total")
    return (
        board.with_row(dashboard_builders.Row("Spend"))
        .with_panel(
            stat_panel(
                "Month-to-date spend",
                "Billed spend since 00:00 UTC on the 1st for the selection (cost is not "
                "broken down by API key).",
                "currencyUSD",
                [query(f"sum({cost})", instant=True)],
                width=6,
                height=8,
                decimals=2,
            )
        )
        .with_panel(
            bargauge_panel(
                "Month-to-date spend by line item",
                "The 15 largest cost line items (model × input/output, tools, storage, ...) "
                "since the 1st.",
                "currencyUSD",
                [
                    query(
                        f"topk(15, sum by (line_item) ({cost}))",
                        "{{line_item}}",
                        instant=True,
                    )
                ],
                width=9,
            )
        )
        .with_panel(
            bargauge_panel(
                "Month-to-date spend by model",
                "Billed spend per model since the 1st (line items without a model appear "
                "under an empty name).",
                "currencyUSD",
                [query(f"topk(15, sum by (model) ({cost}))", "{{model}}", instant=True)],
                width=9,
            )
        )
        .with_panel(
            timeseries_panel(
                "Spend per hour by line item",
                "Billed spend rate per line item, in USD per hour." + _RATE_NOTE,
                "currencyUSD",
                [
                    query(
                        f"sum by (line_item) (rate({cost}[$__rate_interval])) * 3600",
                        "{{line_item}}",
                    )
                ],
                width=24,
                stacked=True,
                min_interval=POLL_INTERVAL,
            )
        )
    )


def _billed_vs_estimated(board: dashboard_builders.Dashboard) -> dashboard_builders.Dashboard:
    cost = F("llm_cost_usd_total")
    estimated = F("llm_estimated_cost_usd_total")
    return (
        board.with_row(dashboard_builders.Row("Billed vs estimated"))
        .with_panel(
            stat_panel(
                "Estimated month-to-date spend",
                "Tokens since the 1st × the pricing catalog's list price "
                "(llm_estimated_cost_usd_total). An estimate: never added to the bill. Tokens "
                "of models without a price are left out (see LLM / Pricing catalog).",
                "currencyUSD",
                [query(f"sum({estimated})", instant=True)],
                width=6,
                height=8,
                decimals=2,
            )
        )
        .with_panel(
            stat_panel(
                "Estimate as a share of the bill",
                "Estimated ÷ billed month-to-date spend for the selection. Below 100%: the "
                "bill has items tokens do not explain (tools, storage, fine-tuning) or prices "
                "are missing; above: list prices above what is billed (discounts, batch). "
                "LLMCostReconciliationDrift fires beyond ±20% and $10 per account. Selecting "
                "an API key narrows the estimate only.",
                "percentunit",
                [query(f"sum({estimated}) / (sum({cost}) > 0)", instant=True)],
                width=6,
                height=8,
            )
        )
        .with_panel(
            timeseries_panel(
                "Billed vs estimated month-to-date spend",
                "Billed (llm_cost_usd_total) and estimated (llm_estimated_cost_usd_total) "
                "spend since the 1st for the selection, side by side; both reset at the "
                "month rollover.",
                "currencyUSD",
                [
                    query(f"sum({cost})", "billed"),
                    query(f"sum({estimated})", "estimated"),
                ],
                width=12,
            )
        )
        .with_panel(
            bargauge_panel(
                "Estimated spend by API key",
                "Month-to-date estimated spend of the 15 API keys whose tokens cost the most, "
                "named via llm_api_key_info (cost endpoints do not break spend down by key).",
                "currencyUSD",
                [
                    query(
                        "topk(15, "
                        + with_api_key_name(
                            f"sum by (provider, account, api_key) ({estimated})",
                            F("llm_api_key_info"),
                        )
                        + ")",
                        "{{api_key_name}} ({{api_key}})",
                        instant=True,
                    )
                ],
            )
        )
        .with_panel(
            bargauge_panel(
                "Estimated spend by model",
                "Month-to-date estimated spend of the 15 models whose tokens cost the most at "
                "list prices.",
                "currencyUSD",
                [query(f"topk(15, sum by (model) ({estimated}))", "{{model}}", instant=True)],
            )
        )
    )


def _limits(board: dashboard_builders.Dashboard) -> dashboard_builders.Dashboard:
    def by_key(expr: str) -> str:
        return with_api_key_name(
            f"max by (provider, account, api_key) ({expr})", F("llm_api_key_info")
        )

    return (
        board.with_row(dashboard_builders.Row("Limits and credits"))
        .with_panel(
            bargauge_panel(
                "API key limit used",
                "Share of each limited API key's spend limit used in its reset period "
                "(1 − remaining ÷ limit; OpenRouter). Orange from 90% "
                "(LLMSpendLimitNearlyReached), red at 100%: the provider rejects the key.",
                "percentunit",
                [
                    query(
                        with_api_key_name(
                            F("provider_account_api_key:llm_api_key_limit_usd:used_ratio"),
                            F("llm_api_key_info"),
                        ),
                        "{{api_key_name}} ({{api_key}})",
                        instant=True,
                    )
                ],
                width=8,
                steps=limit_thresholds(),
                max_val=1,
            )
        )
        .with_panel(
            table_panel(
                "API key spend and limits",
                "Per API key (OpenRouter): the spend limit, what is left of it, and the key's "
                "spend in the provider's current UTC day, week (from Monday), month and over "
                "its lifetime. The limit's reset period is the reset label of "
                "llm_api_key_limit_usd. Unlimited keys have no limit.",
                "currencyUSD",
                [
                    query(by_key(F("llm_api_key_limit_usd")), instant=True, table_format=True),
                    query(
                        by_key(F("llm_api_key_limit_remaining_usd")),
                        instant=True,
                        table_format=True,
                    ),
                    *[
                        query(
                            by_key(F("llm_api_key_usage_usd", f'period="{period}"')),
                            instant=True,
                            table_format=True,
                        )
                        for period in ("day", "week", "month", "lifetime")
                    ],
                ],
                rename={
                    "provider": "Provider",
                    "account": "Account",
                    "api_key": "API key",
                    "api_key_name": "Name",
                    "Value #A": "Limit",
                    "Value #B": "Remaining",
                    "Value #C": "Today",
                    "Value #D": "This week",
                    "Value #E": "This month",
                    "Value #F": "Lifetime",
                },
                width=16,
            )
        )
        .with_panel(
            table_panel(
                "Spend limits",
                "Monthly spend limits the provider enforces (OpenAI organisation: empty "
                "project; per project), and the share used by month-to-date billed spend. "
                "LLMSpendLimitNearlyReached fires from 90%.",
                "currencyUSD",
                [
                    query(
                        f"max by (provider, account, project) ({F('llm_spend_limit_usd')})",
                        instant=True,
                        table_format=True,
                    ),
                    query(
                        F("provider_account_project:llm_spend_limit_usd:used_ratio"),
                        instant=True,
                        table_format=True,
                    ),
                ],
                rename={
                    "provider": "Provider",
                    "account": "Account",
                    "project": "Project",
                    "Value #A": "Limit",
                    "Value #B": "Used",
                },
                units_by_query={"B": "percentunit"},
                width=8,
            )
        )
        .with_panel(
            bargauge_panel(
                "Credit balance by type (USD)",
                "Prepaid balance in USD by balance_type (disjoint parts: prepaid, granted, "
                "topped_up, voucher, cash); their sum is what can still be spent.",
                "currencyUSD",
                [
                    query(
                        f"sum by (provider, account, balance_type) ({F('llm_credit_balance_usd')})",
                        "{{provider}}/{{account}} {{balance_type}}",
                        instant=True,
                    )
                ],
                width=5,
                min_val=None,
            )
        )
        .with_panel(
            bargauge_panel(
                "Credit balance by type (CNY)",
                "Prepaid balance in yuan by balance_type (DeepSeek, Moonshot on "
                "api.moonshot.cn); never added to USD.",
                UNIT_CNY,
                [
                    query(
                        f"sum by (provider, account, balance_type) ({F('llm_credit_balance_cny')})",
                        "{{provider}}/{{account}} {{balance_type}}",
                        instant=True,
                    )
                ],
                width=5,
                min_val=None,
            )
        )
        .with_panel(
            stat_panel(
                "Credits purchased",
                "Credits bought over the account's lifetime (OpenRouter total_credits).",
                "currencyUSD",
                [query(f"sum({F('llm_credit_purchased_usd')})", instant=True)],
                width=3,
                height=8,
                decimals=2,
            )
        )
        .with_panel(
            stat_panel(
                "Credits used",
                "Credits used over the account's lifetime (OpenRouter total_usage).",
                "currencyUSD",
                [query(f"sum({F('llm_credit_used_usd')})", instant=True)],
                width=3,
                height=8,
                decimals=2,
            )
        )
    )


def _tokens(board: dashboard_builders.Dashboard) -> dashboard_builders.Dashboard:
    tokens = F("llm_tokens_total")
    requests = F("llm_requests_total")
    return (
        board.with_row(dashboard_builders.Row("Tokens and requests"))
        .with_panel(
            timeseries_panel(
                "Tokens per second by type",
                "Tokens per second by disjoint type: input (uncached), cache_read, "
                "cache_write, output." + _RATE_NOTE,
                "short",
                [
                    query(
                        f"sum by (token_type) (rate({tokens}[$__rate_interval]))",
                        "{{token_type}}",
                    )
                ],
                stacked=True,
                min_interval=POLL_INTERVAL,
            )
        )
        .with_panel(
            timeseries_panel(
                "Requests per second by model",
                "Model requests per second as reported by the provider (OpenAI usage "
                "endpoints)." + _RATE_NOTE,
                "reqps",
                [
                    query(
                        f"sum by (model) (rate({requests}[$__rate_interval]))",
                        "{{model}}",
                    )
                ],
                stacked=True,
                min_interval=POLL_INTERVAL,
            )
        )
        .with_panel(
            bargauge_panel(
                "Month-to-date tokens by type",
                "Tokens since the 1st by type; the types are disjoint, so they add up to the "
                "total.",
                "short",
                [
                    query(
                        f"sum by (token_type) ({tokens})",
                        "{{token_type}}",
                        instant=True,
                    )
                ],
                width=8,
            )
        )
        .with_panel(
            stat_panel(
                "Cached share of input tokens",
                "Month-to-date cache_read tokens as a share of all input-side tokens "
                "(input + cache_read + cache_write): how much prompt caching saves.",
                "percentunit",
                [
                    query(
                        "sum(" + F("llm_tokens_total", 'token_type="cache_read"') + ")"
                        " / sum("
                        + F("llm_tokens_total", 'token_type=~"input|cache_read|cache_write"')
                        + ")",
                        instant=True,
                    )
                ],
                width=8,
                height=8,
            )
        )
        .with_panel(
            bargauge_panel(
                "Tokens per request by model",
                "Average tokens (all types) per request since the 1st, for models whose "
                "provider reports requests.",
                "short",
                [
                    query(
                        f"sum by (model) ({tokens}) / (sum by (model) ({requests}) > 0)",
                        "{{model}}",
                        instant=True,
                    )
                ],
                width=8,
            )
        )
    )


def _other_usage(board: dashboard_builders.Dashboard) -> dashboard_builders.Dashboard:
    return (
        board.with_row(dashboard_builders.Row("Other usage units"))
        .with_panel(
            stat_panel(
                "Images",
                "Images generated, edited or varied since the 1st (OpenAI usage_images).",
                "short",
                [query(f"sum({F('llm_images_total')})", instant=True)],
            )
        )
        .with_panel(
            stat_panel(
                "Speech characters",
                "Characters synthesised to speech since the 1st (OpenAI usage_audio_speeches).",
                "short",
                [query(f"sum({F('llm_speech_characters_total')})", instant=True)],
            )
        )
        .with_panel(
            stat_panel(
                "Transcribed audio",
                "Audio transcribed since the 1st (OpenAI usage_audio_transcriptions).",
                "s",
                [query(f"sum({F('llm_transcription_seconds_total')})", instant=True)],
            )
        )
        .with_panel(
            stat_panel(
                "Web search calls",
                "Web search tool calls since the 1st (OpenAI, Anthropic).",
                "short",
                [query(f"sum({F('llm_web_search_calls_total')})", instant=True)],
            )
        )
        .with_panel(
            stat_panel(
                "File search calls",
                "File search tool calls since the 1st (OpenAI; no model label).",
                "short",
                [query(f"sum({F('llm_file_search_calls_total')})", instant=True)],
            )
        )
        .with_panel(
            stat_panel(
                "Code interpreter sessions",
                "Code interpreter sessions since the 1st (OpenAI; per project only).",
                "short",
                [query(f"sum({F('llm_code_interpreter_sessions_total')})", instant=True)],
            )
        )
        .with_panel(
            timeseries_panel(
                "Tool and media usage per hour",
                "Images, web searches, file searches and code interpreter sessions per hour."
                + _RATE_NOTE,
                "short",
                [
                    query(
                        f"sum(rate({F('llm_images_total')}[$__rate_interval])) * 3600",
                        "images",
                    ),
                    query(
                        f"sum(rate({F('llm_web_search_calls_total')}[$__rate_interval])) * 3600",
                        "web search calls",
                    ),
                    query(
                        f"sum(rate({F('llm_file_search_calls_total')}[$__rate_interval])) * 3600",
                        "file search calls",
                    ),
                    query(
                        "sum(rate("
                        + F("llm_code_interpreter_sessions_total")
                        + "[$__rate_interval])) * 3600",
                        "code interpreter sessions",
                    ),
                ],
                min_interval=POLL_INTERVAL,
            )
        )
        .with_panel(
            timeseries_panel(
                "Vector store storage by project",
                "Vector store bytes per project (latest daily bucket; OpenAI), named via "
                "llm_project_info.",
                "bytes",
                [
                    query(
                        with_project_name(
                            f"sum by (provider, account, project) ({F('llm_vector_store_bytes')})",
                            F("llm_project_info"),
                        ),
                        "{{project_name}} ({{project}})",
                    )
                ],
                stacked=True,
            )
        )
    )


def build() -> dashboard_builders.Dashboard:
    board = new_dashboard(
        UID,
        TITLE,
        "Drill-down into provider accounts: spend by line item and model, billed vs "
        "estimated spend, API key and spend limits, prepaid credits, tokens by type, requests "
        "and the other usage units (images, speech, transcription, tool calls, vector "
        "storage). Month-to-date values reset at 00:00 UTC on the 1st.",
        time_from="now-7d",
        variables=_variables(),
    )
    board = _spend(board)
    board = _billed_vs_estimated(board)
    board = _limits(board)
    board = _tokens(board)
    return _other_usage(board)
