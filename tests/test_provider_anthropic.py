"""Anthropic Admin API provider: request shapes, normalisation, exact sums and error paths."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable, Iterable, Sequence
from datetime import UTC, datetime
from decimal import Decimal, localcontext
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aioresponses import aioresponses
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from multidict import MultiDict
from yarl import URL

from exporter.errors import (
    AuthError,
    InvalidResponseError,
    SourceError,
    UpstreamServerError,
)
from exporter.providers import anthropic
from exporter.providers.anthropic import (
    PROVIDER,
    parse_api_keys_page,
    parse_cost_page,
    parse_usage_page,
    parse_workspaces_page,
)
from exporter.providers.base import SourceContext
from exporter.records import (
    ApiKeyInfo,
    CostRecord,
    CountRecord,
    CountUnit,
    ProjectInfo,
    Record,
    TokenRecord,
)
from exporter.upstream import RequestStats, RetryPolicy, Upstream, last_id_cursor

FIXTURES = Path(__file__).parent / "fixtures" / "anthropic"
BASE = "https://api.anthropic.com"
KEY = "sk-ant-admin01-test-fake"
START = datetime(2026, 8, 1, tzinfo=UTC)
END = datetime(2026, 8, 21, 10, 0, tzinfo=UTC)
STARTING_AT = "2026-08-01T00:00:00Z"
ALL = frozenset({"project", "api_key", "model", "line_item"})

USAGE = "/v1/organizations/usage_report/messages"
COST = "/v1/organizations/cost_report"
WORKSPACES = "/v1/organizations/workspaces"
API_KEYS = "/v1/organizations/api_keys"

SONNET = "claude-sonnet-4-20250514"
OPUS = "claude-opus-4-1-20250805"
HAIKU = "claude-haiku-4-5"


def day(n: int) -> datetime:
    return datetime(2026, 8, n, tzinfo=UTC)


def raw(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def fixture(name: str) -> Any:
    """A fixture decoded the way Upstream decodes bodies (non-integers as Decimal)."""
    return json.loads(raw(name), parse_float=Decimal)


def url(path: str, params: Iterable[tuple[str, str]]) -> URL:
    return URL(BASE + path).with_query(list(params))


def usage_query(*extra: tuple[str, str]) -> list[tuple[str, str]]:
    return [("starting_at", STARTING_AT), ("bucket_width", "1d"), ("limit", "31"), *extra]


class SleepRecorder:
    def __init__(self) -> None:
        self.calls: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.calls.append(seconds)


@pytest.fixture
def sleep() -> SleepRecorder:
    return SleepRecorder()


@pytest.fixture
async def upstream(sleep: SleepRecorder) -> AsyncIterator[Upstream]:
    async with aiohttp.ClientSession() as session:
        yield Upstream(session, BASE, PROVIDER.auth_headers(KEY), RequestStats(), sleep=sleep)


@pytest.fixture
def mocked() -> Iterable[aioresponses]:
    with aioresponses() as m:
        yield m


def context(upstream: Upstream, group_by: Iterable[str] = ALL) -> SourceContext:
    return SourceContext(upstream=upstream, start=START, end=END, group_by=frozenset(group_by))


def sent(m: aioresponses) -> list[tuple[MultiDict[str], dict[str, str]]]:
    """Every request sent, as (query in the order sent, headers), in order."""
    return [
        (MultiDict(call.kwargs["params"]), call.kwargs["headers"])
        for calls in m.requests.values()
        for call in calls
    ]


def assert_credentials_sent(m: aioresponses) -> None:
    requests = sent(m)
    assert requests
    for _, headers in requests:
        assert headers["x-api-key"] == KEY
        assert headers["anthropic-version"] == "2023-06-01"


def assert_no_key(error: BaseException) -> None:
    assert KEY not in str(error)
    assert KEY not in repr(error)
    assert "sk-ant" not in str(error)


def token_totals(records: Iterable[Record]) -> dict[str, int]:
    tokens = [r for r in records if isinstance(r, TokenRecord)]
    return {
        "input": sum(r.input for r in tokens),
        "cache_read": sum(r.cache_read for r in tokens),
        "cache_write_5m": sum(r.cache_write_5m for r in tokens),
        "cache_write_1h": sum(r.cache_write_1h for r in tokens),
        "cache_write": sum(r.cache_write for r in tokens),
        "output": sum(r.output for r in tokens),
    }


def exact_sum(values: Iterable[Decimal]) -> Decimal:
    with localcontext() as ctx:
        ctx.prec = 200
        return sum(values, Decimal(0))


# --------------------------------------------------------------------------- spec


def test_provider_spec() -> None:
    assert PROVIDER.name == "anthropic"
    assert PROVIDER.default_base_url == "https://api.anthropic.com"
    assert PROVIDER.env_var == "ANTHROPIC_ADMIN_KEY"
    assert set(PROVIDER.sources) == {"usage_messages", "cost_report", "names"}
    assert dict(PROVIDER.auth_headers("k")) == {"x-api-key": "k", "anthropic-version": "2023-06-01"}
    assert "Admin key" in PROVIDER.key_hint
    assert "sk-ant-admin01-" in PROVIDER.key_hint


def test_module_docstring_documents_endpoints_and_blind_spots() -> None:
    doc = anthropic.__doc__ or ""
    for needle in (USAGE, COST, WORKSPACES, API_KEYS, "ANTHROPIC_ADMIN_KEY", "sk-ant-admin01-"):
        assert needle in doc
    for metric in (
        "llm_tokens_total",
        "llm_web_search_calls_total",
        "llm_cost_usd_total",
        "llm_project_info",
        "llm_api_key_info",
    ):
        assert metric in doc
    assert "Priority Tier" in doc
    assert "Code execution" in doc
    assert "no API key dimension" in doc


# --------------------------------------------------------------------------- usage_messages


EXPECTED_USAGE: list[Record] = [
    TokenRecord(day(1), "wrkspc_demoA", "apikey_demo1", SONNET, 15230, 913004, 48211, 1200, 22871),
    CountRecord(
        day(1), CountUnit.WEB_SEARCH_CALLS, "wrkspc_demoA", "apikey_demo1", SONNET, Decimal(3)
    ),
    TokenRecord(day(1), "default", "apikey_demo2", OPUS, 800, 0, 0, 0, 1500),
    TokenRecord(day(3), "wrkspc_demoB", "console", HAIKU, 42, 7, 0, 0, 99),
    TokenRecord(day(3), "wrkspc_demoA", "apikey_demo1", SONNET, 5, 1000, 0, 0, 6),
    # day 5: the all-zero result produces nothing; the web-search-only one a count only
    CountRecord(day(5), CountUnit.WEB_SEARCH_CALLS, "default", "apikey_demo2", OPUS, Decimal(4)),
    TokenRecord(day(5), "wrkspc_demoA", "apikey_demo1", SONNET, 100, 0, 0, 300, 50),
]


async def test_usage_messages_paginates_and_normalises(
    upstream: Upstream, mocked: aioresponses
) -> None:
    group = [("group_by[]", "workspace_id"), ("group_by[]", "api_key_id"), ("group_by[]", "model")]
    first = usage_query(*group)
    mocked.get(url(USAGE, first), body=raw("usage_messages_page1.json"))
    mocked.get(url(USAGE, [*first, ("page", "page_demo_2")]), body=raw("usage_messages_page2.json"))
    mocked.get(url(USAGE, [*first, ("page", "page_demo_3")]), body=raw("usage_messages_page3.json"))

    records = await PROVIDER.sources["usage_messages"](context(upstream))

    assert list(records) == EXPECTED_USAGE
    assert token_totals(records) == {
        "input": 16177,
        "cache_read": 914011,
        "cache_write_5m": 48211,
        "cache_write_1h": 1500,
        "cache_write": 49711,
        "output": 24526,
    }
    searches = [r.value for r in records if isinstance(r, CountRecord)]
    assert sum(searches) == Decimal(7)

    requests = sent(mocked)
    assert len(requests) == 3 == upstream.stats.requests
    for query, _ in requests:
        assert query.getall("group_by[]") == ["workspace_id", "api_key_id", "model"]
        assert query["starting_at"] == STARTING_AT
        assert query["bucket_width"] == "1d"
        assert query["limit"] == "31"
        assert "ending_at" not in query
    assert [q.get("page") for q, _ in requests] == [None, "page_demo_2", "page_demo_3"]
    assert_credentials_sent(mocked)


@pytest.mark.parametrize(
    ("group_by", "expected"),
    [
        (set(), []),
        ({"line_item"}, []),
        ({"model"}, ["model"]),
        ({"api_key", "model"}, ["api_key_id", "model"]),
        ({"project"}, ["workspace_id"]),
        (ALL, ["workspace_id", "api_key_id", "model"]),
    ],
)
def test_usage_group_by_params(group_by: set[str], expected: list[str]) -> None:
    params = anthropic.usage_params(START, frozenset(group_by))
    assert [v for k, v in params if k == "group_by[]"] == expected
    assert ("starting_at", STARTING_AT) in params


def test_starting_at_is_utc_rfc3339() -> None:
    from datetime import timedelta, timezone

    cet = timezone(timedelta(hours=2))
    params = dict(anthropic.usage_params(datetime(2026, 8, 1, 2, 0, tzinfo=cet), frozenset()))
    assert params["starting_at"] == STARTING_AT
    naive = dict(anthropic.cost_params(datetime(2026, 8, 1), frozenset()))
    assert naive["starting_at"] == STARTING_AT


def test_usage_labels_empty_when_not_grouped() -> None:
    pages = ["usage_messages_page1.json", "usage_messages_page2.json", "usage_messages_page3.json"]
    records = [r for p in pages for r in parse_usage_page(fixture(p), frozenset())]
    for record in records:
        assert isinstance(record, TokenRecord | CountRecord)
        assert (record.project, record.api_key, record.model) == ("", "", "")
    # same numbers whatever the labels
    assert token_totals(records) == token_totals(EXPECTED_USAGE)


def test_usage_null_semantics_only_where_grouped() -> None:
    page = fixture("usage_messages_page2.json")
    by_project = parse_usage_page(page, frozenset({"project"}))
    assert [(r.project, r.api_key) for r in by_project if isinstance(r, TokenRecord)] == [
        ("wrkspc_demoB", ""),
        ("wrkspc_demoA", ""),
    ]
    by_key = parse_usage_page(page, frozenset({"api_key"}))
    assert [(r.project, r.api_key) for r in by_key if isinstance(r, TokenRecord)] == [
        ("", "console"),
        ("", "apikey_demo1"),
    ]
    by_workspace = parse_usage_page(fixture("usage_messages_page1.json"), frozenset({"project"}))
    assert [r.project for r in by_workspace if isinstance(r, TokenRecord | CountRecord)] == [
        "wrkspc_demoA",
        "wrkspc_demoA",
        "default",
    ]


def test_usage_empty_buckets_and_empty_page() -> None:
    assert parse_usage_page({"data": [], "has_more": False, "next_page": None}, ALL) == []
    page = {"data": [{"starting_at": STARTING_AT, "ending_at": "x", "results": []}]}
    assert parse_usage_page(page, ALL) == []


# --------------------------------------------------------------------------- cost_report


EXPECTED_COST = [
    CostRecord(
        day(1),
        "wrkspc_demoA",
        SONNET,
        "Claude Sonnet 4 Usage - Output Tokens",
        Decimal("45.710325"),
    ),
    CostRecord(day(1), "default", "", "Web Search Usage", Decimal("0.35")),
    CostRecord(
        day(1), "wrkspc_demoA", SONNET, "Claude Sonnet 4 Usage - Input Tokens", Decimal("12.005")
    ),
    CostRecord(
        day(1), "wrkspc_demoA", SONNET, "Claude Sonnet 4 Usage - Input Tokens", Decimal("7.995")
    ),
    CostRecord(
        day(3),
        "wrkspc_demoB",
        "",
        "Code Execution Usage",
        Decimal("0.00123456789012345678901234567890123456789"),
    ),
    CostRecord(
        day(3), "wrkspc_demoB", HAIKU, "Claude Haiku 4.5 Usage - Input Tokens", Decimal("2.50")
    ),
    CostRecord(day(3), "default", "", "", Decimal("0.1275")),
]


async def test_cost_report_paginates_and_normalises(
    upstream: Upstream, mocked: aioresponses
) -> None:
    first = usage_query(("group_by[]", "workspace_id"), ("group_by[]", "description"))
    mocked.get(url(COST, first), body=raw("cost_report_page1.json"))
    mocked.get(url(COST, [*first, ("page", "page_cost_2")]), body=raw("cost_report_page2.json"))

    records = await PROVIDER.sources["cost_report"](context(upstream))

    assert list(records) == EXPECTED_COST
    amounts = [r.amount_usd for r in records if isinstance(r, CostRecord)]
    # exact, digit for digit (no binary float, no 28-digit context rounding)
    assert [str(a) for a in amounts] == [
        "45.710325",
        "0.35",
        "12.005",
        "7.995",
        "0.00123456789012345678901234567890123456789",
        "2.50",
        "0.1275",
    ]
    assert exact_sum(amounts) == Decimal("68.68905956789012345678901234567890123456789")
    assert exact_sum(amounts).quantize(Decimal("0.01")) == Decimal("68.69")

    requests = sent(mocked)
    assert len(requests) == 2
    for query, _ in requests:
        assert query.getall("group_by[]") == ["workspace_id", "description"]
        assert query["starting_at"] == STARTING_AT
        assert query["bucket_width"] == "1d"
        assert query["limit"] == "31"
    assert_credentials_sent(mocked)


async def test_cost_report_without_project_groups_by_description_only(
    upstream: Upstream, mocked: aioresponses
) -> None:
    query = usage_query(("group_by[]", "description"))
    mocked.get(url(COST, query), body=raw("cost_report_page2.json"))

    records = await PROVIDER.sources["cost_report"](context(upstream, {"model", "api_key"}))

    assert [q.getall("group_by[]") for q, _ in sent(mocked)] == [["description"]]
    assert [(r.project, r.model, r.line_item) for r in records if isinstance(r, CostRecord)] == [
        ("", "", ""),
        ("", HAIKU, ""),
        ("", "", ""),
    ]


def test_cost_same_labels_are_all_kept() -> None:
    records = parse_cost_page(fixture("cost_report_page1.json"), frozenset({"project", "model"}))
    sonnet = [r.amount_usd for r in records if r.model == SONNET]
    assert len(sonnet) == 3  # output + standard input + batch input, same labels
    assert sum(sonnet) == Decimal("65.710325")
    ungrouped = parse_cost_page(fixture("cost_report_page1.json"), frozenset())
    assert len(ungrouped) == 4
    assert {(r.project, r.model, r.line_item) for r in ungrouped} == {("", "", "")}
    assert sum(r.amount_usd for r in ungrouped) == Decimal("66.060325")


@pytest.mark.parametrize(
    ("amount", "usd"),
    [
        ("4571.0325", "45.710325"),
        ("123.45", "1.2345"),
        ("0", "0"),
        ("1", "0.01"),
        (" 99.9 ", "0.999"),
        ("1e3", "10"),
        (7, "0.07"),
        (Decimal("12.75"), "0.1275"),
        ("123456789012345678901234567890.123456789", "1234567890123456789012345678.90123456789"),
    ],
)
def test_cents_to_dollars_exact(amount: object, usd: str) -> None:
    page = {
        "data": [{"starting_at": STARTING_AT, "results": [{"amount": amount, "currency": "USD"}]}]
    }
    [record] = parse_cost_page(page, ALL)
    assert record.amount_usd == Decimal(usd)
    assert record.start == START


# --------------------------------------------------------------------------- names


async def test_names_paginates_with_after_id(upstream: Upstream, mocked: aioresponses) -> None:
    ws = [("limit", "100"), ("include_archived", "true")]
    mocked.get(url(WORKSPACES, ws), body=raw("workspaces_page1.json"))
    mocked.get(
        url(WORKSPACES, [*ws, ("after_id", "wrkspc_demoB")]), body=raw("workspaces_page2.json")
    )
    keys = [("limit", "100")]
    mocked.get(url(API_KEYS, keys), body=raw("api_keys_page1.json"))
    mocked.get(
        url(API_KEYS, [*keys, ("after_id", "apikey_demo2")]), body=raw("api_keys_page2.json")
    )

    records = await PROVIDER.sources["names"](context(upstream, ()))

    assert [r for r in records if isinstance(r, ProjectInfo)] == [
        ProjectInfo("default", "Default workspace"),
        ProjectInfo("wrkspc_demoA", "Production"),
        ProjectInfo("wrkspc_demoB", "Research"),
        ProjectInfo("wrkspc_demoC", "Old experiments"),
    ]
    assert [r for r in records if isinstance(r, ApiKeyInfo)] == [
        ApiKeyInfo("console", "Console (no API key)"),
        ApiKeyInfo("apikey_demo1", "backend"),
        ApiKeyInfo("apikey_demo2", "batch jobs"),
        ApiKeyInfo("apikey_demo3", "expired-ci"),
    ]
    assert len(records) == 8
    assert "hint" not in repr(records)  # partial_key_hint is never kept
    queries = [q for q, _ in sent(mocked)]
    assert [q.get("after_id") for q in queries] == [None, "wrkspc_demoB", None, "apikey_demo2"]
    assert [q.get("include_archived") for q in queries] == ["true", "true", None, None]
    assert all(q["limit"] == "100" and "status" not in q for q in queries)  # every status
    assert_credentials_sent(mocked)


def test_listing_has_more_without_cursor_uses_last_item() -> None:
    page = {"data": [{"id": "wrkspc_demoA"}, {"id": "wrkspc_demoB"}], "has_more": True}
    assert last_id_cursor(page) == "wrkspc_demoB"
    assert last_id_cursor({"data": [], "has_more": False, "last_id": None}) is None
    with pytest.raises(InvalidResponseError):
        last_id_cursor({"data": [], "has_more": True, "last_id": None})


def test_listing_null_name_and_missing_id() -> None:
    assert parse_workspaces_page({"data": [{"id": "wrkspc_demoA", "name": None}]}) == [
        ProjectInfo("wrkspc_demoA", "")
    ]
    with pytest.raises(InvalidResponseError, match=r"api_keys\.data\[0\]\.id"):
        parse_api_keys_page({"data": [{"name": "no id"}]})


async def test_check_is_one_cheap_request(upstream: Upstream, mocked: aioresponses) -> None:
    mocked.get(url(WORKSPACES, [("limit", "1")]), body=raw("workspaces_page2.json"))
    await PROVIDER.check(upstream)
    assert len(sent(mocked)) == 1
    assert_credentials_sent(mocked)


# --------------------------------------------------------------------------- HTTP error paths

COST_ALL = usage_query(("group_by[]", "workspace_id"), ("group_by[]", "description"))


async def test_401_is_auth_error_without_retry(
    upstream: Upstream, mocked: aioresponses, sleep: SleepRecorder
) -> None:
    mocked.get(url(COST, COST_ALL), status=401, body=b'{"type":"error"}', repeat=True)
    with pytest.raises(AuthError) as caught:
        await PROVIDER.sources["cost_report"](context(upstream))
    assert len(sent(mocked)) == 1 == upstream.stats.requests
    assert upstream.stats.failures["auth"] == 1
    assert sleep.calls == []
    assert_no_key(caught.value)
    assert KEY not in repr(upstream)


async def test_check_401(upstream: Upstream, mocked: aioresponses) -> None:
    mocked.get(url(WORKSPACES, [("limit", "1")]), status=403, repeat=True)
    with pytest.raises(AuthError) as caught:
        await PROVIDER.check(upstream)
    assert len(sent(mocked)) == 1
    assert_no_key(caught.value)


async def test_429_honours_retry_after(
    upstream: Upstream, mocked: aioresponses, sleep: SleepRecorder
) -> None:
    mocked.get(url(COST, COST_ALL), status=429, headers={"Retry-After": "7"})
    mocked.get(url(COST, COST_ALL), body=raw("cost_report_page2.json"))
    records = await PROVIDER.sources["cost_report"](context(upstream))
    assert len(records) == 3
    assert sleep.calls == [7.0]
    assert upstream.stats.requests == 2
    assert upstream.stats.failures["rate_limited"] == 1


async def test_503_repeatedly_is_server_error(
    upstream: Upstream, mocked: aioresponses, sleep: SleepRecorder
) -> None:
    mocked.get(url(COST, COST_ALL), status=503, repeat=True)
    with pytest.raises(UpstreamServerError) as caught:
        await PROVIDER.sources["cost_report"](context(upstream))
    attempts = RetryPolicy().attempts
    assert len(sent(mocked)) == attempts == upstream.stats.requests
    assert len(sleep.calls) == attempts - 1
    assert upstream.stats.failures["server_error"] == attempts
    assert_no_key(caught.value)


async def test_error_on_second_page_fails_the_source(
    upstream: Upstream, mocked: aioresponses
) -> None:
    group = [("group_by[]", "workspace_id"), ("group_by[]", "api_key_id"), ("group_by[]", "model")]
    first = usage_query(*group)
    mocked.get(url(USAGE, first), body=raw("usage_messages_page1.json"))
    mocked.get(url(USAGE, [*first, ("page", "page_demo_2")]), body=b"{truncated")
    with pytest.raises(InvalidResponseError):
        await PROVIDER.sources["usage_messages"](context(upstream))


async def test_malformed_json(upstream: Upstream, mocked: aioresponses) -> None:
    mocked.get(url(COST, COST_ALL), body=b'{"data": [')
    with pytest.raises(InvalidResponseError) as caught:
        await PROVIDER.sources["cost_report"](context(upstream))
    assert_no_key(caught.value)
    assert upstream.stats.failures["invalid_response"] == 1


async def test_body_not_utf8(upstream: Upstream, mocked: aioresponses) -> None:
    mocked.get(url(COST, COST_ALL), body=b'{"data": [\xff]}')
    with pytest.raises(InvalidResponseError):
        await PROVIDER.sources["cost_report"](context(upstream))


async def test_integer_beyond_json_digit_limit(upstream: Upstream, mocked: aioresponses) -> None:
    body = b'{"data": [], "has_more": false, "amount": ' + b"9" * 5000 + b"}"
    mocked.get(url(COST, COST_ALL), body=body)
    with pytest.raises(InvalidResponseError):
        await PROVIDER.sources["cost_report"](context(upstream))


def _cost_page(**result: Any) -> dict[str, Any]:
    base: dict[str, Any] = {"amount": "1", "currency": "USD"}
    base.update(result)
    return {"data": [{"starting_at": STARTING_AT, "results": [base]}], "has_more": False}


@pytest.mark.parametrize(
    ("page", "path"),
    [
        ({"data": [{"starting_at": STARTING_AT, "results": {"a": 1}}]}, r"data\[0\]\.results"),
        ({"data": [{"starting_at": STARTING_AT, "results": None}]}, r"data\[0\]\.results"),
        ({"data": [{"starting_at": STARTING_AT}]}, r"data\[0\]\.results"),
        ({"data": {"starting_at": STARTING_AT}}, r"cost_report\.data"),
        ({"results": []}, r"cost_report\.data"),
        ([], r"cost_report"),
        ({"data": [{"starting_at": "yesterday-ish", "results": []}]}, r"starting_at"),
        ({"data": [{"starting_at": 1754006400, "results": []}]}, r"starting_at"),
        ({"data": ["bucket"]}, r"data\[0\]"),
        (_cost_page(amount=None), r"results\[0\]\.amount"),
        (_cost_page(amount="12,50"), r"results\[0\]\.amount"),
        (_cost_page(amount="NaN"), r"results\[0\]\.amount"),
        (_cost_page(amount="Infinity"), r"results\[0\]\.amount"),
        (_cost_page(amount=True), r"results\[0\]\.amount"),
        (_cost_page(amount={"value": "1"}), r"results\[0\]\.amount"),
        (_cost_page(workspace_id=["wrkspc_demoA"]), r"results\[0\]\.workspace_id"),
        (_cost_page(model={"id": SONNET}), r"results\[0\]\.model"),
    ],
)
def test_cost_schema_drift(page: Any, path: str) -> None:
    with pytest.raises(InvalidResponseError, match=path):
        parse_cost_page(page, ALL)


def _cost_without_amount() -> dict[str, Any]:
    page = _cost_page()
    del page["data"][0]["results"][0]["amount"]
    return page


def test_cost_amount_missing() -> None:
    with pytest.raises(InvalidResponseError, match=r"amount: missing"):
        parse_cost_page(_cost_without_amount(), ALL)


def _usage_result(**fields: Any) -> dict[str, Any]:
    return {"data": [{"starting_at": STARTING_AT, "results": [fields]}]}


@pytest.mark.parametrize(
    ("page", "path"),
    [
        ({"data": [{"starting_at": STARTING_AT, "results": "none"}]}, r"data\[0\]\.results"),
        ({"data": None}, r"usage_report\.data"),
        ({"data": [{"starting_at": "2026-13-01T00:00:00Z", "results": []}]}, r"starting_at"),
        (_usage_result(output_tokens=-1), r"results\[0\]\.output_tokens"),
        (_usage_result(output_tokens=1.5), r"results\[0\]\.output_tokens"),
        (_usage_result(uncached_input_tokens="many"), r"uncached_input_tokens"),
        (_usage_result(cache_creation=5), r"results\[0\]\.cache_creation"),
        (
            _usage_result(cache_creation={"ephemeral_5m_input_tokens": "x"}),
            r"cache_creation\.ephemeral_5m_input_tokens",
        ),
        (_usage_result(server_tool_use=[]), r"server_tool_use"),
        (
            _usage_result(server_tool_use={"web_search_requests": -2}),
            r"server_tool_use\.web_search_requests",
        ),
        (_usage_result(api_key_id={"id": "apikey_demo1"}), r"results\[0\]\.api_key_id"),
        ({"data": [{"starting_at": STARTING_AT, "results": [7]}]}, r"results\[0\]"),
    ],
)
def test_usage_schema_drift(page: Any, path: str) -> None:
    with pytest.raises(InvalidResponseError, match=path):
        parse_usage_page(page, ALL)


async def test_schema_drift_over_http(upstream: Upstream, mocked: aioresponses) -> None:
    body = json.dumps({"data": [{"starting_at": STARTING_AT, "results": {}}], "has_more": False})
    mocked.get(url(COST, COST_ALL), body=body.encode())
    with pytest.raises(InvalidResponseError, match=r"results") as caught:
        await PROVIDER.sources["cost_report"](context(upstream))
    assert_no_key(caught.value)


@pytest.mark.parametrize("currency", ["EUR", "usd-ish", None, 840])
def test_non_usd_is_rejected(currency: object) -> None:
    with pytest.raises(InvalidResponseError, match=r"results\[0\]\.currency") as caught:
        parse_cost_page(_cost_page(currency=currency), ALL)
    if isinstance(currency, str):
        assert currency in str(caught.value)
    assert "not USD" in str(caught.value)


async def test_non_usd_over_http(upstream: Upstream, mocked: aioresponses) -> None:
    body = json.dumps(_cost_page(currency="EUR", amount="100"))
    mocked.get(url(COST, COST_ALL), body=body.encode())
    with pytest.raises(InvalidResponseError, match="EUR") as caught:
        await PROVIDER.sources["cost_report"](context(upstream))
    assert_no_key(caught.value)


def test_usd_is_case_and_space_tolerant() -> None:
    [record] = parse_cost_page(_cost_page(currency=" usd "), ALL)
    assert record.amount_usd == Decimal("0.01")


# --------------------------------------------------------------------------- fuzzing

JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(10**20), max_value=10**20)
    | st.decimals(allow_nan=False, allow_infinity=False, places=6)
    | st.text(max_size=12)
    | st.sampled_from([STARTING_AT, "2026-08-01", "1e5", "-3", "USD", "NaN", "1.5"]),
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(
            st.sampled_from(
                [
                    "data",
                    "results",
                    "starting_at",
                    "amount",
                    "currency",
                    "uncached_input_tokens",
                    "cache_creation",
                    "ephemeral_5m_input_tokens",
                    "server_tool_use",
                    "web_search_requests",
                    "workspace_id",
                    "api_key_id",
                    "model",
                    "description",
                    "id",
                    "name",
                    "has_more",
                    "last_id",
                ]
            ),
            children,
            max_size=6,
        )
    ),
    max_leaves=30,
)

PARSERS: list[Callable[[Any], Sequence[Record]]] = [
    lambda page: parse_usage_page(page, ALL),
    lambda page: parse_usage_page(page, frozenset()),
    lambda page: parse_cost_page(page, ALL),
    parse_workspaces_page,
    parse_api_keys_page,
]


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(page=JSON)
def test_parsers_return_records_or_invalid_response(page: Any) -> None:
    for parse in PARSERS:
        try:
            records = parse(page)
        except InvalidResponseError:
            continue
        assert isinstance(records, list)


RESULT_FIELDS = st.fixed_dictionaries(
    {},
    optional={
        "amount": JSON,
        "currency": st.sampled_from(["USD", "EUR", None]) | JSON,
        "uncached_input_tokens": JSON,
        "cache_read_input_tokens": JSON,
        "output_tokens": JSON,
        "cache_creation": JSON,
        "server_tool_use": JSON,
        "workspace_id": JSON,
        "api_key_id": JSON,
        "model": JSON,
        "description": JSON,
    },
)


@settings(max_examples=300, deadline=None)
@given(result=RESULT_FIELDS)
def test_mutated_results_return_records_or_invalid_response(result: dict[str, Any]) -> None:
    page = {"data": [{"starting_at": STARTING_AT, "results": [result]}]}
    for parse in PARSERS[:3]:
        try:
            records = parse(page)
        except InvalidResponseError:
            continue
        for record in records:
            assert isinstance(record, TokenRecord | CountRecord | CostRecord)
            if isinstance(record, TokenRecord):
                assert min(record.input, record.cache_read, record.cache_write, record.output) >= 0


def test_every_error_is_a_source_error() -> None:
    assert issubclass(InvalidResponseError, SourceError)
