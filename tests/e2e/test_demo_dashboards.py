"""End to end: the real exporter in ``--demo`` mode → real Prometheus with the shipped rules →
every expression of every shipped dashboard.

This is what a newcomer sees after ``docker compose up`` with no key: the exporter runs the
built-in simulator (every provider, the quota endpoints, Claude Code and Codex logs). Every
dashboard expression must run without error, and every one must return data except the listed
ones, each with the reason it is legitimately empty a minute after start.
"""

from __future__ import annotations

import json
import os
import time
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

import pytest
import yaml

from exporter.simulator.subscriptions import FIVE_HOURS
from tests.e2e.test_pipeline import Processes, free_port
from tests.stack.helpers import (
    dashboard_files,
    iter_targets,
    load_dashboard,
    require_binary,
    rule_files,
    substitute_grafana_variables,
)

pytestmark = pytest.mark.e2e

_NO_HISTORY = "needs samples from 5 minutes or more ago; this Prometheus started seconds ago"
_NO_DAY_OLD_PRICE = "compares with the price a day ago (offset 1d); there is no day of history"
#: (dashboard, panel title, refId) → why it is empty right after start.
EXPECTED_EMPTY: dict[tuple[str, str, str], str] = {
    ("llm-overview", "Hourly spend vs 7-day average", "B"): (
        "the 7-day average samples the hourly increase at whole hours; no whole hour yet"
    ),
    ("llm-overview", "Credit runway", "B"): _NO_HISTORY,
    ("llm-overview", "Credit runway", "C"): _NO_HISTORY,
    ("llm-exporter-health", "Folded label sets", "A"): (
        "no demo account has more label sets than max_series, so nothing is folded"
    ),
    ("llm-pricing", "Prices in use", "B"): _NO_DAY_OLD_PRICE,
    ("llm-pricing", "Price changes within a day", "A"): _NO_DAY_OLD_PRICE,
    ("llm-pricing", "Price changes within a day", "B"): _NO_DAY_OLD_PRICE,
    ("llm-pricing", "Price changes within a day", "C"): _NO_DAY_OLD_PRICE,
}
#: Empty only during the first tenth of the simulated 5-hour window (30 minutes in every 5
#: hours, windows aligned to the epoch): the projection at reset, hence the run-out time,
#: is not computed before 10% of a window has passed (recording rule ..._projected_at_reset).
EXPECTED_EARLY_IN_WINDOW: dict[tuple[str, str, str], str] = {
    ("llm-subscriptions", "5-hour quota runs out in", "A"): "no projection in a window's first 10%",
}
E2E_VARIABLES = {"__rate_interval": "30s", "__interval": "1s"}


def _early_in_the_5h_window() -> bool:
    """Whether the simulated 5-hour window is (or was during the test, a minute's margin) in
    its first tenth, when the run-out panel has no value by design."""
    length = FIVE_HOURS
    return (time.time() % length) < length / 10 + 60


def _get(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=10) as response:
        return json.loads(response.read())


def _instant(base: str, expr: str) -> Any:
    return _get(f"{base}/api/v1/query?{urllib.parse.urlencode({'query': expr})}")


def _query(base: str, expr: str, *, instant: bool) -> Any:
    now = time.time()
    if instant:
        params = {"query": expr, "time": f"{now:.3f}"}
        path = "query"
    else:
        params = {"query": expr, "start": f"{now - 10:.3f}", "end": f"{now:.3f}", "step": "1"}
        path = "query_range"
    return _get(f"{base}/api/v1/{path}?{urllib.parse.urlencode(params)}")


@pytest.fixture(scope="module")
def demo_stack(tmp_path_factory: pytest.TempPathFactory) -> Any:
    prometheus = require_binary("prometheus")
    exporter_bin = require_binary("llm-cost-exporter")
    workdir = tmp_path_factory.mktemp("demo-stack")
    procs = Processes(workdir)
    exporter_port, prom_port = free_port(), free_port()
    exporter = f"127.0.0.1:{exporter_port}"
    config = {
        "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
        "rule_files": [str(path) for path in rule_files()],
        "scrape_configs": [
            {"job_name": "llm-cost-exporter", "static_configs": [{"targets": [exporter]}]}
        ],
    }
    (workdir / "prometheus.yml").write_text(yaml.safe_dump(config), encoding="utf-8")
    # Fast polls so counters move within the test; a clean HOME so no real CLI files count.
    env = {
        "PATH": os.environ.get("PATH", ""),
        "HOME": str(workdir),
        "LLM_EXPORTER_POLL_INTERVAL": "3s",
    }
    procs.start("exporter", exporter_bin, "--demo", f"--web.listen-address={exporter}", env=env)
    procs.start(
        "prometheus",
        prometheus,
        f"--config.file={workdir / 'prometheus.yml'}",
        f"--storage.tsdb.path={workdir / 'data'}",
        f"--web.listen-address=127.0.0.1:{prom_port}",
    )
    url = f"http://127.0.0.1:{prom_port}"
    try:
        # Every source up and enough scrapes for 30s rates (deadline, never a blind sleep).
        deadline = time.monotonic() + 90
        while True:
            try:
                ready = _instant(url, "count_over_time(up[1m])")
                down = _instant(url, "llm_source_up == 0")
                total = _instant(url, "count(llm_source_up)")
                result = ready["data"]["result"]
                if (
                    result
                    and float(result[0]["value"][1]) >= 20
                    and total["data"]["result"]
                    and not down["data"]["result"]
                ):
                    break
            except OSError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"demo stack not ready:\n{procs.describe()}")
            time.sleep(0.5)
        yield url, procs
    finally:
        procs.stop_all()


def test_every_demo_source_is_up(demo_stack: Any) -> None:
    url, _ = demo_stack
    sources = _instant(url, "llm_source_up")["data"]["result"]
    providers = {s["metric"]["provider"] for s in sources}
    assert providers >= {
        "openai",
        "anthropic",
        "openrouter",
        "deepseek",
        "moonshot",
        "groq",
        "xai",
        "fireworks",
    }
    accounts = {s["metric"]["account"] for s in sources}
    assert accounts >= {"demo", "demo-claude", "demo-chatgpt", "demo-claude-code", "demo-codex"}
    down = [s["metric"] for s in sources if s["value"][1] != "1"]
    assert not down, down


@pytest.mark.parametrize("path", dashboard_files(), ids=lambda p: p.stem)
def test_every_dashboard_panel_has_data(demo_stack: Any, path: Path) -> None:
    url, _ = demo_stack
    board = load_dashboard(path)
    empty = []
    for panel, target in iter_targets(board):
        expr = substitute_grafana_variables(target["expr"], E2E_VARIABLES)
        response = _query(url, expr, instant=bool(target.get("instant")))
        where = (path.stem, panel["title"], target["refId"])
        assert response["status"] == "success", f"{where}: {response}"
        if not response["data"]["result"]:
            empty.append(where)
    expected = {key for key in EXPECTED_EMPTY if key[0] == path.stem}
    if _early_in_the_5h_window():
        expected |= {key for key in EXPECTED_EARLY_IN_WINDOW if key[0] == path.stem}
    unexpected = sorted(set(empty) - expected)
    assert not unexpected, f"panels without data in the demo: {unexpected}"
