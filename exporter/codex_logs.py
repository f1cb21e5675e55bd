"""Incremental reader of Codex CLI rollout logs: tokens, estimated cost and quota snapshots.

No network: everything comes from the JSONL files Codex writes while it works.

Files read
    For each Codex home (``${CODEX_HOME:-~/.codex}``, or each of the ``paths`` option):
    ``sessions/**/rollout-*.jsonl`` (Codex writes ``sessions/YYYY/MM/DD/``) and
    ``archived_sessions/**/*.jsonl`` (Codex archives flat). When a session is in both,
    ``sessions/`` wins: an archived file whose name matches a file under ``sessions`` is
    skipped (archiving moves ``sessions/Y/M/D/rollout-X.jsonl`` to
    ``archived_sessions/rollout-X.jsonl``; the same relative path has the same name too).
    A home with neither directory is read as a directory of rollout files itself. Homes are
    read in order, each directory's files sorted by path; that order decides which copy of a
    duplicated event is kept.

Rules (those of ccusage 20.0.24's Codex loader, checked against it; differences noted)
    * Only lines mentioning ``token_count``, ``turn_context`` or ``session_meta`` are decoded;
      response items and other event types are recognised by their first bytes and skipped.
      A decoded line that is not a JSON object (or holds a lone surrogate escape, which Codex
      never writes) counts as skipped ``malformed``; one whose fields have the wrong types (a
      negative or fractional count, a missing timestamp, ...) counts as skipped ``invalid``
      and adds nothing. ccusage differs here: it reads such a
      count as 0 and keeps the line's other counts. Only complete lines (ending in a newline)
      are read. Spacing inside the JSON does not matter (ccusage 20.0.24 ignores lines
      written with ``"type": "event_msg"``; Codex writes compact JSON).
    * Model: the event's own ``model`` if it has one, else the latest ``turn_context``
      ``payload.model`` of the file. Events before any model are counted under ``gpt-5`` and
      flagged, as ccusage does (its ``isFallbackModel``); :attr:`CodexLogReader.fallback_events`
      counts them and the reader logs them once.
    * Usage: ``event_msg`` lines with ``payload.type == "token_count"``. ``info: null`` events
      carry only rate limits. ``last_token_usage`` is this turn's usage; when only the
      cumulative ``total_token_usage`` exists, the difference to the previous cumulative total
      of the file is used (never below 0). An event whose cumulative total did not advance is a
      repeat and counts nothing, even with a ``last_token_usage``: cumulative totals are never
      counted twice. Events whose usage is all zero count nothing.
    * Token types (disjoint): ``input = input_tokens − cached_input_tokens``,
      ``cache_read = cached_input_tokens`` (capped at ``input_tokens``),
      ``output = output_tokens`` (reasoning tokens are already part of it), no cache writes.
    * Forks copy the parent's history into a new file. A file whose first line is a
      ``session_meta`` naming a parent (``forked_from_id`` or
      ``source.subagent.thread_spawn.parent_thread_id``) first skips its leading events while
      they equal, in order, the parent's events up to the fork (the child's first timestamp);
      the parent is the first other file whose ``session_meta.id`` is the parent id. If the
      very first event does not match (parent log gone or history rewritten) and the first two
      usage events share one second, the leading events of that second are skipped instead.
    * Then every event is deduplicated across all files by (timestamp text, model, input,
      cached input, output, reasoning, total): identical copies count once (the first kept).
    * Days are UTC days of the event timestamp. Project is the ``cwd`` of the latest
      ``session_meta`` / ``turn_context`` (``project_label``: ``off`` → ``""``, ``basename`` →
      last path component, ``path`` → the whole cwd).
    * Cost: each event is priced on its own with ``catalog.lookup("openai", model)`` and
      :meth:`ModelPrice.request_cost` (long-context tiers apply per request). A model the
      catalog does not know has no cost (never $0): its tokens are reported as unpriced.

Incremental reading
    Like ``tail -F``: per file the reader keeps (device, inode, size, mtime, bytes consumed)
    and a digest of the file's first bytes, and reads only complete lines appended since the
    last poll. A file that vanished, shrank, was replaced (other inode) or rewritten (other
    first bytes) has its previous contribution dropped and is read again from the start. If
    that would lose an event another file still holds a copy of, or the catalog's price of a
    model already counted changes, everything is read again. Memory is bounded by the
    aggregates per (UTC day, project, model) of each file plus one 64-bit digest per event for
    the deduplication.

Rate limits
    ``payload.rate_limits`` of ``token_count`` events (``primary`` / ``secondary`` windows with
    ``used_percent``, ``window_minutes``, ``resets_at`` or the older ``resets_in_seconds``;
    ``credits``; ``plan_type``). The latest snapshot by event time that is not a placeholder
    (every window at 0 %) is kept; snapshots of another limit (``limit_id`` other than
    ``codex``) are ignored. Windows are named by length, never by position: 300 minutes → ``5h``,
    10080 → ``7d``, else ``<seconds>s`` (as codex_subscription names them); a window without
    a length is dropped.

Blind spots
    * ``codex-auto-review`` (ccusage maps it to the model of the event's date) keeps its name
      and is unpriced unless the catalog knows it.
    * ``codex exec --json`` output saved elsewhere (ccusage's "headless" lines) is not read.
    * A last line without a newline is read only once it is completed.
    * A fork whose parent log is gone is recognised by its first two events sharing a second;
      a poll that lands while Codex is still writing such a fork's copied history (its first
      event only) counts that copy.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import os
import re
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any, Final, Literal, TypeVar

from exporter.errors import InvalidResponseError
from exporter.parsing import as_count, as_decimal, as_label, as_mapping, as_rfc3339
from exporter.pricing import Catalog, ModelPrice

log = logging.getLogger(__name__)

_T = TypeVar("_T")

#: Provider id the catalog prices Codex models under.
PRICE_PROVIDER: Final = "openai"
#: Model of usage logged before any model is known (ccusage's fallback).
FALLBACK_MODEL: Final = "gpt-5"
#: ``reason`` values of ``llm_log_lines_skipped_total``.
SKIP_REASONS: Final = ("malformed", "invalid")
#: The ``limit_id`` of the Codex plan's own rate limit (others are separately metered features).
CODEX_LIMIT_ID: Final = "codex"

ProjectLabel = Literal["off", "basename", "path"]

#: Lines without one of these are never decoded (response items can be megabytes long).
_MARKERS: Final = (b"token_count", b"turn_context", b"session_meta")
#: The start of a line as Codex writes it: envelope type and, for events, the event type.
_ENVELOPE: Final = re.compile(
    rb'\{"timestamp":"[^"]{0,40}","type":"(\w+)"(?:,"payload":\{"type":"(\w+)")?'
)
_READ_CHUNK: Final = 1 << 20
#: Bytes at the start of a file whose digest detects a file rewritten in place.
_HEAD_BYTES: Final = 4096
_USAGE_FIELDS: Final = (
    "input_tokens",
    "cached_input_tokens",
    "output_tokens",
    "reasoning_output_tokens",
    "total_tokens",
)
#: Numeric timestamps above this are milliseconds (ccusage's rule).
_MILLISECONDS_FROM: Final = 10_000_000_000
_EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)

#: (input, cached input, output, reasoning, total) tokens as Codex reports them.
RawUsage = tuple[int, int, int, int, int]
#: (UTC day, project label, model).
BucketKey = tuple[date, str, str]


# --------------------------------------------------------------------------- public values


@dataclass(frozen=True, slots=True)
class Bucket:
    """Tokens (disjoint types) and estimated cost of one (UTC day, project, model)."""

    day: date
    project: str
    model: str
    input: int
    cache_read: int
    output: int
    #: ``None`` when the catalog has no price for the model (the tokens are unpriced).
    cost_usd: Decimal | None


@dataclass(frozen=True, slots=True)
class QuotaWindow:
    #: ``5h``, ``7d`` or ``<seconds>s``.
    name: str
    #: ``used_percent / 100``.
    used_ratio: Decimal
    window_seconds: int
    #: Unix seconds; ``None`` when the snapshot gives no reset time.
    resets_at: Decimal | None


@dataclass(frozen=True, slots=True)
class RateLimitSnapshot:
    observed_at: datetime
    windows: tuple[QuotaWindow, ...]
    plan_type: str | None
    #: ``credits.balance`` (a decimal string in current Codex builds); ``None`` when absent.
    credits_balance: Decimal | None
    credits_unlimited: bool | None

    @property
    def is_placeholder(self) -> bool:
        """Every window at 0 % (Codex writes such snapshots before the real one arrives)."""
        return all(window.used_ratio == 0 for window in self.windows)


# --------------------------------------------------------------------------- line parsing


@dataclass(frozen=True, slots=True)
class UsageEvent:
    """One counted turn of a session, before replay filtering and deduplication."""

    #: The timestamp as ccusage keys events: the trimmed string, or numeric times formatted.
    timestamp_text: str
    at: datetime
    model: str
    fallback_model: bool
    cwd: str
    #: Cached input capped at input.
    usage: RawUsage


def _may_matter(line: bytes) -> bool:
    """False for lines that cannot carry usage, model or project (cheap: most bytes of a
    rollout are response items, never scanned past their first bytes)."""
    envelope = _ENVELOPE.match(line)
    if envelope is not None:
        kind, event = envelope.groups()
        if kind == b"response_item" or (
            kind == b"event_msg" and event not in (None, b"token_count")
        ):
            return False
    return any(marker in line for marker in _MARKERS)


#: A ``\uD800``-``\uDFFF`` escape: only then can a decoded line hold a lone surrogate.
_SURROGATE_ESCAPE: Final = re.compile(rb"\\u[dD][89a-fA-F]")


def _decode(line: bytes) -> Mapping[str, Any] | None:
    """The line's JSON object, or ``None`` when it is not one (malformed).

    A lone surrogate escape (``"\\ud800"``) is malformed too: Codex (serde) never writes one,
    and a model or directory holding one could not be exported as a label.
    """
    try:
        value = json.loads(line, parse_float=Decimal)
        if _SURROGATE_ESCAPE.search(line) and _has_lone_surrogate(value):
            return None
    except (ValueError, RecursionError):  # UnicodeDecodeError is a ValueError
        return None
    return value if isinstance(value, dict) else None


def _has_lone_surrogate(value: Any) -> bool:
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return True
        return False
    if isinstance(value, dict):
        return any(_has_lone_surrogate(k) or _has_lone_surrogate(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_has_lone_surrogate(item) for item in value)
    return False


def _timestamp(value: Any) -> tuple[str, datetime | None] | None:
    """``(text, time)`` of an envelope timestamp; ``None`` when absent; time ``None`` if bad."""
    if isinstance(value, str):
        text = value.strip()
        if not text:
            return None
        try:
            return text, as_rfc3339(text, "timestamp")
        except InvalidResponseError:
            return text, None
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        millis = value if value > _MILLISECONDS_FROM else value * 1000
        try:
            at = _EPOCH + timedelta(milliseconds=millis)
        except OverflowError:
            return None
        text = at.strftime("%Y-%m-%dT%H:%M:%S.") + f"{at.microsecond // 1000:03d}Z"
        return text, at
    return None


def _count(value: Any, where: str) -> int:
    if type(value) is int and value >= 0:  # the usual case, without the general checks
        return value
    return as_count(value, where)


def _usage(value: Any, where: str) -> RawUsage | None:
    if value is None:
        return None
    fields = as_mapping(value, where)
    a, b, c, d, e = (_count(fields.get(name), f"{where}.{name}") for name in _USAGE_FIELDS)
    return a, b, c, d, e


def _minus(current: RawUsage, previous: RawUsage | None) -> RawUsage:
    if previous is None:
        return current
    a, b, c, d, e = (max(now - before, 0) for now, before in zip(current, previous, strict=True))
    return a, b, c, d, e


def _model_of(fields: Mapping[str, Any]) -> str | None:
    """A non-empty model name from ``model``, ``model_name`` or ``metadata.model``."""
    candidates = [fields.get("model"), fields.get("model_name")]
    metadata = fields.get("metadata")
    if isinstance(metadata, Mapping):
        candidates.append(metadata.get("model"))
    for candidate in candidates:
        if isinstance(candidate, str) and candidate.strip():
            return candidate.strip()
    return None


def _window(value: Any, where: str, observed_at: datetime) -> QuotaWindow | None:
    if value is None:
        return None
    fields = as_mapping(value, where)
    minutes = fields.get("window_minutes")
    if minutes is None:
        return None  # the length names the window; never guess it from the position
    length = as_count(minutes, f"{where}.window_minutes")
    if length == 0:
        return None
    used = as_decimal(fields.get("used_percent"), f"{where}.used_percent", null=None)
    if used < 0:
        raise InvalidResponseError(f"{where}.used_percent: negative")
    resets_at: Decimal | None = None
    if fields.get("resets_at") is not None:
        resets_at = as_decimal(fields["resets_at"], f"{where}.resets_at")
    elif fields.get("resets_in_seconds") is not None:
        seconds = as_decimal(fields["resets_in_seconds"], f"{where}.resets_in_seconds")
        observed = Decimal((observed_at - _EPOCH) // timedelta(seconds=1))
        resets_at = observed + seconds
    # Same names as codex_subscription (lengths in seconds), so both sources agree.
    name = {300: "5h", 10080: "7d"}.get(length, f"{length * 60}s")
    return QuotaWindow(name, used / 100, length * 60, resets_at)


def parse_rate_limits(value: Any, observed_at: datetime) -> RateLimitSnapshot | None:
    """The snapshot of a ``payload.rate_limits`` object; ``None`` for another limit or none.

    Raises :class:`InvalidResponseError` for a broken shape.
    """
    if value is None:
        return None
    fields = as_mapping(value, "rate_limits")
    limit_id = as_label(fields.get("limit_id"), "rate_limits.limit_id", null=CODEX_LIMIT_ID)
    if limit_id != CODEX_LIMIT_ID:
        return None
    windows: list[QuotaWindow] = []
    for position in ("primary", "secondary"):
        window = _window(fields.get(position), f"rate_limits.{position}", observed_at)
        if window is not None and all(w.name != window.name for w in windows):
            windows.append(window)
    balance: Decimal | None = None
    unlimited: bool | None = None
    credits = fields.get("credits")
    if credits is not None:
        credit_fields = as_mapping(credits, "rate_limits.credits")
        if credit_fields.get("balance") is not None:
            balance = as_decimal(credit_fields["balance"], "rate_limits.credits.balance")
        raw_unlimited = credit_fields.get("unlimited")
        unlimited = raw_unlimited if isinstance(raw_unlimited, bool) else None
    plan_type = fields.get("plan_type")
    return RateLimitSnapshot(
        observed_at=observed_at,
        windows=tuple(windows),
        plan_type=plan_type if isinstance(plan_type, str) and plan_type else None,
        credits_balance=balance,
        credits_unlimited=unlimited,
    )


class SessionParser:
    """What one rollout file carries from line to line: cumulative totals, model, cwd."""

    __slots__ = ("cwd", "model", "previous_totals")

    def __init__(self) -> None:
        self.previous_totals: RawUsage | None = None
        self.model: str | None = None
        self.cwd = ""

    def feed(self, entry: Mapping[str, Any]) -> tuple[UsageEvent | None, RateLimitSnapshot | None]:
        """The usage event and rate-limit snapshot of one decoded line.

        Raises :class:`InvalidResponseError` for a line whose fields are unusable; state the
        line already advanced (a cumulative total) stays advanced.
        """
        kind = entry.get("type")
        if kind in ("session_meta", "turn_context"):
            payload = entry.get("payload")
            if payload is None:
                return None, None
            fields = as_mapping(payload, f"{kind}.payload")
            cwd = fields.get("cwd")
            if isinstance(cwd, str) and cwd:
                self.cwd = cwd
            if kind == "turn_context":
                model = _model_of(fields)
                if model is not None:
                    self.model = model
            return None, None
        if kind != "event_msg":
            return None, None
        payload = entry.get("payload")
        if not isinstance(payload, Mapping) or payload.get("type") != "token_count":
            return None, None
        stamp = _timestamp(entry.get("timestamp"))
        if stamp is None:
            raise InvalidResponseError("token_count: missing timestamp")
        text, at = stamp
        snapshot = None
        if at is not None:
            try:
                snapshot = parse_rate_limits(payload.get("rate_limits"), at)
            except InvalidResponseError as exc:  # a broken snapshot never hides the usage
                log.debug("codex logs: rate limits ignored: %s", exc)
        info = payload.get("info")
        if info is None:
            return None, snapshot
        fields = as_mapping(info, "token_count.info")
        total = _usage(fields.get("total_token_usage"), "info.total_token_usage")
        last = _usage(fields.get("last_token_usage"), "info.last_token_usage")
        advanced = total is None or total != self.previous_totals
        raw = last if last is not None and advanced else None
        if raw is None and total is not None:
            raw = _minus(total, self.previous_totals)
        if total is not None:
            self.previous_totals = total
        if raw is None or not any(raw[:4]):
            return None, snapshot
        if at is None:
            raise InvalidResponseError(f"token_count: not an RFC 3339 time: {text[:40]!r}")
        own_model = _model_of(payload) or _model_of(fields)
        if own_model is not None:
            self.model = own_model
        model = self.model or FALLBACK_MODEL
        input_tokens, cached, output, reasoning, total_tokens = raw
        usage = (input_tokens, min(cached, input_tokens), output, reasoning, total_tokens)
        event = UsageEvent(text, at, model, self.model is None, self.cwd, usage)
        return event, snapshot


def _complete_lines(path: Path, start: int = 0) -> Iterator[tuple[int, bytes]]:
    """``(offset, line)`` of each newline-terminated line from ``start`` (newline dropped)."""
    with path.open("rb") as handle:
        handle.seek(start)
        base = start
        pending = b""
        while chunk := handle.read(_READ_CHUNK):
            data = pending + chunk
            begin = 0
            while (end := data.find(b"\n", begin)) != -1:
                yield base + begin, data[begin:end]
                begin = end + 1
            base += begin
            pending = data[begin:]


def session_usage(path: Path) -> list[UsageEvent]:
    """Every usage event of one file as its own (no replay filtering, no deduplication)."""
    parser = SessionParser()
    events = []
    for _, line in _complete_lines(path):
        if not _may_matter(line):
            continue
        entry = _decode(line)
        if entry is None:
            continue
        try:
            event, _ = parser.feed(entry)
        except InvalidResponseError:
            continue
        if event is not None:
            events.append(event)
    return events


def replay_second(path: Path) -> str | None:
    """The second (``YYYY-MM-DDTHH:MM:SS``) shared by the file's first two usage events.

    A fork whose parent cannot anchor the replay rewrote the copied history into that second.
    """
    first: str | None = None
    for _, line in _complete_lines(path):
        if b"token_count" not in line:
            continue
        entry = _decode(line)
        if entry is None or entry.get("type") != "event_msg":
            continue
        payload = entry.get("payload")
        if not isinstance(payload, Mapping) or payload.get("type") != "token_count":
            continue
        info = payload.get("info")
        if not isinstance(info, Mapping) or (
            info.get("last_token_usage") is None and info.get("total_token_usage") is None
        ):
            continue
        stamp = _timestamp(entry.get("timestamp"))
        if stamp is None or len(stamp[0]) < 19:
            continue
        second = stamp[0][:19]
        if first is None:
            first = second
        else:
            return first if first == second else None
    return None


@dataclass(frozen=True, slots=True)
class SessionMeta:
    session_id: str | None
    parent_id: str | None
    #: Time of the first line: a fork's copy of the parent's history ends there.
    forked_at: datetime | None


def read_session_meta(path: Path) -> SessionMeta | None:
    """Identity of a file from its first line; ``None`` while that line is incomplete."""
    with path.open("rb") as handle:
        line = handle.readline()
    if not line.endswith(b"\n"):
        return None
    entry = _decode(line)
    if entry is None:
        return SessionMeta(None, None, None)
    stamp = _timestamp(entry.get("timestamp"))
    forked_at = stamp[1] if stamp is not None else None
    payload = entry.get("payload")
    if entry.get("type") != "session_meta" or not isinstance(payload, Mapping):
        return SessionMeta(None, None, forked_at)
    session_id = payload.get("id")
    parent = payload.get("forked_from_id")
    if not isinstance(parent, str) or not parent:
        spawn: Any = payload.get("source")
        for key in ("subagent", "thread_spawn", "parent_thread_id"):
            spawn = spawn.get(key) if isinstance(spawn, Mapping) else None
        parent = spawn
    return SessionMeta(
        session_id if isinstance(session_id, str) and session_id else None,
        parent if isinstance(parent, str) and parent else None,
        forked_at,
    )


# --------------------------------------------------------------------------- the reader


@dataclass(slots=True)
class _Tally:
    input: int = 0
    cache_read: int = 0
    output: int = 0
    cost: Decimal = field(default_factory=Decimal)


@dataclass(slots=True)
class _MatchingParent:
    """Comparing a fork's leading events with its parent's history up to the fork."""

    prefix: list[RawUsage]
    index: int = 0


@dataclass(frozen=True, slots=True)
class _SkippingSecond:
    """Skipping a fork's leading events written in one second (its rewritten history)."""

    second: str


@dataclass(slots=True)
class _FileState:
    path: Path
    device: int
    inode: int
    #: Bytes seen so far (consumed lines plus an incomplete last line).
    size: int
    mtime_ns: int
    #: Bytes consumed: every complete line before it has been counted.
    offset: int = 0
    head_length: int = 0
    head_digest: bytes = b""
    meta: SessionMeta | None = None
    parser: SessionParser = field(default_factory=SessionParser)
    replay: _MatchingParent | _SkippingSecond | None = None
    started: bool = False
    tallies: dict[BucketKey, _Tally] = field(default_factory=dict)
    #: Event digests this file counted, and those it found already counted elsewhere.
    owned: list[int] = field(default_factory=list)
    duplicates: list[int] = field(default_factory=list)
    rate_limits: RateLimitSnapshot | None = None


def default_homes() -> tuple[Path, ...]:
    """``${CODEX_HOME:-~/.codex}``."""
    return (Path(os.environ.get("CODEX_HOME") or "~/.codex").expanduser(),)


def project_of(cwd: str, mode: ProjectLabel) -> str:
    """The ``project`` label of a session's working directory."""
    if mode == "off" or not cwd:
        return ""
    if mode == "path":
        return cwd
    trimmed = cwd.rstrip("/\\")
    return re.split(r"[/\\]", trimmed)[-1] if trimmed else cwd


def _event_key(event: UsageEvent) -> int:
    digest = hashlib.blake2b(
        repr((event.timestamp_text, event.model, event.usage)).encode(), digest_size=8
    )
    return int.from_bytes(digest.digest(), "big")


def _is_dir(path: Path) -> bool:
    try:
        return path.is_dir()
    except OSError:  # e.g. no permission on a parent: as good as absent
        log.debug("codex logs: cannot access %s", path)
        return False


def _head_digest(path: Path, length: int) -> bytes:
    with path.open("rb") as handle:
        return hashlib.blake2b(handle.read(length), digest_size=16).digest()


class CodexLogReader:
    """Aggregated Codex usage of a set of Codex homes, kept current by :meth:`refresh`."""

    def __init__(self, homes: Sequence[Path], project_label: ProjectLabel = "basename") -> None:
        self.homes = tuple(homes)
        self.project_label: ProjectLabel = project_label
        #: Fallback-model events counted since the last full read (see module docs).
        self.fallback_events = 0
        self._lock = threading.Lock()
        self._files: dict[Path, _FileState] = {}
        #: Event digest → number of live copies across files.
        self._refs: dict[int, int] = {}
        #: The catalog price every counted model was priced with (``None``: unpriced).
        self._prices: dict[str, ModelPrice | None] = {}
        self._skipped = dict.fromkeys(SKIP_REASONS, 0)
        #: (device, inode) → offset below which skipped lines were already counted.
        self._skip_marks: dict[tuple[int, int], int] = {}
        self._pending: asyncio.Future[None] | None = None
        self._warned_missing = False
        self._warned_fallback = False

    # ------------------------------------------------------------------ refreshing

    async def refresh_async(self, catalog: Catalog) -> None:
        """:meth:`refresh` in a worker thread; a refresh cut short by a timeout keeps going
        and the next call waits for it instead of starting a second one."""
        if self._pending is not None and not self._pending.done():
            await asyncio.shield(self._pending)
        task = asyncio.ensure_future(asyncio.to_thread(self.refresh, catalog))
        task.add_done_callback(_retrieve_exception)
        self._pending = task
        await asyncio.shield(task)

    def refresh(self, catalog: Catalog) -> None:
        """Read what was appended since the last call (everything on the first call)."""
        with self._lock:
            if any(catalog.lookup(PRICE_PROVIDER, m) != p for m, p in self._prices.items()):
                log.info("codex logs: catalog prices changed; reading every log again")
                self._reset()
            if not self._sync(catalog):
                log.info("codex logs: a changed file held events other files copy; rereading")
                self._reset()
                self._sync(catalog)
            if self.fallback_events and not self._warned_fallback:
                self._warned_fallback = True
                log.info(
                    "codex logs: %d token_count events came before any model was logged; "
                    "counted under %s as ccusage does",
                    self.fallback_events,
                    FALLBACK_MODEL,
                )

    def _reset(self) -> None:
        self._files.clear()
        self._refs.clear()
        self._prices.clear()
        self.fallback_events = 0

    def _sync(self, catalog: Catalog) -> bool:
        """One pass over the files; ``False`` when a dropped file orphaned copied events."""
        listing = self._list_files()
        intact = True
        for path in [p for p in self._files if p not in listing]:
            intact &= self._forget(path)
        for path, stat in listing.items():
            state = self._files.get(path)
            if state is not None and self._replaced(state, stat):
                intact &= self._forget(path)
        if not intact:
            return False
        for path, stat in listing.items():
            if path not in self._files:
                self._files[path] = _FileState(path, stat.st_dev, stat.st_ino, 0, stat.st_mtime_ns)
        for state in self._files.values():
            if state.meta is None:
                state.meta = self._try(read_session_meta, state.path)
        order = list(listing)
        for path, stat in listing.items():
            state = self._files[path]
            if (
                state.started
                and stat.st_size == state.size
                and (stat.st_mtime_ns == state.mtime_ns)
            ):
                continue
            if state.meta is None:
                continue  # first line still incomplete: nothing to count yet
            self._read(state, stat, catalog, order)
        live = {(state.device, state.inode) for state in self._files.values()}
        self._skip_marks = {k: v for k, v in self._skip_marks.items() if k in live}
        return True

    def _list_files(self) -> dict[Path, os.stat_result]:
        """Every log file to read, in reading order, with its stat."""
        found: dict[Path, os.stat_result] = {}
        homes_found = False
        for home in self.homes:
            sessions = home / "sessions"
            archived = home / "archived_sessions"
            paths: list[Path] = []
            if _is_dir(sessions) or _is_dir(archived):
                homes_found = True
                active = sorted(self._walk(sessions, "rollout-*.jsonl", recursive=True))
                # A file name is unique to a session (start time and id), so one name in
                # both places is one session: this also covers the same relative path.
                names = {p.name for p in active}
                archived_files = sorted(self._walk(archived, "*.jsonl", recursive=True))
                paths = active + [p for p in archived_files if p.name not in names]
            elif _is_dir(home):
                homes_found = True
                paths = sorted(self._walk(home, "rollout-*.jsonl", recursive=True))
            for path in paths:
                if path in found:
                    continue
                try:
                    found[path] = path.stat()
                except OSError:
                    continue  # vanished between listing and stat: next poll sees it gone
        if not homes_found and not self._warned_missing:
            self._warned_missing = True
            log.warning(
                "codex logs: no sessions/ or archived_sessions/ under %s; "
                "nothing to read (set options.paths or CODEX_HOME)",
                ", ".join(str(home) for home in self.homes),
            )
        return found

    @staticmethod
    def _walk(directory: Path, pattern: str, *, recursive: bool) -> list[Path]:
        if not _is_dir(directory):
            return []
        try:
            matches = directory.rglob(pattern) if recursive else directory.glob(pattern)
            return [p for p in matches if p.is_file()]
        except OSError as exc:
            log.warning("codex logs: cannot list %s: %s", directory, exc.strerror)
            return []

    def _replaced(self, state: _FileState, stat: os.stat_result) -> bool:
        """True when the file is no longer the one read so far (other inode, shorter, rewritten)."""
        if (stat.st_dev, stat.st_ino) != (state.device, state.inode):
            return True
        if stat.st_size < state.offset:
            self._skip_marks.pop((state.device, state.inode), None)  # new content
            return True
        if state.head_length and (stat.st_size, stat.st_mtime_ns) != (state.size, state.mtime_ns):
            digest = self._try(_head_digest, state.path, state.head_length)
            if digest is not None and digest != state.head_digest:
                self._skip_marks.pop((state.device, state.inode), None)
                return True
        return False

    def _forget(self, path: Path) -> bool:
        """Drop a file's contribution; ``False`` if an event it counted is copied elsewhere."""
        state = self._files.pop(path)
        intact = True
        for key in state.duplicates:
            self._unref(key)
        for key in state.owned:
            intact &= self._unref(key) == 0
        return intact

    def _unref(self, key: int) -> int:
        left = self._refs[key] - 1
        if left:
            self._refs[key] = left
        else:
            del self._refs[key]
        return left

    @staticmethod
    def _try(read: Callable[..., _T], *args: Any) -> _T | None:
        """``read(*args)``, or ``None`` when the file cannot be read (it may have vanished)."""
        try:
            return read(*args)
        except OSError as exc:
            log.debug("codex logs: cannot read %s: %s", args[0], exc.strerror)
            return None

    def _read(
        self, state: _FileState, stat: os.stat_result, catalog: Catalog, order: list[Path]
    ) -> None:
        if not state.started:
            state.started = True
            state.replay = self._replay_start(state, order)
        mark_key = (state.device, state.inode)
        counted_below = self._skip_marks.get(mark_key, 0)
        seen = state.offset
        try:
            for offset, line in _complete_lines(state.path, state.offset):
                self._line(state, line, catalog, count_skip=offset >= counted_below)
                state.offset = offset + len(line) + 1
            seen = max(state.offset, stat.st_size)
            if state.head_length < min(_HEAD_BYTES, state.offset):
                state.head_length = min(_HEAD_BYTES, state.offset)
                state.head_digest = _head_digest(state.path, state.head_length)
        except OSError as exc:
            log.debug("codex logs: cannot read %s: %s", state.path, exc.strerror)
        state.size = seen
        state.mtime_ns = stat.st_mtime_ns
        self._skip_marks[mark_key] = max(counted_below, state.offset)

    def _replay_start(
        self, state: _FileState, order: list[Path]
    ) -> _MatchingParent | _SkippingSecond | None:
        meta = state.meta
        if meta is None or meta.parent_id is None:
            return None
        parent = next(
            (
                path
                for path in order
                if path != state.path
                and (other := self._files.get(path)) is not None
                and other.meta is not None
                and other.meta.session_id == meta.parent_id
            ),
            None,
        )
        if parent is None:
            return _MatchingParent([])
        events = self._try(session_usage, parent) or []
        prefix = []
        for event in events:
            if meta.forked_at is not None and event.at > meta.forked_at:
                break  # recorded after the fork: never copied
            prefix.append(event.usage)
        return _MatchingParent(prefix)

    def _line(self, state: _FileState, line: bytes, catalog: Catalog, *, count_skip: bool) -> None:
        if not _may_matter(line):
            return
        entry = _decode(line)
        if entry is None:
            if count_skip:
                self._skipped["malformed"] += 1
            return
        try:
            event, snapshot = state.parser.feed(entry)
        except InvalidResponseError as exc:
            if count_skip:
                self._skipped["invalid"] += 1
            log.debug("codex logs: %s: line skipped: %s", state.path.name, exc)
            return
        if snapshot is not None and not snapshot.is_placeholder:
            current = state.rate_limits
            if current is None or snapshot.observed_at >= current.observed_at:
                state.rate_limits = snapshot
        if event is not None and not self._replayed(state, event):
            self._count(state, event, catalog)

    def _replayed(self, state: _FileState, event: UsageEvent) -> bool:
        """True for a fork's copy of its parent's history."""
        replay = state.replay
        if isinstance(replay, _MatchingParent):
            if replay.index < len(replay.prefix) and replay.prefix[replay.index] == event.usage:
                replay.index += 1
                return True
            second = self._try(replay_second, state.path) if replay.index == 0 else None
            replay = state.replay = _SkippingSecond(second) if second else None
        if isinstance(replay, _SkippingSecond):
            if event.timestamp_text[:19] == replay.second:
                return True
            state.replay = None
        return False

    def _count(self, state: _FileState, event: UsageEvent, catalog: Catalog) -> None:
        key = _event_key(event)
        copies = self._refs.get(key, 0)
        self._refs[key] = copies + 1
        if copies:
            state.duplicates.append(key)
            return
        state.owned.append(key)
        if event.model not in self._prices:
            self._prices[event.model] = catalog.lookup(PRICE_PROVIDER, event.model)
        price = self._prices[event.model]
        input_tokens, cached, output, _, _ = event.usage
        bucket = (
            event.at.astimezone(UTC).date(),
            project_of(event.cwd, self.project_label),
            event.model,
        )
        tally = state.tallies.get(bucket)
        if tally is None:
            tally = state.tallies[bucket] = _Tally()
        tally.input += input_tokens - cached
        tally.cache_read += cached
        tally.output += output
        if price is not None:
            tally.cost += price.request_cost(input_tokens - cached, cached, 0, 0, output)
        if event.fallback_model:
            self.fallback_events += 1

    # ------------------------------------------------------------------ results

    def buckets(self) -> list[Bucket]:
        """Current totals per (UTC day, project, model), sorted."""
        with self._lock:
            totals: dict[BucketKey, _Tally] = {}
            for state in self._files.values():
                for key, tally in state.tallies.items():
                    total = totals.get(key)
                    if total is None:
                        total = totals[key] = _Tally()
                    total.input += tally.input
                    total.cache_read += tally.cache_read
                    total.output += tally.output
                    total.cost += tally.cost
            prices = dict(self._prices)
        return [
            Bucket(
                day,
                project,
                model,
                t.input,
                t.cache_read,
                t.output,
                t.cost if prices.get(model) is not None else None,
            )
            for (day, project, model), t in sorted(totals.items())
        ]

    def rate_limits(self) -> RateLimitSnapshot | None:
        """The latest non-placeholder rate-limit snapshot across all files."""
        with self._lock:
            latest: RateLimitSnapshot | None = None
            for state in self._files.values():
                snapshot = state.rate_limits
                if snapshot is not None and (
                    latest is None or snapshot.observed_at > latest.observed_at
                ):
                    latest = snapshot
            return latest

    def skipped(self) -> dict[str, int]:
        """Lines skipped since the reader was created, by reason (each line counted once)."""
        with self._lock:
            return dict(self._skipped)


def _retrieve_exception(task: asyncio.Future[None]) -> None:
    """Mark a background refresh's exception as seen (the awaiting poll reports it)."""
    if not task.cancelled():
        task.exception()
