"""Shared helpers for the monitoring-stack tests (Prometheus, Alertmanager, Grafana, compose)."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
PROMETHEUS_DIR = REPO / "prometheus"
RULES_DIR = PROMETHEUS_DIR / "rules"
PROMTOOL_TESTS_DIR = Path(__file__).resolve().parent / "promtool"
RUNBOOK = PROMETHEUS_DIR / "RUNBOOK.md"
ALERTMANAGER_CONFIG = PROMETHEUS_DIR / "alertmanager" / "alertmanager.yml"
GRAFANA_DIR = REPO / "grafana"
DASHBOARDS_DIR = GRAFANA_DIR / "dashboards"
COMPOSE_FILE = REPO / "docker-compose.yml"
ENV_EXAMPLE = REPO / ".env.example"

RUNBOOK_BASE = (
    "https://github.com/llm-cost-exporter/llm-cost-exporter/blob/main/prometheus/RUNBOOK.md"
)
SEVERITIES = frozenset({"critical", "warning", "info"})
#: Series Prometheus synthesises itself; allowed in expressions besides the contract.
PROMETHEUS_SERIES = {"up": "scrape health of the exporter target, written by Prometheus"}


# --- binaries ------------------------------------------------------------------------------


def require_binary(name: str) -> str:
    """Path of a binary; skip the test without it, or fail in CI (CI=true)."""
    path = shutil.which(name)
    if path is None:
        message = f"{name} is not installed"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"{message} (CI=true: the CI image must provide it)")
        pytest.skip(message)
    return path


def run(
    *args: str | Path, cwd: Path | None = None, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(arg) for arg in args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def assert_ok(result: subprocess.CompletedProcess[str]) -> None:
    assert result.returncode == 0, (
        f"{' '.join(result.args)} exited {result.returncode}\n"
        f"--- stdout\n{result.stdout}\n--- stderr\n{result.stderr}"
    )


# --- YAML ----------------------------------------------------------------------------------


def load_yaml(path: Path) -> Any:
    with path.open(encoding="utf-8") as handle:
        return yaml.safe_load(handle)


def rule_files() -> list[Path]:
    return sorted(RULES_DIR.glob("*.rules.yml"))


def promtool_test_files() -> list[Path]:
    return sorted(PROMTOOL_TESTS_DIR.glob("*.yml"))


@dataclass(frozen=True)
class Rule:
    file: Path
    group: str
    body: dict[str, Any]

    @property
    def is_alert(self) -> bool:
        return "alert" in self.body

    @property
    def name(self) -> str:
        return str(self.body.get("alert") or self.body["record"])

    @property
    def expr(self) -> str:
        return str(self.body["expr"])


@cache
def all_rules() -> tuple[Rule, ...]:
    rules = []
    for path in rule_files():
        for group in load_yaml(path)["groups"]:
            rules.extend(Rule(path, group["name"], body) for body in group["rules"])
    return tuple(rules)


def alert_rules() -> list[Rule]:
    return [rule for rule in all_rules() if rule.is_alert]


def recording_rules() -> list[Rule]:
    return [rule for rule in all_rules() if not rule.is_alert]


def alert_names() -> list[str]:
    return sorted({rule.name for rule in alert_rules()})


def parse_duration(text: str) -> float:
    """Seconds of a Prometheus duration such as ``1h30m``."""
    units = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800, "y": 31536000}
    parts = re.findall(r"(\d+)(ms|s|m|h|d|w|y)", text)
    assert parts and "".join(n + u for n, u in parts) == text, f"bad duration {text!r}"
    return sum(int(number) * units[unit] for number, unit in parts)


# --- PromQL ----------------------------------------------------------------------------------

_KEYWORDS = {
    "by", "without", "on", "ignoring", "group_left", "group_right",
    "and", "or", "unless", "bool", "offset", "inf", "nan", "atan2",
}  # fmt: skip
_GROUPING = re.compile(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)")


def strip_promql(expr: str) -> str:
    """Expression without string literals, label matchers, range/subquery brackets, groupings."""
    text = re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)
    text = re.sub(r"'(?:[^'\\]|\\.)*'", "''", text)
    text = re.sub(r"`[^`]*`", "``", text)
    text = re.sub(r"\{[^}]*\}", "", text)
    text = re.sub(r"\[[^\]]*\]", "", text)
    return _GROUPING.sub(" ", text)


def metric_names(expr: str) -> set[str]:
    """Metric names selected by a PromQL expression (identifiers that are not functions)."""
    text = strip_promql(expr)
    names = set()
    for match in re.finditer(r"(?<![\w:.$])([a-zA-Z_:][a-zA-Z0-9_:]*)", text):
        name = match.group(1)
        if text[match.end() :].lstrip().startswith("("):
            continue  # function or aggregation
        if name.lower() in _KEYWORDS:
            continue
        names.add(name)
    return names


def range_windows(expr: str) -> list[tuple[str, str]]:
    """``(function, window)`` for every rate/increase/irate/delta/... range argument."""
    found = []
    for match in re.finditer(
        r"\b(rate|irate|increase|delta|idelta|deriv|resets|changes)\s*\(", expr
    ):
        depth, index = 1, match.end()
        while index < len(expr) and depth:
            char = expr[index]
            if char == "[" and depth == 1:
                end = expr.index("]", index)
                found.append((match.group(1), expr[index + 1 : end]))
                break
            depth += {"(": 1, ")": -1}.get(char, 0)
            index += 1
    return found


def known_metric_names() -> dict[str, str]:
    """Every name an expression may select, with where it comes from."""
    from exporter.contract import METRICS, MetricType

    known = {name: "contract" for name in METRICS}
    for spec in METRICS.values():
        if spec.type is MetricType.COUNTER:
            known[f"{spec.family}_total"] = "contract"
    known.update({rule.name: "recording rule" for rule in recording_rules()})
    known.update({name: "prometheus" for name in PROMETHEUS_SERIES})
    return known


#: Values for Grafana's variables when an expression is checked or run outside Grafana.
GRAFANA_SUBSTITUTIONS = {
    "__rate_interval": "5m",
    "__interval": "1m",
    "__range": "1d",
    "provider": ".*",
    "account": ".*",
    "project": ".*",
    "model": ".*",
    "api_key": ".*",
    "agent_accounts": "(.*-)?(claude-code|codex)",
}


def substitute_grafana_variables(expr: str, values: dict[str, str] | None = None) -> str:
    values = {**GRAFANA_SUBSTITUTIONS, **(values or {})}

    def replace(match: re.Match[str]) -> str:
        name = match.group(1) or match.group(2)
        assert name in values, f"unknown Grafana variable ${name} in {expr!r}"
        return values[name]

    return re.sub(r"\$\{(\w+)\}|\$(\w+)", replace, expr)


def check_promql_with_promtool(exprs: dict[str, str], tmp_path: Path) -> None:
    """Parse every expression with ``promtool check rules`` (as recording rules)."""
    promtool = require_binary("promtool")
    rules = [{"record": record, "expr": expr} for record, expr in exprs.items()]
    path = tmp_path / "expressions.rules.yml"
    path.write_text(yaml.safe_dump({"groups": [{"name": "expressions", "rules": rules}]}))
    assert_ok(run(promtool, "check", "rules", path))


# --- dashboards ------------------------------------------------------------------------------


def dashboard_files() -> list[Path]:
    return sorted(DASHBOARDS_DIR.glob("*.json"))


@cache
def load_dashboard(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text(encoding="utf-8"))


def iter_panels(board: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """Every panel that shows data (rows excluded, collapsed rows' panels included)."""
    for panel in board.get("panels", []):
        if panel.get("type") == "row":
            yield from panel.get("panels", [])
        else:
            yield panel


def iter_targets(board: dict[str, Any]) -> Iterator[tuple[dict[str, Any], dict[str, Any]]]:
    for panel in iter_panels(board):
        for target in panel.get("targets", []):
            yield panel, target


def variable_selectors(board: dict[str, Any]) -> Iterator[tuple[str, str]]:
    """``(variable name, series selector)`` of every ``label_values()`` query variable."""
    for variable in board.get("templating", {}).get("list", []):
        if variable.get("type") != "query":
            continue
        query = variable["query"]
        if isinstance(query, dict):
            query = query["query"]
        match = re.fullmatch(r"\s*label_values\((.*),\s*(\w+)\)\s*", query)
        assert match, f"variable {variable['name']}: expected label_values(selector, label)"
        yield variable["name"], match.group(1)


def dashboard_uids() -> set[str]:
    return {path.stem for path in dashboard_files()}


def import_dashboards_src() -> Any:
    """The ``dashboards_src`` package (grafana/ on sys.path, like its __main__ does)."""
    for path in (str(REPO), str(GRAFANA_DIR)):
        if path not in sys.path:
            sys.path.insert(0, path)
    import dashboards_src

    return dashboards_src


# --- Markdown and commented examples -----------------------------------------------------


def github_anchor(heading: str) -> str:
    """The anchor GitHub generates for a Markdown heading."""
    anchor = heading.strip().lower()
    anchor = re.sub(r"[^\w\- ]", "", anchor)
    return anchor.replace(" ", "-")


def markdown_anchors(path: Path) -> set[str]:
    return {
        github_anchor(match.group(1))
        for match in re.finditer(r"^#{1,6}\s+(.+)$", path.read_text(encoding="utf-8"), re.M)
    }


def uncomment_examples(text: str) -> tuple[str, list[str]]:
    """Uncomments every ``# --- example: NAME`` … ``# --- end example`` block.

    Inside a block every line is ``<indent># <yaml>``; the ``# `` is removed. Returns the
    new text and the example names in order.
    """
    lines, names, current = [], [], None
    for line in text.splitlines():
        start = re.match(r"^\s*# --- example: ([\w-]+)", line)
        if start:
            current = start.group(1)
            names.append(current)
            lines.append(line)
            continue
        if re.match(r"^\s*# --- end example", line):
            assert current is not None, "end marker without a start marker"
            current = None
            lines.append(line)
            continue
        if current is not None:
            commented = re.match(r"^(\s*)# (.*)$|^(\s*)#$", line)
            assert commented, f"example {current}: line is not commented: {line!r}"
            lines.append((commented.group(1) or "") + (commented.group(2) or ""))
        else:
            lines.append(line)
    assert current is None, f"example {current} has no end marker"
    return "\n".join(lines) + "\n", names
