"""History backfill: past provider buckets as OpenMetrics with timestamps, for ``promtool``.

``llm-cost-exporter backfill --since 2026-01 --until 2026-03 --output history.om`` fetches, for
every configured account, each month of the range from each source whose records carry time
buckets (OpenAI ``costs`` / ``usage_*``, Anthropic ``cost_report`` / ``usage_messages``,
OpenRouter ``activity``, ...), with the same :class:`~exporter.providers.base.SourceContext`
the live poller uses, except that ``start`` is the 1st of that month and ``end`` the 1st of the
next month (or now). Sources that only report current values (balances, quotas, key limits,
project and key names, prices) have no history: they are called once, reported as skipped, and
their live prices (if any) are laid over the pricing catalog as the live exporter does.

For each day of the range, one sample is written at the end of the day (00:00 UTC of the next
day, in seconds) with the month-to-date value of every series the live exporter exposes for
that month: the same metric names, labels and values, computed by
:func:`exporter.snapshot.month_to_date_history` from the records the provider returned for the
month (estimated cost included, from the same catalog). The last day of a month is stamped one
second before midnight, because at midnight the live counters have already reset: the reset at
each month boundary is an ordinary counter reset, and ``_created`` is the 1st of the month.
Health, budget, gauge and info metrics are not written.

Samples are grouped per series in ascending time (what ``promtool tsdb create-blocks-from
openmetrics`` and the OpenMetrics grouping rule require) and the file ends with ``# EOF``.
``docs/backfill.md`` explains how to load the file without overlapping live data.
"""

from __future__ import annotations

import asyncio
import logging
import os
import re
import sys
from collections import defaultdict
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Final, TextIO

import aiohttp

from exporter.config import AccountConfig, Config
from exporter.contract import METRICS, MetricType
from exporter.errors import ExporterError, SourceError, SourceUnavailable
from exporter.poller import account_upstream
from exporter.pricing import Catalog, ModelPrice, load_catalog
from exporter.providers import PROVIDERS
from exporter.providers.base import SourceContext
from exporter.records import (
    ApiKeyInfo,
    CostRecord,
    CountRecord,
    EstimatedCostRecord,
    GaugeRecord,
    LevelRecord,
    PriceRecord,
    ProjectInfo,
    Record,
    TokenRecord,
    UnpricedTokenRecord,
)
from exporter.snapshot import month_to_date_history, next_month_start
from exporter.upstream import RequestStats

log = logging.getLogger(__name__)

#: Records that belong to a provider bucket (they have a ``start``): the only ones with history.
BucketRecord = (
    CostRecord | TokenRecord | CountRecord | LevelRecord | EstimatedCostRecord | UnpricedTokenRecord
)
_BUCKETED: Final = (
    CostRecord,
    TokenRecord,
    CountRecord,
    LevelRecord,
    EstimatedCostRecord,
    UnpricedTokenRecord,
)
#: Prometheus keeps the last ~3 hours in its head block; backfilling that range is unsafe.
HEAD_BLOCK_SECONDS: Final = 3 * 3600
#: Labels of the contract: ``--label`` may not set any of them.
_CONTRACT_LABELS: Final = frozenset(label for spec in METRICS.values() for label in spec.labels)
_LABEL_NAME: Final = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_MONTH: Final = re.compile(r"^(\d{4})-(\d{2})$")
_DAY: Final = re.compile(r"^(\d{4})-(\d{2})-(\d{2})$")

LabelPairs = tuple[tuple[str, str], ...]
#: (metric name, labels in contract order then extra labels)
SeriesKey = tuple[str, LabelPairs]


@dataclass(frozen=True, slots=True)
class Point:
    timestamp: int
    value: float
    #: ``_created`` (the 1st of the month) for month-to-date counters, else None.
    created: int | None


class BackfillError(ExporterError):
    """Bad arguments, or history that could not be fetched completely (nothing is written)."""


# --------------------------------------------------------------------------- the range


@dataclass(frozen=True, slots=True)
class Span:
    """The days whose end-of-day month-to-date values are written (both inclusive, UTC)."""

    first: date
    last: date

    def months(self) -> list[datetime]:
        """00:00 UTC on the 1st of each month the span touches, in order."""
        month = datetime(self.first.year, self.first.month, 1, tzinfo=UTC)
        months = []
        while month.date() <= self.last:
            months.append(month)
            month = next_month_start(month)
        return months

    def instants(self, month: datetime) -> list[tuple[datetime, int]]:
        """``(bound, timestamp)`` of each day of ``month`` in the span.

        The sample at ``timestamp`` counts the buckets that start before ``bound`` (the end of
        the day). A month's last day is stamped one second before its end: at midnight the live
        exporter already shows the next month.
        """
        end = next_month_start(month)
        day = max(self.first, month.date())
        instants = []
        while day <= self.last and day < end.date():
            bound = datetime(day.year, day.month, day.day, tzinfo=UTC) + timedelta(days=1)
            stamp = int(bound.timestamp()) - (1 if bound == end else 0)
            instants.append((bound, stamp))
            day += timedelta(days=1)
        return instants

    @property
    def last_timestamp(self) -> int:
        month = datetime(self.last.year, self.last.month, 1, tzinfo=UTC)
        return self.instants(month)[-1][1]


def parse_span(since: str, until: str, now: float) -> Span:
    """The span of ``--since`` / ``--until`` (``YYYY-MM`` or ``YYYY-MM-DD``, UTC, inclusive).

    A month means all its days; the current month ends yesterday (a day's buckets are complete
    only once it is over). Raises :class:`BackfillError` with a message for the user.
    """
    today = datetime.fromtimestamp(now, UTC).date()
    yesterday = today - timedelta(days=1)
    first, _ = _parse_when("--since", since, last=False)
    last, whole_month = _parse_when("--until", until, last=True)
    if whole_month:
        if (last.year, last.month) > (today.year, today.month):
            raise BackfillError(
                f"--until {until} is in the future; the last complete day is {yesterday}"
            )
        last = min(last, yesterday)
    elif last >= today:
        raise BackfillError(
            f"--until {until} is not over yet (today is {today} UTC): a day's buckets are "
            f"complete only once it ends; use {yesterday} or earlier"
        )
    if first > last:
        raise BackfillError(
            f"nothing to backfill: --since {since} is after the last day of --until {until} "
            f"({last})"
        )
    span = Span(first, last)
    stamp = span.last_timestamp
    if stamp > now - HEAD_BLOCK_SECONDS:
        when = datetime.fromtimestamp(stamp, UTC).strftime("%Y-%m-%d %H:%M:%S")
        raise BackfillError(
            f"the last sample would be at {when} UTC, less than 3 hours ago: Prometheus is "
            "still writing that time range (its head block). Use an earlier --until "
            f"(e.g. {last - timedelta(days=1)}) or wait until 03:00 UTC"
        )
    return span


def _parse_when(flag: str, value: str, *, last: bool) -> tuple[date, bool]:
    """The first (or last) day ``value`` names, and whether it named a whole month."""
    text = value.strip()
    try:
        if match := _MONTH.match(text):
            year, month = int(match[1]), int(match[2])
            start = date(year, month, 1)
            if not last:
                return start, True
            return (next_month_start(datetime(year, month, 1)) - timedelta(days=1)).date(), True
        if match := _DAY.match(text):
            return date(int(match[1]), int(match[2]), int(match[3])), False
    except ValueError:
        pass
    raise BackfillError(
        f"{flag} {value!r}: expected a UTC month YYYY-MM (e.g. 2026-01) or day YYYY-MM-DD"
    )


def parse_labels(values: Iterable[str]) -> LabelPairs:
    """``NAME=VALUE`` target labels added to every series (e.g. the live scrape's job)."""
    labels: dict[str, str] = {}
    for raw in values:
        name, sep, value = raw.partition("=")
        if not sep or not value:
            raise BackfillError(f"--label {raw!r}: expected NAME=VALUE with a non-empty value")
        if not _LABEL_NAME.match(name) or name.startswith("__"):
            raise BackfillError(
                f"--label {raw!r}: {name!r} is not a valid label name "
                "(letters, digits, '_'; not starting with a digit or '__')"
            )
        if name in _CONTRACT_LABELS:
            raise BackfillError(
                f"--label {raw!r}: {name!r} is already a label of the exported metrics"
            )
        if name in labels:
            raise BackfillError(f"--label {raw!r}: {name!r} given twice")
        labels[name] = value
    return tuple(sorted(labels.items()))


# --------------------------------------------------------------------------- fetching


@dataclass
class AccountHistory:
    """Bucketed records of one account, per month, and what each source contributed."""

    provider: str
    account: str
    max_series: int
    #: 1st of the month → records whose bucket starts in that month.
    records: dict[datetime, list[BucketRecord]] = field(default_factory=dict)
    #: Live catalog prices some source returned (laid over the catalog).
    prices: dict[tuple[str, str], ModelPrice] = field(default_factory=dict)
    #: Sources that returned time buckets (in any month).
    with_history: set[str] = field(default_factory=set)
    #: Source → why it was not backfilled.
    skipped: dict[str, str] = field(default_factory=dict)
    #: Sources polled every month that never returned a bucket.
    without_data: tuple[str, ...] = ()

    @property
    def label(self) -> str:
        return f"{self.provider}/{self.account}"


async def fetch_history(
    config: Config,
    span: Span,
    session: aiohttp.ClientSession,
    *,
    now: float,
    catalog: Catalog | None = None,
) -> list[AccountHistory]:
    """Every account's bucketed records for every month of ``span``.

    Accounts are fetched concurrently, the sources of one account concurrently within a month
    (as the poller does), months one after the other. Any failure other than "this credential
    cannot use the source" aborts the whole backfill: a month with a source missing would be
    written as too low a total, which is worse than no history.
    """
    base_catalog = catalog if catalog is not None else load_catalog(config.pricing)
    results = await asyncio.gather(
        *(_fetch_account(session, a, span, now, base_catalog) for a in config.accounts),
        return_exceptions=True,
    )
    histories: list[AccountHistory] = []
    problems: list[str] = []
    for result in results:
        if isinstance(result, BackfillError):
            problems.append(str(result))
        elif isinstance(result, BaseException):
            raise result
        else:
            histories.append(result)
    if problems:
        raise BackfillError("history could not be fetched:\n  " + "\n  ".join(problems))
    return histories


async def _fetch_account(
    session: aiohttp.ClientSession,
    account: AccountConfig,
    span: Span,
    now: float,
    catalog: Catalog,
) -> AccountHistory:
    spec = PROVIDERS[account.provider]
    history = AccountHistory(account.provider_label, account.account, account.max_series)
    secret = account.secret if spec.needs_key else ""
    if secret is None or (spec.needs_key and not secret):
        raise BackfillError(f"{history.label}: no credential configured ({spec.key_hint})")
    upstream = account_upstream(session, account, secret, RequestStats())
    active = list(account.enabled_sources())
    moment = datetime.fromtimestamp(now, UTC)
    for month in span.months():
        end = min(next_month_start(month), moment)

        async def call(source: str, month: datetime = month, end: datetime = end) -> list[Record]:
            context = SourceContext(
                upstream=upstream,
                start=month,
                end=end,
                group_by=frozenset(account.group_by),
                options=account.parsed_options,
                catalog=catalog,
                memo={},  # fresh: an incremental reader must read the whole month again
            )
            return list(await spec.sources[source](context))

        outcomes = await asyncio.gather(*(call(s) for s in active), return_exceptions=True)
        failures = []
        month_records: list[BucketRecord] = []
        for source, outcome in zip(list(active), outcomes, strict=True):
            where = f"{history.label} {source} {month:%Y-%m}"
            if isinstance(outcome, SourceUnavailable):
                history.skipped[source] = f"not available to this credential ({outcome})"
                active.remove(source)
            elif isinstance(outcome, SourceError):
                failures.append(f"{where}: {outcome} (reason={outcome.reason})")
            elif isinstance(outcome, Exception):
                log.error("unexpected error fetching %s", where, exc_info=outcome)
                failures.append(f"{where}: unexpected {type(outcome).__name__}")
            elif isinstance(outcome, BaseException):
                raise outcome
            else:
                bucketed = _bucketed(history, source, outcome)
                if bucketed is None:
                    active.remove(source)
                    continue
                month_records += [r for r in bucketed if month <= r.start < end]
        if failures:
            raise BackfillError("\n  ".join(failures))
        history.records[month] = month_records
    history.without_data = tuple(s for s in active if s not in history.with_history)
    return history


def _bucketed(
    history: AccountHistory, source: str, records: Sequence[Record]
) -> list[BucketRecord] | None:
    """The records of a source's answer that carry a bucket; None if the source has no history.

    A source is judged by what it returns: only current values (no record with a bucket) means
    it has no history and is not called again. An empty answer proves nothing (no usage yet).
    """
    for record in records:
        if isinstance(record, PriceRecord):
            history.prices[(record.price.provider, record.price.model)] = record.price
    bucketed: list[BucketRecord] = [r for r in records if isinstance(r, _BUCKETED)]
    if bucketed:
        history.with_history.add(source)
    elif records and source not in history.with_history:
        kinds = sorted({_KINDS.get(type(r), type(r).__name__) for r in records})
        history.skipped[source] = f"current values only ({', '.join(kinds)}), no time buckets"
        return None
    return bucketed


_KINDS: Final[Mapping[type, str]] = {
    GaugeRecord: "gauges",
    PriceRecord: "prices",
    ProjectInfo: "names",
    ApiKeyInfo: "names",
}


# --------------------------------------------------------------------------- samples


@dataclass
class History:
    """Every series to write with its points, and what each account contributed."""

    series: dict[SeriesKey, list[Point]]
    accounts: list[AccountHistory]

    @property
    def samples(self) -> int:
        return sum(len(points) for points in self.series.values())


def build_history(
    histories: Sequence[AccountHistory],
    span: Span,
    catalog: Catalog,
    extra_labels: LabelPairs = (),
) -> History:
    """The month-to-date series of every account at the end of every day of ``span``."""
    for account in histories:
        if account.prices:
            catalog = catalog.overlay(account.prices.values(), account.provider, 0.0)
    series: dict[SeriesKey, list[Point]] = defaultdict(list)
    for account in histories:
        for month in span.months():
            created = int(month.timestamp())
            records = sorted(account.records.get(month, ()), key=lambda r: r.start)
            steps = _steps(records, span.instants(month))
            for stamp, samples in month_to_date_history(
                account.provider,
                account.account,
                steps,
                month,
                catalog,
                max_series=account.max_series,
            ):
                for name, rows in samples.items():
                    spec = METRICS[name]
                    counter = spec.type is MetricType.COUNTER
                    for sample in rows:
                        labels = tuple((n, sample.labels[n]) for n in spec.labels) + extra_labels
                        point = Point(int(stamp), sample.value, created if counter else None)
                        series[(name, labels)].append(point)
    return History(dict(series), list(histories))


def _steps(
    records: Sequence[BucketRecord], instants: Sequence[tuple[datetime, int]]
) -> Iterator[tuple[float, list[BucketRecord]]]:
    """``(timestamp, records starting before the instant's bound not given yet)`` per instant.

    The first step also carries the month's buckets before the span's first day, so a span
    starting mid-month still counts from the 1st.
    """
    given = 0
    for bound, stamp in instants:
        taken = given
        while taken < len(records) and records[taken].start < bound:
            taken += 1
        yield stamp, list(records[given:taken])
        given = taken


# --------------------------------------------------------------------------- OpenMetrics


def write_openmetrics(history: History, out: TextIO) -> None:
    """The series as OpenMetrics text: one family at a time in contract order, each series'
    points in ascending time (``_created`` after its ``_total``), then ``# EOF``."""
    by_metric: dict[str, list[LabelPairs]] = defaultdict(list)
    for name, labels in history.series:
        by_metric[name].append(labels)
    for name, spec in METRICS.items():
        if name not in by_metric:
            continue
        family = spec.family
        out.write(f"# HELP {family} {_escape(spec.help)}\n")
        out.write(f"# TYPE {family} {spec.type.value}\n")
        for labels in sorted(by_metric[name]):
            rendered = "{" + ",".join(f'{k}="{_escape(v)}"' for k, v in labels) + "}"
            for point in sorted(history.series[(name, labels)], key=lambda p: p.timestamp):
                out.write(f"{name}{rendered} {_number(point.value)} {point.timestamp}\n")
                if point.created is not None:
                    out.write(f"{family}_created{rendered} {point.created} {point.timestamp}\n")
    out.write("# EOF\n")


def _escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _number(value: float) -> str:
    """Integers without a fraction (token counts), other values as the shortest exact repr."""
    if value.is_integer() and abs(value) < 2**53:
        return str(int(value))
    return repr(value)


# --------------------------------------------------------------------------- the command


async def backfill(
    config: Config, span: Span, *, now: float, extra_labels: LabelPairs = ()
) -> History:
    """Fetch the history of every configured account and turn it into series."""
    catalog = load_catalog(config.pricing)
    async with aiohttp.ClientSession(trust_env=True) as session:
        histories = await fetch_history(config, span, session, now=now, catalog=catalog)
    return build_history(histories, span, catalog, extra_labels)


def save(history: History, output: str) -> None:
    """Write the OpenMetrics file (``-``: standard output); a file appears only when complete."""
    if output == "-":
        write_openmetrics(history, sys.stdout)
        sys.stdout.flush()
        return
    path = Path(output)
    partial = path.with_name(path.name + ".partial")
    try:
        with partial.open("w", encoding="utf-8", newline="\n") as handle:
            write_openmetrics(history, handle)
        os.replace(partial, path)
    except OSError as exc:
        partial.unlink(missing_ok=True)
        raise BackfillError(f"--output {output}: {exc.strerror or exc}") from None


def describe(history: History, span: Span, output: str) -> list[str]:
    """What was written and what was not, for the operator (standard error)."""
    lines = []
    for account in history.accounts:
        lines.append(
            f"{account.label}: history from "
            + (", ".join(sorted(account.with_history)) or "no source")
        )
        if account.without_data:
            lines.append(f"  no buckets in range: {', '.join(account.without_data)}")
        for source, why in sorted(account.skipped.items()):
            lines.append(f"  skipped {source}: {why}")
    stamps = [p.timestamp for points in history.series.values() for p in points]
    if stamps:
        first, last = (
            datetime.fromtimestamp(s, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
            for s in (min(stamps), max(stamps))
        )
        lines.append(
            f"wrote {len(history.series)} series, {history.samples} samples "
            f"({span.first} to {span.last}, end of each day UTC: {first} .. {last}) to {output}"
        )
    else:
        lines.append(f"no data between {span.first} and {span.last}: {output} holds no sample")
    return lines
