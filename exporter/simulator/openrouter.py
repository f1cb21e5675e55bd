"""The simulated OpenRouter API (``/openrouter/api/v1/...``) of an :class:`OrgModel`'s seed.

Served in the documented shapes: ``/key``, ``/credits``, ``/keys`` (offset pages), ``/activity``
(completed UTC days only, like the real API), ``/models`` (string USD per token). A few models
route through OpenRouter every day; one of them (:data:`UNLISTED_MODEL`) is missing from
``/models`` and from every price database, so the demo shows unpriced tokens. Daily volumes are
seeded integers, so month-to-date totals of completed days are exact (:func:`activity_totals`).
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any, Final

from aiohttp import web

from exporter.simulator.model import DAY, OrgModel, day_curve

PREFIX: Final = "/openrouter/api/v1"

#: model id → (prompt, completion, cache read) USD per token, as ``/models`` lists them.
LISTED_MODELS: Final[dict[str, tuple[str, str, str | None]]] = {
    "anthropic/claude-sonnet-4": ("0.000003", "0.000015", "0.0000003"),
    "openai/gpt-4.1-mini": ("0.0000004", "0.0000016", "0.0000001"),
    "meta-llama/llama-3.3-70b-instruct": ("0.00000013", "0.0000004", None),
}
#: Routed through OpenRouter but priced nowhere (a private fine-tune): billed, never estimated.
UNLISTED_MODEL: Final = "acme/private-finetune-v1"
_UNLISTED_PER_REQUEST: Final = Decimal("0.002")
#: (hash, name, share of spend in tenths)
KEYS: Final = (
    ("4a1f0c2b9e8d7a6b5c4d3e2f1a0b9c8d7e6f5a4b3c2d1e0f9a8b7c6d5e4f3a2b", "ci-bots", 5),
    ("9b8a7c6d5e4f3a2b1c0d9e8f7a6b5c4d3e2f1a0b9c8d7e6f5a4b3c2d1e0f9a8b", "research", 3),
    ("0c1d2e3f4a5b6c7d8e9f0a1b2c3d4e5f6a7b8c9d0e1f2a3b4c5d6e7f8a9b0c1d", "staging", 2),
)
#: Credits bought: this much on the 1st of every month since January 2026.
MONTHLY_TOP_UP: Final = Decimal(250)
_FIRST_TOP_UP: Final = date(2026, 1, 1)


@dataclass(frozen=True, slots=True)
class DayRow:
    model: str
    requests: int
    prompt_tokens: int
    completion_tokens: int
    usd: Decimal


def day_rows(seed: int, day: int) -> list[DayRow]:
    """Every model's full-day usage on day number ``day`` (days since the epoch)."""
    rows = []
    weekend = date.fromordinal(date(1970, 1, 1).toordinal() + day).weekday() >= 5
    for model in (*LISTED_MODELS, UNLISTED_MODEL):
        rng = random.Random(f"llm-sim-openrouter|{seed}|{model}|{day}")
        requests = rng.randint(40, 160) // (2 if weekend else 1)
        prompt = requests * rng.randint(1500, 2500)
        completion = requests * rng.randint(200, 400)
        if model in LISTED_MODELS:
            p, c, _ = LISTED_MODELS[model]
            usd = prompt * Decimal(p) + completion * Decimal(c)
        else:
            usd = requests * _UNLISTED_PER_REQUEST
        rows.append(DayRow(model, requests, prompt, completion, usd))
    return rows


def spend(seed: int, start: float, end: float) -> Decimal:
    """USD spent in ``[start, end)``; a day in progress accrues along the day curve."""
    total = Decimal(0)
    for day in range(int(start // DAY), math.ceil(end / DAY)):
        full = sum((row.usd for row in day_rows(seed, day)), Decimal(0))
        lo = max(0.0, min(1.0, (start - day * DAY) / DAY))
        hi = max(0.0, min(1.0, (end - day * DAY) / DAY))
        fraction = Decimal(str(round(day_curve(hi) - day_curve(lo), 9)))
        total += (full * fraction).quantize(Decimal("0.000001"))
    return total


def activity_totals(seed: int, start: float, now: float) -> tuple[Decimal, dict[str, int]]:
    """Exact billed USD and tokens (prompt → input, completion → output) of completed days."""
    usd = Decimal(0)
    tokens = {"input": 0, "output": 0}
    for day in range(int(start // DAY), int(now // DAY)):
        for row in day_rows(seed, day):
            usd += row.usd
            tokens["input"] += row.prompt_tokens
            tokens["output"] += row.completion_tokens
    return usd, tokens


def _credits_bought(now: float) -> Decimal:
    today = date.fromtimestamp(now)
    months = (today.year - _FIRST_TOP_UP.year) * 12 + today.month - _FIRST_TOP_UP.month + 1
    return MONTHLY_TOP_UP * max(months, 0)


def _lifetime_start() -> float:
    return (_FIRST_TOP_UP.toordinal() - date(1970, 1, 1).toordinal()) * DAY


def _number(value: Decimal) -> float:
    return float(value.quantize(Decimal("0.000001")))


def _period_usage(seed: int, now: float, share: Decimal) -> dict[str, float]:
    today = int(now // DAY) * DAY
    weekday = date.fromtimestamp(now).weekday()
    month = date.fromtimestamp(now).replace(day=1)
    month_start = (month.toordinal() - date(1970, 1, 1).toordinal()) * DAY
    return {
        "usage": _number(spend(seed, _lifetime_start(), now) * share),
        "usage_daily": _number(spend(seed, today, now) * share),
        "usage_weekly": _number(spend(seed, today - weekday * DAY, now) * share),
        "usage_monthly": _number(spend(seed, month_start, now) * share),
    }


def _model(request: web.Request) -> OrgModel:
    from exporter.simulator.server import STATE

    return request.app[STATE].model


async def key(request: web.Request) -> web.Response:
    """The calling key is a management key with no limit and no inference spend."""
    usage = dict.fromkeys(("usage", "usage_daily", "usage_weekly", "usage_monthly"), 0)
    data = {
        "label": "sk-or-v1-sim...demo",
        "limit": None,
        "limit_remaining": None,
        "limit_reset": None,
        "include_byok_in_limit": False,
        **usage,
        "byok_usage": 0,
        "is_free_tier": False,
        "is_management_key": True,
        "is_provisioning_key": True,
        "expires_at": None,
        "rate_limit": {"requests": -1, "interval": "10s", "note": "deprecated"},
    }
    return web.json_response({"data": data})


async def credits(request: web.Request) -> web.Response:
    model = _model(request)
    now = model.now()
    used = spend(model.seed, _lifetime_start(), now)
    return web.json_response(
        {"data": {"total_credits": _number(_credits_bought(now)), "total_usage": _number(used)}}
    )


async def keys(request: web.Request) -> web.Response:
    model = _model(request)
    offset = int(request.query.get("offset", "0"))
    page_size = 2
    items: list[dict[str, Any]] = []
    for hash_, name, tenths in KEYS[offset : offset + page_size]:
        share = Decimal(tenths) / 10
        limit = 400 if name == "staging" else None
        usage = _period_usage(model.seed, model.now(), share)
        items.append(
            {
                "hash": hash_,
                "name": name,
                "label": f"sk-or-v1-{hash_[:3]}...{hash_[-3:]}",
                "disabled": False,
                "limit": limit,
                "limit_remaining": None if limit is None else max(0.0, limit - usage["usage"]),
                "limit_reset": None,
                "include_byok_in_limit": False,
                **usage,
                "byok_usage": 0,
                "created_at": "2026-01-02T09:00:00Z",
                "updated_at": None,
                "expires_at": None,
            }
        )
    return web.json_response({"data": items})


async def activity(request: web.Request) -> web.Response:
    model = _model(request)
    today = int(model.now() // DAY)
    rows = []
    for day in range(today - 30, today):
        iso = date.fromordinal(date(1970, 1, 1).toordinal() + day).isoformat()
        if request.query.get("date") not in (None, iso):
            continue
        for row in day_rows(model.seed, day):
            rows.append(
                {
                    "date": iso,
                    "model": row.model,
                    "model_permaslug": row.model,
                    "endpoint_id": "00000000-0000-4000-8000-000000000000",
                    "provider_name": row.model.split("/")[0].title(),
                    "requests": row.requests,
                    "prompt_tokens": row.prompt_tokens,
                    "completion_tokens": row.completion_tokens,
                    "reasoning_tokens": 0,
                    "usage": float(row.usd),
                    "byok_usage_inference": 0,
                }
            )
    return web.json_response({"data": rows})


async def models(request: web.Request) -> web.Response:
    data = []
    for model_id, (prompt, completion, cache_read) in LISTED_MODELS.items():
        pricing = {"prompt": prompt, "completion": completion, "request": "0", "image": "0"}
        if cache_read is not None:
            pricing["input_cache_read"] = cache_read
        data.append({"id": model_id, "name": model_id, "pricing": pricing})
    data.append(
        {
            "id": "openrouter/auto",
            "name": "Auto Router",
            "pricing": {"prompt": "-1", "completion": "-1"},
        }
    )
    return web.json_response({"data": data})


def add_routes(app: web.Application) -> None:
    r = app.router
    r.add_get(f"{PREFIX}/key", key)
    r.add_get(f"{PREFIX}/credits", credits)
    r.add_get(f"{PREFIX}/keys", keys)
    r.add_get(f"{PREFIX}/activity", activity)
    r.add_get(f"{PREFIX}/models", models)
