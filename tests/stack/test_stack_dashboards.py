"""Generated Grafana dashboards: freshness, conventions, PromQL validity, metric coverage."""

from __future__ import annotations

import re
import sys
from pathlib import Path
from typing import Any

import pytest

from .helpers import (
    DASHBOARDS_DIR,
    GRAFANA_DIR,
    REPO,
    check_promql_with_promtool,
    dashboard_files,
    import_dashboards_src,
    iter_panels,
    iter_targets,
    known_metric_names,
    load_dashboard,
    metric_names,
    range_windows,
    run,
    substitute_grafana_variables,
    variable_selectors,
)

#: Contract metrics deliberately not shown in any panel, with the reason. Empty today: every
#: metric of exporter/contract.py has a panel. A new contract metric fails
#: test_every_contract_metric_is_shown until it gets a panel or an entry here.
NOT_SHOWN: dict[str, str] = {}

#: Label variables each dashboard must offer (besides `datasource`).
EXPECTED_VARIABLES = {
    "llm-overview": ["provider", "account"],
    "llm-provider": ["provider", "account", "project", "model", "api_key"],
    "llm-subscriptions": ["provider", "account"],
    "llm-pricing": ["provider", "model"],
    "llm-exporter-health": ["provider", "account"],
}

BOARDS = dashboard_files()


def _id(path: Path) -> str:
    return path.stem


def _business_windows(uid: str) -> dict[str, str]:
    package = import_dashboards_src()
    (module,) = [m for m in package.DASHBOARDS if uid == m.UID]
    return dict(module.BUSINESS_WINDOWS)


def test_dashboards_exist() -> None:
    assert {path.stem for path in BOARDS} == set(EXPECTED_VARIABLES)


def test_committed_json_matches_the_generator(tmp_path: Path) -> None:
    result = run(sys.executable, GRAFANA_DIR / "dashboards_src", "--out", tmp_path, cwd=REPO)
    assert result.returncode == 0, result.stderr
    generated = {path.name: path.read_text(encoding="utf-8") for path in tmp_path.glob("*.json")}
    committed = {path.name: path.read_text(encoding="utf-8") for path in BOARDS}
    assert set(generated) == set(committed), "run: python grafana/dashboards_src"
    for name, text in generated.items():
        assert committed[name] == text, f"{name} is stale; run: python grafana/dashboards_src"


def test_generator_check_mode() -> None:
    result = run(sys.executable, GRAFANA_DIR / "dashboards_src", "--check", cwd=REPO)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("path", BOARDS, ids=_id)
def test_identity(path: Path) -> None:
    board = load_dashboard(path)
    assert board["uid"] == path.stem
    assert board["title"].startswith("LLM / ")
    assert board.get("description")
    assert "llm-cost-exporter" in board["tags"]
    text = path.read_text(encoding="utf-8")
    assert "__inputs" not in board and "__requires" not in board
    assert "DS_PROMETHEUS" not in text and "${DS_" not in text
    assert board.get("id") in (None, 0) or "id" not in board


@pytest.mark.parametrize("path", BOARDS, ids=_id)
def test_datasource_variable_everywhere(path: Path) -> None:
    board = load_dashboard(path)
    variables = {v["name"]: v for v in board["templating"]["list"]}
    assert variables["datasource"]["type"] == "datasource"
    assert variables["datasource"]["query"] == "prometheus"
    expected = {"type": "prometheus", "uid": "${datasource}"}
    for panel in iter_panels(board):
        assert panel["datasource"] == expected, panel["title"]
        assert panel["targets"], f"{panel['title']}: no targets"
        for target in panel["targets"]:
            assert target["datasource"] == expected, panel["title"]
    for variable in variables.values():
        if variable["type"] == "query":
            assert variable["datasource"] == expected, variable["name"]


@pytest.mark.parametrize("path", BOARDS, ids=_id)
def test_label_variables(path: Path) -> None:
    board = load_dashboard(path)
    variables = [v for v in board["templating"]["list"] if v["type"] == "query"]
    assert [v["name"] for v in variables] == EXPECTED_VARIABLES[path.stem]
    exprs = " ".join(target["expr"] for _, target in iter_targets(board))
    for variable in variables:
        assert variable["multi"] and variable["includeAll"] and variable["allValue"] == ".*"
        assert f"${variable['name']}" in exprs, f"${variable['name']} is never used"
    # Free-text variables (regular expressions) have a default and are used.
    for variable in board["templating"]["list"]:
        if variable["type"] == "textbox":
            assert variable["query"] and variable["current"]["value"] == variable["query"]
            assert variable.get("description"), variable["name"]
            assert f"${variable['name']}" in exprs, f"${variable['name']} is never used"


@pytest.mark.parametrize("path", BOARDS, ids=_id)
def test_panels_have_description_unit_and_ref_ids(path: Path) -> None:
    board = load_dashboard(path)
    ids = [panel["id"] for panel in board["panels"]]
    assert len(ids) == len(set(ids)), "panel ids are unique"
    titles = [panel["title"] for panel in iter_panels(board)]
    assert len(titles) == len(set(titles)), "panel titles are unique"
    for panel in iter_panels(board):
        assert panel.get("description"), f"{panel['title']}: no description"
        assert panel["fieldConfig"]["defaults"].get("unit"), f"{panel['title']}: no unit"
        ref_ids = [target.get("refId") for target in panel["targets"]]
        assert all(ref_ids), f"{panel['title']}: empty refId"
        assert len(ref_ids) == len(set(ref_ids)), f"{panel['title']}: duplicate refId"


@pytest.mark.parametrize("path", BOARDS, ids=_id)
def test_rate_windows(path: Path) -> None:
    """rate()/increase() use $__rate_interval, except declared business windows."""
    board = load_dashboard(path)
    business = _business_windows(path.stem)
    used_business = set()
    for panel, target in iter_targets(board):
        for function, window in range_windows(target["expr"]):
            if window == "$__rate_interval":
                continue
            assert business.get(panel["title"]) == window, (
                f"{panel['title']}: {function}(...[{window}]) is neither $__rate_interval nor "
                "a declared business window"
            )
            used_business.add(panel["title"])
    assert used_business == set(business), "stale BUSINESS_WINDOWS entries"


def _all_expressions() -> dict[str, tuple[str, str]]:
    """record name → (where, expression) for every target and variable selector."""
    exprs = {}
    for path in BOARDS:
        board = load_dashboard(path)
        slug = path.stem.replace("-", "_")
        for panel, target in iter_targets(board):
            record = f"dashboard:{slug}_panel{panel['id']}_{target['refId']}:expr"
            exprs[record] = (f"{path.stem} / {panel['title']} / {target['refId']}", target["expr"])
        for name, selector in variable_selectors(board):
            exprs[f"dashboard:{slug}_var_{name}:expr"] = (f"{path.stem} / ${name}", selector)
    return exprs


def test_expressions_use_known_metrics() -> None:
    known = known_metric_names()
    for where, expr in _all_expressions().values():
        unknown = metric_names(expr) - set(known)
        assert not unknown, f"{where}: unknown metrics {sorted(unknown)}"


def test_expressions_parse_as_promql(tmp_path: Path) -> None:
    exprs = {
        record: substitute_grafana_variables(expr)
        for record, (_, expr) in _all_expressions().items()
    }
    check_promql_with_promtool(exprs, tmp_path)


def test_every_contract_metric_is_shown() -> None:
    from exporter.contract import METRICS

    shown = set()
    for path in BOARDS:
        for _, target in iter_targets(load_dashboard(path)):
            shown |= metric_names(target["expr"])
    unlisted = set(METRICS) - shown - set(NOT_SHOWN)
    assert not unlisted, f"contract metrics in no panel and not in NOT_SHOWN: {sorted(unlisted)}"
    stale = set(NOT_SHOWN) & shown
    assert not stale, f"NOT_SHOWN lists metrics that are shown: {sorted(stale)}"
    assert set(NOT_SHOWN) <= set(METRICS), "NOT_SHOWN lists metrics not in the contract"
    for metric, reason in NOT_SHOWN.items():
        assert reason, metric


def test_recorded_labels_match_the_rules() -> None:
    """panels.RECORDED_LABELS (label filters for recording rules) names real rules."""
    from .helpers import recording_rules

    import_dashboards_src()
    from dashboards_src.panels import RECORDED_LABELS

    records = {rule.name: rule for rule in recording_rules()}
    for name, labels in RECORDED_LABELS.items():
        assert name in records, f"RECORDED_LABELS: no recording rule {name}"
        level = name.split(":")[0]
        # The level names the labels the rule keeps (provider_account_window, ...).
        for label in set(labels) - {"provider", "account"}:
            assert re.search(rf"(^|_){label}(_|$)", level), (name, label)


def test_alert_dashboard_links_exist() -> None:
    from .helpers import alert_rules

    uids = {path.stem for path in BOARDS}
    for rule in alert_rules():
        url = rule.body["annotations"]["dashboard_url"]
        uid = re.fullmatch(r"/d/([\w-]+).*", url)
        assert uid and uid.group(1) in uids, url
        for var in re.findall(r"var-(\w+)=", url):
            board = load_dashboard(DASHBOARDS_DIR / f"{uid.group(1)}.json")
            names = {v["name"] for v in board["templating"]["list"]}
            assert var in names, f"{url}: dashboard has no variable {var}"


def test_runbook_mentions_existing_panels() -> None:
    """Panel titles the runbook refers to in bold exist in some dashboard."""
    from .helpers import RUNBOOK

    titles: set[str] = set()
    rows: set[str] = set()
    for path in BOARDS:
        board = load_dashboard(path)
        titles.add(board["title"])
        titles |= {panel["title"] for panel in iter_panels(board)}
        rows |= {panel["title"] for panel in board["panels"] if panel["type"] == "row"}
    checked = 0
    alerts = {m for m in re.findall(r"^## (\w+)$", RUNBOOK.read_text(), re.M)}
    for bold in re.findall(r"\*\*([^*]+)\*\*", RUNBOOK.read_text(encoding="utf-8")):
        if bold.rstrip(".") in {"Meaning", "Check", "Fix"} or bold in alerts:
            continue
        assert bold in titles | rows, f"RUNBOOK.md refers to a missing panel: {bold!r}"
        checked += 1
    assert checked >= 10


def _panel_types(board: dict[str, Any]) -> set[str]:
    return {panel["type"] for panel in iter_panels(board)}


def test_panel_types_are_core_plugins() -> None:
    core = {"stat", "timeseries", "bargauge", "table", "state-timeline"}
    for path in BOARDS:
        assert _panel_types(load_dashboard(path)) <= core


@pytest.mark.parametrize("path", BOARDS, ids=_id)
def test_panels_fit_the_grid(path: Path) -> None:
    """Grafana's grid is 24 columns wide: a panel past it is squeezed or moved."""
    for panel in load_dashboard(path)["panels"]:
        grid = panel["gridPos"]
        assert grid["x"] + grid["w"] <= 24, panel["title"]
