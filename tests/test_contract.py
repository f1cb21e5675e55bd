"""The metrics contract: naming rules, label vocabulary, docs in sync, promtool lint clean."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from exporter.contract import METRICS, MetricType, Scope, render_markdown
from exporter.errors import FAILURE_REASONS

ROOT = Path(__file__).resolve().parent.parent
LABELS = {
    "provider",
    "account",
    "project",
    "project_name",
    "api_key",
    "api_key_name",
    "model",
    "token_type",
    "line_item",
    "source",
    "reason",
    "metric",
    "version",
    "budget",
    "balance_type",
    "reset",
    "period",
    "tier",
    "subscription",
    "plan",
    "window",
}


@pytest.mark.parametrize("spec", METRICS.values(), ids=lambda s: s.name)
def test_naming_rules(spec: object) -> None:
    name, kind = spec.name, spec.type  # type: ignore[attr-defined]
    assert re.fullmatch(r"llm_[a-z0-9_]+", name)
    assert name.endswith("_total") == (kind is MetricType.COUNTER), "_total only on counters"
    if spec.scope is Scope.INFO:  # type: ignore[attr-defined]
        assert name.endswith("_info") and kind is MetricType.GAUGE
    assert not re.search(r"_(ms|milliseconds|minutes|hours|days|cents|kb|mb)(_|$)", name)
    assert "timestamp" not in name or name.endswith("_timestamp_seconds")
    assert set(spec.labels) <= LABELS  # type: ignore[attr-defined]
    assert len(set(spec.labels)) == len(spec.labels)  # type: ignore[attr-defined]
    assert spec.help.endswith(".")  # type: ignore[attr-defined]


def test_docs_agree_with_contract() -> None:
    assert (ROOT / "docs" / "metrics.md").read_text() == render_markdown(), (
        "regenerate: python -m exporter.contract > docs/metrics.md"
    )


def test_failure_reasons_documented() -> None:
    help_text = METRICS["llm_upstream_request_failures_total"].help
    for reason in FAILURE_REASONS:
        assert reason in help_text


def test_promtool_check_metrics_is_clean(fake_provider: object) -> None:
    """promtool's linter on a full exposition of every metric family."""
    promtool = shutil.which("promtool")
    if promtool is None:
        if os.environ.get("CI") == "true":
            pytest.fail("promtool is missing (install Debian's prometheus package)")
        pytest.skip("promtool not installed")
    body = (ROOT / "tests" / "golden" / "exposition.prom").read_bytes()
    result = subprocess.run(
        [promtool, "check", "metrics"], input=body, capture_output=True, timeout=30, check=False
    )
    assert result.returncode == 0, result.stdout.decode() + result.stderr.decode()


def test_provider_docs_agree_with_code() -> None:
    from exporter.providers.__main__ import render_markdown as render_providers

    assert (ROOT / "docs" / "providers.md").read_text() == render_providers(), (
        "regenerate: python -m exporter.providers > docs/providers.md"
    )


def test_every_provider_module_documents_endpoints_credential_and_series() -> None:
    from exporter.providers import PROVIDERS
    from exporter.providers.__main__ import _module_of

    for name, spec in PROVIDERS.items():
        doc = (_module_of(spec).__doc__ or "").lower()
        assert "llm_" in doc, f"{name}: docstring names no series"
        assert "credential" in doc or "key" in doc, f"{name}: docstring names no credential"
        assert spec.key_hint and spec.title, name
