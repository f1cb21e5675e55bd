"""Anthropic: the organization Admin API (Usage & Cost report, workspace and API key names).

Credential
    An **Admin key** (``sk-ant-admin01-...``), discovered from ``ANTHROPIC_ADMIN_KEY``. Only an
    organization admin can create one (Claude Console → Settings → Admin keys). Ordinary
    ``sk-ant-api03-...`` keys are rejected, and individual (non-organization) accounts have no
    Admin API at all. Sent as ``x-api-key`` with ``anthropic-version: 2023-06-01``.

Endpoints called (all ``GET`` on ``https://api.anthropic.com``)
    * ``/v1/organizations/usage_report/messages`` (source ``usage_messages``):
      ``starting_at=<1st of the month, 00:00 UTC>``, ``bucket_width=1d``, ``limit=31``, no
      ``ending_at`` (31 daily buckets from the 1st cover the month up to now); ``group_by[]`` is
      ``workspace_id`` / ``api_key_id`` / ``model`` for the account's ``project`` / ``api_key`` /
      ``model`` dimensions. Paginated with ``page=<next_page>``.
    * ``/v1/organizations/cost_report`` (source ``cost_report``): same window, ``bucket_width=1d``,
      ``limit=31``, ``group_by[]=workspace_id`` when grouping by ``project`` and always
      ``group_by[]=description`` (it is what fills in ``model``). Paginated with ``page``.
    * ``/v1/organizations/workspaces?limit=100&include_archived=true`` and
      ``/v1/organizations/api_keys?limit=100`` (source ``names``), paginated with
      ``after_id=<last_id>`` while ``has_more``.
    * ``/v1/organizations/workspaces?limit=1`` as the credential check.

Series
    * ``usage_messages`` → ``llm_tokens_total`` (``input`` = uncached input tokens,
      ``cache_read``, ``cache_write`` = 5-minute + 1-hour cache writes, ``output``) and
      ``llm_web_search_calls_total`` (``server_tool_use.web_search_requests``).
    * ``cost_report`` → ``llm_cost_usd_total``. ``amount`` is a decimal string in **cents**,
      divided by 100 exactly; any currency other than USD fails the poll (currencies are never
      mixed). ``line_item`` is the report's ``description`` when grouping by ``line_item``.
      Several results may map to one label set (e.g. service tiers): all are kept and summed.
    * ``names`` → ``llm_project_info`` (workspaces, archived included, plus ``default`` →
      "Default workspace") and ``llm_api_key_info`` (keys of every status, plus ``console`` →
      "Console (no API key)"). The key's ``partial_key_hint`` is never read.

Label values
    When grouped by workspace, ``workspace_id: null`` is the default workspace → project
    ``default``; when grouped by API key, ``api_key_id: null`` is Console/Workbench usage → api_key
    ``console``; a dimension the account does not group by is ``""``. Usage results whose counts
    are all zero produce no record (the buckets' empty intervals add nothing either).

Blind spots (documented by Anthropic)
    * Priority Tier cost is never in the cost report; its tokens do appear in usage
      (``service_tier=priority``), so cost and usage disagree for Priority Tier traffic.
    * Code execution appears in the cost report only (no usage counts).
    * The cost report has no API key dimension: ``llm_cost_usd_total`` has no per-key split.
    * Data usually lags requests by about 5 minutes.
"""

from __future__ import annotations

from collections.abc import Mapping
from collections.abc import Set as AbstractSet
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, Final

from exporter.errors import InvalidResponseError
from exporter.parsing import (
    as_count,
    as_decimal,
    as_label,
    as_list,
    as_mapping,
    as_rfc3339,
)
from exporter.providers.base import ProviderSpec, SourceContext
from exporter.records import (
    ApiKeyInfo,
    CostRecord,
    CountRecord,
    CountUnit,
    ProjectInfo,
    Record,
    TokenRecord,
)
from exporter.upstream import QueryParams, Upstream, last_id_cursor

ANTHROPIC_VERSION: Final = "2023-06-01"

USAGE_PATH: Final = "/v1/organizations/usage_report/messages"
COST_PATH: Final = "/v1/organizations/cost_report"
WORKSPACES_PATH: Final = "/v1/organizations/workspaces"
API_KEYS_PATH: Final = "/v1/organizations/api_keys"

#: Daily buckets per page: 31 from the 1st cover any month up to now in one page.
BUCKETS_PER_PAGE: Final = "31"
#: Items per page of the workspace and API key listings.
LIST_PAGE_SIZE: Final = "100"

#: Label value of the default workspace (``workspace_id: null``).
DEFAULT_WORKSPACE: Final = "default"
#: Label value of usage without an API key (Console Workbench; ``api_key_id: null``).
CONSOLE_KEY: Final = "console"

#: Account dimension → usage report ``group_by[]`` value, in request order.
_USAGE_GROUP_BY: Final = (
    ("project", "workspace_id"),
    ("api_key", "api_key_id"),
    ("model", "model"),
)


# --------------------------------------------------------------------------- request helpers


def _rfc3339(moment: datetime) -> str:
    """``YYYY-MM-DDTHH:MM:SSZ`` in UTC (naive times are taken as UTC)."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def usage_params(start: datetime, group_by: AbstractSet[str]) -> list[tuple[str, str]]:
    """Query of the messages usage report for the window starting at ``start``."""
    params = [
        ("starting_at", _rfc3339(start)),
        ("bucket_width", "1d"),
        ("limit", BUCKETS_PER_PAGE),
    ]
    params += [("group_by[]", field) for dim, field in _USAGE_GROUP_BY if dim in group_by]
    return params


def cost_params(start: datetime, group_by: AbstractSet[str]) -> list[tuple[str, str]]:
    """Query of the cost report for the window starting at ``start``."""
    params = [
        ("starting_at", _rfc3339(start)),
        ("bucket_width", "1d"),
        ("limit", BUCKETS_PER_PAGE),
    ]
    if "project" in group_by:
        params.append(("group_by[]", "workspace_id"))
    params.append(("group_by[]", "description"))
    return params


# --------------------------------------------------------------------------- pure parsers


def _buckets(page: Any, where: str) -> list[tuple[datetime, str, list[Mapping[str, Any]]]]:
    """``(start, path, results)`` of each bucket of a report page."""
    body = as_mapping(page, where)
    buckets = []
    for i, raw_bucket in enumerate(as_list(body.get("data"), f"{where}.data", null_ok=False)):
        path = f"{where}.data[{i}]"
        bucket = as_mapping(raw_bucket, path)
        start = as_rfc3339(bucket.get("starting_at"), f"{path}.starting_at")
        raw_results = as_list(bucket.get("results"), f"{path}.results", null_ok=False)
        results = [
            as_mapping(result, f"{path}.results[{j}]") for j, result in enumerate(raw_results)
        ]
        buckets.append((start, path, results))
    return buckets


def _optional_object(value: Any, where: str) -> Mapping[str, Any]:
    """A nested object that may be null or absent (→ empty)."""
    return {} if value is None else as_mapping(value, where)


def _dimension(
    result: Mapping[str, Any], field: str, where: str, *, grouped: bool, null: str
) -> str:
    """Label of a dimension: ``""`` unless grouped; ``null`` stands for a null/absent id."""
    if not grouped:
        return ""
    return as_label(result.get(field), f"{where}.{field}", null=null)


def parse_usage_page(page: Any, group_by: AbstractSet[str]) -> list[Record]:
    """Token and web search records of one messages usage report page.

    Results whose counts are all zero are skipped; the web search count only when non-zero.
    """
    records: list[Record] = []
    for start, bucket_path, results in _buckets(page, "usage_report"):
        for j, result in enumerate(results):
            where = f"{bucket_path}.results[{j}]"
            project = _dimension(
                result,
                "workspace_id",
                where,
                grouped="project" in group_by,
                null=DEFAULT_WORKSPACE,
            )
            api_key = _dimension(
                result, "api_key_id", where, grouped="api_key" in group_by, null=CONSOLE_KEY
            )
            model = _dimension(result, "model", where, grouped="model" in group_by, null="")
            cache = _optional_object(result.get("cache_creation"), f"{where}.cache_creation")
            tools = _optional_object(result.get("server_tool_use"), f"{where}.server_tool_use")
            tokens = TokenRecord(
                start=start,
                project=project,
                api_key=api_key,
                model=model,
                input=as_count(
                    result.get("uncached_input_tokens"), f"{where}.uncached_input_tokens"
                ),
                cache_read=as_count(
                    result.get("cache_read_input_tokens"), f"{where}.cache_read_input_tokens"
                ),
                cache_write_5m=as_count(
                    cache.get("ephemeral_5m_input_tokens"),
                    f"{where}.cache_creation.ephemeral_5m_input_tokens",
                ),
                cache_write_1h=as_count(
                    cache.get("ephemeral_1h_input_tokens"),
                    f"{where}.cache_creation.ephemeral_1h_input_tokens",
                ),
                output=as_count(result.get("output_tokens"), f"{where}.output_tokens"),
            )
            web_searches = as_count(
                tools.get("web_search_requests"), f"{where}.server_tool_use.web_search_requests"
            )
            if tokens.input or tokens.cache_read or tokens.cache_write or tokens.output:
                records.append(tokens)
            if web_searches:
                records.append(
                    CountRecord(
                        start=start,
                        unit=CountUnit.WEB_SEARCH_CALLS,
                        project=project,
                        api_key=api_key,
                        model=model,
                        value=Decimal(web_searches),
                    )
                )
    return records


def cents_to_usd(cents: Decimal, where: str) -> Decimal:
    """Exactly ``cents / 100`` (the exponent shifts; no context rounding or overflow)."""
    sign, digits, exponent = cents.as_tuple()
    if not isinstance(exponent, int):  # NaN or infinity; as_decimal already rejects them
        raise InvalidResponseError(f"{where}: not a finite number")
    return Decimal((sign, digits, exponent - 2))


def _check_usd(value: Any, where: str) -> None:
    if isinstance(value, str) and value.strip().upper() == "USD":
        return
    shown = repr(value[:16]) if isinstance(value, str) else type(value).__name__
    raise InvalidResponseError(
        f"{where}: currency {shown} is not USD (amounts in other currencies are not converted)"
    )


def parse_cost_page(page: Any, group_by: AbstractSet[str]) -> list[CostRecord]:
    """Cost records of one cost report page; results with the same labels are all kept."""
    records: list[CostRecord] = []
    for start, bucket_path, results in _buckets(page, "cost_report"):
        for j, result in enumerate(results):
            where = f"{bucket_path}.results[{j}]"
            _check_usd(result.get("currency"), f"{where}.currency")
            cents = as_decimal(result.get("amount"), f"{where}.amount", null=None)
            records.append(
                CostRecord(
                    start=start,
                    project=_dimension(
                        result,
                        "workspace_id",
                        where,
                        grouped="project" in group_by,
                        null=DEFAULT_WORKSPACE,
                    ),
                    model=_dimension(result, "model", where, grouped="model" in group_by, null=""),
                    line_item=_dimension(
                        result, "description", where, grouped="line_item" in group_by, null=""
                    ),
                    amount_usd=cents_to_usd(cents, f"{where}.amount"),
                )
            )
    return records


def _listing_items(page: Any, where: str) -> list[tuple[str, str]]:
    """``(id, name)`` of each item of an Admin API listing page (other fields are not read)."""
    body = as_mapping(page, where)
    items = []
    for i, raw_item in enumerate(as_list(body.get("data"), f"{where}.data", null_ok=False)):
        path = f"{where}.data[{i}]"
        item = as_mapping(raw_item, path)
        item_id = as_label(item.get("id"), f"{path}.id")
        if not item_id:
            raise InvalidResponseError(f"{path}.id: missing id")
        items.append((item_id, as_label(item.get("name"), f"{path}.name")))
    return items


def parse_workspaces_page(page: Any) -> list[ProjectInfo]:
    """Workspace names of one ``/v1/organizations/workspaces`` page."""
    return [ProjectInfo(wid, name) for wid, name in _listing_items(page, "workspaces")]


def parse_api_keys_page(page: Any) -> list[ApiKeyInfo]:
    """API key names of one ``/v1/organizations/api_keys`` page (never the key hint)."""
    return [ApiKeyInfo(kid, name) for kid, name in _listing_items(page, "api_keys")]


# --------------------------------------------------------------------------- sources


async def usage_messages(ctx: SourceContext) -> list[Record]:
    records: list[Record] = []
    async for page in ctx.upstream.paginate(USAGE_PATH, usage_params(ctx.start, ctx.group_by)):
        records += parse_usage_page(page, ctx.group_by)
    return records


async def cost_report(ctx: SourceContext) -> list[Record]:
    records: list[Record] = []
    async for page in ctx.upstream.paginate(COST_PATH, cost_params(ctx.start, ctx.group_by)):
        records += parse_cost_page(page, ctx.group_by)
    return records


async def names(ctx: SourceContext) -> list[Record]:
    records: list[Record] = [ProjectInfo(DEFAULT_WORKSPACE, "Default workspace")]
    workspaces: QueryParams = [("limit", LIST_PAGE_SIZE), ("include_archived", "true")]
    async for page in ctx.upstream.paginate(
        WORKSPACES_PATH, workspaces, cursor_param="after_id", next_cursor=last_id_cursor
    ):
        records += parse_workspaces_page(page)
    records.append(ApiKeyInfo(CONSOLE_KEY, "Console (no API key)"))
    keys: QueryParams = [("limit", LIST_PAGE_SIZE)]
    async for page in ctx.upstream.paginate(
        API_KEYS_PATH, keys, cursor_param="after_id", next_cursor=last_id_cursor
    ):
        records += parse_api_keys_page(page)
    return records


async def check(upstream: Upstream) -> None:
    """One cheap authenticated request: the first workspace."""
    await upstream.get_json(WORKSPACES_PATH, [("limit", "1")])


def auth_headers(key: str) -> Mapping[str, str]:
    return {"x-api-key": key, "anthropic-version": ANTHROPIC_VERSION}


PROVIDER: Final = ProviderSpec(
    name="anthropic",
    title="Anthropic Admin API: token usage, cost report, workspace and API key names",
    default_base_url="https://api.anthropic.com",
    env_var="ANTHROPIC_ADMIN_KEY",
    key_hint=(
        "an Admin key (sk-ant-admin01-...) created by an organization admin in Claude Console → "
        "Settings → Admin keys; ordinary API keys are rejected and individual accounts have no "
        "Admin API"
    ),
    auth_headers=auth_headers,
    sources={"usage_messages": usage_messages, "cost_report": cost_report, "names": names},
    check=check,
    billed_sources=frozenset({"cost_report"}),
)
