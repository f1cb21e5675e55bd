"""A deterministic Codex home (``sessions/`` + ``archived_sessions/``) with every case the log
reader handles, and the totals it must find, computed from the turns as they were generated
(never by parsing the files back).

Two months of sessions (September and October 2026, UTC) over four projects and four models
(``gpt-5.9-codex-preview`` is unknown to any catalog), written as Codex writes them: compact
JSON, one ``session_meta`` first, a ``turn_context`` before each turn, ``token_count`` events
with the cumulative ``total_token_usage`` and (newer builds) ``last_token_usage`` plus a
``rate_limits`` snapshot, and ``response_item`` / ``event_msg`` noise. On top:

* sessions of an old build without any ``turn_context`` (counted under ``gpt-5``), and one whose
  first turn comes before its first ``turn_context``;
* sessions logging only cumulative totals; repeated ``token_count`` events with an unchanged
  cumulative total; ``info: null`` events carrying only rate limits;
* forks: ``forked_from_id`` with the parent's history copied verbatim, a fork whose copy was
  rewritten into one second, a sub-agent (``source.subagent.thread_spawn``) fork, a fork whose
  parent log is gone (same-second copy), and a branch copy without fork metadata (identical
  events, counted once by the cross-file deduplication);
* malformed lines (truncated JSON, not JSON, a JSON array) and invalid ones (a negative count,
  a fractional count, no timestamp, a ``turn_context`` payload that is not an object);
* an archived duplicate of an active session and archived-only sessions (one with the older
  ``resets_in_seconds``);
* a session crossing midnight UTC; the latest real snapshot has the weekly window in
  ``primary``; it is followed by an all-zero placeholder and by a snapshot of another limit.
"""

from __future__ import annotations

import json
import random
import shutil
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any, Final

NOW: Final = datetime(2026, 10, 20, 12, 0, tzinfo=UTC)
FIRST_DAY: Final = datetime(2026, 9, 1, tzinfo=UTC)

KNOWN_MODELS: Final = ("gpt-5-codex", "gpt-5", "gpt-5.1-codex-mini")
UNKNOWN_MODEL: Final = "gpt-5.9-codex-preview"
MODEL_WEIGHTS: Final = ((KNOWN_MODELS[0], 50), (KNOWN_MODELS[1], 25), (KNOWN_MODELS[2], 15))
PROJECTS: Final = (
    "/home/dev/src/webapp",
    "/home/dev/src/billing-service",
    "/srv/work/infra/",
    "C:\\Users\\dev\\src\\tools",
)
#: ``project_label: basename`` of each project.
BASENAMES: Final = {
    "/home/dev/src/webapp": "webapp",
    "/home/dev/src/billing-service": "billing-service",
    "/srv/work/infra/": "infra",
    "C:\\Users\\dev\\src\\tools": "tools",
}

#: The snapshot the reader must report at :data:`NOW`: (ratio, window seconds, resets at).
FINAL_5H_RESET: Final = int((NOW + timedelta(hours=2)).timestamp())
FINAL_7D_RESET: Final = int((NOW + timedelta(days=3)).timestamp())

Usage = tuple[
    int, int, int, int
]  # input (incl. cached), cached, output (incl. reasoning), reasoning


@dataclass(frozen=True, slots=True)
class Turn:
    """One real model turn: what the reader must count exactly once."""

    at: datetime
    cwd: str
    model: str
    input: int
    cached: int
    output: int
    reasoning: int
    #: Logged before any model was known (ccusage's fallback to gpt-5).
    fallback: bool = False


@dataclass
class CodexCorpus:
    home: Path
    now: datetime
    turns: list[Turn] = field(default_factory=list)
    malformed_lines: int = 0
    invalid_lines: int = 0
    #: window → (used ratio, window seconds, resets at unix s) of the latest real snapshot.
    quota: dict[str, tuple[Decimal, int, int]] = field(default_factory=dict)

    def expected(
        self, project_label: str = "basename"
    ) -> dict[tuple[date, str, str], tuple[int, int, int]]:
        """(UTC day, project, model) → (input without cached, cache_read, output)."""
        totals: dict[tuple[date, str, str], list[int]] = defaultdict(lambda: [0, 0, 0])
        for turn in self.turns:
            project = {"off": "", "path": turn.cwd}.get(project_label, BASENAMES[turn.cwd])
            sums = totals[(turn.at.date(), project, turn.model)]
            sums[0] += turn.input - turn.cached
            sums[1] += turn.cached
            sums[2] += turn.output
        return {key: (a, b, c) for key, (a, b, c) in sorted(totals.items())}

    def monthly(self, *, by_model: bool = False) -> dict[tuple[str, str], tuple[int, int, int]]:
        """("YYYY-MM", model or "") → (input without cached, cache_read, output)."""
        totals: dict[tuple[str, str], list[int]] = defaultdict(lambda: [0, 0, 0])
        for turn in self.turns:
            sums = totals[(turn.at.strftime("%Y-%m"), turn.model if by_model else "")]
            sums[0] += turn.input - turn.cached
            sums[1] += turn.cached
            sums[2] += turn.output
        return {key: (a, b, c) for key, (a, b, c) in sorted(totals.items())}

    @property
    def fallback_turns(self) -> int:
        return sum(turn.fallback for turn in self.turns)


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + (
        f"{moment.microsecond // 1000:03d}Z"
    )


def _usage_object(usage: Usage) -> dict[str, int]:
    input_tokens, cached, output, reasoning = usage
    return {
        "input_tokens": input_tokens,
        "cached_input_tokens": cached,
        "output_tokens": output,
        "reasoning_output_tokens": reasoning,
        "total_tokens": input_tokens + output,
    }


class Rollout:
    """The lines of one rollout file, built turn by turn like Codex writes them."""

    def __init__(self, corpus: CodexCorpus, session_id: str, start: datetime, cwd: str) -> None:
        self.corpus = corpus
        self.session_id = session_id
        self.start = start
        self.cwd = cwd
        self.lines: list[str] = []
        self.cumulative: Usage = (0, 0, 0, 0)
        self.model: str | None = None
        #: Real turns this file logs itself (a fork's copied history is not one of them).
        self.turns: list[Turn] = []

    @property
    def file_name(self) -> str:
        return f"rollout-{self.start.strftime('%Y-%m-%dT%H-%M-%S')}-{self.session_id}.jsonl"

    def add(self, line: Mapping[str, Any]) -> None:
        self.lines.append(json.dumps(line, separators=(",", ":")))

    def raw(self, text: str) -> None:
        self.lines.append(text)

    def meta(self, at: datetime, **extra: Any) -> None:
        payload = {
            "id": self.session_id,
            "timestamp": _iso(at),
            "cwd": self.cwd,
            "originator": "codex_cli_rs",
            "cli_version": "0.46.0",
            "instructions": "You are Codex, based on GPT-5. " * 40,
            **extra,
        }
        self.add({"timestamp": _iso(at), "type": "session_meta", "payload": payload})

    def context(self, at: datetime, model: str) -> None:
        self.model = model
        payload = {
            "cwd": self.cwd,
            "approval_policy": "on-request",
            "sandbox_policy": {"mode": "workspace-write"},
            "model": model,
            "summary": "auto",
        }
        self.add({"timestamp": _iso(at), "type": "turn_context", "payload": payload})

    def noise(self, at: datetime, rng: random.Random) -> None:
        text = "".join(rng.choice("abcdefghij \n") for _ in range(rng.randint(50, 400)))
        self.add(
            {
                "timestamp": _iso(at),
                "type": "response_item",
                "payload": {
                    "type": "message",
                    "role": "assistant",
                    "content": [{"type": "output_text", "text": text}],
                },
            }
        )
        self.add(
            {
                "timestamp": _iso(at),
                "type": "event_msg",
                "payload": {"type": "agent_message", "message": text[:80]},
            }
        )

    def token_count(
        self,
        at: datetime,
        usage: Usage,
        *,
        style: str = "both",
        rate_limits: Mapping[str, Any] | None = None,
        count: bool = True,
        stamp: str | None = None,
    ) -> None:
        """A token_count event of a turn with ``usage``; ``count`` records it as a real turn."""
        a, b, c, d = usage
        x, y, z, w = self.cumulative
        self.cumulative = (a + x, b + y, c + z, d + w)
        info: dict[str, Any] = {"total_token_usage": _usage_object(self.cumulative)}
        if style == "both":
            info["last_token_usage"] = _usage_object(usage)
        info["model_context_window"] = 272000
        payload: dict[str, Any] = {"type": "token_count", "info": info}
        if rate_limits is not None:
            payload["rate_limits"] = rate_limits
        self.add({"timestamp": stamp or _iso(at), "type": "event_msg", "payload": payload})
        if count:
            self.turns.append(
                Turn(at, self.cwd, self.model or "gpt-5", a, b, c, d, fallback=self.model is None)
            )

    def repeat(self, at: datetime, rate_limits: Mapping[str, Any] | None = None) -> None:
        """The same cumulative total logged again (Codex does on a rate-limit update)."""
        info = {
            "total_token_usage": _usage_object(self.cumulative),
            "last_token_usage": _usage_object((1, 0, 1, 0)),  # stale: must not count
            "model_context_window": 272000,
        }
        payload: dict[str, Any] = {"type": "token_count", "info": info}
        if rate_limits is not None:
            payload["rate_limits"] = rate_limits
        self.add({"timestamp": _iso(at), "type": "event_msg", "payload": payload})

    def rate_only(self, at: datetime, rate_limits: Mapping[str, Any] | None) -> None:
        payload = {"type": "token_count", "info": None, "rate_limits": rate_limits}
        self.add({"timestamp": _iso(at), "type": "event_msg", "payload": payload})

    def write(self, directory: Path, name: str | None = None) -> Path:
        directory.mkdir(parents=True, exist_ok=True)
        path = directory / (name or self.file_name)
        path.write_text("".join(line + "\n" for line in self.lines), encoding="utf-8")
        self.corpus.turns.extend(self.turns)
        return path


def _limits(at: datetime, used_5h: float, used_7d: float, *, plan: str = "plus") -> dict[str, Any]:
    hour = at.replace(minute=0, second=0, microsecond=0)
    return {
        "primary": {
            "used_percent": used_5h,
            "window_minutes": 300,
            "resets_at": int((hour + timedelta(hours=5)).timestamp()),
        },
        "secondary": {
            "used_percent": used_7d,
            "window_minutes": 10080,
            "resets_at": int((hour + timedelta(days=7)).timestamp()),
        },
        "credits": {"has_credits": False, "unlimited": False, "balance": "0"},
        "plan_type": plan,
    }


def _random_usage(rng: random.Random) -> Usage:
    input_tokens = rng.randint(2_000, 150_000)
    cached = rng.randint(0, input_tokens * 9 // 10)
    output = rng.randint(80, 9_000)
    return input_tokens, cached, output, rng.randint(0, output)


def _pick_model(rng: random.Random) -> str:
    models = [m for m, _ in MODEL_WEIGHTS] + [UNKNOWN_MODEL]
    weights = [w for _, w in MODEL_WEIGHTS] + [10]
    return rng.choices(models, weights)[0]


def _day_dir(home: Path, moment: datetime) -> Path:
    return home / "sessions" / moment.strftime("%Y/%m/%d")


def build_codex_home(root: Path, seed: int = 20261020) -> CodexCorpus:
    """Write the corpus under ``root`` (its Codex home) and return what it must yield."""
    if root.exists():
        shutil.rmtree(root)
    rng = random.Random(seed)
    corpus = CodexCorpus(home=root, now=NOW)
    sessions_written: list[Path] = []
    counter = iter(range(1, 10_000))

    def session_id() -> str:
        serial, middle, tail = next(counter), rng.getrandbits(32), rng.getrandbits(48)
        return f"0199{serial:04d}-{middle:08x}-7000-a000-{tail:012x}"

    def regular(start: datetime, *, style: str = "both", turns: int | None = None) -> Rollout:
        rollout = Rollout(corpus, session_id(), start, rng.choice(PROJECTS))
        rollout.meta(start)
        at = start
        model = _pick_model(rng)
        for _ in range(turns or rng.randint(2, 7)):
            at += timedelta(minutes=rng.randint(2, 25), milliseconds=rng.randint(0, 999))
            if rng.random() < 0.15:
                model = _pick_model(rng)  # /model switch mid-session
            rollout.context(at - timedelta(seconds=3), model)
            rollout.noise(at - timedelta(seconds=2), rng)
            limits = _limits(at, round(rng.uniform(1, 90), 1), round(rng.uniform(1, 90), 1))
            rollout.token_count(at, _random_usage(rng), style=style, rate_limits=limits)
            if rng.random() < 0.3:
                rollout.repeat(at + timedelta(seconds=1), limits)
            if rng.random() < 0.2:
                rollout.rate_only(at + timedelta(seconds=2), limits)
        return rollout

    # Regular sessions over the two months (the last ones near NOW).
    for index in range(26):
        day = FIRST_DAY + timedelta(days=rng.randint(0, 48), hours=rng.randint(0, 20))
        day = min(day, NOW - timedelta(hours=8))
        style = "total_only" if index % 5 == 0 else "both"
        rollout = regular(day, style=style)
        sessions_written.append(rollout.write(_day_dir(root, rollout.start)))

    # Crossing midnight UTC.
    midnight = Rollout(corpus, session_id(), datetime(2026, 9, 30, 23, 40, tzinfo=UTC), PROJECTS[0])
    midnight.meta(midnight.start)
    for minutes in (5, 15, 25, 35):
        at = midnight.start + timedelta(minutes=minutes)
        midnight.context(at - timedelta(seconds=2), "gpt-5-codex")
        midnight.token_count(at, _random_usage(rng))
    midnight.write(_day_dir(root, midnight.start))

    # An old build: no turn_context at all, cumulative totals only.
    old = Rollout(corpus, session_id(), datetime(2026, 9, 3, 9, 0, tzinfo=UTC), PROJECTS[1])
    old.meta(old.start)
    for minutes in (4, 9, 30):
        old.token_count(
            old.start + timedelta(minutes=minutes), _random_usage(rng), style="total_only"
        )
    old.write(_day_dir(root, old.start))

    # A first turn before the first turn_context (fallback), then a known model.
    late = Rollout(corpus, session_id(), datetime(2026, 10, 4, 15, 0, tzinfo=UTC), PROJECTS[2])
    late.meta(late.start)
    late.token_count(late.start + timedelta(minutes=1), _random_usage(rng))
    late.context(late.start + timedelta(minutes=2), "gpt-5.1-codex-mini")
    late.token_count(late.start + timedelta(minutes=3), _random_usage(rng))
    late.write(_day_dir(root, late.start))

    # A parent, and forks of it.
    parent = Rollout(corpus, session_id(), datetime(2026, 10, 8, 10, 0, tzinfo=UTC), PROJECTS[0])
    parent.meta(parent.start)
    parent_events: list[tuple[datetime, str, Usage]] = []
    for minutes in (3, 8, 14):
        at = parent.start + timedelta(minutes=minutes, milliseconds=250)
        parent.context(at - timedelta(seconds=1), "gpt-5-codex")
        usage = _random_usage(rng)
        parent.token_count(at, usage)
        parent_events.append((at, "gpt-5-codex", usage))
    fork_at = parent.start + timedelta(minutes=20)
    # The parent goes on after the forks were made; that is never copied.
    for minutes in (25, 40):
        at = parent.start + timedelta(minutes=minutes)
        parent.context(at - timedelta(seconds=1), "gpt-5")
        parent.token_count(at, _random_usage(rng))
    parent.write(_day_dir(root, parent.start))

    def fork(cwd: str, *, meta: Mapping[str, Any], rewrite: bool, start: datetime) -> Rollout:
        child = Rollout(corpus, session_id(), start, cwd)
        child.meta(start, **meta)
        for index, (at, model, usage) in enumerate(parent_events):
            stamp = _iso(start + timedelta(milliseconds=100 + index)) if rewrite else None
            child.context(at - timedelta(seconds=1), model)
            child.token_count(at, usage, count=False, stamp=stamp)
        for minutes in (2, 6):
            at = start + timedelta(minutes=minutes)
            child.context(at - timedelta(seconds=1), "gpt-5-codex")
            child.token_count(at, _random_usage(rng))
        return child

    forked = fork(
        PROJECTS[0], meta={"forked_from_id": parent.session_id}, rewrite=False, start=fork_at
    )
    forked.write(_day_dir(root, forked.start))
    rewritten = fork(
        PROJECTS[0],
        meta={"forked_from_id": parent.session_id},
        rewrite=True,
        start=fork_at + timedelta(minutes=1),
    )
    rewritten.write(_day_dir(root, rewritten.start))
    spawn = {"source": {"subagent": {"thread_spawn": {"parent_thread_id": parent.session_id}}}}
    subagent = fork(PROJECTS[0], meta=spawn, rewrite=True, start=fork_at + timedelta(minutes=2))
    subagent.write(_day_dir(root, subagent.start))
    # The parent of this one is gone: its copied history shares one second.
    orphan = fork(
        PROJECTS[3],
        meta={"forked_from_id": "0199ffff-dead-7000-a000-000000000000"},
        rewrite=True,
        start=datetime(2026, 10, 12, 18, 0, tzinfo=UTC),
    )
    orphan.write(_day_dir(root, orphan.start))

    # A branch copy without fork metadata: the parent's lines verbatim, then its own turns.
    branch = Rollout(corpus, session_id(), parent.start + timedelta(minutes=50), PROJECTS[0])
    branch.meta(branch.start)
    branch.lines += [
        line for line in parent.lines if '"session_meta"' not in line
    ]  # identical events: counted once across files
    branch.cumulative = parent.cumulative
    branch.context(branch.start + timedelta(minutes=1), "gpt-5")
    branch.token_count(branch.start + timedelta(minutes=2), _random_usage(rng))
    branch.write(_day_dir(root, branch.start))

    # Malformed and invalid lines among real turns.
    broken = Rollout(corpus, session_id(), datetime(2026, 9, 17, 13, 0, tzinfo=UTC), PROJECTS[1])
    broken.meta(broken.start)
    broken.context(broken.start + timedelta(minutes=1), "gpt-5")
    broken.token_count(broken.start + timedelta(minutes=2), _random_usage(rng))
    truncated = (
        '{"timestamp":"2026-09-17T13:02:30.000Z","type":"event_msg",'
        '"payload":{"type":"token_count","info":{"total_token_usage":{"input_tokens":12'
    )
    broken.raw(truncated)
    broken.raw("token_count: not json at all")
    broken.raw('["token_count","turn_context"]')
    corpus.malformed_lines += 3
    negative = {"input_tokens": -5, "cached_input_tokens": 0, "output_tokens": 3}
    fractional = {"input_tokens": 10.5, "cached_input_tokens": 0, "output_tokens": 3}
    for bad in (negative, fractional):
        broken.add(
            {
                "timestamp": "2026-09-17T13:03:00.000Z",
                "type": "event_msg",
                "payload": {"type": "token_count", "info": {"last_token_usage": bad}},
            }
        )
    broken.add(
        {
            "type": "event_msg",
            "payload": {
                "type": "token_count",
                "info": {"last_token_usage": {"input_tokens": 77, "output_tokens": 7}},
            },
        }
    )
    broken.add({"timestamp": "2026-09-17T13:03:30.000Z", "type": "turn_context", "payload": "x"})
    corpus.invalid_lines += 4
    broken.context(broken.start + timedelta(minutes=4), "gpt-5-codex")
    broken.token_count(broken.start + timedelta(minutes=5), _random_usage(rng))
    broken.write(_day_dir(root, broken.start))

    # Archived: a copy of an active session (sessions/ wins) and two archived-only sessions.
    archived = root / "archived_sessions"
    archived.mkdir(parents=True)
    shutil.copyfile(sessions_written[3], archived / sessions_written[3].name)
    for start in (datetime(2026, 9, 2, 8, 0, tzinfo=UTC), datetime(2026, 9, 9, 20, 0, tzinfo=UTC)):
        only = regular(start)
        only.write(archived)
    older = Rollout(corpus, session_id(), datetime(2026, 9, 5, 7, 0, tzinfo=UTC), PROJECTS[2])
    older.meta(older.start)
    older.context(older.start + timedelta(minutes=1), "gpt-5")
    older_limits = {
        "primary": {"used_percent": 12.0, "window_minutes": 300, "resets_in_seconds": 3600}
    }
    older.token_count(
        older.start + timedelta(minutes=2), _random_usage(rng), rate_limits=older_limits
    )
    older.write(archived)

    # The latest session: its last real snapshot has the weekly window in primary, then a
    # trailing all-zero placeholder and a snapshot of another limit.
    last = Rollout(corpus, session_id(), NOW - timedelta(minutes=50), PROJECTS[0])
    last.meta(last.start)
    for minutes in (5, 20):
        at = last.start + timedelta(minutes=minutes)
        last.context(at - timedelta(seconds=1), "gpt-5-codex")
        last.token_count(at, _random_usage(rng), rate_limits=_limits(at, 10.0 + minutes, 30.0))
    final_at = last.start + timedelta(minutes=30)
    final = {
        "primary": {"used_percent": 41.5, "window_minutes": 10080, "resets_at": FINAL_7D_RESET},
        "secondary": {"used_percent": 23.0, "window_minutes": 300, "resets_at": FINAL_5H_RESET},
        "plan_type": "pro",
    }
    last.context(final_at - timedelta(seconds=1), "gpt-5-codex")
    last.token_count(final_at, _random_usage(rng), rate_limits=final)
    placeholder = {
        "primary": {"used_percent": 0.0, "window_minutes": 300, "resets_at": FINAL_5H_RESET},
        "secondary": {"used_percent": 0.0, "window_minutes": 10080, "resets_at": FINAL_7D_RESET},
    }
    last.rate_only(final_at + timedelta(seconds=5), placeholder)
    other = {
        "limit_id": "codex_bengalfox",
        "limit_name": "GPT-5.3-Codex-Spark",
        "primary": {"used_percent": 99.0, "window_minutes": 300, "resets_at": FINAL_5H_RESET},
    }
    last.rate_only(final_at + timedelta(seconds=6), other)
    last.write(_day_dir(root, last.start))
    corpus.quota = {
        "7d": (Decimal("0.415"), 604800, FINAL_7D_RESET),
        "5h": (Decimal("0.23"), 18000, FINAL_5H_RESET),
    }
    return corpus


def write_lines(path: Path, lines: Sequence[Mapping[str, Any]], *, mode: str = "w") -> None:
    """Append (``mode="a"``) or write compact JSON lines, as Codex does."""
    with path.open(mode, encoding="utf-8") as out:
        out.writelines(json.dumps(line, separators=(",", ":")) + "\n" for line in lines)
