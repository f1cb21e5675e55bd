"""xAI Management API and Fireworks billing summary: money parsing, windows, errors, snapshot."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aioresponses import aioresponses
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import BaseModel, ValidationError
from yarl import URL

from exporter.config import AccountConfig, Config, load
from exporter.errors import AuthError, InvalidResponseError, SourceUnavailable, UpstreamClientError
from exporter.providers import PROVIDERS, fireworks, xai
from exporter.providers.base import DIMENSIONS, NoOptions, SourceContext
from exporter.providers.fireworks import FireworksOptions, money_to_usd, parse_summary
from exporter.providers.xai import XaiOptions, parse_balance, parse_usage
from exporter.records import CostRecord, GaugeRecord, Record, gauge
from exporter.snapshot import MonthToDateGuard, Snapshot, SourceState, build_snapshot
from exporter.upstream import RequestStats, Upstream

FIXTURES = Path(__file__).parent / "fixtures"
START = datetime(2026, 8, 1, tzinfo=UTC)
END = datetime(2026, 8, 21, 10, 0, tzinfo=UTC)
ALL = frozenset(DIMENSIONS)

XAI_BASE = "https://management-api.x.ai"
XAI_KEY = "xai-FAKE-management-key-for-tests-0000"
TEAM = "00000000-0000-4000-8000-0000000000t1"
BALANCE = f"/v1/billing/teams/{TEAM}/prepaid/balance"
USAGE = f"/v1/billing/teams/{TEAM}/usage"

FW_BASE = "https://api.fireworks.ai"
FW_KEY = "fw_FAKE_fireworks_key_for_tests_000"
SUMMARY = "/v1/accounts/acme/billing/summary"
SUMMARY_QUERY = [("startTime", "2026-08-01T00:00:00Z"), ("endTime", "2026-08-22T00:00:00Z")]
LLAMA = "Serverless inference, accounts/fireworks/models/llama-v3p1-8b-instruct"
DEEPSEEK = "Serverless inference, accounts/fireworks/models/deepseek-v3"
DEPLOYMENT = "On-demand deployment, accounts/acme/deployments/abc123"


def fixture(provider: str, name: str) -> str:
    return (FIXTURES / provider / f"{name}.json").read_text()


def decoded(provider: str, name: str) -> Any:
    """A fixture decoded as Upstream decodes bodies (non-integers as Decimal)."""
    return json.loads(fixture(provider, name), parse_float=Decimal)


def day(n: int) -> datetime:
    return datetime(2026, 8, n, tzinfo=UTC)


@pytest.fixture
def mock() -> Iterator[aioresponses]:
    with aioresponses() as m:
        yield m


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as s:
        yield s


async def _no_sleep(_: float) -> None:
    return None


@pytest.fixture
def xai_upstream(session: aiohttp.ClientSession) -> Upstream:
    headers = xai.PROVIDER.auth_headers(XAI_KEY)
    return Upstream(session, XAI_BASE, headers, RequestStats(), sleep=_no_sleep)


@pytest.fixture
def fw_upstream(session: aiohttp.ClientSession) -> Upstream:
    headers = fireworks.PROVIDER.auth_headers(FW_KEY)
    return Upstream(session, FW_BASE, headers, RequestStats(), sleep=_no_sleep)


def context(
    upstream: Upstream, options: BaseModel, group_by: frozenset[str] = ALL
) -> SourceContext:
    return SourceContext(
        upstream=upstream, start=START, end=END, group_by=group_by, options=options
    )


def snapshot_of(provider: str, source: str, records: list[Record]) -> Snapshot:
    config = Config(accounts=(AccountConfig(provider=provider, name="acct"),))
    state = SourceState(provider, "acct", source, stale_after=900)
    state.records = tuple(records)
    state.up = True
    state.last_success = END.timestamp()
    return build_snapshot(config, [state], MonthToDateGuard(), END.timestamp())


def samples(snapshot: Snapshot, name: str) -> dict[str, float]:
    """``line_item`` (or ``balance_type``) → value of one metric family."""
    family = snapshot.family(name)
    assert family is not None
    return {
        s.labels.get("line_item", s.labels.get("balance_type", "")): s.value for s in family.samples
    }


# --------------------------------------------------------------------------- specs and options


def test_specs_are_registered() -> None:
    assert PROVIDERS["xai"] is xai.PROVIDER
    assert PROVIDERS["fireworks"] is fireworks.PROVIDER
    assert xai.PROVIDER.default_base_url == XAI_BASE
    assert xai.PROVIDER.env_var == "XAI_MANAGEMENT_KEY"
    assert list(xai.PROVIDER.sources) == ["balance", "usage"]
    assert xai.PROVIDER.billed_sources == frozenset({"usage"})
    assert xai.PROVIDER.auth_headers(XAI_KEY) == {"Authorization": f"Bearer {XAI_KEY}"}
    assert fireworks.PROVIDER.default_base_url == FW_BASE
    assert fireworks.PROVIDER.env_var == "FIREWORKS_API_KEY"
    assert list(fireworks.PROVIDER.sources) == ["billing_summary"]
    assert fireworks.PROVIDER.billed_sources == frozenset({"billing_summary"})
    assert fireworks.PROVIDER.auth_headers(FW_KEY) == {"Authorization": f"Bearer {FW_KEY}"}
    for module, needles in (
        (xai, ("prepaid/balance", "/usage", "llm_credit_balance_usd", "llm_cost_usd_total")),
        (fireworks, ("billing/summary", "/v1/accounts", "llm_cost_usd_total", "month-to-date")),
    ):
        for needle in needles:
            assert needle in (module.__doc__ or "")


def test_options() -> None:
    account = AccountConfig.model_validate({"provider": "xai", "options": {"team_id": f" {TEAM} "}})
    assert account.parsed_options == XaiOptions(team_id=TEAM)
    account = AccountConfig.model_validate(
        {"provider": "fireworks", "options": {"account_id": "accounts/acme"}}
    )
    assert account.parsed_options == FireworksOptions(account_id="acme")
    with pytest.raises(ValidationError, match="team id"):
        XaiOptions(team_id="  ")
    with pytest.raises(ValidationError, match="account id"):
        FireworksOptions(account_id="accounts/")
    with pytest.raises(ValidationError, match="unknown key"):
        AccountConfig.model_validate({"provider": "xai", "options": {"team": TEAM}})


def test_keys_from_the_environment_alone_do_not_stop_startup() -> None:
    config = load(None, {"XAI_MANAGEMENT_KEY": XAI_KEY, "FIREWORKS_API_KEY": FW_KEY})
    assert [a.provider for a in config.accounts] == ["xai", "fireworks"]
    assert config.accounts[0].parsed_options == XaiOptions()
    assert config.accounts[1].parsed_options == FireworksOptions()


async def test_sources_without_ids_are_unavailable(
    mock: aioresponses, xai_upstream: Upstream, fw_upstream: Upstream
) -> None:
    for source in xai.PROVIDER.sources.values():
        with pytest.raises(SourceUnavailable, match=r"options\.team_id"):
            await source(context(xai_upstream, XaiOptions()))
        with pytest.raises(SourceUnavailable, match=r"options\.team_id"):
            await source(context(xai_upstream, NoOptions()))
    with pytest.raises(SourceUnavailable, match=r"options\.account_id"):
        await fireworks.PROVIDER.sources["billing_summary"](
            context(fw_upstream, FireworksOptions())
        )
    assert xai_upstream.stats.requests == fw_upstream.stats.requests == 0


# --------------------------------------------------------------------------- xAI balance


async def test_xai_balance(mock: aioresponses, xai_upstream: Upstream) -> None:
    mock.get(XAI_BASE + BALANCE, body=fixture("xai", "prepaid_balance"))
    records = await xai.PROVIDER.sources["balance"](context(xai_upstream, XaiOptions(team_id=TEAM)))
    # "-2537" cents in the sign-inverted ledger: $25.37 left.
    assert records == [gauge("llm_credit_balance_usd", Decimal("25.37"), balance_type="prepaid")]
    (call,) = next(iter(mock.requests.values()))
    assert call.kwargs["headers"]["Authorization"] == f"Bearer {XAI_KEY}"
    snapshot = snapshot_of("xai", "balance", records)
    assert samples(snapshot, "llm_credit_balance_usd") == {"prepaid": 25.37}


def test_xai_balance_parser() -> None:
    assert parse_balance(decoded("xai", "prepaid_balance_deficit")) == Decimal("-12.50")
    assert parse_balance({"total": {"val": -1000}}) == Decimal("10.00")
    zero = parse_balance({"total": {"val": "-0"}})
    assert zero == 0 and not zero.is_signed()  # never "-0"
    assert parse_balance({"total": {"val": "-0.5"}}) == Decimal("0.005")
    for body, match in (
        (decoded("xai", "prepaid_balance_null"), "missing"),
        ({}, "missing"),
        ({"total": {}}, "missing number"),
        ({"total": {"val": None}}, "missing number"),
        ({"total": {"val": "ten"}}, "not a number"),
        ({"total": "-1000"}, "object"),
        ([], "object"),
    ):
        with pytest.raises(InvalidResponseError, match=match):
            parse_balance(body)


async def test_xai_wrong_team_is_a_client_error(mock: aioresponses, xai_upstream: Upstream) -> None:
    mock.get(XAI_BASE + BALANCE, status=404)
    with pytest.raises(UpstreamClientError) as caught:
        await xai.PROVIDER.sources["balance"](context(xai_upstream, XaiOptions(team_id=TEAM)))
    assert caught.value.status == 404
    assert XAI_KEY not in str(caught.value)


async def test_xai_rejected_key(mock: aioresponses, xai_upstream: Upstream) -> None:
    mock.post(XAI_BASE + USAGE, status=403)
    with pytest.raises(AuthError) as caught:
        await xai.PROVIDER.sources["usage"](context(xai_upstream, XaiOptions(team_id=TEAM)))
    assert XAI_KEY not in str(caught.value) and XAI_KEY not in repr(caught.value)


# --------------------------------------------------------------------------- xAI usage


EXPECTED_XAI_USAGE = [
    CostRecord(day(1), "", "", "", Decimal("3.17")),
    CostRecord(day(2), "", "", "", Decimal("0.83")),  # a numeric string
    # Aug 3 (0), Aug 4 (no value) and Aug 5 (null) add nothing
    CostRecord(day(20), "", "", "", Decimal("12.005")),
    CostRecord(day(21), "", "", "", Decimal("1E-7")),
]


async def test_xai_usage(mock: aioresponses, xai_upstream: Upstream) -> None:
    mock.post(XAI_BASE + USAGE, body=fixture("xai", "usage"))
    records = await xai.PROVIDER.sources["usage"](context(xai_upstream, XaiOptions(team_id=TEAM)))
    assert records == EXPECTED_XAI_USAGE
    (call,) = next(iter(mock.requests.values()))
    assert call.kwargs["json"] == {
        "analyticsRequest": {
            "timeRange": {
                "startTime": "2026-08-01 00:00:00",
                "endTime": "2026-08-21 10:00:00",
                "timezone": "Etc/GMT",
            },
            "timeUnit": "TIME_UNIT_DAY",
            "values": [{"name": "usd", "aggregation": "AGGREGATION_SUM"}],
            "groupBy": [],
            "filters": [],
        }
    }
    # Month to date by hand: 3.17 + 0.83 + 12.005 + 0.0000001 = 16.0050001
    snapshot = snapshot_of("xai", "usage", records)
    assert samples(snapshot, "llm_cost_usd_total") == {"": 16.0050001}


async def test_xai_usage_empty(mock: aioresponses, xai_upstream: Upstream) -> None:
    mock.post(XAI_BASE + USAGE, body=fixture("xai", "usage_empty"))
    assert (
        await xai.PROVIDER.sources["usage"](context(xai_upstream, XaiOptions(team_id=TEAM))) == []
    )


async def test_xai_usage_truncated_fails(mock: aioresponses, xai_upstream: Upstream) -> None:
    mock.post(XAI_BASE + USAGE, body=fixture("xai", "usage_limit_reached"))
    with pytest.raises(InvalidResponseError, match="limitReached"):
        await xai.PROVIDER.sources["usage"](context(xai_upstream, XaiOptions(team_id=TEAM)))
    assert xai_upstream.stats.failures == {"invalid_response": 1}


@pytest.mark.parametrize(
    ("body", "match"),
    [
        ({"timeSeries": [{"dataPoints": [{"timestamp": "x", "values": [1]}]}]}, "RFC 3339"),
        ({"timeSeries": [{"dataPoints": [{"values": [1]}]}]}, "RFC 3339"),
        (
            {
                "timeSeries": [
                    {"dataPoints": [{"timestamp": "2026-08-01T00:00:00Z", "values": [1, 2]}]}
                ]
            },
            "one value",
        ),
        (
            {
                "timeSeries": [
                    {"dataPoints": [{"timestamp": "2026-08-01T00:00:00Z", "values": ["x"]}]}
                ]
            },
            "not a number",
        ),
        (
            {"timeSeries": [{"dataPoints": [{"timestamp": "2026-08-01T00:00:00Z", "values": 3}]}]},
            "list",
        ),
        ({"timeSeries": {"dataPoints": []}}, "list"),
        ({"timeSeries": ["x"]}, "object"),
        ("[]", "object"),
    ],
)
def test_xai_usage_parser_rejects(body: Any, match: str) -> None:
    with pytest.raises(InvalidResponseError, match=match):
        parse_usage(body)


def test_xai_usage_parser_sums_series_of_the_same_day() -> None:
    point = {"timestamp": "2026-08-01T00:00:00Z", "values": [Decimal("1.1")]}
    body = {"timeSeries": [{"dataPoints": [point]}, {"dataPoints": [point]}, {"dataPoints": None}]}
    assert parse_usage(body) == [CostRecord(day(1), "", "", "", Decimal("2.2"))]
    assert parse_usage({}) == []


async def test_xai_check(mock: aioresponses, xai_upstream: Upstream) -> None:
    mock.get(XAI_BASE + "/auth/management-keys/validation", body=fixture("xai", "key_validation"))
    await xai.PROVIDER.check(xai_upstream)
    mock.get(XAI_BASE + "/auth/management-keys/validation", status=401)
    with pytest.raises(AuthError):
        await xai.PROVIDER.check(xai_upstream)


# --------------------------------------------------------------------------- Fireworks


EXPECTED_FIREWORKS = [
    CostRecord(START, "", "", LLAMA, Decimal("12.345")),  # units "12" + 345000000 nanos
    CostRecord(START, "", "", DEEPSEEK, Decimal("3.000000005")),  # units as a number, 5 nanos
    CostRecord(START, "", "", DEPLOYMENT, Decimal("0.75")),  # units omitted (proto3 zero)
    # Fine-tuning (totalCost null) and Storage (empty money: zero) add nothing
    CostRecord(START, "", "", LLAMA, Decimal("0.005")),
]


async def test_fireworks_billing_summary(mock: aioresponses, fw_upstream: Upstream) -> None:
    mock.get(
        URL(FW_BASE + SUMMARY).with_query(SUMMARY_QUERY),
        body=fixture("fireworks", "billing_summary"),
    )
    ctx = context(fw_upstream, FireworksOptions(account_id="acme"))
    records = await fireworks.PROVIDER.sources["billing_summary"](ctx)
    assert records == EXPECTED_FIREWORKS
    (call,) = next(iter(mock.requests.values()))
    assert list(call.kwargs["params"]) == SUMMARY_QUERY  # end date excluded: tomorrow
    assert call.kwargs["headers"]["Authorization"] == f"Bearer {FW_KEY}"
    # Month to date by hand: 12.345 + 0.005 = 12.35 for the llama line item, 16.100000005 in all.
    snapshot = snapshot_of("fireworks", "billing_summary", records)
    assert samples(snapshot, "llm_cost_usd_total") == {
        LLAMA: 12.35,
        DEEPSEEK: 3.000000005,
        DEPLOYMENT: 0.75,
    }
    assert sum(samples(snapshot, "llm_cost_usd_total").values()) == pytest.approx(16.100000005)


async def test_fireworks_without_line_item_grouping(
    mock: aioresponses, fw_upstream: Upstream
) -> None:
    mock.get(
        URL(FW_BASE + SUMMARY).with_query(SUMMARY_QUERY),
        body=fixture("fireworks", "billing_summary"),
    )
    ctx = context(fw_upstream, FireworksOptions(account_id="acme"), frozenset({"project"}))
    records = await fireworks.PROVIDER.sources["billing_summary"](ctx)
    assert {r.line_item for r in records if isinstance(r, CostRecord)} == {""}
    snapshot = snapshot_of("fireworks", "billing_summary", records)
    assert samples(snapshot, "llm_cost_usd_total") == {"": 16.100000005}


def test_fireworks_date_range() -> None:
    # The first minutes of a month ask for that day only; a naive end is taken as UTC.
    assert fireworks.summary_params(START, datetime(2026, 8, 1, 0, 5)) == [
        ("startTime", "2026-08-01T00:00:00Z"),
        ("endTime", "2026-08-02T00:00:00Z"),
    ]
    assert fireworks.summary_params(START, datetime(2026, 8, 31, 23, 59, tzinfo=UTC))[1] == (
        "endTime",
        "2026-09-01T00:00:00Z",
    )


async def test_fireworks_empty_and_eur(mock: aioresponses, fw_upstream: Upstream) -> None:
    summary = URL(FW_BASE + SUMMARY).with_query(SUMMARY_QUERY)
    ctx = context(fw_upstream, FireworksOptions(account_id="acme"))
    mock.get(summary, body=fixture("fireworks", "billing_summary_empty"))
    assert await fireworks.PROVIDER.sources["billing_summary"](ctx) == []
    mock.get(summary, body=fixture("fireworks", "billing_summary_eur"))
    with pytest.raises(InvalidResponseError, match="EUR"):
        await fireworks.PROVIDER.sources["billing_summary"](ctx)
    assert fw_upstream.stats.failures == {"invalid_response": 1}


async def test_fireworks_unknown_account(mock: aioresponses, fw_upstream: Upstream) -> None:
    mock.get(URL(FW_BASE + SUMMARY).with_query(SUMMARY_QUERY), status=404)
    with pytest.raises(UpstreamClientError) as caught:
        await fireworks.PROVIDER.sources["billing_summary"](
            context(fw_upstream, FireworksOptions(account_id="acme"))
        )
    assert caught.value.status == 404 and FW_KEY not in str(caught.value)


@pytest.mark.parametrize(
    ("money", "match"),
    [
        ({"currencyCode": "USD", "units": "1", "nanos": 1_000_000_000}, "out of range"),
        ({"currencyCode": "USD", "units": "1", "nanos": -5}, "different signs"),
        ({"currencyCode": "USD", "units": "-1", "nanos": 5}, "different signs"),
        ({"currencyCode": "USD", "units": "1.5"}, "whole"),
        ({"currencyCode": "USD", "units": "abc"}, "not a number"),
        ({"currencyCode": "USD", "units": "1e30"}, "out of range"),
        ({"units": "3"}, "currencyCode"),
        ({"currencyCode": "EUR", "nanos": 1}, "EUR"),
        ("12.5", "object"),
    ],
)
def test_fireworks_money_rejects(money: Any, match: str) -> None:
    with pytest.raises(InvalidResponseError, match=match):
        money_to_usd(money, "totalCost")


def test_fireworks_money_is_exact() -> None:
    assert money_to_usd({"currencyCode": "usd", "units": "1", "nanos": 1}, "m") == Decimal(
        "1.000000001"
    )
    assert money_to_usd({"currencyCode": "USD", "units": "-2", "nanos": -5e8}, "m") == Decimal(
        "-2.5"
    )
    assert money_to_usd({"currencyCode": "USD", "units": "123456789012345678"}, "m") == Decimal(
        "123456789012345678"
    )
    assert money_to_usd({}, "m") == 0  # zero needs no currency
    assert money_to_usd({"currencyCode": "EUR", "units": "0", "nanos": 0}, "m") == 0


def test_fireworks_parser_rejects_shapes() -> None:
    for body, match in (
        ({"lineItems": {}}, "list"),
        ({"lineItems": ["x"]}, "object"),
        (
            {"lineItems": [{"category": 5.5, "totalCost": {"currencyCode": "USD", "units": 1}}]},
            "string",
        ),
        ([], "object"),
    ):
        with pytest.raises(InvalidResponseError, match=match):
            parse_summary(body, START, ALL)


async def test_fireworks_check(mock: aioresponses, fw_upstream: Upstream) -> None:
    mock.get(FW_BASE + "/v1/accounts", body=fixture("fireworks", "accounts"))
    await fireworks.PROVIDER.check(fw_upstream)
    mock.get(FW_BASE + "/v1/accounts", body="[]")
    with pytest.raises(InvalidResponseError):
        await fireworks.PROVIDER.check(fw_upstream)


def test_money_gauges_are_decimal() -> None:
    record = gauge(
        "llm_credit_balance_usd", parse_balance({"total": {"val": "-1"}}), balance_type="prepaid"
    )
    assert isinstance(record, GaugeRecord) and record.value == Decimal("0.01")


_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.decimals(allow_nan=False) | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=20,
)
_money = st.fixed_dictionaries(
    {"currencyCode": st.sampled_from(["USD", "EUR"]) | _json, "units": _json, "nanos": _json}
)


@settings(max_examples=300, deadline=None)
@given(
    page=_json
    | st.fixed_dictionaries({"total": st.fixed_dictionaries({"val": _json}) | _json})
    | st.fixed_dictionaries(
        {
            "lineItems": st.lists(
                st.fixed_dictionaries({"totalCost": _money | _json, "category": _json}), max_size=3
            )
        }
    )
    | st.fixed_dictionaries(
        {
            "timeSeries": st.lists(
                st.fixed_dictionaries(
                    {
                        "dataPoints": st.lists(
                            st.fixed_dictionaries(
                                {
                                    "timestamp": st.just("2026-08-01T00:00:00Z") | _json,
                                    "values": _json,
                                }
                            ),
                            max_size=3,
                        )
                    }
                ),
                max_size=2,
            )
        }
    )
)
def test_parsers_raise_only_invalid_response(page: Any) -> None:
    for parse in (parse_balance, parse_usage, lambda p: parse_summary(p, START, ALL)):
        try:
            parse(page)
        except InvalidResponseError as err:
            assert len(str(err)) < 300
