"""``python -m benchmarks --smoke`` produces every figure of every section (timings not asserted).

The smoke run is what CI runs so that the benchmarks cannot rot: each section runs at tiny
sizes, and every figure must be present and finite. Which verdicts are ``ok`` is never
asserted (smoke sizes mean nothing for the targets, and machines are shared); what must hold
is functional: the load run saw no error and no failed poll, slow clients were served, and a
load run with errors makes the benchmark fail.
"""

from __future__ import annotations

import contextlib
import copy
import io
import json
import math
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from prometheus_client import metrics

from benchmarks import __main__ as runner
from benchmarks import load, log_ingest, scrape

TIMING_KEYS = ("p50_ms", "p99_ms", "runs")
SCRAPE_TIMINGS = (
    "baseline",
    "asgi",
    "asgi_gzip",
    "http",
    "http_gzip",
    "baseline_http",
    "baseline_http_gzip",
)
VERDICTS = {"ok", "MISSED", "info"}


def positive(value: object) -> bool:
    return isinstance(value, int | float) and math.isfinite(value) and value > 0


def non_finite(value: Any, path: str = "") -> list[str]:
    """Paths of every NaN or infinite number in a JSON document."""
    if isinstance(value, float):
        return [] if math.isfinite(value) else [path]
    if isinstance(value, dict):
        return [p for k, v in value.items() for p in non_finite(v, f"{path}.{k}")]
    if isinstance(value, list):
        return [p for i, v in enumerate(value) for p in non_finite(v, f"{path}[{i}]")]
    return []


def run(argv: list[str]) -> tuple[int, dict[str, Any], str]:
    out = Path(argv[argv.index("--json") + 1])
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        status = runner.main(argv)
    return status, json.loads(out.read_text()), printed.getvalue()


@pytest.fixture(scope="module")
def smoke(tmp_path_factory: pytest.TempPathFactory) -> tuple[int, dict[str, Any], str]:
    """One smoke run of every section but the log ingest (tested apart: it needs npm)."""
    out = tmp_path_factory.mktemp("bench") / "bench.json"
    created_before = metrics._use_created
    markdown = out.with_suffix(".md")
    argv = ["--smoke", "--only", "scrape,poll,memory,load", "--markdown", str(markdown)]
    result = run([*argv, "--json", str(out)])
    # The Markdown table (what docs/performance.md shows) has every section.
    tables = markdown.read_text()
    for section in ("scrape", "poll", "memory", "load"):
        assert f"**{section}**\n\n| figure | value |" in tables, section
    # The baseline's ``_created`` lines are switched off for the scrape section only.
    assert metrics._use_created == created_before
    return result


def test_smoke_run_produces_every_figure(smoke: tuple[int, dict[str, Any], str]) -> None:
    status, results, printed = smoke
    assert results["failed"] == {}, results["failed"]
    assert status == 0
    assert results["mode"] == "smoke"
    assert results["machine"]["nproc"] >= 1
    assert set(results["sections"]) == {"scrape", "poll", "memory", "load"}
    assert non_finite(results) == []

    rows = results["rows"]
    assert {row["section"] for row in rows} == set(results["sections"])
    for row in rows:
        assert row["verdict"] in VERDICTS, row
        assert row["value"], row
        # A figure with a target always says what it is compared with.
        assert row["verdict"] == "info" or row["target"], row
    for section in results["sections"]:
        assert any(line.startswith(f"{section} ") for line in printed.splitlines()), section
    assert "FAILED" not in printed


def test_smoke_scrape_poll_memory_figures(smoke: tuple[int, dict[str, Any], str]) -> None:
    _status, results, _printed = smoke
    sections = results["sections"]
    rows = sections["scrape"]["sizes"]
    assert [row["series_requested"] for row in rows] == list(scrape.SMOKE.series)
    for row in rows:
        assert row["series"] >= row["series_requested"]
        # Same samples on both sides, so the ratio compares equal work.
        assert row["same_bytes_as_baseline"]
        for key in ("render_once_ms", "render_once_gzip_ms", "body_bytes", "gzip_bytes"):
            assert positive(row[key]), key
        for kind in SCRAPE_TIMINGS:
            assert all(positive(row[kind][k]) for k in TIMING_KEYS), kind
        for kind in ("asgi", "asgi_gzip", "http", "http_gzip"):
            assert positive(row[f"ratio_{kind}"]), kind
    assert all(positive(v) for v in sections["scrape"]["scaling"].values())

    poll = sections["poll"]
    assert poll["accounts"] == scrape.SMOKE.accounts
    assert poll["requests_per_round"] > poll["accounts"]  # several sources and pages each
    for key in ("round_wall_s", "ratio", "poller_cpu_ms_per_account", "process_cpu_ms_per_account"):
        assert positive(poll[key]), key
    assert set(poll["sequential_chain_s"]) == {"openai", "anthropic"}

    for kind in ("empty", "ours", "baseline"):
        assert positive(sections["memory"][kind]["rss_mb"]), kind

    # benchmarks.scrape's own table, over the same results.
    table = scrape.table({"machine": results["machine"], **sections})
    for heading in ("1. Scrape", "2. Poll round", "3. Memory"):
        assert heading in table


def test_smoke_load_figures(
    smoke: tuple[int, dict[str, Any], str], capsys: pytest.CaptureFixture[str]
) -> None:
    _status, results, _printed = smoke
    result = results["sections"]["load"]
    assert result["exporter"]["accounts"] == load.SMOKE.accounts
    assert result["exporter"]["series"] > 0
    assert positive(result["unloaded"]["p50_ms"])
    assert positive(result["unloaded"]["poll_duration_ms"]["p50"])
    assert set(result["phases"]) == {"scrapers", "scrapers_and_slow_clients"}
    for name, phase in result["phases"].items():
        assert phase["scrapers"] == load.SMOKE.scrapers, name
        # Each scraper sends at least one request per segment.
        assert phase["requests"] >= phase["scrapers"] * load.SEGMENTS, name
        # Functional, not timed: every scrape answered 200 with a gzip body, every poll worked.
        assert phase["errors"] == 0, (name, phase["error_kinds"])
        assert phase["poll_failures"] == 0, name
        for key in ("p50_ms", "p99_ms", "max_ms", "throughput_rps", "exporter_cpu_share"):
            assert positive(phase[key]), (name, key)
        assert phase["p50_ms"] <= phase["p99_ms"] <= phase["max_ms"], name
        # How many polls land in a few seconds of load depends on the machine: present only.
        assert isinstance(phase["polls_completed"], int), name
        assert positive(phase["polls_due"]), name
        assert set(phase["poll_duration_ms"]) == {"p50", "max"}, name
    slow = result["phases"]["scrapers_and_slow_clients"]["slow_clients"]
    assert set(slow) == set(load.SLOW_KINDS)
    # The drip reader got bytes while the scrapers ran: slow clients are served, not dropped.
    assert slow["drip"]["bytes_received"] > 0
    for key in ("start", "mid", "end", "peak"):
        assert positive(result["rss_mb"][key]), key
    assert positive(result["slow_client_p50_ratio"])
    assert isinstance(result["slow_client_poll_duration_ratio"], float)
    assert set(result["targets"]) == {
        "zero_errors",
        "zero_poll_failures",
        "slow_clients_do_not_slow_scrapes",
        "slow_clients_do_not_slow_polls",
        "rss_stable",
    }
    load.print_table(result)
    assert "target zero_errors: ok" in capsys.readouterr().out


def test_load_errors_fail_the_run(smoke: tuple[int, dict[str, Any], str]) -> None:
    _status, results, _printed = smoke
    broken = copy.deepcopy(results["sections"]["load"])
    broken["phases"]["scrapers_and_slow_clients"]["errors"] = 3
    broken["targets"] = load.targets(broken)
    assert not broken["targets"]["zero_errors"]
    state = {"failed": {}, "skipped": {}, "sections": {"load": broken}, "sections_run": ["load"]}
    assert runner.exit_status(state) == 1
    errors = [r for r in runner.rows_of(state) if r.figure.endswith(": errors")]
    assert [r.verdict for r in errors] == ["ok", "MISSED"]


def test_logs_section(tmp_path: Path) -> None:
    launcher = log_ingest.CCUSAGE_PREFIX / "node_modules" / ".bin" / "ccusage"
    if not launcher.exists() and shutil.which("npm") is None and os.environ.get("CI") != "true":
        pytest.skip("npm is not installed: cannot install ccusage@20.0.24 to compare with")
    status, results, printed = run(["--smoke", "--only", "logs", "--json", str(tmp_path / "b")])
    # Under CI=true a missing npm is a failure of the section, reported here.
    assert results["failed"] == {}, results["failed"]
    assert status == 0
    report = results["sections"]["logs"]
    assert non_finite(report) == []
    assert report["corpus"]["bytes"] > 1_000_000
    assert report["ccusage"]["version"] == log_ingest.CCUSAGE_VERSION
    for key in ("ccusage_cold_wall_s", "ours_cold_ingest_s", "ours_tree_peak_rss_mb"):
        assert report[key] and all(positive(x) for x in report[key]), key
    for key in ("idle_poll_ms", "append_1mb_poll_ms"):
        assert positive(report[key]["median"]), key
    assert report["kept_entries"] > 0
    rows = [r for r in results["rows"] if r["section"] == "logs"]
    assert len(rows) == 7 and all(r["verdict"] in VERDICTS for r in rows)
    assert "cold ingest" in printed


def test_only_rejects_unknown_sections() -> None:
    with pytest.raises(SystemExit) as exc, contextlib.redirect_stderr(io.StringIO()):
        runner.main(["--only", "scrape,nope"])
    assert exc.value.code == 2


def test_module_runs_as_documented() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks", "--help"], capture_output=True, text=True, check=True
    )
    for flag in ("--smoke", "--json", "--only"):
        assert flag in done.stdout
