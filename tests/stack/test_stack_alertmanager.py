"""Alertmanager configuration: shipped file, commented receiver examples, routing, inhibition."""

from __future__ import annotations

import json
import socket
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from .helpers import (
    ALERTMANAGER_CONFIG,
    alert_names,
    alert_rules,
    assert_ok,
    load_yaml,
    require_binary,
    run,
    uncomment_examples,
)

EXAMPLES = ("email", "slack", "webhook")


def test_amtool_check_config() -> None:
    amtool = require_binary("amtool")
    assert_ok(run(amtool, "check-config", ALERTMANAGER_CONFIG))


def test_default_receiver_has_no_integration() -> None:
    config = load_yaml(ALERTMANAGER_CONFIG)
    assert config["route"]["receiver"] == "default"
    assert config["receivers"] == [{"name": "default"}]


def _activate(text: str, receiver: str) -> str:
    shipped = "route:\n  receiver: default\n"
    assert shipped in text
    return text.replace(shipped, f"route:\n  receiver: {receiver}\n", 1)


@pytest.mark.parametrize("example", EXAMPLES)
def test_commented_receiver_example_is_valid(example: str, tmp_path: Path) -> None:
    """Uncomment every example, route to this one, and check with amtool."""
    amtool = require_binary("amtool")
    text, names = uncomment_examples(ALERTMANAGER_CONFIG.read_text(encoding="utf-8"))
    assert names == list(EXAMPLES)
    path = tmp_path / "alertmanager.yml"
    path.write_text(_activate(text, example), encoding="utf-8")
    config = load_yaml(path)
    receiver = next(r for r in config["receivers"] if r["name"] == example)
    # Secrets come from files, never inline (Alertmanager does not expand env vars).
    flat = json.dumps(receiver)
    assert "_file" in flat
    for secret_key in ('auth_password"', 'api_url"', 'credentials"'):
        assert secret_key not in flat, f"{example}: inline secret {secret_key}"
    result = run(amtool, "check-config", path)
    assert_ok(result)
    assert "4 receivers" in result.stdout


def test_route_groups_and_inhibits() -> None:
    config = load_yaml(ALERTMANAGER_CONFIG)
    assert config["route"]["group_by"] == ["alertname", "provider", "account", "budget"]
    severity_rule = config["inhibit_rules"][0]
    assert severity_rule["source_matchers"] == ['severity = "critical"']
    assert severity_rule["target_matchers"] == ['severity = "warning"']
    assert "alertname" in severity_rule["equal"]
    # Alert names used in matchers exist.
    for rule in config["inhibit_rules"]:
        for matcher in rule["source_matchers"] + rule["target_matchers"]:
            if matcher.startswith("alertname"):
                for name in matcher.split('"')[1].split("|"):
                    assert name in alert_names(), matcher


def test_routing_tree() -> None:
    amtool = require_binary("amtool")
    for labels, receiver in (
        (["alertname=LLMBudgetSpendHigh", "severity=critical", "budget=team-a"], "default"),
        (["alertname=LLMSeriesFolded", "severity=info"], "default"),
    ):
        result = run(
            amtool, "config", "routes", "test", f"--config.file={ALERTMANAGER_CONFIG}", *labels
        )
        assert_ok(result)
        assert result.stdout.strip() == receiver


# --- end to end: the real Alertmanager inhibits warnings ------------------------------------


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _get(url: str) -> object:
    with urllib.request.urlopen(url, timeout=5) as response:
        return json.loads(response.read())


@pytest.fixture
def alertmanager(tmp_path: Path) -> Iterator[str]:
    binary = require_binary("prometheus-alertmanager")
    port = _free_port()
    process = subprocess.Popen(
        [
            binary,
            f"--config.file={ALERTMANAGER_CONFIG}",
            f"--storage.path={tmp_path / 'data'}",
            f"--web.listen-address=127.0.0.1:{port}",
            "--cluster.listen-address=",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                urllib.request.urlopen(f"{url}/-/ready", timeout=1).close()
                break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    stderr = process.stderr.read().decode() if process.stderr else ""
                    pytest.fail(f"alertmanager did not start:\n{stderr}")
                time.sleep(0.1)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=10)
        if process.stderr:
            process.stderr.close()


@pytest.mark.e2e
def test_critical_inhibits_warning_of_the_same_alert(alertmanager: str) -> None:
    rules = {
        r.body["labels"]["severity"]: r for r in alert_rules() if r.name == "LLMBudgetSpendHigh"
    }
    assert set(rules) == {"warning", "critical"}

    def alert(severity: str, budget: str) -> dict[str, object]:
        return {
            "labels": {
                "alertname": "LLMBudgetSpendHigh",
                "severity": severity,
                "budget": budget,
                "job": "llm-cost-exporter",
                "instance": "exporter:9771",
            },
            "annotations": {"summary": rules[severity].body["annotations"]["summary"]},
        }

    alerts = [alert("critical", "team-a"), alert("warning", "team-a"), alert("warning", "team-b")]
    request = urllib.request.Request(
        f"{alertmanager}/api/v2/alerts",
        data=json.dumps(alerts).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    urllib.request.urlopen(request, timeout=5).close()

    deadline = time.monotonic() + 20
    while True:
        state = {
            (a["labels"]["severity"], a["labels"]["budget"]): a["status"]
            for a in _get(f"{alertmanager}/api/v2/alerts")  # type: ignore[union-attr]
        }
        if len(state) == 3 and state[("warning", "team-a")]["inhibitedBy"]:
            break
        assert time.monotonic() < deadline, f"no inhibition after 20s: {state}"
        time.sleep(0.2)
    assert state[("critical", "team-a")]["state"] == "active"
    assert state[("warning", "team-a")]["state"] == "suppressed"
    # Another budget's warning is not muted by team-a's critical.
    assert state[("warning", "team-b")]["state"] == "active"


@pytest.mark.e2e
def test_failing_source_inhibits_its_stale_alert(alertmanager: str) -> None:
    def alert(name: str, source: str) -> dict[str, object]:
        return {
            "labels": {
                "alertname": name,
                "severity": "warning",
                "provider": "openai",
                "account": "prod",
                "source": source,
            }
        }

    alerts = [
        alert("LLMSourceFailing", "costs"),
        alert("LLMSourceStale", "costs"),
        alert("LLMSourceStale", "usage_completions"),
    ]
    request = urllib.request.Request(
        f"{alertmanager}/api/v2/alerts",
        data=json.dumps(alerts).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    urllib.request.urlopen(request, timeout=5).close()

    deadline = time.monotonic() + 20
    while True:
        state = {
            (a["labels"]["alertname"], a["labels"]["source"]): a["status"]["state"]
            for a in _get(f"{alertmanager}/api/v2/alerts")  # type: ignore[union-attr]
        }
        if state.get(("LLMSourceStale", "costs")) == "suppressed":
            break
        assert time.monotonic() < deadline, f"no inhibition after 20s: {state}"
        time.sleep(0.2)
    assert state[("LLMSourceFailing", "costs")] == "active"
    assert state[("LLMSourceStale", "usage_completions")] == "active"


def _post_alerts(alertmanager: str, alerts: list[dict[str, object]]) -> None:
    request = urllib.request.Request(
        f"{alertmanager}/api/v2/alerts",
        data=json.dumps(alerts).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    urllib.request.urlopen(request, timeout=5).close()


@pytest.mark.e2e
def test_expired_credentials_inhibit_source_alerts_of_their_account(alertmanager: str) -> None:
    def alert(name: str, account: str, source: str | None = None) -> dict[str, object]:
        labels = {
            "alertname": name,
            "severity": "warning",
            "provider": "anthropic",
            "account": account,
        }
        if source is not None:
            labels["source"] = source
        return {"labels": labels}

    _post_alerts(
        alertmanager,
        [
            alert("LLMCredentialsExpired", "claude"),
            alert("LLMSourceFailing", "claude", "usage"),
            alert("LLMSourceStale", "claude", "usage"),
            alert("LLMSourceFailing", "research", "cost_report"),
        ],
    )
    deadline = time.monotonic() + 20
    while True:
        state = {
            (a["labels"]["alertname"], a["labels"]["account"]): a["status"]["state"]
            for a in _get(f"{alertmanager}/api/v2/alerts")  # type: ignore[union-attr]
        }
        if len(state) == 4 and state[("LLMSourceFailing", "claude")] == "suppressed":
            break
        assert time.monotonic() < deadline, f"no inhibition after 20s: {state}"
        time.sleep(0.2)
    assert state[("LLMCredentialsExpired", "claude")] == "active"
    assert state[("LLMSourceStale", "claude")] == "suppressed"
    # Another account's failing source is not muted.
    assert state[("LLMSourceFailing", "research")] == "active"


@pytest.mark.e2e
def test_critical_key_limit_mutes_only_its_own_key(alertmanager: str) -> None:
    def alert(severity: str, api_key: str) -> dict[str, object]:
        labels = {
            "alertname": "LLMSpendLimitNearlyReached",
            "severity": severity,
            "provider": "openrouter",
            "account": "main",
            "api_key": api_key,
        }
        return {"labels": labels}

    _post_alerts(
        alertmanager,
        [alert("critical", "key_a"), alert("warning", "key_a"), alert("warning", "key_b")],
    )
    deadline = time.monotonic() + 20
    while True:
        state = {
            (a["labels"]["severity"], a["labels"]["api_key"]): a["status"]["state"]
            for a in _get(f"{alertmanager}/api/v2/alerts")  # type: ignore[union-attr]
        }
        if len(state) == 3 and state[("warning", "key_a")] == "suppressed":
            break
        assert time.monotonic() < deadline, f"no inhibition after 20s: {state}"
        time.sleep(0.2)
    assert state[("critical", "key_a")] == "active"
    assert state[("warning", "key_b")] == "active"
