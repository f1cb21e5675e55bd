"""Fuzzing the local log readers (issue 8): Claude Code transcripts and Codex rollouts.

Files hold valid usage lines (each with its own ids and time, so no deduplication rule applies)
interleaved with garbage: random bytes, truncated copies of valid lines, lines with the usage
marker but broken JSON, and valid lines with one field broken (wrong type, negative count, a
time outside what a datetime can hold, a lone surrogate, ...). Whatever the bytes and however
they arrive (appended in random pieces that split lines, truncated between two polls, truncated
while the reader is reading them), the reader never raises and, after each poll, its totals are
exactly those of the valid complete lines the file holds at that moment: a line is never
counted twice and a partial line counts once, when it is completed. Records built from the
reader keep the invariants of :mod:`tests.test_fuzz_parsers` (labels encodable, counts
non-negative, money finite).
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any, cast
from unittest import mock

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from exporter import claude_logs, codex_logs
from exporter.claude_logs import ClaudeLogReader
from exporter.codex_logs import CodexLogReader
from exporter.pricing import Catalog, ModelPrice
from exporter.providers import claude_code, codex
from exporter.providers.base import DIMENSIONS, SourceContext
from tests.test_fuzz_parsers import assert_number, check_records, examples

NOW = datetime(2026, 10, 20, 12, 0, tzinfo=UTC)
MONTH = datetime(2026, 10, 1, tzinfo=UTC)
M = Decimal(1_000_000)
SONNET = "claude-sonnet-4-20250514"
OPUS = "claude-opus-4-6"
UNKNOWN = "claude-experimental-9"


def _price(provider: str, model: str, inp: str, out: str) -> ModelPrice:
    base = Decimal(inp) / M
    per = {
        "input": base,
        "cache_read": base / 10,
        "cache_write_5m": base * Decimal("1.25"),
        "cache_write_1h": base * 2,
        "output": Decimal(out) / M,
    }
    return ModelPrice(provider, model, "config", per)


CATALOG = Catalog(
    {
        ("anthropic", SONNET): _price("anthropic", SONNET, "3", "15"),
        ("openai", "gpt-5"): _price("openai", "gpt-5", "1.25", "10"),
    },
    {"config": 1.7e9},
)

SETTINGS = settings(
    max_examples=examples(100),
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


@dataclass(frozen=True)
class Piece:
    """Bytes written to a log (a line and its newline), and the tokens it counts if valid."""

    data: bytes
    tokens: tuple[int, ...] | None = None


def dumps(value: Any) -> bytes:
    """Compact JSON as both CLIs write it; ``"@@<token>@@"`` strings become raw JSON tokens
    (numbers beyond what ``json.dumps`` writes: ``1e1000000``, ``NaN``)."""
    text = json.dumps(value, separators=(",", ":"))
    for raw in ("1e1000000", "-1e1000000", "NaN", "Infinity", "1e400"):
        text = text.replace(f'"@@{raw}@@"', raw)
    return text.encode()


def reference(content: bytes, pieces: list[Piece], width: int) -> tuple[int, ...]:
    """Token totals of the valid lines among the complete lines of ``content``."""
    valid = {piece.data[:-1]: piece.tokens for piece in pieces if piece.tokens is not None}
    totals = [0] * width
    for line in content.split(b"\n")[:-1]:  # the last segment has no newline yet
        tokens = valid.get(line)
        if tokens is not None:
            totals = [a + b for a, b in zip(totals, tokens, strict=True)]
    return tuple(totals)


GARBAGE = (
    st.binary(max_size=80)
    | st.text(max_size=40).map(str.encode)
    | st.sampled_from(
        [
            b"",
            b"{",
            b"}",
            b"null",
            b"[1,2]",
            b"\xff\xfe",
            b'{"usage":{',
            b'{"message":{"usage":{"input_tokens":1',
            b'"usage":{}',
            b"token_count",
            b'{"type":"event_msg","payload":{"type":"token_count"',
            b'{"type":"turn_context","payload":',
        ]
    )
).map(lambda raw: raw.replace(b"\n", b" ") + b"\n")
TOKENS = st.integers(0, 3_000_000)
PIECE_KINDS = st.sampled_from(["valid", "valid", "valid", "garbage", "prefix", "broken"])


def _moment(index: int) -> datetime:
    """Distinct times inside the month, one per line (two days apart at most)."""
    return datetime(2026, 10, 18, 3, 0, tzinfo=UTC) + timedelta(minutes=7 * index, seconds=index)


def _iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


# --------------------------------------------------------------------------- Claude Code


def claude_line(index: int, usage: tuple[int, int, int, int, bool], model: str) -> dict[str, Any]:
    inp, out, write, read, split = usage
    usage_object: dict[str, Any] = {
        "input_tokens": inp,
        "cache_creation_input_tokens": write,
        "cache_read_input_tokens": read,
        "output_tokens": out,
        "service_tier": "standard",
    }
    if split:  # the 5m/1h breakdown replaces cache_creation_input_tokens
        usage_object["cache_creation"] = {
            "ephemeral_5m_input_tokens": write // 3,
            "ephemeral_1h_input_tokens": write - write // 3,
        }
    return {
        "parentUuid": None,
        "isSidechain": False,
        "cwd": "/home/dev/src/app",
        "sessionId": "sess-fuzz",
        "version": "2.0.14",
        "message": {
            "id": f"msg_{index:05d}",
            "type": "message",
            "role": "assistant",
            "model": model,
            "content": [{"type": "text", "text": "Looking at the test…"}],
            "stop_reason": None,
            "usage": usage_object,
        },
        "requestId": f"req_{index:05d}",
        "type": "assistant",
        "timestamp": _iso(_moment(index)),
    }


def _set(line: dict[str, Any], path: tuple[str, ...], value: Any) -> dict[str, Any]:
    target = line
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    return line


#: Edits that make a usage line one ccusage does not count (skipped or ignored).
CLAUDE_BREAKS: tuple[Callable[[dict[str, Any]], bytes], ...] = (
    lambda line: dumps(_set(line, ("message", "usage", "input_tokens"), "12")),
    lambda line: dumps(_set(line, ("message", "usage", "input_tokens"), -1)),
    lambda line: dumps(_set(line, ("message", "usage", "output_tokens"), 1.5)),
    lambda line: dumps(_set(line, ("message", "usage", "output_tokens"), 2**64)),
    lambda line: dumps(_set(line, ("message", "usage", "output_tokens"), "@@NaN@@")),
    lambda line: dumps(_set(line, ("message", "usage", "output_tokens"), "@@1e400@@")),
    lambda line: dumps(_set(line, ("timestamp",), "2026-10-05")),
    lambda line: dumps(_set(line, ("timestamp",), "9999-12-31T23:59:59.000-01:00")),
    lambda line: dumps(_set(line, ("timestamp",), "9999-12-31T22:00:00.000Z")),
    lambda line: dumps(_set(line, ("timestamp",), "0001-01-01T00:00:00.000+01:00")),
    lambda line: dumps(_set(line, ("timestamp",), "2026-02-30T10:00:00.000Z")),
    lambda line: dumps(_set(line, ("version",), "abc")),
    lambda line: dumps(_set(line, ("requestId",), None)),
    lambda line: dumps(_set(line, ("message", "model"), "")),
    lambda line: dumps(_set(line, ("message", "model"), "<synthetic>")),
    lambda line: dumps(_set(line, ("message", "model"), "\ud800")),
    lambda line: dumps(_set(line, ("cwd",), "/home/\udfff")),
    lambda line: dumps(_set(line, ("message", "usage"), [])),
    lambda line: dumps(line) + b"x",
    lambda line: dumps(line)[:-1] + b',"costUSD":NaN}',
)
CLAUDE_MODELS = st.sampled_from([SONNET, OPUS, UNKNOWN])
CLAUDE_USAGE = st.tuples(TOKENS, TOKENS, TOKENS, TOKENS, st.booleans())
#: In-range extremes that are valid lines (counted, far from this month).
CLAUDE_FAR_TIMES = ("0001-01-01T00:00:00.000Z", "9999-12-30T23:59:59.999Z")


@st.composite
def claude_pieces(draw: st.DrawFn) -> list[Piece]:
    specs = draw(st.lists(st.tuples(PIECE_KINDS, CLAUDE_USAGE, CLAUDE_MODELS), max_size=12))
    pieces = []
    for index, (kind, usage, model) in enumerate(specs):
        line = claude_line(index, usage, model)
        if kind == "valid":
            if draw(st.integers(0, 9)) == 0:
                line["timestamp"] = draw(st.sampled_from(CLAUDE_FAR_TIMES))
            inp, out, write, read, _ = usage
            pieces.append(Piece(dumps(line) + b"\n", (inp, out, write, read)))
        elif kind == "garbage":
            pieces.append(Piece(draw(GARBAGE)))
        elif kind == "prefix":
            text = dumps(line)
            pieces.append(Piece(text[: draw(st.integers(0, len(text) - 1))] + b"\n"))
        else:
            pieces.append(Piece(draw(st.sampled_from(CLAUDE_BREAKS))(line) + b"\n"))
    return pieces


def claude_totals(reader: ClaudeLogReader) -> tuple[int, ...]:
    sums = [0, 0, 0, 0]
    for bucket in reader.buckets():
        sums[0] += bucket.input
        sums[1] += bucket.output
        sums[2] += bucket.cache_write_5m + bucket.cache_write_1h
        sums[3] += bucket.cache_read
    return tuple(sums)


def _context() -> SourceContext:
    return SourceContext(
        upstream=cast(Any, None), start=MONTH, end=NOW, group_by=frozenset(DIMENSIONS)
    )


class ClaudeLog:
    """One transcript under a fresh Claude config dir, and a reader of it."""

    def __init__(self, root: Path) -> None:
        self.path = root / "projects" / "-home-dev-src-app" / "session.jsonl"
        self.path.parent.mkdir(parents=True)
        self.path.touch()
        self.reader = ClaudeLogReader([root])
        self.skipped = 0

    def append(self, data: bytes) -> None:
        with self.path.open("ab") as out:
            out.write(data)

    def truncate(self, size: int) -> None:
        with self.path.open("r+b") as out:
            out.truncate(size)

    def poll(self, pieces: list[Piece]) -> None:
        """Refresh, then compare with the file's valid complete lines."""
        self.reader.refresh(CATALOG, NOW.timestamp())
        assert claude_totals(self.reader) == reference(self.path.read_bytes(), pieces, 4)
        skipped = sum(self.reader.skipped().values())
        assert skipped >= self.skipped  # a process-lifetime counter
        self.skipped = skipped
        check_records(claude_code.log_records(self.reader, _context()))
        block = self.reader.active_block(NOW.timestamp())
        if block is not None:
            assert_number(block.cost_usd, "block cost", non_negative=True)
        self.reader.active_block(datetime(9999, 12, 30, 23, 0, tzinfo=UTC).timestamp())


def _data(pieces: list[Piece]) -> bytes:
    return b"".join(piece.data for piece in pieces)


def _cuts(data: st.DataObject, length: int, label: str) -> list[int]:
    return sorted(data.draw(st.lists(st.integers(0, length), max_size=6), label=label))


@SETTINGS
@given(pieces=claude_pieces(), data=st.data())
def test_claude_reader_counts_each_valid_line_once_whatever_the_pieces(
    pieces: list[Piece], data: st.DataObject
) -> None:
    content = _data(pieces)
    with tempfile.TemporaryDirectory() as tmp:
        log = ClaudeLog(Path(tmp))
        written = 0
        for cut in [*_cuts(data, len(content), "appends"), len(content)]:
            log.append(content[written:cut])  # may end inside a line: it waits for its end
            written = cut
            log.poll(pieces)
        before = log.skipped
        log.poll(pieces)  # nothing new: nothing counted again, no line skipped again
        assert log.skipped == before


@SETTINGS
@given(first=claude_pieces(), then=claude_pieces(), data=st.data())
def test_claude_reader_follows_a_file_truncated_between_polls(
    first: list[Piece], then: list[Piece], data: st.DataObject
) -> None:
    then = _renumbered(then, len(first))
    content = _data(first)
    with tempfile.TemporaryDirectory() as tmp:
        log = ClaudeLog(Path(tmp))
        log.append(content)
        log.poll(first)
        log.truncate(data.draw(st.integers(0, len(content)), label="truncate to"))
        log.poll(first)
        log.append(_data(then))
        log.poll(first + then)


@SETTINGS
@given(
    first=claude_pieces(),
    then=claude_pieces(),
    data=st.data(),
    incremental=st.booleans(),
    after_first_chunk=st.booleans(),
)
def test_claude_reader_survives_a_truncation_while_it_reads(
    first: list[Piece],
    then: list[Piece],
    data: st.DataObject,
    incremental: bool,
    after_first_chunk: bool,
) -> None:
    later = _renumbered(then, len(first) + len(then))  # ids and times never written before
    then = _renumbered(then, len(first))
    with tempfile.TemporaryDirectory() as tmp:
        log = ClaudeLog(Path(tmp))
        log.append(_data(first))
        if incremental:
            log.poll(first)
            log.append(_data(then))
        content = log.path.read_bytes()
        size = data.draw(st.integers(0, len(content)), label="truncate to")
        original = claude_logs._decode_chunks

        def truncating(path: str, start: int, stop: int) -> Iterator[claude_logs.Decoded]:
            # The reader has the file's stat (size ``stop``): the file shrinks under it now,
            # before it reads or after its first chunk.
            parts = original(path, start, stop)
            if after_first_chunk:
                yield next(parts, claude_logs.Decoded(0, [], []))
            log.truncate(size)
            yield from parts

        with (
            mock.patch.object(claude_logs, "_decode_chunks", truncating),
            mock.patch.object(claude_logs, "_READ_CHUNK", 64),
        ):
            log.reader.refresh(CATALOG, NOW.timestamp())
        log.poll(first + then)  # the next poll sees the shorter file
        log.append(_data(later))
        log.poll(first + then + later)


def _renumbered(pieces: list[Piece], offset: int) -> list[Piece]:
    """``pieces`` with message ids, request ids and times moved by ``offset`` lines (so that
    lines written later never repeat an earlier line's ids)."""

    def shift(data: bytes) -> bytes:
        for index in range(len(pieces) - 1, -1, -1):
            for old, new in (
                (f"msg_{index:05d}", f"msg_{index + offset:05d}"),
                (f"req_{index:05d}", f"req_{index + offset:05d}"),
                (_iso(_moment(index)), _iso(_moment(index + offset))),
            ):
                data = data.replace(old.encode(), new.encode())
        return data

    return [Piece(shift(piece.data), piece.tokens) for piece in pieces]


# --------------------------------------------------------------------------- Codex

CODEX_HEAD = [
    {
        "timestamp": "2026-10-18T02:59:00.000Z",
        "type": "session_meta",
        "payload": {"id": "sess-fuzz", "cwd": "/home/dev/src/app"},
    },
    {
        "timestamp": "2026-10-18T02:59:01.000Z",
        "type": "turn_context",
        "payload": {"model": "gpt-5", "cwd": "/home/dev/src/app"},
    },
]
NASTY_NUMBERS = st.sampled_from(
    [0, -1, 1, 300, 10080, 2**64, 1.5, "12", "", None, "@@1e1000000@@", "@@-1e1000000@@", "x"]
)
RATE_LIMITS = st.none() | st.fixed_dictionaries(
    {},
    optional={
        "limit_id": st.sampled_from(["codex", None, "other", 5]),
        "primary": st.none()
        | st.fixed_dictionaries(
            {},
            optional={
                "used_percent": NASTY_NUMBERS,
                "window_minutes": NASTY_NUMBERS,
                "resets_at": NASTY_NUMBERS,
                "resets_in_seconds": NASTY_NUMBERS,
            },
        ),
        "credits": st.none() | st.fixed_dictionaries({"balance": NASTY_NUMBERS}),
        "plan_type": st.sampled_from(["plus", None, 3]),
    },
)
CODEX_MODELS = st.sampled_from([None, "gpt-5", "gpt-5-codex", "o9-unknown"])
CODEX_USAGE = st.tuples(TOKENS, TOKENS, TOKENS, TOKENS)


def codex_line(
    index: int, usage: tuple[int, int, int, int], model: str | None, limits: Any
) -> dict[str, Any]:
    inp, cached, out, reasoning = usage
    payload: dict[str, Any] = {
        "type": "token_count",
        "info": {
            "last_token_usage": {
                "input_tokens": inp,
                "cached_input_tokens": cached,
                "output_tokens": out,
                "reasoning_output_tokens": reasoning,
                "total_tokens": inp + out,
            }
        },
    }
    if model is not None:
        payload["model"] = model
    if limits is not None:
        payload["rate_limits"] = limits
    return {"timestamp": _iso(_moment(index)), "type": "event_msg", "payload": payload}


def _usage(line: dict[str, Any]) -> dict[str, Any]:
    info: dict[str, Any] = line["payload"]["info"]
    last: dict[str, Any] = info["last_token_usage"]
    return last


#: Edits that make a token_count line one that counts nothing (skipped or ignored); and
#: lines that change the model or project to a label the exposition could not encode.
CODEX_BREAKS: tuple[Callable[[dict[str, Any]], bytes], ...] = (
    lambda line: dumps({**line, "timestamp": None}),
    lambda line: dumps({**line, "timestamp": "2026-13-01T00:00:00Z"}),
    lambda line: dumps({**line, "timestamp": "0001-01-01T00:00:00+01:00"}),
    lambda line: dumps({**line, "timestamp": "9999-12-31T23:59:59-01:00"}),
    lambda line: dumps({**line, "timestamp": 10**30}),
    lambda line: dumps(_set(line, ("payload", "info"), [])),
    lambda line: (_usage(line).update(input_tokens=-1), dumps(line))[1],
    lambda line: (_usage(line).update(output_tokens="@@1e1000000@@"), dumps(line))[1],
    lambda line: (_usage(line).update(cached_input_tokens=1.5), dumps(line))[1],
    lambda line: (_usage(line).update(reasoning_output_tokens="many"), dumps(line))[1],
    lambda line: dumps(line) + b"}",
    lambda _: dumps(
        {
            "timestamp": "2026-10-18T03:00:00Z",
            "type": "turn_context",
            "payload": {"model": "\ud800"},
        }
    ),
    lambda _: dumps(
        {
            "timestamp": "2026-10-18T03:00:00Z",
            "type": "turn_context",
            "payload": {"cwd": "/w/\udfff"},
        }
    ),
    lambda _: dumps({"timestamp": "2026-10-18T03:00:00Z", "type": "session_meta", "payload": 7}),
)


@st.composite
def codex_pieces(draw: st.DrawFn) -> list[Piece]:
    specs = draw(
        st.lists(st.tuples(PIECE_KINDS, CODEX_USAGE, CODEX_MODELS, RATE_LIMITS), max_size=12)
    )
    pieces = []
    for index, (kind, usage, model, limits) in enumerate(specs):
        line = codex_line(index, usage, model, limits)
        if kind == "valid":
            inp, cached, out, _ = usage
            read = min(cached, inp)
            pieces.append(Piece(dumps(line) + b"\n", (inp - read, read, out)))
        elif kind == "garbage":
            pieces.append(Piece(draw(GARBAGE)))
        elif kind == "prefix":
            text = dumps(line)
            pieces.append(Piece(text[: draw(st.integers(0, len(text) - 1))] + b"\n"))
        else:
            pieces.append(Piece(draw(st.sampled_from(CODEX_BREAKS))(line) + b"\n"))
    return pieces


def codex_totals(reader: CodexLogReader) -> tuple[int, ...]:
    buckets = reader.buckets()
    return (
        sum(b.input for b in buckets),
        sum(b.cache_read for b in buckets),
        sum(b.output for b in buckets),
    )


class CodexLog:
    """One rollout under a fresh Codex home (its first lines written), and a reader of it."""

    def __init__(self, home: Path) -> None:
        self.path = home / "sessions" / "2026" / "10" / "18" / "rollout-fuzz.jsonl"
        self.path.parent.mkdir(parents=True)
        self.head = b"".join(dumps(line) + b"\n" for line in CODEX_HEAD)
        self.path.write_bytes(self.head)
        self.reader = CodexLogReader([home])
        self.skipped = 0

    def append(self, data: bytes) -> None:
        with self.path.open("ab") as out:
            out.write(data)

    def truncate(self, size: int) -> None:
        with self.path.open("r+b") as out:
            out.truncate(size)

    def poll(self, pieces: list[Piece]) -> None:
        self.reader.refresh(CATALOG)
        assert codex_totals(self.reader) == reference(self.path.read_bytes(), pieces, 3)
        skipped = sum(self.reader.skipped().values())
        assert skipped >= self.skipped
        self.skipped = skipped
        check_records(codex.log_records(self.reader, _context()))


@SETTINGS
@given(pieces=codex_pieces(), data=st.data())
def test_codex_reader_counts_each_valid_line_once_whatever_the_pieces(
    pieces: list[Piece], data: st.DataObject
) -> None:
    content = _data(pieces)
    with tempfile.TemporaryDirectory() as tmp:
        log = CodexLog(Path(tmp))
        written = 0
        for cut in [*_cuts(data, len(content), "appends"), len(content)]:
            log.append(content[written:cut])
            written = cut
            log.poll(pieces)
        before = log.skipped
        log.poll(pieces)
        assert log.skipped == before


@SETTINGS
@given(first=codex_pieces(), then=codex_pieces(), data=st.data())
def test_codex_reader_follows_a_file_truncated_between_polls(
    first: list[Piece], then: list[Piece], data: st.DataObject
) -> None:
    then = _renumbered(then, len(first))
    with tempfile.TemporaryDirectory() as tmp:
        log = CodexLog(Path(tmp))
        log.append(_data(first))
        log.poll(first)
        content = log.path.read_bytes()
        log.truncate(data.draw(st.integers(0, len(content)), label="truncate to"))
        log.poll(first)
        log.append(_data(then))
        log.poll(first + then)


@SETTINGS
@given(
    first=codex_pieces(),
    then=codex_pieces(),
    data=st.data(),
    incremental=st.booleans(),
    after_first_line=st.booleans(),
)
def test_codex_reader_survives_a_truncation_while_it_reads(
    first: list[Piece],
    then: list[Piece],
    data: st.DataObject,
    incremental: bool,
    after_first_line: bool,
) -> None:
    later = _renumbered(then, len(first) + len(then))  # ids and times never written before
    then = _renumbered(then, len(first))
    with tempfile.TemporaryDirectory() as tmp:
        log = CodexLog(Path(tmp))
        log.append(_data(first))
        if incremental:
            log.poll(first)
            log.append(_data(then))
        content = log.path.read_bytes()
        size = data.draw(st.integers(0, len(content)), label="truncate to")
        original = codex_logs._complete_lines

        def truncating(path: Path, start: int = 0) -> Iterator[tuple[int, bytes]]:
            lines = original(path, start)
            if after_first_line:
                first_line = next(lines, None)
                if first_line is not None:
                    yield first_line
            log.truncate(size)
            yield from lines

        with (
            mock.patch.object(codex_logs, "_complete_lines", truncating),
            mock.patch.object(codex_logs, "_READ_CHUNK", 64),
        ):
            log.reader.refresh(CATALOG)
        log.poll(first + then)
        log.append(_data(later))
        log.poll(first + then + later)


# --------------------------------------------------------------------------- regressions
# Minimal examples of what the properties above found, as plain tests.


def _claude_reader_of(lines: list[bytes], root: Path) -> ClaudeLogReader:
    log = ClaudeLog(root)
    log.append(b"".join(line + b"\n" for line in lines))
    log.reader.refresh(CATALOG, NOW.timestamp())
    return log.reader


def test_claude_lines_a_datetime_cannot_hold_are_skipped_as_invalid(tmp_path: Path) -> None:
    """Each of these raised OverflowError on every poll (bucket day, price lookup, 5-hour
    block end), so the source never recovered while the line was in a transcript."""
    usage = (10, 5, 0, 0, False)
    lines = [
        dumps(_set(claude_line(0, usage, SONNET), ("timestamp",), moment))
        for moment in (
            "9999-12-31T23:59:59.000-01:00",  # after 9999 in UTC
            "0001-01-01T00:00:00.000+01:00",  # before year 1 in UTC
            "9999-12-31T22:00:00.000Z",  # its 5-hour block would end after 9999
        )
    ]
    lines = [line.replace(b"msg_00000", f"msg_{i}".encode()) for i, line in enumerate(lines)]
    lines.append(dumps(claude_line(9, usage, SONNET)))
    reader = _claude_reader_of(lines, tmp_path)
    assert claude_totals(reader) == (10, 5, 0, 0)
    assert reader.skipped() == {"malformed": 0, "invalid": 3}
    assert reader.active_block(datetime(9999, 12, 31, tzinfo=UTC).timestamp()) is None


def test_claude_lines_at_the_ends_of_the_datetime_range_are_counted(tmp_path: Path) -> None:
    usage = (10, 5, 0, 0, False)
    lines = [
        dumps(_set(claude_line(i, usage, SONNET), ("timestamp",), moment))
        for i, moment in enumerate(CLAUDE_FAR_TIMES)
    ]
    reader = _claude_reader_of(lines, tmp_path)
    assert claude_totals(reader) == (20, 10, 0, 0)
    assert sorted(b.day.year for b in reader.buckets()) == [1, 9999]
    block = reader.active_block(datetime(9999, 12, 30, 23, 59, 59, tzinfo=UTC).timestamp())
    assert block is not None and block.end.year == 9999


def _codex_reader_of(lines: list[Any], home: Path) -> CodexLogReader:
    log = CodexLog(home)
    log.append(
        b"".join((line if isinstance(line, bytes) else dumps(line)) + b"\n" for line in lines)
    )
    log.reader.refresh(CATALOG)
    return log.reader


def test_codex_lone_surrogates_are_malformed_lines(tmp_path: Path) -> None:
    """A model or cwd holding one became a label: rendering /metrics raised
    UnicodeEncodeError on every scrape."""
    context = {"timestamp": "2026-10-18T03:00:00Z", "type": "turn_context"}
    reader = _codex_reader_of(
        [
            {**context, "payload": {"model": "\ud800"}},
            {**context, "payload": {"model": "gpt-5", "cwd": "/w/\udfff"}},
            codex_line(1, (100, 0, 10, 0), None, None),
        ],
        tmp_path,
    )
    assert [(b.model, b.project, b.input) for b in reader.buckets()] == [("gpt-5", "app", 100)]
    assert reader.skipped() == {"malformed": 2, "invalid": 0}
    check_records(codex.log_records(reader, _context()))


def test_codex_rate_limits_beyond_range_never_hide_the_usage(tmp_path: Path) -> None:
    """decimal.Overflow (observed time + resets_in_seconds) escaped the reader's refresh."""
    limits = {
        "primary": {"used_percent": 5, "window_minutes": 300, "resets_in_seconds": "@@1e1000000@@"}
    }
    reader = _codex_reader_of([codex_line(1, (100, 0, 10, 0), None, limits)], tmp_path)
    assert [b.input for b in reader.buckets()] == [100]
    assert reader.rate_limits() is None


def test_codex_times_a_datetime_cannot_hold_are_invalid(tmp_path: Path) -> None:
    """OverflowError converting 0001-01-01T00:00:00+01:00 to UTC escaped the refresh."""
    line = codex_line(1, (100, 0, 10, 0), None, None)
    reader = _codex_reader_of(
        [
            {**line, "timestamp": "0001-01-01T00:00:00+01:00"},
            codex_line(2, (7, 0, 1, 0), None, None),
        ],
        tmp_path,
    )
    assert [b.input for b in reader.buckets()] == [7]
    assert reader.skipped() == {"malformed": 0, "invalid": 1}
