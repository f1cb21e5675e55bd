"""The metrics contract: every metric the exporter exposes is defined here and nowhere else.

``docs/metrics.md`` is generated from this module (``python -m exporter.contract``) and a test
fails when the two disagree. Naming follows the Prometheus guides: base units, ``_total`` only on
counters, ``_info`` gauges of value 1 for id→name mappings, timestamps (not ages) in seconds.

Money and usage counters are *month-to-date*: recomputed on every poll from the provider's own
buckets since 00:00 UTC on the 1st of the current month, which is also their ``_created`` time.
They reset (an ordinary counter reset) when the month rolls over.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final


class MetricType(enum.Enum):
    COUNTER = "counter"
    GAUGE = "gauge"


class Scope(enum.Enum):
    """Where a metric's values come from; drives docs and rendering rules."""

    MONTH_TO_DATE = "month-to-date counter recomputed from provider buckets"
    LEVEL = "current level reported by the provider"
    INFO = "id-to-name mapping (value 1)"
    HEALTH = "exporter self-observation"
    CONFIG = "derived from configuration and provider data"


@dataclass(frozen=True, slots=True)
class MetricSpec:
    name: str
    type: MetricType
    help: str
    labels: tuple[str, ...]
    scope: Scope
    #: Sources that produce it, for the docs.
    produced_by: str

    @property
    def family(self) -> str:
        """Name without the ``_total`` suffix (how client_python names counter families)."""
        return self.name.removesuffix("_total") if self.type is MetricType.COUNTER else self.name


#: Label values that are part of the contract.
TOKEN_TYPES: Final[tuple[str, ...]] = ("input", "cache_read", "cache_write", "output")
#: Label value that stands for every label set folded by the cardinality guard.
OTHER: Final[str] = "other"

_USAGE = ("provider", "account", "project", "api_key", "model")
_HEALTH = ("provider", "account", "source")

_SPECS: Final[tuple[MetricSpec, ...]] = (
    MetricSpec(
        "llm_cost_usd_total",
        MetricType.COUNTER,
        "Billed spend in USD as the provider's cost endpoint reports it, month-to-date (UTC).",
        ("provider", "account", "project", "model", "line_item"),
        Scope.MONTH_TO_DATE,
        "openai (costs), anthropic (cost_report), openrouter (activity: completed UTC days "
        "only, today is absent), xai (usage), fireworks (billing_summary: one month-to-date "
        "record, no daily split)",
    ),
    MetricSpec(
        "llm_estimated_cost_usd_total",
        MetricType.COUNTER,
        "Estimated spend in USD: tokens times the pricing catalog's list price, month-to-date "
        "(UTC). Never summed with billed llm_cost_usd_total; unpriced tokens are left out and "
        "counted in llm_unpriced_tokens_total.",
        _USAGE,
        Scope.MONTH_TO_DATE,
        "every source with tokens: openai, anthropic, openrouter (activity), groq, "
        "claude_code, codex (local logs)",
    ),
    MetricSpec(
        "llm_unpriced_tokens_total",
        MetricType.COUNTER,
        "Tokens of models the pricing catalog has no price for (left out of "
        "llm_estimated_cost_usd_total), month-to-date (UTC).",
        ("provider", "account", "model", "token_type"),
        Scope.MONTH_TO_DATE,
        "every source with tokens",
    ),
    MetricSpec(
        "llm_tokens_total",
        MetricType.COUNTER,
        "Tokens by disjoint token_type (input, cache_read, cache_write, output), "
        "month-to-date (UTC).",
        (*_USAGE, "token_type"),
        Scope.MONTH_TO_DATE,
        "openai (usage_completions, usage_embeddings, usage_moderations), "
        "anthropic (usage_messages), openrouter (activity), groq (metrics), "
        "claude_code and codex (local logs)",
    ),
    MetricSpec(
        "llm_requests_total",
        MetricType.COUNTER,
        "Model requests as reported by the provider, month-to-date (UTC).",
        _USAGE,
        Scope.MONTH_TO_DATE,
        "openai (usage_* except vector_stores, code_interpreter_sessions, file_search_calls, "
        "web_search_calls), openrouter (activity), groq (metrics)",
    ),
    MetricSpec(
        "llm_images_total",
        MetricType.COUNTER,
        "Images generated, edited or varied, month-to-date (UTC).",
        _USAGE,
        Scope.MONTH_TO_DATE,
        "openai (usage_images)",
    ),
    MetricSpec(
        "llm_speech_characters_total",
        MetricType.COUNTER,
        "Characters synthesised to speech, month-to-date (UTC).",
        _USAGE,
        Scope.MONTH_TO_DATE,
        "openai (usage_audio_speeches)",
    ),
    MetricSpec(
        "llm_transcription_seconds_total",
        MetricType.COUNTER,
        "Seconds of audio transcribed, month-to-date (UTC).",
        _USAGE,
        Scope.MONTH_TO_DATE,
        "openai (usage_audio_transcriptions)",
    ),
    MetricSpec(
        "llm_code_interpreter_sessions_total",
        MetricType.COUNTER,
        "Code interpreter sessions, month-to-date (UTC).",
        ("provider", "account", "project"),
        Scope.MONTH_TO_DATE,
        "openai (usage_code_interpreter_sessions)",
    ),
    MetricSpec(
        "llm_web_search_calls_total",
        MetricType.COUNTER,
        "Web search tool calls, month-to-date (UTC).",
        _USAGE,
        Scope.MONTH_TO_DATE,
        "openai (usage_web_search_calls), anthropic (usage_messages)",
    ),
    MetricSpec(
        "llm_file_search_calls_total",
        MetricType.COUNTER,
        "File search tool calls, month-to-date (UTC).",
        ("provider", "account", "project", "api_key"),
        Scope.MONTH_TO_DATE,
        "openai (usage_file_search_calls)",
    ),
    MetricSpec(
        "llm_vector_store_bytes",
        MetricType.GAUGE,
        "Vector store storage in bytes, latest daily bucket of the month.",
        ("provider", "account", "project"),
        Scope.LEVEL,
        "openai (usage_vector_stores)",
    ),
    MetricSpec(
        "llm_credit_balance_usd",
        MetricType.GAUGE,
        "Prepaid credit balance in USD by balance_type (disjoint parts: sum over balance_type "
        "is what can still be spent).",
        ("provider", "account", "balance_type"),
        Scope.LEVEL,
        "openrouter (credits), deepseek (balance), moonshot (balance), xai (balance)",
    ),
    MetricSpec(
        "llm_credit_balance_cny",
        MetricType.GAUGE,
        "Prepaid credit balance in CNY by balance_type; never summed with USD.",
        ("provider", "account", "balance_type"),
        Scope.LEVEL,
        "deepseek (balance), moonshot (balance on api.moonshot.cn)",
    ),
    MetricSpec(
        "llm_credit_purchased_usd",
        MetricType.GAUGE,
        "Credits bought over the account's lifetime in USD.",
        ("provider", "account"),
        Scope.LEVEL,
        "openrouter (credits)",
    ),
    MetricSpec(
        "llm_credit_used_usd",
        MetricType.GAUGE,
        "Credits used over the account's lifetime in USD.",
        ("provider", "account"),
        Scope.LEVEL,
        "openrouter (credits)",
    ),
    MetricSpec(
        "llm_api_key_limit_usd",
        MetricType.GAUGE,
        "Spend limit of an API key in USD; absent when the key is unlimited. reset is the "
        "provider's reset period (daily, weekly, monthly, never).",
        ("provider", "account", "api_key", "reset"),
        Scope.LEVEL,
        "openrouter (key, keys)",
    ),
    MetricSpec(
        "llm_api_key_limit_remaining_usd",
        MetricType.GAUGE,
        "What an API key may still spend before its limit, in USD; absent when unlimited.",
        ("provider", "account", "api_key"),
        Scope.LEVEL,
        "openrouter (key, keys)",
    ),
    MetricSpec(
        "llm_api_key_usage_usd",
        MetricType.GAUGE,
        "Spend of an API key in USD over the provider's calendar period (day, week, month: "
        "UTC, weeks start Monday; lifetime). Gauges: they reset on the provider's calendar.",
        ("provider", "account", "api_key", "period"),
        Scope.LEVEL,
        "openrouter (key, keys)",
    ),
    MetricSpec(
        "llm_spend_limit_usd",
        MetricType.GAUGE,
        "Monthly spend limit the provider enforces, in USD; project is empty for the "
        "organisation-wide limit.",
        ("provider", "account", "project"),
        Scope.LEVEL,
        "openai (spend_limits)",
    ),
    MetricSpec(
        "llm_model_price_usd_per_token",
        MetricType.GAUGE,
        "List price in USD per token from the pricing catalog for models in use; tier is "
        "'base' or the long-context tier ('above_200k').",
        ("provider", "model", "token_type", "tier"),
        Scope.LEVEL,
        "pricing catalog (genai-prices, openrouter models, config prices)",
    ),
    MetricSpec(
        "llm_catalog_last_update_timestamp_seconds",
        MetricType.GAUGE,
        "Unix time the pricing catalog source was last updated (bundled genai-prices data: "
        "the date of its newest price change; live sources: last successful fetch; config: "
        "load time).",
        ("source",),
        Scope.HEALTH,
        "pricing catalog",
    ),
    MetricSpec(
        "llm_subscription_cost_usd",
        MetricType.GAUGE,
        "Monthly fee of a flat subscription in USD (monthly_usd times seats), from config.",
        ("provider", "subscription"),
        Scope.CONFIG,
        "config (subscriptions)",
    ),
    MetricSpec(
        "llm_subscription_info",
        MetricType.GAUGE,
        "The subscription plan an account is on; value 1.",
        ("provider", "account", "plan"),
        Scope.INFO,
        "claude_subscription, codex_subscription, gemini_subscription",
    ),
    MetricSpec(
        "llm_quota_utilization_ratio",
        MetricType.GAUGE,
        "Fraction (0-1) of a subscription quota window used, as the vendor reports it.",
        ("provider", "account", "window"),
        Scope.LEVEL,
        "claude_subscription, codex_subscription, gemini_subscription, codex (logs)",
    ),
    MetricSpec(
        "llm_quota_window_seconds",
        MetricType.GAUGE,
        "Length of a subscription quota window in seconds (where known).",
        ("provider", "account", "window"),
        Scope.LEVEL,
        "claude_subscription, codex_subscription, codex (logs)",
    ),
    MetricSpec(
        "llm_quota_resets_at_timestamp_seconds",
        MetricType.GAUGE,
        "Unix time at which a subscription quota window resets.",
        ("provider", "account", "window"),
        Scope.LEVEL,
        "claude_subscription, codex_subscription, gemini_subscription, codex (logs)",
    ),
    MetricSpec(
        "llm_quota_limit_reached",
        MetricType.GAUGE,
        "1 if the vendor reports the quota limit as reached, else 0 (where reported).",
        ("provider", "account", "window"),
        Scope.LEVEL,
        "codex_subscription",
    ),
    MetricSpec(
        "llm_subscription_extra_usage_usd",
        MetricType.GAUGE,
        "Pay-as-you-go usage beyond the plan this month, in USD.",
        ("provider", "account"),
        Scope.LEVEL,
        "claude_subscription (extra_usage)",
    ),
    MetricSpec(
        "llm_subscription_extra_usage_limit_usd",
        MetricType.GAUGE,
        "Monthly limit of pay-as-you-go usage beyond the plan, in USD.",
        ("provider", "account"),
        Scope.LEVEL,
        "claude_subscription (extra_usage)",
    ),
    MetricSpec(
        "llm_subscription_credits",
        MetricType.GAUGE,
        "Credits left on a subscription in the vendor's own credit unit (Codex credits are "
        "priced per million tokens; they are not dollars); absent when unlimited or none.",
        ("provider", "account"),
        Scope.LEVEL,
        "codex_subscription",
    ),
    MetricSpec(
        "llm_credentials_expiry_timestamp_seconds",
        MetricType.GAUGE,
        "Unix time at which the local OAuth access token read by the source expires.",
        ("provider", "account"),
        Scope.HEALTH,
        "claude_subscription, codex_subscription, gemini_subscription",
    ),
    MetricSpec(
        "llm_session_block_start_timestamp_seconds",
        MetricType.GAUGE,
        "Start of the active 5-hour Claude Code block (ccusage's rules); absent when idle.",
        ("provider", "account"),
        Scope.LEVEL,
        "claude_code (logs)",
    ),
    MetricSpec(
        "llm_session_block_end_timestamp_seconds",
        MetricType.GAUGE,
        "End of the active 5-hour Claude Code block (start + 5h).",
        ("provider", "account"),
        Scope.LEVEL,
        "claude_code (logs)",
    ),
    MetricSpec(
        "llm_session_block_tokens",
        MetricType.GAUGE,
        "Tokens used in the active 5-hour Claude Code block by token_type.",
        ("provider", "account", "token_type"),
        Scope.LEVEL,
        "claude_code (logs)",
    ),
    MetricSpec(
        "llm_session_block_estimated_cost_usd",
        MetricType.GAUGE,
        "Estimated cost in USD of the active 5-hour Claude Code block.",
        ("provider", "account"),
        Scope.LEVEL,
        "claude_code (logs)",
    ),
    MetricSpec(
        "llm_log_lines_skipped_total",
        MetricType.COUNTER,
        "Local log lines skipped since the exporter started, by reason (malformed, invalid).",
        ("provider", "account", "reason"),
        Scope.HEALTH,
        "claude_code, codex (logs)",
    ),
    MetricSpec(
        "llm_project_info",
        MetricType.GAUGE,
        "Maps a project (OpenAI project, Anthropic workspace) id to its name; value 1.",
        ("provider", "account", "project", "project_name"),
        Scope.INFO,
        "openai (projects), anthropic (names)",
    ),
    MetricSpec(
        "llm_api_key_info",
        MetricType.GAUGE,
        "Maps an API key id to its name; value 1. Never carries key material.",
        ("provider", "account", "api_key", "api_key_name"),
        Scope.INFO,
        "openai (projects), anthropic (names), openrouter (keys)",
    ),
    MetricSpec(
        "llm_series_folded",
        MetricType.GAUGE,
        "Label sets folded into 'other' values by the max_series cardinality guard.",
        ("provider", "account", "metric"),
        Scope.HEALTH,
        "exporter",
    ),
    MetricSpec(
        "llm_budget_limit_usd",
        MetricType.GAUGE,
        "Configured budget limit in USD for the budget's period.",
        ("budget",),
        Scope.CONFIG,
        "config (budgets)",
    ),
    MetricSpec(
        "llm_budget_spend_usd",
        MetricType.GAUGE,
        "Period-to-date spend in USD within the budget's scope (billed, estimated, or billed "
        "where the provider bills and estimated elsewhere, as the budget's include says).",
        ("budget",),
        Scope.CONFIG,
        "config (budgets) over llm_cost_usd_total and llm_estimated_cost_usd_total",
    ),
    MetricSpec(
        "llm_budget_period_end_timestamp_seconds",
        MetricType.GAUGE,
        "Unix time at which the budget's current period ends.",
        ("budget",),
        Scope.CONFIG,
        "config (budgets)",
    ),
    MetricSpec(
        "llm_source_up",
        MetricType.GAUGE,
        "1 if the last poll of the source succeeded, else 0.",
        _HEALTH,
        Scope.HEALTH,
        "exporter",
    ),
    MetricSpec(
        "llm_source_poll_duration_seconds",
        MetricType.GAUGE,
        "Wall time of the source's last poll, retries included.",
        _HEALTH,
        Scope.HEALTH,
        "exporter",
    ),
    MetricSpec(
        "llm_source_last_success_timestamp_seconds",
        MetricType.GAUGE,
        "Unix time of the source's last successful poll (absent before the first success).",
        _HEALTH,
        Scope.HEALTH,
        "exporter",
    ),
    MetricSpec(
        "llm_upstream_requests_total",
        MetricType.COUNTER,
        "HTTP requests sent to the provider by this process, retries included.",
        _HEALTH,
        Scope.HEALTH,
        "exporter",
    ),
    MetricSpec(
        "llm_upstream_request_failures_total",
        MetricType.COUNTER,
        "Failed provider requests by reason (auth, rate_limited, server_error, client_error, "
        "timeout, connection, invalid_response, credentials).",
        (*_HEALTH, "reason"),
        Scope.HEALTH,
        "exporter",
    ),
    MetricSpec(
        "llm_exporter_build_info",
        MetricType.GAUGE,
        "Exporter build information; value 1.",
        ("version",),
        Scope.HEALTH,
        "exporter",
    ),
)

METRICS: Final[Mapping[str, MetricSpec]] = {spec.name: spec for spec in _SPECS}


def render_markdown() -> str:
    """The metrics reference as Markdown (``docs/metrics.md``)."""
    lines = [
        "# Metrics reference",
        "",
        "Generated from `exporter/contract.py` by `python -m exporter.contract > docs/metrics.md`;",
        "a test fails when this file and the contract disagree.",
        "",
        "Month-to-date counters are recomputed on every poll from the provider's own buckets",
        "since 00:00 UTC on the 1st of the current month (their `_created` time in the",
        "OpenMetrics format) and reset when the month rolls over. A restart or a second replica",
        "exports the same values. Labels a source does not have are the empty string.",
        "",
        "| metric | type | labels | scope | produced by | help |",
        "|---|---|---|---|---|---|",
    ]
    for spec in _SPECS:
        labels = ", ".join(f"`{label}`" for label in spec.labels)
        lines.append(
            f"| `{spec.name}` | {spec.type.value} | {labels} | {spec.scope.value} "
            f"| {spec.produced_by} | {spec.help} |"
        )
    lines += [
        "",
        "## Label vocabulary",
        "",
        "- `provider`: the registry key of the provider (`openai`, `anthropic`, ...).",
        "- `account`: the account's configured `name` (default: the provider name).",
        "- `project`: OpenAI project id; Anthropic workspace id (`default` for the default",
        "  workspace, which the API reports as null). Names are in `llm_project_info`.",
        "- `api_key`: the provider's key *id* (`key_...`, `apikey_...`), never key material;",
        "  Anthropic usage without a key (Console Workbench) is `console`; OpenRouter keys are",
        "  their hash, and `current` is the polling key itself. Names are in",
        '  `llm_api_key_info`. Local logs have no key: `""`.',
        f"- `token_type`: one of {', '.join(f'`{t}`' for t in TOKEN_TYPES)}; disjoint, so",
        "  `sum()` over them is total tokens.",
        "- `source`: one poll unit of an account (`costs`, `usage_completions`, ...).",
        "- `reason`: `auth`, `rate_limited`, `server_error`, `client_error`, `timeout`,",
        "  `connection`, `invalid_response`, `credentials` (a local OAuth credential file is",
        "  missing, unreadable or expired: nothing was sent).",
        f"- `{OTHER}`: the value of every grouped label of label sets folded by `max_series`.",
        "- `balance_type`: a disjoint part of a prepaid balance (`prepaid` for OpenRouter,",
        "  `granted` / `topped_up` for DeepSeek, `voucher` / `cash` for Moonshot); summing",
        "  over it gives what can still be spent. USD and CNY are different metrics.",
        "- `period`: `day`, `week`, `month` (the provider's UTC calendar) or `lifetime`.",
        "- `reset`: the reset period of an API key limit (`daily`, `weekly`, `monthly`, `never`).",
        "- `tier`: `base`, or a long-context tier such as `above_200k` (prices per token above",
        "  that many input tokens in one request).",
        "- `window`: a subscription quota window: `5h`, `7d`, `7d_opus`, `7d_sonnet`, ... from",
        "  a small fixed vocabulary; windows the exporter does not know yet keep the vendor's",
        "  own name, so a new window appears without a release.",
        "- `plan`: the vendor's plan name (`pro`, `max`, `plus`, ...).",
        "- `subscription`: the configured name of a flat subscription fee.",
        "",
        "## Series count",
        "",
        "Per account, each month-to-date metric has at most `max_series` label sets (default",
        "2000), the highest-valued kept and the rest summed into one set whose grouped labels",
        "read `other`. `llm_tokens_total` counts per token type, so its bound is",
        "`4 × max_series`. Upper bound per account: `max_series × (metrics in use + 3)`",
        "plus a handful of health series per source; in practice the product",
        "projects × keys × models actually used.",
        "",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    print(render_markdown(), end="")
