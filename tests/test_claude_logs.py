"""Claude Code transcript reader and the ``claude_code`` provider: every deduplication and
validation rule of ccusage 20.0.24, incremental tailing without double counting, 5-hour blocks,
both JSON decoders, the worker-process first pass, and a comparison with ccusage itself."""

from __future__ import annotations

import asyncio
import json
import os
import random
import shutil
import subprocess
import threading
from collections import defaultdict
from collections.abc import Mapping, Sequence
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any, cast

import aiohttp
import pytest
from pydantic import ValidationError

from exporter import claude_logs
from exporter.claude_logs import (
    ClaudeLogReader,
    default_roots,
    has_unsupported_null,
    project_of,
    timestamp_ms,
)
from exporter.config import AccountConfig, Config, PricingConfig
from exporter.pricing import Catalog, ModelPrice, Tier, load_catalog
from exporter.providers import PROVIDERS
from exporter.providers.base import DIMENSIONS, SourceContext
from exporter.providers.claude_code import PROVIDER, READER_MEMO, ClaudeCodeOptions, log_records
from exporter.records import (
    EstimatedCostRecord,
    GaugeRecord,
    TokenRecord,
    UnpricedTokenRecord,
)
from exporter.snapshot import MonthToDateGuard, SourceState, build_snapshot
from exporter.upstream import RequestStats, Upstream
from tests.corpora import claude_code as corpus_module
from tests.corpora.claude_code import Expected, append_calls, generate

M = Decimal(1_000_000)
SONNET = "claude-sonnet-4-20250514"
HAIKU = "claude-haiku-4-5-20251001"
LONG = "claude-long-context-test"
OPUS = "claude-opus-4-6"
DAY = "2026-10-05"


def _price(model: str, inp: str, out: str, tiers: tuple[Tier, ...] = ()) -> ModelPrice:
    base = Decimal(inp) / M
    per = {
        "input": base,
        "cache_read": base / 10,
        "cache_write_5m": base * Decimal("1.25"),
        "cache_write_1h": base * 2,
        "output": Decimal(out) / M,
    }
    return ModelPrice("anthropic", model, "config", per, tiers)


#: Hand-built (unit tests must not move with the bundled price data).
LONG_TIER = Tier(200_000, {"input": 6 / M, "cache_read": Decimal("0.6") / M, "output": 22 / M})
CATALOG = Catalog(
    {
        ("anthropic", SONNET): _price(SONNET, "3", "15"),
        ("anthropic", HAIKU): _price(HAIKU, "1", "5"),
        ("anthropic", LONG): _price(LONG, "3", "15", (LONG_TIER,)),
    },
    {"config": 1.7e9},
)


# --------------------------------------------------------------------------- line builders


def assistant(
    message_id: str | None,
    request_id: str | None,
    ts: str,
    inp: int,
    out: int,
    *,
    write: int = 0,
    read: int = 0,
    breakdown: tuple[int, int] | None = None,
    model: str | None = SONNET,
    side: bool = False,
    session: str | None = "sess-1",
    cwd: str | None = "/home/dev/src/app",
    speed: str | None = None,
    **extra: Any,
) -> dict[str, Any]:
    """An assistant line as Claude Code writes it."""
    usage: dict[str, Any] = {
        "input_tokens": inp,
        "cache_creation_input_tokens": write,
        "cache_read_input_tokens": read,
        "output_tokens": out,
        "service_tier": "standard",
    }
    if breakdown is not None:
        usage["cache_creation"] = {
            "ephemeral_5m_input_tokens": breakdown[0],
            "ephemeral_1h_input_tokens": breakdown[1],
        }
    if speed is not None:
        usage["speed"] = speed
    message: dict[str, Any] = {
        "id": message_id,
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": [{"type": "text", "text": "Looking at the test…"}],
        "stop_reason": None,
        "stop_sequence": None,
        "usage": usage,
    }
    if message_id is None:
        del message["id"]
    if model is None:
        del message["model"]
    line: dict[str, Any] = {
        "parentUuid": None,
        "isSidechain": side,
        "userType": "external",
        "cwd": cwd,
        "sessionId": session,
        "version": "2.0.14",
        "gitBranch": "main",
        "message": message,
        "requestId": request_id,
        "type": "assistant",
        "uuid": "9c1e2f3a-1111-4a2b-8c3d-4e5f6a7b8c9d",
        "timestamp": ts,
    }
    for key, value in (("requestId", request_id), ("sessionId", session), ("cwd", cwd)):
        if value is None:
            del line[key]
    line.update(extra)
    return line


def user(text: str = "fix the failing test") -> dict[str, Any]:
    return {
        "parentUuid": None,
        "isSidechain": False,
        "type": "user",
        "message": {"role": "user", "content": text},
        "sessionId": "sess-1",
        "timestamp": f"{DAY}T10:00:00.000Z",
    }


def at(clock: str, day: str = DAY) -> str:
    return f"{day}T{clock}.000Z"


def dump(line: Mapping[str, Any] | str) -> str:
    return line if isinstance(line, str) else json.dumps(line, separators=(",", ":"))


def write_lines(path: Path, lines: Sequence[Mapping[str, Any] | str], mode: str = "w") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open(mode, encoding="utf-8") as out:
        out.writelines(dump(line) + "\n" for line in lines)
    return path


def transcript(
    root: Path, name: str, lines: Sequence[Mapping[str, Any] | str], project: str = "-w-app"
) -> Path:
    return write_lines(root / "projects" / project / name, lines)


def reader(root: Path, catalog: Catalog = CATALOG, **kw: Any) -> ClaudeLogReader:
    result = ClaudeLogReader([root], **kw)
    result.refresh(catalog)
    return result


def totals(result: ClaudeLogReader) -> tuple[int, int, int, int]:
    """(input, output, cache writes, cache reads) over every bucket."""
    sums = [0, 0, 0, 0]
    for bucket in result.buckets():
        sums[0] += bucket.input
        sums[1] += bucket.output
        sums[2] += bucket.cache_write_5m + bucket.cache_write_1h
        sums[3] += bucket.cache_read
    return sums[0], sums[1], sums[2], sums[3]


@pytest.fixture
def root(tmp_path: Path) -> Path:
    return tmp_path / "claude"


# --------------------------------------------------------------------------- deduplication


def test_streamed_copies_count_once_with_the_largest_total(root: Path) -> None:
    transcript(
        root,
        "s.jsonl",
        [
            user(),
            assistant("msg_1", "req_1", at("10:00:01"), 4, 3, write=21300),
            assistant("msg_1", "req_1", at("10:00:02"), 4, 211, write=21300),
            assistant("msg_1", "req_1", at("10:00:03"), 4, 150, write=21300),  # late, smaller
        ],
    )
    assert totals(reader(root)) == (4, 211, 21300, 0)


def test_equal_totals_keep_the_costlier_copy_then_the_one_with_speed_then_the_first(
    root: Path,
) -> None:
    transcript(
        root,
        "s.jsonl",
        [
            # Same total (10): output is dearer than input, so the second copy wins.
            assistant("msg_cost", "req_c", at("10:00:01"), 9, 1),
            assistant("msg_cost", "req_c", at("10:00:02"), 5, 5),
            assistant("msg_cost", "req_c", at("10:00:03"), 9, 1),
            # Same tokens: the copy with usage.speed wins (on another day to tell them apart).
            assistant("msg_speed", "req_s", at("10:00:01", "2026-10-06"), 1, 1),
            assistant("msg_speed", "req_s", at("10:00:01", "2026-10-07"), 1, 1, speed="standard"),
            # Identical copies: the first one stays (its day).
            assistant("msg_tie", "req_t", at("10:00:01", "2026-10-08"), 2, 2),
            assistant("msg_tie", "req_t", at("10:00:01", "2026-10-09"), 2, 2),
        ],
    )
    result = reader(root)
    by_day = {(b.day.isoformat(), b.input, b.output) for b in result.buckets()}
    assert by_day == {
        ("2026-10-05", 5, 5),
        ("2026-10-07", 1, 1),
        ("2026-10-08", 2, 2),
    }


def test_lines_without_message_id_are_never_deduplicated(root: Path) -> None:
    line = assistant(None, "req_1", at("10:00:01"), 7, 3)
    transcript(root, "s.jsonl", [line, line, line])
    assert totals(reader(root)) == (21, 9, 0, 0)


def test_without_request_id_copies_match_on_session_and_time(root: Path) -> None:
    transcript(
        root,
        "s.jsonl",
        [
            # Same session and instant (written differently): one entry, the larger copy.
            assistant("msg_a", None, at("10:00:01"), 1, 1),
            assistant("msg_a", None, "2026-10-05T12:00:01.000+02:00", 1, 5),
            # Another time: counted again (ccusage 20.0.24 keys these by time).
            assistant("msg_a", None, at("10:00:02"), 1, 5),
            # Another session at the same time: counted again.
            assistant("msg_a", None, at("10:00:01"), 1, 5, session="sess-2"),
        ],
    )
    assert totals(reader(root)) == (3, 15, 0, 0)


def test_sidechain_replay_with_a_new_request_id_loses_to_the_parent(root: Path) -> None:
    parent = assistant("msg_p", "req_parent", at("10:00:01"), 10, 100)
    replay = assistant("msg_p", "req_btw", at("10:00:01"), 10, 900, side=True)
    # Parent first; then a replay in a file of its own sorting first.
    transcript(root, "b-session.jsonl", [parent, replay])
    transcript(
        root, "a-btw.jsonl", [assistant("msg_q", "req_btw2", at("11:00:00"), 1, 50, side=True)]
    )
    transcript(root, "c-session.jsonl", [assistant("msg_q", "req_parent2", at("11:00:00"), 1, 5)])
    assert totals(reader(root)) == (11, 105, 0, 0)


def test_sidechains_only_match_within_their_session(root: Path) -> None:
    transcript(
        root,
        "s.jsonl",
        [
            assistant("msg_p", "req_parent", at("10:00:01"), 10, 100),
            assistant("msg_p", "req_btw", at("10:00:01"), 10, 900, side=True, session="other"),
        ],
    )
    assert totals(reader(root)) == (20, 1000, 0, 0)


def test_two_sidechain_copies_keep_the_larger(root: Path) -> None:
    transcript(
        root,
        "s.jsonl",
        [
            assistant("msg_s", "req_1", at("10:00:01"), 1, 1, side=True),
            assistant("msg_s", "req_2", at("10:00:02"), 1, 50, side=True),
        ],
    )
    assert totals(reader(root)) == (1, 50, 0, 0)


def test_a_replacing_copy_takes_over_the_request_id(root: Path) -> None:
    """Sidechain copy first, then the parent streamed twice: one entry (ccusage re-indexes
    an entry under the ids of the copy that replaced it)."""
    transcript(
        root,
        "s.jsonl",
        [
            assistant("msg_x", "req_btw", at("10:00:01"), 1, 9, side=True),
            assistant("msg_x", "req_main", at("10:00:02"), 1, 9),
            assistant("msg_x", "req_main", at("10:00:03"), 1, 11),
        ],
    )
    assert totals(reader(root)) == (1, 11, 0, 0)


def test_the_first_file_in_path_order_keeps_a_tie(root: Path) -> None:
    copy = assistant("msg_r", "req_r", at("23:59:59"), 3, 3)
    later = {**copy, "timestamp": at("00:00:01", "2026-10-06"), "cwd": "/home/dev/src/other"}
    transcript(root, "b.jsonl", [later])
    transcript(root, "a.jsonl", [copy])  # sorts first: its day and project are kept
    [bucket] = reader(root).buckets()
    assert (bucket.day, bucket.project) == (date(2026, 10, 5), "app")


def test_synthetic_messages_are_ignored_and_models_are_labelled(root: Path) -> None:
    transcript(
        root,
        "s.jsonl",
        [
            assistant("msg_syn", None, at("10:00:00"), 5, 5, model="<synthetic>"),
            assistant("msg_nomodel", "r1", at("10:00:01"), 2, 2, model=None),
            assistant(
                "msg_fast", "r2", at("10:00:02"), 3, 3, model="claude-opus-4-6", speed="fast"
            ),
        ],
    )
    models = {bucket.model: (bucket.input, bucket.output) for bucket in reader(root).buckets()}
    assert models == {"unknown": (2, 2), f"{OPUS}-fast": (3, 3)}


def test_progress_lines_count_with_the_fields_of_data_message(root: Path) -> None:
    inner = assistant("msg_sub", "req_sub", at("10:00:05"), 7, 70, side=True)
    progress = {
        "type": "progress",
        "sessionId": "sess-1",
        "cwd": "/home/dev/src/app",
        "timestamp": at("11:00:00", "2026-10-09"),  # the line's own time is not used
        "version": 7,  # nor its version
        "data": {
            "type": "agent_progress",
            "message": {
                "type": "assistant",
                "message": inner["message"],
                "requestId": "req_sub",
                "timestamp": inner["timestamp"],
            },
        },
    }
    transcript(root, "s.jsonl", [progress])
    transcript(root, "s/subagents/agent-1.jsonl", [inner])  # the sub-agent's own copy
    [bucket] = reader(root).buckets()
    assert (bucket.day, bucket.input, bucket.output) == (date(2026, 10, 5), 7, 70)


def test_cache_breakdown_overrides_the_flat_count_and_is_priced_apart(root: Path) -> None:
    transcript(
        root,
        "s.jsonl",
        [
            assistant("m1", "r1", at("10:00:00"), 0, 0, write=999, breakdown=(300, 200)),
            assistant("m2", "r2", at("10:00:01"), 0, 0, write=1000),  # no breakdown: all 5m
        ],
    )
    [bucket] = reader(root).buckets()
    assert (bucket.cache_write_5m, bucket.cache_write_1h) == (1300, 200)
    per = CATALOG.prices[("anthropic", SONNET)].per_token
    assert bucket.cost_usd == 1300 * per["cache_write_5m"] + 200 * per["cache_write_1h"]


def test_cost_is_cost_usd_else_the_catalog_per_entry_with_tiers(root: Path) -> None:
    transcript(
        root,
        "s.jsonl",
        [
            assistant("m1", "r1", at("10:00:00"), 100, 10, costUSD=0.125),
            assistant("m2", "r2", at("10:00:01"), 1, 1, read=300_000, model=LONG),
            assistant("m3", "r3", at("10:00:02"), 1, 1, read=100_000, model=LONG),
        ],
    )
    costs = {b.model: b.cost_usd for b in reader(root).buckets()}
    assert costs[SONNET] == Decimal("0.125")
    long_price = CATALOG.prices[("anthropic", LONG)]
    assert costs[LONG] == long_price.request_cost(1, 300_000, 0, 0, 1) + long_price.request_cost(
        1, 100_000, 0, 0, 1
    )
    # Tiered per entry: more than pricing the day's total at base prices.
    assert costs[LONG] > long_price.bucket_cost(2, 400_000, 0, 0, 2)


def test_unknown_models_are_unpriced_never_zero(root: Path) -> None:
    transcript(
        root,
        "s.jsonl",
        [
            assistant("m1", "r1", at("10:00:00"), 5, 6, write=7, read=8, model="claude-new-9"),
            assistant("m2", "r2", at("10:00:01"), 1, 1, model="claude-new-9", costUSD=0.5),
        ],
    )
    [bucket] = reader(root).buckets()
    assert bucket.unpriced == (5, 8, 7, 6)
    assert bucket.cost_usd == Decimal("0.5")  # only the entry that had costUSD


# --------------------------------------------------------------------------- validation


VALID = assistant("m_ok", "r_ok", at("10:00:00"), 1, 1)


def _variant(change: Any) -> str:
    line = json.loads(json.dumps(VALID))
    change(line)
    return dump(line)


INVALID_LINES = {
    "non-semver version": _variant(lambda d: d.update(version="unknown")),
    "version 1.0": _variant(lambda d: d.update(version="1.0")),
    "empty requestId": _variant(lambda d: d.update(requestId="")),
    "empty sessionId": _variant(lambda d: d.update(sessionId="")),
    "empty message.id": _variant(lambda d: d["message"].update(id="")),
    "empty model": _variant(lambda d: d["message"].update(model="")),
    "null model": _variant(lambda d: d["message"].update(model=None)),
    "null cwd": _variant(lambda d: d.update(cwd=None)),
    "null id deep in content": _variant(lambda d: d["message"]["content"].append({"id": None})),
    "microsecond timestamp": _variant(lambda d: d.update(timestamp=f"{DAY}T10:00:00.123456Z")),
    "lowercase z": _variant(lambda d: d.update(timestamp=f"{DAY}T10:00:00.000z")),
    "no zone": _variant(lambda d: d.update(timestamp=f"{DAY}T10:00:00.000")),
    "hour 24": _variant(lambda d: d.update(timestamp=f"{DAY}T24:00:00.000Z")),
    "february 30": _variant(lambda d: d.update(timestamp="2026-02-30T10:00:00.000Z")),
    "string tokens": _variant(lambda d: d["message"]["usage"].update(input_tokens="1")),
    "float tokens": _variant(lambda d: d["message"]["usage"].update(input_tokens=1.0)),
    "negative tokens": _variant(lambda d: d["message"]["usage"].update(output_tokens=-1)),
    "tokens above u64": _variant(lambda d: d["message"]["usage"].update(input_tokens=2**64)),
    "boolean tokens": _variant(lambda d: d["message"]["usage"].update(input_tokens=True)),
    "missing output_tokens": _variant(lambda d: d["message"]["usage"].pop("output_tokens")),
    "unknown speed": _variant(lambda d: d["message"]["usage"].update(speed="turbo")),
    "null in breakdown": _variant(
        lambda d: d["message"]["usage"].update(cache_creation={"ephemeral_5m_input_tokens": None})
    ),
    "sidechain as string": _variant(lambda d: d.update(isSidechain="true")),
    "costUSD as string": _variant(lambda d: d.update(costUSD="0.1")),
    "no timestamp": _variant(lambda d: d.pop("timestamp")),
}

MALFORMED_LINES = {
    "truncated": dump(VALID)[:-20],
    "not json": '{"type":"assistant","message":{"usage":{ not json',
    "array": "[" + dump(VALID) + "]",
    "NaN": dump(VALID).replace('"userType":"external"', '"userType":NaN'),
    "lone surrogate escape": dump(VALID).replace("external", "\\ud83d"),
    "byte order mark": "\ufeff" + dump(VALID),
}


@pytest.mark.parametrize("name", sorted(INVALID_LINES))
def test_lines_breaking_ccusage_rules_are_skipped_as_invalid(root: Path, name: str) -> None:
    transcript(root, "s.jsonl", [INVALID_LINES[name]])
    result = reader(root)
    assert totals(result) == (0, 0, 0, 0)
    assert result.skipped() == {"malformed": 0, "invalid": 1}


@pytest.mark.parametrize("name", sorted(MALFORMED_LINES))
def test_malformed_lines_are_skipped_and_counted(root: Path, name: str) -> None:
    transcript(root, "s.jsonl", [MALFORMED_LINES[name], VALID])
    result = reader(root)
    assert totals(result) == (1, 1, 0, 0)
    assert result.skipped() == {"malformed": 1, "invalid": 0}


def test_invalid_utf8_is_malformed(root: Path) -> None:
    path = transcript(root, "s.jsonl", [VALID])
    path.write_bytes(dump(VALID).replace("external", "ext\xffernal").encode("latin-1") + b"\n")
    result = reader(root)
    assert totals(result) == (0, 0, 0, 0)
    assert result.skipped() == {"malformed": 1, "invalid": 0}


def test_lines_that_are_not_usage_lines_are_ignored_silently(root: Path) -> None:
    task_result = {
        **user(),
        "toolUseResult": {"totalTokens": 9, "usage": {"input_tokens": 9, "output_tokens": 0}},
    }
    transcript(
        root,
        "s.jsonl",
        [
            task_result,  # has "usage":{ but no message.usage
            "garbage without the marker",
            dump(VALID).replace('"usage":{', '"usage": {'),  # spaced: ccusage's prefilter too
            {**VALID, "stop_reason": None, "message": {**VALID["message"], "id": "m2"}},
        ],
    )
    result = reader(root)
    assert totals(result) == (1, 1, 0, 0)
    assert result.skipped() == {"malformed": 0, "invalid": 0}


def test_other_null_fields_and_unknown_fields_are_fine(root: Path) -> None:
    transcript(
        root,
        "s.jsonl",
        [
            assistant(
                "m1",
                "r1",
                at("10:00:00"),
                1,
                1,
                unknownField={"nested": [1, {"deep": None}]},
                isApiErrorMessage=False,
            ),
            dump(assistant("m2", "r2", at("10:00:01"), 2, 2)) + "\r",  # CRLF
        ],
    )
    assert totals(reader(root)) == (3, 3, 0, 0)


def test_has_unsupported_null_follows_ccusage_byte_rule() -> None:
    assert has_unsupported_null(b'{"a":{"model":null}}')
    assert has_unsupported_null(b'{"id" :null}')  # walks back to the field's quotes
    assert not has_unsupported_null(b'{"stop_reason":null,"stop_sequence":null}')
    assert not has_unsupported_null(b'{"t":"say \\"id\\":null"}')  # inside a string
    assert not has_unsupported_null(b'{"idx":null}')


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-10-11T19:16:46.941Z", datetime(2026, 10, 11, 19, 16, 46, 941000, tzinfo=UTC)),
        ("2026-10-11T19:16:46Z", datetime(2026, 10, 11, 19, 16, 46, tzinfo=UTC)),
        ("2026-10-11T21:16:46.941+02:00", datetime(2026, 10, 11, 19, 16, 46, 941000, tzinfo=UTC)),
        ("2026-10-11T19:16:46-00:30", datetime(2026, 10, 11, 19, 46, 46, tzinfo=UTC)),
        ("2024-02-29T00:00:00.000Z", datetime(2024, 2, 29, tzinfo=UTC)),
        ("2026-10-11T19:16:46.94Z", None),
        ("2026-10-11T19:16:60.000Z", None),
        ("2026-10-11 19:16:46.941Z", None),
        ("2026-10-11T19:16:46.941+0200", None),
        ("２026-10-11T19:16:46.941Z", None),
    ],
)
def test_timestamps_in_ccusage_format_only(text: str, expected: datetime | None) -> None:
    result = timestamp_ms(text)
    assert result == (None if expected is None else int(expected.timestamp() * 1000))


@pytest.mark.parametrize(
    ("mode", "cwd", "label"),
    [
        ("basename", "/home/dev/src/app", "app"),
        ("basename", "/home/dev/src/app/", "app"),
        ("basename", "C:\\Users\\dev\\src\\tools", "tools"),
        ("basename", "/", "/"),
        ("path", "/home/dev/src/app", "/home/dev/src/app"),
        ("off", "/home/dev/src/app", ""),
    ],
)
def test_project_label_modes(mode: claude_logs.ProjectLabel, cwd: str, label: str) -> None:
    assert project_of(cwd, mode) == label


def test_lines_without_cwd_use_the_project_directory(root: Path) -> None:
    transcript(root, "s.jsonl", [assistant("m1", "r1", at("10:00:00"), 1, 1, cwd=None)])
    transcript(root, "x/subagents/a.jsonl", [assistant("m2", "r2", at("10:00:00"), 1, 1, cwd=7)])
    projects = {bucket.project for bucket in reader(root).buckets()}
    assert projects == {"-w-app"}
    assert {b.project for b in reader(root, project_label="off").buckets()} == {""}


# --------------------------------------------------------------------------- both decoders


CORNER_LINES = [
    *INVALID_LINES.values(),
    *MALFORMED_LINES.values(),
    dump(VALID),
    dump(assistant("m3", None, at("10:00:00"), 1, 2, costUSD=3)),
    dump(assistant("m4", "r4", at("10:00:00"), 2**64 - 1, 0)),
    dump(VALID).replace('"userType":"external"', '"userType":123456789012345678901234567890'),
    dump(VALID).replace("external", "\\ud83d\\ude00"),  # a surrogate pair is fine
    dump(VALID).replace("external", "\\\\ud83d"),  # an escaped backslash, then text
]


def test_msgspec_and_the_standard_library_agree_line_by_line() -> None:
    if claude_logs._schema_decoders is None:
        pytest.skip("msgspec is not installed: only the standard-library decoder exists")
    for line in CORNER_LINES:
        raw = line.encode()
        fast = claude_logs._parse_line_msgspec(raw, claude_logs._schema_decoders)
        assert fast == claude_logs._parse_line_stdlib(raw), line


@pytest.fixture(params=["msgspec", "stdlib"])
def decoder(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    if request.param == "stdlib":
        monkeypatch.setattr(claude_logs, "_schema_decoders", None)
    elif claude_logs._schema_decoders is None:
        pytest.skip("msgspec is not installed")
    return str(request.param)


# --------------------------------------------------------------------------- roots


def test_roots_from_env_config_dirs_and_projects_dirs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    first, second = tmp_path / "one", tmp_path / "two"
    transcript(first, "a.jsonl", [assistant("m1", "r1", at("10:00:00"), 1, 0)])
    transcript(second, "b.jsonl", [assistant("m2", "r2", at("10:00:00"), 10, 0)])
    monkeypatch.setenv("CLAUDE_CONFIG_DIR", f"{first}, {second / 'projects'} ,{tmp_path / 'none'}")
    roots = default_roots()
    assert roots == (first, second / "projects", tmp_path / "none")
    assert claude_logs.existing_roots([*roots, first]) == [first, second]
    result = ClaudeLogReader(roots)
    result.refresh(CATALOG)
    assert totals(result) == (11, 0, 0, 0)


def test_default_roots_are_xdg_claude_and_dot_claude(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CLAUDE_CONFIG_DIR", raising=False)
    monkeypatch.setenv("XDG_CONFIG_HOME", "/x/conf")
    monkeypatch.setenv("HOME", "/home/someone")
    assert default_roots() == (Path("/x/conf/claude"), Path("/home/someone/.claude"))
    monkeypatch.delenv("XDG_CONFIG_HOME")
    assert default_roots() == (Path("/home/someone/.config/claude"), Path("/home/someone/.claude"))


def test_nested_layouts_are_read_and_links_and_other_files_are_not(root: Path) -> None:
    transcript(root, "flat.jsonl", [assistant("m1", "r1", at("10:00:00"), 1, 0)])
    transcript(root, "sess/subagents/agent-1.jsonl", [assistant("m2", "r2", at("10:00:00"), 10, 0)])
    transcript(root, "notes.json", [assistant("m3", "r3", at("10:00:00"), 100, 0)])
    outside = write_lines(
        root.parent / "outside.jsonl", [assistant("m4", "r4", at("10:00:00"), 1000, 0)]
    )
    (root / "projects" / "-w-app" / "link.jsonl").symlink_to(outside)
    assert totals(reader(root)) == (11, 0, 0, 0)


def test_directory_listings_are_reused_until_a_directory_changes(
    root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(claude_logs, "_LISTING_SETTLE_NS", 0)
    project = transcript(root, "a.jsonl", [assistant("m1", "r1", at("10:00:00"), 1, 0)]).parent

    def age(directory: Path) -> None:  # a modification time surely before the next change
        os.utime(directory, ns=(10**18, 10**18))

    for directory in (root / "projects", project):
        age(directory)
    result = reader(root)
    listed: list[str] = []
    real = claude_logs._list_directory

    def listing(directory: str, version: tuple[int, int]) -> Any:
        listed.append(directory)
        return real(directory, version)

    monkeypatch.setattr(claude_logs, "_list_directory", listing)
    result.refresh(CATALOG)
    assert listed == []  # nothing changed: directories and files are only stat'ed
    transcript(root, "b.jsonl", [assistant("m2", "r2", at("10:00:00"), 10, 0)])
    result.refresh(CATALOG)
    assert totals(result) == (11, 0, 0, 0)
    assert listed == [str(project)]
    age(project)
    transcript(root, "s/subagents/c.jsonl", [assistant("m3", "r3", at("10:00:00"), 100, 0)])
    result.refresh(CATALOG)
    assert totals(result) == (111, 0, 0, 0)
    (project / "b.jsonl").unlink()
    result.refresh(CATALOG)
    assert totals(result) == (101, 0, 0, 0)


def test_missing_roots_warn_once_and_read_nothing(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    result = ClaudeLogReader([tmp_path / "nowhere"])
    result.refresh(CATALOG)
    result.refresh(CATALOG)
    assert result.buckets() == []
    assert sum("no projects/ directory" in r.getMessage() for r in caplog.records) == 1


# --------------------------------------------------------------------------- incremental


def test_appended_lines_are_read_once(root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = transcript(root, "s.jsonl", [assistant("m1", "r1", at("10:00:00"), 1, 1)])
    parsed: list[bytes] = []
    real = claude_logs.parse_line

    def counting(line: bytes) -> Any:
        parsed.append(line)
        return real(line)

    monkeypatch.setattr(claude_logs, "parse_line", counting)
    result = reader(root)
    result.refresh(CATALOG)  # nothing new: nothing parsed
    assert len(parsed) == 1
    write_lines(path, [user("x" * 5000), assistant("m1", "r1", at("10:00:01"), 1, 9)], "a")
    result.refresh(CATALOG)
    assert len(parsed) == 2
    assert totals(result) == (1, 9, 0, 0)


def test_an_incomplete_last_line_is_read_once_completed(root: Path) -> None:
    path = transcript(root, "s.jsonl", [assistant("m1", "r1", at("10:00:00"), 1, 1)])
    tail = dump(assistant("m2", "r2", at("10:00:01"), 10, 10))
    with path.open("a") as out:
        out.write(tail[:40])
    result = reader(root)
    assert totals(result) == (1, 1, 0, 0)
    result.refresh(CATALOG)
    assert result.skipped() == {"malformed": 0, "invalid": 0}
    with path.open("a") as out:
        out.write(tail[40:] + "\n")
    result.refresh(CATALOG)
    assert totals(result) == (11, 11, 0, 0)


def test_a_truncated_file_replaces_its_previous_contribution(root: Path) -> None:
    path = transcript(
        root,
        "s.jsonl",
        [assistant("m1", "r1", at("10:00:00"), 1, 1), assistant("m2", "r2", at("10:00:01"), 2, 2)],
    )
    result = reader(root)
    assert totals(result) == (3, 3, 0, 0)
    with path.open("r+") as handle:  # same inode, shorter
        handle.truncate(0)
        handle.write(dump(assistant("m3", "r3", at("10:00:02"), 5, 5)) + "\n")
    result.refresh(CATALOG)
    assert totals(result) == (5, 5, 0, 0)


def test_a_replaced_or_rewritten_file_is_read_again(root: Path) -> None:
    path = transcript(root, "s.jsonl", [assistant("m1", "r1", at("10:00:00"), 1, 1)])
    result = reader(root)
    replacement = write_lines(
        path.with_suffix(".tmp"),
        [assistant("m2", "r2", at("10:00:01"), 7, 7), assistant("m3", "r3", at("10:00:02"), 1, 0)],
    )
    replacement.replace(path)  # another inode, longer
    result.refresh(CATALOG)
    assert totals(result) == (8, 7, 0, 0)
    # Rewritten in place, same inode, the same size, other first bytes.
    text = path.read_text().replace('"input_tokens":7', '"input_tokens":8')
    path.write_text(text)
    os.utime(path, ns=(1, 1))
    result.refresh(CATALOG)
    assert totals(result) == (9, 7, 0, 0)


def test_a_deleted_file_leaves_the_totals(root: Path) -> None:
    keep = transcript(root, "a.jsonl", [assistant("m1", "r1", at("10:00:00"), 1, 1)])
    gone = transcript(root, "b.jsonl", [assistant("m2", "r2", at("10:00:00"), 5, 5)])
    result = reader(root)
    gone.unlink()
    result.refresh(CATALOG)
    assert totals(result) == (1, 1, 0, 0)
    assert keep.exists()


def test_dropping_a_file_whose_entries_other_files_copy_keeps_the_copies(root: Path) -> None:
    """A resumed session copies the original; deleting either one changes nothing."""
    lines = [
        assistant("m1", "r1", at("10:00:00"), 1, 1),
        assistant("m2", "r2", at("10:00:01"), 2, 2),
    ]
    original = transcript(root, "a.jsonl", lines)
    resumed = transcript(root, "b.jsonl", [*lines, assistant("m3", "r3", at("11:00:00"), 4, 4)])
    result = reader(root)
    assert totals(result) == (7, 7, 0, 0)
    original.unlink()
    result.refresh(CATALOG)
    assert totals(result) == (7, 7, 0, 0)
    transcript(root, "a.jsonl", lines)
    result.refresh(CATALOG)
    resumed.unlink()
    result.refresh(CATALOG)
    assert totals(result) == (3, 3, 0, 0)


def test_skipped_lines_are_counted_once_across_rereads(root: Path) -> None:
    bad = MALFORMED_LINES["truncated"]
    shared = assistant("m1", "r1", at("10:00:00"), 1, 1)
    first = transcript(root, "a.jsonl", [bad, shared])
    transcript(root, "b.jsonl", [shared, INVALID_LINES["empty requestId"]])
    result = reader(root)
    assert result.skipped() == {"malformed": 1, "invalid": 1}
    first.unlink()  # a shared entry: everything is read again
    result.refresh(CATALOG)
    assert result.skipped() == {"malformed": 1, "invalid": 1}
    write_lines(first, [bad, bad])
    result.refresh(CATALOG)
    assert result.skipped() == {"malformed": 3, "invalid": 1}


def test_prices_follow_the_catalog_without_double_counting(root: Path) -> None:
    transcript(root, "s.jsonl", [assistant("m1", "r1", at("10:00:00"), 1_000_000, 0)])
    result = reader(root)
    assert [b.cost_usd for b in result.buckets()] == [Decimal(3)]
    dearer = Catalog({("anthropic", SONNET): _price(SONNET, "5", "25")}, {"config": 1.8e9})
    result.refresh(dearer)
    assert [b.cost_usd for b in result.buckets()] == [Decimal(5)]
    assert totals(result) == (1_000_000, 0, 0, 0)


async def test_refresh_runs_in_a_thread_and_never_twice_at_once(
    root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    transcript(root, "s.jsonl", [VALID])
    result = ClaudeLogReader([root])
    threads: list[int] = []
    running = threading.Event()
    overlap: list[bool] = []
    release = threading.Event()
    real = ClaudeLogReader.refresh

    def slow(self: ClaudeLogReader, catalog: Catalog, now: float | None = None) -> None:
        overlap.append(running.is_set())
        running.set()
        threads.append(threading.get_ident())
        release.wait(5)
        real(self, catalog, now)
        running.clear()

    monkeypatch.setattr(ClaudeLogReader, "refresh", slow)
    first = asyncio.create_task(result.refresh_async(CATALOG))
    second = asyncio.create_task(result.refresh_async(CATALOG))
    await asyncio.sleep(0.05)  # the event loop is free while the first refresh runs
    release.set()
    await asyncio.gather(first, second)
    assert threads and threading.get_ident() not in threads
    assert overlap == [False, False]
    assert totals(result) == (1, 1, 0, 0)


# --------------------------------------------------------------------------- blocks


HOUR = 3600


def _brute_force_last_block(times: Sequence[int]) -> tuple[int, int, list[int]]:
    """ccusage's identify_session_blocks, literally: (start, last entry, member indexes)."""
    ordered = sorted(range(len(times)), key=lambda i: times[i])
    start = last = -1
    members: list[int] = []
    for index in ordered:
        moment = times[index]
        if start < 0 or moment - start > 5 * HOUR or moment - last > 5 * HOUR:
            start, members = moment - moment % HOUR, []
        members.append(index)
        last = moment
    return start, last, members


def _block_corpus(root: Path, times: Sequence[int]) -> None:
    lines = []
    for index, moment in enumerate(times):
        stamp = datetime.fromtimestamp(moment, UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")
        lines.append(assistant(f"m{index}", f"r{index}", stamp, index + 1, 1, read=10))
    transcript(root, "s.jsonl", lines)


def test_the_active_block_starts_on_the_hour_and_lasts_five_hours(root: Path) -> None:
    base = int(datetime(2026, 10, 5, 9, 0, tzinfo=UTC).timestamp())
    times = [base + 37 * 60, base + 2 * HOUR, base + 4 * HOUR + 50 * 60]
    _block_corpus(root, times)
    result = reader(root)
    now = base + 5 * HOUR - 1
    block = result.active_block(now)
    assert block is not None
    assert block.start == datetime(2026, 10, 5, 9, tzinfo=UTC)
    assert block.end == datetime(2026, 10, 5, 14, tzinfo=UTC)
    assert (block.input, block.output, block.cache_read, block.cache_write) == (6, 3, 30, 0)
    per = CATALOG.prices[("anthropic", SONNET)].per_token
    assert block.cost_usd == 6 * per["input"] + 3 * per["output"] + 30 * per["cache_read"]
    # At its end there is no active block (also not 5 h after its last entry).
    assert result.active_block(base + 5 * HOUR) is None
    assert result.active_block(base + 10 * HOUR) is None


def test_a_new_block_starts_five_hours_after_the_start_or_after_a_gap(root: Path) -> None:
    base = int(datetime(2026, 10, 5, 9, 0, tzinfo=UTC).timestamp())
    # Continuous work: 09:10 ... 14:05 > start + 5h → new block at 14:00.
    times = [base + 10 * 60 + i * 1800 for i in range(10)] + [base + 5 * HOUR + 5 * 60]
    _block_corpus(root, times)
    block = reader(root).active_block(base + 6 * HOUR)
    assert block is not None
    assert block.start == datetime(2026, 10, 5, 14, tzinfo=UTC)
    assert block.input == len(times)  # only the last entry (input = its index + 1)


def test_blocks_match_ccusage_rules_on_random_histories(tmp_path: Path) -> None:
    rng = random.Random(5)
    base = int(datetime(2026, 10, 1, tzinfo=UTC).timestamp())
    for case in range(12):
        root = tmp_path / f"case{case}"
        moment, times = base, []
        for _ in range(rng.randint(1, 80)):
            moment += rng.choice((60, 600, 3600, 4 * HOUR, 5 * HOUR, 5 * HOUR + 1, 20 * HOUR))
            times.append(moment)
        rng.shuffle(times)
        _block_corpus(root, times)
        now = max(times) + rng.choice((60, 2 * HOUR, 4 * HOUR + 3000))
        start, last, members = _brute_force_last_block(times)
        block = reader(root).active_block(now)
        active = now - last < 5 * HOUR and now < start + 5 * HOUR
        if not active:
            assert block is None
            continue
        assert block is not None
        assert int(block.start.timestamp()) == start
        assert block.input == sum(index + 1 for index in members)


def test_continuous_activity_beyond_the_recent_window_decides_the_block(root: Path) -> None:
    base = int(datetime(2026, 10, 1, 0, 20, tzinfo=UTC).timestamp())
    times = [base + i * 4 * HOUR for i in range(40)]  # 6.7 days without a 5-hour pause
    _block_corpus(root, times)
    now = times[-1] + 60
    start, _, members = _brute_force_last_block(times)
    result = ClaudeLogReader([root])
    result.refresh(CATALOG, now=now)
    block = result.active_block(now)
    assert block is not None
    assert int(block.start.timestamp()) == start
    assert block.input == sum(index + 1 for index in members)


# --------------------------------------------------------------------------- the corpus


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Expected]:
    root = tmp_path_factory.mktemp("claude-corpus")
    return root, generate(root, target_bytes=3_000_000)


def _by_bucket(result: ClaudeLogReader) -> dict[tuple[date, str, str], list[int]]:
    found: dict[tuple[date, str, str], list[int]] = {}
    for b in result.buckets():
        found[(b.day, b.project, b.model)] = [
            b.input,
            b.output,
            b.cache_write_5m,
            b.cache_write_1h,
            b.cache_read,
        ]
    return found


def test_corpus_totals_match_the_generated_calls(
    corpus: tuple[Path, Expected], decoder: str
) -> None:
    root, expected = corpus
    result = reader(root, project_label="path")
    assert _by_bucket(result) == {k: v for k, v in expected.buckets.items() if any(v)}
    assert result.skipped() == expected.skipped


def test_corpus_has_every_case(corpus: tuple[Path, Expected]) -> None:
    root, expected = corpus
    text = "".join(p.read_text(encoding="utf-8") for p in sorted(root.rglob("*.jsonl")))
    for marker in (
        '"isSidechain":true',
        '"type":"progress"',
        '"model":"<synthetic>"',
        '"costUSD":',
        '"speed":"fast"',
        '"ephemeral_1h_input_tokens":',
        corpus_module.UNKNOWN_MODEL,
        "/subagents/",
    ):
        assert marker in text or any(marker in str(p) for p in root.rglob("*")), marker
    assert expected.skipped["malformed"] and expected.skipped["invalid"]
    months = expected.month_totals()
    assert set(months) == {"2026-09", "2026-10"}


def test_corpus_is_deterministic(tmp_path: Path, corpus: tuple[Path, Expected]) -> None:
    root, expected = corpus
    again = generate(tmp_path / "again", target_bytes=3_000_000)
    assert again.buckets == expected.buckets
    first = sorted(p.relative_to(root).as_posix() for p in root.rglob("*.jsonl"))
    second = sorted(
        p.relative_to(tmp_path / "again").as_posix() for p in (tmp_path / "again").rglob("*.jsonl")
    )
    assert first == second


def test_worker_processes_decode_like_the_reader_itself(corpus: tuple[Path, Expected]) -> None:
    root, expected = corpus
    parallel = ClaudeLogReader([root], project_label="path")
    parallel.pool_min_bytes = 0  # force the worker processes
    parallel.refresh(CATALOG)
    serial = ClaudeLogReader([root], project_label="path")
    serial.pool_min_bytes = 1 << 62
    serial.refresh(CATALOG)
    assert (
        _by_bucket(parallel)
        == _by_bucket(serial)
        == {k: v for k, v in expected.buckets.items() if any(v)}
    )
    assert parallel.skipped() == serial.skipped() == expected.skipped
    assert [b.cost_usd for b in parallel.buckets()] == [b.cost_usd for b in serial.buckets()]


def test_broken_workers_fall_back_to_decoding_in_process(
    corpus: tuple[Path, Expected],
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    root, expected = corpus
    files = len(list(root.rglob("*.jsonl")))
    in_process: list[str] = []
    real = claude_logs.decode_region

    def counted(path: str, start: int, size: int) -> Any:
        in_process.append(path)
        return real(path, start, size)

    monkeypatch.setattr(claude_logs, "decode_region", counted)
    # Workers that never get ready: the reader decodes every file itself.
    monkeypatch.setattr(claude_logs, "_WORKER_COMMAND", "import sys; sys.exit(3)")
    result = ClaudeLogReader([root], project_label="path")
    result.pool_min_bytes = 0
    result.refresh(CATALOG)
    assert len(in_process) == files
    assert _by_bucket(result) == {k: v for k, v in expected.buckets.items() if any(v)}
    # Workers that die with a request in hand: that file is decoded in-process instead.
    in_process.clear()
    dies = "import sys; sys.stdout.buffer.write(b'R'); sys.stdout.flush(); sys.stdin.buffer.read(9)"
    monkeypatch.setattr(claude_logs, "_WORKER_COMMAND", dies)
    with caplog.at_level("INFO", logger="exporter.claude_logs"):
        result = ClaudeLogReader([root], project_label="path")
        result.pool_min_bytes = 0
        result.refresh(CATALOG)
    assert any("decoding worker failed" in r.getMessage() for r in caplog.records)
    assert len(in_process) == files
    assert _by_bucket(result) == {k: v for k, v in expected.buckets.items() if any(v)}
    assert result.skipped() == expected.skipped


def test_workers_start_with_a_usable_import_path(corpus: tuple[Path, Expected]) -> None:
    """Real workers (``python -S``) decode: the reader decodes nothing itself at first."""
    root, _ = corpus
    decoder = claude_logs._ParallelDecoder(
        [(str(p), 0, p.stat().st_size) for p in sorted(root.rglob("*.jsonl"))], 1, 100
    )
    try:
        with decoder._cond:
            assert decoder._cond.wait_for(lambda: decoder._claimed > 0, timeout=30)
        first = decoder.result(0)
    finally:
        decoder.close()
    assert first.entries and first.head is not None


def test_corpus_read_while_it_is_written_equals_one_read(tmp_path: Path) -> None:
    """Files appear and grow between polls (in pieces cut anywhere, lines half written)."""
    source = tmp_path / "source"
    expected = generate(source, target_bytes=1_500_000, seed=11)
    live = tmp_path / "live"
    files = sorted(source.rglob("*.jsonl"))
    contents = {path: path.read_bytes() for path in files}
    rng = random.Random(3)
    result = ClaudeLogReader([live], project_label="path")
    written = dict.fromkeys(files, 0)
    while any(written[p] < len(contents[p]) for p in files):
        for path in rng.sample(files, k=min(len(files), 3)):
            data = contents[path]
            step = rng.randint(1, max(1, len(data) // 3))
            target = live / path.relative_to(source)
            target.parent.mkdir(parents=True, exist_ok=True)
            with target.open("ab") as out:
                out.write(data[written[path] : written[path] + step])
            written[path] = min(len(data), written[path] + step)
        result.refresh(CATALOG)
    result.refresh(CATALOG)
    assert _by_bucket(result) == {k: v for k, v in expected.buckets.items() if any(v)}
    assert result.skipped() == expected.skipped


def test_appending_a_megabyte_reads_only_the_new_calls(tmp_path: Path) -> None:
    root = tmp_path / "claude"
    expected = generate(root, target_bytes=1_000_000, seed=4)
    result = reader(root, project_label="path")
    target = sorted((root / "projects").rglob("*.jsonl"))[0]
    added = append_calls(target, 1_000_000, seed=9, at=corpus_module.NOW, cwd="/w/new")
    result.refresh(CATALOG)
    merged = defaultdict(lambda: [0] * 5, {k: list(v) for k, v in expected.buckets.items()})
    for key, value in added.buckets.items():
        merged[key] = [a + b for a, b in zip(merged[key], value, strict=True)]
    assert _by_bucket(result) == {k: v for k, v in merged.items() if any(v)}


# --------------------------------------------------------------------------- provider


def context(root: Path, now: datetime, **options: Any) -> SourceContext:
    return SourceContext(
        upstream=Upstream(cast(aiohttp.ClientSession, None), "", {}, RequestStats()),
        start=now.replace(day=1, hour=0, minute=0, second=0, microsecond=0),
        end=now,
        group_by=frozenset(options.pop("group_by", DIMENSIONS)),
        options=ClaudeCodeOptions(paths=(root,), **options),
        catalog=CATALOG,
        memo={},
    )


def _records_corpus(root: Path) -> None:
    transcript(
        root,
        "s.jsonl",
        [
            assistant("m0", "r0", "2026-09-30T23:00:00.000Z", 1000, 1000),  # last month
            assistant("m1", "r1", at("10:00:00", "2026-10-20"), 100, 10, write=50, read=500),
            assistant("m2", "r2", at("10:30:00", "2026-10-20"), 1, 2, model="claude-new-9"),
            MALFORMED_LINES["not json"],
        ],
    )


async def test_logs_source_yields_the_month_priced_per_entry(root: Path) -> None:
    _records_corpus(root)
    now = datetime(2026, 10, 20, 12, 0, tzinfo=UTC)
    ctx = context(root, now)
    records = await PROVIDER.sources["logs"](ctx)
    day = datetime(2026, 10, 20, tzinfo=UTC)
    tokens = [r for r in records if isinstance(r, TokenRecord)]
    assert tokens == [
        TokenRecord(day, "app", "", SONNET, 100, 500, 50, 0, 10, priced_by_source=True),
        TokenRecord(day, "app", "", "claude-new-9", 1, 0, 0, 0, 2, priced_by_source=True),
    ]
    per = CATALOG.prices[("anthropic", SONNET)].per_token
    sonnet_cost = 100 * per["input"] + 500 * per["cache_read"] + 50 * per["cache_write_5m"]
    sonnet_cost += 10 * per["output"]
    assert [r for r in records if isinstance(r, EstimatedCostRecord)] == [
        EstimatedCostRecord(day, "app", "", SONNET, sonnet_cost)
    ]
    assert [r for r in records if isinstance(r, UnpricedTokenRecord)] == [
        UnpricedTokenRecord(day, "claude-new-9", "input", 1),
        UnpricedTokenRecord(day, "claude-new-9", "output", 2),
    ]
    gauges = {(g.metric, g.labels): g.value for g in records if isinstance(g, GaugeRecord)}
    block_start = int(datetime(2026, 10, 20, 10, tzinfo=UTC).timestamp())
    assert gauges == {
        ("llm_session_block_start_timestamp_seconds", ()): block_start,
        ("llm_session_block_end_timestamp_seconds", ()): block_start + 5 * HOUR,
        ("llm_session_block_tokens", (("token_type", "input"),)): 101,
        ("llm_session_block_tokens", (("token_type", "cache_read"),)): 500,
        ("llm_session_block_tokens", (("token_type", "cache_write"),)): 50,
        ("llm_session_block_tokens", (("token_type", "output"),)): 12,
        ("llm_session_block_estimated_cost_usd", ()): sonnet_cost,
        ("llm_log_lines_skipped_total", (("reason", "malformed"),)): 1,
        ("llm_log_lines_skipped_total", (("reason", "invalid"),)): 0,
    }
    assert isinstance(ctx.memo[READER_MEMO], ClaudeLogReader)
    # Idle later: no block gauges.
    later = await PROVIDER.sources["logs"](context(root, now + timedelta(hours=6)))
    assert not any(
        isinstance(r, GaugeRecord) and r.metric.startswith("llm_session_block") for r in later
    )


async def test_dimensions_not_grouped_are_empty_but_unpriced_keeps_the_model(root: Path) -> None:
    _records_corpus(root)
    ctx = context(root, datetime(2026, 10, 20, 12, tzinfo=UTC), group_by=())
    records = log_records(ClaudeLogReader([root]), ctx)  # nothing read yet: only health
    assert all(isinstance(r, GaugeRecord) for r in records)
    records = await PROVIDER.sources["logs"](ctx)
    assert {(r.project, r.model) for r in records if isinstance(r, TokenRecord)} == {("", "")}
    assert {r.model for r in records if isinstance(r, UnpricedTokenRecord)} == {"claude-new-9"}


async def test_records_feed_the_snapshot(root: Path) -> None:
    _records_corpus(root)
    now = datetime(2026, 10, 20, 12, tzinfo=UTC)
    config = Config(
        accounts=(AccountConfig(provider="claude_code", options={"paths": [str(root)]}),)
    )
    account = config.accounts[0]
    assert (account.provider_label, account.account) == ("anthropic", "claude-code")
    state = SourceState("anthropic", "claude-code", "logs", stale_after=1e9)
    state.records = tuple(await PROVIDER.sources["logs"](context(root, now)))
    state.last_success = now.timestamp()
    state.up = True
    snapshot = build_snapshot(config, [state], MonthToDateGuard(), now.timestamp(), CATALOG)
    text = snapshot.render().decode()
    assert "# TYPE llm_log_lines_skipped_total counter" in text
    assert (
        'llm_tokens_total{account="claude-code",api_key="",model="claude-sonnet-4-20250514",'
        'project="app",provider="anthropic",token_type="input"} 100.0'
    ) in text
    assert 'llm_unpriced_tokens_total{account="claude-code",model="claude-new-9"' in text
    assert "llm_session_block_end_timestamp_seconds" in text
    # Last month's tokens are not in this month's counters.
    assert "1000.0" not in text


def test_provider_spec_and_options(tmp_path: Path) -> None:
    assert PROVIDERS["claude_code"] is PROVIDER
    assert (PROVIDER.label, PROVIDER.default_account, PROVIDER.needs_key) == (
        "anthropic",
        "claude-code",
        False,
    )
    assert PROVIDER.env_var is None and set(PROVIDER.sources) == {"logs"}
    options = ClaudeCodeOptions(paths=("~/claude",), project_label="path")
    assert options.paths == (Path("~/claude").expanduser(),)
    with pytest.raises(ValidationError):
        ClaudeCodeOptions(project_label="full")  # type: ignore[arg-type]
    with pytest.raises(ValidationError, match="reads its own credentials"):
        AccountConfig(provider="claude_code", api_key="sk-fake-never-used")
    with pytest.raises(ValidationError, match="unknown key"):
        AccountConfig(provider="claude_code", options={"path": str(tmp_path)})


# --------------------------------------------------------------------------- ccusage

CCUSAGE_VERSION = "20.0.24"
CCUSAGE_PREFIX = Path.home() / ".cache" / "llm-cost-exporter-tests" / "ccusage"


def _ccusage() -> Path:
    """The ccusage 20.0.24 native binary, installed once with npm into a cache dir."""
    binary = CCUSAGE_PREFIX / "node_modules" / "@ccusage" / "ccusage-linux-x64" / "bin" / "ccusage"
    launcher = CCUSAGE_PREFIX / "node_modules" / ".bin" / "ccusage"
    npm = shutil.which("npm")
    if not launcher.exists():
        if npm is None:
            if os.environ.get("CI") == "true":
                pytest.fail("npm is required in CI for the ccusage comparison")
            pytest.skip("npm is not installed: cannot install ccusage@20.0.24 to compare with")
        subprocess.run(
            [npm, "install", "--prefix", str(CCUSAGE_PREFIX), f"ccusage@{CCUSAGE_VERSION}"],
            check=True,
            capture_output=True,
            timeout=300,
        )
    # The native binary when it is there (it is what the npm launcher runs).
    return binary if binary.exists() and os.access(binary, os.X_OK) else launcher


def _ccusage_daily(root: Path, home: Path) -> list[dict[str, Any]]:
    home.mkdir(exist_ok=True)
    env = {
        **os.environ,
        "TZ": "UTC",
        "CLAUDE_CONFIG_DIR": str(root),
        "HOME": str(home),  # nothing of this machine's own agents
    }
    # ``ccusage daily`` in 20.x adds every agent it finds; ``claude daily`` is Claude Code's.
    out = subprocess.run(
        [str(_ccusage()), "claude", "daily", "--json", "--offline", "--breakdown"],
        env=env,
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    ).stdout
    days: list[dict[str, Any]] = json.loads(out)["daily"]
    return days


def test_monthly_tokens_match_ccusage(
    corpus: tuple[Path, Expected], tmp_path: Path, decoder: str
) -> None:
    root, expected = corpus
    days = _ccusage_daily(root, tmp_path / "home")
    theirs: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0, 0])
    for day in days:
        month = theirs[day["date"][:7]]
        month[0] += day["inputTokens"]
        month[1] += day["outputTokens"]
        month[2] += day["cacheCreationTokens"]
        month[3] += day["cacheReadTokens"]
    ours: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0, 0])
    for bucket in reader(root, catalog=load_catalog(PricingConfig())).buckets():
        month = ours[bucket.day.strftime("%Y-%m")]
        month[0] += bucket.input
        month[1] += bucket.output
        month[2] += bucket.cache_write_5m + bucket.cache_write_1h
        month[3] += bucket.cache_read
    assert dict(ours) == dict(theirs)
    assert {m: tuple(v) for m, v in ours.items()} == expected.month_totals()


def _probe_prices(models: Sequence[str], tmp_path: Path) -> dict[str, dict[str, float]]:
    """ccusage's per-token prices of ``models``: one probe call per token type and model,
    each on a day of its own (100k tokens: below the long-context threshold), plus one with
    300k cache reads for the price above 200k."""
    root = tmp_path / "probe"
    # name → (input, output, cache writes, cache reads, 5m/1h breakdown)
    probes: dict[str, tuple[int, int, int, int, tuple[int, int] | None]] = {
        "input": (100_000, 0, 0, 0, None),
        "output": (0, 100_000, 0, 0, None),
        "cache_write_5m": (0, 0, 100_000, 0, None),
        "cache_write_1h": (0, 0, 100_000, 0, (0, 100_000)),
        "cache_read": (0, 0, 0, 100_000, None),
        "cache_read_above_200k": (0, 0, 0, 300_000, None),
    }
    lines = []
    first = datetime(2026, 1, 1, tzinfo=UTC)
    for m_index, model in enumerate(models):
        for p_index, (name, (inp, out, write, read, breakdown)) in enumerate(probes.items()):
            moment = first + timedelta(days=m_index * len(probes) + p_index)
            lines.append(
                assistant(
                    f"probe-{model}-{name}",
                    f"req-{model}-{name}",
                    moment.strftime("%Y-%m-%dT12:00:00.000Z"),
                    inp,
                    out,
                    write=write,
                    read=read,
                    breakdown=breakdown,
                    model=model,
                )
            )
    transcript(root, "probe.jsonl", lines)
    costs: dict[str, dict[str, float]] = defaultdict(dict)
    for day in _ccusage_daily(root, tmp_path / "probe-home"):
        offset = (date.fromisoformat(day["date"]) - first.date()).days
        costs[models[offset // len(probes)]][list(probes)[offset % len(probes)]] = day["totalCost"]
    result: dict[str, dict[str, float]] = {}
    for model, cost in costs.items():
        per = {name: value / 100_000 for name, value in cost.items()}
        per["cache_read_above_200k"] = (
            cost["cache_read_above_200k"] - 2 * cost["cache_read"]
        ) / 100_000
        result[model] = per
    return result


def _our_prices(price: ModelPrice) -> dict[str, float]:
    per = {name: float(value) for name, value in price.per_token.items()}
    above = float(price.per_token["cache_read"])
    for tier in price.tiers:
        if tier.above_tokens == 200_000 and "cache_read" in tier.per_token:
            above = float(tier.per_token["cache_read"])
    per["cache_read_above_200k"] = above
    return per


def test_estimated_cost_matches_ccusage_where_the_price_sources_agree(
    corpus: tuple[Path, Expected], tmp_path: Path
) -> None:
    """ccusage prices with LiteLLM's table (bundled in 20.0.24), we with genai-prices: per
    month and model, costs must agree within $0.01 wherever both tables give the same
    per-token prices (base and above 200k); where they differ the gap is that price
    difference, reported in the failure message. ``costUSD`` lines are used as-is by both.
    Fast-mode (``-fast``) and unknown models have no genai-prices price and are left out."""
    root, _ = corpus
    catalog = load_catalog(PricingConfig())
    result = reader(root, catalog=catalog)
    models = sorted({b.model for b in result.buckets()})
    ours_priced = {
        m: p
        for m in models
        if not m.endswith("-fast") and (p := catalog.lookup("anthropic", m, at=corpus_module.NOW))
    }
    theirs = _probe_prices(sorted(ours_priced), tmp_path)
    agreeing, differing = [], {}
    for model, price in ours_priced.items():
        mine, other = _our_prices(price), theirs.get(model, {})
        gaps = {
            k: (mine[k], other.get(k))
            for k in mine
            if other.get(k) is None or abs(mine[k] - other[k]) > 1e-12
        }
        if gaps:
            differing[model] = gaps
        else:
            agreeing.append(model)
    assert agreeing, f"no model priced alike by both sources: {differing}"
    cost_theirs: dict[tuple[str, str], float] = defaultdict(float)
    for day in _ccusage_daily(root, tmp_path / "home"):
        for breakdown in day["modelBreakdowns"]:
            cost_theirs[(day["date"][:7], breakdown["modelName"])] += breakdown["cost"]
    cost_ours: dict[tuple[str, str], Decimal] = defaultdict(Decimal)
    for bucket in result.buckets():
        if bucket.cost_usd is not None:
            cost_ours[(bucket.day.strftime("%Y-%m"), bucket.model)] += bucket.cost_usd
    compared = 0
    for (month, model), cost in cost_ours.items():
        if model in agreeing:
            compared += 1
            assert abs(float(cost) - cost_theirs[(month, model)]) < 0.01, (month, model)
    assert compared >= len(agreeing)
