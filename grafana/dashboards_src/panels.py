"""Shared factories for the llm-cost-exporter dashboards (grafana-foundation-sdk, Grafana 11.6).

Every panel and every query goes through these helpers, so the conventions checked by
``tests/stack/test_stack_dashboards.py`` hold by construction:

- every panel and target uses the ``$datasource`` template variable (no ``__inputs``);
- every panel has a description and a unit;
- targets get explicit refIds (A, B, ...);
- label filters come from the metrics contract, so a panel only filters a metric on labels
  it actually has (``llm_cost_usd_total`` has no ``api_key``; a ``$api_key`` filter on it
  would hide everything).
"""

from __future__ import annotations

import json
import string
from collections.abc import Iterable, Sequence

from grafana_foundation_sdk.builders import bargauge, stat, statetimeline, table, timeseries
from grafana_foundation_sdk.builders import common as common_builders
from grafana_foundation_sdk.builders import dashboard as dashboard_builders
from grafana_foundation_sdk.builders import prometheus as prometheus_builders
from grafana_foundation_sdk.cog.encoder import JSONEncoder
from grafana_foundation_sdk.models import common, dashboard

from exporter.contract import METRICS

#: Every panel and target points at the dashboard's data source variable.
DATASOURCE = dashboard.DataSourceRef(type_val="prometheus", uid="${datasource}")
#: Tag shared by all dashboards of this project (dashboard links use it).
TAG = "llm-cost-exporter"
#: Providers are polled every 5m: shorter rate windows only show poll steps.
POLL_INTERVAL = "5m"

#: Labels of recording rules that are not in the contract (prometheus/rules/*.rules.yml).
RECORDED_LABELS: dict[str, tuple[str, ...]] = {
    "provider_account:llm_cost_usd_total:sum": ("provider", "account"),
    "provider_account:llm_cost_usd:increase1h": ("provider", "account"),
    "provider_account:llm_cost_usd:increase1h_avg7d": ("provider", "account"),
    "provider_account:llm_cost_usd:forecast_month_end": ("provider", "account"),
    "provider_account:llm_estimated_cost_usd_total:sum": ("provider", "account"),
    "provider_account:llm_estimated_cost_usd:rate1h": ("provider", "account"),
    "provider_account:llm_estimated_cost_usd:forecast_month_end": ("provider", "account"),
    "budget:llm_budget_spend_usd:ratio_limit": ("budget",),
    "budget:llm_budget_spend_usd:forecast_period_end": ("budget",),
    "provider_account_currency:llm_credit_balance:sum": ("provider", "account", "currency"),
    "provider_account_currency:llm_credit_balance:burn_rate1d": ("provider", "account", "currency"),
    "provider_account_currency:llm_credit_balance:runway": ("provider", "account", "currency"),
    "provider_account_api_key:llm_api_key_limit_usd:used_ratio": ("provider", "account", "api_key"),
    "provider_account_project:llm_spend_limit_usd:used_ratio": ("provider", "account", "project"),
    "provider_account_window:llm_quota_window_seconds:elapsed_ratio": (
        "provider",
        "account",
        "window",
    ),
    "provider_account_window:llm_quota_utilization_ratio:projected_at_reset": (
        "provider",
        "account",
        "window",
    ),
    "provider_model_token_type_tier:llm_model_price_usd_per_token:change1d": (
        "provider",
        "model",
        "token_type",
        "tier",
    ),
}

#: Grafana's custom currency unit for CNY balances (there is no built-in yuan unit).
UNIT_CNY = "currency:CN¥"


# --- selectors and variables ---------------------------------------------------------------


class Filters:
    """Builds metric selectors filtered by the dashboard's label variables."""

    def __init__(self, variables: Sequence[str]) -> None:
        self.variables = tuple(variables)

    def labels_of(self, metric: str) -> tuple[str, ...]:
        if metric in METRICS:
            return METRICS[metric].labels
        return RECORDED_LABELS[metric]

    def __call__(self, metric: str, *extra: str) -> str:
        """``metric{label=~"$label", ...}`` for the variables the metric has a label for."""
        labels = self.labels_of(metric)
        matchers = [f'{name}=~"${name}"' for name in self.variables if name in labels]
        matchers.extend(extra)
        return f"{metric}{{{', '.join(matchers)}}}" if matchers else metric


def datasource_variable() -> dashboard_builders.DatasourceVariable:
    return (
        dashboard_builders.DatasourceVariable("datasource")
        .label("Data source")
        .description("Prometheus (or Mimir, Thanos, VictoriaMetrics) holding llm_* metrics.")
        .type("prometheus")
    )


def label_variable(
    name: str, label: str, metric: str, filters: Filters, description: str
) -> dashboard_builders.QueryVariable:
    """Multi-value ``label_values()`` variable with an *All* option matching everything."""
    return (
        dashboard_builders.QueryVariable(name)
        .label(label)
        .description(description)
        .datasource(DATASOURCE)
        .query(f"label_values({filters(metric)}, {name})")
        .refresh(dashboard.VariableRefresh.ON_TIME_RANGE_CHANGED)
        .sort(dashboard.VariableSort.ALPHABETICAL_CASE_INSENSITIVE_ASC)
        .multi(True)
        .include_all(True)
        .all_value(".*")
    )


def textbox_variable(
    name: str, label: str, default: str, description: str
) -> dashboard_builders.TextBoxVariable:
    """A free-text variable (a regular expression the user may edit)."""
    return (
        dashboard_builders.TextBoxVariable(name)
        .label(label)
        .description(description)
        .default_value(default)
        .current(dashboard.VariableOption(selected=True, text=default, value=default))
    )


def provider_account_variables() -> list[dashboard_builders.QueryVariable]:
    """The ``provider`` and ``account`` variables every dashboard starts with."""
    return [
        label_variable(
            "provider",
            "Provider",
            "llm_source_up",
            Filters([]),
            "Provider registry key (openai, anthropic, ...).",
        ),
        label_variable(
            "account",
            "Account",
            "llm_source_up",
            Filters(["provider"]),
            "Configured account name of the provider.",
        ),
    ]


# --- queries ---------------------------------------------------------------------------------


def query(
    expr: str, legend: str | None = None, *, instant: bool = False, table_format: bool = False
) -> prometheus_builders.Dataquery:
    q = prometheus_builders.Dataquery().expr(expr).datasource(DATASOURCE)
    if legend is not None:
        q = q.legend_format(legend)
    q = q.instant() if instant else q.range()
    if table_format:
        q = q.format("table")  # type: ignore[arg-type]
    return q


def _with_targets(panel, targets: Sequence[prometheus_builders.Dataquery]):  # type: ignore[no-untyped-def]
    for ref_id, target in zip(string.ascii_uppercase, targets, strict=False):
        panel = panel.with_target(target.ref_id(ref_id))
    return panel


def with_project_name(expr: str, info_selector: str) -> str:
    """Adds ``project_name`` from ``llm_project_info``; keeps projects without a name."""
    keys = "provider, account, project"
    return (
        f"({expr} * on ({keys}) group_left (project_name) "
        f"max by ({keys}, project_name) ({info_selector}))"
        f" or on ({keys}) {expr}"
    )


def with_api_key_name(expr: str, info_selector: str) -> str:
    """Adds ``api_key_name`` from ``llm_api_key_info``; keeps keys without a name."""
    keys = "provider, account, api_key"
    return (
        f"({expr} * on ({keys}) group_left (api_key_name) "
        f"max by ({keys}, api_key_name) ({info_selector}))"
        f" or on ({keys}) {expr}"
    )


# --- thresholds and mappings -----------------------------------------------------------------


def thresholds(*steps: tuple[float | None, str]) -> dashboard_builders.ThresholdsConfig:
    return (
        dashboard_builders.ThresholdsConfig()
        .mode(dashboard.ThresholdsMode.ABSOLUTE)
        .steps([dashboard.Threshold(value=value, color=color) for value, color in steps])
    )


def neutral_thresholds() -> dashboard_builders.ThresholdsConfig:
    return thresholds((None, "green"))


def ratio_thresholds() -> dashboard_builders.ThresholdsConfig:
    """Budget colours: orange from 80% (LLMBudgetSpendHigh warning), red from 100%."""
    return thresholds((None, "green"), (0.8, "orange"), (1, "red"))


def limit_thresholds() -> dashboard_builders.ThresholdsConfig:
    """Provider limits and quota windows: orange from 90% (the alerts' warning), red at 100%."""
    return thresholds((None, "green"), (0.9, "orange"), (1, "red"))


def up_mappings() -> list[dashboard.ValueMapping]:
    return [
        dashboard.ValueMap(
            options={
                "0": dashboard.ValueMappingResult(text="DOWN", color="red", index=0),
                "1": dashboard.ValueMappingResult(text="UP", color="green", index=1),
            }
        )
    ]


def dashed_line() -> list[dashboard.DynamicConfigValue]:
    """Field overrides drawing a series as an unfilled dashed line (forecasts, averages)."""
    return [
        dashboard.DynamicConfigValue(
            id_val="custom.lineStyle", value={"dash": [10, 10], "fill": "dash"}
        ),
        dashboard.DynamicConfigValue(id_val="custom.fillOpacity", value=0),
    ]


def _reduce_last() -> common_builders.ReduceDataOptions:
    return common_builders.ReduceDataOptions().calcs(["lastNotNull"]).values(False)


def _legend(*, table_mode: bool = False) -> common_builders.VizLegendOptions:
    legend = (
        common_builders.VizLegendOptions()
        .show_legend(True)
        .placement(common.LegendPlacement.BOTTOM)
        .display_mode(
            common.LegendDisplayMode.TABLE if table_mode else common.LegendDisplayMode.LIST
        )
    )
    if table_mode:
        legend = legend.calcs(["lastNotNull", "max"]).sort_by("Last *").sort_desc(True)
    return legend


# --- panels ----------------------------------------------------------------------------------


def stat_panel(
    title: str,
    description: str,
    unit: str,
    targets: Sequence[prometheus_builders.Dataquery],
    *,
    width: int = 4,
    height: int = 4,
    steps: dashboard_builders.ThresholdsConfig | None = None,
    mappings: list[dashboard.ValueMapping] | None = None,
    text_mode: common.BigValueTextMode = common.BigValueTextMode.AUTO,
    decimals: float | None = None,
) -> stat.Panel:
    panel = (
        stat.Panel()
        .title(title)
        .description(description)
        .unit(unit)
        .datasource(DATASOURCE)
        .span(width)
        .height(height)
        .reduce_options(_reduce_last())
        .graph_mode(common.BigValueGraphMode.NONE)
        .color_mode(common.BigValueColorMode.VALUE)
        .text_mode(text_mode)
        .thresholds(steps or neutral_thresholds())
    )
    if mappings:
        panel = panel.mappings(mappings)
    if decimals is not None:
        panel = panel.decimals(decimals)
    return _with_targets(panel, targets)


def timeseries_panel(
    title: str,
    description: str,
    unit: str,
    targets: Sequence[prometheus_builders.Dataquery],
    *,
    width: int = 12,
    height: int = 8,
    stacked: bool = False,
    bars: bool = False,
    min_interval: str | None = None,
    steps: dashboard_builders.ThresholdsConfig | None = None,
    soft_min: float | None = 0,
) -> timeseries.Panel:
    panel = (
        timeseries.Panel()
        .title(title)
        .description(description)
        .unit(unit)
        .datasource(DATASOURCE)
        .span(width)
        .height(height)
        .legend(_legend(table_mode=True))
        .tooltip(
            common_builders.VizTooltipOptions()
            .mode(common.TooltipDisplayMode.MULTI)
            .sort(common.SortOrder.DESCENDING)
        )
        .fill_opacity(80 if bars else 10)
        .line_width(1)
    )
    if soft_min is not None:
        panel = panel.axis_soft_min(soft_min)
    if stacked:
        panel = panel.stacking(common_builders.StackingConfig().mode(common.StackingMode.NORMAL))
    if bars:
        panel = panel.draw_style(common.GraphDrawStyle.BARS).bar_alignment(
            common.BarAlignment.BEFORE
        )
    if min_interval is not None:
        panel = panel.interval(min_interval)
    if steps is not None:
        panel = panel.thresholds(steps).thresholds_style(
            common_builders.GraphThresholdsStyleConfig().mode(
                common.GraphThresholdsStyleMode.DASHED
            )
        )
    return _with_targets(panel, targets)


def bargauge_panel(
    title: str,
    description: str,
    unit: str,
    targets: Sequence[prometheus_builders.Dataquery],
    *,
    width: int = 12,
    height: int = 8,
    steps: dashboard_builders.ThresholdsConfig | None = None,
    min_val: float | None = 0,
    max_val: float | None = None,
) -> bargauge.Panel:
    panel = (
        bargauge.Panel()
        .title(title)
        .description(description)
        .unit(unit)
        .datasource(DATASOURCE)
        .span(width)
        .height(height)
        .orientation(common.VizOrientation.HORIZONTAL)
        .display_mode(common.BarGaugeDisplayMode.GRADIENT)
        .reduce_options(_reduce_last())
        .thresholds(steps or neutral_thresholds())
    )
    if min_val is not None:
        panel = panel.min(min_val)
    if max_val is not None:
        panel = panel.max(max_val)
    return _with_targets(panel, targets)


def table_panel(
    title: str,
    description: str,
    unit: str,
    targets: Sequence[prometheus_builders.Dataquery],
    *,
    rename: dict[str, str],
    units_by_query: dict[str, str] | None = None,
    width: int = 12,
    height: int = 8,
) -> table.Panel:
    """Instant queries in table format, merged on their labels into one row per series."""
    panel = (
        table.Panel()
        .title(title)
        .description(description)
        .unit(unit)
        .datasource(DATASOURCE)
        .span(width)
        .height(height)
        .with_transformation(dashboard.DataTransformerConfig(id_val="merge", options={}))
        .with_transformation(
            dashboard.DataTransformerConfig(
                id_val="organize",
                options={
                    "excludeByName": {"Time": True, "job": True, "instance": True},
                    "renameByName": rename,
                },
            )
        )
    )
    for ref_id, field_unit in (units_by_query or {}).items():
        panel = panel.override_by_name(
            rename[f"Value #{ref_id}"],
            [dashboard.DynamicConfigValue(id_val="unit", value=field_unit)],
        )
    return _with_targets(panel, targets)


def state_timeline_panel(
    title: str,
    description: str,
    targets: Sequence[prometheus_builders.Dataquery],
    *,
    mappings: list[dashboard.ValueMapping],
    width: int = 24,
    height: int = 8,
) -> statetimeline.Panel:
    panel = (
        statetimeline.Panel()
        .title(title)
        .description(description)
        .unit("none")
        .datasource(DATASOURCE)
        .span(width)
        .height(height)
        .mappings(mappings)
        .show_value(common.VisibilityMode.NEVER)
        .merge_values(True)
        .thresholds(thresholds((None, "red"), (1, "green")))
    )
    return _with_targets(panel, targets)


# --- dashboards ------------------------------------------------------------------------------


def new_dashboard(
    uid: str,
    title: str,
    description: str,
    *,
    time_from: str,
    variables: Iterable[dashboard_builders.QueryVariable | dashboard_builders.TextBoxVariable],
) -> dashboard_builders.Dashboard:
    board = (
        dashboard_builders.Dashboard(title)
        .uid(uid)
        .description(description)
        .tags([TAG])
        .timezone("utc")
        .time(time_from, "now")
        .refresh(POLL_INTERVAL)
        .tooltip(dashboard.DashboardCursorSync.CROSSHAIR)
        .link(
            dashboard_builders.DashboardLink("LLM dashboards")
            .type(dashboard.DashboardLinkType.DASHBOARDS)
            .tags([TAG])
            .as_dropdown(True)
            .include_vars(True)
            .keep_time(True)
        )
        .with_variable(datasource_variable())
    )
    for variable in variables:
        board = board.with_variable(variable)
    return board


def render(board: dashboard_builders.Dashboard) -> str:
    """Stable JSON for a dashboard: panel ids numbered in layout order, sorted keys."""
    model = board.build()
    next_id = 1
    for panel in model.panels or []:
        panel.id_val = next_id
        next_id += 1
        for nested in getattr(panel, "panels", None) or []:
            nested.id_val = next_id
            next_id += 1
    return json.dumps(model, cls=JSONEncoder, sort_keys=True, indent=2) + "\n"
