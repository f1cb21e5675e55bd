"""OpenAI organization Costs and Usage API.

Credential: an organization **Admin key** (``sk-admin-...``), from the environment variable
``OPENAI_ADMIN_KEY`` or the account config; sent as ``Authorization: Bearer <key>``. Project
(``sk-proj-...``) and service-account keys are rejected by these endpoints.

Endpoints called (all ``GET``, base ``https://api.openai.com``) and the series each source yields:

``costs``
    ``/v1/organization/costs`` with ``start_time`` (00:00 UTC on the 1st), ``bucket_width=1d``,
    ``limit=31``, no ``end_time``, ``group_by[]`` ∈ {``project_id``, ``line_item``} as asked;
    paginated with ``page=<next_page>``. Yields ``llm_cost_usd_total`` (``project``,
    ``line_item``; ``model`` is ``""``). Only ``usd`` amounts are accepted: any other currency
    fails the source instead of mixing currencies. ``line_item`` is an opaque label.
``usage_completions``
    ``/v1/organization/usage/completions``: ``llm_tokens_total`` (disjoint: ``input`` =
    ``input_tokens`` − ``input_cached_tokens`` − ``input_cache_write_tokens``, ``cache_read`` =
    ``input_cached_tokens``, ``cache_write`` = ``input_cache_write_tokens`` as 5-minute writes,
    ``output`` = ``output_tokens``) and ``llm_requests_total`` (``num_model_requests``).
``usage_embeddings``, ``usage_moderations``
    ``/v1/organization/usage/{embeddings,moderations}``: ``llm_tokens_total`` (``input`` only)
    and ``llm_requests_total``.
``usage_images``
    ``/v1/organization/usage/images``: ``llm_images_total`` and ``llm_requests_total``.
``usage_audio_speeches``
    ``/v1/organization/usage/audio_speeches``: ``llm_speech_characters_total`` and
    ``llm_requests_total``.
``usage_audio_transcriptions``
    ``/v1/organization/usage/audio_transcriptions``: ``llm_transcription_seconds_total`` (may
    be fractional) and ``llm_requests_total``.
``usage_vector_stores``
    ``/v1/organization/usage/vector_stores``: ``llm_vector_store_bytes`` per bucket (a level;
    the poller keeps the latest bucket). Grouped by ``project_id`` only.
``usage_code_interpreter_sessions``
    ``/v1/organization/usage/code_interpreter_sessions``:
    ``llm_code_interpreter_sessions_total``. Grouped by ``project_id`` only.
``usage_file_search_calls``
    ``/v1/organization/usage/file_search_calls``: ``llm_file_search_calls_total`` (no
    ``model`` dimension).
``usage_web_search_calls``
    ``/v1/organization/usage/web_search_calls``: ``llm_web_search_calls_total`` only (its
    ``num_model_requests`` are already counted by ``usage_completions``).
``projects``
    ``/v1/organization/projects?limit=100&include_archived=true`` and, per project (at most 4
    at a time), ``/v1/organization/projects/{id}/api_keys?limit=100``, both paginated with
    ``after=<last_id>`` while ``has_more``: ``llm_project_info`` and ``llm_api_key_info``.
    A project whose key listing answers 4xx (deleted or archived) is skipped. Key material
    (``redacted_value``) is never read.
``spend_limits``
    ``/v1/organization/spend_limit`` and, when the account groups by ``project``, per active
    project (listed as ``projects`` does, archived ones left out; at most 4 at a time)
    ``/v1/organization/projects/{id}/spend_limit``: ``llm_spend_limit_usd`` with ``project=""``
    for the organisation and ``project=<id>`` per project. ``threshold_amount`` is integer
    **cents** (divided by 100 exactly); ``currency`` must be ``USD`` and ``interval``, when
    present, ``month``, else the source fails. No series when no limit is set: a 404, a
    null or absent ``threshold_amount``, or ``0`` (the API's "no limit" answer; a configured
    limit is at least 1 cent). The limit is exported whatever its ``enforcement.status``
    (``inactive`` or ``enforcing``); the status itself is not exported.

Usage sources request ``start_time``, ``bucket_width=1d``, ``limit=31`` and ``group_by[]`` from
the account's ``group_by`` (``project``→``project_id``, ``api_key``→``api_key_id``,
``model``→``model``), restricted to the values each endpoint accepts.

Zero rule: a usage or cost record whose values are all zero is not emitted (it would add a
series carrying no information); the one exception is ``llm_vector_store_bytes``, a level for
which zero is a real current value. Null grouping fields become ``""``.

The ``check`` is one ``GET /v1/organization/projects?limit=1``.

Parsing lives in pure functions (``parse_costs_page``, ``parse_usage_page``,
``parse_projects_page``, ``parse_api_keys_page``, ``parse_spend_limit``) that return records or
raise :class:`~exporter.errors.InvalidResponseError` naming the field path; unknown fields are
ignored. A page's ``data`` must be a list; a bucket's ``results`` may be ``null``/absent (empty).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, Final, TypeVar
from urllib.parse import quote

from exporter.errors import InvalidResponseError, UpstreamClientError
from exporter.parsing import as_count, as_decimal, as_label, as_list, as_mapping, as_unix_time
from exporter.providers.base import ProviderSpec, Source, SourceContext
from exporter.records import (
    ApiKeyInfo,
    CostRecord,
    CountRecord,
    CountUnit,
    LevelRecord,
    LevelUnit,
    ProjectInfo,
    Record,
    TokenRecord,
    gauge,
)
from exporter.upstream import QueryParams, Upstream, last_id_cursor

COSTS_PATH: Final = "/v1/organization/costs"
USAGE_PATH: Final = "/v1/organization/usage/{kind}"
PROJECTS_PATH: Final = "/v1/organization/projects"
API_KEYS_PATH: Final = "/v1/organization/projects/{project_id}/api_keys"
ORG_SPEND_LIMIT_PATH: Final = "/v1/organization/spend_limit"
PROJECT_SPEND_LIMIT_PATH: Final = "/v1/organization/projects/{project_id}/spend_limit"

#: Daily buckets per page: 31 cover a month from the 1st.
BUCKET_LIMIT: Final = 31
#: Items per page of the project and key listings (the API's maximum).
LIST_LIMIT: Final = 100
#: Concurrent per-project requests: api_keys listings (``projects``) and spend limits.
KEY_LISTING_CONCURRENCY: Final = 4

#: Account ``group_by`` dimension → the costs endpoint's ``group_by`` value.
_COST_GROUP_BY: Final[Mapping[str, str]] = {"project": "project_id", "line_item": "line_item"}
#: Account ``group_by`` dimension → the usage endpoints' ``group_by`` value.
_USAGE_GROUP_BY: Final[Mapping[str, str]] = {
    "project": "project_id",
    "api_key": "api_key_id",
    "model": "model",
}

_ResultParser = Callable[[Mapping[str, Any], datetime, str], list[Record]]
_T = TypeVar("_T")


# --------------------------------------------------------------------------------------------
# Pure parsers
# --------------------------------------------------------------------------------------------


def _buckets(page: Any, root: str) -> list[tuple[datetime, Sequence[Any], str]]:
    """``(start, results, path)`` of each bucket of a usage/costs page."""
    body = as_mapping(page, root)
    if "data" not in body:
        raise InvalidResponseError(f"{root}.data: missing")
    data = as_list(body["data"], f"{root}.data", null_ok=False)
    buckets = []
    for i, raw in enumerate(data):
        where = f"{root}.data[{i}]"
        bucket = as_mapping(raw, where)
        start = as_unix_time(bucket.get("start_time"), f"{where}.start_time")
        results = as_list(bucket.get("results"), f"{where}.results")
        buckets.append((start, results, f"{where}.results"))
    return buckets


def _required_count(result: Mapping[str, Any], key: str, where: str) -> int:
    if result.get(key) is None:
        raise InvalidResponseError(f"{where}.{key}: missing")
    return as_count(result[key], f"{where}.{key}")


def _optional_count(result: Mapping[str, Any], key: str, where: str) -> int:
    return as_count(result.get(key), f"{where}.{key}")


def _label(result: Mapping[str, Any], key: str, where: str) -> str:
    return as_label(result.get(key), f"{where}.{key}")


def parse_costs_page(page: Any) -> list[CostRecord]:
    """Cost records of one ``/v1/organization/costs`` page (zero amounts dropped)."""
    records: list[CostRecord] = []
    for start, results, path in _buckets(page, "costs"):
        for j, raw in enumerate(results):
            where = f"{path}[{j}]"
            result = as_mapping(raw, where)
            amount = as_mapping(result.get("amount"), f"{where}.amount")
            currency = amount.get("currency")
            if not isinstance(currency, str) or currency.strip().lower() != "usd":
                shown = repr(currency[:16]) if isinstance(currency, str) else repr(currency)[:16]
                raise InvalidResponseError(
                    f"{where}.amount.currency: expected 'usd', got {shown} "
                    "(currencies are never mixed)"
                )
            value = as_decimal(amount.get("value"), f"{where}.amount.value", null=None)
            if not value:
                continue
            records.append(
                CostRecord(
                    start=start,
                    project=_label(result, "project_id", where),
                    model="",
                    line_item=_label(result, "line_item", where),
                    amount_usd=value,
                )
            )
    return records


def _requests(
    result: Mapping[str, Any], start: datetime, where: str, project: str, api_key: str, model: str
) -> list[Record]:
    n = _required_count(result, "num_model_requests", where)
    if not n:
        return []
    return [CountRecord(start, CountUnit.REQUESTS, project, api_key, model, Decimal(n))]


def _dims(result: Mapping[str, Any], where: str) -> tuple[str, str, str]:
    return (
        _label(result, "project_id", where),
        _label(result, "api_key_id", where),
        _label(result, "model", where),
    )


def _completions(result: Mapping[str, Any], start: datetime, where: str) -> list[Record]:
    project, api_key, model = _dims(result, where)
    total_input = _required_count(result, "input_tokens", where)
    cached = _optional_count(result, "input_cached_tokens", where)
    cache_write = _optional_count(result, "input_cache_write_tokens", where)
    output = _required_count(result, "output_tokens", where)
    uncached = total_input - cached - cache_write
    if uncached < 0:
        raise InvalidResponseError(
            f"{where}.input_tokens: {total_input} is less than input_cached_tokens + "
            f"input_cache_write_tokens ({cached} + {cache_write})"
        )
    records: list[Record] = []
    if total_input or output:
        records.append(
            TokenRecord(
                start=start,
                project=project,
                api_key=api_key,
                model=model,
                input=uncached,
                cache_read=cached,
                cache_write_5m=cache_write,
                cache_write_1h=0,
                output=output,
            )
        )
    return records + _requests(result, start, where, project, api_key, model)


def _input_only(result: Mapping[str, Any], start: datetime, where: str) -> list[Record]:
    project, api_key, model = _dims(result, where)
    tokens = _required_count(result, "input_tokens", where)
    records: list[Record] = []
    if tokens:
        records.append(TokenRecord(start, project, api_key, model, tokens, 0, 0, 0, 0))
    return records + _requests(result, start, where, project, api_key, model)


def _counted(unit: CountUnit, key: str, *, fractional: bool = False) -> _ResultParser:
    """Parser of a result with one count ``key`` plus ``num_model_requests``."""

    def parse(result: Mapping[str, Any], start: datetime, where: str) -> list[Record]:
        project, api_key, model = _dims(result, where)
        if fractional:
            if result.get(key) is None:
                raise InvalidResponseError(f"{where}.{key}: missing")
            value = as_decimal(result[key], f"{where}.{key}")
            if value < 0:
                raise InvalidResponseError(f"{where}.{key}: negative count")
            if value.adjusted() > 18:  # same bound as exporter.parsing.as_count
                raise InvalidResponseError(f"{where}.{key}: count out of range")
        else:
            value = Decimal(_required_count(result, key, where))
        records: list[Record] = []
        if value:
            records.append(CountRecord(start, unit, project, api_key, model, value))
        return records + _requests(result, start, where, project, api_key, model)

    return parse


def _vector_stores(result: Mapping[str, Any], start: datetime, where: str) -> list[Record]:
    size = _required_count(result, "usage_bytes", where)
    project = _label(result, "project_id", where)
    return [LevelRecord(start, LevelUnit.VECTOR_STORE_BYTES, project, Decimal(size))]


def _code_interpreter(result: Mapping[str, Any], start: datetime, where: str) -> list[Record]:
    n = _required_count(result, "num_sessions", where)
    if not n:
        return []
    project = _label(result, "project_id", where)
    unit = CountUnit.CODE_INTERPRETER_SESSIONS
    return [CountRecord(start, unit, project, "", "", Decimal(n))]


def _file_search(result: Mapping[str, Any], start: datetime, where: str) -> list[Record]:
    n = _required_count(result, "num_requests", where)
    if not n:
        return []
    project = _label(result, "project_id", where)
    api_key = _label(result, "api_key_id", where)
    return [CountRecord(start, CountUnit.FILE_SEARCH_CALLS, project, api_key, "", Decimal(n))]


def _web_search(result: Mapping[str, Any], start: datetime, where: str) -> list[Record]:
    # num_model_requests of web searches are already in usage/completions: not counted here.
    n = _required_count(result, "num_requests", where)
    if not n:
        return []
    project, api_key, model = _dims(result, where)
    return [CountRecord(start, CountUnit.WEB_SEARCH_CALLS, project, api_key, model, Decimal(n))]


@dataclass(frozen=True, slots=True)
class UsageEndpoint:
    #: ``group_by`` values of the endpoint we may send (of the ones we have labels for).
    group_by: tuple[str, ...]
    parse: _ResultParser


_FULL: Final = ("project_id", "api_key_id", "model")

#: Usage endpoint (``/v1/organization/usage/<kind>``) → what we send and how we parse it.
USAGE_ENDPOINTS: Final[Mapping[str, UsageEndpoint]] = {
    "completions": UsageEndpoint(_FULL, _completions),
    "embeddings": UsageEndpoint(_FULL, _input_only),
    "moderations": UsageEndpoint(_FULL, _input_only),
    "images": UsageEndpoint(_FULL, _counted(CountUnit.IMAGES, "images")),
    "audio_speeches": UsageEndpoint(_FULL, _counted(CountUnit.SPEECH_CHARACTERS, "characters")),
    "audio_transcriptions": UsageEndpoint(
        _FULL, _counted(CountUnit.TRANSCRIPTION_SECONDS, "seconds", fractional=True)
    ),
    "vector_stores": UsageEndpoint(("project_id",), _vector_stores),
    "code_interpreter_sessions": UsageEndpoint(("project_id",), _code_interpreter),
    "file_search_calls": UsageEndpoint(("project_id", "api_key_id"), _file_search),
    "web_search_calls": UsageEndpoint(_FULL, _web_search),
}


def parse_usage_page(kind: str, page: Any) -> list[Record]:
    """Records of one ``/v1/organization/usage/<kind>`` page.

    ``kind`` must be a key of :data:`USAGE_ENDPOINTS` (anything else is a programming error,
    ``KeyError``); problems with ``page`` raise :class:`InvalidResponseError`.
    """
    parse = USAGE_ENDPOINTS[kind].parse
    records: list[Record] = []
    for start, results, path in _buckets(page, f"usage_{kind}"):
        for j, raw in enumerate(results):
            where = f"{path}[{j}]"
            records.extend(parse(as_mapping(raw, where), start, where))
    return records


def _list_items(page: Any, root: str) -> list[tuple[Mapping[str, Any], str]]:
    body = as_mapping(page, root)
    if "data" not in body:
        raise InvalidResponseError(f"{root}.data: missing")
    data = as_list(body["data"], f"{root}.data", null_ok=False)
    items = []
    for i, raw in enumerate(data):
        where = f"{root}.data[{i}]"
        items.append((as_mapping(raw, where), where))
    return items


def _item_id(item: Mapping[str, Any], where: str) -> str:
    ident = as_label(item.get("id"), f"{where}.id")
    if not ident:
        raise InvalidResponseError(f"{where}.id: missing")
    return ident


def parse_projects_page(page: Any) -> list[ProjectInfo]:
    """Projects of one ``/v1/organization/projects`` page (archived ones included)."""
    return [
        ProjectInfo(project=_item_id(item, where), name=_label(item, "name", where))
        for item, where in _list_items(page, "projects")
    ]


def parse_api_keys_page(page: Any) -> list[ApiKeyInfo]:
    """Key ids and names of one ``/v1/organization/projects/{id}/api_keys`` page.

    Only ``id`` and ``name`` are read: ``redacted_value`` and owner details are ignored.
    """
    return [
        ApiKeyInfo(api_key=_item_id(item, where), name=_label(item, "name", where))
        for item, where in _list_items(page, "api_keys")
    ]


def parse_spend_limit(body: Any, root: str) -> Decimal | None:
    """The monthly limit in USD of one ``spend_limit`` object; None when none is set.

    ``threshold_amount`` is integer cents; null, absent and ``0`` (no configured limit is below
    1 cent) mean no limit.
    """
    limit = as_mapping(body, root)
    threshold = limit.get("threshold_amount")
    if threshold is None:
        return None
    cents = as_count(threshold, f"{root}.threshold_amount")
    if not cents:
        return None
    currency = limit.get("currency")
    if not isinstance(currency, str) or currency.strip().upper() != "USD":
        shown = repr(currency[:16]) if isinstance(currency, str) else repr(currency)[:16]
        raise InvalidResponseError(
            f"{root}.currency: expected 'USD', got {shown} (currencies are never converted)"
        )
    interval = limit.get("interval")
    if interval is not None and interval != "month":
        shown = repr(interval[:16]) if isinstance(interval, str) else repr(interval)[:16]
        raise InvalidResponseError(f"{root}.interval: expected 'month', got {shown}")
    return Decimal(cents).scaleb(-2)


# --------------------------------------------------------------------------------------------
# Fetching
# --------------------------------------------------------------------------------------------


def _unix(when: datetime) -> str:
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return str(int(when.timestamp()))


def _bucket_params(ctx: SourceContext, group_by: Sequence[str]) -> list[tuple[str, str]]:
    params = [
        ("start_time", _unix(ctx.start)),
        ("bucket_width", "1d"),
        ("limit", str(BUCKET_LIMIT)),
    ]
    return params + [("group_by[]", value) for value in group_by]


def _requested(ctx: SourceContext, mapping: Mapping[str, str], allowed: Sequence[str]) -> list[str]:
    """API ``group_by`` values for the account's dimensions, in a stable order."""
    return [
        value
        for dimension, value in mapping.items()
        if dimension in ctx.group_by and value in allowed
    ]


async def _pages(
    upstream: Upstream,
    path: str,
    params: QueryParams,
    parse: Callable[[Any], list[_T]],
    *,
    listing: bool = False,
) -> list[_T]:
    """Every page of ``path`` parsed; a parse failure counts as an invalid response."""

    def next_cursor(page: Mapping[str, Any]) -> str | None:
        try:
            return last_id_cursor(page)
        except InvalidResponseError:
            upstream.stats.failures["invalid_response"] += 1
            raise

    pages: AsyncIterator[Mapping[str, Any]]
    if listing:
        pages = upstream.paginate(path, params, cursor_param="after", next_cursor=next_cursor)
    else:
        pages = upstream.paginate(path, params)
    records: list[_T] = []
    try:
        async for page in pages:
            try:
                records.extend(parse(page))
            except InvalidResponseError:
                upstream.stats.failures["invalid_response"] += 1
                raise
    finally:
        close = getattr(pages, "aclose", None)  # end the generator now, not at GC time
        if close is not None:
            await close()
    return records


async def fetch_costs(ctx: SourceContext) -> Sequence[Record]:
    group_by = _requested(ctx, _COST_GROUP_BY, tuple(_COST_GROUP_BY.values()))
    params = _bucket_params(ctx, group_by)
    return await _pages(ctx.upstream, COSTS_PATH, params, parse_costs_page)


def _usage_source(kind: str) -> Source:
    endpoint = USAGE_ENDPOINTS[kind]
    path = USAGE_PATH.format(kind=kind)

    def parse(page: Any) -> list[Record]:
        return parse_usage_page(kind, page)

    async def fetch(ctx: SourceContext) -> Sequence[Record]:
        params = _bucket_params(ctx, _requested(ctx, _USAGE_GROUP_BY, endpoint.group_by))
        return await _pages(ctx.upstream, path, params, parse)

    fetch.__name__ = fetch.__qualname__ = f"fetch_usage_{kind}"
    return fetch


async def _project_keys(upstream: Upstream, project: str) -> list[ApiKeyInfo]:
    path = API_KEYS_PATH.format(project_id=quote(project, safe=""))
    params = [("limit", str(LIST_LIMIT))]
    try:
        return await _pages(upstream, path, params, parse_api_keys_page, listing=True)
    except UpstreamClientError:
        return []  # project deleted or archived: its keys cannot be listed


async def list_projects(upstream: Upstream, *, include_archived: bool) -> list[ProjectInfo]:
    """Every project of the organisation (all pages), archived ones only when asked."""
    params = [("limit", str(LIST_LIMIT))]
    if include_archived:
        params.append(("include_archived", "true"))
    return await _pages(upstream, PROJECTS_PATH, params, parse_projects_page, listing=True)


async def _per_project(
    projects: Sequence[ProjectInfo], fetch: Callable[[str], Awaitable[_T]]
) -> list[tuple[str, _T]]:
    """``fetch`` for each distinct project id, at most KEY_LISTING_CONCURRENCY at a time.

    The first failure cancels the requests still running and is raised.
    """
    gate = asyncio.Semaphore(KEY_LISTING_CONCURRENCY)

    async def one(project: str) -> _T:
        async with gate:
            return await fetch(project)

    ids = list(dict.fromkeys(p.project for p in projects))
    tasks = [asyncio.create_task(one(project)) for project in ids]
    try:
        results = await asyncio.gather(*tasks)
    except BaseException:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        raise
    return list(zip(ids, results, strict=True))


async def fetch_projects(ctx: SourceContext) -> Sequence[Record]:
    upstream = ctx.upstream
    projects = await list_projects(upstream, include_archived=True)

    async def keys_of(project: str) -> list[ApiKeyInfo]:
        return await _project_keys(upstream, project)

    records: list[Record] = list(projects)
    for _, keys in await _per_project(projects, keys_of):
        records.extend(keys)
    return records


async def _spend_limit(upstream: Upstream, path: str, root: str) -> Decimal | None:
    """The limit at ``path``; None when none is set (404 included)."""
    try:
        body = await upstream.get_json(path)
    except UpstreamClientError as exc:
        if exc.status == 404:
            return None
        raise
    try:
        return parse_spend_limit(body, root)
    except InvalidResponseError:
        upstream.stats.failures["invalid_response"] += 1
        raise


async def fetch_spend_limits(ctx: SourceContext) -> Sequence[Record]:
    upstream = ctx.upstream
    records: list[Record] = []
    org_limit = await _spend_limit(upstream, ORG_SPEND_LIMIT_PATH, "spend_limit")
    if org_limit is not None:
        records.append(gauge("llm_spend_limit_usd", org_limit, project=""))
    if "project" not in ctx.group_by:
        return records
    # Archived projects cannot spend: their limits are left out (and not requested).
    projects = await list_projects(upstream, include_archived=False)

    async def limit_of(project: str) -> Decimal | None:
        path = PROJECT_SPEND_LIMIT_PATH.format(project_id=quote(project, safe=""))
        return await _spend_limit(upstream, path, f"projects[{project[:40]}].spend_limit")

    for project, limit in await _per_project(projects, limit_of):
        if limit is not None:
            records.append(gauge("llm_spend_limit_usd", limit, project=project))
    return records


async def check(upstream: Upstream) -> None:
    """One cheap authenticated request: the first project."""
    page = await upstream.get_json(PROJECTS_PATH, [("limit", "1")])
    if not isinstance(page, Mapping):
        upstream.stats.failures["invalid_response"] += 1
        raise InvalidResponseError(f"GET {PROJECTS_PATH}: expected a JSON object")


def auth_headers(key: str) -> Mapping[str, str]:
    return {"Authorization": f"Bearer {key}"}


SOURCES: Final[Mapping[str, Source]] = {
    "costs": fetch_costs,
    **{f"usage_{kind}": _usage_source(kind) for kind in USAGE_ENDPOINTS},
    "projects": fetch_projects,
    "spend_limits": fetch_spend_limits,
}

PROVIDER: Final = ProviderSpec(
    name="openai",
    title="OpenAI organization Costs and Usage API (Admin key)",
    default_base_url="https://api.openai.com",
    env_var="OPENAI_ADMIN_KEY",
    key_hint=(
        "an OpenAI Admin key (sk-admin-...), created by an organization owner at "
        "https://platform.openai.com/settings/organization/admin-keys; "
        "project keys (sk-proj-...) are rejected"
    ),
    auth_headers=auth_headers,
    sources=SOURCES,
    check=check,
    billed_sources=frozenset({"costs"}),
)
