"""Incremental reader of Claude Code transcripts: tokens, estimated cost and 5-hour blocks.

No network: everything comes from the JSONL transcripts Claude Code writes while it works.

Files read
    Roots: the ``paths`` given (each a Claude config dir holding ``projects/``, or the
    ``projects/`` dir itself), else each comma-separated entry of ``$CLAUDE_CONFIG_DIR``, else
    ``${XDG_CONFIG_HOME:-~/.config}/claude`` and ``~/.claude``. A root is used when
    ``<root>/projects`` is a directory (checked on every poll, so a root created later is
    picked up); data of all roots is combined. Every ``*.jsonl`` below ``projects/`` is read,
    recursively (the legacy flat ``<project>/<session>.jsonl`` and nested layouts such as
    ``<project>/<session>/subagents/agent-*.jsonl``); symbolic links inside ``projects/`` are
    not followed. Files are processed in the order of their full path, as ccusage does: that
    order decides which of two equal copies is kept.

Rules: those of ccusage 20.0.24 (``ccusage claude daily``), checked against its binary
    * Only lines containing the bytes ``"usage":{`` are decoded (tool results are megabytes of
      text; Claude Code writes compact JSON). Such a line that is not a JSON object counts as
      skipped ``malformed``. A line is a usage line when it has ``message.usage`` (assistant
      lines) or ``data.message.message.usage`` (sub-agent ``progress`` lines, whose timestamp,
      ``requestId``, ``isSidechain`` and ``costUSD`` are those of ``data.message``). A usage
      line is skipped as ``invalid`` when a field ccusage reads has the wrong JSON type (token
      counts must be integers 0…2⁶⁴−1), when ``"id"``, ``"cwd"``, ``"model"``, ``"speed"``,
      ``"costUSD"``, ``"version"``, ``"sessionId"``, ``"requestId"``, ``"isApiErrorMessage"``,
      ``"cache_read_input_tokens"`` or ``"cache_creation_input_tokens"`` is ``null`` anywhere in
      the line, when its timestamp is not ``YYYY-MM-DDTHH:MM:SS[.mmm](Z|±HH:MM)`` (or, unlike
      ccusage, is in UTC before year 1 or on or after 9999-12-31), when
      ``version`` does not start like semver (``1.2.3``), or when ``sessionId``, ``requestId``,
      ``message.id`` or ``message.model`` is an empty string. Other lines are not usage lines
      and are ignored silently (e.g. a Task tool result's own ``usage`` object).
    * Tokens: ``input_tokens``, ``output_tokens``, ``cache_read_input_tokens``; cache writes are
      ``usage.cache_creation.ephemeral_5m_input_tokens`` / ``ephemeral_1h_input_tokens`` when
      that breakdown is present (``cache_creation_input_tokens`` is then ignored), else all of
      ``cache_creation_input_tokens`` counts as 5-minute writes.
    * Deduplication. Lines without ``message.id`` are never deduplicated. Otherwise a line
      matches a kept entry with the same ``message.id`` and the same ``requestId`` or, when it
      has no ``requestId``, the same ``sessionId`` and the same instant (so streamed copies of
      old ``requestId``-less transcripts written at different times all count, as in
      ccusage). Failing that, when the line or a kept entry of the same ``message.id`` and
      ``sessionId`` is a sidechain (``isSidechain: true``; ``/btw`` replays parent messages
      with a new ``requestId``), it matches the first such entry. Of two matching copies the
      kept one is: the non-sidechain copy; else the larger token total (input + output +
      cache writes + cache reads); else the larger cost; else the one with ``usage.speed``;
      else the first. A replacing copy takes over the entry's ids, session and time.
    * ``<synthetic>`` messages (Claude Code's own, always zero usage) are ignored. A message
      without a model is counted under ``unknown``; ``usage.speed: fast`` (Opus fast mode) is
      counted under ``<model>-fast``, as ccusage labels it.
    * Cost of each entry: its ``costUSD`` (older Claude Code versions) if present, else the
      catalog's ``anthropic`` price of the model on the entry's UTC day
      (:meth:`ModelPrice.request_cost`: 5-minute and 1-hour cache writes priced apart,
      long-context tiers per request). A model the catalog does not know has no cost (never
      $0): its tokens are reported as unpriced.
    * Days are UTC days of the entry's timestamp. ``project`` is the line's ``cwd``
      (``project_label``: ``basename`` → last path component, ``path`` → the whole cwd,
      ``off`` → ``""``), or the name of the directory under ``projects/`` when the line has no
      ``cwd``.

5-hour blocks (ccusage's ``identify_session_blocks``)
    Kept entries sorted by time; a block starts at its first entry's time floored to the UTC
    hour and lasts 5 h; an entry more than 5 h after the block's start or after the previous
    entry starts a new block. The last block is *active* while its last entry is less than
    5 h old and its end is in the future. :meth:`ClaudeLogReader.active_block` reports its
    start, end, tokens and estimated cost. Only entries of the last few days are looked at,
    unless activity without a 5-hour pause reaches further back (then all entries are).

Decoding
    With msgspec installed, each usage line is decoded and type-checked in C against exactly
    the fields ccusage reads; otherwise the standard library's ``json`` and the same checks
    in Python (tests run both; the first pass is then about 2.5× slower). Both refuse what
    serde refuses and ``JSON.stringify`` can write: ``NaN``, unpaired surrogate escapes,
    invalid UTF-8, counts above 2⁶⁴−1. Differences that ``JSON.stringify`` never produces:
    a line with duplicate keys, nesting deeper than 128 levels, a count written ``-0`` or
    (msgspec only) a number beyond the double range in a field ccusage ignores is read here,
    skipped by ccusage.

Incremental reading and memory
    Like ``tail -F``: per file the reader keeps (device, inode, size, mtime, bytes consumed)
    and a digest of the file's first 4 KiB, and reads only the complete lines appended since
    the last poll (a last line without its newline waits for the next poll). A steady-state
    poll stats directories and files only: a directory is listed again only when its
    (inode, mtime) changed or changed less than 2 s ago. A file that vanished, shrank, was
    replaced (other inode) or rewritten (other first bytes) has its previous contribution
    subtracted (recomputed from the entries it holds) and is read again from the start; when
    an entry it holds also has copies in other files (resumed sessions, sidechains), or the
    catalog's price of a model changed, every file is read again instead.

    The first pass streams files in 4 MiB chunks. When it has 64 MB or more to read and the
    process may use several CPUs, up to two short-lived worker processes (``python -S -c``,
    no ``fork()``, no re-import of ``__main__``) decode files through memory maps while the
    reader applies the results in path order and decodes any file no worker has claimed yet;
    each worker costs about 25 MB while it runs, and a worker that fails (a file truncated
    under its map raises SIGBUS) only means the reader decodes that file itself. Streamed
    copies of one message that follow each other in a file are collapsed by the decoder when
    the rules above decide between them without prices (same ids and session, no sidechain).

    Memory holds the aggregates per (UTC day, project, model) and, for deduplication, one
    compact record per kept entry (time, bucket, owning file, flags, token counts,
    ``costUSD``, a 64-bit hash of ``requestId``, its session) plus its ``message.id`` in an
    index: about 350 bytes per kept API call (15 MB for the 43,000 kept calls of the 1 GB
    benchmark corpus), whatever their age: a resumed session can copy any old message into a
    new transcript, so any entry may be matched again (ccusage keeps all of them too).
    ``requestId`` values are compared by hash (a false match needs a 64-bit collision between
    two requests of one message).

Blind spots
    * Usage of Claude Code on other machines and of claude.ai is not in these logs.
    * The estimate is list-price API cost, not what a Pro/Max plan bills.
    * Fast-mode usage (``<model>-fast``) is unpriced unless the catalog has a price for that
      id itself (a config price): fast mode bills a multiple of the model's list price.
    * A transcript rewritten in place beyond its first 4 KiB without changing size is not
      noticed.
"""

from __future__ import annotations

import contextlib
import gc
import hashlib
import importlib
import json
import logging
import math
import mmap
import os
import pickle
import re
import subprocess
import sys
import threading
import time
from array import array
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final, Literal, NamedTuple

if TYPE_CHECKING:
    import asyncio

    from exporter.pricing import Catalog, ModelPrice

log = logging.getLogger(__name__)

#: Provider id the catalog prices Claude models under.
PRICE_PROVIDER: Final = "anthropic"
#: ``reason`` values of ``llm_log_lines_skipped_total``.
SKIP_REASONS: Final = ("malformed", "invalid")
#: Model label of usage without a model id.
UNKNOWN_MODEL: Final = "unknown"
SYNTHETIC_MODEL: Final = "<synthetic>"
BLOCK_SECONDS: Final = 5 * 3600

ProjectLabel = Literal["off", "basename", "path"]

#: Only lines with this are decoded (ccusage's prefilter).
_MARKER: Final = b'"usage":{'
_READ_CHUNK: Final = 4 << 20
#: A directory modified more recently than this is listed again even if its modification
#: time did not change (filesystems with coarse timestamps).
_LISTING_SETTLE_NS: Final = 2_000_000_000
#: Regions larger than this are read in chunks rather than mapped.
_MAP_MAX_BYTES: Final = 64 << 20
#: A pass reading more than this decodes in worker processes (when there are several cores).
POOL_MIN_BYTES: Final = 64 << 20
#: Each worker costs about 25 MB while the first pass runs (they exit after it).
_POOL_MAX_WORKERS: Final = 2
#: Files decoded ahead of the one being applied, per worker.
_POOL_WINDOW: Final = 4
#: Bytes at the start of a file whose digest detects a file rewritten in place.
_HEAD_BYTES: Final = 4096
_U64_MAX: Final = (1 << 64) - 1
_MS_PER_DAY: Final = 86_400_000
_BLOCK_MS: Final = BLOCK_SECONDS * 1000
_HOUR_MS: Final = 3_600_000
#: Entries newer than this (before now) are tracked for the 5-hour blocks.
_RECENT_MS: Final = 3 * _MS_PER_DAY
_EPOCH_ORDINAL: Final = date(1970, 1, 1).toordinal()
#: Entry times a datetime can hold, its 5-hour block included (ccusage reads any year; an
#: entry outside these is skipped as ``invalid`` instead of failing every poll).
_FIRST_MS: Final = (date(1, 1, 1).toordinal() - _EPOCH_ORDINAL) * _MS_PER_DAY
_END_MS: Final = (date(9999, 12, 31).toordinal() - _EPOCH_ORDINAL) * _MS_PER_DAY
#: Fields whose ``null`` anywhere in a line makes ccusage skip the line.
_NULL_UNSUPPORTED: Final = frozenset(
    {
        b"id",
        b"cwd",
        b"model",
        b"speed",
        b"costUSD",
        b"version",
        b"sessionId",
        b"requestId",
        b"isApiErrorMessage",
        b"cache_read_input_tokens",
        b"cache_creation_input_tokens",
    }
)
#: Ends of ``"<field>"`` before ``:null`` on every streamed assistant line (``stop_sequence``,
#: ``stop_reason``, ``parentUuid``, ``service_tier``); no field above ends like these.
_HARMLESS_NULL_TAILS: Final = frozenset({b'uence"', b'eason"', b'tUuid"', b'_tier"'})
_TIMESTAMP: Final = re.compile(
    r"([0-9]{4})-([0-9]{2})-([0-9]{2})T([0-9]{2}):([0-9]{2}):([0-9]{2})"
    r"(?:\.([0-9]{3}))?(Z|[+-][0-9]{2}:[0-9]{2})"
)
_SEMVER_PREFIX: Final = re.compile(r"[0-9]+\.[0-9]+\.[0-9]")

# A kept entry's numbers in ``ClaudeLogReader._slots``.
_AT, _BUCKET, _OWNER, _FLAGS, _REQUEST = range(5)
_STRIDE: Final = 5

# Slot flags.
_SIDECHAIN: Final = 1
_SPEED: Final = 2
#: A copy from another file matched this entry (removing its file needs a full re-read).
_SHARED: Final = 4
_ALIVE: Final = 8
_HAS_USD: Final = 16
#: Hash stored for "no requestId" (``hash()`` never returns -1).
_NO_REQUEST: Final = -1

# Aggregate layout: [0:5] tokens (input, output, cache_write_5m, cache_write_1h, cache_read),
# [5:10] tokens priced at base prices, [10:15] unpriced tokens, [15] tiered cost (Decimal),
# [16] costUSD sum (Decimal), [17] number of priced entries.
_AGG_SIZE: Final = 18


def _new_aggregate() -> list[Any]:
    agg: list[Any] = [0] * _AGG_SIZE
    agg[15] = Decimal(0)
    agg[16] = Decimal(0)
    return agg


# --------------------------------------------------------------------------- public values


@dataclass(frozen=True, slots=True)
class Bucket:
    """Tokens and estimated cost of one (UTC day, project, model)."""

    day: date
    project: str
    model: str
    input: int
    cache_read: int
    cache_write_5m: int
    cache_write_1h: int
    output: int
    #: Cost of the tokens that have a price (``costUSD`` or catalog); ``None`` when none has.
    cost_usd: Decimal | None
    #: Tokens without a price: (input, cache_read, cache_write, output).
    unpriced: tuple[int, int, int, int]


@dataclass(frozen=True, slots=True)
class SessionBlock:
    """The latest 5-hour block (ccusage's rules)."""

    start: datetime
    end: datetime
    #: Time of the block's last entry.
    last_entry: datetime
    input: int
    cache_read: int
    cache_write: int
    output: int
    #: Estimated cost of the block's priced entries.
    cost_usd: Decimal

    def is_active(self, now: float) -> bool:
        return now - self.last_entry.timestamp() < BLOCK_SECONDS and now < self.end.timestamp()


# --------------------------------------------------------------------------- roots


def default_roots(environ: Mapping[str, str] | None = None) -> tuple[Path, ...]:
    """Candidate roots when no ``paths`` are configured (see the module docs)."""
    env = os.environ if environ is None else environ
    configured = env.get("CLAUDE_CONFIG_DIR")
    if configured is not None:
        return tuple(Path(p.strip()).expanduser() for p in configured.split(",") if p.strip())
    xdg = env.get("XDG_CONFIG_HOME")
    config_home = Path(xdg) if xdg else Path("~/.config").expanduser()
    return (config_home / "claude", Path("~/.claude").expanduser())


def existing_roots(candidates: Iterable[Path]) -> list[Path]:
    """Candidates that hold a ``projects/`` directory (a ``projects`` dir stands for its parent),
    without duplicates, in order."""
    roots: list[Path] = []
    for candidate in candidates:
        path = candidate.expanduser()
        if path.name == "projects" and path.is_dir():
            path = path.parent
        if (path / "projects").is_dir() and path not in roots:
            roots.append(path)
    return roots


def project_of(cwd: str, mode: ProjectLabel) -> str:
    """The ``project`` label of a working directory."""
    if mode == "off":
        return ""
    if mode == "path":
        return cwd
    trimmed = cwd.rstrip("/\\")
    return re.split(r"[/\\]", trimmed)[-1] if trimmed else cwd


# --------------------------------------------------------------------------- line parsing


class _Mismatch(Exception):
    """A field has a type ccusage's deserializer does not accept."""


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")  # NaN / Infinity (serde rejects them too)


def _finite_float(text: str) -> float:
    value = float(text)
    if value in (math.inf, -math.inf):
        raise ValueError("number out of range")  # serde rejects numbers beyond f64
    return value


_json = json.JSONDecoder(parse_constant=_reject_constant, parse_float=_finite_float)


def _stdlib_loads(line: bytes) -> Any:
    """The line's JSON value, refusing what serde refuses: invalid UTF-8, ``NaN``, numbers
    beyond f64, unpaired surrogate escapes (``JSON.stringify`` writes them for broken text)."""
    value = _json.decode(line.decode("utf-8"))
    if (b"\\ud" in line or b"\\uD" in line) and _has_lone_surrogate(line):
        raise ValueError("lone surrogate in a string escape")
    return value


_SURROGATE_ESCAPE: Final = re.compile(rb"(\\+)u([dD][89a-fA-F][0-9a-fA-F]{2})")


def _has_lone_surrogate(line: bytes) -> bool:
    """Whether an escaped UTF-16 surrogate in the line is not part of a pair."""
    pending_high_end = -1  # end offset of a high surrogate escape still waiting for its low
    for match in _SURROGATE_ESCAPE.finditer(line):
        if len(match.group(1)) % 2 == 0:
            continue  # an escaped backslash followed by "u…": plain text
        low = match.group(2)[1:2].lower() in b"cdef"
        escape_start = match.end() - 6
        if low:
            if pending_high_end != escape_start:
                return True
            pending_high_end = -1
        else:
            if pending_high_end != -1:
                return True
            pending_high_end = match.end()
    return pending_high_end != -1


def has_unsupported_null(line: bytes) -> bool:
    """ccusage's ``has_unsupported_null_field``: a ``"<field>":null`` for a field it reads,
    found byte-wise anywhere in the line (also inside nested objects)."""
    find = line.find
    rfind = line.rfind
    index = find(b":null")
    while index >= 0:
        if line[index - 6 : index] in _HARMLESS_NULL_TAILS:
            index = find(b":null", index + 5)
            continue
        quote = rfind(b'"', 0, index)
        field_end = quote if quote >= 0 else 0
        if line[field_end] == 0x22:
            opening = rfind(b'"', 0, field_end) if field_end > 0 else -1
            field_start = opening if opening >= 0 else 0
            if line[field_start] == 0x22 and line[field_start + 1 : field_end] in _NULL_UNSUPPORTED:
                return True
        index = find(b":null", index + 5)
    return False


_day_cache: dict[str, int | None] = {}


_day_ms_cache: dict[str, int | None] = {}


def timestamp_ms(text: str) -> int | None:
    """Unix milliseconds of a timestamp in ccusage's accepted format, else ``None``."""
    if (
        len(text) == 24
        and text[13] == ":"
        and text[16] == ":"
        and text[19] == "."
        and text[23] == "Z"
        and text.isascii()
    ):
        # What Claude Code writes (``2026-10-11T19:16:46.941Z``); the day is cached.
        day = _day_ms_cache.get(text[:11], -1)
        if day == -1:
            day = _parsed_timestamp_ms(text[:11] + "00:00:00Z")
            if len(_day_ms_cache) >= 100_000:
                _day_ms_cache.clear()
            _day_ms_cache[text[:11]] = day
        hour, minute, second, millis = text[11:13], text[14:16], text[17:19], text[20:23]
        if day is None or not (hour + minute + second + millis).isdigit():
            return None
        h, m, sec = int(hour), int(minute), int(second)
        if h > 23 or m > 59 or sec > 59:
            return None
        return day + h * _HOUR_MS + m * 60_000 + sec * 1000 + int(millis)
    return _parsed_timestamp_ms(text)


def _parsed_timestamp_ms(text: str) -> int | None:
    match = _TIMESTAMP.fullmatch(text)
    if match is None:
        return None
    year, month, day, hour, minute, second, millis, zone = match.groups()
    key = text[:10]
    days = _day_cache.get(key, -1)
    if days == -1:
        try:
            days = date(int(year), int(month), int(day)).toordinal() - _EPOCH_ORDINAL
        except ValueError:
            days = None
        if len(_day_cache) < 100_000:
            _day_cache[key] = days
    if days is None:
        return None
    h, m, s = int(hour), int(minute), int(second)
    if h > 23 or m > 59 or s > 59:
        return None
    offset = 0
    if zone != "Z":
        offset = int(zone[1:3]) * 60 + int(zone[4:6])
        if zone[0] == "-":
            offset = -offset
    ms = days * _MS_PER_DAY + h * _HOUR_MS + m * 60_000 + s * 1000 + (int(millis) if millis else 0)
    return ms - offset * 60_000


def _usage(usage: Any) -> tuple[int, int, int, int, int, str | None]:
    """(input, output, cache_write_5m, cache_write_1h, cache_read, speed) of ``usage``."""
    if type(usage) is not dict:
        raise _Mismatch
    get = usage.get
    inp = get("input_tokens")
    out = get("output_tokens")
    written = get("cache_creation_input_tokens", 0)
    read = get("cache_read_input_tokens", 0)
    if (
        type(inp) is not int
        or type(out) is not int
        or type(written) is not int
        or type(read) is not int
        or min(inp, out, written, read) < 0
        or max(inp, out, written, read) > _U64_MAX
    ):
        raise _Mismatch
    speed = get("speed")
    if speed is not None and speed != "standard" and speed != "fast":
        raise _Mismatch
    breakdown = get("cache_creation")
    if breakdown is None:
        return inp, out, written, 0, read, speed
    if type(breakdown) is not dict:
        raise _Mismatch
    w5 = breakdown.get("ephemeral_5m_input_tokens", 0)
    w1 = breakdown.get("ephemeral_1h_input_tokens", 0)
    if type(w5) is not int or type(w1) is not int or min(w5, w1) < 0 or max(w5, w1) > _U64_MAX:
        raise _Mismatch
    return inp, out, w5, w1, read, speed


class Entry(NamedTuple):
    """One usage line that passed ccusage's rules."""

    at_ms: int
    message_id: str | None
    request_id: str | None
    session_id: str | None
    sidechain: bool
    #: Model label (``unknown`` when absent, ``<model>-fast`` in fast mode).
    model: str
    #: ``usage.speed`` is present.
    speed: bool
    cost_usd: float | None
    cwd: str | None
    #: (input, output, cache_write_5m, cache_write_1h, cache_read)
    tokens: tuple[int, int, int, int, int]


#: What ccusage deserializes from a usage line, before validation: (timestamp, message,
#: usage, sessionId, version, costUSD, requestId, isSidechain).
_Fields = tuple[
    str, Mapping[str, Any], tuple[int, int, int, int, int, str | None], Any, Any, Any, Any, Any
]


def _message_fields(message: Any) -> Mapping[str, Any]:
    """``message`` with its ``model`` and ``id`` checked (strings or absent)."""
    if type(message) is not dict:
        raise _Mismatch
    model = message.get("model")
    message_id = message.get("id")
    if (model is not None and type(model) is not str) or (
        message_id is not None and type(message_id) is not str
    ):
        raise _Mismatch
    return message


def _assistant_fields(obj: Mapping[str, Any]) -> _Fields:
    """The fields of an ordinary usage line (``message.usage``)."""
    get = obj.get
    timestamp = get("timestamp")
    if type(timestamp) is not str:
        raise _Mismatch
    message = _message_fields(get("message"))
    usage = _usage(message.get("usage"))
    session, version, request = get("sessionId"), get("version"), get("requestId")
    cost, sidechain, api_error = get("costUSD"), get("isSidechain"), get("isApiErrorMessage")
    if (
        (session is not None and type(session) is not str)
        or (version is not None and type(version) is not str)
        or (request is not None and type(request) is not str)
        or (cost is not None and type(cost) is not float and type(cost) is not int)
        or (sidechain is not None and type(sidechain) is not bool)
        or (api_error is not None and type(api_error) is not bool)
    ):
        raise _Mismatch
    return timestamp, message, usage, session, version, cost, request, sidechain


def _progress_fields(obj: Mapping[str, Any]) -> _Fields:
    """The fields of a sub-agent progress line (``data.message.message.usage``): timestamp,
    ``requestId``, ``isSidechain`` and ``costUSD`` of ``data.message``, ``sessionId`` of the
    line, no version."""
    data = obj.get("data")
    outer = data.get("message") if type(data) is dict else None
    if type(outer) is not dict:
        raise _Mismatch
    timestamp = outer.get("timestamp")
    if type(timestamp) is not str:
        raise _Mismatch
    message = _message_fields(outer.get("message"))
    usage = _usage(message.get("usage"))
    session, request = obj.get("sessionId"), outer.get("requestId")
    cost, sidechain = outer.get("costUSD"), outer.get("isSidechain")
    if (
        (session is not None and type(session) is not str)
        or (request is not None and type(request) is not str)
        or (cost is not None and type(cost) is not float and type(cost) is not int)
        or (sidechain is not None and type(sidechain) is not bool)
    ):
        raise _Mismatch
    return timestamp, message, usage, session, None, cost, request, sidechain


def _claims_usage(obj: Mapping[str, Any]) -> bool:
    """Whether a decoded line has ``message.usage`` or ``data.message.message.usage``."""
    message = obj.get("message")
    if type(message) is dict and "usage" in message:
        return True
    data = obj.get("data")
    outer = data.get("message") if type(data) is dict else None
    inner = outer.get("message") if type(outer) is dict else None
    return type(inner) is dict and "usage" in inner


def _parse_line_stdlib(line: bytes) -> Entry | str | None:
    """:func:`parse_line` with the standard library's JSON decoder."""
    try:
        obj = _stdlib_loads(line)
    except (ValueError, RecursionError):  # UnicodeDecodeError is a ValueError
        return "malformed"
    if type(obj) is not dict:
        return "malformed"
    if not _claims_usage(obj):
        return None
    if has_unsupported_null(line):
        return "invalid"
    try:
        fields = _assistant_fields(obj)
    except _Mismatch:
        try:
            fields = _progress_fields(obj)
        except _Mismatch:
            return "invalid"
    timestamp, message, usage, session, version, cost, request, sidechain = fields
    cwd = obj.get("cwd")
    return _entry(
        timestamp,
        message.get("model"),
        message.get("id"),
        usage,
        session,
        version,
        cost,
        request,
        sidechain,
        cwd if type(cwd) is str else None,
    )


def _entry(
    timestamp: str,
    model: str | None,
    message_id: str | None,
    usage: tuple[int, int, int, int, int, str | None],
    session: str | None,
    version: str | None,
    cost: float | None,
    request: str | None,
    sidechain: bool | None,
    cwd: str | None,
) -> Entry | str | None:
    """ccusage's checks after deserialization: the entry, ``invalid``, or ``None`` for a
    ``<synthetic>`` message."""
    at_ms = timestamp_ms(timestamp)
    if at_ms is None or not _FIRST_MS <= at_ms < _END_MS:
        return "invalid"
    if version is not None and not _SEMVER_PREFIX.match(version):
        return "invalid"
    if session == "" or request == "" or message_id == "" or model == "":
        return "invalid"
    if model == SYNTHETIC_MODEL:
        return None
    inp, out, w5, w1, read, speed = usage
    label = model if model is not None else UNKNOWN_MODEL
    if speed == "fast":
        label += "-fast"
    return Entry(
        at_ms,
        message_id,
        request,
        session,
        sidechain is True,
        label,
        speed is not None,
        float(cost) if cost is not None else None,
        cwd,
        (inp, out, w5, w1, read),
    )


class _Schema:
    """msgspec decoders for exactly the fields ccusage deserializes (types checked in C).

    msgspec is optional: without it :func:`parse_line` uses the standard library, with the
    same results (tests run both). msgspec accepts a few things serde refuses that
    ``JSON.stringify`` never writes (duplicate keys, nesting deeper than 128, ``-0``, numbers
    beyond f64 in fields ccusage ignores); invalid UTF-8 and counts above 2⁶⁴−1, which it also
    accepts, are checked here.
    """

    def __init__(self, msgspec: Any) -> None:
        from typing import Annotated

        struct = msgspec.defstruct
        count = Annotated[int, msgspec.Meta(ge=0)]
        optional_str = str | None
        cache_creation = struct(
            "CacheCreation",
            [("ephemeral_5m_input_tokens", count, 0), ("ephemeral_1h_input_tokens", count, 0)],
        )
        usage = struct(
            "Usage",
            [
                ("input_tokens", count),
                ("output_tokens", count),
                ("cache_creation_input_tokens", count, 0),
                ("cache_read_input_tokens", count, 0),
                ("speed", Literal["standard", "fast"] | None, None),
                ("cache_creation", cache_creation | None, None),
            ],
        )
        message = struct(
            "Message", [("usage", usage), ("model", optional_str, None), ("id", optional_str, None)]
        )
        common = [("costUSD", float | None, None), ("requestId", optional_str, None)]
        line = struct(
            "Line",
            [
                ("timestamp", str),
                ("message", message),
                ("sessionId", optional_str, None),
                ("version", optional_str, None),
                *common,
                ("isApiErrorMessage", bool | None, None),
                ("isSidechain", bool | None, None),
                ("cwd", Any, None),
            ],
        )
        outer = struct(
            "ProgressMessage",
            [("timestamp", str), ("message", message), *common, ("isSidechain", bool | None, None)],
        )
        progress = struct(
            "ProgressLine",
            [
                ("data", struct("ProgressData", [("message", outer)])),
                ("sessionId", optional_str, None),
                ("cwd", Any, None),
            ],
        )
        self.line = msgspec.json.Decoder(line).decode
        self.progress = msgspec.json.Decoder(progress).decode
        self.ValidationError: type[Exception] = msgspec.ValidationError
        self.DecodeError: type[Exception] = msgspec.DecodeError


def _schema() -> _Schema | None:
    try:
        msgspec = importlib.import_module("msgspec")
    except ImportError:  # pragma: no cover - exercised when msgspec is not installed
        return None
    return _Schema(msgspec)


_schema_decoders = _schema()


def _parse_line_msgspec(line: bytes, schema: _Schema) -> Entry | str | None:
    """:func:`parse_line` with msgspec's typed decoders."""
    try:
        decoded = schema.line(line)
        timestamp = decoded.timestamp
        session, version, sidechain = decoded.sessionId, decoded.version, decoded.isSidechain
        cwd = decoded.cwd
    except schema.ValidationError:
        try:
            decoded = schema.progress(line)
        except schema.ValidationError:
            # Not this shape: ignored unless it is a usage line with fields of the wrong type.
            try:
                obj = _stdlib_loads(line)
                if type(obj) is not dict:
                    return "malformed"
                return "invalid" if _claims_usage(obj) else None
            except (ValueError, RecursionError):
                return "malformed"
        except schema.DecodeError:
            return "malformed"
        cwd = decoded.cwd
        session = decoded.sessionId
        decoded = decoded.data.message  # timestamp, costUSD, requestId, message, isSidechain
        timestamp, version, sidechain = decoded.timestamp, None, decoded.isSidechain
    except schema.DecodeError:
        return "malformed"
    if not line.isascii():
        try:
            line.decode("utf-8")
        except UnicodeDecodeError:
            return "malformed"
    if has_unsupported_null(line):
        return "invalid"
    message = decoded.message
    usage = message.usage
    inp, out = usage.input_tokens, usage.output_tokens
    written, read = usage.cache_creation_input_tokens, usage.cache_read_input_tokens
    breakdown = usage.cache_creation
    w5, w1 = (
        (written, 0)
        if breakdown is None
        else (
            breakdown.ephemeral_5m_input_tokens,
            breakdown.ephemeral_1h_input_tokens,
        )
    )
    if max(inp, out, written, read, w5, w1) > _U64_MAX:
        return "invalid"
    return _entry(
        timestamp,
        message.model,
        message.id,
        (inp, out, w5, w1, read, usage.speed),
        session,
        version,
        decoded.costUSD,
        decoded.requestId,
        sidechain,
        cwd if type(cwd) is str else None,
    )


def parse_line(line: bytes) -> Entry | str | None:
    """The entry of a line that contains ``"usage":{``: an :class:`Entry`, a skip reason
    (``malformed`` / ``invalid``) or ``None`` (not a usage line, or a ``<synthetic>`` one)."""
    if _schema_decoders is not None:
        return _parse_line_msgspec(line, _schema_decoders)
    return _parse_line_stdlib(line)


# --------------------------------------------------------------------------- decoding


class Decoded(NamedTuple):
    """What the complete lines of one file region hold."""

    #: Bytes of complete lines consumed.
    consumed: int
    entries: list[Entry]
    #: (offset in the file, reason) of each skipped line.
    skips: list[tuple[int, str]]
    #: Why reading stopped early (the file could not be read), else ``None``.
    error: str | None = None
    #: (length, digest) of the file's first bytes, when the region starts the file.
    head: tuple[int, bytes] | None = None


def _decode_chunks(path: str, start: int, size: int) -> Iterator[Decoded]:
    """Decode the complete lines of ``path`` from ``start`` up to ``size``, chunk by chunk."""
    try:
        with open(path, "rb") as handle:
            handle.seek(start)
            remaining = size - start
            offset = start
            carry = b""
            while remaining > 0:
                chunk = handle.read(min(_READ_CHUNK, remaining))
                if not chunk:
                    break
                remaining -= len(chunk)
                buffer = carry + chunk if carry else chunk
                head = _head_of(buffer, size) if offset == 0 and not carry else None
                end = buffer.rfind(b"\n") + 1
                if end:
                    yield _decode_buffer(buffer, end, offset)._replace(head=head)
                    offset += end
                elif head is not None:
                    yield Decoded(0, [], [], head=head)
                carry = buffer[end:]
    except OSError as exc:
        yield Decoded(0, [], [], f"cannot read {path}: {exc}")


def _decode_buffer(buffer: bytes | mmap.mmap, end: int, offset: int, begin: int = 0) -> Decoded:
    """Decode the usage lines among the complete lines ``buffer[begin:end]`` (``buffer[0]``
    is at file offset ``offset``)."""
    entries: list[Entry] = []
    skips: list[tuple[int, str]] = []
    find = buffer.find
    rfind = buffer.rfind
    position = begin
    while True:
        index = find(_MARKER, position, end)
        if index < 0:
            return Decoded(end - begin, entries, skips)
        start = rfind(b"\n", begin, index) + 1 or begin
        stop = find(b"\n", index, end)
        parsed = parse_line(buffer[start:stop])
        if isinstance(parsed, Entry):
            if entries and _collapses(entries[-1], parsed):
                if _later_wins(entries[-1], parsed):
                    entries[-1] = parsed
            else:
                entries.append(parsed)
        elif parsed is not None:
            skips.append((offset + start, parsed))
        position = stop + 1


def _collapses(earlier: Entry, later: Entry) -> bool:
    """Whether ``later`` (the next usage line of the file) is a streamed copy of ``earlier``
    whose fate ccusage's rules decide without prices: then only the winner of the two needs
    to reach the deduplication, with the same result (after ``earlier`` the entry holding its
    ids is compared with ``later`` next; the comparison is a strict order, so comparing
    ``later`` with ``earlier`` first changes nothing)."""
    if (
        later.message_id is None
        or later.request_id is None
        or later.sidechain
        or earlier.sidechain
        or later.message_id != earlier.message_id
        or later.request_id != earlier.request_id
        or later.session_id != earlier.session_id
    ):
        return False
    if sum(later.tokens) != sum(earlier.tokens):
        return True
    # Equal totals: the cost decides, which needs prices unless the copies are identical.
    return (
        later.tokens == earlier.tokens
        and later.model == earlier.model
        and later.cost_usd == earlier.cost_usd
        and later.at_ms // _MS_PER_DAY == earlier.at_ms // _MS_PER_DAY
    )


def _later_wins(earlier: Entry, later: Entry) -> bool:
    total, earlier_total = sum(later.tokens), sum(earlier.tokens)
    if total != earlier_total:
        return total > earlier_total
    return later.speed and not earlier.speed


def decode_region(path: str, start: int, size: int) -> Decoded:
    """All of :func:`_decode_chunks` at once."""
    consumed = 0
    entries: list[Entry] = []
    skips: list[tuple[int, str]] = []
    error = None
    head = None
    for part in _decode_chunks(path, start, size):
        consumed += part.consumed
        entries += part.entries
        skips += part.skips
        error = part.error or error
        head = part.head or head
    return Decoded(consumed, entries, skips, error, head)


def _head_of(data: bytes | mmap.mmap, size: int) -> tuple[int, bytes]:
    head = data[: min(size, _HEAD_BYTES)]
    return len(head), hashlib.blake2b(head, digest_size=16).digest()


def decode_mapped(path: str, start: int, size: int) -> Decoded:
    """:func:`decode_region` through a memory map (no copy of the bytes that are not usage
    lines). Only for worker processes: a file truncated while mapped raises SIGBUS, which
    ends the worker, and the reader then decodes that file itself."""
    if size <= start:
        return Decoded(0, [], [])
    if size - start > _MAP_MAX_BYTES:
        return decode_region(path, start, size)  # mapped pages count as resident memory
    base = start - start % mmap.ALLOCATIONGRANULARITY
    try:
        with open(path, "rb") as handle:
            mapped = mmap.mmap(handle.fileno(), size - base, access=mmap.ACCESS_READ, offset=base)
    except (OSError, ValueError) as exc:
        return Decoded(0, [], [], f"cannot read {path}: {exc}")
    try:
        end = mapped.rfind(b"\n", start - base) + 1
        if end <= start - base:
            return Decoded(0, [], [], head=_head_of(mapped, size) if start == 0 else None)
        if hasattr(mapped, "madvise"):
            mapped.madvise(mmap.MADV_SEQUENTIAL)
        head = _head_of(mapped, size) if start == 0 else None
        return _decode_buffer(mapped, end, base, start - base)._replace(head=head)
    finally:
        mapped.close()


def worker_main() -> None:
    """A decoding worker process: length-prefixed pickled requests ``(path, start, size)`` on
    stdin, pickled :class:`Decoded` answers (entries as plain tuples) on stdout."""
    gc.disable()  # only acyclic JSON values are allocated here
    requests = sys.stdin.buffer
    answers = sys.stdout.buffer
    answers.write(b"R")  # ready
    answers.flush()
    while True:
        header = requests.read(8)
        if len(header) < 8:
            return
        path, start, size = pickle.loads(requests.read(int.from_bytes(header, "little")))
        decoded = decode_mapped(path, start, size)
        # One object per distinct session, model and cwd: pickle then writes each once.
        shared: dict[str, str] = {}
        entries = [
            entry._replace(
                session_id=entry.session_id
                and shared.setdefault(entry.session_id, entry.session_id),
                model=shared.setdefault(entry.model, entry.model),
                cwd=entry.cwd and shared.setdefault(entry.cwd, entry.cwd),
            )
            for entry in decoded.entries
        ]
        payload = pickle.dumps(
            (
                decoded.consumed,
                [tuple(e) for e in entries],
                decoded.skips,
                decoded.error,
                decoded.head,
            ),
            protocol=pickle.HIGHEST_PROTOCOL,
        )
        answers.write(len(payload).to_bytes(8, "little"))
        answers.write(payload)
        answers.flush()


_WORKER_COMMAND: Final = "from exporter.claude_logs import worker_main; worker_main()"


class _ParallelDecoder:
    """Decodes the regions of a large pass on every core, as ccusage's threads do.

    Worker processes are plain subprocesses (``python -c``) talking over pipes: no ``fork()``
    of a threaded process and no re-import of the application's ``__main__`` (as
    multiprocessing would do). The caller takes results strictly in order with
    :meth:`result`; a region no worker has claimed yet is decoded by the caller itself, so
    nothing waits for the workers to start and the caller helps when they fall behind.
    Workers claim at most ``window`` regions ahead of the caller, which bounds memory.
    """

    def __init__(self, regions: Sequence[tuple[str, int, int]], workers: int, window: int) -> None:
        self._regions = regions
        self._results: list[Decoded | BaseException | None] = [None] * len(regions)
        #: Regions ``[0, claimed)`` are taken (by a worker or the caller).
        self._claimed = 0
        #: The region the caller is at.
        self._position = 0
        self._window = window
        self._closed = False
        self._cond = threading.Condition()
        # ``-S`` skips site processing (.pth files, ~0.1 s): the child gets this process's
        # import path (site-packages for msgspec, the package itself) explicitly instead.
        package_parent = str(Path(__file__).resolve().parent.parent)
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(
            dict.fromkeys([package_parent, *(p for p in sys.path if p and os.path.isdir(p))])
        )
        self._processes: list[subprocess.Popen[bytes]] = []
        self._threads: list[threading.Thread] = []
        for _ in range(workers):
            try:
                process = subprocess.Popen(
                    [sys.executable, "-S", "-c", _WORKER_COMMAND],
                    stdin=subprocess.PIPE,
                    stdout=subprocess.PIPE,
                    env=env,
                )
            except OSError as exc:
                log.info("claude logs: no decoding worker (%s); decoding in-process", exc)
                break
            self._processes.append(process)
            thread = threading.Thread(
                target=self._serve, args=(process,), name="claude-logs-decode", daemon=True
            )
            thread.start()
            self._threads.append(thread)

    def _serve(self, process: subprocess.Popen[bytes]) -> None:
        assert process.stdin is not None and process.stdout is not None
        if process.stdout.read(1) != b"R":  # the worker is ready (imports done)
            return
        while True:
            with self._cond:
                while (
                    not self._closed
                    and self._claimed < len(self._regions)
                    and self._claimed - self._position >= self._window
                ):
                    self._cond.wait()
                if self._closed or self._claimed >= len(self._regions):
                    return
                index = self._claimed
                self._claimed += 1
            result: Decoded | BaseException
            try:
                request = pickle.dumps(self._regions[index], protocol=pickle.HIGHEST_PROTOCOL)
                process.stdin.write(len(request).to_bytes(8, "little") + request)
                process.stdin.flush()
                header = process.stdout.read(8)
                if len(header) < 8:
                    raise EOFError("decoding worker exited")
                consumed, entries, skips, error, head = pickle.loads(
                    process.stdout.read(int.from_bytes(header, "little"))
                )
                result = Decoded(consumed, [Entry._make(e) for e in entries], skips, error, head)
            except (OSError, EOFError, ValueError, pickle.UnpicklingError) as exc:
                result = exc
            with self._cond:
                self._results[index] = result
                self._cond.notify_all()
            if isinstance(result, BaseException):
                return  # this worker is broken: the others (or the caller) go on

    def result(self, index: int) -> Decoded:
        """The decoded region ``index``; call with 0, 1, 2, ... in order."""
        with self._cond:
            self._position = index
            self._cond.notify_all()
            mine = index >= self._claimed
            if mine:
                self._claimed = index + 1
            else:
                while self._results[index] is None:
                    self._cond.wait()
                result = self._results[index]
                self._results[index] = None
        if mine:
            return decode_region(*self._regions[index])
        if isinstance(result, BaseException):
            log.info("claude logs: decoding worker failed (%s); decoding in-process", result)
            return decode_region(*self._regions[index])
        assert result is not None
        return result

    def close(self) -> None:
        with self._cond:
            self._closed = True
            self._cond.notify_all()
        for process in self._processes:
            if process.stdin is not None:
                with contextlib.suppress(OSError):
                    process.stdin.close()
        for thread in self._threads:
            thread.join()
        for process in self._processes:
            try:
                process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
            if process.stdout is not None:
                process.stdout.close()


# --------------------------------------------------------------------------- the reader


@dataclass(slots=True)
class _FileState:
    path: str
    file_id: int
    dev: int
    ino: int
    size: int
    mtime_ns: int
    #: Bytes consumed (complete lines).
    offset: int
    #: Digest of the first ``head_length`` bytes.
    head: bytes
    head_length: int
    #: Name of the directory under ``projects/`` (project label of lines without ``cwd``).
    project_dir: str


@dataclass(frozen=True, slots=True)
class _Listing:
    """A directory's subdirectories and transcripts, as of its (inode, modification time)."""

    version: tuple[int, int]
    directories: tuple[str, ...]
    files: tuple[str, ...]


def _list_directory(directory: str, version: tuple[int, int]) -> _Listing | None:
    """Subdirectories and ``*.jsonl`` files of ``directory`` (symbolic links not followed)."""
    directories, files = [], []
    try:
        entries = list(os.scandir(directory))
    except OSError:
        return None
    for entry in entries:
        try:
            if entry.is_dir(follow_symlinks=False):
                directories.append(entry.path)
            elif (
                entry.name.endswith(".jsonl")
                and entry.name != ".jsonl"
                and entry.is_file(follow_symlinks=False)
            ):
                files.append(entry.path)
        except OSError:
            continue
    return _Listing(version, tuple(directories), tuple(files))


def _head_digest(path: str, length: int) -> bytes:
    with open(path, "rb") as handle:
        return hashlib.blake2b(handle.read(length), digest_size=16).digest()


class ClaudeLogReader:
    """Usage of Claude Code transcripts, kept up to date incrementally."""

    def __init__(self, roots: Sequence[Path], project_label: ProjectLabel = "basename") -> None:
        self.roots = tuple(roots)
        self.project_label: ProjectLabel = project_label
        self._lock = threading.Lock()
        self._pending: asyncio.Future[None] | None = None
        self._skipped = dict.fromkeys(SKIP_REASONS, 0)
        #: (device, inode) → offset below which skipped lines were already counted.
        self._skip_marks: dict[tuple[int, int], int] = {}
        self._warned_missing = False
        self._listings: dict[str, _Listing] = {}
        from exporter.pricing import Catalog  # not at module level: workers import this module

        self._catalog = Catalog()
        self._labels: dict[str, str] = {}
        #: First passes reading at least this many bytes use worker processes.
        self.pool_min_bytes = POOL_MIN_BYTES
        self._reset()

    def _reset(self) -> None:
        self._files: dict[str, _FileState] = {}
        self._next_file_id = 0
        # Kept entries ("slots"), by index: _STRIDE numbers in _slots (time, bucket, owning
        # file, flags, requestId hash), 5 token counts (Entry.tokens order), costUSD.
        self._slots = array("q")
        self._tokens = array("Q")
        self._usd = array("d")
        self._session: list[str | None] = []
        self._message: list[str | None] = []
        #: message.id → its slots in creation order (an int while there is one).
        self._by_message: dict[str, int | list[int]] = {}
        # Buckets (UTC day, project, model) with their price and aggregates.
        self._bucket_keys: list[tuple[int, str, str]] = []
        self._bucket_ids: dict[tuple[int, str, str], int] = {}
        self._bucket_price: list[ModelPrice | None] = []
        #: Largest token count of one type still priced at base prices (tiers above it).
        self._bucket_tier_from: list[int] = []
        self._totals: list[list[Any]] = []
        #: Every (model, UTC day) priced so far, to notice a catalog change.
        self._prices: dict[tuple[str, int], ModelPrice | None] = {}
        self._recent: list[int] = []
        self._recent_floor_ms = 0
        self._latest_ms: int | None = None
        self._generation = 0
        #: Bucket views by bucket id; buckets changed since they were made are dirty.
        self._bucket_views: dict[int, Bucket] = {}
        self._dirty: set[int] = set()
        self._block_view: tuple[int, SessionBlock | None] | None = None

    # ------------------------------------------------------------------ refreshing

    async def refresh_async(self, catalog: Catalog, now: float | None = None) -> None:
        """:meth:`refresh` in a worker thread; a refresh cut short by a timeout keeps going
        and the next call waits for it instead of starting a second one."""
        import asyncio  # not at module level: decoding workers import this module

        if self._pending is not None and not self._pending.done():
            await asyncio.shield(self._pending)
        task = asyncio.ensure_future(asyncio.to_thread(self.refresh, catalog, now))
        task.add_done_callback(_retrieve_exception)
        self._pending = task
        await asyncio.shield(task)

    def refresh(self, catalog: Catalog, now: float | None = None) -> None:
        """Read what was appended since the last call (everything on the first call)."""
        now_ms = int((time.time() if now is None else now) * 1000)
        with self._lock:
            if catalog is not self._catalog:
                changed = self._prices_changed(catalog)
                self._catalog = catalog
                if changed:
                    log.info("claude logs: catalog prices changed; reading every log again")
                    self._reset()
            self._recent_floor_ms = now_ms - _RECENT_MS
            if not self._sync():
                log.info("claude logs: a changed file held entries other files copy; rereading")
                self._reset()
                self._recent_floor_ms = now_ms - _RECENT_MS
                self._sync()

    def _prices_changed(self, catalog: Catalog) -> bool:
        return any(
            _lookup(catalog, model, day) != price for (model, day), price in self._prices.items()
        )

    def _sync(self) -> bool:
        """One pass over the files; ``False`` when a changed file held shared entries."""
        listing = self._list_files()
        for path in [p for p in self._files if p not in listing]:
            if not self._forget(path):
                return False
        reads: list[tuple[_FileState, os.stat_result]] = []
        for path in sorted(listing):
            stat = listing[path]
            state = self._files.get(path)
            if state is not None and (
                stat.st_ino != state.ino
                or stat.st_dev != state.dev
                or stat.st_size < state.offset
                or (
                    (stat.st_size != state.size or stat.st_mtime_ns != state.mtime_ns)
                    and self._rewritten(state)
                )
            ):
                if not self._forget(path):
                    return False
                state = None
            if state is None:
                reads.append((self._new_state(path, stat), stat))
            elif stat.st_size != state.size or stat.st_mtime_ns != state.mtime_ns:
                reads.append((state, stat))
        unread = sum(stat.st_size - state.offset for state, stat in reads)
        workers = min(_usable_cpus(), _POOL_MAX_WORKERS, len(reads))
        if unread >= self.pool_min_bytes and workers > 1:
            self._read_in_workers(reads, workers)
        else:
            for state, stat in reads:
                self._read(state, stat)
        return True

    def _list_files(self) -> dict[str, os.stat_result]:
        """Every transcript under the roots with its stat. A directory whose modification time
        is unchanged (and older than the filesystem's time granularity) is not listed again:
        a steady-state poll stats directories and files, nothing more."""
        roots = existing_roots(self.roots)
        if not roots and not self._warned_missing:
            self._warned_missing = True
            log.warning(
                "claude logs: no projects/ directory under %s; nothing to read "
                "(set options.paths or CLAUDE_CONFIG_DIR)",
                ", ".join(str(root) for root in self.roots) or "(no roots)",
            )
        found: dict[str, os.stat_result] = {}
        listings: dict[str, _Listing] = {}
        settled_before = time.time_ns() - _LISTING_SETTLE_NS
        for root in roots:
            stack = [str(root / "projects")]
            while stack:
                directory = stack.pop()
                try:
                    stat = os.stat(directory)
                except OSError:
                    continue
                version = (stat.st_ino, stat.st_mtime_ns)
                listing = self._listings.get(directory)
                if (
                    listing is None
                    or listing.version != version
                    or stat.st_mtime_ns > settled_before
                ):
                    listing = _list_directory(directory, version)
                    if listing is None:
                        continue
                listings[directory] = listing
                stack += listing.directories
                for path in listing.files:
                    try:
                        found[path] = os.stat(path, follow_symlinks=False)
                    except OSError:
                        continue
        self._listings = listings
        return found

    @staticmethod
    def _rewritten(state: _FileState) -> bool:
        try:
            return _head_digest(state.path, state.head_length) != state.head
        except OSError:
            return False

    def _new_state(self, path: str, stat: os.stat_result) -> _FileState:
        parts = Path(path).parts
        project_dir = next(
            (parts[i + 1] for i in range(len(parts) - 2, -1, -1) if parts[i] == "projects"),
            "unknown",
        )
        state = _FileState(
            path, self._next_file_id, stat.st_dev, stat.st_ino, 0, 0, 0, b"", 0, project_dir
        )
        self._next_file_id += 1
        self._files[path] = state
        key = (stat.st_dev, stat.st_ino)
        if stat.st_size < self._skip_marks.get(key, 0):
            self._skip_marks[key] = 0  # truncated in place: its lines are new
        return state

    def _read(self, state: _FileState, stat: os.stat_result) -> None:
        """Consume the complete lines between ``state.offset`` and ``stat.st_size``."""
        for part in _decode_chunks(state.path, state.offset, stat.st_size):
            self._apply(state, part)
        self._read_done(state, stat)

    def _read_in_workers(self, reads: Sequence[tuple[_FileState, os.stat_result]], n: int) -> None:
        """:meth:`_read` of many files, decoded in parallel, applied in path order."""
        regions = [(state.path, state.offset, stat.st_size) for state, stat in reads]
        decoder = _ParallelDecoder(regions, n, n * _POOL_WINDOW)
        try:
            for index, (state, stat) in enumerate(reads):
                self._apply(state, decoder.result(index))
                self._read_done(state, stat)
        finally:
            decoder.close()

    @staticmethod
    def _note_head(state: _FileState, stat: os.stat_result) -> None:
        if state.head_length >= _HEAD_BYTES:
            return
        try:
            with open(state.path, "rb") as handle:
                head = handle.read(min(stat.st_size, _HEAD_BYTES))
        except OSError:
            return
        state.head = hashlib.blake2b(head, digest_size=16).digest()
        state.head_length = len(head)

    def _apply(self, state: _FileState, decoded: Decoded) -> None:
        if decoded.error is not None:
            log.info("claude logs: %s", decoded.error)
        if decoded.head is not None:
            state.head_length, state.head = decoded.head
        add = self._add
        for entry in decoded.entries:
            add(entry, state)
        count_from = self._skip_marks.get((state.dev, state.ino), 0)
        for offset, reason in decoded.skips:
            if offset >= count_from:
                self._skipped[reason] += 1
        state.offset += decoded.consumed

    def _read_done(self, state: _FileState, stat: os.stat_result) -> None:
        if state.head_length < min(stat.st_size, _HEAD_BYTES):
            self._note_head(state, stat)  # a short file that grew: its head is longer now
        state.size = stat.st_size
        state.mtime_ns = stat.st_mtime_ns
        key = (state.dev, state.ino)
        self._skip_marks[key] = max(self._skip_marks.get(key, 0), state.offset)

    # ------------------------------------------------------------------ deduplication

    def _add(self, entry: Entry, state: _FileState) -> None:
        bucket = self._bucket_of(entry, state)
        message_id = entry.message_id
        if message_id is None:
            self._new_slot(entry, bucket, state.file_id)
            return
        slots = self._by_message.get(message_id)
        if slots is None:
            self._by_message[message_id] = self._new_slot(entry, bucket, state.file_id)
            return
        candidates = slots if type(slots) is list else (slots,)
        found = self._match(entry, candidates)  # type: ignore[arg-type]
        if found < 0:
            slot = self._new_slot(entry, bucket, state.file_id)
            if type(slots) is list:
                slots.append(slot)
            else:
                self._by_message[message_id] = [slots, slot]  # type: ignore[list-item]
            return
        base = found * _STRIDE
        if self._slots[base + _OWNER] != state.file_id:
            self._slots[base + _FLAGS] |= _SHARED
        if self._replaces(entry, bucket, found):
            self._charge(found, -1)
            self._store(found, entry, bucket, state.file_id)
            self._charge(found, 1)

    def _match(self, entry: Entry, slots: Sequence[int]) -> int:
        """The kept entry ``entry`` is a copy of (ccusage's two lookups), or -1."""
        ints = self._slots
        if entry.request_id is not None:
            request = hash(entry.request_id)
            for slot in slots:
                if ints[slot * _STRIDE + _REQUEST] == request:
                    return slot
        else:
            for slot in slots:
                base = slot * _STRIDE
                if (
                    ints[base + _REQUEST] == _NO_REQUEST
                    and ints[base + _AT] == entry.at_ms
                    and self._session[slot] == entry.session_id
                ):
                    return slot
        for slot in slots:
            if self._session[slot] == entry.session_id and (
                entry.sidechain or ints[slot * _STRIDE + _FLAGS] & _SIDECHAIN
            ):
                return slot
        return -1

    def _replaces(self, entry: Entry, bucket: int, slot: int) -> bool:
        """Whether ``entry`` is the copy to keep instead of the kept ``slot``."""
        base = slot * _STRIDE
        flags = self._slots[base + _FLAGS]
        existing_side = bool(flags & _SIDECHAIN)
        if entry.sidechain != existing_side:
            return existing_side
        existing_tokens = tuple(self._tokens[slot * 5 : slot * 5 + 5])
        total = sum(entry.tokens)
        existing_total = sum(existing_tokens)
        if total != existing_total:
            return total > existing_total
        cost = self._entry_cost(bucket, entry.tokens, entry.cost_usd)
        existing_usd = self._usd[slot] if flags & _HAS_USD else None
        existing_bucket = self._slots[base + _BUCKET]
        existing_cost = self._entry_cost(existing_bucket, existing_tokens, existing_usd)
        if cost != existing_cost:
            return cost > existing_cost
        return entry.speed and not flags & _SPEED

    def _new_slot(self, entry: Entry, bucket: int, file_id: int) -> int:
        slot = len(self._session)
        flags = _ALIVE
        if entry.sidechain:
            flags |= _SIDECHAIN
        if entry.speed:
            flags |= _SPEED
        usd = entry.cost_usd
        if usd is not None:
            flags |= _HAS_USD
        request = hash(entry.request_id) if entry.request_id is not None else _NO_REQUEST
        self._slots.extend((entry.at_ms, bucket, file_id, flags, request))
        self._tokens.extend(entry.tokens)
        self._usd.append(0.0 if usd is None else usd)
        self._session.append(entry.session_id)
        self._message.append(entry.message_id)
        self._contribute(bucket, entry.tokens, usd, 1)
        self._touched(slot, entry.at_ms)
        return slot

    def _store(self, slot: int, entry: Entry, bucket: int, file_id: int) -> None:
        """Make ``slot`` hold ``entry`` (it replaces the copy kept so far)."""
        base = slot * _STRIDE
        ints = self._slots
        flags = (ints[base + _FLAGS] & _SHARED) | _ALIVE
        if entry.sidechain:
            flags |= _SIDECHAIN
        if entry.speed:
            flags |= _SPEED
        if entry.cost_usd is not None:
            flags |= _HAS_USD
            self._usd[slot] = entry.cost_usd
        ints[base + _AT] = entry.at_ms
        ints[base + _BUCKET] = bucket
        ints[base + _OWNER] = file_id
        ints[base + _FLAGS] = flags
        ints[base + _REQUEST] = (
            hash(entry.request_id) if entry.request_id is not None else _NO_REQUEST
        )
        tokens = self._tokens
        first = slot * 5
        (
            tokens[first],
            tokens[first + 1],
            tokens[first + 2],
            tokens[first + 3],
            tokens[first + 4],
        ) = entry.tokens
        self._session[slot] = entry.session_id
        self._touched(slot, entry.at_ms)

    def _touched(self, slot: int, at_ms: int) -> None:
        self._generation += 1
        if at_ms >= self._recent_floor_ms:
            self._recent.append(slot)
        if self._latest_ms is None or at_ms > self._latest_ms:
            self._latest_ms = at_ms

    def _slot_view(self, slot: int) -> tuple[int, int, tuple[int, ...], float | None]:
        """(time, bucket, tokens, costUSD) of a kept entry."""
        base = slot * _STRIDE
        usd = self._usd[slot] if self._slots[base + _FLAGS] & _HAS_USD else None
        tokens = tuple(self._tokens[slot * 5 : slot * 5 + 5])
        return self._slots[base + _AT], self._slots[base + _BUCKET], tokens, usd

    # ------------------------------------------------------------------ aggregates

    def _bucket_of(self, entry: Entry, state: _FileState) -> int:
        if self.project_label == "off":
            project = ""
        elif entry.cwd is None:
            project = state.project_dir
        else:
            label = self._labels.get(entry.cwd)
            if label is None:
                label = project_of(entry.cwd, self.project_label)
                if len(self._labels) < 10_000:
                    self._labels[entry.cwd] = label
            project = label
        key = (entry.at_ms // _MS_PER_DAY, project, entry.model)
        bucket = self._bucket_ids.get(key)
        if bucket is None:
            bucket = len(self._bucket_keys)
            self._bucket_keys.append(key)
            self._bucket_ids[key] = bucket
            price = self._price(entry.model, key[0])
            self._bucket_price.append(price)
            tiers = price.tiers if price is not None else ()
            self._bucket_tier_from.append(
                min(tier.above_tokens for tier in tiers) if tiers else _U64_MAX
            )
            self._totals.append(_new_aggregate())
        return bucket

    def _price(self, model: str, day: int) -> ModelPrice | None:
        key = (model, day)
        if key not in self._prices:
            self._prices[key] = _lookup(self._catalog, model, day)
        return self._prices[key]

    def _entry_cost(self, bucket: int, tokens: Sequence[int], usd: float | None) -> Decimal:
        """An entry's cost: ``costUSD``, else priced by the catalog, else 0 (as in ccusage)."""
        if usd is not None:
            return Decimal(repr(usd))
        price = self._bucket_price[bucket]
        if price is None:
            return Decimal(0)
        inp, out, w5, w1, read = tokens
        return price.request_cost(inp, read, w5, w1, out)

    def _charge(self, slot: int, sign: int) -> None:
        """Add (``sign`` 1) or remove (-1) a kept entry's contribution to its bucket."""
        _, bucket, tokens, usd = self._slot_view(slot)
        self._contribute(bucket, tokens, usd, sign)

    def _contribute(self, bucket: int, tokens: Sequence[int], usd: float | None, sign: int) -> None:
        inp, out, w5, w1, read = tokens
        agg = self._totals[bucket]
        self._dirty.add(bucket)
        agg[17] += sign  # priced entries; undone below for an unpriced one
        if usd is not None:
            cost = Decimal(repr(usd))
            agg[16] += cost if sign > 0 else -cost
            offset = 0
        else:
            price = self._bucket_price[bucket]
            if price is None:
                agg[17] -= sign
                offset = 10
            elif max(inp, out, w5, w1, read) > self._bucket_tier_from[bucket]:
                cost = price.request_cost(inp, read, w5, w1, out)
                agg[15] += cost if sign > 0 else -cost
                offset = 0
            else:
                offset = 5
        if sign < 0:
            inp, out, w5, w1, read = -inp, -out, -w5, -w1, -read
        agg[0] += inp
        agg[1] += out
        agg[2] += w5
        agg[3] += w1
        agg[4] += read
        if offset:
            agg[offset] += inp
            agg[offset + 1] += out
            agg[offset + 2] += w5
            agg[offset + 3] += w1
            agg[offset + 4] += read

    def _forget(self, path: str) -> bool:
        """Drop a file's contribution; ``False`` (nothing changed) when it holds shared entries."""
        state = self._files[path]
        ints = self._slots
        owners = ints[_OWNER::_STRIDE]
        flags = ints[_FLAGS::_STRIDE]
        owned = [
            slot
            for slot, owner in enumerate(owners)
            if owner == state.file_id and flags[slot] & _ALIVE
        ]
        if any(flags[slot] & _SHARED for slot in owned):
            return False
        for slot in owned:
            self._charge(slot, -1)
            ints[slot * _STRIDE + _FLAGS] = 0
            message_id = self._message[slot]
            if message_id is None:
                continue
            slots = self._by_message[message_id]
            if type(slots) is list:
                slots.remove(slot)
                if len(slots) == 1:
                    self._by_message[message_id] = slots[0]
            else:
                del self._by_message[message_id]
        del self._files[path]
        self._generation += 1
        return True

    # ------------------------------------------------------------------ results

    def kept_entries(self) -> int:
        """Entries kept after deduplication (what the memory estimate above counts)."""
        with self._lock:
            return sum(1 for flags in self._slots[_FLAGS::_STRIDE] if flags & _ALIVE)

    def skipped(self) -> dict[str, int]:
        """Lines skipped since the reader was created, by reason (each line counted once)."""
        with self._lock:
            return dict(self._skipped)

    def buckets(self, since: date | None = None) -> list[Bucket]:
        """Aggregates per (UTC day, project, model), from ``since`` on."""
        with self._lock:
            for bucket in self._dirty:
                view = self._bucket_view(bucket)
                if view is None:
                    self._bucket_views.pop(bucket, None)
                else:
                    self._bucket_views[bucket] = view
            self._dirty.clear()
            views = [self._bucket_views[bucket] for bucket in sorted(self._bucket_views)]
        return [view for view in views if since is None or view.day >= since]

    def _bucket_view(self, bucket: int) -> Bucket | None:
        day, project, model = self._bucket_keys[bucket]
        agg = self._totals[bucket]
        if not any(agg[0:5]) and agg[17] == 0:
            return None
        cost: Decimal | None = None
        if agg[17]:
            cost = agg[15] + agg[16]
            price = self._bucket_price[bucket]
            if price is not None and any(agg[5:10]):
                inp, out, w5, w1, read = agg[5:10]
                cost += price.bucket_cost(inp, read, w5, w1, out)
        inp, out, w5, w1, read = agg[10:15]
        return Bucket(
            day=_day_start(day).date(),
            project=project,
            model=model,
            input=agg[0],
            cache_read=agg[4],
            cache_write_5m=agg[2],
            cache_write_1h=agg[3],
            output=agg[1],
            cost_usd=cost,
            unpriced=(inp, read, w5 + w1, out),
        )

    def active_block(self, now: float | None = None) -> SessionBlock | None:
        """The active 5-hour block at ``now`` (default: the wall clock), or ``None``."""
        moment = time.time() if now is None else now
        with self._lock:
            if self._latest_ms is None or self._latest_ms < moment * 1000 - _BLOCK_MS:
                return None  # nothing in the last 5 hours
            if self._block_view is None or self._block_view[0] != self._generation:
                self._block_view = (self._generation, self._latest_block(int(moment * 1000)))
            block = self._block_view[1]
        if block is None or not block.is_active(moment):
            return None
        return block

    def _latest_block(self, now_ms: int) -> SessionBlock | None:
        """The last block of ccusage's block sequence, from the entries that decide it."""
        floor = now_ms - _RECENT_MS
        at = self._slots[_AT::_STRIDE]
        flags = self._slots[_FLAGS::_STRIDE]
        recent = sorted(
            {s for s in self._recent if flags[s] & _ALIVE and at[s] >= floor},
            key=at.__getitem__,
        )
        self._recent = list(recent)
        self._recent_floor_ms = floor
        times = [at[s] for s in recent]
        chain = _chain_start(times)
        if not times or (chain == 0 and times[0] - floor <= _BLOCK_MS):
            # Activity without a 5-hour pause reaches beyond the tracked window: decide
            # from every entry.
            recent = sorted((s for s in range(len(at)) if flags[s] & _ALIVE), key=at.__getitem__)
            times = [at[s] for s in recent]
            chain = _chain_start(times)
            if not times:
                return None
        start = times[chain] - times[chain] % _HOUR_MS
        members = [recent[chain]]
        last = times[chain]
        for index in range(chain + 1, len(times)):
            moment = times[index]
            if moment - start > _BLOCK_MS or moment - last > _BLOCK_MS:
                start = moment - moment % _HOUR_MS
                members = []
            members.append(recent[index])
            last = moment
        tokens = [0, 0, 0, 0, 0]
        cost = Decimal(0)
        for slot in members:
            _, bucket, slot_tokens, usd = self._slot_view(slot)
            for index in range(5):
                tokens[index] += slot_tokens[index]
            cost += self._entry_cost(bucket, slot_tokens, usd)
        inp, out, w5, w1, read = tokens
        return SessionBlock(
            start=_ms_datetime(start),
            end=_ms_datetime(start + _BLOCK_MS),
            last_entry=_ms_datetime(last),
            input=inp,
            cache_read=read,
            cache_write=w5 + w1,
            output=out,
            cost_usd=cost,
        )


def _usable_cpus() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # not Linux
        return os.cpu_count() or 1


def _lookup(catalog: Catalog, model: str, day: int) -> ModelPrice | None:
    """The catalog's price of a model label on a UTC day. Fast mode (``<model>-fast``) bills
    a multiple of the list price: only a price for that id itself counts, never the standard
    model's that a fuzzy match would return."""
    price = catalog.lookup(PRICE_PROVIDER, model, at=_day_start(day))
    if price is not None and model.endswith("-fast") and not price.model.endswith("-fast"):
        return None
    return price


def _chain_start(times: Sequence[int]) -> int:
    """Index of the first entry after the last pause of more than 5 hours (0 if none)."""
    for index in range(len(times) - 1, 0, -1):
        if times[index] - times[index - 1] > _BLOCK_MS:
            return index
    return 0


def _day_start(day: int) -> datetime:
    return datetime(1970, 1, 1, tzinfo=UTC) + timedelta(days=day)


def _ms_datetime(ms: int) -> datetime:
    return datetime(1970, 1, 1, tzinfo=UTC) + timedelta(milliseconds=ms)


def _retrieve_exception(task: asyncio.Future[None]) -> None:
    if not task.cancelled():
        task.exception()
