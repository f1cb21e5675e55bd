"""Snapshot building: month-to-date sums, restatement guard, rollover, folding, staleness,
budgets, and the exposition itself (golden file, no timestamps, _created only in OpenMetrics)."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest

from exporter.config import AccountConfig, BudgetConfig, Config
from exporter.records import ApiKeyInfo, CountRecord, CountUnit, LevelRecord, LevelUnit, ProjectInfo
from exporter.snapshot import MonthToDateGuard, SourceState, build_snapshot
from tests.conftest import FakeSources, cost, day, tokens

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC).timestamp()
GOLDEN = Path(__file__).parent / "golden" / "exposition.prom"


def config(**account: object) -> Config:
    return Config(accounts=(AccountConfig(provider="fake", name="prod", **account),))  # type: ignore[arg-type]


def state(
    source: str, records: tuple[object, ...], *, last_success: float = NOW, up: bool = True
) -> SourceState:
    s = SourceState("fake", "prod", source, stale_after=900)
    s.records = records  # type: ignore[assignment]
    s.up = up
    s.last_success = last_success
    s.last_duration = 0.25
    s.stats.requests = 3
    return s


def values(snapshot: object, name: str) -> dict[tuple[tuple[str, str], ...], float]:
    family = snapshot.family(name)  # type: ignore[attr-defined]
    if family is None:
        return {}
    return {tuple(sorted(s.labels.items())): s.value for s in family.samples}


def only(snapshot: object, name: str, **labels: str) -> float:
    matches = [
        v
        for k, v in values(snapshot, name).items()
        if all(dict(k).get(key) == value for key, value in labels.items())
    ]
    assert len(matches) == 1, matches
    return matches[0]


def test_month_to_date_sums(fake_provider: FakeSources) -> None:
    records = (
        cost(1, "1.10"),
        cost(2, "2.25"),
        cost(23, "0.01"),
        cost(2, "5", project="proj_b", line_item="gpt-4o, output"),
        cost(30, "9", month=10),
    )
    snap = build_snapshot(config(), [state("costs", records)], MonthToDateGuard(), NOW)
    assert only(snap, "llm_cost_usd_total", project="proj_a", line_item="gpt-4o, input") == 3.36
    assert only(snap, "llm_cost_usd_total", project="proj_b") == 5.0
    tok = (
        tokens(1, input=10, cache_read=5, cache_write_5m=2, cache_write_1h=3, output=7),
        tokens(2, input=1, output=1),
    )
    snap = build_snapshot(config(), [state("usage", tok)], MonthToDateGuard(), NOW)
    assert only(snap, "llm_tokens_total", token_type="input") == 11
    assert only(snap, "llm_tokens_total", token_type="cache_read") == 5
    assert only(snap, "llm_tokens_total", token_type="cache_write") == 5
    assert only(snap, "llm_tokens_total", token_type="output") == 8


def test_records_before_the_month_are_ignored(fake_provider: FakeSources) -> None:
    records = (cost(1, "1"), cost(31, "100", month=10))
    snap = build_snapshot(config(), [state("costs", records)], MonthToDateGuard(), NOW)
    assert list(values(snap, "llm_cost_usd_total").values()) == [1.0]


def test_downward_restatement_keeps_the_high_value(
    fake_provider: FakeSources, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level("INFO", logger="exporter.snapshot")
    guard = MonthToDateGuard()
    build_snapshot(config(), [state("costs", (cost(1, "10"),))], guard, NOW)
    snap = build_snapshot(config(), [state("costs", (cost(1, "8"),))], guard, NOW + 60)
    assert only(snap, "llm_cost_usd_total") == 10.0
    assert "restated" in caplog.text
    snap = build_snapshot(config(), [state("costs", (cost(1, "12"),))], guard, NOW + 120)
    assert only(snap, "llm_cost_usd_total") == 12.0


def test_month_rollover_resets_and_moves_created(fake_provider: FakeSources) -> None:
    guard = MonthToDateGuard()
    snap = build_snapshot(config(), [state("costs", (cost(1, "10"),))], guard, NOW)
    family = snap.family("llm_cost_usd_total")
    assert family is not None and family.created == datetime(2026, 11, 1, tzinfo=UTC).timestamp()
    december = datetime(2026, 12, 1, 0, 5, tzinfo=UTC).timestamp()
    dec_cost = cost(1, "2", month=12)
    snap = build_snapshot(
        config(), [state("costs", (dec_cost,), last_success=december)], guard, december
    )
    family = snap.family("llm_cost_usd_total")
    assert family is not None and family.created == datetime(2026, 12, 1, tzinfo=UTC).timestamp()
    assert only(snap, "llm_cost_usd_total") == 2.0  # reset, not max(10, 2)
    assert b"_created" in snap.render(openmetrics=True)
    assert b"_created" not in snap.render()


def test_stale_source_drops_data_but_keeps_health(fake_provider: FakeSources) -> None:
    fresh = state("costs", (cost(1, "1"),), last_success=NOW - 100, up=False)
    stale = state("usage", (tokens(1, input=5),), last_success=NOW - 1000, up=False)
    snap = build_snapshot(config(), [fresh, stale], MonthToDateGuard(), NOW)
    assert only(snap, "llm_cost_usd_total") == 1.0
    assert values(snap, "llm_tokens_total") == {}
    assert only(snap, "llm_source_up", source="usage") == 0.0
    assert only(snap, "llm_source_last_success_timestamp_seconds", source="usage") == NOW - 1000


def test_other_units_levels_and_info(fake_provider: FakeSources) -> None:
    records = (
        CountRecord(day(1), CountUnit.REQUESTS, "p", "k", "m", Decimal(3)),
        CountRecord(day(2), CountUnit.REQUESTS, "p", "k", "m", Decimal(4)),
        CountRecord(day(2), CountUnit.CODE_INTERPRETER_SESSIONS, "p", "", "", Decimal(2)),
        LevelRecord(day(1), LevelUnit.VECTOR_STORE_BYTES, "p", Decimal(100)),
        LevelRecord(day(3), LevelUnit.VECTOR_STORE_BYTES, "p", Decimal(50)),
        ProjectInfo("p", "Project P"),
        ApiKeyInfo("k", "ci key"),
    )
    snap = build_snapshot(config(), [state("usage", records)], MonthToDateGuard(), NOW)
    assert only(snap, "llm_requests_total") == 7
    assert only(snap, "llm_code_interpreter_sessions_total") == 2
    assert only(snap, "llm_vector_store_bytes") == 50  # latest bucket, not a sum
    assert only(snap, "llm_project_info", project_name="Project P") == 1
    assert only(snap, "llm_api_key_info", api_key_name="ci key") == 1


def test_cardinality_guard_folds_lowest_and_is_sticky(fake_provider: FakeSources) -> None:
    guard = MonthToDateGuard()
    records = tuple(cost(1, str(i + 1), project=f"p{i}") for i in range(5))
    snap = build_snapshot(config(max_series=3), [state("costs", records)], guard, NOW)
    got = {dict(k)["project"]: v for k, v in values(snap, "llm_cost_usd_total").items()}
    assert got == {"p4": 5.0, "p3": 4.0, "other": 6.0}
    assert only(snap, "llm_series_folded", metric="llm_cost_usd_total") == 3
    # p0 grows past everyone: it stays folded this month, so 'other' only ever grows.
    records = (*records[1:], cost(1, "50", project="p0"))
    snap = build_snapshot(config(max_series=3), [state("costs", records)], guard, NOW + 60)
    got = {dict(k)["project"]: v for k, v in values(snap, "llm_cost_usd_total").items()}
    assert got == {"p4": 5.0, "p3": 4.0, "other": 55.0}
    # Tokens fold by label group, token types stay together.
    tok = tuple(tokens(1, model=f"m{i}", input=i + 1, output=1) for i in range(4))
    snap = build_snapshot(config(max_series=2), [state("usage", tok)], MonthToDateGuard(), NOW)
    models = {dict(k)["model"] for k in values(snap, "llm_tokens_total")}
    assert models == {"m3", "other"}


def test_budgets(fake_provider: FakeSources) -> None:
    cfg = Config(
        accounts=(AccountConfig(provider="fake", name="prod"),),
        budgets=(
            BudgetConfig(name="all", limit_usd=Decimal(100)),
            BudgetConfig.model_validate(
                {"name": "proj-b", "limit_usd": 10, "match": {"project": "proj_b"}}
            ),
            BudgetConfig.model_validate(
                {"name": "none", "limit_usd": 10, "match": {"provider": "openai"}}
            ),
        ),
    )
    records = (cost(1, "1.5"), cost(2, "2.5", project="proj_b"))
    snap = build_snapshot(cfg, [state("costs", records)], MonthToDateGuard(), NOW)
    assert only(snap, "llm_budget_spend_usd", budget="all") == 4.0
    assert only(snap, "llm_budget_spend_usd", budget="proj-b") == 2.5
    assert only(snap, "llm_budget_limit_usd", budget="proj-b") == 10.0
    end = datetime(2026, 12, 1, tzinfo=UTC).timestamp()
    assert only(snap, "llm_budget_period_end_timestamp_seconds", budget="none") == end
    assert snap.unmatched_budgets == ("none",)


def test_an_account_appears_once_each_of_its_sources_finished_a_poll(
    fake_provider: FakeSources,
) -> None:
    cfg = Config(
        accounts=(AccountConfig(provider="fake", name="prod"),),
        budgets=(BudgetConfig(name="all", limit_usd=Decimal(100)),),
    )
    done = state("costs", (cost(1, "1.5"),))
    pending = SourceState("fake", "prod", "usage", stale_after=900)  # first poll still running
    snap = build_snapshot(cfg, [done, pending], MonthToDateGuard(), NOW)
    # Half a round would be a partial sum: neither the account's series nor the budget's spend.
    assert values(snap, "llm_cost_usd_total") == {}
    assert values(snap, "llm_budget_spend_usd") == {}
    assert only(snap, "llm_budget_limit_usd", budget="all") == 100.0
    assert only(snap, "llm_source_up", source="costs") == 1.0

    pending.up, pending.last_error = False, "HTTP 500"  # finished, failed: the round is whole
    snap = build_snapshot(cfg, [done, pending], MonthToDateGuard(), NOW)
    assert only(snap, "llm_cost_usd_total") == 1.5
    assert only(snap, "llm_budget_spend_usd", budget="all") == 1.5


def test_buckets_of_next_month_do_not_count_in_this_one(fake_provider: FakeSources) -> None:
    """A provider whose clock is ahead returns the 1st of next month's bucket already."""
    records = (cost(30, "2"), cost(1, "5", month=12))
    snap = build_snapshot(config(), [state("costs", records)], MonthToDateGuard(), NOW)
    assert only(snap, "llm_cost_usd_total") == 2.0


def test_render_is_cached_per_snapshot(fake_provider: FakeSources) -> None:
    snap = build_snapshot(config(), [state("costs", (cost(1, "1"),))], MonthToDateGuard(), NOW)
    # gzip first: it renders the plain bytes itself (this once deadlocked on the lock).
    assert snap.render(compress=True) is snap.render(compress=True)
    assert snap.render() is snap.render()
    assert snap.render(compress=True) is snap.render(compress=True)


def test_golden_exposition(fake_provider: FakeSources) -> None:
    """The full text exposition of a canonical snapshot (regenerate: UPDATE_GOLDEN=1)."""
    import os

    s1 = state("costs", (cost(1, "1.25"), cost(2, "0.000001", project="", line_item="")))
    s2 = state(
        "usage",
        (
            tokens(1, input=100, cache_read=20, cache_write_5m=3, output=50),
            ProjectInfo("proj_a", 'A "quoted" \\ name'),
        ),
    )
    s2.stats.failures["rate_limited"] = 2
    cfg = Config(
        accounts=(AccountConfig(provider="fake", name="prod"),),
        budgets=(BudgetConfig(name="monthly", limit_usd=Decimal(50)),),
    )
    body = build_snapshot(cfg, [s1, s2], MonthToDateGuard(), NOW).render().decode()
    if os.environ.get("UPDATE_GOLDEN"):
        GOLDEN.parent.mkdir(exist_ok=True)
        GOLDEN.write_text(body)
    assert body == GOLDEN.read_text()
    for line in body.splitlines():
        if not line.startswith("#"):
            # name{labels} value -- never a third field (no sample timestamps)
            assert len(line.rsplit("} ", 1)[-1].split()) == 1 or "{" not in line, line
