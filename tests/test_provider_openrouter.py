"""OpenRouter provider: key gauges, credits, paginated keys, activity, live prices, the
management-key rule, and the whole path through the snapshot."""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator, Iterable
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aioresponses import aioresponses
from multidict import MultiDict
from yarl import URL

from exporter.config import AccountConfig, Config
from exporter.errors import AuthError, InvalidResponseError, SourceUnavailable
from exporter.pricing import ModelPrice
from exporter.providers import PROVIDERS, deepseek, openrouter
from exporter.providers.base import SourceContext
from exporter.providers.openrouter import (
    PROVIDER,
    management_flag,
    parse_activity,
    parse_credits,
    parse_key,
    parse_keys_page,
    parse_models,
)
from exporter.records import (
    ApiKeyInfo,
    CostRecord,
    CountRecord,
    CountUnit,
    GaugeRecord,
    PriceRecord,
    Record,
    TokenRecord,
    gauge,
)
from exporter.snapshot import MonthToDateGuard, SourceState, build_snapshot
from exporter.upstream import RequestStats, Upstream

FIXTURES = Path(__file__).parent / "fixtures"
BASE = "https://openrouter.ai/api/v1"
KEY = "sk-or-v1-test-fake-0000000000000000"
START = datetime(2026, 8, 1, tzinfo=UTC)
END = datetime(2026, 8, 21, 10, 0, tzinfo=UTC)
ALL = frozenset({"project", "api_key", "model", "line_item"})

CI_BOTS = "4a1f0c2b9e8d7a6b5c4d3e2f1a0b9c8d7e6f5a4b3c2d1e0f9a8b7c6d5e4f3a2b"
RESEARCH = "9b8a7c6d5e4f3a2b1c0d9e8f7a6b5c4d3e2f1a0b9c8d7e6f5a4b3c2d1e0f9a8b"
LEGACY = "0c1d2e3f4a5b6c7d8e9f0a1b2c3d4e5f6a7b8c9d0e1f2a3b4c5d6e7f8a9b0c1d"

SONNET = "anthropic/claude-sonnet-4"
MINI = "openai/gpt-4.1-mini"
LLAMA_FREE = "meta-llama/llama-3.3-70b-instruct:free"
UNLISTED = "acme/private-finetune-v1"


def raw(name: str) -> bytes:
    return (FIXTURES / "openrouter" / name).read_bytes()


def fixture(name: str) -> Any:
    """A fixture decoded the way Upstream decodes bodies (non-integers as Decimal)."""
    return json.loads(raw(name), parse_float=Decimal)


def url(path: str, params: Iterable[tuple[str, str]] = ()) -> URL:
    return URL(BASE + path).with_query(list(params))


def keys_query(offset: int) -> list[tuple[str, str]]:
    return [("include_disabled", "true"), ("offset", str(offset))]


def day(n: int) -> datetime:
    return datetime(2026, 8, n, tzinfo=UTC)


@pytest.fixture
async def upstream() -> AsyncIterator[Upstream]:
    async def no_sleep(_: float) -> None:
        return None

    async with aiohttp.ClientSession() as session:
        yield Upstream(session, BASE, PROVIDER.auth_headers(KEY), RequestStats(), sleep=no_sleep)


@pytest.fixture
def mocked() -> Iterable[aioresponses]:
    with aioresponses() as m:
        yield m


def context(
    upstream: Upstream, group_by: Iterable[str] = ALL, memo: dict[str, Any] | None = None
) -> SourceContext:
    return SourceContext(
        upstream=upstream,
        start=START,
        end=END,
        group_by=frozenset(group_by),
        memo={} if memo is None else memo,
    )


def sent(m: aioresponses) -> list[tuple[str, MultiDict[str], dict[str, str]]]:
    """Every request sent, as (path, query, headers), in order."""
    return [
        (str(key[1].path), MultiDict(call.kwargs["params"]), call.kwargs["headers"])
        for key, calls in m.requests.items()
        for call in calls
    ]


def gauges(records: Iterable[Record]) -> dict[tuple[str, tuple[tuple[str, str], ...]], Decimal]:
    found = {}
    for record in records:
        assert isinstance(record, GaugeRecord)
        found[(record.metric, record.labels)] = record.value
    return found


def g(metric: str, value: str, **labels: str) -> tuple[tuple[str, Any], Decimal]:
    record = gauge(metric, Decimal(value), **labels)
    return (record.metric, record.labels), record.value


# --------------------------------------------------------------------------- spec


def test_provider_spec_and_registry() -> None:
    assert PROVIDERS["openrouter"] is PROVIDER
    assert PROVIDER.name == "openrouter"
    assert PROVIDER.default_base_url == "https://openrouter.ai/api/v1"
    assert PROVIDER.env_var == "OPENROUTER_API_KEY"
    assert set(PROVIDER.sources) == {"key", "credits", "keys", "activity", "models"}
    assert PROVIDER.billed_sources == frozenset({"activity"})
    assert dict(PROVIDER.auth_headers("k")) == {"Authorization": "Bearer k"}
    assert "management key" in PROVIDER.key_hint


def test_module_docstring_documents_endpoints_and_blind_spots() -> None:
    doc = openrouter.__doc__ or ""
    for needle in ("/key", "/credits", "/keys", "/activity", "/models", "OPENROUTER_API_KEY"):
        assert needle in doc
    for metric in (
        "llm_api_key_usage_usd",
        "llm_api_key_limit_usd",
        "llm_api_key_limit_remaining_usd",
        "llm_credit_balance_usd",
        "llm_credit_purchased_usd",
        "llm_credit_used_usd",
        "llm_cost_usd_total",
        "llm_tokens_total",
        "llm_requests_total",
        "llm_api_key_info",
    ):
        assert metric in doc
    assert "Today's partial day is not in the response" in doc
    assert "reasoning_tokens" in doc
    assert '"-1"' in doc


# --------------------------------------------------------------------------- key


def test_key_gauges_with_limit_and_string_numbers() -> None:
    records, management = parse_key(fixture("key_ordinary.json"))
    assert management is False
    assert gauges(records) == dict(
        [
            g("llm_api_key_usage_usd", "1.25", api_key="current", period="day"),
            g("llm_api_key_usage_usd", "7.9", api_key="current", period="week"),
            g("llm_api_key_usage_usd", "25.5", api_key="current", period="month"),
            g("llm_api_key_usage_usd", "25.5", api_key="current", period="lifetime"),
            g("llm_api_key_limit_usd", "100", api_key="current", reset="monthly"),
            g("llm_api_key_limit_remaining_usd", "74.5", api_key="current"),
        ]
    )
    # the redacted key in ``label`` never becomes a label value
    for record in records:
        assert isinstance(record, GaugeRecord)
        assert all("sk-or" not in value for _, value in record.labels)


def test_key_old_shape_unlimited() -> None:
    records, management = parse_key(fixture("key_old_shape.json"))
    assert management is False  # from is_provisioning_key, the old name
    assert gauges(records) == dict(
        [g("llm_api_key_usage_usd", "3.75", api_key="current", period="lifetime")]
    )


def test_key_management_unlimited_has_no_limit_series() -> None:
    records, management = parse_key(fixture("key_management.json"))
    assert management is True
    metrics = {r.metric for r in records if isinstance(r, GaugeRecord)}
    assert metrics == {"llm_api_key_usage_usd"}
    assert len(records) == 4


def test_limit_without_reset_is_never_and_null_remaining_skipped() -> None:
    records, management = parse_key(
        {"data": {"limit": "20", "limit_reset": None, "limit_remaining": None, "usage": 1}}
    )
    assert management is None
    assert gauges(records) == dict(
        [
            g("llm_api_key_usage_usd", "1", api_key="current", period="lifetime"),
            g("llm_api_key_limit_usd", "20", api_key="current", reset="never"),
        ]
    )
    zero_limit, _ = parse_key({"data": {"limit": 0, "limit_remaining": 0}})
    assert gauges(zero_limit) == dict(
        [
            g("llm_api_key_limit_usd", "0", api_key="current", reset="never"),
            g("llm_api_key_limit_remaining_usd", "0", api_key="current"),
        ]
    )


@pytest.mark.parametrize(
    ("flags", "expected"),
    [
        ({"is_management_key": True, "is_provisioning_key": False}, True),
        ({"is_management_key": False, "is_provisioning_key": True}, True),
        ({"is_management_key": False}, False),
        ({"is_provisioning_key": True}, True),
        ({"is_management_key": None, "is_provisioning_key": None}, None),
        ({}, None),
    ],
)
def test_management_flag(flags: dict[str, Any], expected: bool | None) -> None:
    assert management_flag(flags, "key.data") is expected


def test_management_flag_must_be_boolean() -> None:
    with pytest.raises(InvalidResponseError, match=r"key\.data\.is_management_key"):
        management_flag({"is_management_key": "false"}, "key.data")


async def test_key_source_logs_management_hint_once(
    upstream: Upstream, mocked: aioresponses, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="exporter.providers.openrouter")
    mocked.get(url("/key"), body=raw("key_ordinary.json"), repeat=True)
    ctx = context(upstream)
    first = await PROVIDER.sources["key"](ctx)
    second = await PROVIDER.sources["key"](ctx)
    assert first == second
    assert len(first) == 6
    hints = [r for r in caplog.records if "not a management key" in r.getMessage()]
    assert len(hints) == 1
    assert hints[0].levelno == logging.INFO
    for word in ("credits", "keys", "activity"):
        assert word in hints[0].getMessage()
    assert KEY not in caplog.text
    for path, _, headers in sent(mocked):
        assert path == "/api/v1/key"
        assert headers["Authorization"] == f"Bearer {KEY}"


async def test_key_source_silent_for_management_key(
    upstream: Upstream, mocked: aioresponses, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="exporter.providers.openrouter")
    mocked.get(url("/key"), body=raw("key_management.json"))
    await PROVIDER.sources["key"](context(upstream))
    assert "management key" not in caplog.text


async def test_check_is_get_key(upstream: Upstream, mocked: aioresponses) -> None:
    mocked.get(url("/key"), body=raw("key_old_shape.json"))
    await PROVIDER.check(upstream)
    assert [path for path, _, _ in sent(mocked)] == ["/api/v1/key"]


async def test_check_rejected_key(upstream: Upstream, mocked: aioresponses) -> None:
    mocked.get(url("/key"), status=401, body=b'{"error":{"code":401}}')
    with pytest.raises(AuthError) as caught:
        await PROVIDER.check(upstream)
    assert KEY not in str(caught.value)


# --------------------------------------------------------------------------- credits


def test_credits_balance_is_exact_difference() -> None:
    assert gauges(parse_credits(fixture("credits.json"))) == dict(
        [
            g("llm_credit_balance_usd", "74.75", balance_type="prepaid"),
            g("llm_credit_purchased_usd", "100.5"),
            g("llm_credit_used_usd", "25.75"),
        ]
    )
    # beyond the default 28 significant digits: still exact
    body = {"data": {"total_credits": "1000000000000.000000000000000001", "total_usage": "0.1"}}
    balance = gauges(parse_credits(body))[
        g("llm_credit_balance_usd", "0", balance_type="prepaid")[0]
    ]
    assert balance == Decimal("999999999999.900000000000000001")
    assert str(balance) == "999999999999.900000000000000001"


@pytest.mark.parametrize(
    "body",
    [
        {"data": {"total_credits": 10}},
        {"data": {"total_credits": None, "total_usage": 1}},
        {"data": {"total_credits": "ten", "total_usage": 1}},
        {"data": None},
        {"credits": 10},
        [],
    ],
)
def test_credits_schema_drift(body: Any) -> None:
    with pytest.raises(InvalidResponseError, match="credits"):
        parse_credits(body)


async def test_credits_source(upstream: Upstream, mocked: aioresponses) -> None:
    mocked.get(url("/credits"), body=raw("credits.json"))
    records = await PROVIDER.sources["credits"](context(upstream))
    assert len(records) == 3
    assert [path for path, _, _ in sent(mocked)] == ["/api/v1/credits"]


# --------------------------------------------------------------------------- management rule


@pytest.mark.parametrize("status", [401, 403])
async def test_ordinary_key_makes_management_sources_unavailable(
    upstream: Upstream, mocked: aioresponses, status: int
) -> None:
    mocked.get(url("/credits"), status=status, repeat=True)
    mocked.get(url("/key"), body=raw("key_ordinary.json"))
    memo: dict[str, Any] = {}
    with pytest.raises(SourceUnavailable, match="needs a management key") as caught:
        await PROVIDER.sources["credits"](context(upstream, memo=memo))
    assert KEY not in str(caught.value)
    assert memo["is_management_key"] is False
    assert [path for path, _, _ in sent(mocked)] == ["/api/v1/credits", "/api/v1/key"]
    # the answer is remembered: no second /key request
    with pytest.raises(SourceUnavailable):
        await PROVIDER.sources["credits"](context(upstream, memo=memo))
    assert upstream.stats.requests == 3


async def test_keys_and_activity_unavailable_for_ordinary_key(
    upstream: Upstream, mocked: aioresponses
) -> None:
    mocked.get(url("/keys", keys_query(0)), status=403)
    mocked.get(url("/activity"), status=401)
    mocked.get(url("/key"), body=raw("key_old_shape.json"), repeat=True)
    with pytest.raises(SourceUnavailable, match=r"GET /keys"):
        await PROVIDER.sources["keys"](context(upstream))
    with pytest.raises(SourceUnavailable, match=r"GET /activity"):
        await PROVIDER.sources["activity"](context(upstream))


async def test_rejected_management_key_stays_auth_error(
    upstream: Upstream, mocked: aioresponses
) -> None:
    mocked.get(url("/credits"), status=401)
    mocked.get(url("/key"), body=raw("key_management.json"))
    with pytest.raises(AuthError):
        await PROVIDER.sources["credits"](context(upstream))


async def test_auth_error_when_key_does_not_say(upstream: Upstream, mocked: aioresponses) -> None:
    mocked.get(url("/activity"), status=403)
    mocked.get(url("/key"), body=json.dumps({"data": {"usage": 1}}).encode())
    with pytest.raises(AuthError):
        await PROVIDER.sources["activity"](context(upstream))


async def test_invalid_key_fails_as_auth_not_unavailable(
    upstream: Upstream, mocked: aioresponses
) -> None:
    mocked.get(url("/credits"), status=401)
    mocked.get(url("/key"), status=401)
    with pytest.raises(AuthError) as caught:
        await PROVIDER.sources["credits"](context(upstream))
    assert not isinstance(caught.value, SourceUnavailable)


# --------------------------------------------------------------------------- keys


async def test_keys_paginates_by_offset_until_empty_page(
    upstream: Upstream, mocked: aioresponses
) -> None:
    mocked.get(url("/keys", keys_query(0)), body=raw("keys_page1.json"))
    mocked.get(url("/keys", keys_query(2)), body=raw("keys_page2.json"))
    mocked.get(url("/keys", keys_query(3)), body=raw("keys_page3.json"))

    records = await PROVIDER.sources["keys"](context(upstream))

    names = [r for r in records if isinstance(r, ApiKeyInfo)]
    assert names == [
        ApiKeyInfo(CI_BOTS, "ci-bots"),
        ApiKeyInfo(RESEARCH, "research"),
        ApiKeyInfo(LEGACY, "legacy"),
    ]
    assert gauges(r for r in records if isinstance(r, GaugeRecord)) == dict(
        [
            g("llm_api_key_usage_usd", "1.25", api_key=CI_BOTS, period="day"),
            g("llm_api_key_usage_usd", "9.5", api_key=CI_BOTS, period="week"),
            g("llm_api_key_usage_usd", "40.25", api_key=CI_BOTS, period="month"),
            g("llm_api_key_usage_usd", "87.5", api_key=CI_BOTS, period="lifetime"),
            g("llm_api_key_limit_usd", "400", api_key=CI_BOTS, reset="monthly"),
            g("llm_api_key_limit_remaining_usd", "312.5", api_key=CI_BOTS),
            # unlimited: usage only
            g("llm_api_key_usage_usd", "0", api_key=RESEARCH, period="day"),
            g("llm_api_key_usage_usd", "3", api_key=RESEARCH, period="week"),
            g("llm_api_key_usage_usd", "22.75", api_key=RESEARCH, period="month"),
            g("llm_api_key_usage_usd", "120.0", api_key=RESEARCH, period="lifetime"),
            # older shape, disabled, exhausted limit that never resets
            g("llm_api_key_usage_usd", "50", api_key=LEGACY, period="lifetime"),
            g("llm_api_key_limit_usd", "50", api_key=LEGACY, reset="never"),
            g("llm_api_key_limit_remaining_usd", "0", api_key=LEGACY),
        ]
    )
    requests = sent(mocked)
    assert [q["offset"] for _, q, _ in requests] == ["0", "2", "3"]
    assert all(q["include_disabled"] == "true" for _, q, _ in requests)
    assert upstream.stats.requests == 3
    # key material (the redacted ``label``) is never read into a record
    assert "sk-or" not in repr(records)


async def test_keys_server_ignoring_offset_fails(upstream: Upstream, mocked: aioresponses) -> None:
    mocked.get(url("/keys", keys_query(0)), body=raw("keys_page1.json"))
    mocked.get(url("/keys", keys_query(2)), body=raw("keys_page1.json"))
    with pytest.raises(InvalidResponseError, match="listed twice"):
        await PROVIDER.sources["keys"](context(upstream))


async def test_keys_page_cap(upstream: Upstream, mocked: aioresponses) -> None:
    from dataclasses import replace

    upstream.limits = replace(upstream.limits, max_pages=2)
    mocked.get(url("/keys", keys_query(0)), body=raw("keys_page1.json"))
    mocked.get(url("/keys", keys_query(2)), body=raw("keys_page2.json"))
    with pytest.raises(InvalidResponseError, match="more than 2 pages"):
        await PROVIDER.sources["keys"](context(upstream))


async def test_keys_hash_twice_on_one_page_fails(upstream: Upstream, mocked: aioresponses) -> None:
    page = fixture("keys_page2.json")
    page["data"] = page["data"] * 2
    mocked.get(url("/keys", keys_query(0)), body=json.dumps(page, default=str).encode())
    with pytest.raises(InvalidResponseError, match="listed twice at offset 0"):
        await PROVIDER.sources["keys"](context(upstream))


def test_keys_empty_first_page() -> None:
    assert parse_keys_page({"data": []}) == ([], [])


@pytest.mark.parametrize(
    ("body", "path"),
    [
        ({"data": None}, r"keys\.data"),
        ({"data": [{"name": "no hash"}]}, r"keys\.data\[0\]\.hash"),
        ({"data": [{"hash": ""}]}, r"keys\.data\[0\]\.hash"),
        ({"data": [{"hash": "h", "usage": "lots"}]}, r"keys\.data\[0\]\.usage"),
        ({"data": [{"hash": "h", "limit": [5]}]}, r"keys\.data\[0\]\.limit"),
        ({"data": [{"hash": "h", "limit": 5, "limit_reset": {}}]}, r"limit_reset"),
        ({"data": [{"hash": "h", "name": {"n": 1}}]}, r"keys\.data\[0\]\.name"),
        ({"data": ["h"]}, r"keys\.data\[0\]"),
    ],
)
def test_keys_schema_drift(body: Any, path: str) -> None:
    with pytest.raises(InvalidResponseError, match=path):
        parse_keys_page(body)


# --------------------------------------------------------------------------- activity

EXPECTED_ACTIVITY: list[Record] = [
    CostRecord(day(1), "", SONNET, "", Decimal("6.8761")),
    TokenRecord(day(1), "", "", SONNET, 1840221, 0, 0, 0, 90312),
    CountRecord(day(1), CountUnit.REQUESTS, "", "", SONNET, Decimal(212)),
    CostRecord(day(1), "", SONNET, "", Decimal("0.075")),
    TokenRecord(day(1), "", "", SONNET, 20000, 0, 0, 0, 1000),
    CountRecord(day(1), CountUnit.REQUESTS, "", "", SONNET, Decimal(8)),
    CostRecord(day(2), "", MINI, "", Decimal("0.0392")),
    TokenRecord(day(2), "", "", MINI, 50000, 0, 0, 0, 12000),
    CountRecord(day(2), CountUnit.REQUESTS, "", "", MINI, Decimal(40)),
    # a free model: tokens and requests, no zero-dollar cost record
    TokenRecord(day(20), "", "", LLAMA_FREE, 30000, 0, 0, 0, 4000),
    CountRecord(day(20), CountUnit.REQUESTS, "", "", LLAMA_FREE, Decimal(15)),
    CostRecord(day(20), "", UNLISTED, "", Decimal("0.02")),
    TokenRecord(day(20), "", "", UNLISTED, 2000, 0, 0, 0, 500),
    CountRecord(day(20), CountUnit.REQUESTS, "", "", UNLISTED, Decimal(10)),
]


async def test_activity_month_to_date(upstream: Upstream, mocked: aioresponses) -> None:
    mocked.get(url("/activity"), body=raw("activity.json"))
    records = await PROVIDER.sources["activity"](context(upstream))
    assert list(records) == EXPECTED_ACTIVITY
    # July 31 (last month) is left out; BYOK inference is not OpenRouter's bill
    cost = sum(r.amount_usd for r in records if isinstance(r, CostRecord))
    assert cost == Decimal("7.0103")
    tokens = [r for r in records if isinstance(r, TokenRecord)]
    assert sum(r.input for r in tokens) == 1942221
    assert sum(r.output for r in tokens) == 107812
    assert sum(r.cache_read + r.cache_write for r in tokens) == 0
    requests = sum(r.value for r in records if isinstance(r, CountRecord))
    assert requests == Decimal(285)
    assert [path for path, q, _ in sent(mocked)] == ["/api/v1/activity"]


def test_activity_without_model_grouping() -> None:
    records = parse_activity(fixture("activity.json"), START, END, frozenset({"project"}))
    assert {r.model for r in records if isinstance(r, CostRecord | TokenRecord)} == {""}
    assert len(records) == len(EXPECTED_ACTIVITY)
    assert sum(r.amount_usd for r in records if isinstance(r, CostRecord)) == Decimal("7.0103")


def test_activity_window_is_start_inclusive_end_exclusive() -> None:
    body = fixture("activity.json")
    records = parse_activity(body, day(2), day(20), ALL)
    assert {r.start for r in records if isinstance(r, CostRecord)} == {day(2)}
    assert parse_activity({"data": []}, START, END, ALL) == []


def test_activity_reasoning_beyond_completion_is_a_warning(
    caplog: pytest.LogCaptureFixture,
) -> None:
    row = {"date": "2026-08-03", "model": MINI, "usage": 1, "completion_tokens": 5}
    row["reasoning_tokens"] = 9
    records = parse_activity({"data": [row]}, START, END, ALL)
    assert TokenRecord(day(3), "", "", MINI, 0, 0, 0, 0, 5) in records
    assert "reasoning" in caplog.text


def test_activity_tolerates_an_rfc3339_date() -> None:
    row = {"date": "2026-08-03T00:00:00Z", "model": MINI, "usage": "0.5"}
    assert parse_activity({"data": [row]}, START, END, ALL) == [
        CostRecord(day(3), "", MINI, "", Decimal("0.5"))
    ]


@pytest.mark.parametrize(
    ("row", "path"),
    [
        ({"date": "2026-08-32", "usage": 1}, r"data\[0\]\.date"),
        ({"date": "yesterday", "usage": 1}, r"data\[0\]\.date"),
        ({"date": None, "usage": 1}, r"data\[0\]\.date"),
        ({"date": "2026-08-03"}, r"data\[0\]\.usage"),
        ({"date": "2026-08-03", "usage": "NaN"}, r"data\[0\]\.usage"),
        ({"date": "2026-08-03", "usage": 1, "prompt_tokens": -1}, r"prompt_tokens"),
        ({"date": "2026-08-03", "usage": 1, "completion_tokens": 1.5}, r"completion_tokens"),
        ({"date": "2026-08-03", "usage": 1, "requests": "many"}, r"requests"),
        ({"date": "2026-08-03", "usage": 1, "model": ["m"]}, r"data\[0\]\.model"),
        # last month's rows are still checked: drift is reported, not skipped
        ({"date": "2026-07-03", "usage": "x"}, r"data\[0\]\.usage"),
    ],
)
def test_activity_schema_drift(row: dict[str, Any], path: str) -> None:
    with pytest.raises(InvalidResponseError, match=path):
        parse_activity({"data": [row]}, START, END, ALL)


def test_activity_data_must_be_a_list() -> None:
    with pytest.raises(InvalidResponseError, match=r"activity\.data"):
        parse_activity({"data": {"date": "2026-08-01"}}, START, END, ALL)
    with pytest.raises(InvalidResponseError, match=r"activity\.data"):
        parse_activity({}, START, END, ALL)


# --------------------------------------------------------------------------- models


def _per_token(**prices: str) -> dict[str, Decimal]:
    return {name: Decimal(value) for name, value in prices.items()}


EXPECTED_PRICES = [
    ModelPrice(
        "openrouter",
        SONNET,
        "openrouter",
        _per_token(
            input="0.000003",
            output="0.000015",
            cache_read="0.0000003",
            cache_write_5m="0.00000375",
            cache_write_1h="0.000006",
        ),
    ),
    ModelPrice(
        "openrouter",
        MINI,
        "openrouter",
        # no cache write prices: the input price
        _per_token(
            input="0.0000004",
            output="0.0000016",
            cache_read="0.0000001",
            cache_write_5m="0.0000004",
            cache_write_1h="0.0000004",
        ),
    ),
    ModelPrice(
        "openrouter",
        LLAMA_FREE,
        "openrouter",
        _per_token(input="0", output="0", cache_read="0", cache_write_5m="0", cache_write_1h="0"),
    ),
    # openrouter/auto ("-1"), no pricing block and no completion price: skipped
    ModelPrice(
        "openrouter",
        "vendor/negative-cache",
        "openrouter",
        _per_token(
            input="0.000002",
            output="0.000004",
            cache_read="0.000002",
            cache_write_5m="0.000002",
            cache_write_1h="0.000002",
        ),
    ),
]


async def test_models_source(upstream: Upstream, mocked: aioresponses) -> None:
    mocked.get(url("/models"), body=raw("models.json"))
    records = await PROVIDER.sources["models"](context(upstream))
    assert [r.price for r in records if isinstance(r, PriceRecord)] == EXPECTED_PRICES
    assert len(records) == 4
    assert [(p, dict(q)) for p, q, _ in sent(mocked)] == [("/api/v1/models", {})]


def test_every_price_has_every_token_type() -> None:
    from exporter.pricing import PRICE_TOKEN_TYPES

    for record in parse_models(fixture("models.json")):
        assert isinstance(record, PriceRecord)
        assert set(record.price.per_token) == set(PRICE_TOKEN_TYPES)


@pytest.mark.parametrize(
    ("body", "path"),
    [
        ({"data": None}, r"models\.data"),
        ({"data": [{"pricing": {"prompt": "0", "completion": "0"}}]}, r"data\[0\]\.id"),
        ({"data": [{"id": "m", "pricing": "free"}]}, r"data\[0\]\.pricing"),
        (
            {"data": [{"id": "m", "pricing": {"prompt": "cheap", "completion": "0"}}]},
            r"pricing\.prompt",
        ),
        (
            {"data": [{"id": "m", "pricing": {"prompt": "0", "completion": "Infinity"}}]},
            r"pricing\.completion",
        ),
        (
            {
                "data": [
                    {
                        "id": "m",
                        "pricing": {"prompt": "1", "completion": "1", "input_cache_read": True},
                    }
                ]
            },
            r"pricing\.input_cache_read",
        ),
    ],
)
def test_models_schema_drift(body: Any, path: str) -> None:
    with pytest.raises(InvalidResponseError, match=path):
        parse_models(body)


# --------------------------------------------------------------------------- through the snapshot


async def _polled(
    provider: str, account: str, source: str, base: str, bodies: dict[URL, bytes]
) -> SourceState:
    """The state of a source freshly polled against mocked bodies (default options)."""
    spec = PROVIDERS[provider]
    with aioresponses() as m:
        for target, body in bodies.items():
            m.get(target, body=body)
        async with aiohttp.ClientSession() as session:
            up = Upstream(session, base, spec.auth_headers(KEY), RequestStats())
            records = await spec.sources[source](SourceContext(up, START, END, ALL))
    state = SourceState(provider, account, source, stale_after=900)
    state.records = tuple(records)
    state.up = True
    state.last_success = END.timestamp()
    return state


def _values(snapshot: Any, name: str) -> dict[frozenset[tuple[str, str]], float]:
    family = snapshot.family(name)
    if family is None:
        return {}
    return {frozenset(s.labels.items()): s.value for s in family.samples}


def _labels(**labels: str) -> frozenset[tuple[str, str]]:
    return frozenset(labels.items())


async def test_sources_through_the_snapshot() -> None:
    """Every value the three providers expose, computed by hand from the fixtures."""
    deepseek_body = (FIXTURES / "deepseek" / "balance_cny_usd.json").read_bytes()
    moonshot_body = (FIXTURES / "moonshot" / "balance.json").read_bytes()
    keys_pages = {
        url("/keys", keys_query(0)): raw("keys_page1.json"),
        url("/keys", keys_query(2)): raw("keys_page2.json"),
        url("/keys", keys_query(3)): raw("keys_page3.json"),
    }
    states = [
        await _polled("openrouter", "team", "key", BASE, {url("/key"): raw("key_ordinary.json")}),
        await _polled(
            "openrouter", "team", "credits", BASE, {url("/credits"): raw("credits.json")}
        ),
        await _polled("openrouter", "team", "keys", BASE, keys_pages),
        await _polled(
            "openrouter", "team", "activity", BASE, {url("/activity"): raw("activity.json")}
        ),
        await _polled("openrouter", "team", "models", BASE, {url("/models"): raw("models.json")}),
        await _polled(
            "deepseek",
            "deepseek",
            "balance",
            deepseek.PROVIDER.default_base_url,
            {URL("https://api.deepseek.com/user/balance"): deepseek_body},
        ),
        # a .cn base URL: the balance is in CNY
        await _polled(
            "moonshot",
            "kimi-cn",
            "balance",
            "https://api.moonshot.cn",
            {URL("https://api.moonshot.cn/v1/users/me/balance"): moonshot_body},
        ),
    ]
    config = Config(
        accounts=(
            AccountConfig(provider="openrouter", name="team"),
            AccountConfig(provider="deepseek"),
            AccountConfig(provider="moonshot", name="kimi-cn", base_url="https://api.moonshot.cn"),
        )
    )
    snap = build_snapshot(config, states, MonthToDateGuard(), END.timestamp())

    team = {"provider": "openrouter", "account": "team"}
    assert _values(snap, "llm_cost_usd_total") == {
        _labels(**team, project="", model=SONNET, line_item=""): 6.9511,
        _labels(**team, project="", model=MINI, line_item=""): 0.0392,
        _labels(**team, project="", model=UNLISTED, line_item=""): 0.02,
    }
    tokens = _values(snap, "llm_tokens_total")
    usage = {**team, "project": "", "api_key": ""}
    assert tokens == {
        _labels(**usage, model=SONNET, token_type="input"): 1860221,
        _labels(**usage, model=SONNET, token_type="output"): 91312,
        _labels(**usage, model=MINI, token_type="input"): 50000,
        _labels(**usage, model=MINI, token_type="output"): 12000,
        _labels(**usage, model=LLAMA_FREE, token_type="input"): 30000,
        _labels(**usage, model=LLAMA_FREE, token_type="output"): 4000,
        _labels(**usage, model=UNLISTED, token_type="input"): 2000,
        _labels(**usage, model=UNLISTED, token_type="output"): 500,
    }
    assert _values(snap, "llm_requests_total") == {
        _labels(**usage, model=SONNET): 220,
        _labels(**usage, model=MINI): 40,
        _labels(**usage, model=LLAMA_FREE): 15,
        _labels(**usage, model=UNLISTED): 10,
    }
    # estimates from the live /models prices: 1860221 × 0.000003 + 91312 × 0.000015, ...
    assert _values(snap, "llm_estimated_cost_usd_total") == {
        _labels(**usage, model=SONNET): float(Decimal("6.950343")),
        _labels(**usage, model=MINI): float(Decimal("0.0392")),
        _labels(**usage, model=LLAMA_FREE): 0.0,
    }
    assert _values(snap, "llm_unpriced_tokens_total") == {
        _labels(**team, model=UNLISTED, token_type="input"): 2000,
        _labels(**team, model=UNLISTED, token_type="output"): 500,
    }
    assert snap.unpriced_models == (("openrouter", UNLISTED),)

    assert _values(snap, "llm_credit_balance_usd") == {
        _labels(**team, balance_type="prepaid"): 74.75,
        _labels(provider="deepseek", account="deepseek", balance_type="granted"): 0.0,
        _labels(provider="deepseek", account="deepseek", balance_type="topped_up"): 48.73,
    }
    assert _values(snap, "llm_credit_balance_cny") == {
        _labels(provider="deepseek", account="deepseek", balance_type="granted"): 10.0,
        _labels(provider="deepseek", account="deepseek", balance_type="topped_up"): 100.5,
        _labels(provider="moonshot", account="kimi-cn", balance_type="voucher"): 46.58893,
        _labels(provider="moonshot", account="kimi-cn", balance_type="cash"): 3.00001,
    }
    assert _values(snap, "llm_credit_purchased_usd") == {_labels(**team): 100.5}
    assert _values(snap, "llm_credit_used_usd") == {_labels(**team): 25.75}

    usage_gauges = _values(snap, "llm_api_key_usage_usd")
    assert usage_gauges[_labels(**team, api_key="current", period="month")] == 25.5
    assert usage_gauges[_labels(**team, api_key=CI_BOTS, period="month")] == 40.25
    assert usage_gauges[_labels(**team, api_key=LEGACY, period="lifetime")] == 50.0
    assert len(usage_gauges) == 4 + 4 + 4 + 1
    assert _values(snap, "llm_api_key_limit_usd") == {
        _labels(**team, api_key="current", reset="monthly"): 100.0,
        _labels(**team, api_key=CI_BOTS, reset="monthly"): 400.0,
        _labels(**team, api_key=LEGACY, reset="never"): 50.0,
    }
    assert _values(snap, "llm_api_key_limit_remaining_usd") == {
        _labels(**team, api_key="current"): 74.5,
        _labels(**team, api_key=CI_BOTS): 312.5,
        _labels(**team, api_key=LEGACY): 0.0,
    }
    assert _values(snap, "llm_api_key_info") == {
        _labels(**team, api_key=CI_BOTS, api_key_name="ci-bots"): 1.0,
        _labels(**team, api_key=RESEARCH, api_key_name="research"): 1.0,
        _labels(**team, api_key=LEGACY, api_key_name="legacy"): 1.0,
    }
    prices = _values(snap, "llm_model_price_usd_per_token")
    sonnet_base = {"provider": "openrouter", "model": SONNET, "tier": "base"}
    assert prices[_labels(**sonnet_base, token_type="cache_write_1h")] == 0.000006
    assert (
        _labels(provider="openrouter", model="openrouter/auto", token_type="input", tier="base")
        not in prices
    )
    catalog_updates = _values(snap, "llm_catalog_last_update_timestamp_seconds")
    assert catalog_updates == {_labels(source="openrouter"): END.timestamp()}

    body = snap.render().decode()
    assert "+Inf" not in body
    assert "sk-or" not in body
    assert KEY not in body
