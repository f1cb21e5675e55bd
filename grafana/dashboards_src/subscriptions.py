"""LLM / Subscriptions & coding agents: quota windows, Claude Code blocks, local log cost."""

from __future__ import annotations

from grafana_foundation_sdk.builders import dashboard as dashboard_builders
from grafana_foundation_sdk.models import common

from .panels import (
    POLL_INTERVAL,
    Filters,
    bargauge_panel,
    limit_thresholds,
    new_dashboard,
    provider_account_variables,
    query,
    stat_panel,
    table_panel,
    textbox_variable,
    thresholds,
    timeseries_panel,
)

UID = "llm-subscriptions"
TITLE = "LLM / Subscriptions & coding agents"

F = Filters(["provider", "account"])

#: No business windows: every rate() here uses $__rate_interval.
BUSINESS_WINDOWS: dict[str, str] = {}

#: Default of the $agent_accounts variable: the accounts the claude_code and codex sources
#: label their series with when the config gives them no name, also with a prefix
#: (``demo-claude-code`` in demo mode, ``laptop-codex``, ...).
AGENT_ACCOUNTS = "(.*-)?(claude-code|codex)"
AGENTS = 'account=~"$agent_accounts"'

_WINDOW = "provider, account, window"


def _used(*extra: str) -> str:
    return f"max by ({_WINDOW}) ({F('llm_quota_utilization_ratio', *extra)})"


def _projected(*extra: str) -> str:
    return F("provider_account_window:llm_quota_utilization_ratio:projected_at_reset", *extra)


def _resets_in(*extra: str) -> str:
    return f"max by ({_WINDOW}) ({F('llm_quota_resets_at_timestamp_seconds', *extra)}) - time()"


def _window_seconds(*extra: str) -> str:
    return f"max by ({_WINDOW}) ({F('llm_quota_window_seconds', *extra)})"


def _runs_out_in(*extra: str) -> str:
    """Time until the window is used up if its pace so far continues: (1 − used) ÷ (projected
    use at reset ÷ window length); only where that comes before the reset."""
    return (
        f"((1 - {_used(*extra)}) * {_window_seconds(*extra)} / ({_projected(*extra)} > 0))"
        f" < ({_resets_in(*extra)})"
    )


USED = _used()
PROJECTED = _projected()
ELAPSED = F("provider_account_window:llm_quota_window_seconds:elapsed_ratio")

_BLOCK = "provider, account"
BLOCK_ELAPSED = f"(time() - max by ({_BLOCK}) ({F('llm_session_block_start_timestamp_seconds')}))"
BLOCK_TOKENS = f"sum by ({_BLOCK}) ({F('llm_session_block_tokens')})"


def _variables() -> list[dashboard_builders.QueryVariable | dashboard_builders.TextBoxVariable]:
    return [
        *provider_account_variables(),
        textbox_variable(
            "agent_accounts",
            "Coding-agent accounts",
            AGENT_ACCOUNTS,
            "Regular expression of the accounts read from local coding-agent logs "
            "(claude_code, codex). Change it if your config names those accounts.",
        ),
    ]


def _quotas(board: dashboard_builders.Dashboard) -> dashboard_builders.Dashboard:
    return (
        board.with_row(dashboard_builders.Row("Quota windows"))
        .with_panel(
            bargauge_panel(
                "Quota used",
                "Share of each subscription quota window used, as the vendor reports it "
                "(llm_quota_utilization_ratio: Claude 5h / 7d / per-model weekly windows, "
                "Codex, Gemini). Orange from 90% (LLMQuotaNearlyExhausted).",
                "percentunit",
                [query(USED, "{{provider}}/{{account}} {{window}}", instant=True)],
                steps=limit_thresholds(),
                max_val=1,
            )
        )
        .with_panel(
            bargauge_panel(
                "Projected use at reset",
                "Used share ÷ elapsed share of the window: the use at reset if the pace so far "
                "continues. Above 100% the window runs out before it resets (LLMQuotaPaceHigh). "
                "Shown once a tenth of the window has elapsed, for windows of known length.",
                "percentunit",
                [query(PROJECTED, "{{provider}}/{{account}} {{window}}", instant=True)],
                steps=limit_thresholds(),
                max_val=1,
            )
        )
        .with_panel(
            table_panel(
                "Quota windows",
                "Every quota window: used share, projected use at reset, elapsed share, the "
                "countdown to the reset (llm_quota_resets_at_timestamp_seconds − now), the "
                "time until it runs out at the pace so far (empty: not before the reset) and "
                "the window's length.",
                "percentunit",
                [
                    query(USED, instant=True, table_format=True),
                    query(PROJECTED, instant=True, table_format=True),
                    query(ELAPSED, instant=True, table_format=True),
                    query(_resets_in(), instant=True, table_format=True),
                    query(_runs_out_in(), instant=True, table_format=True),
                    query(_window_seconds(), instant=True, table_format=True),
                ],
                rename={
                    "provider": "Provider",
                    "account": "Account",
                    "window": "Window",
                    "Value #A": "Used",
                    "Value #B": "Projected at reset",
                    "Value #C": "Elapsed",
                    "Value #D": "Resets in",
                    "Value #E": "Runs out in",
                    "Value #F": "Window length",
                },
                units_by_query={"D": "s", "E": "s", "F": "s"},
                width=24,
            )
        )
        .with_panel(
            timeseries_panel(
                "Quota used over time",
                "Used share of each window over time; it drops when the window resets. Dashed "
                "line: 90%.",
                "percentunit",
                [query(USED, "{{provider}}/{{account}} {{window}}")],
                steps=thresholds((None, "green"), (0.9, "red")),
                min_interval=POLL_INTERVAL,
            )
        )
        .with_panel(
            stat_panel(
                "Windows at their limit",
                "Windows the vendor reports as at their limit (llm_quota_limit_reached, "
                "Codex) or at 100% used.",
                "none",
                [
                    query(
                        f"count(max by ({_WINDOW}) ({F('llm_quota_limit_reached')}) == 1"
                        f" or {USED} >= 1) or vector(0)",
                        instant=True,
                    )
                ],
                width=6,
                height=8,
                steps=thresholds((None, "green"), (1, "red")),
            )
        )
        .with_panel(
            stat_panel(
                "Plans",
                "The plan each subscription account is on (llm_subscription_info).",
                "none",
                [
                    query(
                        f"max by (provider, account, plan) ({F('llm_subscription_info')})",
                        "{{provider}}/{{account}}: {{plan}}",
                        instant=True,
                    )
                ],
                width=6,
                height=8,
                text_mode=common.BigValueTextMode.NAME,
            )
        )
    )


def _blocks(board: dashboard_builders.Dashboard) -> dashboard_builders.Dashboard:
    return (
        board.with_row(dashboard_builders.Row("Claude Code 5-hour block"))
        .with_panel(
            stat_panel(
                "Block tokens",
                "Tokens (all types) used in the active 5-hour Claude Code block, by ccusage's "
                "rules (llm_session_block_tokens). No value: no active block.",
                "short",
                [query(BLOCK_TOKENS, "{{account}}", instant=True)],
            )
        )
        .with_panel(
            stat_panel(
                "Block burn rate",
                "Tokens per minute in the active block: block tokens ÷ time since the block "
                "started.",
                "suffix: tokens/min",
                [query(f"{BLOCK_TOKENS} / {BLOCK_ELAPSED} * 60", "{{account}}", instant=True)],
            )
        )
        .with_panel(
            stat_panel(
                "Block estimated cost",
                "Estimated cost of the active block at list prices "
                "(llm_session_block_estimated_cost_usd).",
                "currencyUSD",
                [
                    query(
                        f"sum by ({_BLOCK}) ({F('llm_session_block_estimated_cost_usd')})",
                        "{{account}}",
                        instant=True,
                    )
                ],
                decimals=2,
            )
        )
        .with_panel(
            stat_panel(
                "Block cost per hour",
                "Estimated cost of the active block ÷ time since it started, per hour.",
                "currencyUSD",
                [
                    query(
                        f"sum by ({_BLOCK}) ({F('llm_session_block_estimated_cost_usd')})"
                        f" / {BLOCK_ELAPSED} * 3600",
                        "{{account}}",
                        instant=True,
                    )
                ],
                decimals=2,
            )
        )
        .with_panel(
            stat_panel(
                "Projected block tokens",
                "Tokens the active block reaches by its end if the burn rate so far continues "
                "(block tokens × block length ÷ time elapsed).",
                "short",
                [
                    query(
                        f"{BLOCK_TOKENS} * (max by ({_BLOCK}) "
                        f"({F('llm_session_block_end_timestamp_seconds')}) - max by ({_BLOCK}) "
                        f"({F('llm_session_block_start_timestamp_seconds')})) / {BLOCK_ELAPSED}",
                        "{{account}}",
                        instant=True,
                    )
                ],
            )
        )
        .with_panel(
            stat_panel(
                "Block ends in",
                "Time until the active block ends (llm_session_block_end_timestamp_seconds − "
                "now); the next message after that starts a new block.",
                "s",
                [
                    query(
                        f"max by ({_BLOCK}) ({F('llm_session_block_end_timestamp_seconds')})"
                        " - time()",
                        "{{account}}",
                        instant=True,
                    )
                ],
            )
        )
        .with_panel(
            timeseries_panel(
                "Block tokens by type",
                "Tokens of the active block by type over time (llm_session_block_tokens): "
                "grows during a block and starts again at the next one.",
                "short",
                [
                    query(
                        f"sum by (account, token_type) ({F('llm_session_block_tokens')})",
                        "{{account}} {{token_type}}",
                    )
                ],
                stacked=True,
                min_interval=POLL_INTERVAL,
            )
        )
        .with_panel(
            stat_panel(
                "5-hour quota runs out in",
                "When the vendor's 5-hour quota window (window 5h) is used up at its pace so "
                "far, if that comes before it resets; no value: it lasts until the reset. The "
                "quota comes from the subscription source, the block from the local logs.",
                "s",
                [
                    query(
                        _runs_out_in('window="5h"'),
                        "{{provider}}/{{account}}",
                        instant=True,
                    )
                ],
                width=12,
                height=8,
                steps=thresholds((None, "red"), (3600, "orange"), (7200, "green")),
            )
        )
    )


def _local_logs(board: dashboard_builders.Dashboard) -> dashboard_builders.Dashboard:
    estimated = F("llm_estimated_cost_usd_total", AGENTS)
    return (
        board.with_row(dashboard_builders.Row("Local coding-agent logs"))
        .with_panel(
            stat_panel(
                "Local estimated cost this month",
                "Estimated cost since the 1st of the tokens in local Claude Code and Codex "
                "logs (accounts matching $agent_accounts) at list prices. Subscription usage "
                "is not billed per token: this is what it would cost on the API.",
                "currencyUSD",
                [query(f"sum({estimated})", instant=True)],
                width=6,
                height=8,
                decimals=2,
            )
        )
        .with_panel(
            bargauge_panel(
                "Local estimated cost by model",
                "Month-to-date estimated cost of local coding-agent logs per model.",
                "currencyUSD",
                [
                    query(
                        f"topk(15, sum by (account, model) ({estimated}))",
                        "{{account}} {{model}}",
                        instant=True,
                    )
                ],
                width=9,
            )
        )
        .with_panel(
            bargauge_panel(
                "Local estimated cost by project",
                "Month-to-date estimated cost of local coding-agent logs per project (the "
                "working directory's project name).",
                "currencyUSD",
                [
                    query(
                        f"topk(15, sum by (account, project) ({estimated}))",
                        "{{account}} {{project}}",
                        instant=True,
                    )
                ],
                width=9,
            )
        )
        .with_panel(
            timeseries_panel(
                "Local estimated cost per hour",
                "Estimated cost per hour of local coding-agent logs, per account. Logs are "
                "read every poll, so values move in poll steps.",
                "currencyUSD",
                [
                    query(
                        f"sum by (account) (rate({estimated}[$__rate_interval])) * 3600",
                        "{{account}}",
                    )
                ],
                stacked=True,
                min_interval=POLL_INTERVAL,
            )
        )
        .with_panel(
            timeseries_panel(
                "Skipped log lines",
                "Local log lines the reader skipped, by reason (malformed: not JSON; "
                "invalid: JSON without the expected fields), per poll interval. A steady "
                "stream after a CLI update means the log format changed.",
                "short",
                [
                    query(
                        "sum by (provider, account, reason) "
                        f"(increase({F('llm_log_lines_skipped_total')}[$__rate_interval]))",
                        "{{provider}}/{{account}} {{reason}}",
                    )
                ],
                min_interval=POLL_INTERVAL,
            )
        )
    )


def _money(board: dashboard_builders.Dashboard) -> dashboard_builders.Dashboard:
    return (
        board.with_row(dashboard_builders.Row("Fees, extras and credentials"))
        .with_panel(
            bargauge_panel(
                "Subscription fees",
                "Monthly fee of each flat subscription from the config (monthly_usd × seats; "
                "llm_subscription_cost_usd). Filtered by provider only.",
                "currencyUSD",
                [
                    query(
                        f"sum by (provider, subscription) ({F('llm_subscription_cost_usd')})",
                        "{{provider}} {{subscription}}",
                        instant=True,
                    )
                ],
                width=6,
            )
        )
        .with_panel(
            table_panel(
                "Claude extra usage",
                "Pay-as-you-go usage beyond the plan this month, its monthly limit, and the "
                "share used (Claude extra_usage).",
                "currencyUSD",
                [
                    query(
                        f"max by (provider, account) ({F('llm_subscription_extra_usage_usd')})",
                        instant=True,
                        table_format=True,
                    ),
                    query(
                        "max by (provider, account) "
                        f"({F('llm_subscription_extra_usage_limit_usd')})",
                        instant=True,
                        table_format=True,
                    ),
                    query(
                        f"max by (provider, account) ({F('llm_subscription_extra_usage_usd')})"
                        " / max by (provider, account) "
                        f"({F('llm_subscription_extra_usage_limit_usd')} > 0)",
                        instant=True,
                        table_format=True,
                    ),
                ],
                rename={
                    "provider": "Provider",
                    "account": "Account",
                    "Value #A": "Used",
                    "Value #B": "Limit",
                    "Value #C": "Share",
                },
                units_by_query={"C": "percentunit"},
                width=6,
            )
        )
        .with_panel(
            stat_panel(
                "Codex credits",
                "Credits left on Codex / ChatGPT subscriptions in OpenAI's own credit unit "
                "(llm_subscription_credits; credits are priced per million tokens, they are "
                "not dollars). No value: unlimited or no credits.",
                "suffix: credits",
                [
                    query(
                        f"sum by (provider, account) ({F('llm_subscription_credits')})",
                        "{{provider}}/{{account}}",
                        instant=True,
                    )
                ],
                width=6,
                height=8,
                decimals=2,
            )
        )
        .with_panel(
            stat_panel(
                "Credentials expire in",
                "Time until the OAuth access token a subscription source reads expires "
                "(negative: expired; LLMCredentialsExpired). The exporter never refreshes "
                "it: running the vendor's CLI does.",
                "s",
                [
                    query(
                        "max by (provider, account) "
                        f"({F('llm_credentials_expiry_timestamp_seconds')}) - time()",
                        "{{provider}}/{{account}}",
                        instant=True,
                    )
                ],
                width=6,
                height=8,
                steps=thresholds((None, "red"), (0, "orange"), (3600, "green")),
            )
        )
    )


def build() -> dashboard_builders.Dashboard:
    board = new_dashboard(
        UID,
        TITLE,
        "Subscription quota windows (Claude, Codex, Gemini) with pace and reset countdowns, "
        "the active Claude Code 5-hour block, estimated cost of local coding-agent logs, "
        "subscription fees, extra usage, Codex credits and credential expiry.",
        time_from="now-7d",
        variables=_variables(),
    )
    board = _quotas(board)
    board = _blocks(board)
    board = _local_logs(board)
    return _money(board)
