"""Simulated subscription quota endpoints (the vendors' CLIs' private APIs).

* Claude ``/claude/api/oauth/usage`` (needs ``anthropic-beta: oauth-2025-04-20``),
* ChatGPT/Codex ``/chatgpt/backend-api/wham/usage`` (needs ``ChatGPT-Account-Id``),
* Gemini CLI ``/gemini/v1internal:loadCodeAssist`` and ``/gemini/v1internal:retrieveUserQuota``.

Windows are aligned to the epoch (5 hours, 7 days) and fill along them at a steady pace that
differs per window, so utilisation, reset times and pace are all computable from the clock
(:func:`window`): the demo's 5-hour and weekly Claude windows run ahead of pace on purpose, so
the quota pace alert and the run-out panels have something to show.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Final

from aiohttp import web

from exporter.simulator.model import OrgModel

CLAUDE_PREFIX: Final = "/claude"
CHATGPT_PREFIX: Final = "/chatgpt/backend-api"
GEMINI_PREFIX: Final = "/gemini"
CODEX_ACCOUNT_ID: Final = "acct_sim_0001"

FIVE_HOURS: Final = 5 * 3600
SEVEN_DAYS: Final = 7 * 86400
#: window → (length in seconds, fraction used at the end of the window if the pace held)
PACE: Final[dict[str, tuple[int, float]]] = {
    "claude_5h": (FIVE_HOURS, 1.15),
    "claude_7d": (SEVEN_DAYS, 1.25),
    "claude_7d_sonnet": (SEVEN_DAYS, 0.3),
    "codex_5h": (FIVE_HOURS, 0.5),
    "codex_7d": (SEVEN_DAYS, 0.8),
}


def window(name: str, now: float) -> tuple[float, float]:
    """(fraction used 0–1, reset time) of a simulated window at ``now``."""
    length, pace = PACE[name]
    start = now - now % length
    used = min(1.0, pace * (now - start) / length)
    return round(used, 4), start + length


def _iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%S.282668+00:00")


def _model(request: web.Request) -> OrgModel:
    from exporter.simulator.server import STATE

    return request.app[STATE].model


async def claude_usage(request: web.Request) -> web.Response:
    if request.headers.get("anthropic-beta", "").find("oauth-2025-04-20") < 0:
        return web.json_response(
            {"type": "error", "error": {"type": "invalid_request_error", "message": "beta"}},
            status=400,
        )
    now = _model(request).now()
    body: dict[str, Any] = {}
    for key, name in (
        ("five_hour", "claude_5h"),
        ("seven_day", "claude_7d"),
        ("seven_day_sonnet", "claude_7d_sonnet"),
    ):
        used, resets = window(name, now)
        body[key] = {"utilization": round(used * 100, 2), "resets_at": _iso(resets)}
    body["seven_day_opus"] = None
    body["seven_day_oauth_apps"] = None
    used_5h, resets_5h = window("claude_5h", now)
    used_7d, resets_7d = window("claude_7d", now)
    body["limits"] = [
        {
            "kind": "session",
            "group": "session",
            "percent": round(used_5h * 100),
            "resets_at": _iso(resets_5h),
            "scope": None,
            "is_active": True,
        },
        {
            "kind": "weekly_all",
            "group": "weekly",
            "percent": round(used_7d * 100),
            "resets_at": _iso(resets_7d),
            "scope": None,
            "is_active": False,
        },
    ]
    body["extra_usage"] = {
        "is_enabled": True,
        "monthly_limit": 5000,
        "used_credits": 1275,
        "utilization": 25.5,
        "currency": "USD",
    }
    return web.json_response(body)


def _codex_window(name: str, now: float) -> dict[str, int]:
    used, resets = window(name, now)
    return {
        "used_percent": round(used * 100),
        "limit_window_seconds": PACE[name][0],
        "reset_after_seconds": int(resets - now),
        "reset_at": int(resets),
    }


async def codex_usage(request: web.Request) -> web.Response:
    if request.headers.get("ChatGPT-Account-Id") != CODEX_ACCOUNT_ID:
        return web.json_response({"detail": "account id required"}, status=400)
    now = _model(request).now()
    body = {
        "plan_type": "plus",
        "rate_limit": {
            "allowed": True,
            "limit_reached": False,
            # Weekly first: clients must map windows by length, never by position.
            "primary_window": _codex_window("codex_7d", now),
            "secondary_window": _codex_window("codex_5h", now),
        },
        "credits": {
            "has_credits": True,
            "unlimited": False,
            "balance": "9.5",
            "approx_local_messages": None,
            "approx_cloud_messages": None,
        },
        "additional_rate_limits": [],
    }
    return web.json_response(body)


async def gemini_load(request: web.Request) -> web.Response:
    return web.json_response(
        {
            "currentTier": {"id": "standard-tier", "name": "Gemini Code Assist Standard"},
            "cloudaicompanionProject": "sim-project-123",
            "allowedTiers": [{"id": "standard-tier"}],
        }
    )


async def gemini_quota(request: web.Request) -> web.Response:
    now = _model(request).now()
    day_start = now - now % 86400
    resets = datetime.fromtimestamp(day_start + 86400, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    elapsed = (now - day_start) / 86400
    buckets = [
        {
            "modelId": "gemini-2.5-pro",
            "tokenType": "REQUESTS",
            "remainingFraction": round(1 - 0.6 * elapsed, 4),
            "resetTime": resets,
        },
        {
            "modelId": "gemini-2.5-flash",
            "tokenType": "REQUESTS",
            "remainingFraction": round(1 - 0.2 * elapsed, 4),
            "resetTime": resets,
        },
    ]
    return web.json_response({"buckets": buckets})


def add_routes(app: web.Application) -> None:
    r = app.router
    r.add_get(f"{CLAUDE_PREFIX}/api/oauth/usage", claude_usage)
    r.add_get(f"{CHATGPT_PREFIX}/wham/usage", codex_usage)
    r.add_post(f"{GEMINI_PREFIX}/v1internal:loadCodeAssist", gemini_load)
    r.add_post(f"{GEMINI_PREFIX}/v1internal:retrieveUserQuota", gemini_quota)
