"""Codex CLI: token usage, estimated cost and quota windows from local rollout logs.

Credential
    None. Nothing is sent anywhere: the source reads the JSONL rollout logs Codex writes on
    this machine (read-only; it never touches ``auth.json``).

Paths read (source ``logs``)
    For each Codex home (option ``paths``, default ``${CODEX_HOME:-~/.codex}``):
    ``sessions/YYYY/MM/DD/rollout-*.jsonl`` and ``archived_sessions/*.jsonl``; a file present
    in both is read from ``sessions/``. Files are tailed: each poll reads only the complete
    lines appended since the last one; the first poll reads everything in a worker thread.

Rules
    Those of ccusage 20.0.24 (see :mod:`exporter.codex_logs` for each): the model of the
    latest ``turn_context`` (``gpt-5`` before any, as ccusage does); per-turn
    ``last_token_usage``, or differences of the cumulative ``total_token_usage`` when only
    that is logged, a repeated cumulative total counting nothing; forks' copies of their
    parent's history and identical events across files counted once. Tokens map to disjoint
    types: ``input`` = input − cached input, ``cache_read`` = cached input, ``output`` =
    output (reasoning included), no cache writes.

Series (``provider="openai"``, ``account`` default ``codex``)
    * ``llm_tokens_total`` per UTC day bucket, ``project`` (the session's working directory,
      option ``project_label``: ``basename`` (default), ``path`` or ``off``), ``model``;
      ``api_key`` is always ``""``.
    * ``llm_estimated_cost_usd_total``: every turn priced on its own with the catalog's
      ``openai`` price of its model (long-context tiers per turn).
    * ``llm_unpriced_tokens_total``: tokens of models the catalog does not know (never $0).
    * ``llm_quota_utilization_ratio``, ``llm_quota_window_seconds``,
      ``llm_quota_resets_at_timestamp_seconds`` by ``window`` (``5h``, ``7d``, ``<seconds>s`` from
      the window length, never its position): the latest rate-limit snapshot Codex logged
      that is not an all-zero placeholder, only while its reset time is in the future. A
      zero-network fallback for ``codex_subscription``; it is as fresh as the last Codex turn.
    * ``llm_log_lines_skipped_total`` by ``reason``: ``malformed`` (not JSON) and ``invalid``
      (unusable fields) among lines that could carry usage, model or project.

Blind spots
    * Usage of other machines, of the ChatGPT web/desktop apps and of Codex Cloud tasks is
      not in local logs; only the quota windows reflect it (when a local turn logs them).
    * The estimate is list-price API cost, not what a ChatGPT plan bills.
    * ``codex-auto-review`` and other internal model names are unpriced unless the catalog
      knows them; ``codex exec --json`` output saved elsewhere is not read.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, time
from decimal import Decimal
from pathlib import Path
from typing import Final

from pydantic import BaseModel, ConfigDict, Field, field_validator

from exporter.codex_logs import SKIP_REASONS, CodexLogReader, ProjectLabel, default_homes
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
READER_MEMO: Final = "codex_log_reader"


class CodexOptions(BaseModel):
    """``options:`` of a ``codex`` account."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    #: Codex home directories (each holding ``sessions/`` and/or ``archived_sessions/``);
    #: default ``${CODEX_HOME:-~/.codex}``. ``~`` is expanded.
    paths: tuple[Path, ...] | None = Field(default=None, min_length=1)
    #: How the session's working directory becomes the ``project`` label.
    project_label: ProjectLabel = "basename"

    @field_validator("paths")
    @classmethod
    def _expand(cls, value: tuple[Path, ...] | None) -> tuple[Path, ...] | None:
        return None if value is None else tuple(path.expanduser() for path in value)

    def homes(self) -> tuple[Path, ...]:
        return self.paths or default_homes()


def _reader(ctx: SourceContext) -> CodexLogReader:
    options = ctx.options
    if not isinstance(options, CodexOptions):
        options = CodexOptions()
    reader = ctx.memo.get(READER_MEMO)
    homes = options.homes()
    if (
        not isinstance(reader, CodexLogReader)
        or reader.homes != homes
        or reader.project_label != options.project_label
    ):
        reader = CodexLogReader(homes, options.project_label)
        ctx.memo[READER_MEMO] = reader
    return reader


def log_records(reader: CodexLogReader, ctx: SourceContext) -> list[Record]:
    """The records of the reader's current state for the month starting at ``ctx.start``."""
    first_day = ctx.start.astimezone(UTC).date()
    by_project = "project" in ctx.group_by
    by_model = "model" in ctx.group_by
    records: list[Record] = []
    for bucket in reader.buckets():
        if bucket.day < first_day:
            continue
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
                cache_write_5m=0,
                cache_write_1h=0,
                output=bucket.output,
                priced_by_source=True,
            )
        )
        if bucket.cost_usd is not None:
            records.append(EstimatedCostRecord(start, project, "", model, bucket.cost_usd))
            continue
        counts = (("input", bucket.input), ("cache_read", bucket.cache_read))
        for token_type, tokens in (*counts, ("output", bucket.output)):
            if tokens:
                # The unpriced series always names the model: that is what needs a price.
                records.append(UnpricedTokenRecord(start, bucket.model, token_type, tokens))
    snapshot = reader.rate_limits()
    if snapshot is not None:
        for window in snapshot.windows:
            if window.resets_at is None or window.resets_at <= Decimal(repr(ctx.now)):
                continue  # a window that already reset says nothing about now
            records += [
                gauge("llm_quota_utilization_ratio", window.used_ratio, window=window.name),
                gauge("llm_quota_window_seconds", window.window_seconds, window=window.name),
                gauge(
                    "llm_quota_resets_at_timestamp_seconds", window.resets_at, window=window.name
                ),
            ]
    skipped = reader.skipped()
    records += [
        gauge("llm_log_lines_skipped_total", skipped[reason], reason=reason)
        for reason in SKIP_REASONS
    ]
    return records


async def logs(ctx: SourceContext) -> list[Record]:
    reader = _reader(ctx)
    await reader.refresh_async(ctx.catalog)
    return log_records(reader, ctx)


async def check(upstream: Upstream) -> None:
    """Nothing to authenticate: the logs are local (missing directories are logged by ``logs``)."""


def auth_headers(key: str) -> Mapping[str, str]:
    return {}


PROVIDER: Final = ProviderSpec(
    name="codex",
    title="Codex CLI local rollout logs: tokens, estimated cost, quota windows (no network)",
    default_base_url="",
    env_var=None,
    key_hint="none: reads the local Codex rollout logs under ${CODEX_HOME:-~/.codex}",
    auth_headers=auth_headers,
    sources={"logs": logs},
    check=check,
    needs_key=False,
    options=CodexOptions,
    default_poll_interval=60,
    label="openai",
    default_account="codex",
)
