"""LLM / Overview: month-to-date spend, forecast, budgets, credits and top consumers."""

from __future__ import annotations

from grafana_foundation_sdk.builders import dashboard as dashboard_builders

from .panels import (
    UNIT_CNY,
    Filters,
    bargauge_panel,
    dashed_line,
    new_dashboard,
    provider_account_variables,
    query,
    ratio_thresholds,
    stat_panel,
    table_panel,
    thresholds,
    timeseries_panel,
    with_api_key_name,
    with_project_name,
)

UID = "llm-overview"
TITLE = "LLM / Overview"

F = Filters(["provider", "account"])

#: Range windows that are business definitions, not sampling artefacts (tests check these).
BUSINESS_WINDOWS = {
    "Spend, last 24 hours": "1d",
    "Daily spend by provider": "1d",
}


def _variables() -> list[dashboard_builders.QueryVariable]:
    return provider_account_variables()


def _month_to_date(board: dashboard_builders.Dashboard) -> dashboard_builders.Dashboard:
    cost = F("llm_cost_usd_total")
    return (
        board.with_row(dashboard_builders.Row("Month to date"))
        .with_panel(
            stat_panel(
                "Month-to-date spend",
                "Billed spend since 00:00 UTC on the 1st, as the providers' cost endpoints "
                "report it (sum of llm_cost_usd_total).",
                "currencyUSD",
                [query(f"sum({cost})", instant=True)],
                decimals=2,
            )
        )
        .with_panel(
            stat_panel(
                "Month-end forecast",
                "Month-to-date spend plus the last 24 hours' spend rate until 00:00 UTC on "
                "the 1st of next month (recording rule "
                "provider_account:llm_cost_usd:forecast_month_end).",
                "currencyUSD",
                [
                    query(
                        f"sum({F('provider_account:llm_cost_usd:forecast_month_end')})",
                        instant=True,
                    )
                ],
                decimals=2,
            )
        )
        .with_panel(
            stat_panel(
                "Spend, last 24 hours",
                "Billed spend over the last 24 hours (a fixed business window, independent "
                "of the time picker). Providers report costs with a delay.",
                "currencyUSD",
                [query(f"sum(increase({cost}[1d]))", instant=True)],
                decimals=2,
            )
        )
        .with_panel(
            stat_panel(
                "Spend, last hour",
                "Billed spend over the last hour (recording rule "
                "provider_account:llm_cost_usd:increase1h, which LLMSpendSpike compares "
                "with its 7-day average).",
                "currencyUSD",
                [query(f"sum({F('provider_account:llm_cost_usd:increase1h')})", instant=True)],
                decimals=2,
            )
        )
        .with_panel(
            stat_panel(
                "Month-to-date tokens",
                "Tokens of all types (input, cache read, cache write, output) since the 1st.",
                "short",
                [query(f"sum({F('llm_tokens_total')})", instant=True)],
            )
        )
        .with_panel(
            stat_panel(
                "Budgets at 80% or more",
                "Budgets whose period-to-date spend is at least 80% of their limit "
                "(LLMBudgetSpendHigh). Budgets are not filtered by provider or account.",
                "none",
                [
                    query(
                        "count(budget:llm_budget_spend_usd:ratio_limit >= 0.8) or vector(0)",
                        instant=True,
                    )
                ],
                steps=thresholds((None, "green"), (1, "orange")),
            )
        )
    )


#: Month-to-date cost per provider account: the bill where the account has one, else the
#: estimate (tokens × list price). ``or`` keeps the left side's series, so the bill and the
#: estimate of one account are never added.
BILLED_OR_ESTIMATED = (
    f"({F('provider_account:llm_cost_usd_total:sum')}"
    f" or {F('provider_account:llm_estimated_cost_usd_total:sum')})"
)
FORECAST_BILLED_OR_ESTIMATED = (
    f"({F('provider_account:llm_cost_usd:forecast_month_end')}"
    f" or {F('provider_account:llm_estimated_cost_usd:forecast_month_end')})"
)
SUBSCRIPTION_FEES = F("llm_subscription_cost_usd")


def _total(board: dashboard_builders.Dashboard) -> dashboard_builders.Dashboard:
    estimated_only = (
        f"{F('provider_account:llm_estimated_cost_usd_total:sum')}"
        " unless on (provider, account) provider_account:llm_cost_usd_total:sum"
    )
    return (
        board.with_row(dashboard_builders.Row("Total cost"))
        .with_panel(
            stat_panel(
                "Month-to-date total",
                "What LLMs cost this month: billed spend of accounts with a bill, estimated "
                "spend (tokens × list price) of accounts without one (local coding-agent logs, "
                "Groq, ...), and the monthly fees of flat subscriptions (the whole fee, from "
                "the config; filtered by provider only). The bill and the estimate of one "
                "account are never added.",
                "currencyUSD",
                [
                    query(
                        f"(sum({BILLED_OR_ESTIMATED}) or vector(0))"
                        f" + (sum({SUBSCRIPTION_FEES}) or vector(0))",
                        instant=True,
                    )
                ],
                width=6,
                height=6,
                decimals=2,
            )
        )
        .with_panel(
            stat_panel(
                "Month-end total forecast",
                "Month-end forecast of the total: per account the billed forecast, or the "
                "estimated one where there is no bill (month-to-date + the last day's rate × "
                "time left), plus subscription fees.",
                "currencyUSD",
                [
                    query(
                        f"(sum({FORECAST_BILLED_OR_ESTIMATED}) or vector(0))"
                        f" + (sum({SUBSCRIPTION_FEES}) or vector(0))",
                        instant=True,
                    )
                ],
                width=6,
                height=6,
                decimals=2,
            )
        )
        .with_panel(
            bargauge_panel(
                "Month-to-date total by kind",
                "The three parts of the total: billed spend, estimated spend of accounts "
                "without a bill, subscription fees.",
                "currencyUSD",
                [
                    query(
                        f"sum({F('provider_account:llm_cost_usd_total:sum')}) or vector(0)",
                        "billed",
                        instant=True,
                    ),
                    query(f"sum({estimated_only}) or vector(0)", "estimated", instant=True),
                    query(f"sum({SUBSCRIPTION_FEES}) or vector(0)", "subscriptions", instant=True),
                ],
                width=6,
                height=6,
            )
        )
        .with_panel(
            bargauge_panel(
                "Month-to-date total by account",
                "Per provider account the bill, or the estimate where there is no bill "
                "(marked 'estimated'); each subscription fee on its own bar.",
                "currencyUSD",
                [
                    query(
                        "sum by (provider, account) "
                        f"({F('provider_account:llm_cost_usd_total:sum')})",
                        "{{provider}}/{{account}}",
                        instant=True,
                    ),
                    query(
                        f"sum by (provider, account) ({estimated_only})",
                        "{{provider}}/{{account}} (estimated)",
                        instant=True,
                    ),
                    query(
                        f"sum by (provider, subscription) ({SUBSCRIPTION_FEES})",
                        "{{provider}} {{subscription}} (subscription)",
                        instant=True,
                    ),
                ],
                width=6,
                height=6,
            )
        )
    )


def _credits(board: dashboard_builders.Dashboard) -> dashboard_builders.Dashboard:
    balance = F("provider_account_currency:llm_credit_balance:sum")
    usd = F("provider_account_currency:llm_credit_balance:sum", 'currency="USD"')
    cny = F("provider_account_currency:llm_credit_balance:sum", 'currency="CNY"')
    return (
        board.with_row(dashboard_builders.Row("Prepaid credits"))
        .with_panel(
            bargauge_panel(
                "Credit balance (USD)",
                "Prepaid credit left per provider account in USD (sum over balance_type: "
                "OpenRouter, DeepSeek, Moonshot, xAI). CNY balances are on their own panel, "
                "never added to USD.",
                "currencyUSD",
                [
                    query(
                        f"sum by (provider, account) ({usd})",
                        "{{provider}}/{{account}}",
                        instant=True,
                    )
                ],
                width=6,
                steps=thresholds((None, "red"), (0.01, "green")),
            )
        )
        .with_panel(
            bargauge_panel(
                "Credit balance (CNY)",
                "Prepaid credit left per provider account in yuan (DeepSeek, Moonshot on "
                "api.moonshot.cn), sum over balance_type.",
                UNIT_CNY,
                [
                    query(
                        f"sum by (provider, account) ({cny})",
                        "{{provider}}/{{account}}",
                        instant=True,
                    )
                ],
                width=6,
                steps=thresholds((None, "red"), (0.01, "green")),
            )
        )
        .with_panel(
            table_panel(
                "Credit runway",
                "Balance, burn per day (the sum of the balance's decreases over the last day, "
                "top-ups left out) and runway (balance ÷ burn) per provider account and "
                "currency. LLMCreditRunwayShort fires under 7 days (warning) and 1 day "
                "(critical). No runway: nothing was burnt in the last day.",
                "short",
                [
                    query(
                        f"max by (provider, account, currency) ({balance})",
                        instant=True,
                        table_format=True,
                    ),
                    query(
                        "max by (provider, account, currency) "
                        f"({F('provider_account_currency:llm_credit_balance:burn_rate1d')})"
                        " * 86400",
                        instant=True,
                        table_format=True,
                    ),
                    query(
                        "max by (provider, account, currency) "
                        f"({F('provider_account_currency:llm_credit_balance:runway')})",
                        instant=True,
                        table_format=True,
                    ),
                ],
                rename={
                    "provider": "Provider",
                    "account": "Account",
                    "currency": "Currency",
                    "Value #A": "Balance",
                    "Value #B": "Burn per day",
                    "Value #C": "Runway",
                },
                units_by_query={"C": "s"},
            )
        )
    )


def _budgets(board: dashboard_builders.Dashboard) -> dashboard_builders.Dashboard:
    return (
        board.with_row(dashboard_builders.Row("Budgets"))
        .with_panel(
            bargauge_panel(
                "Budget spend",
                "Period-to-date spend of each budget as a share of its limit "
                "(llm_budget_spend_usd / llm_budget_limit_usd). Orange from 80%, red from "
                "100%, like LLMBudgetSpendHigh.",
                "percentunit",
                [
                    query(
                        "max by (budget) (budget:llm_budget_spend_usd:ratio_limit)",
                        "{{budget}}",
                        instant=True,
                    )
                ],
                width=8,
                steps=ratio_thresholds(),
                max_val=1,
            )
        )
        .with_panel(
            bargauge_panel(
                "Budget forecast at period end",
                "Forecast spend at the end of each budget's period (spend + last day's rate "
                "× time left) as a share of its limit; above 100% means LLMBudgetForecastOverrun.",
                "percentunit",
                [
                    query(
                        "max by (budget) (budget:llm_budget_spend_usd:forecast_period_end)"
                        " / max by (budget) (llm_budget_limit_usd > 0)",
                        "{{budget}}",
                        instant=True,
                    )
                ],
                width=8,
                steps=ratio_thresholds(),
                max_val=1,
            )
        )
        .with_panel(
            table_panel(
                "Budget details",
                "Spend, forecast and limit of every budget in USD, and the time left in its "
                "period (llm_budget_period_end_timestamp_seconds − now).",
                "currencyUSD",
                [
                    query(
                        "max by (budget) (llm_budget_spend_usd)", instant=True, table_format=True
                    ),
                    query(
                        "max by (budget) (budget:llm_budget_spend_usd:forecast_period_end)",
                        instant=True,
                        table_format=True,
                    ),
                    query(
                        "max by (budget) (llm_budget_limit_usd)", instant=True, table_format=True
                    ),
                    query(
                        "max by (budget) (llm_budget_period_end_timestamp_seconds) - time()",
                        instant=True,
                        table_format=True,
                    ),
                ],
                rename={
                    "budget": "Budget",
                    "Value #A": "Spend",
                    "Value #B": "Forecast",
                    "Value #C": "Limit",
                    "Value #D": "Time left",
                },
                units_by_query={"D": "s"},
                width=8,
            )
        )
    )


def _over_time(board: dashboard_builders.Dashboard) -> dashboard_builders.Dashboard:
    cost = F("llm_cost_usd_total")
    return (
        board.with_row(dashboard_builders.Row("Spend over time"))
        .with_panel(
            timeseries_panel(
                "Month-to-date spend by provider",
                "Billed spend since the 1st per provider and account; drops to zero at the "
                "month rollover. Dashed: the month-end forecast.",
                "currencyUSD",
                [
                    query(
                        f"sum by (provider, account) ({cost})",
                        "{{provider}}/{{account}}",
                    ),
                    query(
                        "sum by (provider, account) "
                        f"({F('provider_account:llm_cost_usd:forecast_month_end')})",
                        "{{provider}}/{{account}} forecast",
                    ),
                ],
            ).override_by_regexp(
                ".* forecast$",
                dashed_line(),
            )
        )
        .with_panel(
            timeseries_panel(
                "Daily spend by provider",
                "Billed spend per UTC day (increase over a fixed 1-day window, one bar per "
                "day). The bar of the current day fills up as providers report costs.",
                "currencyUSD",
                [
                    query(
                        f"sum by (provider) (increase({cost}[1d]))",
                        "{{provider}}",
                    ).interval("1d")
                ],
                stacked=True,
                bars=True,
            )
        )
        .with_panel(
            timeseries_panel(
                "Hourly spend vs 7-day average",
                "Spend over the last hour per provider account (solid) against its 7-day "
                "hourly average (dashed). LLMSpendSpike fires above 3× the average and $5.",
                "currencyUSD",
                [
                    query(
                        "sum by (provider, account) "
                        f"({F('provider_account:llm_cost_usd:increase1h')})",
                        "{{provider}}/{{account}}",
                    ),
                    query(
                        "sum by (provider, account) "
                        f"({F('provider_account:llm_cost_usd:increase1h_avg7d')})",
                        "{{provider}}/{{account}} 7-day average",
                    ),
                ],
                width=24,
            ).override_by_regexp(
                ".* 7-day average$",
                dashed_line(),
            )
        )
    )


def _top(board: dashboard_builders.Dashboard) -> dashboard_builders.Dashboard:
    tokens = F("llm_tokens_total")
    cost = F("llm_cost_usd_total")
    projects_by_tokens = with_project_name(
        f"sum by (provider, account, project) ({tokens})", F("llm_project_info")
    )
    projects_by_cost = with_project_name(
        f"sum by (provider, account, project) ({cost})", F("llm_project_info")
    )
    keys_by_tokens = with_api_key_name(
        f"sum by (provider, account, api_key) ({tokens})", F("llm_api_key_info")
    )
    keys_by_estimate = with_api_key_name(
        f"sum by (provider, account, api_key) ({F('llm_estimated_cost_usd_total')})",
        F("llm_api_key_info"),
    )
    return (
        board.with_row(dashboard_builders.Row("Top consumers this month"))
        .with_panel(
            bargauge_panel(
                "Top models by tokens",
                "The 10 models with the most tokens (all types) since the 1st.",
                "short",
                [
                    query(
                        f"topk(10, sum by (provider, model) ({tokens}))",
                        "{{provider}} {{model}}",
                        instant=True,
                    )
                ],
            )
        )
        .with_panel(
            bargauge_panel(
                "Top models by spend",
                "The 10 models with the highest billed spend since the 1st. Line items "
                "without a model (tools, storage) appear under an empty model.",
                "currencyUSD",
                [
                    query(
                        f"topk(10, sum by (provider, model) ({cost}))",
                        "{{provider}} {{model}}",
                        instant=True,
                    )
                ],
            )
        )
        .with_panel(
            bargauge_panel(
                "Top projects by tokens",
                "The 10 projects (OpenAI projects, Anthropic workspaces) with the most tokens "
                "since the 1st, named via llm_project_info.",
                "short",
                [
                    query(
                        f"topk(10, {projects_by_tokens})",
                        "{{provider}} {{project_name}} ({{project}})",
                        instant=True,
                    )
                ],
            )
        )
        .with_panel(
            bargauge_panel(
                "Top projects by spend",
                "The 10 projects with the highest billed spend since the 1st, named via "
                "llm_project_info.",
                "currencyUSD",
                [
                    query(
                        f"topk(10, {projects_by_cost})",
                        "{{provider}} {{project_name}} ({{project}})",
                        instant=True,
                    )
                ],
            )
        )
        .with_panel(
            bargauge_panel(
                "Top API keys by tokens",
                "The 10 API keys with the most tokens since the 1st, named via "
                "llm_api_key_info (key ids only, never key material; 'console' is "
                "Anthropic Workbench usage).",
                "short",
                [
                    query(
                        f"topk(10, {keys_by_tokens})",
                        "{{provider}} {{api_key_name}} ({{api_key}})",
                        instant=True,
                    )
                ],
            )
        )
        .with_panel(
            bargauge_panel(
                "Top API keys by estimated spend",
                "The 10 API keys whose tokens cost the most at list prices since the 1st "
                "(llm_estimated_cost_usd_total: cost endpoints do not break spend down by "
                "key). An estimate, not the bill.",
                "currencyUSD",
                [
                    query(
                        f"topk(10, {keys_by_estimate})",
                        "{{provider}} {{api_key_name}} ({{api_key}})",
                        instant=True,
                    )
                ],
            )
        )
    )


def build() -> dashboard_builders.Dashboard:
    board = new_dashboard(
        UID,
        TITLE,
        "Month-to-date LLM spend as billed by the providers, its month-end forecast, the "
        "total with estimated spend and subscription fees, budgets, prepaid credits and the "
        "models, projects and API keys behind it. Month-to-date values reset at 00:00 UTC on "
        "the 1st; this dashboard shows UTC.",
        time_from="now-30d",
        variables=_variables(),
    )
    board = _month_to_date(board)
    board = _total(board)
    board = _budgets(board)
    board = _credits(board)
    board = _over_time(board)
    return _top(board)
