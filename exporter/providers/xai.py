"""xAI: the Management API's team billing (prepaid balance and daily spend).

Credential
    A **Management key** (xAI Console → Settings → Management Keys, with billing read
    access), discovered from ``XAI_MANAGEMENT_KEY``; inference API keys are rejected. Sent as
    ``Authorization: Bearer <key>``. The account must also set ``options.team_id`` (the team
    id shown in the console URL and team settings): every billing endpoint is per team. An
    account without it (e.g. one discovered from the environment alone, which has no
    options) starts, and its sources report themselves unavailable naming the fix.

Endpoints called (base ``https://management-api.x.ai``; ``{team}`` is ``options.team_id``)
    * ``GET /v1/billing/teams/{team}/prepaid/balance`` (source ``balance``) →
      ``{"total": {"val": "-1000"}}``.
    * ``GET /auth/management-keys/validation`` as the credential check (the check is given
      no account options, so it validates the key, not the team id).
    * ``POST /v1/billing/teams/{team}/usage`` (source ``usage``) with the body
      ``{"analyticsRequest": {"timeRange": {"startTime": "<1st of the month> 00:00:00",
      "endTime": "<now>", "timezone": "Etc/GMT"}, "timeUnit": "TIME_UNIT_DAY", "values":
      [{"name": "usd", "aggregation": "AGGREGATION_SUM"}], "groupBy": [], "filters": []}}``
      → ``{"timeSeries": [{"dataPoints": [{"timestamp": "<RFC 3339>", "values": [3.17]}]}],
      "limitReached": false}``.

Series
    * ``balance`` → ``llm_credit_balance_usd{balance_type="prepaid"}``. ``total.val`` is a
      decimal string of **cents** in a sign-inverted ledger (a $10 top-up reads ``"-1000"``),
      so the balance is ``-val / 100``, exactly; a team in deficit shows a negative balance. A
      response without a total fails the poll (never a silent $0). It is the *posted* ledger:
      mid-cycle it can exceed the console's live remaining credit by the cycle's not yet
      posted spend.
    * ``usage`` → ``llm_cost_usd_total`` (billed), one record per UTC day; ``values[0]`` is
      USD (a JSON number or numeric string). ``project``, ``model`` and ``line_item`` are
      ``""``: the API's ``groupBy`` dimension names are not documented, so no split is asked
      for. ``limitReached: true`` (the result was truncated) fails the poll rather than under-
      report spend. Days with a zero or empty value add nothing.

Blind spots
    * The sign convention of the balance was verified against a live account by one client
      only (CodexBar).
    * No per-model or per-key cost, no token counts (the usage API's other value names are not
      documented).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, Final
from urllib.parse import quote

from pydantic import BaseModel, ConfigDict, field_validator

from exporter.errors import InvalidResponseError, SourceUnavailable
from exporter.parsing import as_decimal, as_list, as_mapping, as_rfc3339
from exporter.providers.base import ProviderSpec, SourceContext
from exporter.records import CostRecord, Record, gauge
from exporter.upstream import Upstream

BALANCE_PATH: Final = "/v1/billing/teams/{team_id}/prepaid/balance"
USAGE_PATH: Final = "/v1/billing/teams/{team_id}/usage"
KEY_VALIDATION_PATH: Final = "/auth/management-keys/validation"

NO_TEAM_ID: Final = (
    "options.team_id is not set: add the xAI team id (console URL or team settings) to the "
    "account in the config file"
)


class XaiOptions(BaseModel):
    """``options:`` of an xAI account."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    #: The team whose billing is read (xAI Console URL / team settings). Needed by every
    #: source; optional here only because accounts discovered from the environment have no
    #: options (they must not stop the exporter from starting).
    team_id: str | None = None

    @field_validator("team_id")
    @classmethod
    def _not_blank(cls, value: str | None) -> str | None:
        if value is not None and not value.strip():
            raise ValueError("expected the xAI team id (console URL or team settings)")
        return None if value is None else value.strip()


def _team_path(template: str, options: BaseModel) -> str:
    team_id = options.team_id if isinstance(options, XaiOptions) else None
    if team_id is None:
        raise SourceUnavailable(NO_TEAM_ID)
    return template.format(team_id=quote(team_id, safe=""))


# --------------------------------------------------------------------------- pure parsers


def parse_balance(body: Any) -> Decimal:
    """Remaining prepaid credit in USD from the sign-inverted cents ledger."""
    page = as_mapping(body, "prepaid_balance")
    if page.get("total") is None:
        raise InvalidResponseError("prepaid_balance.total: missing (no balance reported)")
    total = as_mapping(page["total"], "prepaid_balance.total")
    cents = as_decimal(total.get("val"), "prepaid_balance.total.val", null=None)
    return (-cents).scaleb(-2)  # negating a zero gives +0: never a "-0" balance


def parse_usage(body: Any) -> list[CostRecord]:
    """Billed USD per day of one usage response (zero days dropped)."""
    page = as_mapping(body, "usage")
    if page.get("limitReached") is True:
        raise InvalidResponseError(
            "usage.limitReached: the result was truncated (spend would be under-reported)"
        )
    by_day: dict[datetime, Decimal] = {}
    series_list = as_list(page.get("timeSeries"), "usage.timeSeries")
    for i, raw_series in enumerate(series_list):
        where = f"usage.timeSeries[{i}]"
        series = as_mapping(raw_series, where)
        for j, raw_point in enumerate(as_list(series.get("dataPoints"), f"{where}.dataPoints")):
            path = f"{where}.dataPoints[{j}]"
            point = as_mapping(raw_point, path)
            day = as_rfc3339(point.get("timestamp"), f"{path}.timestamp")
            values = as_list(point.get("values"), f"{path}.values")
            if len(values) > 1:
                raise InvalidResponseError(f"{path}.values: expected one value (usd)")
            amount = as_decimal(values[0], f"{path}.values[0]") if values else Decimal(0)
            if amount:
                by_day[day] = by_day.get(day, Decimal(0)) + amount
    return [CostRecord(day, "", "", "", amount) for day, amount in sorted(by_day.items())]


def usage_request(start: datetime, end: datetime) -> Mapping[str, Any]:
    """The analytics request for daily USD spend from ``start`` to ``end`` (UTC)."""

    def utc(moment: datetime) -> str:
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
        return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S")

    return {
        "analyticsRequest": {
            "timeRange": {"startTime": utc(start), "endTime": utc(end), "timezone": "Etc/GMT"},
            "timeUnit": "TIME_UNIT_DAY",
            "values": [{"name": "usd", "aggregation": "AGGREGATION_SUM"}],
            "groupBy": [],
            "filters": [],
        }
    }


# --------------------------------------------------------------------------- sources


async def fetch_balance(ctx: SourceContext) -> list[Record]:
    body = await ctx.upstream.get_json(_team_path(BALANCE_PATH, ctx.options))
    try:
        balance = parse_balance(body)
    except InvalidResponseError:
        ctx.upstream.stats.failures["invalid_response"] += 1
        raise
    return [gauge("llm_credit_balance_usd", balance, balance_type="prepaid")]


async def fetch_usage(ctx: SourceContext) -> list[Record]:
    path = _team_path(USAGE_PATH, ctx.options)
    body = await ctx.upstream.post_json(path, usage_request(ctx.start, ctx.end))
    try:
        return list(parse_usage(body))
    except InvalidResponseError:
        ctx.upstream.stats.failures["invalid_response"] += 1
        raise


def auth_headers(key: str) -> Mapping[str, str]:
    return {"Authorization": f"Bearer {key}"}


async def check(upstream: Upstream) -> None:
    """Validate the management key (needs no team id and no ACL).

    The check gets no account options, so it cannot read the team's billing; a wrong
    ``team_id`` shows up as a 404 of the sources instead.
    """
    body = await upstream.get_json(KEY_VALIDATION_PATH)
    if not isinstance(body, Mapping):
        upstream.stats.failures["invalid_response"] += 1
        raise InvalidResponseError(f"GET {KEY_VALIDATION_PATH}: expected a JSON object")


PROVIDER: Final = ProviderSpec(
    name="xai",
    title="xAI Management API: prepaid balance and daily billed spend",
    default_base_url="https://management-api.x.ai",
    env_var="XAI_MANAGEMENT_KEY",
    key_hint=(
        "an xAI Management key (xAI Console → Settings → Management Keys, with billing read "
        "access) plus options.team_id; inference API keys are rejected"
    ),
    auth_headers=auth_headers,
    sources={"balance": fetch_balance, "usage": fetch_usage},
    check=check,
    options=XaiOptions,
    billed_sources=frozenset({"usage"}),
    env_options={"team_id": "XAI_TEAM_ID"},
)
