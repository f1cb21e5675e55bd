"""Codex rollout log reader and the ``codex`` provider: every counting rule, incremental tailing
without double counting, rate-limit snapshots, and a comparison with ccusage 20.0.24."""

from __future__ import annotations

import asyncio
import fcntl
import json
import os
import shutil
import subprocess
import threading
from collections import defaultdict
from collections.abc import Iterator, Mapping, Sequence
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any, cast

import aiohttp
import pytest
from pydantic import ValidationError

from exporter import codex_logs
from exporter.codex_logs import (
    FALLBACK_MODEL,
    CodexLogReader,
    parse_rate_limits,
    project_of,
)
from exporter.config import AccountConfig, Config
from exporter.pricing import Catalog, ModelPrice, Tier
from exporter.providers import PROVIDERS
from exporter.providers.base import DIMENSIONS, SourceContext
from exporter.providers.codex import PROVIDER, READER_MEMO, CodexOptions, log_records
from exporter.records import (
    EstimatedCostRecord,
    GaugeRecord,
    Record,
    TokenRecord,
    UnpricedTokenRecord,
)
from exporter.snapshot import MonthToDateGuard, SourceState, build_snapshot
from exporter.upstream import RequestStats, Upstream
from tests.corpora.codex import UNKNOWN_MODEL, CodexCorpus, build_codex_home, write_lines

M = Decimal(1_000_000)
DAY = "2026/10/05"


def _price(model: str, inp: str, cached: str, out: str, tiers: tuple[Tier, ...] = ()) -> ModelPrice:
    per = {
        "input": Decimal(inp) / M,
        "cache_read": Decimal(cached) / M,
        "cache_write_5m": Decimal(inp) / M,
        "cache_write_1h": Decimal(inp) / M,
        "output": Decimal(out) / M,
    }
    return ModelPrice("openai", model, "config", per, tiers)


#: Hand-built until the genai-prices catalog lands; gpt-5 has a tier so per-turn pricing
#: differs from pricing day totals.
GPT5_TIER = Tier(
    100_000, {"input": Decimal("2.5") / M, "cache_read": Decimal("0.25") / M, "output": 15 / M}
)
CATALOG = Catalog(
    {
        ("openai", "gpt-5-codex"): _price("gpt-5-codex", "1.25", "0.125", "10"),
        ("openai", "gpt-5"): _price("gpt-5", "1.25", "0.125", "10", (GPT5_TIER,)),
        ("openai", "gpt-5.1-codex-mini"): _price("gpt-5.1-codex-mini", "0.25", "0.025", "2"),
    },
    {"config": 1.7e9},
)


# --------------------------------------------------------------------------- line builders


def usage(inp: int, cached: int, out: int, reasoning: int = 0) -> dict[str, int]:
    return {
        "input_tokens": inp,
        "cached_input_tokens": cached,
        "output_tokens": out,
        "reasoning_output_tokens": reasoning,
        "total_tokens": inp + out,
    }


def meta(ts: str, session: str, cwd: str = "/w/app", **extra: Any) -> dict[str, Any]:
    payload = {"id": session, "timestamp": ts, "cwd": cwd, **extra}
    return {"timestamp": ts, "type": "session_meta", "payload": payload}


def context(ts: str, model: str, cwd: str | None = None) -> dict[str, Any]:
    payload: dict[str, Any] = {"model": model}
    if cwd is not None:
        payload["cwd"] = cwd
    return {"timestamp": ts, "type": "turn_context", "payload": payload}


def token_count(
    ts: str | int | None,
    *,
    last: Mapping[str, int] | None = None,
    total: Mapping[str, int] | None = None,
    rate_limits: Mapping[str, Any] | None = None,
    null_info: bool = False,
    **payload_extra: Any,
) -> dict[str, Any]:
    info: dict[str, Any] | None = None
    if not null_info:
        info = {}
        if total is not None:
            info["total_token_usage"] = total
        if last is not None:
            info["last_token_usage"] = last
    payload: dict[str, Any] = {"type": "token_count", "info": info, **payload_extra}
    if rate_limits is not None:
        payload["rate_limits"] = rate_limits
    line: dict[str, Any] = {"type": "event_msg", "payload": payload}
    if ts is not None:
        line["timestamp"] = ts
    return line


def rollout(home: Path, name: str, lines: Sequence[Mapping[str, Any]], day: str = DAY) -> Path:
    folder = home / "sessions" / day
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"rollout-{name}.jsonl"
    write_lines(path, lines)
    return path


def reader(home: Path, catalog: Catalog = CATALOG, **kw: Any) -> CodexLogReader:
    result = CodexLogReader([home], **kw)
    result.refresh(catalog)
    return result


def totals(r: CodexLogReader) -> dict[tuple[date, str, str], tuple[int, int, int]]:
    return {(b.day, b.project, b.model): (b.input, b.cache_read, b.output) for b in r.buckets()}


def grand(r: CodexLogReader) -> tuple[int, int, int]:
    found = r.buckets()
    return (
        sum(b.input for b in found),
        sum(b.cache_read for b in found),
        sum(b.output for b in found),
    )


def by_model(r: CodexLogReader) -> dict[str, tuple[int, int, int]]:
    sums: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0])
    for b in r.buckets():
        s = sums[b.model]
        s[0] += b.input
        s[1] += b.cache_read
        s[2] += b.output
    return {model: (a, b, c) for model, (a, b, c) in sums.items()}


@pytest.fixture
def home(tmp_path: Path) -> Path:
    return tmp_path / "codex"


# --------------------------------------------------------------------------- counting rules


def test_last_token_usage_is_one_turn_and_maps_to_disjoint_types(home: Path) -> None:
    rollout(
        home,
        "a",
        [
            meta("2026-10-05T08:00:00.000Z", "s1"),
            context("2026-10-05T08:00:01.000Z", "gpt-5-codex"),
            token_count(
                "2026-10-05T08:01:00.000Z",
                last=usage(1000, 300, 200, reasoning=150),
                total=usage(1000, 300, 200, 150),
            ),
            token_count(
                "2026-10-05T08:02:00.000Z",
                last=usage(500, 400, 50, reasoning=10),
                total=usage(1500, 700, 250, 160),
            ),
        ],
    )
    # input excludes cached input; output already includes reasoning tokens
    assert totals(reader(home)) == {(date(2026, 10, 5), "app", "gpt-5-codex"): (800, 700, 250)}


def test_cumulative_totals_only_are_differenced(home: Path) -> None:
    rollout(
        home,
        "a",
        [
            context("2026-10-05T08:00:00.000Z", "gpt-5"),
            token_count("2026-10-05T08:01:00.000Z", total=usage(1000, 100, 200)),
            token_count("2026-10-05T08:02:00.000Z", total=usage(1600, 300, 450)),
            token_count("2026-10-05T08:03:00.000Z", total=usage(1700, 300, 500)),
        ],
    )
    assert grand(reader(home)) == (1700 - 300, 300, 500)


def test_repeated_cumulative_total_counts_nothing_even_with_last_usage(home: Path) -> None:
    first = usage(1000, 100, 200)
    rollout(
        home,
        "a",
        [
            context("2026-10-05T08:00:00.000Z", "gpt-5"),
            token_count("2026-10-05T08:01:00.000Z", last=first, total=first),
            token_count("2026-10-05T08:01:01.000Z", last=first, total=first),
            token_count("2026-10-05T08:01:02.000Z", total=first),
        ],
    )
    assert grand(reader(home)) == (900, 100, 200)


def test_last_usage_without_cumulative_counts_every_event(home: Path) -> None:
    turn = usage(100, 0, 10)
    rollout(
        home,
        "a",
        [
            context("2026-10-05T08:00:00.000Z", "gpt-5"),
            token_count("2026-10-05T08:01:00.000Z", last=turn),
            token_count("2026-10-05T08:02:00.000Z", last=turn),
        ],
    )
    assert grand(reader(home)) == (200, 0, 20)


def test_null_info_zero_usage_and_shrinking_totals_count_nothing(home: Path) -> None:
    rollout(
        home,
        "a",
        [
            context("2026-10-05T08:00:00.000Z", "gpt-5"),
            token_count("2026-10-05T08:00:30.000Z", null_info=True),
            token_count("2026-10-05T08:01:00.000Z", total=usage(1000, 100, 200)),
            token_count("2026-10-05T08:02:00.000Z", last=usage(0, 0, 0)),
            # a cumulative total below the previous one never yields negative tokens
            token_count("2026-10-05T08:03:00.000Z", total=usage(400, 50, 100)),
            token_count("2026-10-05T08:04:00.000Z", total=usage(500, 50, 150)),
        ],
    )
    assert grand(reader(home)) == (900 + 100, 100, 200 + 50)


def test_cached_input_is_capped_at_input(home: Path) -> None:
    rollout(
        home,
        "a",
        [
            context("2026-10-05T08:00:00.000Z", "gpt-5"),
            token_count("2026-10-05T08:01:00.000Z", last=usage(100, 250, 10)),
        ],
    )
    assert grand(reader(home)) == (0, 100, 10)


def test_model_follows_the_latest_turn_context_and_the_events_own_model(home: Path) -> None:
    turn = usage(100, 0, 10)
    rollout(
        home,
        "a",
        [
            context("2026-10-05T08:00:00.000Z", "gpt-5-codex"),
            token_count("2026-10-05T08:01:00.000Z", last=turn),
            context("2026-10-05T08:02:00.000Z", " gpt-5.1-codex-mini "),
            token_count("2026-10-05T08:03:00.000Z", last=turn),
            token_count("2026-10-05T08:04:00.000Z", last=turn, model="gpt-5"),
            token_count("2026-10-05T08:05:00.000Z", last=turn),  # the event's model sticks
        ],
    )
    assert by_model(reader(home)) == {
        "gpt-5-codex": (100, 0, 10),
        "gpt-5.1-codex-mini": (100, 0, 10),
        "gpt-5": (200, 0, 20),
    }


def test_usage_before_any_model_is_counted_as_gpt5_and_flagged(home: Path) -> None:
    turn = usage(100, 0, 10)
    rollout(
        home,
        "a",
        [
            meta("2026-10-05T08:00:00.000Z", "s1"),
            token_count("2026-10-05T08:01:00.000Z", last=turn),
            token_count("2026-10-05T08:02:00.000Z", last=turn),
            context("2026-10-05T08:03:00.000Z", "gpt-5-codex"),
            token_count("2026-10-05T08:04:00.000Z", last=turn),
        ],
    )
    found = reader(home)
    assert FALLBACK_MODEL == "gpt-5"
    assert by_model(found) == {"gpt-5": (200, 0, 20), "gpt-5-codex": (100, 0, 10)}
    assert found.fallback_events == 2


def test_days_are_utc_days_of_the_event_time(home: Path) -> None:
    turn = usage(100, 0, 10)
    rollout(
        home,
        "a",
        [
            context("2026-10-05T23:00:00.000Z", "gpt-5"),
            token_count("2026-10-05T23:59:59.999Z", last=turn),
            token_count("2026-10-06T01:30:00+02:00", last=turn),  # 23:30 UTC on the 5th
            token_count(1_791_331_200_000, last=turn),  # 2026-10-07T00:00:00Z in milliseconds
        ],
    )
    days = sorted({b.day for b in reader(home).buckets()})
    assert days == [date(2026, 10, 5), date(2026, 10, 7)]
    assert {b.day: b.input for b in reader(home).buckets()} == {
        date(2026, 10, 5): 200,
        date(2026, 10, 7): 100,
    }


@pytest.mark.parametrize(
    ("mode", "cwd", "label"),
    [
        ("basename", "/home/me/src/webapp", "webapp"),
        ("basename", "/srv/work/infra/", "infra"),
        ("basename", "C:\\Users\\me\\tools", "tools"),
        ("basename", "/", "/"),
        ("path", "/home/me/src/webapp", "/home/me/src/webapp"),
        ("off", "/home/me/src/webapp", ""),
        ("basename", "", ""),
    ],
)
def test_project_label_modes(mode: codex_logs.ProjectLabel, cwd: str, label: str) -> None:
    assert project_of(cwd, mode) == label


def test_project_comes_from_session_meta_then_turn_context(home: Path) -> None:
    turn = usage(100, 0, 10)
    rollout(
        home,
        "a",
        [
            meta("2026-10-05T08:00:00.000Z", "s1", cwd="/w/first"),
            context("2026-10-05T08:00:01.000Z", "gpt-5"),
            token_count("2026-10-05T08:01:00.000Z", last=turn),
            context("2026-10-05T08:02:00.000Z", "gpt-5", cwd="/w/second"),
            token_count("2026-10-05T08:03:00.000Z", last=turn),
        ],
    )
    projects = {b.project for b in reader(home).buckets()}
    assert projects == {"first", "second"}
    assert {b.project for b in reader(home, project_label="off").buckets()} == {""}


# --------------------------------------------------------------------------- skipped lines


def test_malformed_and_invalid_lines_are_skipped_and_counted(home: Path) -> None:
    path = rollout(
        home,
        "a",
        [
            context("2026-10-05T08:00:00.000Z", "gpt-5"),
            token_count("2026-10-05T08:01:00.000Z", total=usage(1000, 0, 100)),
        ],
    )
    with path.open("a", encoding="utf-8") as out:
        out.write('{"type":"event_msg","payload":{"type":"token_count","info":{"total_tok\n')
        out.write("token_count garbage\n")
        out.write('[1, 2, 3, "turn_context"]\n')
        out.write('{"type":"response_item","payload":{"text":"not relevant, never decoded"\n')
    write_lines(
        path,
        [
            token_count("2026-10-05T08:02:00.000Z", total=usage(-1, 0, 5)),
            token_count("2026-10-05T08:02:00.000Z", last={"input_tokens": "lots"}),
            token_count(None, last=usage(10, 0, 1)),
            token_count("yesterday", total=usage(1500, 0, 150)),
            {"timestamp": "2026-10-05T08:02:30.000Z", "type": "turn_context", "payload": [1]},
            # the unparseable time above still advanced the cumulative total
            token_count("2026-10-05T08:03:00.000Z", total=usage(1600, 0, 160)),
        ],
        mode="a",
    )
    found = reader(home)
    assert found.skipped() == {"malformed": 3, "invalid": 5}
    assert grand(found) == (1100, 0, 110)


def test_spaced_json_is_read_and_response_items_are_never_decoded(home: Path) -> None:
    folder = home / "sessions" / DAY
    folder.mkdir(parents=True)
    lines = [
        json.dumps(context("2026-10-05T08:00:00.000Z", "gpt-5")),  # ", " and ": " separators
        json.dumps(token_count("2026-10-05T08:01:00.000Z", last=usage(100, 0, 10))),
        # a cut-off response item quoting a token_count: irrelevant, not a skipped line
        '{"timestamp":"2026-10-05T08:02:00.000Z","type":"response_item","payload":{"text":"'
        '{\\"type\\":\\"token_count\\"',
        '{"timestamp":"2026-10-05T08:02:00.000Z","type":"event_msg","payload":{"type":'
        '"exec_command_end","stdout":"token_count"',
    ]
    (folder / "rollout-a.jsonl").write_text("".join(line + "\n" for line in lines))
    found = reader(home)
    assert grand(found) == (100, 0, 10)
    assert found.skipped() == {"malformed": 0, "invalid": 0}


def test_string_numbers_and_nulls_are_accepted(home: Path) -> None:
    rollout(
        home,
        "a",
        [
            context("2026-10-05T08:00:00.000Z", "gpt-5"),
            token_count(
                "2026-10-05T08:01:00.000Z",
                last={"input_tokens": "120", "cached_input_tokens": None, "output_tokens": 7},
            ),
        ],
    )
    found = reader(home)
    assert grand(found) == (120, 0, 7)
    assert found.skipped() == {"malformed": 0, "invalid": 0}


# --------------------------------------------------------------------------- forks and copies

PARENT_TURNS = (usage(1000, 100, 200, 20), usage(600, 200, 250, 20))


def _parent(home: Path, *, after_fork: bool = True) -> list[dict[str, Any]]:
    lines = [
        meta("2026-05-12T08:00:00.000Z", "parent"),
        context("2026-05-12T08:00:01.000Z", "gpt-5.2"),
        token_count("2026-05-12T08:01:00.000Z", last=PARENT_TURNS[0], total=PARENT_TURNS[0]),
        token_count(
            "2026-05-12T08:02:00.000Z",
            last=PARENT_TURNS[1],
            total=usage(1600, 300, 450, 40),
        ),
    ]
    if after_fork:  # recorded after the forks below: never copied, never masked
        lines.append(
            token_count(
                "2026-05-12T09:00:00.000Z", last=usage(50, 0, 5), total=usage(1650, 300, 455, 40)
            )
        )
    rollout(home, "2026-05-12T08-00-00-parent", lines, day="2026/05/12")
    return lines


def _copied_history(stamps: Sequence[str]) -> list[dict[str, Any]]:
    return [
        context(stamps[0], "gpt-5.2"),
        token_count(stamps[1], last=PARENT_TURNS[0], total=PARENT_TURNS[0]),
        token_count(stamps[2], last=PARENT_TURNS[1], total=usage(1600, 300, 450, 40)),
    ]


def _own_turn(ts: str) -> dict[str, Any]:
    return token_count(ts, last=usage(50, 0, 5), total=usage(1650, 300, 455, 40))


PARENT_TOTAL = (900 + 400 + 50, 300, 455)


@pytest.mark.parametrize(
    "fork_meta",
    [
        {"forked_from_id": "parent"},
        {"source": {"subagent": {"thread_spawn": {"parent_thread_id": "parent"}}}},
    ],
)
@pytest.mark.parametrize("rewritten", [False, True])
def test_fork_skips_the_history_copied_from_its_parent(
    home: Path, fork_meta: dict[str, Any], rewritten: bool
) -> None:
    _parent(home)
    stamps = (
        ["2026-05-12T08:30:00.100Z", "2026-05-12T08:30:00.200Z", "2026-05-12T08:30:00.300Z"]
        if rewritten
        else ["2026-05-12T08:00:01.000Z", "2026-05-12T08:01:00.000Z", "2026-05-12T08:02:00.000Z"]
    )
    rollout(
        home,
        "2026-05-12T08-30-00-child",
        [
            meta("2026-05-12T08:30:00.000Z", "child", **fork_meta),
            *_copied_history(stamps),
            # the child's own turn equals the parent's post-fork turn: still counted
            _own_turn("2026-05-12T08:35:00.000Z"),
        ],
        day="2026/05/12",
    )
    assert grand(reader(home)) == (PARENT_TOTAL[0] + 50, 300, PARENT_TOTAL[2] + 5)


def test_fork_without_its_parent_skips_the_history_rewritten_into_one_second(home: Path) -> None:
    rollout(
        home,
        "2026-05-12T10-00-00-orphan",
        [
            meta("2026-05-12T10:00:00.000Z", "orphan", forked_from_id="gone"),
            *_copied_history(
                ["2026-05-12T10:00:00.100Z", "2026-05-12T10:00:00.200Z", "2026-05-12T10:00:00.300Z"]
            ),
            _own_turn("2026-05-12T10:05:00.000Z"),
        ],
        day="2026/05/12",
    )
    assert grand(reader(home)) == (50, 0, 5)


def test_fork_without_its_parent_and_without_a_shared_second_counts_everything(
    home: Path,
) -> None:
    rollout(
        home,
        "2026-05-12T10-00-00-orphan",
        [
            meta("2026-05-12T10:00:00.000Z", "orphan", forked_from_id="gone"),
            *_copied_history(
                ["2026-05-12T10:00:00.100Z", "2026-05-12T10:00:01.000Z", "2026-05-12T10:00:02.000Z"]
            ),
        ],
        day="2026/05/12",
    )
    assert grand(reader(home)) == (900 + 400, 300, 450)


def test_identical_events_in_two_files_count_once(home: Path) -> None:
    parent = _parent(home)
    branch = [meta("2026-05-12T08:50:00.000Z", "branch"), *parent[1:]]
    branch.append(
        token_count(
            "2026-05-12T09:10:00.000Z", last=usage(70, 0, 7), total=usage(1720, 300, 462, 40)
        )
    )
    rollout(home, "2026-05-12T08-50-00-branch", branch, day="2026/05/12")
    assert grand(reader(home)) == (PARENT_TOTAL[0] + 70, 300, PARENT_TOTAL[2] + 7)


def test_sessions_win_over_archived_copies(home: Path) -> None:
    active = rollout(
        home,
        "2026-10-05T08-00-00-s1",
        [
            context("2026-10-05T08:00:00.000Z", "gpt-5"),
            token_count("2026-10-05T08:01:00.000Z", last=usage(100, 0, 10)),
        ],
    )
    archived = home / "archived_sessions"
    archived.mkdir()
    # same file name (Codex archives flat), with different content: never read
    write_lines(
        archived / active.name,
        [
            context("2026-10-05T08:00:00.000Z", "gpt-5"),
            token_count("2026-10-05T09:00:00.000Z", last=usage(999, 0, 99)),
        ],
    )
    write_lines(
        archived / "rollout-2026-09-01T08-00-00-old.jsonl",
        [
            context("2026-09-01T08:00:00.000Z", "gpt-5"),
            token_count("2026-09-01T08:01:00.000Z", last=usage(7, 0, 1)),
        ],
    )
    # same path relative to archived_sessions as to sessions: never read either
    nested = archived / active.relative_to(home / "sessions")
    nested.parent.mkdir(parents=True)
    nested.write_bytes((archived / active.name).read_bytes())
    found = reader(home)
    assert grand(found) == (107, 0, 11)


def test_a_directory_without_sessions_is_read_as_rollouts_and_missing_homes_warn(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    plain = tmp_path / "plain"
    plain.mkdir()
    write_lines(
        plain / "rollout-x.jsonl",
        [
            context("2026-10-05T08:00:00.000Z", "gpt-5"),
            token_count("2026-10-05T08:01:00.000Z", last=usage(5, 0, 1)),
        ],
    )
    assert grand(reader(plain)) == (5, 0, 1)
    missing = CodexLogReader([tmp_path / "nope"])
    missing.refresh(CATALOG)
    missing.refresh(CATALOG)
    assert missing.buckets() == []
    assert [r.message for r in caplog.records].count(
        f"codex logs: no sessions/ or archived_sessions/ under {tmp_path / 'nope'}; "
        "nothing to read (set options.paths or CODEX_HOME)"
    ) == 1


# --------------------------------------------------------------------------- rate limits


def _window(used: float, minutes: int | None, **reset: int) -> dict[str, Any]:
    window: dict[str, Any] = {"used_percent": used, **reset}
    if minutes is not None:
        window["window_minutes"] = minutes
    return window


def test_rate_limit_windows_are_named_by_length_never_by_position() -> None:
    at = datetime(2026, 10, 5, 8, 0, tzinfo=UTC)
    snapshot = parse_rate_limits(
        json.loads(
            json.dumps(
                {
                    "primary": _window(41.5, 10080, resets_at=1_800_000_000),
                    "secondary": _window(3, 60, resets_in_seconds=90),
                    "credits": {"has_credits": True, "unlimited": False, "balance": "9.5"},
                    "plan_type": "plus",
                }
            ),
            parse_float=Decimal,
        ),
        at,
    )
    assert snapshot is not None
    assert [(w.name, w.used_ratio, w.window_seconds, w.resets_at) for w in snapshot.windows] == [
        ("7d", Decimal("0.415"), 604800, Decimal(1_800_000_000)),
        ("3600s", Decimal("0.03"), 3600, Decimal(int(at.timestamp()) + 90)),
    ]
    assert snapshot.plan_type == "plus"
    assert snapshot.credits_balance == Decimal("9.5")
    assert not snapshot.is_placeholder


def test_rate_limit_edge_cases() -> None:
    at = datetime(2026, 10, 5, 8, 0, tzinfo=UTC)
    no_length = parse_rate_limits({"primary": _window(10, None, resets_at=1)}, at)
    assert no_length is not None and no_length.windows == ()
    assert parse_rate_limits({"limit_id": "codex_other", "primary": _window(9, 300)}, at) is None
    assert parse_rate_limits(None, at) is None
    zero = parse_rate_limits({"primary": _window(0, 300), "secondary": _window(0, 10080)}, at)
    assert zero is not None and zero.is_placeholder
    with pytest.raises(codex_logs.InvalidResponseError):
        parse_rate_limits({"primary": _window(-1, 300)}, at)
    with pytest.raises(codex_logs.InvalidResponseError):
        parse_rate_limits({"primary": "full"}, at)


def test_latest_real_snapshot_across_files_wins_over_placeholders(home: Path) -> None:
    limits = {"primary": _window(20, 300, resets_at=1_900_000_000)}
    newer = {"primary": _window(35, 300, resets_at=1_900_000_000)}
    zeros = {"primary": _window(0, 300, resets_at=1_900_000_000)}
    broken = {"primary": "x"}
    rollout(
        home,
        "b",
        [token_count("2026-10-05T09:00:00.000Z", null_info=True, rate_limits=newer)],
    )
    rollout(
        home,
        "a",
        [
            token_count("2026-10-05T08:00:00.000Z", null_info=True, rate_limits=limits),
            token_count("2026-10-05T10:00:00.000Z", null_info=True, rate_limits=zeros),
            token_count("2026-10-05T10:01:00.000Z", null_info=True, rate_limits=broken),
        ],
    )
    snapshot = reader(home).rate_limits()
    assert snapshot is not None
    assert snapshot.observed_at == datetime(2026, 10, 5, 9, 0, tzinfo=UTC)
    assert snapshot.windows[0].used_ratio == Decimal("0.35")


# --------------------------------------------------------------------------- incremental reading


def test_appended_lines_are_read_once(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = rollout(
        home,
        "a",
        [
            meta("2026-10-05T08:00:00.000Z", "s1"),
            context("2026-10-05T08:00:01.000Z", "gpt-5"),
            token_count("2026-10-05T08:01:00.000Z", total=usage(1000, 100, 100)),
        ],
    )
    starts: list[int] = []
    original = codex_logs._complete_lines

    def spy(p: Path, start: int = 0) -> Iterator[tuple[int, bytes]]:
        if p == path:
            starts.append(start)
        return original(p, start)

    monkeypatch.setattr(codex_logs, "_complete_lines", spy)
    found = reader(home)
    assert grand(found) == (900, 100, 100)
    size = path.stat().st_size
    found.refresh(CATALOG)  # nothing new: the file is not even opened
    assert starts == [0]
    write_lines(
        path, [token_count("2026-10-05T08:02:00.000Z", total=usage(1500, 300, 150))], mode="a"
    )
    found.refresh(CATALOG)
    assert starts == [0, size]
    assert grand(found) == (900 + 300, 300, 150)


def test_an_incomplete_last_line_is_read_once_completed(home: Path) -> None:
    path = rollout(home, "a", [context("2026-10-05T08:00:00.000Z", "gpt-5")])
    line = json.dumps(token_count("2026-10-05T08:01:00.000Z", last=usage(100, 0, 10)))
    with path.open("a", encoding="utf-8") as out:
        out.write(line[:40])
    found = reader(home)
    assert grand(found) == (0, 0, 0)
    assert found.skipped() == {"malformed": 0, "invalid": 0}
    with path.open("a", encoding="utf-8") as out:
        out.write(line[40:] + "\n")
    found.refresh(CATALOG)
    assert grand(found) == (100, 0, 10)


def test_a_file_whose_first_line_is_incomplete_is_read_later(home: Path) -> None:
    folder = home / "sessions" / DAY
    folder.mkdir(parents=True)
    path = folder / "rollout-late.jsonl"
    first = json.dumps(meta("2026-10-05T08:00:00.000Z", "child", forked_from_id="gone"))
    path.write_text(first[:30], encoding="utf-8")
    found = reader(home)
    with path.open("a", encoding="utf-8") as out:
        out.write(first[30:] + "\n")
    write_lines(
        path,
        [
            context("2026-10-05T08:00:00.100Z", "gpt-5"),
            token_count("2026-10-05T08:00:00.200Z", last=usage(500, 0, 50)),
            token_count("2026-10-05T08:00:00.300Z", last=usage(600, 0, 60)),
            token_count("2026-10-05T08:05:00.000Z", last=usage(7, 0, 1)),
        ],
        mode="a",
    )
    found.refresh(CATALOG)
    assert grand(found) == (7, 0, 1)  # the fork metadata of the late first line was honoured


def test_truncated_and_rewritten_files_replace_their_previous_contribution(home: Path) -> None:
    lines = [
        context("2026-10-05T08:00:00.000Z", "gpt-5"),
        token_count("2026-10-05T08:01:00.000Z", last=usage(1000, 0, 100)),
        token_count("2026-10-05T08:02:00.000Z", last=usage(2000, 0, 200)),
    ]
    path = rollout(home, "a", lines)
    found = reader(home)
    assert grand(found) == (3000, 0, 300)
    write_lines(path, lines[:2])  # truncated
    found.refresh(CATALOG)
    assert grand(found) == (1000, 0, 100)
    # rewritten in place with the same size but other content
    other = [
        context("2026-10-05T08:00:00.000Z", "gpt-5"),
        token_count("2026-10-05T08:01:00.000Z", last=usage(4000, 0, 100)),
    ]
    write_lines(path, other)
    assert path.stat().st_size == len(
        "".join(json.dumps(x, separators=(",", ":")) + "\n" for x in lines[:2])
    )
    os.utime(path, ns=(path.stat().st_atime_ns, path.stat().st_mtime_ns + 1_000_000))
    found.refresh(CATALOG)
    assert grand(found) == (4000, 0, 100)


def test_replaced_deleted_and_archived_files(home: Path) -> None:
    first = [
        context("2026-10-05T08:00:00.000Z", "gpt-5"),
        token_count("2026-10-05T08:01:00.000Z", last=usage(100, 0, 10)),
    ]
    path = rollout(home, "2026-10-05T08-00-00-s1", first)
    keep = rollout(
        home,
        "2026-10-05T09-00-00-s2",
        [
            context("2026-10-05T09:00:00.000Z", "gpt-5"),
            token_count("2026-10-05T09:01:00.000Z", last=usage(5, 0, 1)),
        ],
    )
    found = reader(home)
    assert grand(found) == (105, 0, 11)
    # replaced by another file (a new inode) under the same name
    replacement = path.with_suffix(".tmp")
    write_lines(
        replacement,
        [
            context("2026-10-05T08:00:00.000Z", "gpt-5"),
            token_count("2026-10-05T08:01:00.000Z", last=usage(300, 0, 30)),
        ],
    )
    replacement.replace(path)
    found.refresh(CATALOG)
    assert grand(found) == (305, 0, 31)
    # archived by Codex: moved to the flat archived_sessions/
    (home / "archived_sessions").mkdir()
    path.rename(home / "archived_sessions" / path.name)
    found.refresh(CATALOG)
    assert grand(found) == (305, 0, 31)
    keep.unlink()
    found.refresh(CATALOG)
    assert grand(found) == (300, 0, 30)


def test_dropping_the_file_that_counted_a_shared_event_keeps_the_copy(home: Path) -> None:
    lines = [
        context("2026-10-05T08:00:00.000Z", "gpt-5"),
        token_count("2026-10-05T08:01:00.000Z", last=usage(100, 0, 10)),
    ]
    first = rollout(home, "2026-10-05T08-00-00-a", lines)
    rollout(
        home,
        "2026-10-05T08-10-00-b",
        [*lines, token_count("2026-10-05T08:20:00.000Z", last=usage(1, 0, 1))],
    )
    found = reader(home)
    assert grand(found) == (101, 0, 11)
    first.unlink()
    found.refresh(CATALOG)
    assert grand(found) == (101, 0, 11)


def test_skipped_lines_are_counted_once_across_rereads(home: Path) -> None:
    path = rollout(
        home,
        "a",
        [
            context("2026-10-05T08:00:00.000Z", "gpt-5"),
            token_count("2026-10-05T08:01:00.000Z", last=usage(10, 0, 1)),
        ],
    )
    with path.open("a", encoding="utf-8") as out:
        out.write("token_count ???\n")
    found = reader(home, catalog=Catalog())
    assert found.skipped()["malformed"] == 1
    assert [b.cost_usd for b in found.buckets()] == [None]
    found.refresh(CATALOG)  # gpt-5 now has a price: every file is read again
    assert found.skipped()["malformed"] == 1
    assert [(b.input, b.output) for b in found.buckets()] == [(10, 1)]
    assert found.buckets()[0].cost_usd == CATALOG.lookup("openai", "gpt-5").request_cost(  # type: ignore[union-attr]
        10, 0, 0, 0, 1
    )


def test_prices_follow_the_catalog_without_double_counting(home: Path) -> None:
    rollout(
        home,
        "a",
        [
            context("2026-10-05T08:00:00.000Z", "new-model"),
            token_count("2026-10-05T08:01:00.000Z", last=usage(1_000_000, 0, 1_000_000)),
        ],
    )
    found = reader(home)
    assert [b.cost_usd for b in found.buckets()] == [None]
    priced = Catalog({("openai", "new-model"): _price("new-model", "1", "0.1", "4")})
    found.refresh(priced)
    assert [(b.input, b.output, b.cost_usd) for b in found.buckets()] == [
        (1_000_000, 1_000_000, Decimal(5))
    ]


async def test_refresh_runs_in_a_thread_and_never_twice_at_once(home: Path) -> None:
    rollout(
        home,
        "a",
        [
            context("2026-10-05T08:00:00.000Z", "gpt-5"),
            token_count("2026-10-05T08:01:00.000Z", last=usage(10, 0, 1)),
        ],
    )
    started = threading.Event()
    release = threading.Event()
    running = 0
    peak = 0
    calls = 0
    lock = threading.Lock()

    class SlowCatalog(Catalog):
        def lookup(self, provider: str, model: str) -> ModelPrice | None:
            nonlocal running, peak, calls
            with lock:
                running += 1
                calls += 1
                peak = max(peak, running)
            started.set()
            release.wait()
            with lock:
                running -= 1
            return None

    found = CodexLogReader([home])
    first = asyncio.create_task(found.refresh_async(SlowCatalog()))
    await asyncio.to_thread(started.wait)
    first.cancel()  # a poll timing out: the refresh itself keeps going
    with pytest.raises(asyncio.CancelledError):
        await first
    second = asyncio.create_task(found.refresh_async(SlowCatalog()))
    await asyncio.sleep(0)
    release.set()
    await second
    assert (peak, calls) == (1, 2)  # the second poll's refresh ran after the first ended
    assert grand(found) == (10, 0, 1)


# --------------------------------------------------------------------------- the corpus


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> CodexCorpus:
    return build_codex_home(tmp_path_factory.mktemp("corpus") / "codex")


@pytest.mark.parametrize("mode", ["basename", "path", "off"])
def test_corpus_totals_match_the_generated_turns(corpus: CodexCorpus, mode: str) -> None:
    found = reader(corpus.home, project_label=mode)
    assert totals(found) == corpus.expected(mode)
    assert found.skipped() == {"malformed": corpus.malformed_lines, "invalid": corpus.invalid_lines}
    assert found.fallback_events == corpus.fallback_turns > 0


def test_corpus_is_deterministic(tmp_path: Path, corpus: CodexCorpus) -> None:
    again = build_codex_home(tmp_path / "again")
    assert again.turns == corpus.turns
    names = sorted(p.relative_to(corpus.home) for p in corpus.home.rglob("*.jsonl"))
    assert names == sorted(p.relative_to(again.home) for p in again.home.rglob("*.jsonl"))
    for name in names:
        assert (corpus.home / name).read_bytes() == (again.home / name).read_bytes()


def _write_times(lines: Sequence[bytes]) -> list[datetime]:
    """When Codex wrote each line: its timestamp, but never before the lines above it (a
    fork's copied history is written together with its first line)."""
    times: list[datetime] = []
    for line in lines:
        try:
            stamp = json.loads(line)["timestamp"]
            at = datetime.fromisoformat(stamp.replace("Z", "+00:00"))
        except (ValueError, KeyError, TypeError, AttributeError):
            at = times[-1]
        times.append(max(at, times[-1]) if times else at)
    return times


def test_corpus_read_while_it_is_written_equals_one_read(
    tmp_path: Path, corpus: CodexCorpus
) -> None:
    """Polls while Codex writes the corpus line by line: same totals, nothing counted twice."""
    home = tmp_path / "codex"
    files = sorted(corpus.home.rglob("*.jsonl"))
    contents = {p: p.read_bytes().splitlines(keepends=True) for p in files}
    times = {p: _write_times(lines) for p, lines in contents.items()}
    moments = sorted({t for written in times.values() for t in written})
    found = CodexLogReader([home])
    polls = 0
    for moment in [*moments[::3], moments[-1]]:
        for source, lines in contents.items():
            visible = sum(t <= moment for t in times[source])
            if not visible:
                continue
            target = home / source.relative_to(corpus.home)
            data = b"".join(lines[:visible])
            if not target.exists() or target.stat().st_size != len(data):
                target.parent.mkdir(parents=True, exist_ok=True)
                with target.open("ab") as out:  # append only, like Codex
                    out.write(data[target.stat().st_size if target.exists() else 0 :])
        found.refresh(CATALOG)
        polls += 1
    assert polls > 100
    assert totals(found) == corpus.expected()
    assert found.skipped() == {"malformed": corpus.malformed_lines, "invalid": corpus.invalid_lines}


def _context(corpus: CodexCorpus, **kw: Any) -> SourceContext:
    now = corpus.now
    return SourceContext(
        upstream=Upstream(cast(aiohttp.ClientSession, None), "", {}, RequestStats()),
        start=now.replace(day=1, hour=0, minute=0, second=0, microsecond=0),
        end=now,
        group_by=kw.pop("group_by", frozenset(DIMENSIONS)),
        options=CodexOptions(paths=(corpus.home,), **kw),
        catalog=CATALOG,
        memo={},
    )


def _turn_cost(turn: Any) -> Decimal:
    price = CATALOG.lookup("openai", turn.model)
    assert price is not None
    return price.request_cost(turn.input - turn.cached, turn.cached, 0, 0, turn.output)


async def test_logs_source_yields_the_month_priced_per_turn(corpus: CodexCorpus) -> None:
    ctx = _context(corpus)
    records = await PROVIDER.sources["logs"](ctx)
    october = [t for t in corpus.turns if t.at.month == 10]

    tokens = [r for r in records if isinstance(r, TokenRecord)]
    assert all(r.priced_by_source and r.api_key == "" and r.cache_write == 0 for r in tokens)
    assert min(r.start for r in tokens) >= ctx.start  # September is not this month
    found = {
        (r.start.date(), r.project, r.model): (r.input, r.cache_read, r.output) for r in tokens
    }
    assert found == {k: v for k, v in corpus.expected().items() if k[0].month == 10}

    cost = sum((r.amount_usd for r in records if isinstance(r, EstimatedCostRecord)), Decimal(0))
    assert cost == sum((_turn_cost(t) for t in october if t.model != UNKNOWN_MODEL), Decimal(0))
    # per turn, not per day: the gpt-5 tier applies to single large turns only
    bucket_priced = Decimal(0)
    for (day_, _, model), (inp, cached, out) in corpus.expected().items():
        price = CATALOG.lookup("openai", model)
        if day_.month == 10 and price is not None:
            bucket_priced += price.request_cost(inp, cached, 0, 0, out)
    assert cost != bucket_priced

    unpriced: dict[str, int] = defaultdict(int)
    for r in records:
        if isinstance(r, UnpricedTokenRecord):
            assert r.model == UNKNOWN_MODEL
            unpriced[r.token_type] += r.tokens
    unknown = [t for t in october if t.model == UNKNOWN_MODEL]
    assert dict(unpriced) == {
        "input": sum(t.input - t.cached for t in unknown),
        "cache_read": sum(t.cached for t in unknown),
        "output": sum(t.output for t in unknown),
    }

    gauges = {(r.metric, r.labels): r.value for r in records if isinstance(r, GaugeRecord)}
    assert gauges == {
        ("llm_quota_utilization_ratio", (("window", "7d"),)): Decimal("0.415"),
        ("llm_quota_window_seconds", (("window", "7d"),)): Decimal(604800),
        ("llm_quota_resets_at_timestamp_seconds", (("window", "7d"),)): Decimal(
            corpus.quota["7d"][2]
        ),
        ("llm_quota_utilization_ratio", (("window", "5h"),)): Decimal("0.23"),
        ("llm_quota_window_seconds", (("window", "5h"),)): Decimal(18000),
        ("llm_quota_resets_at_timestamp_seconds", (("window", "5h"),)): Decimal(
            corpus.quota["5h"][2]
        ),
        ("llm_log_lines_skipped_total", (("reason", "malformed"),)): Decimal(3),
        ("llm_log_lines_skipped_total", (("reason", "invalid"),)): Decimal(4),
    }
    # the reader survives in the memo and the next poll reads nothing again
    reader_ = ctx.memo[READER_MEMO]
    assert await PROVIDER.sources["logs"](ctx) == records
    assert ctx.memo[READER_MEMO] is reader_


def test_quota_windows_vanish_once_their_reset_has_passed(corpus: CodexCorpus) -> None:
    found = reader(corpus.home)
    ctx = _context(corpus)
    later = SourceContext(
        upstream=ctx.upstream,
        start=ctx.start,
        end=datetime.fromtimestamp(corpus.quota["5h"][2], UTC),
        group_by=ctx.group_by,
    )
    windows = {
        dict(r.labels)["window"]
        for r in log_records(found, later)
        if isinstance(r, GaugeRecord) and r.metric.startswith("llm_quota")
    }
    assert windows == {"7d"}


async def test_dimensions_not_grouped_are_empty_but_unpriced_keeps_the_model(
    corpus: CodexCorpus,
) -> None:
    records = await PROVIDER.sources["logs"](_context(corpus, group_by=frozenset({"api_key"})))
    assert {(r.project, r.model) for r in records if isinstance(r, TokenRecord)} == {("", "")}
    assert {r.model for r in records if isinstance(r, UnpricedTokenRecord)} == {UNKNOWN_MODEL}


async def test_records_feed_the_snapshot(corpus: CodexCorpus) -> None:
    records: Sequence[Record] = await PROVIDER.sources["logs"](_context(corpus))
    config = Config(
        accounts=(AccountConfig(provider="codex", options={"paths": [str(corpus.home)]}),)
    )
    account = config.accounts[0]
    assert (account.provider_label, account.account) == ("openai", "codex")
    state = SourceState("openai", "codex", "logs", stale_after=900)
    state.records = tuple(records)
    state.up = True
    state.last_success = corpus.now.timestamp()
    snapshot = build_snapshot(config, [state], MonthToDateGuard(), corpus.now.timestamp(), CATALOG)
    tokens = snapshot.family("llm_tokens_total")
    assert tokens is not None
    october = [t for t in corpus.turns if t.at.month == 10]
    assert sum(s.value for s in tokens.samples) == sum(t.input + t.output for t in october)
    skipped = snapshot.family("llm_log_lines_skipped_total")
    assert skipped is not None and {s.labels["reason"]: s.value for s in skipped.samples} == {
        "malformed": 3.0,
        "invalid": 4.0,
    }
    quota = snapshot.family("llm_quota_utilization_ratio")
    assert quota is not None
    assert {s.labels["window"]: s.value for s in quota.samples} == {"7d": 0.415, "5h": 0.23}
    assert ("openai", UNKNOWN_MODEL) in snapshot.unpriced_models


# --------------------------------------------------------------------------- registration


def test_provider_spec_and_options(tmp_path: Path) -> None:
    assert PROVIDERS["codex"] is PROVIDER
    assert (PROVIDER.label, PROVIDER.default_account, PROVIDER.needs_key) == (
        "openai",
        "codex",
        False,
    )
    assert PROVIDER.env_var is None and PROVIDER.default_poll_interval == 60
    assert list(PROVIDER.sources) == ["logs"]
    options = CodexOptions.model_validate({"paths": ["~/x"], "project_label": "path"})
    assert options.paths == (Path("~/x").expanduser(),)
    with pytest.raises(ValidationError):
        CodexOptions.model_validate({"project_label": "full"})
    with pytest.raises(ValidationError):
        CodexOptions.model_validate({"paths": []})
    with pytest.raises(ValidationError, match="reads its own credentials"):
        AccountConfig(provider="codex", api_key="sk-fake-never-used")
    with pytest.raises(ValidationError, match="unknown key"):
        AccountConfig(provider="codex", options={"path": str(tmp_path)})


def test_default_home_is_codex_home_or_dot_codex(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CODEX_HOME", "/opt/codex")
    assert CodexOptions().homes() == (Path("/opt/codex"),)
    monkeypatch.setenv("CODEX_HOME", "")
    assert CodexOptions().homes() == (Path("~/.codex").expanduser(),)


# --------------------------------------------------------------------------- ccusage


CCUSAGE_VERSION = "20.0.24"
#: Separate from the Claude comparison's prefix, which another test may be installing into.
CCUSAGE_PREFIX = Path.home() / ".cache" / "llm-cost-exporter-tests" / "ccusage-codex"


def _ccusage() -> Path:
    binary = CCUSAGE_PREFIX / "node_modules" / ".bin" / "ccusage"
    npm = shutil.which("npm")
    if npm is None:
        if os.environ.get("CI") == "true":
            pytest.fail("npm is required in CI for the ccusage comparison")
        pytest.skip("npm is not installed: cannot install ccusage@20.0.24 to compare with")
    CCUSAGE_PREFIX.mkdir(parents=True, exist_ok=True)
    installed = CCUSAGE_PREFIX / "node_modules" / "ccusage" / "package.json"
    with (CCUSAGE_PREFIX / ".install.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # concurrent test runs install once
        version = json.loads(installed.read_text())["version"] if installed.exists() else None
        if version != CCUSAGE_VERSION or not binary.exists():
            subprocess.run(
                [npm, "install", "--prefix", str(CCUSAGE_PREFIX), f"ccusage@{CCUSAGE_VERSION}"],
                check=True,
                capture_output=True,
                timeout=600,
            )
    return binary


def test_monthly_tokens_match_ccusage(corpus: CodexCorpus) -> None:
    binary = _ccusage()
    result = subprocess.run(
        [str(binary), "codex", "monthly", "--json", "--offline", "--timezone", "UTC"],
        env={**os.environ, "TZ": "UTC", "CODEX_HOME": str(corpus.home)},
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    report = json.loads(result.stdout)
    theirs: dict[tuple[str, str], tuple[int, int, int]] = {}
    flagged = set()
    for month in report["monthly"]:
        assert month["cacheCreationTokens"] == 0
        theirs[(month["month"], "")] = (
            month["inputTokens"],
            month["cacheReadTokens"],
            month["outputTokens"],
        )
        for model, row in month["models"].items():
            theirs[(month["month"], model)] = (
                row["inputTokens"],
                row["cacheReadTokens"],
                row["outputTokens"],
            )
            if row["isFallback"]:
                flagged.add((month["month"], model))

    ours: dict[tuple[str, str], list[int]] = defaultdict(lambda: [0, 0, 0])
    for b in reader(corpus.home).buckets():
        for key in ((b.day.strftime("%Y-%m"), ""), (b.day.strftime("%Y-%m"), b.model)):
            ours[key][0] += b.input
            ours[key][1] += b.cache_read
            ours[key][2] += b.output
    # The one documented difference: ccusage reads a negative or fractional count as 0 and
    # keeps the line's other fields. The corpus's two such lines (same time, same model, so
    # one after its deduplication) carry 3 output tokens; the reader skips them as invalid.
    for key in (("2026-09", ""), ("2026-09", "gpt-5")):
        ours[key][2] += 3
    assert theirs == {key: (a, b, c) for key, (a, b, c) in ours.items()}
    assert (
        flagged
        == {(t.at.strftime("%Y-%m"), t.model) for t in corpus.turns if t.fallback}
        == {("2026-09", "gpt-5"), ("2026-10", "gpt-5")}
    )
