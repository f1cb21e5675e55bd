"""Prometheus configuration, rules, alert conventions and their promtool unit tests."""

from __future__ import annotations

import re
import shutil
from collections import defaultdict
from pathlib import Path

import pytest

from .helpers import (
    PROMETHEUS_DIR,
    PROMTOOL_TESTS_DIR,
    RULES_DIR,
    RUNBOOK,
    RUNBOOK_BASE,
    SEVERITIES,
    alert_names,
    alert_rules,
    all_rules,
    assert_ok,
    dashboard_uids,
    known_metric_names,
    load_yaml,
    markdown_anchors,
    metric_names,
    parse_duration,
    promtool_test_files,
    recording_rules,
    require_binary,
    rule_files,
    run,
)

#: Minimum `for:` of every alert: sources are polled every 5 minutes.
MIN_FOR_SECONDS = 600


# --- promtool ------------------------------------------------------------------------------


def test_promtool_check_config() -> None:
    promtool = require_binary("promtool")
    assert_ok(run(promtool, "check", "config", PROMETHEUS_DIR / "prometheus.yml"))


def test_commented_remote_write_example_is_valid(tmp_path: Path) -> None:
    """Uncommenting the remote_write block yields a valid configuration."""
    promtool = require_binary("promtool")
    text = (PROMETHEUS_DIR / "prometheus.yml").read_text(encoding="utf-8")
    head, marker, tail = text.partition("# remote_write:\n")
    assert marker, "prometheus.yml has no commented remote_write example"
    uncommented = []
    for line in tail.splitlines():
        assert line.startswith("#"), f"unexpected line after the example: {line!r}"
        uncommented.append(line[2:] if line.startswith("# ") else line[1:])
    config = head + "remote_write:\n" + "\n".join(uncommented) + "\n"
    shutil.copytree(RULES_DIR, tmp_path / "rules")
    (tmp_path / "prometheus.yml").write_text(config, encoding="utf-8")
    assert "remote_write" in load_yaml(tmp_path / "prometheus.yml")
    assert_ok(run(promtool, "check", "config", tmp_path / "prometheus.yml"))


def test_prometheus_config_shape() -> None:
    config = load_yaml(PROMETHEUS_DIR / "prometheus.yml")
    assert config["global"]["scrape_interval"] == "60s"
    jobs = {job["job_name"]: job for job in config["scrape_configs"]}
    targets = [t for sc in jobs["llm-cost-exporter"]["static_configs"] for t in sc["targets"]]
    assert targets == ["exporter:9771"]
    managers = config["alerting"]["alertmanagers"]
    assert [t for m in managers for sc in m["static_configs"] for t in sc["targets"]] == [
        "alertmanager:9093"
    ]
    # rule_files are relative to prometheus.yml and pick up every rules file.
    matched = set()
    for pattern in config["rule_files"]:
        assert not Path(pattern).is_absolute()
        matched.update(PROMETHEUS_DIR.glob(pattern))
    assert matched == set(rule_files())
    assert set(RULES_DIR.glob("*")) == set(rule_files()), "only *.rules.yml files in rules/"


def test_promtool_check_rules() -> None:
    promtool = require_binary("promtool")
    assert_ok(run(promtool, "check", "rules", *rule_files()))


@pytest.mark.parametrize("test_file", promtool_test_files(), ids=lambda p: p.name)
def test_promtool_test_rules(test_file: Path) -> None:
    promtool = require_binary("promtool")
    assert_ok(run(promtool, "test", "rules", test_file.name, cwd=test_file.parent))


def test_every_rules_file_has_promtool_tests() -> None:
    tested = set()
    for test_file in promtool_test_files():
        for rule_file in load_yaml(test_file)["rule_files"]:
            tested.add((test_file.parent / rule_file).resolve())
    assert {path.resolve() for path in rule_files()} <= tested


@pytest.mark.parametrize("test_file", promtool_test_files(), ids=lambda p: p.name)
def test_promtool_tests_fix_the_group_order(test_file: Path) -> None:
    """Without group_eval_order promtool evaluates groups in random order (flaky values)."""
    test = load_yaml(test_file)
    groups = [
        group["name"]
        for rule_file in test["rule_files"]
        for group in load_yaml(test_file.parent / rule_file)["groups"]
    ]
    assert test.get("group_eval_order") == groups
    # Recording groups come first in every rules file.
    kinds = [name.rsplit(".", 1)[-1] for name in groups]
    assert kinds == sorted(kinds, key=lambda kind: kind != "recording")


# --- alert conventions -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "rule", alert_rules(), ids=lambda r: f"{r.name}-{r.body['labels']['severity']}"
)
def test_alert_conventions(rule) -> None:  # type: ignore[no-untyped-def]
    body = rule.body
    assert re.fullmatch(r"LLM[A-Z][A-Za-z0-9]+", rule.name), "CamelCase with an LLM prefix"
    assert set(body["labels"]) == {"severity"}, "labels: only severity"
    assert body["labels"]["severity"] in SEVERITIES
    assert "for" in body, "explicit for:"
    assert parse_duration(body["for"]) >= MIN_FOR_SECONDS

    annotations = body["annotations"]
    assert set(annotations) == {"summary", "description", "runbook_url", "dashboard_url"}
    assert "{{" not in annotations["summary"], "summary is static"
    assert "{{" in annotations["description"], "description is templated"
    assert annotations["runbook_url"] == f"{RUNBOOK_BASE}#{rule.name.lower()}"
    uid = re.fullmatch(r"/d/([\w-]+)(\?.*)?", annotations["dashboard_url"])
    assert uid, "dashboard_url is a /d/<uid> path"
    assert uid.group(1) in dashboard_uids()


def test_runbook_has_one_section_per_alert() -> None:
    anchors = markdown_anchors(RUNBOOK)
    for name in alert_names():
        assert name.lower() in anchors, f"RUNBOOK.md has no section for {name}"
    sections = re.findall(r"^## (\w+)$", RUNBOOK.read_text(encoding="utf-8"), re.M)
    assert sorted(sections) == alert_names(), "one ## section per alert, nothing else"


def test_readme_lists_every_alert_once() -> None:
    """The README's Stack section has one line per alert, with its severities."""
    readme = (PROMETHEUS_DIR.parent / "README.md").read_text(encoding="utf-8")
    section = readme.split("### Alerts", 1)[1].split("\n## ", 1)[0]
    listed = re.findall(r"^- `(LLM\w+)` \(([^)]*)\):", section, re.M)
    assert sorted(name for name, _ in listed) == alert_names()
    for name, severities in listed:
        for rule in alert_rules():
            if rule.name == name:
                assert rule.body["labels"]["severity"] in severities, (name, severities)


def test_same_alert_name_differs_only_by_severity() -> None:
    by_name = defaultdict(list)
    for rule in alert_rules():
        by_name[rule.name].append(rule)
    for name, rules in by_name.items():
        severities = [rule.body["labels"]["severity"] for rule in rules]
        assert len(severities) == len(set(severities)), f"{name}: duplicate severity"
        if len(rules) > 1:
            # One alert name at several severities: same meaning, same runbook and
            # dashboard, so Alertmanager inhibition on alertname works.
            for key in ("runbook_url", "dashboard_url", "description"):
                assert len({rule.body["annotations"][key] for rule in rules}) == 1, (name, key)


def test_rule_names() -> None:
    names = [rule.name for rule in all_rules() if not rule.is_alert]
    assert len(names) == len(set(names)), "recording rule names are unique"
    for name in names:
        assert re.fullmatch(r"[a-z_]+:[a-z0-9_]+:[a-z0-9_]+", name), (
            f"level:metric:operations: {name}"
        )
        _level, metric, _ = name.split(":")
        assert metric.startswith("llm_"), name


def test_rule_expressions_use_known_metrics() -> None:
    known = known_metric_names()
    for rule in all_rules():
        unknown = metric_names(rule.expr) - set(known)
        assert not unknown, f"{rule.name}: unknown metrics {sorted(unknown)}"
        annotations = " ".join(rule.body.get("annotations", {}).values())
        for query in re.findall(r'printf "([^"]+)"', annotations):
            unknown = metric_names(query.replace("%q", '"x"')) - set(known)
            assert not unknown, f"{rule.name} annotation query: {sorted(unknown)}"


# --- promtool test coverage ------------------------------------------------------------------


def _alert_tests() -> list[dict]:  # type: ignore[type-arg]
    cases = []
    for test_file in promtool_test_files():
        for group in load_yaml(test_file)["tests"]:
            cases.extend(group.get("alert_rule_test", []))
    return cases


def _expr_tests() -> list[dict]:  # type: ignore[type-arg]
    cases = []
    for test_file in promtool_test_files():
        for group in load_yaml(test_file)["tests"]:
            cases.extend(group.get("promql_expr_test", []))
    return cases


@pytest.mark.parametrize("alertname", alert_names())
def test_every_alert_has_firing_and_quiet_tests(alertname: str) -> None:
    cases = [case for case in _alert_tests() if case["alertname"] == alertname]
    firing = [case for case in cases if case.get("exp_alerts")]
    quiet = [case for case in cases if not case.get("exp_alerts")]
    assert firing, f"{alertname}: no promtool test where it fires"
    assert quiet, f"{alertname}: no promtool test where it stays quiet"
    for case in firing:
        for alert in case["exp_alerts"]:
            # Exact labels and annotations, every annotation spelled out.
            assert "severity" in alert["exp_labels"]
            assert set(alert["exp_annotations"]) == {
                "summary", "description", "runbook_url", "dashboard_url",
            }  # fmt: skip


def test_every_alert_severity_fires_in_a_test() -> None:
    defined = {(rule.name, rule.body["labels"]["severity"]) for rule in alert_rules()}
    fired = {
        (case["alertname"], alert["exp_labels"]["severity"])
        for case in _alert_tests()
        for alert in case.get("exp_alerts") or []
    }
    assert defined <= fired, f"never fired in a test: {sorted(defined - fired)}"


@pytest.mark.parametrize("record", [rule.name for rule in recording_rules()])
def test_every_recording_rule_has_a_value_test(record: str) -> None:
    tested = [
        case
        for case in _expr_tests()
        if re.search(rf"(?<![\w:]){re.escape(record)}(?![\w:])", case["expr"])
        and case.get("exp_samples")
    ]
    assert tested, f"{record}: no promql_expr_test checks its value"


def test_promtool_test_files_live_next_to_each_other() -> None:
    assert PROMTOOL_TESTS_DIR.is_dir()
    assert promtool_test_files(), "no promtool tests found"
