"""Simulated local coding-agent logs: a Claude Code config dir and a Codex home.

:class:`AgentLogWriter` appends, up to a given moment, the lines the two CLIs would have
written: Claude Code transcripts (``<claude>/projects/<project-dir>/<session>.jsonl``, every
assistant message streamed twice with the same ``message.id`` + ``requestId``, the second copy
carrying the final usage) and Codex rollouts (``<codex>/sessions/YYYY/MM/DD/rollout-*.jsonl``
with ``turn_context`` and ``token_count`` events carrying ``last_token_usage``, the cumulative
``total_token_usage`` and a rate-limit snapshot). One Claude turn every 10 minutes and one
Codex turn every 15 minutes, around the clock, so a 5-hour block is always active in the demo.
Turns are seeded, so :meth:`AgentLogWriter.claude_totals` and :meth:`codex_totals` give exact
expected token totals for any window.
"""

from __future__ import annotations

import json
import random
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Final

from exporter.simulator.subscriptions import window

CLAUDE_EVERY: Final = 600
CODEX_EVERY: Final = 900
#: How far back the first write goes (the previous month too, so month filtering is visible).
HISTORY: Final = 35 * 86400
CLAUDE_MODELS: Final = (
    ("claude-sonnet-4-20250514", 70),
    ("claude-opus-4-1-20250805", 20),
    ("claude-3-5-haiku-20241022", 10),
)
CODEX_MODELS: Final = (("gpt-5-codex", 80), ("gpt-5", 20))
PROJECTS: Final = ("/home/demo/src/webapp", "/home/demo/src/billing", "/home/demo/src/infra")


@dataclass(frozen=True, slots=True)
class ClaudeTurn:
    at: int
    project: str
    model: str
    input: int
    cache_read: int
    cache_write_5m: int
    output: int


@dataclass(frozen=True, slots=True)
class CodexTurn:
    at: int
    project: str
    model: str
    input: int
    cached_input: int
    output: int
    reasoning: int


def _pick(rng: random.Random, weighted: tuple[tuple[str, int], ...]) -> str:
    return rng.choices([m for m, _ in weighted], [w for _, w in weighted])[0]


def _iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")


class AgentLogWriter:
    def __init__(
        self, seed: int, claude_dir: Path, codex_home: Path, *, history: float = HISTORY
    ) -> None:
        self.seed = seed
        self.history = history
        self.claude_dir = claude_dir
        self.codex_home = codex_home
        self._written_until: float | None = None
        #: Cumulative Codex usage per rollout file written by this writer.
        self._cumulative: dict[Path, list[int]] = {}

    # ------------------------------------------------------------------ the model

    def claude_turn(self, at: int) -> ClaudeTurn:
        rng = random.Random(f"llm-sim-claude|{self.seed}|{at}")
        return ClaudeTurn(
            at,
            PROJECTS[rng.randrange(len(PROJECTS))],
            _pick(rng, CLAUDE_MODELS),
            rng.randint(3, 40),
            rng.randint(20_000, 120_000),
            rng.randint(500, 8_000),
            rng.randint(80, 2_000),
        )

    def codex_turn(self, at: int) -> CodexTurn:
        rng = random.Random(f"llm-sim-codex|{self.seed}|{at}")
        total_input = rng.randint(20_000, 90_000)
        output = rng.randint(300, 4_000)
        return CodexTurn(
            at,
            PROJECTS[rng.randrange(len(PROJECTS))],
            _pick(rng, CODEX_MODELS),
            total_input,
            rng.randint(0, total_input * 9 // 10),
            output,
            rng.randint(0, output // 2),
        )

    @staticmethod
    def _times(every: int, start: float, end: float) -> Iterator[int]:
        """Turn times in ``(start, end]``."""
        first = (int(start) // every + 1) * every
        yield from range(first, int(end) + 1, every)

    def claude_totals(self, start: float, end: float) -> dict[str, int]:
        """Disjoint token totals of Claude turns in ``(start, end]``."""
        totals = {"input": 0, "cache_read": 0, "cache_write": 0, "output": 0}
        for at in self._times(CLAUDE_EVERY, start, end):
            turn = self.claude_turn(at)
            totals["input"] += turn.input
            totals["cache_read"] += turn.cache_read
            totals["cache_write"] += turn.cache_write_5m
            totals["output"] += turn.output
        return totals

    def codex_totals(self, start: float, end: float) -> dict[str, int]:
        """Disjoint token totals of Codex turns in ``(start, end]`` (input excludes cached)."""
        totals = {"input": 0, "cache_read": 0, "cache_write": 0, "output": 0}
        for at in self._times(CODEX_EVERY, start, end):
            turn = self.codex_turn(at)
            totals["input"] += turn.input - turn.cached_input
            totals["cache_read"] += turn.cached_input
            totals["output"] += turn.output
        return totals

    # ------------------------------------------------------------------ writing

    def write_until(self, now: float) -> None:
        """Append every turn up to ``now`` not written yet (the first call writes history)."""
        since = now - self.history if self._written_until is None else self._written_until
        for at in self._times(CLAUDE_EVERY, since, now):
            self._write_claude(self.claude_turn(at))
        self._write_codex(since, now)
        self._written_until = now

    def _session_id(self, kind: str, project: str, day: str) -> str:
        return str(uuid.uuid5(uuid.NAMESPACE_URL, f"llm-sim|{self.seed}|{kind}|{project}|{day}"))

    def _write_claude(self, turn: ClaudeTurn) -> None:
        day = _iso(turn.at)[:10]
        session = self._session_id("claude", turn.project, day)
        folder = self.claude_dir / "projects" / turn.project.replace("/", "-")
        folder.mkdir(parents=True, exist_ok=True)
        message_id = "msg_sim" + uuid.uuid5(uuid.NAMESPACE_URL, f"m|{self.seed}|{turn.at}").hex
        request_id = "req_sim" + uuid.uuid5(uuid.NAMESPACE_URL, f"r|{self.seed}|{turn.at}").hex
        common = {
            "isSidechain": False,
            "userType": "external",
            "cwd": turn.project,
            "sessionId": session,
            "version": "1.0.89",
            "gitBranch": "main",
        }
        lines = [
            {
                **common,
                "parentUuid": None,
                "type": "user",
                "message": {"role": "user", "content": "continue with the next step " * 20},
                "uuid": str(uuid.uuid5(uuid.NAMESPACE_URL, f"u|{self.seed}|{turn.at}")),
                "timestamp": _iso(turn.at - 3),
            }
        ]
        # Streamed: the first copy has partial output, the second the final usage.
        for part, output in enumerate((max(1, turn.output // 10), turn.output)):
            usage = {
                "input_tokens": turn.input,
                "cache_creation_input_tokens": turn.cache_write_5m,
                "cache_read_input_tokens": turn.cache_read,
                "cache_creation": {
                    "ephemeral_5m_input_tokens": turn.cache_write_5m,
                    "ephemeral_1h_input_tokens": 0,
                },
                "output_tokens": output,
                "service_tier": "standard",
            }
            lines.append(
                {
                    **common,
                    "parentUuid": None,
                    "type": "assistant",
                    "requestId": request_id,
                    "message": {
                        "id": message_id,
                        "type": "message",
                        "role": "assistant",
                        "model": turn.model,
                        "content": [{"type": "text", "text": "Working on it."}],
                        "usage": usage,
                    },
                    "uuid": str(uuid.uuid5(uuid.NAMESPACE_URL, f"a|{self.seed}|{turn.at}|{part}")),
                    "timestamp": _iso(turn.at + part),
                }
            )
        with (folder / f"{session}.jsonl").open("a", encoding="utf-8") as out:
            out.writelines(json.dumps(line, separators=(",", ":")) + "\n" for line in lines)

    def _write_codex(self, since: float, now: float) -> None:
        for at in self._times(CODEX_EVERY, since, now):
            turn = self.codex_turn(at)
            moment = datetime.fromtimestamp(at, UTC)
            session = self._session_id("codex", turn.project, moment.strftime("%Y-%m-%d"))
            folder = self.codex_home / "sessions" / moment.strftime("%Y/%m/%d")
            folder.mkdir(parents=True, exist_ok=True)
            path = folder / f"rollout-{moment.strftime('%Y-%m-%dT00-00-00')}-{session}.jsonl"
            lines = []
            if not path.exists():
                lines.append(
                    {
                        "timestamp": _iso(at - 5),
                        "type": "session_meta",
                        "payload": {
                            "id": session,
                            "timestamp": _iso(at - 5),
                            "cwd": turn.project,
                            "originator": "codex_cli_rs",
                            "cli_version": "0.40.0",
                        },
                    }
                )
                cumulative = [0, 0, 0, 0]
            else:
                cumulative = self._cumulative.get(path) or self._codex_cumulative(path)
            cumulative = [
                cumulative[0] + turn.input,
                cumulative[1] + turn.cached_input,
                cumulative[2] + turn.output,
                cumulative[3] + turn.reasoning,
            ]
            last = {
                "input_tokens": turn.input,
                "cached_input_tokens": turn.cached_input,
                "output_tokens": turn.output,
                "reasoning_output_tokens": turn.reasoning,
                "total_tokens": turn.input + turn.output,
            }
            total = {
                "input_tokens": cumulative[0],
                "cached_input_tokens": cumulative[1],
                "output_tokens": cumulative[2],
                "reasoning_output_tokens": cumulative[3],
                "total_tokens": cumulative[0] + cumulative[2],
            }
            self._cumulative[path] = cumulative
            used_5h, resets_5h = window("codex_5h", at)
            used_7d, resets_7d = window("codex_7d", at)
            lines += [
                {
                    "timestamp": _iso(at - 2),
                    "type": "turn_context",
                    "payload": {"model": turn.model, "cwd": turn.project},
                },
                {
                    "timestamp": _iso(at),
                    "type": "event_msg",
                    "payload": {
                        "type": "token_count",
                        "info": {
                            "total_token_usage": total,
                            "last_token_usage": last,
                            "model_context_window": 258400,
                        },
                        "rate_limits": {
                            "primary": {
                                "used_percent": round(used_5h * 100, 1),
                                "window_minutes": 300,
                                "resets_at": int(resets_5h),
                            },
                            "secondary": {
                                "used_percent": round(used_7d * 100, 1),
                                "window_minutes": 10080,
                                "resets_at": int(resets_7d),
                            },
                            "plan_type": "plus",
                        },
                    },
                },
            ]
            with path.open("a", encoding="utf-8") as out:
                out.writelines(json.dumps(line, separators=(",", ":")) + "\n" for line in lines)

    @staticmethod
    def _codex_cumulative(path: Path) -> list[int]:
        """The session's cumulative usage so far (from its last token_count line)."""
        last: list[int] = [0, 0, 0, 0]
        with path.open(encoding="utf-8") as lines:
            for line in lines:
                if '"token_count"' not in line:
                    continue
                total = json.loads(line)["payload"]["info"]["total_token_usage"]
                last = [
                    total["input_tokens"],
                    total["cached_input_tokens"],
                    total["output_tokens"],
                    total["reasoning_output_tokens"],
                ]
        return last
