"""Balance-only providers: DeepSeek (USD and CNY, decimal strings) and Moonshot (voucher and
cash, currency from the option or the base URL host)."""

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
from pydantic import BaseModel, ValidationError
from yarl import URL

from exporter.config import AccountConfig
from exporter.errors import AuthError, InvalidResponseError
from exporter.providers import PROVIDERS, deepseek, moonshot
from exporter.providers.base import NoOptions, SourceContext
from exporter.providers.moonshot import MoonshotOptions, currency_for
from exporter.records import GaugeRecord, Record, gauge
from exporter.upstream import RequestStats, Upstream

FIXTURES = Path(__file__).parent / "fixtures"
KEY = "sk-test-fake-balance-0000000000000000"
START = datetime(2026, 8, 1, tzinfo=UTC)
END = datetime(2026, 8, 21, 10, 0, tzinfo=UTC)

DEEPSEEK_BALANCE = URL("https://api.deepseek.com/user/balance")
MOONSHOT_AI = "https://api.moonshot.ai"
MOONSHOT_CN = "https://api.moonshot.cn"


def raw(provider: str, name: str) -> bytes:
    return (FIXTURES / provider / name).read_bytes()


def fixture(provider: str, name: str) -> Any:
    """A fixture decoded the way Upstream decodes bodies (non-integers as Decimal)."""
    return json.loads(raw(provider, name), parse_float=Decimal)


def gauges(records: Iterable[Record]) -> dict[tuple[str, tuple[tuple[str, str], ...]], Decimal]:
    found = {}
    for record in records:
        assert isinstance(record, GaugeRecord)
        found[(record.metric, record.labels)] = record.value
    return found


def g(metric: str, value: str, **labels: str) -> tuple[tuple[str, Any], Decimal]:
    record = gauge(metric, Decimal(value), **labels)
    return (record.metric, record.labels), record.value


@pytest.fixture
def mocked() -> Iterable[aioresponses]:
    with aioresponses() as m:
        yield m


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as client:
        yield client


def context(
    session: aiohttp.ClientSession, provider: str, base: str, options: BaseModel | None = None
) -> SourceContext:
    spec = PROVIDERS[provider]
    upstream = Upstream(session, base, spec.auth_headers(KEY), RequestStats())
    return SourceContext(
        upstream=upstream,
        start=START,
        end=END,
        group_by=frozenset(),
        options=options or spec.options(),
    )


def headers_sent(m: aioresponses) -> list[dict[str, str]]:
    return [call.kwargs["headers"] for calls in m.requests.values() for call in calls]


# --------------------------------------------------------------------------- DeepSeek


def test_deepseek_spec() -> None:
    spec = PROVIDERS["deepseek"]
    assert spec is deepseek.PROVIDER
    assert spec.default_base_url == "https://api.deepseek.com"
    assert spec.env_var == "DEEPSEEK_API_KEY"
    assert set(spec.sources) == {"balance"}
    assert dict(spec.auth_headers("k")) == {"Authorization": "Bearer k"}
    doc = deepseek.__doc__ or ""
    for needle in ("/user/balance", "llm_credit_balance_usd", "llm_credit_balance_cny"):
        assert needle in doc


async def test_deepseek_cny_and_usd(
    session: aiohttp.ClientSession, mocked: aioresponses, caplog: pytest.LogCaptureFixture
) -> None:
    mocked.get(DEEPSEEK_BALANCE, body=raw("deepseek", "balance_cny_usd.json"))
    records = await deepseek.PROVIDER.sources["balance"](
        context(session, "deepseek", deepseek.PROVIDER.default_base_url)
    )
    assert gauges(records) == dict(
        [
            g("llm_credit_balance_cny", "10.00", balance_type="granted"),
            g("llm_credit_balance_cny", "100.50", balance_type="topped_up"),
            g("llm_credit_balance_usd", "0.00", balance_type="granted"),
            g("llm_credit_balance_usd", "48.73", balance_type="topped_up"),
        ]
    )
    # the parts, never the total: summing over balance_type gives total_balance
    cny = sum(r.value for r in records if isinstance(r, GaugeRecord) and "cny" in r.metric)
    assert cny == Decimal("110.50")
    assert not caplog.records
    [headers] = headers_sent(mocked)
    assert headers["Authorization"] == f"Bearer {KEY}"


def test_deepseek_unknown_currency_is_skipped_with_a_warning(
    caplog: pytest.LogCaptureFixture,
) -> None:
    records = deepseek.parse_balance(fixture("deepseek", "balance_unknown_currency.json"))
    assert gauges(records) == dict(
        [
            g("llm_credit_balance_usd", "2.3456", balance_type="granted"),
            g("llm_credit_balance_usd", "10.00", balance_type="topped_up"),
        ]
    )
    [warning] = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert "EUR" in warning.getMessage()


def test_deepseek_total_mismatch_is_a_warning(caplog: pytest.LogCaptureFixture) -> None:
    body = {
        "balance_infos": [
            {
                "currency": "USD",
                "total_balance": "10.01",
                "granted_balance": "5",
                "topped_up_balance": "5",
            }
        ]
    }
    records = deepseek.parse_balance(body)
    assert len(records) == 2
    assert "total_balance 10.01" in caplog.text
    caplog.clear()
    body["balance_infos"][0]["total_balance"] = "10.000"  # same number, other spelling
    deepseek.parse_balance(body)
    assert not caplog.records


def test_deepseek_empty_balance_list() -> None:
    assert deepseek.parse_balance(fixture("deepseek", "balance_empty.json")) == []


def test_deepseek_lowercase_currency() -> None:
    body = {"balance_infos": [{"currency": "cny", "granted_balance": 1, "topped_up_balance": 2}]}
    assert gauges(deepseek.parse_balance(body)) == dict(
        [
            g("llm_credit_balance_cny", "1", balance_type="granted"),
            g("llm_credit_balance_cny", "2", balance_type="topped_up"),
        ]
    )


def _info(**fields: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "currency": "USD",
        "total_balance": "3",
        "granted_balance": "1",
        "topped_up_balance": "2",
    }
    base.update(fields)
    return {"is_available": True, "balance_infos": [base]}


@pytest.mark.parametrize(
    ("body", "path"),
    [
        ({"is_available": True}, r"balance\.balance_infos"),
        ({"balance_infos": None}, r"balance\.balance_infos"),
        ({"balance_infos": {"currency": "USD"}}, r"balance\.balance_infos"),
        ({"balance_infos": ["USD"]}, r"balance_infos\[0\]"),
        (_info(granted_balance=None), r"balance_infos\[0\]\.granted_balance"),
        (_info(topped_up_balance="1,5"), r"balance_infos\[0\]\.topped_up_balance"),
        (_info(total_balance="NaN"), r"balance_infos\[0\]\.total_balance"),
        (_info(currency=["USD"]), r"balance_infos\[0\]\.currency"),
        (
            {"balance_infos": _info()["balance_infos"] * 2},
            r"balance_infos\[1\]\.currency: a second USD",
        ),
        ([], r"balance"),
    ],
)
def test_deepseek_schema_drift(body: Any, path: str) -> None:
    with pytest.raises(InvalidResponseError, match=path):
        deepseek.parse_balance(body)


async def test_deepseek_check_and_auth_error(
    session: aiohttp.ClientSession, mocked: aioresponses
) -> None:
    upstream = Upstream(
        session,
        deepseek.PROVIDER.default_base_url,
        {"Authorization": f"Bearer {KEY}"},
        RequestStats(),
    )
    mocked.get(DEEPSEEK_BALANCE, body=raw("deepseek", "balance_cny_usd.json"))
    await deepseek.PROVIDER.check(upstream)
    mocked.get(DEEPSEEK_BALANCE, status=401, body=b'{"error":{"message":"bad key"}}')
    with pytest.raises(AuthError) as caught:
        await deepseek.PROVIDER.check(upstream)
    assert KEY not in str(caught.value)


# --------------------------------------------------------------------------- Moonshot


def test_moonshot_spec() -> None:
    spec = PROVIDERS["moonshot"]
    assert spec is moonshot.PROVIDER
    assert spec.default_base_url == MOONSHOT_AI
    assert spec.env_var == "MOONSHOT_API_KEY"
    assert set(spec.sources) == {"balance"}
    assert spec.options is MoonshotOptions
    doc = moonshot.__doc__ or ""
    for needle in ("/v1/users/me/balance", "uncertain", "llm_credit_balance_cny", "currency"):
        assert needle in doc


@pytest.mark.parametrize(
    ("base", "options", "currency"),
    [
        (MOONSHOT_AI, MoonshotOptions(), "USD"),
        (MOONSHOT_CN, MoonshotOptions(), "CNY"),
        ("https://API.MOONSHOT.CN/", MoonshotOptions(), "CNY"),
        ("http://127.0.0.1:8080/moonshot", MoonshotOptions(), "USD"),
        ("https://moonshot.cn.example.com", MoonshotOptions(), "USD"),
        (MOONSHOT_AI, MoonshotOptions(currency="CNY"), "CNY"),
        (MOONSHOT_CN, MoonshotOptions(currency="USD"), "USD"),
        (MOONSHOT_CN, NoOptions(), "CNY"),
    ],
)
def test_moonshot_currency(base: str, options: BaseModel, currency: str) -> None:
    assert currency_for(base, options) == currency


def test_moonshot_options_validate_through_account_config() -> None:
    account = AccountConfig(provider="moonshot", options={"currency": "CNY"})
    assert account.parsed_options == MoonshotOptions(currency="CNY")
    with pytest.raises(ValidationError, match="currency"):
        AccountConfig(provider="moonshot", options={"currency": "EUR"})
    with pytest.raises(ValidationError, match="curency"):
        AccountConfig(provider="moonshot", options={"curency": "USD"})


async def test_moonshot_default_host_is_usd(
    session: aiohttp.ClientSession, mocked: aioresponses
) -> None:
    mocked.get(URL(MOONSHOT_AI + "/v1/users/me/balance"), body=raw("moonshot", "balance.json"))
    records = await moonshot.PROVIDER.sources["balance"](context(session, "moonshot", MOONSHOT_AI))
    assert gauges(records) == dict(
        [
            g("llm_credit_balance_usd", "46.58893", balance_type="voucher"),
            g("llm_credit_balance_usd", "3.00001", balance_type="cash"),
        ]
    )
    [headers] = headers_sent(mocked)
    assert headers["Authorization"] == f"Bearer {KEY}"


async def test_moonshot_cn_host_is_cny_and_option_wins(
    session: aiohttp.ClientSession, mocked: aioresponses
) -> None:
    target = URL(MOONSHOT_CN + "/v1/users/me/balance")
    mocked.get(target, body=raw("moonshot", "balance.json"), repeat=True)
    source = moonshot.PROVIDER.sources["balance"]
    by_host = await source(context(session, "moonshot", MOONSHOT_CN))
    assert {r.metric for r in by_host if isinstance(r, GaugeRecord)} == {"llm_credit_balance_cny"}
    by_option = await source(
        context(session, "moonshot", MOONSHOT_CN, MoonshotOptions(currency="USD"))
    )
    assert {r.metric for r in by_option if isinstance(r, GaugeRecord)} == {"llm_credit_balance_usd"}


def test_moonshot_negative_cash_is_kept() -> None:
    records = moonshot.parse_balance(fixture("moonshot", "balance_debt.json"), "CNY")
    assert gauges(records) == dict(
        [
            g("llm_credit_balance_cny", "0", balance_type="voucher"),
            g("llm_credit_balance_cny", "-2.5", balance_type="cash"),
        ]
    )


def test_moonshot_available_mismatch_is_a_warning(caplog: pytest.LogCaptureFixture) -> None:
    body = {
        "code": 0,
        "status": True,
        "data": {"available_balance": 9, "voucher_balance": 4, "cash_balance": 4},
    }
    assert len(moonshot.parse_balance(body, "USD")) == 2
    assert "available_balance 9" in caplog.text
    caplog.clear()
    del body["data"]["available_balance"]  # type: ignore[attr-defined]
    moonshot.parse_balance(body, "USD")
    assert not caplog.records


async def test_moonshot_error_code_is_invalid_response(
    session: aiohttp.ClientSession, mocked: aioresponses
) -> None:
    mocked.get(
        URL(MOONSHOT_AI + "/v1/users/me/balance"), body=raw("moonshot", "balance_error.json")
    )
    with pytest.raises(InvalidResponseError, match="code") as caught:
        await moonshot.PROVIDER.sources["balance"](context(session, "moonshot", MOONSHOT_AI))
    assert KEY not in str(caught.value)


def _moonshot(**document: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "code": 0,
        "status": True,
        "data": {"available_balance": 3, "voucher_balance": 1, "cash_balance": 2},
    }
    base.update(document)
    return base


@pytest.mark.parametrize(
    ("body", "path"),
    [
        (_moonshot(code=1), r"balance\.code"),
        (_moonshot(code="401"), r"balance\.code"),
        (_moonshot(code=False), r"balance\.code"),
        (_moonshot(code=True), r"balance\.code"),
        (_moonshot(status=False), r"balance\.status"),
        (_moonshot(status="true"), r"balance\.status"),
        (_moonshot(data=None), r"balance\.data"),
        (_moonshot(data={"voucher_balance": 1}), r"balance\.data\.cash_balance"),
        (_moonshot(data={"voucher_balance": "x", "cash_balance": 1}), r"data\.voucher_balance"),
        (
            _moonshot(data={"voucher_balance": 1, "cash_balance": 1, "available_balance": []}),
            r"data\.available_balance",
        ),
        ([], r"balance"),
    ],
)
def test_moonshot_schema_drift(body: Any, path: str) -> None:
    with pytest.raises(InvalidResponseError, match=path):
        moonshot.parse_balance(body, "USD")


def test_moonshot_code_as_string_zero_and_absent_status() -> None:
    body = {"code": "0", "data": {"voucher_balance": 1, "cash_balance": 2}}
    assert len(moonshot.parse_balance(body, "USD")) == 2


async def test_moonshot_check_rejects_error_code(
    session: aiohttp.ClientSession, mocked: aioresponses
) -> None:
    upstream = Upstream(session, MOONSHOT_AI, {"Authorization": f"Bearer {KEY}"}, RequestStats())
    mocked.get(
        URL(MOONSHOT_AI + "/v1/users/me/balance"), body=raw("moonshot", "balance_error.json")
    )
    with pytest.raises(InvalidResponseError):
        await moonshot.PROVIDER.check(upstream)
    assert upstream.base_url == MOONSHOT_AI
