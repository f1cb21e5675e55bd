"""A deterministic Claude Code config dir (``<root>/projects/...``) with every case the log reader
handles, and the token totals it must find, computed from the API calls as they were generated
(never by parsing the files back).

Lines are written as Claude Code 1.x/2.x writes them: compact JSON with raw UTF-8, one line per
content block, so an assistant message is written 1-3 times with the same ``message.id`` +
``requestId`` and growing ``output_tokens`` (the last copy, or the last two, carry the final
usage); large user lines carry tool results twice (``message.content`` and ``toolUseResult``).
The line-size mix of real transcripts: most bytes are in user/tool-result lines (0.5-120 KB,
now and then 0.5 MB), assistant lines are small (0.6-8 KB). On top:

* sessions over several projects (one a Windows path) and models, from :data:`FIRST_DAY` to
  :data:`NOW` (two calendar months, UTC), some crossing midnight and the month boundary;
* older sessions (``costUSD`` on assistant lines, no ``cache_creation`` breakdown, some without
  ``requestId``), sessions writing 1-hour cache entries, a model no catalog knows
  (:data:`UNKNOWN_MODEL`), ``<synthetic>`` messages (zero usage), Opus 4.6 in fast mode
  (``usage.speed``: counted under ``<model>-fast``);
* ``/btw`` sidechains replaying parent messages with ``isSidechain: true`` and a new
  ``requestId`` (in the same file or in a file of their own that may sort before the parent),
  some with a *larger* usage than the parent (the parent still wins);
* sub-agents in the nested layout (``<session>/subagents/agent-*.jsonl``), mirrored in the parent
  transcript by ``progress`` lines (``data.message.message.usage``) and Task tool results whose
  ``toolUseResult`` has a ``usage`` object of its own (not a usage line);
* resumed sessions: a new transcript that starts with a verbatim copy of an older one;
* assistant lines without ``message.id`` (never deduplicated: every copy counts);
* malformed lines (truncated JSON, not JSON) and invalid ones (non-semver ``version``, empty
  ``requestId``, a ``null`` model, microsecond timestamps, token counts as strings).

:func:`generate` writes the files and returns :class:`Expected`; :func:`append_calls` appends
new API calls to an existing transcript (for the incremental benchmarks and tests).
"""

from __future__ import annotations

import json
import random
import string
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any, Final

NOW: Final = datetime(2026, 10, 20, 12, 0, tzinfo=UTC)
FIRST_DAY: Final = datetime(2026, 9, 1, tzinfo=UTC)

UNKNOWN_MODEL: Final = "claude-experimental-9-20270101"
FAST_MODEL: Final = "claude-opus-4-6"
#: (model, weight); the unknown model is used by one project only.
MODELS: Final = (
    ("claude-sonnet-4-5-20250929", 45),
    ("claude-sonnet-4-20250514", 15),
    ("claude-opus-4-1-20250805", 12),
    ("claude-haiku-4-5-20251001", 20),
    (FAST_MODEL, 8),
)
SUBAGENT_MODEL: Final = "claude-haiku-4-5-20251001"
PROJECTS: Final = (
    "/home/dev/src/webapp",
    "/home/dev/src/billing-service",
    "/srv/work/infra",
    "/home/dev/src/ml pipeline",
    "C:\\Users\\dev\\src\\tools",
)
#: ``project_label: basename`` of each project.
BASENAMES: Final = {
    "/home/dev/src/webapp": "webapp",
    "/home/dev/src/billing-service": "billing-service",
    "/srv/work/infra": "infra",
    "/home/dev/src/ml pipeline": "ml pipeline",
    "C:\\Users\\dev\\src\\tools": "tools",
}
#: The project whose sessions sometimes use :data:`UNKNOWN_MODEL`.
EXPERIMENTAL_PROJECT: Final = "/srv/work/infra"

#: Short sessions written first so that even a small corpus holds every case.
FEATURE_SESSIONS: Final = (
    frozenset({"old", "no_request_ids", "unkeyed", "malformed"}),
    frozenset({"old", "invalid", "synthetic", "btw"}),
    frozenset({"btw", "btw_file", "subagent", "one_hour"}),
    frozenset({"unknown_model", "invalid", "malformed"}),
    frozenset({"fast", "subagent", "resumed"}),
    frozenset({"resumed", "btw_file"}),
)

NEW_VERSIONS: Final = ("1.0.89", "1.0.120", "2.0.14", "2.0.31")
OLD_VERSIONS: Final = ("1.0.31", "1.0.38")

#: (input, output, cache_write_5m, cache_write_1h, cache_read)
Usage = tuple[int, int, int, int, int]
#: (UTC day, cwd, model label)
BucketKey = tuple[date, str, str]

_B62: Final = string.ascii_letters + string.digits


def project_dir(cwd: str) -> str:
    """The directory Claude Code names after the working directory."""
    return "".join(c if c.isalnum() or c == "-" else "-" for c in cwd)


def iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


@dataclass
class Expected:
    """What a correct reader finds (ccusage 20.0.24's rules)."""

    #: Tokens per (day, cwd, model label): [input, output, cache_write_5m, cache_write_1h,
    #: cache_read].
    buckets: dict[BucketKey, list[int]] = field(
        default_factory=lambda: defaultdict(lambda: [0] * 5)
    )
    #: Lines the reader must count as skipped, by reason.
    skipped: dict[str, int] = field(default_factory=lambda: {"malformed": 0, "invalid": 0})
    #: Counted calls whose line carried ``costUSD`` (model label → USD, as written).
    cost_usd: dict[str, float] = field(default_factory=lambda: defaultdict(float))
    files: int = 0
    bytes: int = 0

    def count(self, at: datetime, cwd: str, model: str, usage: Usage) -> None:
        bucket = self.buckets[(at.astimezone(UTC).date(), cwd, model)]
        for index, value in enumerate(usage):
            bucket[index] += value

    def month_totals(self) -> dict[str, tuple[int, int, int, int]]:
        """``YYYY-MM`` → (input, output, cache creation, cache read), as ccusage reports them."""
        months: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0, 0])
        for (day, _, _), (inp, out, w5, w1, read) in self.buckets.items():
            total = months[day.strftime("%Y-%m")]
            total[0] += inp
            total[1] += out
            total[2] += w5 + w1
            total[3] += read
        return {month: (t[0], t[1], t[2], t[3]) for month, t in sorted(months.items())}


@dataclass
class _Call:
    """One API call: what the reader must count once (unless a special case says otherwise)."""

    message_id: str | None
    request_id: str | None
    model: str
    usage: Usage
    at: datetime
    blocks: list[dict[str, Any]]
    speed: str | None = None
    cost_usd: float | None = None


class _Text:
    """Random text slices from a fixed pool (fast: no per-character randomness)."""

    def __init__(self, rng: random.Random) -> None:
        words = [
            "def", "return", "self", "import", "async", "await", "value", "config", "parser",
            "the", "test", "fails", "because", "bucket", "month", "token", "cost", "provider",
            "{", "}", "(", ")", "=", "==", "+=", "if", "else:", "for", "in", "None", "True",
            "\"quoted\"", "path\\to\\file", "naïve", "café", "日本語", "→", "λ", "#", "//",
        ]  # fmt: skip
        lines = []
        for _ in range(40_000):
            indent = "    " * rng.randrange(4)
            lines.append(indent + " ".join(rng.choice(words) for _ in range(rng.randint(2, 14))))
        self.pool = "\n".join(lines)
        self.rng = rng

    def __call__(self, length: int) -> str:
        length = min(length, len(self.pool) - 1)
        start = self.rng.randrange(len(self.pool) - length)
        return self.pool[start : start + length]


class _Writer:
    def __init__(self, root: Path, rng: random.Random, expected: Expected) -> None:
        self.root = root
        self.rng = rng
        self.text = _Text(rng)
        self.b62_pool = "".join(rng.choice(_B62) for _ in range(1 << 16))
        self.expected = expected
        #: Finished sessions per cwd, for resumed copies.
        self.sessions: dict[str, list[_Finished]] = defaultdict(list)

    # ------------------------------------------------------------------ ids

    def _b62(self, n: int) -> str:
        """Random base-62 text (for long opaque fields; not unique)."""
        start = self.rng.randrange(len(self.b62_pool) - n)
        return self.b62_pool[start : start + n]

    def _unique(self, n: int) -> str:
        """A random base-62 id of ``n`` characters (collisions are astronomically unlikely)."""
        value = self.rng.getrandbits(6 * n)
        return "".join(_B62[(value >> (6 * k)) % 62] for k in range(n))

    def uuid(self) -> str:
        h = f"{self.rng.getrandbits(128):032x}"
        return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-a{h[17:20]}-{h[20:]}"

    def message_id(self) -> str:
        return "msg_01" + self._unique(22)

    def request_id(self) -> str:
        return "req_011C" + self._unique(20)

    # ------------------------------------------------------------------ lines

    def dump(self, obj: dict[str, Any]) -> str:
        return json.dumps(obj, ensure_ascii=False, separators=(",", ":"))

    def usage_json(self, usage: Usage, *, breakdown: bool, speed: str | None) -> dict[str, Any]:
        inp, out, w5, w1, read = usage
        body: dict[str, Any] = {
            "input_tokens": inp,
            "cache_creation_input_tokens": w5 + w1,
            "cache_read_input_tokens": read,
        }
        if breakdown:
            body["cache_creation"] = {
                "ephemeral_5m_input_tokens": w5,
                "ephemeral_1h_input_tokens": w1,
            }
        body["output_tokens"] = out
        body["service_tier"] = "standard"
        if speed is not None:
            body["speed"] = speed
        return body

    def content_block(self, kind: str) -> dict[str, Any]:
        if kind == "thinking":
            return {
                "type": "thinking",
                "thinking": self.text(self.rng.randint(200, 5000)),
                "signature": self._b62(self.rng.randint(300, 1200)),
            }
        if kind == "text":
            return {"type": "text", "text": self.text(self.rng.randint(40, 1800))}
        name = self.rng.choice(("Read", "Edit", "Bash", "Grep", "Write", "Task"))
        tool_input: dict[str, Any] = {"file_path": "/home/dev/src/app/" + self._b62(8) + ".py"}
        if name in ("Edit", "Write"):
            tool_input["old_string"] = self.text(self.rng.randint(20, 1500))
            tool_input["new_string"] = self.text(self.rng.randint(20, 2500))
        elif name == "Bash":
            tool_input = {"command": self.text(self.rng.randint(10, 200)), "description": "run"}
        elif name == "Task":
            tool_input = {"description": "explore", "prompt": self.text(self.rng.randint(100, 900))}
        return {
            "type": "tool_use",
            "id": "toolu_01" + self._b62(22),
            "name": name,
            "input": tool_input,
        }


def _label(call: _Call) -> str:
    """The model label: fast-mode calls are counted apart, as ccusage does."""
    return call.model + "-fast" if call.speed == "fast" else call.model


def _copy_usage(line: dict[str, Any]) -> Usage:
    """The usage one written copy of a call carries."""
    usage = line["message"]["usage"]
    breakdown = usage.get("cache_creation")
    if breakdown is None:
        w5, w1 = usage["cache_creation_input_tokens"], 0
    else:
        w5, w1 = breakdown["ephemeral_5m_input_tokens"], breakdown["ephemeral_1h_input_tokens"]
    return (
        usage["input_tokens"],
        usage["output_tokens"],
        w5,
        w1,
        usage["cache_read_input_tokens"],
    )


def _pick(rng: random.Random, weighted: tuple[tuple[str, int], ...]) -> str:
    return rng.choices([m for m, _ in weighted], [w for _, w in weighted])[0]


@dataclass
class _Finished:
    """A written transcript, and what copying it verbatim adds to the expected results."""

    lines: list[str]
    #: Skipped lines it holds, by reason (copies are skipped again).
    skipped: dict[str, int]
    #: Lines without ``message.id`` it holds: (time, model, usage, costUSD); copies count again.
    unkeyed: list[tuple[datetime, str, Usage, float | None]]


class _Session:
    """Writes one transcript; counts what must be counted into ``Expected``."""

    def __init__(
        self,
        writer: _Writer,
        cwd: str,
        start: datetime,
        *,
        subagent_of: str | None = None,
        allow_old: bool = True,
        force: frozenset[str] = frozenset(),
    ) -> None:
        self.w = writer
        rng = writer.rng
        self.rng = rng
        self.cwd = cwd
        self.at = start
        self.session_id = subagent_of or writer.uuid()
        self.sidechain = subagent_of is not None
        self.force = force
        self.old = "old" in force or (allow_old and not self.sidechain and rng.random() < 0.08)
        self.version = rng.choice(OLD_VERSIONS if self.old else NEW_VERSIONS)
        self.no_request_ids = "no_request_ids" in force or (self.old and rng.random() < 0.4)
        self.one_hour_cache = "one_hour" in force or (not self.old and rng.random() < 0.2)
        self.lines: list[str] = []
        self.skipped = {"malformed": 0, "invalid": 0}
        self.unkeyed: list[tuple[datetime, str, Usage, float | None]] = []
        self.parent_uuid: str | None = None
        self.model = SUBAGENT_MODEL if self.sidechain else _pick(rng, MODELS)
        if cwd == EXPERIMENTAL_PROJECT and not self.sidechain and rng.random() < 0.3:
            self.model = UNKNOWN_MODEL
        if "unknown_model" in force:
            self.model = UNKNOWN_MODEL
        if "fast" in force:
            self.model = FAST_MODEL
        self.fast = self.model == FAST_MODEL and ("fast" in force or rng.random() < 0.5)
        self.context = rng.randint(8_000, 20_000)
        #: Calls of this session a sidechain may replay (counted, with both ids).
        self.replayable: list[_Call] = []

    # ------------------------------------------------------------------ helpers

    def tick(self, low: float, high: float) -> datetime:
        self.at += timedelta(seconds=self.rng.uniform(low, high))
        return self.at

    def common(self, kind: str, at: datetime) -> dict[str, Any]:
        line_uuid = self.w.uuid()
        body = {
            "parentUuid": self.parent_uuid,
            "isSidechain": self.sidechain,
            "userType": "external",
            "cwd": self.cwd,
            "sessionId": self.session_id,
            "version": self.version,
            "gitBranch": "main",
            "type": kind,
            "uuid": line_uuid,
            "timestamp": iso(at),
        }
        self.parent_uuid = line_uuid
        return body

    def emit(self, obj: dict[str, Any]) -> None:
        self.lines.append(self.w.dump(obj))

    def skip(self, reason: str) -> None:
        self.skipped[reason] += 1
        self.w.expected.skipped[reason] += 1

    def count_unkeyed(self, at: datetime, model: str, usage: Usage, cost: float | None) -> None:
        self.unkeyed.append((at, model, usage, cost))
        self.w.expected.count(at, self.cwd, model, usage)
        if cost is not None:
            self.w.expected.cost_usd[model] += cost

    def copy(self, older: _Finished) -> None:
        """Start with a verbatim copy of an older transcript (``claude --resume``)."""
        self.lines.extend(older.lines)
        for reason, count in older.skipped.items():
            for _ in range(count):
                self.skip(reason)
        for at, model, usage, cost in older.unkeyed:
            self.count_unkeyed(at, model, usage, cost)

    # ------------------------------------------------------------------ lines

    def user_prompt(self) -> None:
        body = self.common("user", self.tick(20, 600))
        body["message"] = {"role": "user", "content": self.w.text(self.rng.randint(30, 1500))}
        self.emit(body)

    def tool_result(self, tool_use_id: str, *, task_usage: Usage | None = None) -> None:
        size = self.rng.choice((400, 2_000, 8_000, 20_000, 45_000))
        if self.rng.random() < 0.004:
            size = 400_000
        content = self.w.text(self.rng.randint(size // 2, size))
        body = self.common("user", self.tick(0.2, 30))
        body["message"] = {
            "role": "user",
            "content": [{"tool_use_id": tool_use_id, "type": "tool_result", "content": content}],
        }
        if task_usage is not None:
            inp, out, w5, w1, read = task_usage
            body["toolUseResult"] = {
                "status": "completed",
                "content": [{"type": "text", "text": content[:400]}],
                "totalDurationMs": self.rng.randint(5_000, 90_000),
                "totalTokens": inp + out + w5 + w1 + read,
                "usage": {
                    "input_tokens": inp,
                    "cache_creation_input_tokens": w5 + w1,
                    "cache_read_input_tokens": read,
                    "output_tokens": out,
                },
            }
        else:
            body["toolUseResult"] = {
                "type": "text",
                "file": {"filePath": "/home/dev/src/app/x.py", "content": content},
            }
        self.emit(body)

    def noise(self) -> None:
        kind = self.rng.random()
        if kind < 0.4:
            snapshot = {"trackedFileBackups": {"a.py": self.w.text(3000)}}
            self.emit(
                {
                    "type": "file-history-snapshot",
                    "messageId": self.w.uuid(),
                    "snapshot": snapshot,
                    "isSnapshotUpdate": False,
                }
            )
        elif kind < 0.7:
            body = self.common("system", self.at)
            body.update({"subtype": "compact_boundary", "content": "Conversation compacted"})
            self.emit(body)
        else:
            self.emit({"type": "summary", "summary": self.w.text(80), "leafUuid": self.w.uuid()})

    def new_call(self, *, model: str | None = None) -> _Call:
        rng = self.rng
        self.context += rng.randint(200, 9_000)
        if self.context > 190_000:
            self.context = rng.randint(15_000, 40_000)  # compacted
        write = rng.randint(100, 12_000)
        read = max(0, self.context - write)
        if rng.random() < 0.02 and not self.sidechain:
            read = rng.randint(200_001, 420_000)  # a long-context request (tiered prices)
        inp = rng.randint(1, 60) if rng.random() < 0.95 else rng.randint(1_000, 30_000)
        out = rng.choice((rng.randint(1, 400), rng.randint(100, 4_000)))
        w1 = write if self.one_hour_cache and rng.random() < 0.7 else 0
        usage = (inp, out, write - w1, w1, read)
        kinds = ["tool_use"] if rng.random() < 0.6 else ["text"]
        if rng.random() < 0.5:
            kinds.insert(0, "thinking")
        if rng.random() < 0.2:
            kinds.insert(-1, "text")
        speed = None
        if self.model == FAST_MODEL and model is None:
            speed = "fast" if self.fast else rng.choice((None, "standard"))
        at = self.tick(1, 40)
        # Every copy of one call is written within seconds: keep them on one UTC day.
        if (at + timedelta(seconds=2)).date() != at.date():
            at -= timedelta(seconds=3)
        return _Call(
            message_id=self.w.message_id(),
            request_id=None if self.no_request_ids else self.w.request_id(),
            model=model or self.model,
            usage=usage,
            at=at,
            blocks=[self.w.content_block(k) for k in kinds],
            speed=speed,
        )

    def assistant_lines(
        self, call: _Call, *, sidechain: bool | None = None
    ) -> list[dict[str, Any]]:
        """One line per content block; output tokens grow to the final value."""
        inp, out, w5, w1, read = call.usage
        n = len(call.blocks)
        outputs = [max(1, out * (k + 1) // (n + 1)) for k in range(n - 1)] + [out]
        if n >= 2 and self.rng.random() < 0.3:
            outputs[-2] = out  # the final usage written twice (a tie: the first copy wins)
        lines = []
        for index, (block, output) in enumerate(zip(call.blocks, outputs, strict=True)):
            body = self.common("assistant", call.at + timedelta(milliseconds=300 * index))
            if sidechain is not None:
                body["isSidechain"] = sidechain
            message: dict[str, Any] = {
                "model": call.model,
                "id": call.message_id,
                "type": "message",
                "role": "assistant",
                "content": [block],
                "stop_reason": None if index < n - 1 else "tool_use",
                "stop_sequence": None,
                "usage": self.w.usage_json(
                    (inp, output, w5, w1, read), breakdown=not self.old, speed=call.speed
                ),
            }
            if call.message_id is None:
                del message["id"]
            body["message"] = message
            if call.request_id is not None:
                body["requestId"] = call.request_id
            if call.cost_usd is not None:
                body["costUSD"] = call.cost_usd
            lines.append(body)
        return lines

    def count(self, call: _Call) -> None:
        self.w.expected.count(call.at, self.cwd, _label(call), call.usage)
        if call.cost_usd is not None:
            self.w.expected.cost_usd[_label(call)] += call.cost_usd

    # ------------------------------------------------------------------ turns

    def api_call(self) -> _Call:
        call = self.new_call()
        if self.old and self.rng.random() < 0.9:
            inp, out, w5, w1, read = call.usage
            call.cost_usd = round((inp * 3 + out * 15 + (w5 + w1) * 3.75 + read * 0.3) / 1e6, 8)
        special = self.rng.random()
        if special < 0.01 and self.old:
            # No message.id: never deduplicated, so every copy counts, in a resumed copy too.
            call.message_id = None
            for line in self.assistant_lines(call):
                self.emit(line)
                self.count_unkeyed(call.at, _label(call), _copy_usage(line), call.cost_usd)
            return call
        lines = self.assistant_lines(call)
        if special < 0.02:
            self.invalid_line(lines[-1])  # the call's only line: it is not counted
            return call
        for line in lines:
            self.emit(line)
        if call.request_id is None:
            # Without requestId, ccusage keys a copy by (message.id, sessionId, timestamp):
            # streamed copies written at different times all count (a verbatim copy of the
            # transcript does not).
            for line in lines:
                self.w.expected.count(call.at, self.cwd, _label(call), _copy_usage(line))
                if call.cost_usd is not None:
                    self.w.expected.cost_usd[_label(call)] += call.cost_usd
            return call
        self.count(call)
        if call.message_id is not None:
            self.replayable.append(call)
        return call

    def invalid_line(self, line: dict[str, Any]) -> None:
        how = self.rng.randrange(5)
        if how == 0:
            line["version"] = "unknown"
        elif how == 1:
            line["requestId"] = ""
        elif how == 2:
            line["message"]["model"] = None
        elif how == 3:
            line["timestamp"] = line["timestamp"][:-1] + "123Z"  # microseconds
        else:
            usage = line["message"]["usage"]
            usage["input_tokens"] = str(usage["input_tokens"])
        self.emit(line)
        self.skip("invalid")

    def malformed(self) -> None:
        if self.rng.random() < 0.5:
            text = self.w.dump(self.assistant_lines(self.new_call())[-1])
            cut = text.index('"usage":{') + 20
            self.lines.append(text[: self.rng.randint(cut, len(text) - 2)])  # a write cut short
        else:
            self.lines.append('{"type":"assistant","message":{"usage":{ not json')
        self.skip("malformed")

    def synthetic(self) -> None:
        body = self.common("assistant", self.tick(1, 5))
        body["message"] = {
            "id": self.w.uuid(),
            "model": "<synthetic>",
            "role": "assistant",
            "type": "message",
            "stop_reason": "stop_sequence",
            "stop_sequence": "",
            "usage": {
                "input_tokens": 0,
                "output_tokens": 0,
                "cache_creation_input_tokens": 0,
                "cache_read_input_tokens": 0,
                "server_tool_use": {"web_search_requests": 0},
                "service_tier": None,
            },
            "content": [{"type": "text", "text": "No response requested."}],
        }
        body["isApiErrorMessage"] = self.rng.random() < 0.5
        self.emit(body)

    def sidechain_replay(self, target: list[str]) -> None:
        """``/btw``: replays an earlier parent message with a new requestId (never counted)."""
        parent = self.rng.choice(self.replayable)
        inp, out, w5, w1, read = parent.usage
        bigger = self.rng.random() < 0.4
        replay = _Call(
            message_id=parent.message_id,
            request_id=self.w.request_id(),
            model=parent.model,
            usage=(inp, out + 500 if bigger else max(1, out // 2), w5, w1, read),
            at=parent.at,
            blocks=parent.blocks[-1:],
            speed=parent.speed,
            cost_usd=parent.cost_usd,
        )
        target.extend(self.w.dump(line) for line in self.assistant_lines(replay, sidechain=True))

    def subagent(self, directory: Path) -> None:
        """A Task tool call whose sub-agent writes its own nested transcript."""
        agent = _Session(self.w, self.cwd, self.at, subagent_of=self.session_id)
        agent.user_prompt()
        total = [0, 0, 0, 0, 0]
        mirrors: list[dict[str, Any]] = []
        for _ in range(self.rng.randint(2, 8)):
            call = agent.new_call(model=SUBAGENT_MODEL)
            lines = agent.assistant_lines(call)
            for line in lines:
                agent.emit(line)
            agent.count(call)
            if self.rng.random() < 0.5:
                mirrors.append(lines[-1])  # mirrored in the parent as agent progress
            for index, value in enumerate(call.usage):
                total[index] += value
            if call.blocks[-1]["type"] == "tool_use":
                agent.tool_result(call.blocks[-1]["id"])
        name = f"agent-{self.w._unique(8).lower()}.jsonl"
        _write(directory / self.session_id / "subagents" / name, agent.lines, self.w.expected)
        for mirror in mirrors:
            progress = self.common("progress", self.at)
            progress["data"] = {
                "type": "agent_progress",
                "message": {
                    "type": "assistant",
                    "message": mirror["message"],
                    "requestId": mirror["requestId"],
                    "uuid": mirror["uuid"],
                    "timestamp": mirror["timestamp"],
                },
                "agentId": name.removesuffix(".jsonl"),
            }
            self.emit(progress)
        self.at = max(self.at, agent.at)
        usage = (total[0], total[1], total[2], total[3], total[4])
        self.tool_result("toolu_01" + self.w._b62(22), task_usage=usage)

    def forced_events(self, directory: Path, side_file: list[str]) -> None:
        """The cases this session must hold, whatever the dice said."""
        force = self.force
        if "malformed" in force:
            self.malformed()
        if "synthetic" in force:
            self.synthetic()
        if "invalid" in force:
            self.invalid_line(self.assistant_lines(self.new_call())[-1])
        if "unkeyed" in force:
            call = self.new_call()
            call.message_id = None
            for line in self.assistant_lines(call):
                self.emit(line)
                self.count_unkeyed(call.at, _label(call), _copy_usage(line), call.cost_usd)
        if "btw" in force and self.replayable:
            self.sidechain_replay(self.lines)
        if "btw_file" in force and self.replayable:
            self.sidechain_replay(side_file)
        if "subagent" in force:
            self.subagent(directory)

    def run(self, directory: Path, *, turns: int) -> None:
        rng = self.rng
        # /btw replays go to this transcript or to a file of their own (which may sort first).
        side_file: list[str] = []
        own_file = rng.random() < 0.3
        for _ in range(turns):
            self.user_prompt()
            for _ in range(rng.randint(1, 8)):
                call = self.api_call()
                if call.blocks[-1]["type"] == "tool_use":
                    self.tool_result(call.blocks[-1]["id"])
            roll = rng.random()
            if roll < 0.04:
                self.malformed()
            elif roll < 0.06:
                self.synthetic()
            elif roll < 0.09 and self.replayable:
                self.sidechain_replay(side_file if own_file else self.lines)
            elif roll < 0.12:
                self.subagent(directory)
            elif roll < 0.2:
                self.noise()
        self.forced_events(directory, side_file)
        _write(directory / f"{self.session_id}.jsonl", self.lines, self.w.expected)
        if side_file:
            _write(directory / f"{self.w.uuid()}.jsonl", side_file, self.w.expected)
        self.w.sessions[self.cwd].append(_Finished(self.lines, self.skipped, self.unkeyed))


def _write(path: Path, lines: list[str], expected: Expected) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    data = ("\n".join(lines) + "\n").encode()
    with path.open("ab") as out:
        out.write(data)
    expected.files += 1
    expected.bytes += len(data)


def generate(root: Path, *, target_bytes: int = 3_000_000, seed: int = 20261020) -> Expected:
    """Write a corpus of about ``target_bytes`` under ``root/projects``; return its totals."""
    rng = random.Random(seed)
    expected = Expected()
    writer = _Writer(root, rng, expected)
    span = (NOW - FIRST_DAY).total_seconds() - 6 * 3600
    forced = [  # a session across midnight UTC and one across the month boundary
        datetime(2026, 9, 14, 23, 40, tzinfo=UTC),
        datetime(2026, 9, 30, 23, 30, tzinfo=UTC),
    ]
    cases = list(FEATURE_SESSIONS)
    while expected.bytes < target_bytes or cases:
        features = cases.pop(0) if cases else frozenset()
        written = sorted(cwd for cwd, done in writer.sessions.items() if done)
        cwd = rng.choice(written if "resumed" in features and written else PROJECTS)
        boundary = not features and bool(forced)
        start = forced.pop() if boundary else FIRST_DAY + timedelta(seconds=rng.uniform(0, span))
        session = _Session(writer, cwd, start, force=features)
        older = writer.sessions[cwd]
        if older and ("resumed" in features or rng.random() < 0.08):
            session.copy(rng.choice(older))
        turns = 2 if features else 12 if boundary else rng.randint(3, 30)
        session.run(root / "projects" / project_dir(cwd), turns=turns)
    return expected


def append_calls(path: Path, target_bytes: int, *, seed: int, at: datetime, cwd: str) -> Expected:
    """Append complete turns of new API calls (about ``target_bytes``) to the transcript
    ``path``, starting at ``at``; return what they add."""
    rng = random.Random(seed)
    expected = Expected()
    session = _Session(_Writer(path.parent, rng, expected), cwd, at, allow_old=False)
    while sum(len(line.encode()) + 1 for line in session.lines) < target_bytes:
        session.user_prompt()
        call = session.api_call()
        if call.blocks[-1]["type"] == "tool_use":
            session.tool_result(call.blocks[-1]["id"])
    _write(path, session.lines, expected)
    return expected
