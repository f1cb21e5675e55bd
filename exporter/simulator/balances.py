"""Simulated balance-only providers and Groq's metrics API.

* DeepSeek ``/deepseek/user/balance`` (USD, decimal strings; a monthly top-up burnt down
  through the month),
* Moonshot ``/moonshot/v1/users/me/balance`` (numbers; the demo reads it as CNY, like
  ``api.moonshot.cn``),
* Groq ``/groq/api/v1/query`` and ``/query_range`` (Prometheus JSON; constant per-second rates
  per model and project, so integrated totals are exact: :data:`GROQ_RATES`),
* xAI ``/xai/v1/billing/teams/{team}/prepaid/balance`` (sign-inverted cents strings) and
  ``POST .../usage`` (USD per day: :data:`XAI_DAILY_USD`),
* Fireworks ``/fireworks/v1/accounts/{account}/billing/summary`` (``units`` + ``nanos``).
"""

from __future__ import annotations

import math
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, Final

from aiohttp import web

from exporter.simulator.model import DAY, OrgModel

DEEPSEEK_PREFIX: Final = "/deepseek"
MOONSHOT_PREFIX: Final = "/moonshot"
GROQ_PREFIX: Final = "/groq"
XAI_PREFIX: Final = "/xai"
FIREWORKS_PREFIX: Final = "/fireworks"
XAI_TEAM: Final = "team-sim-0001"
FIREWORKS_ACCOUNT: Final = "sim-account"
#: xAI spend per completed day and the prepaid credit bought on the 1st of each month.
XAI_DAILY_USD: Final = Decimal("3.17")
_XAI_MONTHLY_TOP_UP_CENTS: Final = 25_000
#: Fireworks month-to-date spend per day elapsed, by line item.
_FIREWORKS_PER_DAY: Final = {
    ("Serverless inference", "accounts/fireworks/models/llama-v3p1-8b-instruct"): Decimal("1.25"),
    ("On-demand deployment", "accounts/sim-account/deployments/demo"): Decimal("4.8"),
}

_DEEPSEEK_TOP_UP: Final = Decimal("60.00")
_DEEPSEEK_GRANTED: Final = Decimal("5.00")
_DEEPSEEK_PER_DAY: Final = Decimal("1.40")
_MOONSHOT_VOUCHER: Final = Decimal("46.58893")
_MOONSHOT_CASH_START: Final = Decimal("300")
_MOONSHOT_PER_DAY: Final = Decimal("9.5")

#: (model, project_id) → per-second rates of tokens in, tokens out and requests.
GROQ_RATES: Final[dict[tuple[str, str], tuple[str, str, str]]] = {
    ("llama-3.1-8b-instant", "project_01simgroq"): ("12.5", "3.25", "0.05"),
    ("llama-3.3-70b-versatile", "project_01simgroq"): ("4", "1.5", "0.01"),
}


def _model(request: web.Request) -> OrgModel:
    from exporter.simulator.server import STATE

    return request.app[STATE].model


def _month_fraction_days(now: float) -> Decimal:
    """Days (fractional) since 00:00 UTC on the 1st of the month."""
    moment = datetime.fromtimestamp(now, UTC)
    start = moment.replace(day=1, hour=0, minute=0, second=0, microsecond=0).timestamp()
    return Decimal(str(round((now - start) / DAY, 6)))


async def deepseek_balance(request: web.Request) -> web.Response:
    days = _month_fraction_days(_model(request).now())
    topped_up = max(Decimal(0), _DEEPSEEK_TOP_UP - _DEEPSEEK_PER_DAY * days).quantize(
        Decimal("0.01")
    )
    info = {
        "currency": "USD",
        "total_balance": str(topped_up + _DEEPSEEK_GRANTED),
        "granted_balance": str(_DEEPSEEK_GRANTED),
        "topped_up_balance": str(topped_up),
    }
    return web.json_response({"is_available": True, "balance_infos": [info]})


async def moonshot_balance(request: web.Request) -> web.Response:
    days = _month_fraction_days(_model(request).now())
    cash = (_MOONSHOT_CASH_START - _MOONSHOT_PER_DAY * days).quantize(Decimal("0.00001"))
    data = {
        "available_balance": float(cash + _MOONSHOT_VOUCHER),
        "voucher_balance": float(_MOONSHOT_VOUCHER),
        "cash_balance": float(cash),
    }
    return web.json_response({"code": 0, "data": data, "scode": "0x0", "status": True})


def _groq_series(query: str) -> int | None:
    """Which rate a query asks for (0 tokens in, 1 tokens out, 2 requests)."""
    if "tokens_in" in query:
        return 0
    if "tokens_out" in query:
        return 1
    if "requests" in query:
        return 2
    return None


def _groq_result(query: str, points: list[float]) -> list[dict[str, Any]]:
    which = _groq_series(query)
    if which is None:
        return []
    result = []
    for (model, project), rates in GROQ_RATES.items():
        values = [[t, rates[which]] for t in points]
        result.append({"metric": {"model": model, "project_id": project}, "values": values})
    return result


async def groq_query_range(request: web.Request) -> web.Response:
    now = _model(request).now()
    try:
        start = float(request.query["start"])
        end = min(float(request.query["end"]), now)
        step = float(request.query.get("step", "300").rstrip("s"))
    except (KeyError, ValueError):
        return web.json_response(
            {"status": "error", "errorType": "bad_data", "error": "start, end, step"}, status=400
        )
    if step <= 0:
        return web.json_response(
            {"status": "error", "errorType": "bad_data", "error": "step"}, status=400
        )
    first = math.ceil(start / step) * step
    points = [first + k * step for k in range(max(0, int((end - first) // step) + 1))]
    body = {
        "status": "success",
        "data": {"resultType": "matrix", "result": _groq_result(request.query["query"], points)},
    }
    return web.json_response(body)


async def groq_query(request: web.Request) -> web.Response:
    now = _model(request).now()
    result = [
        {"metric": series["metric"], "value": series["values"][0]}
        for series in _groq_result(request.query.get("query", ""), [now])
    ]
    return web.json_response(
        {"status": "success", "data": {"resultType": "vector", "result": result}}
    )


def groq_tokens(start: float, end: float, step: float = 300) -> dict[str, Decimal]:
    """Rates × step summed over the query_range points in ``[start, end]`` (what a client
    integrating ``query_range`` at ``step`` gets)."""
    first = math.ceil(start / step) * step
    points = max(0, int((end - first) // step) + 1)
    totals = {"input": Decimal(0), "output": Decimal(0)}
    for tokens_in, tokens_out, _ in GROQ_RATES.values():
        totals["input"] += Decimal(tokens_in) * Decimal(str(step)) * points
        totals["output"] += Decimal(tokens_out) * Decimal(str(step)) * points
    return totals


async def xai_balance(request: web.Request) -> web.Response:
    if request.match_info["team"] != XAI_TEAM:
        raise web.HTTPNotFound()
    days = int(_month_fraction_days(_model(request).now()))
    spent_cents = int(XAI_DAILY_USD * 100) * days
    # The ledger is sign-inverted: credit bought is negative, spend positive.
    return web.json_response(
        {"changes": [], "total": {"val": str(spent_cents - _XAI_MONTHLY_TOP_UP_CENTS)}}
    )


async def xai_usage(request: web.Request) -> web.Response:
    if request.match_info["team"] != XAI_TEAM:
        raise web.HTTPNotFound()
    now = _model(request).now()
    moment = datetime.fromtimestamp(now, UTC)
    first = moment.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    points = [
        {
            "timestamp": first.replace(day=day).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "values": [float(XAI_DAILY_USD)],
        }
        for day in range(1, moment.day)
    ]
    return web.json_response(
        {"timeSeries": [{"group": [], "dataPoints": points}], "limitReached": False}
    )


async def fireworks_summary(request: web.Request) -> web.Response:
    if request.match_info["account"] != FIREWORKS_ACCOUNT:
        raise web.HTTPNotFound()
    days = _month_fraction_days(_model(request).now())
    items = []
    for (category, grouping), per_day in _FIREWORKS_PER_DAY.items():
        cost = (per_day * days).quantize(Decimal("0.000000001"))
        units = int(cost)
        items.append(
            {
                "category": category,
                "groupingValue": grouping,
                "totalCost": {
                    "currencyCode": "USD",
                    "units": str(units),
                    "nanos": int((cost - units) * 1_000_000_000),
                },
            }
        )
    return web.json_response({"lineItems": items})


def add_routes(app: web.Application) -> None:
    r = app.router
    r.add_get(f"{DEEPSEEK_PREFIX}/user/balance", deepseek_balance)
    r.add_get(f"{MOONSHOT_PREFIX}/v1/users/me/balance", moonshot_balance)
    r.add_get(f"{GROQ_PREFIX}/api/v1/query_range", groq_query_range)
    r.add_get(f"{GROQ_PREFIX}/api/v1/query", groq_query)
    r.add_get(f"{XAI_PREFIX}/v1/billing/teams/{{team}}/prepaid/balance", xai_balance)
    r.add_post(f"{XAI_PREFIX}/v1/billing/teams/{{team}}/usage", xai_usage)
    r.add_get(f"{FIREWORKS_PREFIX}/v1/accounts/{{account}}/billing/summary", fireworks_summary)
