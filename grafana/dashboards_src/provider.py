"""LLM / Provider: drill-down into one provider account's spend and usage."""

from __future__ import annotations

from grafana_foundation_sdk.builders import dashboard as dashboard_builders

from .panels import (
    POLL_INTERVAL,
    Filters,
    bargauge_panel,
    label_variable,
    new_dashboard,
    provider_account_variables,
    query,
    stat_panel,
    timeseries_panel,
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
        "Drill-down into provider accounts: spend by line item and model, tokens by type, "
        "requests and the other usage units (images, speech, transcription, tool calls, "
        "vector storage). Month-to-date values reset at 00:00 UTC on the 1st.",
        time_from="now-7d",
        variables=_variables(),
    )
    board = _spend(board)
    board = _tokens(board)
    return _other_usage(board)
