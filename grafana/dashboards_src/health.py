"""LLM / Exporter health: scrapes, provider polls, upstream requests, cardinality."""

from __future__ import annotations

from grafana_foundation_sdk.builders import dashboard as dashboard_builders
from grafana_foundation_sdk.models import common

from .panels import (
    POLL_INTERVAL,
    Filters,
    bargauge_panel,
    new_dashboard,
    provider_account_variables,
    query,
    stat_panel,
    state_timeline_panel,
    thresholds,
    timeseries_panel,
    up_mappings,
)

UID = "llm-exporter-health"
TITLE = "LLM / Exporter health"

F = Filters(["provider", "account"])

#: No business windows: every rate() here uses $__rate_interval.
BUSINESS_WINDOWS: dict[str, str] = {}

#: The scrape job of prometheus/prometheus.yml (the alert rules use the same selector).
JOB = 'job="llm-cost-exporter"'


def _variables() -> list[dashboard_builders.QueryVariable]:
    return provider_account_variables()


def _exporter(board: dashboard_builders.Dashboard) -> dashboard_builders.Dashboard:
    return (
        board.with_row(dashboard_builders.Row("Exporter"))
        .with_panel(
            stat_panel(
                "Exporter scrape",
                "Whether Prometheus scrapes the exporter (up of job llm-cost-exporter); "
                "LLMExporterDown fires after 10 minutes down.",
                "none",
                [query(f"min(up{{{JOB}}})", instant=True)],
                mappings=up_mappings(),
                steps=thresholds((None, "red"), (1, "green")),
            )
        )
        .with_panel(
            stat_panel(
                "Exporter version",
                "Version of the running exporter (llm_exporter_build_info).",
                "none",
                [query("llm_exporter_build_info", "{{version}}", instant=True)],
                text_mode=common.BigValueTextMode.NAME,
            )
        )
        .with_panel(
            stat_panel(
                "Sources up",
                "Sources (poll units such as costs, usage_completions) whose last poll succeeded.",
                "none",
                [query(f"sum({F('llm_source_up')})", instant=True)],
            )
        )
        .with_panel(
            stat_panel(
                "Sources down",
                "Sources whose last poll failed (LLMSourceFailing after 15 minutes).",
                "none",
                [query(f"count({F('llm_source_up')} == 0) or vector(0)", instant=True)],
                steps=thresholds((None, "green"), (1, "red")),
            )
        )
        .with_panel(
            stat_panel(
                "Named projects and API keys",
                "Projects (llm_project_info) and API keys (llm_api_key_info) whose names the "
                "exporter resolved; panels show ids for the others.",
                "none",
                [
                    query(f"count({F('llm_project_info')}) or vector(0)", "projects", instant=True),
                    query(f"count({F('llm_api_key_info')}) or vector(0)", "API keys", instant=True),
                ],
                text_mode=common.BigValueTextMode.VALUE_AND_NAME,
                width=8,
            )
        )
    )


def _sources(board: dashboard_builders.Dashboard) -> dashboard_builders.Dashboard:
    return (
        board.with_row(dashboard_builders.Row("Provider polls"))
        .with_panel(
            state_timeline_panel(
                "Source status",
                "Result of the last poll of every source over time (llm_source_up).",
                [
                    query(
                        f"max by (provider, account, source) ({F('llm_source_up')})",
                        "{{provider}}/{{account}} {{source}}",
                    )
                ],
                mappings=up_mappings(),
            )
        )
        .with_panel(
            timeseries_panel(
                "Time since last successful poll",
                "now − llm_source_last_success_timestamp_seconds per source. Polls run "
                "every 5 minutes by default; LLMSourceStale fires when this stays above 20 "
                "minutes (dashed line) for 10 minutes.",
                "s",
                [
                    query(
                        "time() - max by (provider, account, source) "
                        f"({F('llm_source_last_success_timestamp_seconds')})",
                        "{{provider}}/{{account}} {{source}}",
                    )
                ],
                steps=thresholds((None, "green"), (1200, "red")),
            )
        )
        .with_panel(
            timeseries_panel(
                "Poll duration",
                "Wall time of each source's last poll, retries included "
                "(llm_source_poll_duration_seconds). Close to the poll interval means polls "
                "are about to overlap or hang.",
                "s",
                [
                    query(
                        "max by (provider, account, source) "
                        f"({F('llm_source_poll_duration_seconds')})",
                        "{{provider}}/{{account}} {{source}}",
                    )
                ],
            )
        )
    )


def _upstream(board: dashboard_builders.Dashboard) -> dashboard_builders.Dashboard:
    requests = F("llm_upstream_requests_total")
    failures = F("llm_upstream_request_failures_total")
    return (
        board.with_row(dashboard_builders.Row("Upstream requests"))
        .with_panel(
            timeseries_panel(
                "Upstream requests per second",
                "HTTP requests the exporter sends to provider APIs, retries included, per source.",
                "reqps",
                [
                    query(
                        f"sum by (provider, account, source) (rate({requests}[$__rate_interval]))",
                        "{{provider}}/{{account}} {{source}}",
                    )
                ],
                width=8,
                stacked=True,
                min_interval=POLL_INTERVAL,
            )
        )
        .with_panel(
            timeseries_panel(
                "Upstream failures by reason",
                "Failed provider requests per second by reason: auth (bad or revoked admin "
                "key), rate_limited, server_error, client_error, timeout, connection, "
                "invalid_response.",
                "reqps",
                [
                    query(
                        f"sum by (provider, account, reason) (rate({failures}[$__rate_interval]))",
                        "{{provider}}/{{account}} {{reason}}",
                    )
                ],
                width=8,
                stacked=True,
                min_interval=POLL_INTERVAL,
            )
        )
        .with_panel(
            timeseries_panel(
                "Upstream failure ratio",
                "Share of provider requests that failed, per source.",
                "percentunit",
                [
                    query(
                        f"sum by (provider, account, source) (rate({failures}[$__rate_interval]))"
                        " / sum by (provider, account, source) "
                        f"(rate({requests}[$__rate_interval]) > 0)",
                        "{{provider}}/{{account}} {{source}}",
                    )
                ],
                width=8,
                min_interval=POLL_INTERVAL,
            )
        )
    )


def _cardinality(board: dashboard_builders.Dashboard) -> dashboard_builders.Dashboard:
    return (
        board.with_row(dashboard_builders.Row("Cardinality"))
        .with_panel(
            timeseries_panel(
                "Folded label sets",
                "Label sets the max_series cardinality guard folded into 'other', per "
                "metric (LLMSeriesFolded). Totals stay right; breakdowns lose detail.",
                "short",
                [
                    query(
                        f"max by (provider, account, metric) ({F('llm_series_folded')})",
                        "{{provider}}/{{account}} {{metric}}",
                    )
                ],
            )
        )
        .with_panel(
            bargauge_panel(
                "Series per metric",
                "Number of series of each llm_* metric for the selected accounts: what the "
                "exporter costs Prometheus.",
                "short",
                [
                    query(
                        'sort_desc(count by (__name__) ({__name__=~"llm_.+", '
                        'provider=~"$provider", account=~"$account"}))',
                        "{{__name__}}",
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
        "Is the exporter scraped, are provider sources polled successfully, how do upstream "
        "requests fail, and how many series does it export.",
        time_from="now-24h",
        variables=_variables(),
    )
    board = _exporter(board)
    board = _sources(board)
    board = _upstream(board)
    return _cardinality(board)
