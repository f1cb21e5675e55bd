"""OpenAI provider: pure parsers against documented shapes, and sources over mocked HTTP."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Iterator, Sequence
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aioresponses import aioresponses
from hypothesis import given, settings
from hypothesis import strategies as st
from yarl import URL

from exporter.config import AccountConfig, Config
from exporter.errors import (
    AuthError,
    InvalidResponseError,
    SourceError,
    UpstreamClientError,
    UpstreamServerError,
)
from exporter.providers import openai
from exporter.providers.base import DIMENSIONS, SourceContext
from exporter.records import (
    ApiKeyInfo,
    CostRecord,
    CountRecord,
    CountUnit,
    GaugeRecord,
    LevelRecord,
    LevelUnit,
    ProjectInfo,
    Record,
    TokenRecord,
    gauge,
)
from exporter.snapshot import MonthToDateGuard, SourceState, build_snapshot
from exporter.upstream import RequestStats, RetryPolicy, Upstream, last_id_cursor

BASE = "https://api.openai.com"
KEY = "sk-admin-test-fake"
FIXTURES = Path(__file__).parent / "fixtures" / "openai"
START = datetime(2025, 8, 1, tzinfo=UTC)
START_TS = "1754006400"
ALL = frozenset(DIMENSIONS)
COSTS = "/v1/organization/costs"
PROJECTS = "/v1/organization/projects"
EMPTY_PAGE = '{"object": "page", "data": [], "has_more": false, "next_page": null}'
USAGE_KINDS = tuple(openai.USAGE_ENDPOINTS)

Params = list[tuple[str, str]]


def fixture(name: str) -> str:
    return (FIXTURES / f"{name}.json").read_text()


def day(n: int, seconds: int = 0) -> datetime:
    """UTC start of day ``n`` of August 2025 plus ``seconds``."""
    return START + timedelta(days=n - 1, seconds=seconds)


def url(path: str, params: Params) -> URL:
    return URL(BASE + path).with_query(params)


def bucket_params(group_by: Sequence[str] = ()) -> Params:
    return [
        ("start_time", START_TS),
        ("bucket_width", "1d"),
        ("limit", "31"),
        *[("group_by[]", value) for value in group_by],
    ]


def sent(mock: aioresponses, path: str) -> list[Params]:
    """Query params of every request made to ``path``."""
    return [
        list(call.kwargs["params"])
        for (_, request_url), calls in mock.requests.items()
        if request_url.path == path
        for call in calls
    ]


class SleepRecorder:
    def __init__(self) -> None:
        self.calls: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.calls.append(seconds)


@pytest.fixture
def mock() -> Iterator[aioresponses]:
    with aioresponses() as m:
        yield m


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as s:
        yield s


@pytest.fixture
def sleeps() -> SleepRecorder:
    return SleepRecorder()


@pytest.fixture
def upstream(session: aiohttp.ClientSession, sleeps: SleepRecorder) -> Upstream:
    headers = openai.PROVIDER.auth_headers(KEY)
    return Upstream(session, BASE, headers, RequestStats(), sleep=sleeps)


def make_ctx(upstream: Upstream, group_by: frozenset[str] = ALL) -> SourceContext:
    return SourceContext(
        upstream=upstream, start=START, end=datetime(2025, 8, 22, tzinfo=UTC), group_by=group_by
    )


# --------------------------------------------------------------------------------------------
# Provider spec
# --------------------------------------------------------------------------------------------


def test_provider_spec() -> None:
    spec = openai.PROVIDER
    assert spec.name == "openai"
    assert spec.default_base_url == "https://api.openai.com"
    assert spec.env_var == "OPENAI_ADMIN_KEY"
    assert "sk-admin-" in spec.key_hint and "admin-keys" in spec.key_hint
    assert spec.auth_headers(KEY) == {"Authorization": f"Bearer {KEY}"}
    assert list(spec.sources) == [
        "costs",
        "usage_completions",
        "usage_embeddings",
        "usage_moderations",
        "usage_images",
        "usage_audio_speeches",
        "usage_audio_transcriptions",
        "usage_vector_stores",
        "usage_code_interpreter_sessions",
        "usage_file_search_calls",
        "usage_web_search_calls",
        "projects",
        "spend_limits",
    ]
    assert KEY not in repr(spec)


def test_module_docstring_names_every_endpoint_and_series() -> None:
    doc = openai.__doc__ or ""
    for kind in USAGE_KINDS:
        assert kind in doc
    for needle in (COSTS, PROJECTS, "/api_keys", "OPENAI_ADMIN_KEY", "sk-admin-"):
        assert needle in doc
    for unit in (*CountUnit, *LevelUnit):
        assert unit.value in doc
    for metric in ("llm_cost_usd_total", "llm_tokens_total", "llm_project_info"):
        assert metric in doc
    assert "llm_api_key_info" in doc


# --------------------------------------------------------------------------------------------
# costs
# --------------------------------------------------------------------------------------------

COST_GROUPS = ("project_id", "line_item")


def mock_costs(mock: aioresponses, group_by: Sequence[str] = COST_GROUPS) -> None:
    params = bucket_params(group_by)
    mock.get(url(COSTS, params), body=fixture("costs_page1"))
    mock.get(url(COSTS, [*params, ("page", "page_costs_demo2")]), body=fixture("costs_page2"))
    mock.get(url(COSTS, [*params, ("page", "page_costs_demo3")]), body=fixture("costs_page3"))


async def test_costs_multi_page(mock: aioresponses, upstream: Upstream) -> None:
    mock_costs(mock)
    records = await openai.PROVIDER.sources["costs"](make_ctx(upstream))

    assert records == [
        CostRecord(day(1), "proj_demoA", "", "gpt-4.1-mini, input", Decimal("3.2184")),
        CostRecord(day(1), "proj_demoA", "", "gpt-4.1-mini, output", Decimal("12.50")),
        CostRecord(day(3), "", "", "", Decimal("0.06")),
        # not aligned to midnight: the bucket's own start is kept
        CostRecord(day(4, 5 * 3600 + 37), "proj_demoB", "", "dall-e-3, images", Decimal("7.005")),
        CostRecord(day(5), "proj_demoA", "", "gpt-4o, input", Decimal("1.0001")),
    ]
    assert all(isinstance(r, CostRecord) for r in records)
    costs = [r for r in records if isinstance(r, CostRecord)]
    assert sum((r.amount_usd for r in costs), Decimal(0)) == Decimal("23.7835")
    by_project: dict[str, Decimal] = {}
    for r in costs:
        by_project[r.project] = by_project.get(r.project, Decimal(0)) + r.amount_usd
    assert by_project == {
        "proj_demoA": Decimal("16.7185"),
        "": Decimal("0.06"),
        "proj_demoB": Decimal("7.005"),
    }
    assert sent(mock, COSTS) == [
        bucket_params(COST_GROUPS),
        [*bucket_params(COST_GROUPS), ("page", "page_costs_demo2")],
        [*bucket_params(COST_GROUPS), ("page", "page_costs_demo3")],
    ]
    assert upstream.stats.requests == 3
    assert not upstream.stats.failures
    call = next(iter(mock.requests.values()))[0]
    assert call.kwargs["headers"]["Authorization"] == f"Bearer {KEY}"


@pytest.mark.parametrize(
    ("group_by", "expected"),
    [
        (ALL, ["project_id", "line_item"]),
        (frozenset({"line_item"}), ["line_item"]),
        (frozenset({"project", "model"}), ["project_id"]),
        (frozenset({"api_key", "model"}), []),
        (frozenset(), []),
    ],
)
async def test_costs_group_by(
    mock: aioresponses, upstream: Upstream, group_by: frozenset[str], expected: list[str]
) -> None:
    mock.get(url(COSTS, bucket_params(expected)), body=EMPTY_PAGE)
    assert await openai.PROVIDER.sources["costs"](make_ctx(upstream, group_by)) == []
    assert sent(mock, COSTS) == [bucket_params(expected)]


def test_costs_parser_line_item_is_opaque() -> None:
    page = {
        "data": [
            {
                "start_time": 1754006400,
                "results": [
                    {
                        "amount": {"value": "1", "currency": "usd"},
                        "line_item": "gpt-4o, input, batch (50% off), 1,000 tokens",
                    }
                ],
            }
        ]
    }
    [record] = openai.parse_costs_page(page)
    assert record.line_item == "gpt-4o, input, batch (50% off), 1,000 tokens"


# --------------------------------------------------------------------------------------------
# usage
# --------------------------------------------------------------------------------------------

REQ = CountUnit.REQUESTS


async def test_usage_completions(mock: aioresponses, upstream: Upstream) -> None:
    path = "/v1/organization/usage/completions"
    params = bucket_params(("project_id", "api_key_id", "model"))
    mock.get(url(path, params), body=fixture("usage_completions_page1"))
    mock.get(
        url(path, [*params, ("page", "page_usage_demo2")]), body=fixture("usage_completions_page2")
    )

    records = await openai.PROVIDER.sources["usage_completions"](make_ctx(upstream))

    mini = ("proj_demoA", "key_demo1", "gpt-4.1-mini-2025-04-14")
    old = ("proj_demoB", "", "gpt-4o-2024-08-06")
    o4 = ("proj_demoA", "key_demo2", "o4-mini")
    assert records == [
        TokenRecord(
            day(1),
            *mini,
            input=60228,
            cache_read=120064,
            cache_write_5m=2048,
            cache_write_1h=0,
            output=9112,
        ),
        CountRecord(day(1), REQ, *mini, Decimal(41)),
        # older shape: no input_cache_write_tokens / input_uncached_tokens
        TokenRecord(
            day(1),
            *old,
            input=4000,
            cache_read=1000,
            cache_write_5m=0,
            cache_write_1h=0,
            output=700,
        ),
        CountRecord(day(1), REQ, *old, Decimal(3)),
        # no tokens but requests: only the request count; null dims are ""
        CountRecord(day(3), REQ, "", "", "", Decimal(2)),
        TokenRecord(
            day(3), *o4, input=100, cache_read=0, cache_write_5m=0, cache_write_1h=0, output=50
        ),
        CountRecord(day(3), REQ, *o4, Decimal(1)),
        # the all-zero result yields nothing
    ]
    tokens = [r for r in records if isinstance(r, TokenRecord)]
    assert sum(r.input for r in tokens) == 64328
    assert sum(r.cache_read for r in tokens) == 121064
    assert sum(r.cache_write for r in tokens) == 2048
    assert sum(r.output for r in tokens) == 9862
    # disjoint types add up to the API's own totals: input_tokens (incl. cache) + output_tokens
    total = sum(r.input + r.cache_read + r.cache_write + r.output for r in tokens)
    assert total == (182340 + 5000 + 0 + 100) + (9112 + 700 + 50)
    assert sum(r.value for r in records if isinstance(r, CountRecord)) == Decimal(47)
    assert upstream.stats.requests == 2


USAGE_EXPECTED: dict[str, list[Record]] = {
    "embeddings": [
        TokenRecord(day(1), "proj_demoA", "key_demo1", "text-embedding-3-small", 16000, 0, 0, 0, 0),
        CountRecord(day(1), REQ, "proj_demoA", "key_demo1", "text-embedding-3-small", Decimal(12)),
        TokenRecord(day(2), "proj_demoA", "key_demo1", "text-embedding-3-small", 4000, 0, 0, 0, 0),
        CountRecord(day(2), REQ, "proj_demoA", "key_demo1", "text-embedding-3-small", Decimal(3)),
    ],
    "moderations": [
        TokenRecord(day(1), "", "", "omni-moderation-latest", 420, 0, 0, 0, 0),
        CountRecord(day(1), REQ, "", "", "omni-moderation-latest", Decimal(7)),
    ],
    "images": [
        CountRecord(day(1), CountUnit.IMAGES, "proj_demoA", "key_demo2", "gpt-image-1", Decimal(4)),
        CountRecord(day(1), REQ, "proj_demoA", "key_demo2", "gpt-image-1", Decimal(2)),
    ],
    "audio_speeches": [
        CountRecord(
            day(1), CountUnit.SPEECH_CHARACTERS, "proj_demoB", "key_demo3", "tts-1", Decimal(12345)
        ),
        CountRecord(day(1), REQ, "proj_demoB", "key_demo3", "tts-1", Decimal(9)),
    ],
    "audio_transcriptions": [
        CountRecord(
            day(1),
            CountUnit.TRANSCRIPTION_SECONDS,
            "proj_demoB",
            "key_demo3",
            "whisper-1",
            Decimal("61.5"),
        ),
        CountRecord(day(1), REQ, "proj_demoB", "key_demo3", "whisper-1", Decimal(3)),
        CountRecord(
            day(2),
            CountUnit.TRANSCRIPTION_SECONDS,
            "proj_demoB",
            "key_demo3",
            "whisper-1",
            Decimal("120"),
        ),
        CountRecord(day(2), REQ, "proj_demoB", "key_demo3", "whisper-1", Decimal(1)),
    ],
    "vector_stores": [
        LevelRecord(day(1), LevelUnit.VECTOR_STORE_BYTES, "proj_demoA", Decimal(1048576)),
        LevelRecord(day(1), LevelUnit.VECTOR_STORE_BYTES, "proj_demoB", Decimal(2048)),
        # a level: zero is a real current value and is kept
        LevelRecord(day(2), LevelUnit.VECTOR_STORE_BYTES, "proj_demoA", Decimal(0)),
    ],
    "code_interpreter_sessions": [
        CountRecord(day(1), CountUnit.CODE_INTERPRETER_SESSIONS, "proj_demoA", "", "", Decimal(5)),
    ],
    "file_search_calls": [
        CountRecord(
            day(1), CountUnit.FILE_SEARCH_CALLS, "proj_demoA", "key_demo1", "", Decimal(11)
        ),
    ],
    "web_search_calls": [
        # num_model_requests is not counted again (usage_completions has it)
        CountRecord(
            day(1), CountUnit.WEB_SEARCH_CALLS, "proj_demoA", "key_demo1", "gpt-4.1", Decimal(6)
        ),
    ],
}

ALLOWED_GROUP_BY = {
    "completions": ["project_id", "api_key_id", "model"],
    "embeddings": ["project_id", "api_key_id", "model"],
    "moderations": ["project_id", "api_key_id", "model"],
    "images": ["project_id", "api_key_id", "model"],
    "audio_speeches": ["project_id", "api_key_id", "model"],
    "audio_transcriptions": ["project_id", "api_key_id", "model"],
    "vector_stores": ["project_id"],
    "code_interpreter_sessions": ["project_id"],
    "file_search_calls": ["project_id", "api_key_id"],
    "web_search_calls": ["project_id", "api_key_id", "model"],
}


def test_every_usage_kind_is_covered() -> None:
    assert set(USAGE_EXPECTED) | {"completions"} == set(USAGE_KINDS)
    assert set(ALLOWED_GROUP_BY) == set(USAGE_KINDS)


@pytest.mark.parametrize("kind", sorted(USAGE_EXPECTED))
async def test_usage_endpoint(mock: aioresponses, upstream: Upstream, kind: str) -> None:
    path = f"/v1/organization/usage/{kind}"
    params = bucket_params(ALLOWED_GROUP_BY[kind])
    mock.get(url(path, params), body=fixture(f"usage_{kind}"))
    records = await openai.PROVIDER.sources[f"usage_{kind}"](make_ctx(upstream))
    assert records == USAGE_EXPECTED[kind]
    assert sent(mock, path) == [params]


def test_usage_sums() -> None:
    def total(kind: str, unit: CountUnit) -> Decimal:
        page = json.loads(fixture(f"usage_{kind}"), parse_float=Decimal)
        records = openai.parse_usage_page(kind, page)
        return sum(
            (r.value for r in records if isinstance(r, CountRecord) and r.unit is unit), Decimal(0)
        )

    assert total("audio_transcriptions", CountUnit.TRANSCRIPTION_SECONDS) == Decimal("181.5")
    assert total("audio_transcriptions", REQ) == 4
    assert total("audio_speeches", CountUnit.SPEECH_CHARACTERS) == 12345
    assert total("images", CountUnit.IMAGES) == 4
    assert total("web_search_calls", REQ) == 0
    embeddings = openai.parse_usage_page(
        "embeddings", json.loads(fixture("usage_embeddings"), parse_float=Decimal)
    )
    assert sum(r.input for r in embeddings if isinstance(r, TokenRecord)) == 20000


@pytest.mark.parametrize("kind", USAGE_KINDS)
@pytest.mark.parametrize(
    "group_by",
    [ALL, frozenset({"model"}), frozenset({"api_key", "line_item"}), frozenset()],
    ids=["all", "model", "api_key+line_item", "none"],
)
async def test_usage_group_by_only_allowed_values(
    mock: aioresponses, upstream: Upstream, kind: str, group_by: frozenset[str]
) -> None:
    names = {"project": "project_id", "api_key": "api_key_id", "model": "model"}
    expected = [
        value
        for value in ALLOWED_GROUP_BY[kind]
        if any(names[d] == value for d in group_by if d in names)
    ]
    path = f"/v1/organization/usage/{kind}"
    mock.get(url(path, bucket_params(expected)), body=EMPTY_PAGE)
    assert await openai.PROVIDER.sources[f"usage_{kind}"](make_ctx(upstream, group_by)) == []
    [params] = sent(mock, path)
    assert params == bucket_params(expected)
    assert [v for k, v in params if k == "group_by[]"] == expected
    assert not any(k == "end_time" for k, _ in params)


# --------------------------------------------------------------------------------------------
# projects
# --------------------------------------------------------------------------------------------


def keys_path(project: str) -> str:
    return f"/v1/organization/projects/{project}/api_keys"


def mock_projects(mock: aioresponses) -> None:
    params: Params = [("limit", "100"), ("include_archived", "true")]
    mock.get(url(PROJECTS, params), body=fixture("projects_page1"))
    mock.get(url(PROJECTS, [*params, ("after", "proj_demoB")]), body=fixture("projects_page2"))
    kp: Params = [("limit", "100")]
    mock.get(url(keys_path("proj_demoA"), kp), body=fixture("api_keys_proj_demoA_page1"))
    mock.get(
        url(keys_path("proj_demoA"), [*kp, ("after", "key_demo1")]),
        body=fixture("api_keys_proj_demoA_page2"),
    )
    mock.get(url(keys_path("proj_demoB"), kp), body=fixture("api_keys_proj_demoB"))
    mock.get(
        url(keys_path("proj_demoC"), kp),
        status=404,
        payload={"error": {"message": "No such project", "type": "invalid_request_error"}},
    )


async def test_projects(mock: aioresponses, upstream: Upstream) -> None:
    mock_projects(mock)
    records = await openai.PROVIDER.sources["projects"](make_ctx(upstream))
    assert records == [
        ProjectInfo("proj_demoA", "Demo A"),
        ProjectInfo("proj_demoB", "Demo B"),
        ProjectInfo("proj_demoC", "Old demo (archived)"),
        ApiKeyInfo("key_demo1", "backend"),
        ApiKeyInfo("key_demo2", "batch worker"),
        ApiKeyInfo("key_demo3", ""),
        # proj_demoC's key listing answered 404: skipped, not a failure of the source
    ]
    assert sent(mock, PROJECTS) == [
        [("limit", "100"), ("include_archived", "true")],
        [("limit", "100"), ("include_archived", "true"), ("after", "proj_demoB")],
    ]
    assert sent(mock, keys_path("proj_demoA")) == [
        [("limit", "100")],
        [("limit", "100"), ("after", "key_demo1")],
    ]
    assert upstream.stats.requests == 6
    assert upstream.stats.failures == {"client_error": 1}
    # key material is never kept
    for secret in ("sk-proj-abc", "sk-svcacct", "sk-proj-mno", "redacted"):
        assert secret not in repr(records)


async def test_projects_other_errors_fail_the_source(
    mock: aioresponses, upstream: Upstream
) -> None:
    params: Params = [("limit", "100"), ("include_archived", "true")]
    mock.get(url(PROJECTS, params), body=fixture("projects_page2"))
    mock.get(url(keys_path("proj_demoC"), [("limit", "100")]), status=401)
    with pytest.raises(AuthError):
        await openai.PROVIDER.sources["projects"](make_ctx(upstream))


async def test_projects_key_listing_concurrency_is_bounded(
    mock: aioresponses, upstream: Upstream
) -> None:
    ids = [f"proj_demo{i:02d}" for i in range(12)]
    page = {"object": "list", "data": [{"id": i, "name": i} for i in ids], "has_more": False}
    mock.get(url(PROJECTS, [("limit", "100"), ("include_archived", "true")]), payload=page)
    in_flight = 0
    peak = 0

    async def slow(request_url: URL, **kwargs: Any) -> None:
        nonlocal in_flight, peak
        in_flight += 1
        peak = max(peak, in_flight)
        await asyncio.sleep(0.01)
        in_flight -= 1

    for project in ids:
        mock.get(
            url(keys_path(project), [("limit", "100")]),
            payload={"object": "list", "data": [], "has_more": False},
            callback=slow,
        )
    records = await openai.PROVIDER.sources["projects"](make_ctx(upstream))
    assert len(records) == len(ids)
    assert 1 < peak <= openai.KEY_LISTING_CONCURRENCY == 4


def test_list_next_cursor() -> None:
    assert last_id_cursor({"has_more": False, "last_id": "x"}) is None
    assert last_id_cursor({"last_id": "x"}) is None
    assert last_id_cursor({"has_more": True, "last_id": "proj_x"}) == "proj_x"
    fallback = {"has_more": True, "data": [{"id": "a"}, {"id": "b"}]}
    assert last_id_cursor(fallback) == "b"
    with pytest.raises(InvalidResponseError, match="last_id"):
        last_id_cursor({"has_more": True, "data": []})


# --------------------------------------------------------------------------------------------
# check
# --------------------------------------------------------------------------------------------


async def test_check(mock: aioresponses, upstream: Upstream) -> None:
    mock.get(url(PROJECTS, [("limit", "1")]), body=fixture("projects_page2"))
    await openai.PROVIDER.check(upstream)
    assert upstream.stats.requests == 1


async def test_check_rejected(mock: aioresponses, upstream: Upstream) -> None:
    mock.get(url(PROJECTS, [("limit", "1")]), status=401)
    with pytest.raises(AuthError) as caught:
        await openai.PROVIDER.check(upstream)
    assert KEY not in str(caught.value)


# --------------------------------------------------------------------------------------------
# error paths at provider level
# --------------------------------------------------------------------------------------------

COSTS_URL = url(COSTS, bucket_params(COST_GROUPS))


def assert_no_key(error: BaseException, *others: object) -> None:
    for text in (str(error), repr(error), *map(repr, others)):
        assert KEY not in text
        assert "Bearer" not in text


async def test_401_is_not_retried(
    mock: aioresponses, upstream: Upstream, sleeps: SleepRecorder
) -> None:
    mock.get(COSTS_URL, status=401, repeat=True)
    ctx = make_ctx(upstream)
    with pytest.raises(AuthError) as caught:
        await openai.PROVIDER.sources["costs"](ctx)
    assert upstream.stats.requests == 1
    assert upstream.stats.failures == {"auth": 1}
    assert sleeps.calls == []
    assert_no_key(caught.value, upstream, ctx)


async def test_429_honours_retry_after(
    mock: aioresponses, upstream: Upstream, sleeps: SleepRecorder
) -> None:
    mock.get(COSTS_URL, status=429, headers={"Retry-After": "7"})
    mock.get(COSTS_URL, body=fixture("costs_page3"))
    records = await openai.PROVIDER.sources["costs"](make_ctx(upstream))
    assert records == [CostRecord(day(5), "proj_demoA", "", "gpt-4o, input", Decimal("1.0001"))]
    assert sleeps.calls == [7.0]
    assert upstream.stats.requests == 2
    assert upstream.stats.failures == {"rate_limited": 1}


async def test_500_exhausts_retries(
    mock: aioresponses, upstream: Upstream, sleeps: SleepRecorder
) -> None:
    mock.get(COSTS_URL, status=500, repeat=True)
    ctx = make_ctx(upstream)
    with pytest.raises(UpstreamServerError) as caught:
        await openai.PROVIDER.sources["costs"](ctx)
    attempts = RetryPolicy().attempts
    assert upstream.stats.requests == attempts
    assert upstream.stats.failures == {"server_error": attempts}
    assert len(sleeps.calls) == attempts - 1
    assert_no_key(caught.value, upstream, ctx)


async def test_500_on_a_later_page_fails_the_source(mock: aioresponses, upstream: Upstream) -> None:
    mock.get(COSTS_URL, body=fixture("costs_page1"))
    mock.get(
        url(COSTS, [*bucket_params(COST_GROUPS), ("page", "page_costs_demo2")]),
        status=502,
        repeat=True,
    )
    with pytest.raises(UpstreamServerError):
        await openai.PROVIDER.sources["costs"](make_ctx(upstream))


@pytest.mark.parametrize(
    ("source", "path", "body", "match"),
    [
        ("costs", COSTS, "{not json", "malformed JSON"),
        ("costs", COSTS, '{"object": "page", "data": "oops"}', r"costs\.data: expected a list"),
        (
            "costs",
            COSTS,
            '{"data": [{"start_time": 1754006400, "results": [{"line_item": "x"}]}]}',
            r"costs\.data\[0\]\.results\[0\]\.amount: expected an object",
        ),
        (
            "costs",
            COSTS,
            '{"data": [{"start_time": 1754006400, "results": '
            '[{"amount": {"value": 5, "currency": "eur"}}]}]}',
            r"amount\.currency: expected 'usd', got 'eur'",
        ),
        (
            "usage_completions",
            "/v1/organization/usage/completions",
            '{"data": [{"start_time": 1754006400, "results": [{"input_tokens": 5,'
            ' "input_cached_tokens": 4, "input_cache_write_tokens": 2, "output_tokens": 1,'
            ' "num_model_requests": 1}]}]}',
            r"input_tokens: 5 is less than",
        ),
        (
            "usage_vector_stores",
            "/v1/organization/usage/vector_stores",
            '{"data": [{"end_time": 1754092800, "results": []}]}',
            r"usage_vector_stores\.data\[0\]\.start_time",
        ),
        (
            "projects",
            PROJECTS,
            '{"object": "list", "data": [{"name": "no id"}], "has_more": false}',
            r"projects\.data\[0\]\.id: missing",
        ),
    ],
    ids=[
        "malformed",
        "data-string",
        "amount-missing",
        "eur",
        "negative-input",
        "no-start",
        "project-no-id",
    ],
)
async def test_invalid_responses(
    mock: aioresponses,
    upstream: Upstream,
    sleeps: SleepRecorder,
    source: str,
    path: str,
    body: str,
    match: str,
) -> None:
    mock.get(url(path, [("limit", "100"), ("include_archived", "true")]), body=body)
    kind = source.removeprefix("usage_")
    group_by = ALLOWED_GROUP_BY.get(kind, COST_GROUPS)
    mock.get(url(path, bucket_params(group_by)), body=body)
    ctx = make_ctx(upstream)
    with pytest.raises(InvalidResponseError, match=match) as caught:
        await openai.PROVIDER.sources[source](ctx)
    assert upstream.stats.requests == 1  # never retried
    assert upstream.stats.failures == {"invalid_response": 1}
    assert sleeps.calls == []
    assert_no_key(caught.value, upstream, ctx)


async def test_non_object_page(mock: aioresponses, upstream: Upstream) -> None:
    mock.get(COSTS_URL, body="[]")
    with pytest.raises(InvalidResponseError):
        await openai.PROVIDER.sources["costs"](make_ctx(upstream))
    assert upstream.stats.failures == {"invalid_response": 1}


# --------------------------------------------------------------------------------------------
# pure parsers: malformed shapes
# --------------------------------------------------------------------------------------------


def _page(*results: Any, start: Any = 1754006400) -> dict[str, Any]:
    return {"object": "page", "data": [{"start_time": start, "results": list(results)}]}


USD = {"value": "1.00", "currency": "usd"}


@pytest.mark.parametrize(
    ("page", "match"),
    [
        ("a string", r"^costs: expected an object"),
        ({}, r"^costs\.data: missing"),
        ({"data": None}, r"^costs\.data: expected a list"),
        ({"data": {"a": 1}}, r"^costs\.data: expected a list"),
        ({"data": ["bucket"]}, r"^costs\.data\[0\]: expected an object"),
        ({"data": [{"results": []}]}, r"^costs\.data\[0\]\.start_time: missing"),
        (_page(start="yesterday"), r"start_time: not a number"),
        (_page(start=10**30), r"start_time: timestamp out of range"),
        ({"data": [{"start_time": 1, "results": "x"}]}, r"data\[0\]\.results: expected a list"),
        (_page(7), r"results\[0\]: expected an object"),
        (_page({"amount": "1.00"}), r"results\[0\]\.amount: expected an object"),
        (_page({"amount": {"currency": "usd"}}), r"amount\.value: missing number"),
        (_page({"amount": {"value": None, "currency": "usd"}}), r"amount\.value: missing"),
        (_page({"amount": {"value": "12,50", "currency": "usd"}}), r"amount\.value: not a num"),
        (_page({"amount": {"value": True, "currency": "usd"}}), r"amount\.value: .*boolean"),
        (_page({"amount": {"value": "NaN", "currency": "usd"}}), r"amount\.value: not a finite"),
        (_page({"amount": {"value": 1}}), r"amount\.currency: expected 'usd', got None"),
        (_page({"amount": {"value": 1, "currency": "EUR"}}), r"got 'EUR'"),
        (_page({"amount": {"value": 1, "currency": 840}}), r"got 840"),
        (_page({"amount": USD, "project_id": ["p"]}), r"project_id: expected a string"),
        (_page({"amount": USD, "line_item": {"a": 1}}), r"line_item: expected a string"),
    ],
)
def test_costs_parser_rejects(page: Any, match: str) -> None:
    with pytest.raises(InvalidResponseError, match=match):
        openai.parse_costs_page(page)


def test_costs_parser_tolerates() -> None:
    page = {
        "data": [
            {"start_time": "1754006400", "results": None},
            {"start_time": 1754092800},
            {
                "start_time": 1754179200,
                "results": [
                    {"amount": {"value": " 2.5 ", "currency": " Usd "}, "project_id": None},
                    {"amount": {"value": 0, "currency": "usd"}, "project_id": "proj_zero"},
                    {"amount": {"value": "-0.10", "currency": "usd"}, "line_item": "credit"},
                ],
            },
        ],
        "has_more": "maybe",
        "unknown": {"x": [1, 2]},
    }
    assert openai.parse_costs_page(page) == [
        CostRecord(day(3), "", "", "", Decimal("2.5")),
        CostRecord(day(3), "", "", "credit", Decimal("-0.10")),
    ]


def _completion(**fields: Any) -> dict[str, Any]:
    base: dict[str, Any] = {"input_tokens": 10, "output_tokens": 1, "num_model_requests": 1}
    base.update(fields)
    return {k: v for k, v in base.items() if v is not Ellipsis}


@pytest.mark.parametrize(
    ("kind", "result", "match"),
    [
        ("completions", _completion(input_tokens=...), r"results\[0\]\.input_tokens: missing"),
        ("completions", _completion(output_tokens=None), r"output_tokens: missing"),
        ("completions", _completion(num_model_requests=...), r"num_model_requests: missing"),
        ("completions", _completion(input_tokens=-1), r"input_tokens: negative count"),
        ("completions", _completion(input_tokens=1.5), r"input_tokens: expected a whole"),
        ("completions", _completion(input_cached_tokens="x"), r"input_cached_tokens: not a"),
        ("completions", _completion(input_cached_tokens=11), r"input_tokens: 10 is less than"),
        ("completions", _completion(model=3.5), r"\.model: expected a string"),
        ("completions", _completion(api_key_id=False), r"\.api_key_id: expected a string"),
        ("embeddings", {"num_model_requests": 1}, r"input_tokens: missing"),
        ("moderations", {"input_tokens": 1}, r"num_model_requests: missing"),
        ("images", {"num_model_requests": 1}, r"\.images: missing"),
        ("audio_speeches", {"characters": "many", "num_model_requests": 1}, r"characters: not"),
        ("audio_transcriptions", {"num_model_requests": 1}, r"\.seconds: missing"),
        ("audio_transcriptions", {"seconds": -1, "num_model_requests": 1}, r"negative"),
        ("audio_transcriptions", {"seconds": "1e999999999"}, r"seconds: number out of range"),
        ("vector_stores", {"usage_bytes": "1e999999999"}, r"usage_bytes: count out of range"),
        ("vector_stores", {"project_id": "p"}, r"usage_bytes: missing"),
        ("code_interpreter_sessions", {"num_sessions": "1.5"}, r"num_sessions: expected a whole"),
        ("file_search_calls", {"num_model_requests": 3}, r"num_requests: missing"),
        ("web_search_calls", {"num_model_requests": 3}, r"num_requests: missing"),
    ],
)
def test_usage_parser_rejects(kind: str, result: Any, match: str) -> None:
    with pytest.raises(InvalidResponseError, match=match) as caught:
        openai.parse_usage_page(kind, _page(result))
    assert str(caught.value).startswith(f"usage_{kind}.data[0].results[0]")


def test_usage_parser_tolerates_strings_and_ignores_other_dims() -> None:
    page = _page(
        {"num_sessions": "3", "project_id": "proj_demoA", "api_key_id": "key_x", "model": "m"}
    )
    assert openai.parse_usage_page("code_interpreter_sessions", page) == [
        CountRecord(day(1), CountUnit.CODE_INTERPRETER_SESSIONS, "proj_demoA", "", "", Decimal(3))
    ]
    page = _page({"num_requests": 2, "model": "ignored", "vector_store_id": "vs_demo"})
    assert openai.parse_usage_page("file_search_calls", page) == [
        CountRecord(day(1), CountUnit.FILE_SEARCH_CALLS, "", "", "", Decimal(2))
    ]


@pytest.mark.parametrize(
    ("page", "match"),
    [
        (None, r"^projects: expected an object"),
        ({"data": "x"}, r"^projects\.data: expected a list"),
        ({"data": [None]}, r"^projects\.data\[0\]: expected an object"),
        ({"data": [{"id": ""}]}, r"^projects\.data\[0\]\.id: missing"),
        ({"data": [{"id": "p", "name": ["n"]}]}, r"^projects\.data\[0\]\.name: expected"),
    ],
)
def test_projects_parser_rejects(page: Any, match: str) -> None:
    with pytest.raises(InvalidResponseError, match=match):
        openai.parse_projects_page(page)


def test_api_keys_parser_reads_only_id_and_name() -> None:
    page = json.loads(fixture("api_keys_proj_demoA_page1"))
    assert openai.parse_api_keys_page(page) == [ApiKeyInfo("key_demo1", "backend")]
    with pytest.raises(InvalidResponseError, match=r"^api_keys\.data\[0\]\.id"):
        openai.parse_api_keys_page({"data": [{"redacted_value": "sk-abc...def"}]})


# --------------------------------------------------------------------------------------------
# fuzz: a parser returns records or raises InvalidResponseError, nothing else
# --------------------------------------------------------------------------------------------

_FIELDS = (
    "data",
    "results",
    "start_time",
    "amount",
    "value",
    "currency",
    "project_id",
    "api_key_id",
    "model",
    "line_item",
    "input_tokens",
    "input_cached_tokens",
    "input_cache_write_tokens",
    "output_tokens",
    "num_model_requests",
    "images",
    "characters",
    "seconds",
    "usage_bytes",
    "num_sessions",
    "num_requests",
    "id",
    "name",
    "has_more",
    "last_id",
)

_scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.decimals(min_value=-(10**20), max_value=10**20, places=6)
    | st.decimals(allow_nan=True, allow_infinity=True, places=0, max_value=10**12)
    | st.floats()
    | st.text(max_size=12)
    | st.sampled_from(["usd", "USD", "eur", "1754006400", "12.50", "-1", "1e5", "NaN", ""])
)
_json = st.recursive(
    _scalars,
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(st.sampled_from(_FIELDS) | st.text(max_size=4), inner, max_size=6)
    ),
    max_leaves=30,
)


def _shaped(leaf: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """Pages close to the documented shape, with arbitrary leaves."""
    result = st.dictionaries(st.sampled_from(_FIELDS), leaf, max_size=8) | st.fixed_dictionaries(
        {"amount": st.fixed_dictionaries({"value": leaf, "currency": leaf})}
    )
    bucket = st.fixed_dictionaries(
        {"start_time": leaf | st.integers(0, 2**32), "results": st.lists(result, max_size=3)}
    )
    return st.fixed_dictionaries({"data": st.lists(bucket | leaf, max_size=3)})


_pages = _json | _shaped(_json)


@settings(max_examples=300, deadline=None)
@given(page=_pages, kind=st.sampled_from(USAGE_KINDS))
def test_parsers_raise_only_invalid_response(page: Any, kind: str) -> None:
    parsers = (
        openai.parse_costs_page,
        lambda p: openai.parse_usage_page(kind, p),
        openai.parse_projects_page,
        openai.parse_api_keys_page,
        lambda p: [openai.parse_spend_limit(p, "spend_limit")],
    )
    for parse in parsers:
        try:
            records = parse(page)
        except InvalidResponseError as err:
            assert isinstance(err, SourceError)
            assert len(str(err)) < 300
        else:
            assert isinstance(records, list)
    if isinstance(page, dict):
        try:
            cursor = last_id_cursor(page)
        except InvalidResponseError:
            pass
        else:
            assert cursor is None or isinstance(cursor, str)


# --------------------------------------------------------------------------------------------
# spend_limits
# --------------------------------------------------------------------------------------------

ORG_LIMIT = "/v1/organization/spend_limit"
EMPTY_LIST = '{"object": "list", "data": [], "has_more": false}'


def limit_path(project: str) -> str:
    return f"/v1/organization/projects/{project}/spend_limit"


def mock_spend_limits(mock: aioresponses) -> None:
    mock.get(url(ORG_LIMIT, []), body=fixture("spend_limit_org"))
    active: Params = [("limit", "100")]  # archived projects are not listed
    mock.get(url(PROJECTS, active), body=fixture("projects_page1"))
    mock.get(
        url(PROJECTS, [*active, ("after", "proj_demoB")]), body=fixture("spend_projects_page2")
    )
    mock.get(url(limit_path("proj_demoA"), []), body=fixture("spend_limit_proj_demoA"))
    mock.get(
        url(limit_path("proj_demoB"), []),
        status=404,
        payload={"error": {"message": "No spend limit", "type": "invalid_request_error"}},
    )
    for project in ("proj_demoD", "proj_demoE", "proj_demoF"):
        mock.get(url(limit_path(project), []), body=fixture(f"spend_limit_{project}"))


def spend_limit(value: str, project: str) -> Record:
    return gauge("llm_spend_limit_usd", Decimal(value), project=project)


async def test_spend_limits(mock: aioresponses, upstream: Upstream) -> None:
    mock_spend_limits(mock)
    records = await openai.PROVIDER.sources["spend_limits"](make_ctx(upstream))
    assert records == [
        spend_limit("1500", ""),  # 150000 cents, the organisation (project "")
        spend_limit("25.50", "proj_demoA"),  # "2550" cents as a string
        # proj_demoB: 404, proj_demoD: null, proj_demoE: 0 (no limit set) → no series
        spend_limit("0.01", "proj_demoF"),  # 1 cent, the smallest limit; "usd" accepted
    ]
    assert [r.value for r in records if isinstance(r, GaugeRecord)] == [
        Decimal("1500.00"),
        Decimal("25.50"),
        Decimal("0.01"),
    ]
    assert sent(mock, PROJECTS) == [
        [("limit", "100")],
        [("limit", "100"), ("after", "proj_demoB")],
    ]
    for project in ("proj_demoA", "proj_demoB", "proj_demoD", "proj_demoE", "proj_demoF"):
        assert sent(mock, limit_path(project)) == [[]]
    assert upstream.stats.requests == 8
    assert upstream.stats.failures == {"client_error": 1}


async def test_spend_limits_without_project_grouping(
    mock: aioresponses, upstream: Upstream
) -> None:
    mock.get(url(ORG_LIMIT, []), body=fixture("spend_limit_org"))
    ctx = make_ctx(upstream, frozenset({"model", "line_item"}))
    records = await openai.PROVIDER.sources["spend_limits"](ctx)
    assert records == [spend_limit("1500", "")]
    assert upstream.stats.requests == 1  # no project listing, no per-project request


async def test_spend_limits_none_set(mock: aioresponses, upstream: Upstream) -> None:
    mock.get(url(ORG_LIMIT, []), status=404)
    mock.get(
        url(PROJECTS, [("limit", "100")]), body='{"object": "list", "data": [], "has_more": false}'
    )
    assert await openai.PROVIDER.sources["spend_limits"](make_ctx(upstream)) == []


@pytest.mark.parametrize(
    ("status", "error"), [(401, AuthError), (400, UpstreamClientError), (500, UpstreamServerError)]
)
async def test_spend_limits_other_errors_fail_the_source(
    mock: aioresponses, upstream: Upstream, status: int, error: type[Exception]
) -> None:
    mock.get(url(ORG_LIMIT, []), body=fixture("spend_limit_org"))
    mock.get(url(PROJECTS, [("limit", "100")]), body=fixture("projects_page2"))
    for _ in range(4):
        mock.get(url(limit_path("proj_demoC"), []), status=status)
    with pytest.raises(error) as caught:
        await openai.PROVIDER.sources["spend_limits"](make_ctx(upstream))
    assert KEY not in str(caught.value)


async def test_spend_limits_invalid_body_counts_a_failure(
    mock: aioresponses, upstream: Upstream
) -> None:
    mock.get(url(ORG_LIMIT, []), payload={"threshold_amount": 1000, "currency": "EUR"})
    with pytest.raises(InvalidResponseError, match="EUR"):
        await openai.PROVIDER.sources["spend_limits"](make_ctx(upstream))
    assert upstream.stats.failures == {"invalid_response": 1}


@pytest.mark.parametrize(
    ("body", "match"),
    [
        ({"threshold_amount": 1000, "currency": "EUR", "interval": "month"}, "EUR"),
        ({"threshold_amount": 1000}, "currency"),
        ({"threshold_amount": 1000, "currency": None}, "currency"),
        ({"threshold_amount": 1000, "currency": "USD", "interval": "week"}, "month"),
        ({"threshold_amount": -5, "currency": "USD"}, "negative"),
        ({"threshold_amount": "12.5", "currency": "USD"}, "whole"),
        ({"threshold_amount": "ten", "currency": "USD"}, "not a number"),
        ({"threshold_amount": True, "currency": "USD"}, "boolean"),
        ([], "object"),
    ],
)
def test_spend_limit_parser_rejects(body: Any, match: str) -> None:
    with pytest.raises(InvalidResponseError, match=match):
        openai.parse_spend_limit(body, "spend_limit")


def test_spend_limit_parser_tolerates() -> None:
    parse = openai.parse_spend_limit
    assert parse({"threshold_amount": 10000, "currency": "USD"}, "x") == Decimal("100")
    assert parse({"threshold_amount": " 99 ", "currency": " usd "}, "x") == Decimal("0.99")
    # No limit: absent, null or 0 (whatever else the object says).
    assert parse({}, "x") is None
    assert parse({"threshold_amount": None, "currency": "EUR"}, "x") is None
    assert parse({"threshold_amount": 0, "currency": "USD"}, "x") is None
    # Exact cents → dollars, no binary float on the way.
    assert str(parse({"threshold_amount": 123456789012345, "currency": "USD"}, "x")) == (
        "1234567890123.45"
    )


def test_spend_limits_in_the_snapshot() -> None:
    config = Config(accounts=(AccountConfig(provider="openai", name="org"),))
    state = SourceState("openai", "org", "spend_limits", stale_after=900)
    state.records = (spend_limit("1500", ""), spend_limit("25.50", "proj_demoA"))
    state.up = True
    now = datetime(2025, 8, 22, tzinfo=UTC).timestamp()
    state.last_success = now
    snapshot = build_snapshot(config, [state], MonthToDateGuard(), now)
    family = snapshot.family("llm_spend_limit_usd")
    assert family is not None
    assert {s.labels["project"]: s.value for s in family.samples} == {
        "": 1500.0,
        "proj_demoA": 25.5,
    }
    assert b'llm_spend_limit_usd{account="org",project="proj_demoA",provider="openai"} 25.5' in (
        snapshot.render()
    )


def test_module_docstring_names_spend_limits() -> None:
    doc = openai.__doc__ or ""
    for needle in ("spend_limits", ORG_LIMIT, "/spend_limit", "llm_spend_limit_usd", "cents"):
        assert needle in doc
