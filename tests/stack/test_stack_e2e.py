"""End to end: a real Prometheus scrapes a stand-in exporter, evaluates the rules, and every
dashboard query runs against it without error (and returns data where data is expected).

The stand-in serves every metric of exporter/contract.py with plausible labels, so these
tests do not depend on the exporter's implementation.
"""

from __future__ import annotations

import json
import socket
import subprocess
import threading
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import yaml

from .helpers import (
    dashboard_files,
    iter_targets,
    load_dashboard,
    require_binary,
    rule_files,
    substitute_grafana_variables,
    variable_selectors,
)

pytestmark = pytest.mark.e2e

#: Targets that legitimately return nothing after a few seconds of data, with the reason.
_NO_BURN_YET = (
    "the burn rate adds up 5-minute decreases (subquery step 5m, offset 5m); a Prometheus "
    "started seconds ago has no balance 5 minutes back"
)
_NO_DAY_OLD_PRICE = "compares with the price a day ago (offset 1d); there is no day of history"
EXPECTED_EMPTY = {
    ("llm-overview", "Hourly spend vs 7-day average", "B"): (
        "the 7-day average samples the hourly increase at whole hours (1h subquery step); "
        "a Prometheus started seconds ago has no whole hour yet"
    ),
    ("llm-overview", "Credit runway", "B"): _NO_BURN_YET,
    ("llm-overview", "Credit runway", "C"): _NO_BURN_YET,
    ("llm-pricing", "Prices in use", "B"): _NO_DAY_OLD_PRICE,
    ("llm-pricing", "Price changes within a day", "A"): _NO_DAY_OLD_PRICE,
    ("llm-pricing", "Price changes within a day", "B"): _NO_DAY_OLD_PRICE,
    ("llm-pricing", "Price changes within a day", "C"): _NO_DAY_OLD_PRICE,
}

LABEL_VALUES = {
    "provider": "openai",
    "account": "prod",
    "project": "proj_a",
    "model": "gpt-4o",
    "line_item": "gpt-4o, input",
    "api_key": "key_a",
    "source": "costs",
    "reason": "rate_limited",
    "metric": "llm_tokens_total",
    "budget": "team-a",
    "version": "0.0.0-test",
    "project_name": "Project A",
    "api_key_name": "CI key",
    "balance_type": "prepaid",
    "period": "month",
    "reset": "monthly",
    "tier": "base",
    "window": "5h",
    "plan": "max",
    "subscription": "claude-max",
}

#: Label sets served besides the default one: an account with only an estimate (local
#: coding-agent logs) and an organisation-wide spend limit (empty project).
EXTRA_LABEL_SETS = {
    "llm_estimated_cost_usd_total": [
        {"provider": "anthropic", "account": "claude-code", "project": "webapp",
         "api_key": "", "model": "claude-sonnet-4"},
    ],
    "llm_spend_limit_usd": [{"provider": "openai", "account": "prod", "project": ""}],
    "llm_api_key_usage_usd": [
        {"provider": "openai", "account": "prod", "api_key": "key_a", "period": period}
        for period in ("day", "week", "lifetime")
    ],
}  # fmt: skip


def _gauge_value(name: str, now: float, elapsed: float) -> float:
    """Plausible values for gauges whose panels filter or divide (1 would show nothing)."""
    values = {
        "llm_budget_limit_usd": 1000,
        "llm_budget_spend_usd": 850 + elapsed,
        "llm_budget_period_end_timestamp_seconds": now + 10 * 86400,
        "llm_source_last_success_timestamp_seconds": now - 30,
        "llm_vector_store_bytes": 2**20,
        "llm_series_folded": 3,
        "llm_source_poll_duration_seconds": 1.5,
        # Balances fall, so the burn rate has decreases to add up.
        "llm_credit_balance_usd": 100 - 0.01 * elapsed,
        "llm_credit_balance_cny": 700 - 0.07 * elapsed,
        "llm_credit_purchased_usd": 150,
        "llm_credit_used_usd": 50,
        "llm_api_key_limit_usd": 100,
        "llm_api_key_limit_remaining_usd": 40,
        "llm_api_key_usage_usd": 60,
        "llm_spend_limit_usd": 1000,
        "llm_model_price_usd_per_token": 3e-6,
        "llm_catalog_last_update_timestamp_seconds": now - 3600,
        "llm_subscription_cost_usd": 100,
        # 90% of a 5-hour window with an hour left: runs out before the reset.
        "llm_quota_utilization_ratio": 0.9,
        "llm_quota_window_seconds": 18000,
        "llm_quota_resets_at_timestamp_seconds": now + 3600,
        "llm_quota_limit_reached": 0,
        "llm_subscription_extra_usage_usd": 12.75,
        "llm_subscription_extra_usage_limit_usd": 50,
        "llm_subscription_credits": 9.5,
        "llm_credentials_expiry_timestamp_seconds": now + 7200,
        "llm_session_block_start_timestamp_seconds": now - 3600,
        "llm_session_block_end_timestamp_seconds": now + 4 * 3600,
        "llm_session_block_tokens": 25000 + elapsed,
        "llm_session_block_estimated_cost_usd": 2.5,
    }
    return float(values.get(name, 1))  # info metrics, llm_source_up


def _exposition(started: float) -> str:
    """Every contract metric; counters grow with time, so rates are non-zero."""
    from exporter.contract import METRICS, TOKEN_TYPES, MetricType

    now = time.time()
    elapsed = now - started
    lines = []
    for spec in METRICS.values():
        family = spec.family if spec.type is MetricType.COUNTER else spec.name
        lines.append(f"# TYPE {family} {spec.type.value}")
        label_sets = []
        for provider in ("openai", "anthropic"):
            labels = {
                name: LABEL_VALUES.get(name, f"{name}-1")
                for name in spec.labels
                if name != "token_type"
            }
            if "provider" in labels:
                labels["provider"] = provider
            elif provider == "anthropic":
                continue  # budget and build info have no provider
            if "token_type" in spec.labels:
                label_sets += [{**labels, "token_type": t} for t in TOKEN_TYPES]
            else:
                label_sets.append(labels)
        label_sets += EXTRA_LABEL_SETS.get(spec.name, [])
        for labels in label_sets:
            if spec.type is MetricType.COUNTER:
                value = 100 + 10 * elapsed
            else:
                value = _gauge_value(spec.name, now, elapsed)
            rendered = ",".join(f'{k}="{v}"' for k, v in labels.items())
            lines.append(f"{spec.name}{{{rendered}}} {value}")
    return "\n".join(lines) + "\n"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def stand_in_exporter() -> Iterator[str]:
    started = time.time()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = _exposition(started).encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/plain; version=0.0.4")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def _get(url: str) -> dict:  # type: ignore[type-arg]
    with urllib.request.urlopen(url, timeout=10) as response:
        return json.loads(response.read())  # type: ignore[no-any-return]


@pytest.fixture(scope="module")
def prometheus(stand_in_exporter: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    binary = require_binary("prometheus")
    workdir = tmp_path_factory.mktemp("prometheus")
    config = {
        "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
        "rule_files": [str(path) for path in rule_files()],
        "scrape_configs": [
            {"job_name": "llm-cost-exporter", "static_configs": [{"targets": [stand_in_exporter]}]}
        ],
    }
    (workdir / "prometheus.yml").write_text(yaml.safe_dump(config), encoding="utf-8")
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    process = subprocess.Popen(
        [
            binary,
            f"--config.file={workdir / 'prometheus.yml'}",
            f"--storage.tsdb.path={workdir / 'data'}",
            f"--web.listen-address=127.0.0.1:{port}",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        # Ready, and enough scrapes for rates and recording rules (deadline, no blind sleep).
        deadline = time.monotonic() + 30
        while True:
            try:
                result = _get(f"{url}/api/v1/query?query=count_over_time(up[1m])")["data"]["result"]
                if result and float(result[0]["value"][1]) >= 6:
                    break
            except OSError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                stderr = process.stderr.read().decode() if process.stderr else ""
                pytest.fail(f"prometheus did not become ready:\n{stderr[-3000:]}")
            time.sleep(0.2)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=15)
        if process.stderr:
            process.stderr.close()


def _query(base: str, expr: str, *, instant: bool) -> dict:  # type: ignore[type-arg]
    now = time.time()
    if instant:
        params = {"query": expr, "time": f"{now:.3f}"}
        path = "query"
    else:
        params = {"query": expr, "start": f"{now - 10:.3f}", "end": f"{now:.3f}", "step": "1"}
        path = "query_range"
    return _get(f"{base}/api/v1/{path}?{urllib.parse.urlencode(params)}")


def test_rules_evaluate_without_errors(prometheus: str) -> None:
    groups = _get(f"{prometheus}/api/v1/rules")["data"]["groups"]
    names = set()
    for group in groups:
        for rule in group["rules"]:
            names.add(rule["name"])
            assert rule["health"] == "ok", f"{rule['name']}: {rule.get('lastError')}"
    assert "provider_account:llm_cost_usd:forecast_month_end" in names


#: Window substitutions for a Prometheus scraping every second.
E2E_VARIABLES = {"__rate_interval": "30s", "__interval": "1s"}


@pytest.mark.parametrize("path", dashboard_files(), ids=lambda p: p.stem)
def test_dashboard_queries_run(prometheus: str, path: Path) -> None:
    board = load_dashboard(path)
    empty = []
    for panel, target in iter_targets(board):
        expr = substitute_grafana_variables(target["expr"], E2E_VARIABLES)
        response = _query(prometheus, expr, instant=bool(target.get("instant")))
        where = (path.stem, panel["title"], target["refId"])
        assert response["status"] == "success", f"{where}: {response}"
        assert not response.get("warnings"), f"{where}: {response['warnings']}"
        if not response["data"]["result"]:
            empty.append(where)
    expected = {key for key in EXPECTED_EMPTY if key[0] == path.stem}
    assert set(empty) == expected, f"unexpected empty results: {sorted(set(empty) - expected)}"


@pytest.mark.parametrize("path", dashboard_files(), ids=lambda p: p.stem)
def test_variable_queries_find_values(prometheus: str, path: Path) -> None:
    board = load_dashboard(path)
    for name, selector in variable_selectors(board):
        match = substitute_grafana_variables(selector)
        params = urllib.parse.urlencode({"match[]": match})
        values = _get(f"{prometheus}/api/v1/label/{name}/values?{params}")["data"]
        assert values, f"{path.stem}: ${name} from {match} has no values"
