"""Claude Code: tokens, estimated cost and 5-hour blocks from local transcripts (no network).

Credential
    None. Nothing is sent anywhere: the source reads the JSONL transcripts Claude Code writes
    on this machine, read-only (it never opens ``.credentials.json``).

Paths read (source ``logs``)
    Every ``*.jsonl`` below ``<root>/projects/``, recursively (legacy flat
    ``<project>/<session>.jsonl`` and nested ``<project>/<session>/subagents/*.jsonl``), for
    each root: the ``paths`` option (each a Claude config dir holding ``projects/``, or the
    ``projects/`` dir itself), else each comma-separated entry of ``$CLAUDE_CONFIG_DIR``, else
    ``${XDG_CONFIG_HOME:-~/.config}/claude`` and ``~/.claude`` (a root without ``projects/`` is
    skipped; data of all roots is combined). Files are tailed: each poll stats them and reads
    only the complete lines appended since the last one; the first poll reads everything in a
    worker thread (large histories are decoded on every core by short-lived worker processes).

Rules
    Those of ccusage 20.0.24 (``ccusage claude daily``), see :mod:`exporter.claude_logs`:
    streamed copies of one response are deduplicated by ``message.id`` + ``requestId`` (the
    copy with the larger token total wins, then the larger cost, then the one with
    ``usage.speed``); ``/btw`` sidechain replays with a new ``requestId`` are matched on
    ``message.id`` and lose to the parent; lines without ``message.id`` are never
    deduplicated; ``<synthetic>`` messages are ignored; lines that break ccusage's validation
    (non-semver ``version``, empty ids, wrong JSON types, its ``null`` field rule, timestamps
    in another format) are skipped. Tokens map to disjoint types: ``input``, ``cache_read``,
    ``cache_write`` = 5-minute + 1-hour cache writes (priced apart), ``output``.

Series (``provider="anthropic"``, ``account`` default ``claude-code``)
    * ``llm_tokens_total`` per UTC day bucket, ``project`` (the line's working directory,
      option ``project_label``: ``basename`` (default), ``path`` or ``off``; the transcript's
      project directory name when a line has none), ``model`` (``<model>-fast`` for fast
      mode, ``unknown`` when a line names no model); ``api_key`` is always ``""``.
    * ``llm_estimated_cost_usd_total``: each entry's ``costUSD`` (older Claude Code versions)
      or its tokens priced on their own with the catalog's ``anthropic`` price of the model
      on that day (5-minute and 1-hour cache writes apart, long-context tiers per request).
    * ``llm_unpriced_tokens_total``: tokens of models the catalog does not know (never $0).
    * ``llm_session_block_start_timestamp_seconds``, ``llm_session_block_end_timestamp_seconds``,
      ``llm_session_block_tokens{token_type}``, ``llm_session_block_estimated_cost_usd``: the
      active 5-hour block (ccusage's ``identify_session_blocks``); absent when none is active.
    * ``llm_log_lines_skipped_total{reason}``: ``malformed`` (not JSON) and ``invalid``
      (ccusage's rules) among lines containing ``"usage":{``, since the exporter started.

Blind spots
    * Usage on other machines and on claude.ai is not in these transcripts; Claude Code deletes
      transcripts older than ``cleanupPeriodDays`` (30 by default). A deleted transcript's
      tokens leave the totals (the month-to-date guard keeps counters from going down).
    * The estimate is API list price, not what a Pro/Max subscription bills.
    * Blocks approximate Anthropic's real 5-hour window; ``claude_subscription`` reports the
      vendor's own utilization.
    * Fast-mode usage is unpriced unless the catalog knows ``<model>-fast``.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, time
from decimal import Decimal
from pathlib import Path
from typing import Final

from pydantic import BaseModel, ConfigDict, Field, field_validator

from exporter.claude_logs import SKIP_REASONS, ClaudeLogReader, ProjectLabel, default_roots
from exporter.providers.base import ProviderSpec, SourceContext
from exporter.records import (
    EstimatedCostRecord,
    Record,
    TokenRecord,
    UnpricedTokenRecord,
    gauge,
)
from exporter.upstream import Upstream

#: Key of the reader in the source's memo.
READER_MEMO: Final = "claude_log_reader"


class ClaudeCodeOptions(BaseModel):
    """``options:`` of a ``claude_code`` account."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    #: Claude config dirs (each holding ``projects/``) or ``projects/`` dirs; default
    #: ``$CLAUDE_CONFIG_DIR`` (comma-separated), else ``~/.config/claude`` and ``~/.claude``.
    #: ``~`` is expanded.
    paths: tuple[Path, ...] | None = Field(default=None, min_length=1)
    #: How a line's working directory becomes the ``project`` label.
    project_label: ProjectLabel = "basename"

    @field_validator("paths")
    @classmethod
    def _expand(cls, value: tuple[Path, ...] | None) -> tuple[Path, ...] | None:
        return None if value is None else tuple(path.expanduser() for path in value)

    def roots(self) -> tuple[Path, ...]:
        return self.paths or default_roots()


def _reader(ctx: SourceContext) -> ClaudeLogReader:
    options = ctx.options
    if not isinstance(options, ClaudeCodeOptions):
        options = ClaudeCodeOptions()
    reader = ctx.memo.get(READER_MEMO)
    roots = options.roots()
    if (
        not isinstance(reader, ClaudeLogReader)
        or reader.roots != roots
        or reader.project_label != options.project_label
    ):
        reader = ClaudeLogReader(roots, options.project_label)
        ctx.memo[READER_MEMO] = reader
    return reader


def log_records(reader: ClaudeLogReader, ctx: SourceContext) -> list[Record]:
    """The records of the reader's current state for the month starting at ``ctx.start``."""
    first_day = ctx.start.astimezone(UTC).date()
    by_project = "project" in ctx.group_by
    by_model = "model" in ctx.group_by
    records: list[Record] = []
    for bucket in reader.buckets(since=first_day):
        start = datetime.combine(bucket.day, time(), UTC)
        project = bucket.project if by_project else ""
        model = bucket.model if by_model else ""
        records.append(
            TokenRecord(
                start=start,
                project=project,
                api_key="",
                model=model,
                input=bucket.input,
                cache_read=bucket.cache_read,
                cache_write_5m=bucket.cache_write_5m,
                cache_write_1h=bucket.cache_write_1h,
                output=bucket.output,
                priced_by_source=True,
            )
        )
        if bucket.cost_usd is not None:
            records.append(EstimatedCostRecord(start, project, "", model, bucket.cost_usd))
        unpriced_input, unpriced_read, unpriced_write, unpriced_output = bucket.unpriced
        for token_type, tokens in (
            ("input", unpriced_input),
            ("cache_read", unpriced_read),
            ("cache_write", unpriced_write),
            ("output", unpriced_output),
        ):
            if tokens:
                # The unpriced series always names the model: that is what needs a price.
                records.append(UnpricedTokenRecord(start, bucket.model, token_type, tokens))
    block = reader.active_block(ctx.now)
    if block is not None:
        records += [
            gauge("llm_session_block_start_timestamp_seconds", int(block.start.timestamp())),
            gauge("llm_session_block_end_timestamp_seconds", int(block.end.timestamp())),
            gauge("llm_session_block_tokens", block.input, token_type="input"),
            gauge("llm_session_block_tokens", block.cache_read, token_type="cache_read"),
            gauge("llm_session_block_tokens", block.cache_write, token_type="cache_write"),
            gauge("llm_session_block_tokens", block.output, token_type="output"),
            gauge("llm_session_block_estimated_cost_usd", block.cost_usd),
        ]
    skipped = reader.skipped()
    records += [
        gauge("llm_log_lines_skipped_total", Decimal(skipped[reason]), reason=reason)
        for reason in SKIP_REASONS
    ]
    return records


async def logs(ctx: SourceContext) -> list[Record]:
    reader = _reader(ctx)
    await reader.refresh_async(ctx.catalog, ctx.now)
    return log_records(reader, ctx)


async def check(upstream: Upstream) -> None:
    """Nothing to authenticate: the logs are local (missing directories are logged by ``logs``)."""


def auth_headers(key: str) -> Mapping[str, str]:
    return {}


PROVIDER: Final = ProviderSpec(
    name="claude_code",
    title="Claude Code local transcripts: tokens, estimated cost, 5-hour blocks (no network)",
    default_base_url="",
    env_var=None,
    key_hint="none: reads the local Claude Code transcripts under ~/.claude/projects",
    auth_headers=auth_headers,
    sources={"logs": logs},
    check=check,
    needs_key=False,
    options=ClaudeCodeOptions,
    default_poll_interval=60,
    label="anthropic",
    default_account="claude-code",
)
