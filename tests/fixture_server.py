"""A loopback HTTP server that speaks the OpenAI and Anthropic Admin API shapes from the
fixture files in ``tests/fixtures``, following their cursors and checking credentials.

Bucket times are shifted by whole months so each fixture lands in the current month (the
exporter counts month-to-date). Expected totals are computed from the same files by
:func:`expected_totals`, independently of the exporter's parsers.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from aiohttp import web

FIXTURES = Path(__file__).parent / "fixtures"
OPENAI_KEY = "sk-admin-FAKEtestOPENAIkey-7f3a9c2e1d"
ANTHROPIC_KEY = "sk-ant-admin01-FAKEtestANTHROPICkey-4b8d0e6f"

#: path → (cursor query parameter, fixture files in page order)
ROUTES: Mapping[str, tuple[str, tuple[str, ...]]] = {
    "/v1/organization/costs": (
        "page",
        ("openai/costs_page1", "openai/costs_page2", "openai/costs_page3"),
    ),
    "/v1/organization/usage/completions": (
        "page",
        ("openai/usage_completions_page1", "openai/usage_completions_page2"),
    ),
    **{
        f"/v1/organization/usage/{kind}": ("page", (f"openai/usage_{kind}",))
        for kind in (
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
    },
    "/v1/organization/projects": ("after", ("openai/projects_page1", "openai/projects_page2")),
    "/v1/organization/projects/proj_demoA/api_keys": (
        "after",
        ("openai/api_keys_proj_demoA_page1", "openai/api_keys_proj_demoA_page2"),
    ),
    "/v1/organization/projects/proj_demoB/api_keys": ("after", ("openai/api_keys_proj_demoB",)),
    "/v1/organizations/usage_report/messages": (
        "page",
        (
            "anthropic/usage_messages_page1",
            "anthropic/usage_messages_page2",
            "anthropic/usage_messages_page3",
        ),
    ),
    "/v1/organizations/cost_report": (
        "page",
        ("anthropic/cost_report_page1", "anthropic/cost_report_page2"),
    ),
    "/v1/organizations/workspaces": (
        "after_id",
        ("anthropic/workspaces_page1", "anthropic/workspaces_page2"),
    ),
    "/v1/organizations/api_keys": (
        "after_id",
        ("anthropic/api_keys_page1", "anthropic/api_keys_page2"),
    ),
}

REQUESTS: web.AppKey[list[str]] = web.AppKey("requests", list)


def load(name: str) -> Any:
    return json.loads((FIXTURES / f"{name}.json").read_text())


def _shift_unix(value: int, months: int) -> int:
    moment = datetime.fromtimestamp(value, UTC)
    return int(_add_months(moment, months).timestamp())


def _shift_iso(value: str, months: int) -> str:
    moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return _add_months(moment, months).strftime("%Y-%m-%dT%H:%M:%SZ")


def _add_months(moment: datetime, months: int) -> datetime:
    index = moment.year * 12 + moment.month - 1 + months
    return moment.replace(year=index // 12, month=index % 12 + 1)


def shifted(document: Any, now: datetime) -> Any:
    """Move the document's buckets from their fixture month into the month of ``now``."""
    data = document.get("data") if isinstance(document, dict) else None
    if isinstance(data, list) and data:
        first = data[0]
        if isinstance(first.get("start_time"), int):
            base = datetime.fromtimestamp(first["start_time"], UTC)
        elif isinstance(first.get("starting_at"), str):
            base = datetime.fromisoformat(first["starting_at"].replace("Z", "+00:00"))
        else:
            return document
        months = (now.year - base.year) * 12 + now.month - base.month
        for bucket in data:
            if not isinstance(bucket, dict):
                continue
            for key in ("start_time", "end_time"):
                if isinstance(bucket.get(key), int):
                    bucket[key] = _shift_unix(bucket[key], months)
            for key in ("starting_at", "ending_at"):
                if isinstance(bucket.get(key), str):
                    bucket[key] = _shift_iso(bucket[key], months)
    return document


def _cursor_of(page: Any) -> str | None:
    return page.get("next_page") or page.get("last_id")


def make_app(
    *, openai_key: str = OPENAI_KEY, anthropic_key: str = ANTHROPIC_KEY
) -> web.Application:
    requests: list[str] = []

    async def handle(request: web.Request) -> web.StreamResponse:
        requests.append(request.path_qs)
        path = request.path
        if path.startswith("/v1/organizations/"):
            if request.headers.get("x-api-key") != anthropic_key or not request.headers.get(
                "anthropic-version"
            ):
                return web.json_response(
                    {"type": "error", "error": {"type": "authentication_error"}}, status=401
                )
        elif request.headers.get("Authorization") != f"Bearer {openai_key}":
            return web.json_response({"error": {"message": "invalid admin key"}}, status=401)
        route = ROUTES.get(path)
        if route is None:
            return web.json_response({"error": "not found"}, status=404)
        param, files = route
        cursor = request.query.get(param)
        pages = [load(name) for name in files]
        index = 0
        if cursor:
            matches = [i + 1 for i, page in enumerate(pages[:-1]) if _cursor_of(page) == cursor]
            if not matches:
                return web.json_response({"error": "bad cursor"}, status=400)
            index = matches[0]
        return web.json_response(shifted(pages[index], datetime.now(UTC)))

    app = web.Application()
    app[REQUESTS] = requests
    app.router.add_route("*", "/{tail:.*}", handle)
    return app


def expected_totals() -> dict[str, Any]:
    """Month-to-date totals per provider straight from the fixture files."""
    openai_cost = Decimal(0)
    for name in ROUTES["/v1/organization/costs"][1]:
        for bucket in load(name)["data"]:
            for result in bucket["results"]:
                openai_cost += Decimal(str(result["amount"]["value"]))
    openai_tokens = {"input": 0, "cache_read": 0, "cache_write": 0, "output": 0}
    for name in ROUTES["/v1/organization/usage/completions"][1]:
        for bucket in load(name)["data"]:
            for r in bucket["results"]:
                cached = int(r.get("input_cached_tokens") or 0)
                written = int(r.get("input_cache_write_tokens") or 0)
                openai_tokens["input"] += int(r["input_tokens"]) - cached - written
                openai_tokens["cache_read"] += cached
                openai_tokens["cache_write"] += written
                openai_tokens["output"] += int(r["output_tokens"])
    for kind in ("embeddings", "moderations"):
        for bucket in load(f"openai/usage_{kind}")["data"]:
            for r in bucket["results"]:
                openai_tokens["input"] += int(r["input_tokens"])
    anthropic_cost = Decimal(0)
    for name in ROUTES["/v1/organizations/cost_report"][1]:
        for bucket in load(name)["data"]:
            for result in bucket["results"]:
                anthropic_cost += Decimal(str(result["amount"])) / 100
    anthropic_tokens = {"input": 0, "cache_read": 0, "cache_write": 0, "output": 0}
    for name in ROUTES["/v1/organizations/usage_report/messages"][1]:
        for bucket in load(name)["data"]:
            for r in bucket["results"]:
                creation = r.get("cache_creation") or {}
                anthropic_tokens["input"] += int(r.get("uncached_input_tokens") or 0)
                anthropic_tokens["cache_read"] += int(r.get("cache_read_input_tokens") or 0)
                anthropic_tokens["cache_write"] += int(
                    creation.get("ephemeral_5m_input_tokens") or 0
                ) + int(creation.get("ephemeral_1h_input_tokens") or 0)
                anthropic_tokens["output"] += int(r.get("output_tokens") or 0)
    return {
        "openai": {"cost": openai_cost, "tokens": openai_tokens},
        "anthropic": {"cost": anthropic_cost, "tokens": anthropic_tokens},
    }
