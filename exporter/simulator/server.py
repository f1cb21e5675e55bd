"""An aiohttp server answering the OpenAI and Anthropic Admin API shapes from an :class:`OrgModel`,
plus the Bearer APIs of :mod:`~exporter.simulator.openrouter`, :mod:`~exporter.simulator.balances`
and :mod:`~exporter.simulator.subscriptions` under their path prefixes.

Buckets are daily (``1d``), exist only up to the model's clock, and the current day's bucket
grows through the day. Report pages hold ``min(limit, page_size)`` buckets with opaque
``next_page`` cursors; listings hold ``min(limit, page_size)`` items with ``last_id`` /
``has_more``. With ``rate_limit_every=N`` every Nth request is answered ``429`` with
``Retry-After: 1``, except a retry of a request that was just limited (so one retry always
succeeds, however the client's concurrent requests interleave).
"""

from __future__ import annotations

import base64
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any, Final

from aiohttp import web

from exporter.simulator import balances, openrouter, subscriptions
from exporter.simulator.faults import FAULTS, FaultRegistry, fault_middleware
from exporter.simulator.model import (
    ANTHROPIC_TOKEN_TYPE,
    DAY,
    Named,
    OrgModel,
    Provider,
    RawTokens,
    Stream,
    cost_item_names,
    cost_items_usd,
    day_start,
    utc,
)

ANTHROPIC_VERSION_HEADER: Final = "anthropic-version"

_OPENAI_USAGE_KINDS: Final = (
    "completions",
    "embeddings",
    "moderations",
    "images",
    "audio_speeches",
    "audio_transcriptions",
    "vector_stores",
    "code_interpreter_sessions",
    "file_search_calls",
    "web_search_calls",
)
_OPENAI_USAGE_GROUP_BY: Final[Mapping[str, frozenset[str]]] = {
    "completions": frozenset(
        {"project_id", "user_id", "api_key_id", "model", "batch", "service_tier"}
    ),
    "images": frozenset({"project_id", "user_id", "api_key_id", "model", "size", "source"}),
    "vector_stores": frozenset({"project_id"}),
    "code_interpreter_sessions": frozenset({"project_id"}),
    "file_search_calls": frozenset({"project_id", "user_id", "api_key_id", "vector_store_id"}),
    "web_search_calls": frozenset(
        {"project_id", "user_id", "api_key_id", "model", "context_level"}
    ),
}
_OPENAI_DEFAULT_GROUP_BY: Final = frozenset({"project_id", "user_id", "api_key_id", "model"})
_OPENAI_COST_GROUP_BY: Final = frozenset({"project_id", "line_item", "api_key_id"})
_ANTHROPIC_USAGE_GROUP_BY: Final = frozenset(
    {
        "api_key_id",
        "workspace_id",
        "model",
        "service_tier",
        "context_window",
        "inference_geo",
        "speed",
        "account_id",
        "service_account_id",
    }
)
_ANTHROPIC_COST_GROUP_BY: Final = frozenset({"workspace_id", "description"})


@dataclass
class SimulatorState:
    """Mutable state of one simulator app; swap ``model`` to revise what it serves."""

    model: OrgModel
    openai_key: str
    anthropic_key: str
    page_size: int
    rate_limit_every: int
    requests: int = 0
    #: ``(path_qs, status)`` of every request, in order.
    log: list[tuple[str, int]] = field(default_factory=list)
    #: Requests answered 429 whose retry has not arrived yet (a retry is never limited).
    limited: set[str] = field(default_factory=set)
    #: Bearer credential of every other simulated API, by name (see :data:`BEARER_PREFIXES`).
    credentials: Mapping[str, str] = field(default_factory=dict)


STATE: Final = web.AppKey("llm_simulator_state", SimulatorState)

#: Path prefix → credential name of the simulated APIs that take ``Authorization: Bearer``.
BEARER_PREFIXES: Final[Mapping[str, str]] = {
    openrouter.PREFIX: "openrouter",
    balances.DEEPSEEK_PREFIX: "deepseek",
    balances.MOONSHOT_PREFIX: "moonshot",
    balances.GROQ_PREFIX: "groq",
    balances.XAI_PREFIX: "xai",
    balances.FIREWORKS_PREFIX: "fireworks",
    subscriptions.CLAUDE_PREFIX: "claude",
    subscriptions.CHATGPT_PREFIX: "codex",
    subscriptions.GEMINI_PREFIX: "gemini",
}


def default_credentials(seed: int) -> dict[str, str]:
    """Deterministic fake credentials of the Bearer APIs (the demo uses random ones)."""
    return {name: f"sim-{name}-credential-{seed}" for name in BEARER_PREFIXES.values()}


class _BadRequest(Exception):
    pass


# --------------------------------------------------------------------------- helpers


def _rfc3339(ts: float) -> str:
    return utc(ts).strftime("%Y-%m-%dT%H:%M:%SZ")


def _parse_rfc3339(value: str) -> float:
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise _BadRequest(f"invalid RFC 3339 time: {value[:40]!r}") from None
    if moment.tzinfo is None:
        raise _BadRequest("time needs a UTC offset")
    return moment.timestamp()


def _int_param(request: web.Request, name: str, default: int | None = None) -> int:
    raw = request.query.get(name)
    if raw is None:
        if default is None:
            raise _BadRequest(f"{name} is required")
        return default
    try:
        return int(raw)
    except ValueError:
        raise _BadRequest(f"{name} must be an integer") from None


def _group_by(request: web.Request, allowed: frozenset[str]) -> frozenset[str]:
    values = request.query.getall("group_by[]", []) + request.query.getall("group_by", [])
    for value in values:
        if value not in allowed:
            raise _BadRequest(f"invalid group_by value {value[:40]!r}")
    return frozenset(values)


def _encode_cursor(ts: int) -> str:
    return "page_" + base64.urlsafe_b64encode(f"sim:{ts}".encode()).decode().rstrip("=")


def _decode_cursor(cursor: str) -> int:
    try:
        body = cursor.removeprefix("page_")
        text = base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)).decode()
        if not text.startswith("sim:"):
            raise ValueError(text)
        return int(text[4:])
    except ValueError:
        raise _BadRequest("invalid page cursor") from None


def _per_page(state: SimulatorState, limit: int) -> int:
    return min(limit, state.page_size) if state.page_size > 0 else limit


def _bucket_page(
    request: web.Request,
    state: SimulatorState,
    start: int,
    end: float | None,
    *,
    default_limit: int,
    max_limit: int,
) -> tuple[list[tuple[int, int]], str | None]:
    """This page's ``(bucket start, bucket end)`` and the next cursor.

    The first bucket starts at ``start`` (not snapped, like OpenAI's recorded output), the
    others at midnight UTC; buckets that start after the model's ``now`` do not exist.
    """
    limit = _int_param(request, "limit", default_limit)
    if not 1 <= limit <= max_limit:
        raise _BadRequest(f"limit must be between 1 and {max_limit}")
    horizon = state.model.now() if end is None else min(end, state.model.now())
    cursor = request.query.get("page")
    at = start if cursor is None else _decode_cursor(cursor)
    if at < start:
        raise _BadRequest("page cursor does not belong to this query")
    buckets: list[tuple[int, int]] = []
    while at < horizon and len(buckets) < _per_page(state, limit):
        bucket_end = day_start(at) + DAY
        buckets.append((at, bucket_end))
        at = bucket_end
    return buckets, (_encode_cursor(at) if at < horizon else None)


def _number(value: Decimal) -> float | str:
    """A JSON number when a float represents ``value`` exactly, else a numeric string."""
    as_float = float(value)
    return as_float if Decimal(repr(as_float)) == value else format(value, "f")


def _aggregate(
    rows: Iterable[tuple[dict[str, Any], Sequence[Decimal | int]]], keep: frozenset[str]
) -> list[tuple[dict[str, Any], list[Decimal | int]]]:
    """Sum ``rows`` by the dimensions in ``keep``; other dimensions become null."""
    groups: dict[tuple[Any, ...], tuple[dict[str, Any], list[Decimal | int]]] = {}
    for dims, values in rows:
        shown = {k: (v if k in keep else None) for k, v in dims.items()}
        key = tuple(sorted(shown.items(), key=lambda kv: kv[0]))
        if key in groups:
            acc = groups[key][1]
            for i, v in enumerate(values):
                acc[i] += v
        else:
            groups[key] = (shown, list(values))
    return [groups[k] for k in sorted(groups, key=repr)]


def _usage_rows(
    state: SimulatorState, provider: Provider, kind: str, a: int, b: int
) -> list[tuple[Stream, RawTokens]]:
    return [(s, raw) for s, raw in state.model.usage(a, b, provider) if s.kind == kind]


# --------------------------------------------------------------------------- OpenAI


def _openai_page(data: list[dict[str, Any]], cursor: str | None) -> web.Response:
    return web.json_response(
        {"object": "page", "data": data, "has_more": cursor is not None, "next_page": cursor}
    )


def _openai_buckets(
    request: web.Request, state: SimulatorState, max_limit: int
) -> tuple[list[tuple[int, int]], str | None]:
    if request.query.get("bucket_width", "1d") != "1d":
        raise _BadRequest("the simulator only serves bucket_width=1d")
    start = _int_param(request, "start_time")
    end_raw = request.query.get("end_time")
    end = float(_int_param(request, "end_time")) if end_raw is not None else None
    return _bucket_page(request, state, start, end, default_limit=7, max_limit=max_limit)


def _completions_result(dims: dict[str, Any], v: Sequence[Decimal | int]) -> dict[str, Any]:
    uncached, cached, written, output, requests = (int(x) for x in v)
    return {
        "object": "organization.usage.completions.result",
        "input_tokens": uncached + cached + written,
        "input_cached_tokens": cached,
        "input_cache_write_tokens": written,
        "input_uncached_tokens": uncached,
        "output_tokens": output,
        "input_audio_tokens": 0,
        "output_audio_tokens": 0,
        "num_model_requests": requests,
        "user_id": None,
        "batch": None,
        "service_tier": None,
        **dims,
    }


def _requests_of(raw: RawTokens) -> int:
    return max(1, sum(raw) // 20_000)


async def openai_usage(request: web.Request) -> web.Response:
    state = request.app[STATE]
    kind = request.match_info["kind"]
    if kind not in _OPENAI_USAGE_KINDS:
        raise web.HTTPNotFound()
    keep = _group_by(request, _OPENAI_USAGE_GROUP_BY.get(kind, _OPENAI_DEFAULT_GROUP_BY))
    buckets, cursor = _openai_buckets(request, state, 31)
    data = []
    for a, b in buckets:
        results: list[dict[str, Any]] = []
        if kind in ("completions", "embeddings", "moderations"):
            rows: list[tuple[dict[str, Any], Sequence[Decimal | int]]] = []
            for s, raw in _usage_rows(state, "openai", kind, a, b):
                dims = {"project_id": s.project, "api_key_id": s.api_key, "model": s.model}
                values = (raw[0], raw[1], raw[2] + raw[3], raw[4], _requests_of(raw))
                rows.append((dims, values))
            for dims, v in _aggregate(rows, keep):
                if kind == "completions":
                    results.append(_completions_result(dims, v))
                else:
                    results.append(
                        {
                            "object": "organization.usage.embeddings.result",
                            "input_tokens": int(v[0]),
                            "num_model_requests": int(v[4]),
                            "user_id": None,
                            **dims,
                        }
                    )
        else:
            results = _derived_usage(state, kind, a, b, keep)
        data.append({"object": "bucket", "start_time": a, "end_time": b, "results": results})
    return _openai_page(data, cursor)


#: Non-token usage kinds derived from completion requests: (divisor, result object, count
#: field, model). One image per 40 requests, 30 speech characters per request, ...
_DERIVED: Final[Mapping[str, tuple[int, str, str, str | None]]] = {
    "images": (40, "organization.usage.images.result", "images", "gpt-image-1"),
    "audio_speeches": (-30, "organization.usage.audio_speeches.result", "characters", "tts-1"),
    "audio_transcriptions": (
        4,
        "organization.usage.audio_transcriptions.result",
        "seconds",
        "whisper-1",
    ),
    "code_interpreter_sessions": (
        90,
        "organization.usage.code_interpreter_sessions.result",
        "num_sessions",
        None,
    ),
    "file_search_calls": (25, "organization.usage.file_searches.result", "num_requests", None),
    "web_search_calls": (30, "organization.usage.web_searches.result", "num_requests", "gpt-4.1"),
}


def _derived_usage(
    state: SimulatorState, kind: str, start: int, end: int, keep: frozenset[str]
) -> list[dict[str, Any]]:
    """Images, audio, tool calls and vector storage, derived from each project's completion
    requests in the bucket, so every usage panel of the demo has data."""
    requests: dict[str | None, int] = {}
    for s, raw in _usage_rows(state, "openai", "completions", start, end):
        requests[s.project] = requests.get(s.project, 0) + _requests_of(raw)
    results: list[dict[str, Any]] = []
    for project, count in sorted(requests.items(), key=lambda item: str(item[0])):
        dims: dict[str, Any] = {"project_id": project if "project_id" in keep else None}
        if kind == "vector_stores":
            # A level, not a flow: storage grows a little every day.
            size = 512 * 1024 * 1024 + (start // DAY % 365) * 1024 * 1024
            results.append(
                {"object": "organization.usage.vector_stores.result", "usage_bytes": size, **dims}
            )
            continue
        divisor, obj, field_name, model = _DERIVED[kind]
        value = count * -divisor if divisor < 0 else count // divisor
        if not value:
            continue
        result: dict[str, Any] = {"object": obj, field_name: value, **dims}
        if kind not in ("code_interpreter_sessions",):
            result.update({"user_id": None, "api_key_id": None})
        if model is not None:
            result["model"] = model if "model" in keep else None
        if kind in ("images", "audio_speeches", "audio_transcriptions", "web_search_calls"):
            result["num_model_requests"] = max(1, value // 10)
        results.append(result)
    return results


async def openai_costs(request: web.Request) -> web.Response:
    state = request.app[STATE]
    keep = _group_by(request, _OPENAI_COST_GROUP_BY)
    buckets, cursor = _openai_buckets(request, state, 180)
    data = []
    for a, b in buckets:
        rows: list[tuple[dict[str, Any], Sequence[Decimal | int]]] = []
        for s, raw in state.model.usage(a, b, "openai"):
            names = cost_item_names(s)
            for k, usd in cost_items_usd(s, raw).items():
                dims = {"project_id": s.project, "api_key_id": s.api_key, "line_item": names[k]}
                rows.append((dims, (usd, raw[k])))
        results = []
        for j, (dims, (total, quantity)) in enumerate(_aggregate(rows, keep)):
            value = Decimal(total)
            results.append(
                {
                    "object": "organization.costs.result",
                    # Live responses sometimes carry the value as a numeric string.
                    "amount": {
                        "value": format(value, "f") if j % 3 == 1 else _number(value),
                        "currency": "usd",
                    },
                    "quantity": int(quantity) if "line_item" in keep else None,
                    "quantity_unit": "tokens" if "line_item" in keep else None,
                    **dims,
                }
            )
        data.append({"object": "bucket", "start_time": a, "end_time": b, "results": results})
    return _openai_page(data, cursor)


def _listing(
    request: web.Request,
    state: SimulatorState,
    items: Sequence[Named],
    render: Callable[[Named], dict[str, Any]],
    *,
    cursor_param: str,
    default_limit: int,
    max_limit: int,
    openai: bool,
) -> web.Response:
    limit = _int_param(request, "limit", default_limit)
    if not 1 <= limit <= max_limit:
        raise _BadRequest(f"limit must be between 1 and {max_limit}")
    if request.query.get("include_archived", "false") != "true":
        items = [item for item in items if not item.archived]
    after = request.query.get(cursor_param)
    offset = 0
    if after is not None:
        ids = [item.id for item in items]
        if after not in ids:
            raise _BadRequest(f"{cursor_param}: unknown id")
        offset = ids.index(after) + 1
    page = items[offset : offset + _per_page(state, limit)]
    body: dict[str, Any] = {
        "data": [render(item) for item in page],
        "first_id": page[0].id if page else None,
        "last_id": page[-1].id if page else None,
        "has_more": offset + len(page) < len(items),
    }
    if openai:
        body = {"object": "list", **body}
    return web.json_response(body)


async def openai_projects(request: web.Request) -> web.Response:
    state = request.app[STATE]

    def render(p: Named) -> dict[str, Any]:
        return {
            "id": p.id,
            "object": "organization.project",
            "name": p.name,
            "created_at": p.created_at,
            "archived_at": p.created_at + DAY if p.archived else None,
            "status": "archived" if p.archived else "active",
        }

    projects = state.model.org.openai_projects
    return _listing(
        request,
        state,
        projects,
        render,
        cursor_param="after",
        default_limit=20,
        max_limit=100,
        openai=True,
    )


async def openai_api_keys(request: web.Request) -> web.Response:
    state = request.app[STATE]
    project = request.match_info["project_id"]
    if project not in {p.id for p in state.model.org.openai_projects}:
        raise web.HTTPNotFound()

    def render(k: Named) -> dict[str, Any]:
        return {
            "id": k.id,
            "object": "organization.project.api_key",
            "name": k.name,
            "redacted_value": "sk-proj-ab...yz",
            "created_at": k.created_at,
            "last_used_at": k.created_at,
            "owner": {"type": "service_account", "service_account": {"id": "svc_" + k.id[4:]}},
        }

    keys = [k for k in state.model.org.openai_keys if k.parent == project]
    return _listing(
        request,
        state,
        keys,
        render,
        cursor_param="after",
        default_limit=20,
        max_limit=100,
        openai=True,
    )


# --------------------------------------------------------------------------- Anthropic


def _anthropic_buckets(
    request: web.Request, state: SimulatorState
) -> tuple[list[tuple[int, int]], str | None]:
    if request.query.get("bucket_width", "1d") != "1d":
        raise _BadRequest("the simulator only serves bucket_width=1d")
    raw_start = request.query.get("starting_at")
    if raw_start is None:
        raise _BadRequest("starting_at is required")
    start = day_start(_parse_rfc3339(raw_start))  # snapped to the day's start
    raw_end = request.query.get("ending_at")
    end = _parse_rfc3339(raw_end) if raw_end is not None else None
    return _bucket_page(request, state, start, end, default_limit=7, max_limit=31)


def _anthropic_page(data: list[dict[str, Any]], cursor: str | None) -> web.Response:
    return web.json_response({"data": data, "has_more": cursor is not None, "next_page": cursor})


async def anthropic_usage(request: web.Request) -> web.Response:
    state = request.app[STATE]
    keep = _group_by(request, _ANTHROPIC_USAGE_GROUP_BY)
    buckets, cursor = _anthropic_buckets(request, state)
    data = []
    for a, b in buckets:
        rows: list[tuple[dict[str, Any], Sequence[Decimal | int]]] = [
            (
                {
                    "api_key_id": s.api_key,
                    "workspace_id": s.project,
                    "model": s.model,
                    "service_tier": "standard",
                    "context_window": "0-200k",
                    "inference_geo": "global",
                },
                raw,
            )
            for s, raw in _usage_rows(state, "anthropic", "messages", a, b)
        ]
        results = []
        for dims, v in _aggregate(rows, keep):
            uncached, read, w5m, w1h, output = (int(x) for x in v)
            results.append(
                {
                    "uncached_input_tokens": uncached,
                    "cache_creation": {
                        "ephemeral_1h_input_tokens": w1h,
                        "ephemeral_5m_input_tokens": w5m,
                    },
                    "cache_read_input_tokens": read,
                    "output_tokens": output,
                    "server_tool_use": {"web_search_requests": 0},
                    "account_id": None,
                    "service_account_id": None,
                    **dims,
                }
            )
        data.append({"starting_at": _rfc3339(a), "ending_at": _rfc3339(b), "results": results})
    return _anthropic_page(data, cursor)


async def anthropic_cost(request: web.Request) -> web.Response:
    state = request.app[STATE]
    keep = _group_by(request, _ANTHROPIC_COST_GROUP_BY)
    described = "description" in keep
    buckets, cursor = _anthropic_buckets(request, state)
    data = []
    for a, b in buckets:
        rows: list[tuple[dict[str, Any], Sequence[Decimal | int]]] = []
        for s, raw in state.model.usage(a, b, "anthropic"):
            names = cost_item_names(s)
            for k, usd in cost_items_usd(s, raw).items():
                dims: dict[str, Any] = {"workspace_id": s.project, "description": names[k]}
                if described:  # parsed from the description
                    dims |= {
                        "cost_type": "tokens",
                        "model": s.model,
                        "token_type": ANTHROPIC_TOKEN_TYPE[k],
                        "service_tier": "standard",
                        "context_window": "0-200k",
                        "inference_geo": "global",
                    }
                rows.append((dims, (usd,)))
        keep_all = keep | (
            {"cost_type", "model", "token_type", "service_tier", "context_window", "inference_geo"}
            if described
            else set()
        )
        results = [
            {
                "amount": format(Decimal(v[0]) * 100, "f"),  # cents, as a decimal string
                "currency": "USD",
                "cost_type": None,
                "model": None,
                "token_type": None,
                "service_tier": None,
                "context_window": None,
                "inference_geo": None,
                **dims,
            }
            for dims, v in _aggregate(rows, frozenset(keep_all))
        ]
        data.append({"starting_at": _rfc3339(a), "ending_at": _rfc3339(b), "results": results})
    return _anthropic_page(data, cursor)


async def anthropic_workspaces(request: web.Request) -> web.Response:
    state = request.app[STATE]

    def render(w: Named) -> dict[str, Any]:
        return {
            "id": w.id,
            "type": "workspace",
            "name": w.name,
            "created_at": _rfc3339(w.created_at),
            "archived_at": _rfc3339(w.created_at + DAY) if w.archived else None,
            "display_color": "#6C5BB9",
        }

    return _listing(
        request,
        state,
        state.model.org.anthropic_workspaces,
        render,
        cursor_param="after_id",
        default_limit=20,
        max_limit=100,
        openai=False,
    )


async def anthropic_api_keys(request: web.Request) -> web.Response:
    state = request.app[STATE]

    def render(k: Named) -> dict[str, Any]:
        return {
            "id": k.id,
            "type": "api_key",
            "name": k.name,
            "partial_key_hint": "sk-ant-api03-Ab...yZ",
            "status": "active",
            "workspace_id": k.parent,
            "created_at": _rfc3339(k.created_at),
            "created_by": {"id": "user_01sim", "type": "user"},
        }

    return _listing(
        request,
        state,
        state.model.org.anthropic_keys,
        render,
        cursor_param="after_id",
        default_limit=20,
        max_limit=1000,
        openai=False,
    )


#: Monthly spend limits in cents: the organisation's, and one project's (others have none).
ORG_SPEND_LIMIT_CENTS: Final = 1_500_000
PROJECT_SPEND_LIMIT_CENTS: Final = 250_000


def _spend_limit(cents: int) -> dict[str, Any]:
    return {
        "object": "organization.spend_limit",
        "threshold_amount": cents,
        "currency": "USD",
        "interval": "month",
        "enforcement": {"status": "enforcing"},
    }


async def openai_org_spend_limit(request: web.Request) -> web.Response:
    return web.json_response(_spend_limit(ORG_SPEND_LIMIT_CENTS))


async def openai_project_spend_limit(request: web.Request) -> web.Response:
    projects = [p.id for p in request.app[STATE].model.org.openai_projects if not p.archived]
    project = request.match_info["project_id"]
    if project not in projects:
        raise web.HTTPNotFound()
    if project != projects[0]:
        return web.json_response({**_spend_limit(0), "enforcement": {"status": "inactive"}})
    return web.json_response(_spend_limit(PROJECT_SPEND_LIMIT_CENTS))


# --------------------------------------------------------------------------- app


def _error(anthropic: bool, status: int, kind: str, message: str) -> web.Response:
    if anthropic:
        body: dict[str, Any] = {"type": "error", "error": {"type": kind, "message": message}}
    else:
        body = {"error": {"message": message, "type": kind, "code": None, "param": None}}
    return web.json_response(body, status=status)


@web.middleware
async def _gatekeeper(
    request: web.Request, handler: Callable[[web.Request], Any]
) -> web.StreamResponse:
    state = request.app[STATE]
    state.requests += 1
    anthropic = request.path.startswith("/v1/organizations/")
    bearer = next(
        (name for prefix, name in BEARER_PREFIXES.items() if request.path.startswith(prefix + "/")),
        None,
    )
    response: web.StreamResponse
    retry = request.path_qs in state.limited
    state.limited.discard(request.path_qs)
    if not retry and state.rate_limit_every > 0 and state.requests % state.rate_limit_every == 0:
        state.limited.add(request.path_qs)
        response = _error(anthropic, 429, "rate_limit_error", "rate limited (simulated)")
        response.headers["Retry-After"] = "1"
    elif bearer is not None:
        expected = state.credentials.get(bearer)
        if expected is None or request.headers.get("Authorization") != f"Bearer {expected}":
            response = web.json_response({"error": {"message": "invalid credential"}}, status=401)
        else:
            response = await handler(request)
    elif anthropic and (
        request.headers.get("x-api-key") != state.anthropic_key
        or not request.headers.get(ANTHROPIC_VERSION_HEADER)
    ):
        response = _error(True, 401, "authentication_error", "invalid x-api-key")
    elif not anthropic and request.headers.get("Authorization") != f"Bearer {state.openai_key}":
        response = _error(False, 401, "invalid_request_error", "Incorrect API key provided")
    else:
        try:
            response = await handler(request)
        except _BadRequest as exc:
            response = _error(anthropic, 400, "invalid_request_error", str(exc))
        except web.HTTPNotFound:
            response = _error(anthropic, 404, "not_found_error", "not found")
    state.log.append((request.path_qs, response.status))
    return response


def create_app(
    model: OrgModel,
    *,
    openai_key: str,
    anthropic_key: str,
    page_size: int = 2,
    rate_limit_every: int = 0,
    credentials: Mapping[str, str] | None = None,
) -> web.Application:
    """A simulator serving ``model``; ``app[STATE]`` holds the state (swap ``.model``).

    ``credentials`` are the Bearer credentials of the other simulated APIs (default:
    :func:`default_credentials` of the model's seed).
    """
    # Faults (``app[FAULTS]``, see exporter.simulator.faults) apply after authentication.
    app = web.Application(middlewares=[_gatekeeper, fault_middleware])
    app[FAULTS] = FaultRegistry()
    app[STATE] = SimulatorState(
        model,
        openai_key,
        anthropic_key,
        page_size,
        rate_limit_every,
        credentials=dict(credentials or default_credentials(model.seed)),
    )
    r = app.router
    r.add_get("/v1/organization/costs", openai_costs)
    r.add_get("/v1/organization/usage/{kind}", openai_usage)
    r.add_get("/v1/organization/projects", openai_projects)
    r.add_get("/v1/organization/projects/{project_id}/api_keys", openai_api_keys)
    r.add_get("/v1/organization/spend_limit", openai_org_spend_limit)
    r.add_get("/v1/organization/projects/{project_id}/spend_limit", openai_project_spend_limit)
    r.add_get("/v1/organizations/usage_report/messages", anthropic_usage)
    r.add_get("/v1/organizations/cost_report", anthropic_cost)
    r.add_get("/v1/organizations/workspaces", anthropic_workspaces)
    r.add_get("/v1/organizations/api_keys", anthropic_api_keys)
    openrouter.add_routes(app)
    balances.add_routes(app)
    subscriptions.add_routes(app)
    return app
