"""The scrape/poll/memory benchmark's smoke mode produces every figure (timings not asserted)."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
from prometheus_client import metrics

from benchmarks import scrape

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


def positive(value: object) -> bool:
    return isinstance(value, int | float) and math.isfinite(value) and value > 0


def test_smoke_run_produces_every_figure(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "bench.json"
    created_before = metrics._use_created
    assert scrape.main(["--smoke", "--json", str(out)]) == 0
    # The baseline's ``_created`` lines are switched off for the run only.
    assert metrics._use_created == created_before
    printed = capsys.readouterr().out
    results = json.loads(out.read_text())

    assert results["machine"]["nproc"] >= 1
    rows = results["scrape"]["sizes"]
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
    assert all(positive(v) for v in results["scrape"]["scaling"].values())

    poll = results["poll"]
    assert poll["accounts"] == scrape.SMOKE.accounts
    assert poll["requests_per_round"] > poll["accounts"]  # several sources and pages each
    for key in ("round_wall_s", "ratio", "poller_cpu_ms_per_account", "process_cpu_ms_per_account"):
        assert positive(poll[key]), key
    assert set(poll["sequential_chain_s"]) == {"openai", "anthropic"}

    for kind in ("empty", "ours", "baseline"):
        assert positive(results["memory"][kind]["rss_mb"]), kind

    for heading in ("1. Scrape", "2. Poll round", "3. Memory"):
        assert heading in printed
