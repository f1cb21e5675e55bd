"""Immutable snapshots of everything the exporter knows, and their exposition.

The poller keeps one :class:`SourceState` per (account, source). After polls finish it calls
:func:`build_snapshot`, which turns the fresh records of every source into samples of the
contract's metrics (month-to-date sums, latest levels, info series, budgets, health), applies
the month-to-date guard and the cardinality guard, and returns a :class:`Snapshot`. The HTTP
layer serves bytes the snapshot rendered once (per format and encoding), so a scrape does no
work that grows with the number of series, and nothing at scrape time touches the network.
"""

from __future__ import annotations

import gzip
import logging
import math
import threading
from collections import defaultdict
from collections.abc import Iterable, Iterator, Mapping, Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import ClassVar, Final

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.openmetrics.exposition import generate_latest as generate_openmetrics
from prometheus_client.registry import Collector

from exporter import __version__
from exporter.config import BudgetConfig, Config
from exporter.contract import METRICS, OTHER, MetricSpec, MetricType
from exporter.pricing import Catalog, ModelPrice
from exporter.providers import PROVIDERS
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
from exporter.upstream import RequestStats

log = logging.getLogger(__name__)

TEXT_CONTENT_TYPE: Final = "text/plain; version=0.0.4; charset=utf-8"
OPENMETRICS_CONTENT_TYPE: Final = "application/openmetrics-text; version=1.0.0; charset=utf-8"

#: Labels the cardinality guard may fold into ``other``.
_FOLDABLE: Final = frozenset({"project", "api_key", "model", "line_item"})

LabelKey = tuple[str, ...]


@dataclass(slots=True)
class SourceState:
    """What the poller knows of one (account, source); mutated only by the poller."""

    provider: str
    account: str
    source: str
    stale_after: float
    stats: RequestStats = field(default_factory=RequestStats)
    up: bool | None = None
    last_duration: float | None = None
    last_success: float | None = None
    last_error: str | None = None
    records: tuple[Record, ...] = ()
    #: Set when the credential cannot use this source at all; it is not polled again.
    unavailable: str | None = None
    #: Persistent per-source memory handed to the source on every poll.
    memo: dict[str, object] = field(default_factory=dict)
    #: Consecutive rate-limited polls, and the time before which the source is not polled.
    backoff_level: int = 0
    backoff_until: float = 0.0

    def fresh(self, now: float) -> bool:
        return self.last_success is not None and now - self.last_success <= self.stale_after

    @property
    def never_polled(self) -> bool:
        """No poll of this source has finished yet (successful, failed or unavailable)."""
        return self.up is None and self.unavailable is None and self.last_success is None


def month_start(now: float) -> datetime:
    """00:00 UTC on the 1st of the month containing ``now``."""
    moment = datetime.fromtimestamp(now, UTC)
    return moment.replace(day=1, hour=0, minute=0, second=0, microsecond=0)


def next_month_start(start: datetime) -> datetime:
    return (
        start.replace(year=start.year + 1, month=1)
        if start.month == 12
        else start.replace(month=start.month + 1)
    )


@dataclass(frozen=True, slots=True)
class Sample:
    labels: Mapping[str, str]
    value: float


@dataclass(frozen=True, slots=True)
class Family:
    spec: MetricSpec
    samples: tuple[Sample, ...]
    #: ``_created`` of every sample (month-to-date counters only).
    created: float | None = None


class MonthToDateGuard:
    """Keeps month-to-date counters from decreasing within one month in this process.

    Providers restate buckets; a downward restatement would look like a counter reset to
    Prometheus and be counted again by ``increase()``. Within a month we keep the highest value
    seen (and log the restatement); at rollover everything starts from zero. Sticky folding
    lives here too: a label set kept by the cardinality guard stays kept for the month, so
    neither kept series nor ``other`` ever decrease.
    """

    def __init__(self) -> None:
        self._month: datetime | None = None
        self._high: dict[tuple[str, str, LabelKey], float] = {}
        self._folds: dict[tuple[str, str], FoldState] = {}

    def roll(self, month: datetime) -> None:
        if month != self._month:
            self._month = month
            self._high.clear()
            self._folds.clear()

    def apply(self, metric: str, account_key: str, labels: LabelKey, value: float) -> float:
        key = (metric, account_key, labels)
        high = self._high.get(key)
        if high is not None and value < high:
            log.info(
                "%s restated %s%s downward (%s -> %s); keeping the higher value this month",
                account_key,
                metric,
                list(labels),
                high,
                value,
            )
            return high
        self._high[key] = value
        return value

    def fold_state(self, metric: str, account_key: str) -> FoldState:
        return self._folds.setdefault((metric, account_key), FoldState())


@dataclass(slots=True)
class FoldState:
    """Label groups kept by the cardinality guard this month, per (metric, account)."""

    kept: set[LabelKey] = field(default_factory=set)
    overflowed: bool = False


@dataclass(frozen=True)
class Snapshot:
    families: tuple[Family, ...]
    built_at: float
    #: (provider, account) → source → state copy, for the landing page and --once.
    health: tuple[SourceView, ...] = ()
    unmatched_budgets: tuple[str, ...] = ()
    #: (provider, model) pairs whose tokens had no catalog price, for the landing page.
    unpriced_models: tuple[tuple[str, str], ...] = ()
    _cache: dict[tuple[bool, bool], bytes] = field(default_factory=dict, compare=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, compare=False)

    def render(self, *, openmetrics: bool = False, compress: bool = False) -> bytes:
        """The exposition bytes; rendered once per snapshot, format and encoding."""
        key = (openmetrics, compress)
        cached = self._cache.get(key)
        if cached is not None:
            return cached
        plain = self.render(openmetrics=openmetrics) if compress else None
        with self._lock:
            cached = self._cache.get(key)
            if cached is None:
                if plain is not None:
                    cached = gzip.compress(plain, 6, mtime=0)
                else:
                    registry = CollectorRegistry(auto_describe=False)
                    registry.register(SnapshotCollector(self, created=openmetrics))
                    render = generate_openmetrics if openmetrics else generate_latest
                    cached = render(registry)
                self._cache[key] = cached
        return cached

    #: The body Prometheus scrapes get: it asks for OpenMetrics, gzip-encoded.
    SCRAPE_FORMAT: ClassVar[tuple[bool, bool]] = (True, True)

    def prerender(self) -> None:
        """Render what Prometheus will ask for, so no scrape has to."""
        openmetrics, compress = self.SCRAPE_FORMAT
        self.render(openmetrics=openmetrics, compress=compress)

    def rendered(self, *, openmetrics: bool = False, compress: bool = False) -> bool:
        """Whether :meth:`render` would answer from its cache."""
        return (openmetrics, compress) in self._cache

    def family(self, name: str) -> Family | None:
        return next((f for f in self.families if f.spec.name == name), None)


@dataclass(frozen=True, slots=True)
class SourceView:
    provider: str
    account: str
    source: str
    up: bool | None
    last_success: float | None
    last_duration: float | None
    last_error: str | None
    unavailable: str | None = None


class SnapshotCollector(Collector):
    """A prometheus_client collector over one immutable snapshot (no I/O in ``collect``)."""

    def __init__(self, snapshot: Snapshot, *, created: bool = False) -> None:
        self._snapshot = snapshot
        self._created = created

    def collect(self) -> Iterator[Metric]:
        for family in self._snapshot.families:
            spec = family.spec
            metric: CounterMetricFamily | GaugeMetricFamily
            if spec.type is MetricType.COUNTER:
                metric = CounterMetricFamily(spec.family, spec.help, labels=spec.labels)
                created = family.created if self._created else None
                for sample in family.samples:
                    values = [sample.labels[label] for label in spec.labels]
                    metric.add_metric(values, sample.value, created=created)
            else:
                metric = GaugeMetricFamily(spec.name, spec.help, labels=spec.labels)
                for sample in family.samples:
                    metric.add_metric([sample.labels[label] for label in spec.labels], sample.value)
            yield metric


# --------------------------------------------------------------------------- building


class _Sums:
    """Month-to-date sums and current levels of one account."""

    def __init__(self, provider: str, catalog: Catalog) -> None:
        self.provider = provider
        self.catalog = catalog
        self.values: dict[str, dict[LabelKey, Decimal]] = defaultdict(lambda: defaultdict(Decimal))
        self.levels: dict[str, dict[LabelKey, tuple[datetime, Decimal]]] = defaultdict(dict)
        self.gauges: dict[str, dict[LabelKey, Decimal]] = defaultdict(dict)
        self.projects: dict[str, str] = {}
        self.api_keys: dict[str, str] = {}
        #: Models priced for this account's tokens, for the price gauges.
        self.priced: dict[str, ModelPrice] = {}
        self.unpriced: set[str] = set()

    def add(self, record: Record, since: datetime, until: datetime) -> None:
        """Add ``record``; a bucketed record counts only if its bucket starts in ``[since,
        until)``: a provider whose clock is ahead of ours (or a poll that straddles midnight)
        returns next month's first bucket, which must not count in this month too."""
        if isinstance(record, ProjectInfo):
            self.projects[record.project] = record.name
            return
        if isinstance(record, ApiKeyInfo):
            self.api_keys[record.api_key] = record.name
            return
        if isinstance(record, GaugeRecord):
            spec = METRICS[record.metric]
            labels = dict(record.labels)
            if set(labels) != set(spec.labels[2:]):
                raise ValueError(f"{record.metric}: labels {sorted(labels)} do not match contract")
            self.gauges[record.metric][tuple(labels[n] for n in spec.labels[2:])] = record.value
            return
        if isinstance(record, PriceRecord):
            return  # merged into the catalog before sums are built
        if not since <= record.start < until:
            return
        key: LabelKey
        if isinstance(record, CostRecord):
            key = (record.project, record.model, record.line_item)
            self.values["llm_cost_usd_total"][key] += record.amount_usd
        elif isinstance(record, TokenRecord):
            self._add_tokens(record)
        elif isinstance(record, EstimatedCostRecord):
            key = (record.project, record.api_key, record.model)
            self.values["llm_estimated_cost_usd_total"][key] += record.amount_usd
            if record.model not in self.priced:
                # The price the source used, for the price gauges (models in use).
                price = self.catalog.lookup(self.provider, record.model, at=record.start)
                if price is not None:
                    self.priced[record.model] = price
        elif isinstance(record, UnpricedTokenRecord):
            self.unpriced.add(record.model)
            key = (record.model, record.token_type)
            self.values["llm_unpriced_tokens_total"][key] += record.tokens
        elif isinstance(record, CountRecord):
            spec = METRICS[record.unit.value]
            full = {"project": record.project, "api_key": record.api_key, "model": record.model}
            key = tuple(full[label] for label in spec.labels[2:])
            self.values[spec.name][key] += record.value
        elif isinstance(record, LevelRecord):
            levels = self.levels[record.unit.value]
            key = (record.project,)
            current = levels.get(key)
            if current is None or record.start >= current[0]:
                levels[key] = (record.start, record.value)

    def _add_tokens(self, record: TokenRecord) -> None:
        tokens = self.values["llm_tokens_total"]
        base = (record.project, record.api_key, record.model)
        counts = (
            ("input", record.input),
            ("cache_read", record.cache_read),
            ("cache_write", record.cache_write),
            ("output", record.output),
        )
        for token_type, count in counts:
            if count:
                tokens[(*base, token_type)] += count
        if record.priced_by_source or not any(count for _, count in counts):
            return
        # The price in force on the bucket's day: a mid-month change never reprices the past.
        price = self.catalog.lookup(self.provider, record.model, at=record.start)
        if price is None:
            # Never a silent $0: unknown models are counted apart and left out of the estimate.
            self.unpriced.add(record.model)
            unpriced = self.values["llm_unpriced_tokens_total"]
            for token_type, count in counts:
                if count:
                    unpriced[(record.model, token_type)] += count
            return
        self.priced[record.model] = price
        self.values["llm_estimated_cost_usd_total"][base] += price.bucket_cost(
            record.input,
            record.cache_read,
            record.cache_write_5m,
            record.cache_write_1h,
            record.output,
        )


def build_snapshot(
    config: Config,
    states: Sequence[SourceState],
    guard: MonthToDateGuard,
    now: float,
    catalog: Catalog | None = None,
) -> Snapshot:
    """Turn the fresh records of every source into an immutable snapshot."""
    since = month_start(now)
    until = next_month_start(since)
    guard.roll(since)
    created = since.timestamp()
    samples: dict[str, list[Sample]] = defaultdict(list)
    folded: list[Sample] = []
    catalog = _live_catalog(catalog or Catalog(), states, now)

    # Guarded, unfolded cost samples feed the budgets (folding would lose the labels).
    cost_for_budgets: dict[str, list[tuple[Mapping[str, str], float]]] = defaultdict(list)
    billed_accounts = {
        (a.provider_label, a.account)
        for a in config.accounts
        if set(a.enabled_sources()) & PROVIDERS[a.provider].billed_sources
    }
    prices_in_use: dict[tuple[str, str], ModelPrice] = {}
    unpriced_models: set[tuple[str, str]] = set()

    by_account: dict[tuple[str, str], list[SourceState]] = defaultdict(list)
    for state in states:
        by_account[(state.provider, state.account)].append(state)
    max_series = {(a.provider_label, a.account): a.max_series for a in config.accounts}

    # An account's data are exported once each of its sources has finished a poll (the first
    # round after a start): a snapshot built meanwhile, after another account's poll, would
    # mix halves of a round, such as OpenRouter activity priced before its live price list
    # arrived, a value the restatement guard would then keep for the month.
    unpolled = {(s.provider, s.account) for s in states if s.never_polled}
    for (provider, account), account_states in by_account.items():
        sums = _Sums(provider, catalog)
        for state in account_states:
            if state.fresh(now) and (provider, account) not in unpolled:
                for record in state.records:
                    sums.add(record, since, until)
        prices_in_use.update({(provider, m): p for m, p in sums.priced.items()})
        unpriced_models.update((provider, m) for m in sums.unpriced)
        base = {"provider": provider, "account": account}
        limit = max_series.get((provider, account), 2000)
        _month_to_date(sums, base, guard, limit, samples, folded, cost_for_budgets)
        for name, gauges in sorted(sums.gauges.items()):
            spec = METRICS[name]
            for key, level in sorted(gauges.items()):
                samples[name].append(Sample(_labelled(base, spec, key), float(level)))
        for project, project_name in sorted(sums.projects.items()):
            labels = {**base, "project": project, "project_name": project_name}
            samples["llm_project_info"].append(Sample(labels, 1.0))
        for api_key, api_key_name in sorted(sums.api_keys.items()):
            labels = {**base, "api_key": api_key, "api_key_name": api_key_name}
            samples["llm_api_key_info"].append(Sample(labels, 1.0))

    samples["llm_series_folded"] = folded
    unmatched = _budgets(
        config.budgets, cost_for_budgets, billed_accounts, unpolled, since, samples
    )
    _prices(config, catalog, prices_in_use, samples)
    for subscription in config.subscriptions:
        labels = {"provider": subscription.provider, "subscription": subscription.name}
        fee = subscription.monthly_usd * subscription.seats
        samples["llm_subscription_cost_usd"].append(Sample(labels, float(fee)))
    _health(states, samples)
    samples["llm_exporter_build_info"] = [Sample({"version": __version__}, 1.0)]

    families = tuple(
        Family(
            spec,
            tuple(samples.get(name, ())),
            created
            if spec.type is MetricType.COUNTER and spec.scope.name == "MONTH_TO_DATE"
            else None,
        )
        for name, spec in METRICS.items()
        if samples.get(name)
    )
    health = tuple(
        SourceView(
            s.provider,
            s.account,
            s.source,
            s.up,
            s.last_success,
            s.last_duration,
            s.last_error,
            s.unavailable,
        )
        for s in states
    )
    return Snapshot(families, now, health, unmatched, tuple(sorted(unpriced_models)))


def month_to_date_history(
    provider: str,
    account: str,
    steps: Iterable[tuple[float, Iterable[Record]]],
    since: datetime,
    catalog: Catalog,
    *,
    max_series: int = 2000,
) -> Iterator[tuple[float, dict[str, list[Sample]]]]:
    """What the live exporter would expose for one account's month, step by step.

    ``steps`` are ``(instant, records known by then)`` in time order, within the month that
    starts at ``since``. Each step adds its records to the running sums and yields the
    month-to-date counters (restatement guard and cardinality folding applied, as in
    :func:`build_snapshot`) and the latest levels. Gauges, info records and prices are not
    month-to-date and are ignored. Pure: no I/O, no clock (the history backfill uses it).
    """
    guard = MonthToDateGuard()
    guard.roll(since)
    until = next_month_start(since)
    sums = _Sums(provider, catalog)
    base = {"provider": provider, "account": account}
    for instant, records in steps:
        for record in records:
            sums.add(record, since, until)
        samples: dict[str, list[Sample]] = defaultdict(list)
        _month_to_date(sums, base, guard, max_series, samples, [], defaultdict(list))
        yield instant, samples


def _labelled(base: Mapping[str, str], spec: MetricSpec, key: LabelKey) -> dict[str, str]:
    return {**base, **dict(zip(spec.labels[2:], key, strict=True))}


def _month_to_date(
    sums: _Sums,
    base: Mapping[str, str],
    guard: MonthToDateGuard,
    limit: int,
    samples: dict[str, list[Sample]],
    folded: list[Sample],
    cost_for_budgets: dict[str, list[tuple[Mapping[str, str], float]]],
) -> None:
    """One account's month-to-date counters (guarded, folded) and latest levels."""
    account_key = f"{base['provider']}/{base['account']}"
    for name, values in sorted(sums.values.items()):
        spec = METRICS[name]
        guarded = {
            key: guard.apply(name, account_key, key, float(value)) for key, value in values.items()
        }
        if name in ("llm_cost_usd_total", "llm_estimated_cost_usd_total"):
            kind = "billed" if name == "llm_cost_usd_total" else "estimated"
            for key, value in guarded.items():
                cost_for_budgets[kind].append((_labelled(base, spec, key), value))
        kept, folded_count = _fold(spec, guarded, guard.fold_state(name, account_key), limit)
        if folded_count:
            folded.append(Sample({**base, "metric": name}, float(folded_count)))
        for key, value in sorted(kept.items()):
            samples[name].append(Sample(_labelled(base, spec, key), value))
    for name, levels in sorted(sums.levels.items()):
        for (project,), (_, level) in sorted(levels.items()):
            samples[name].append(Sample({**base, "project": project}, float(level)))


def _live_catalog(catalog: Catalog, states: Sequence[SourceState], now: float) -> Catalog:
    """The catalog with the live prices of fresh sources laid over it.

    A stale live source's prices are dropped (the bundled ones apply again) but its last
    update time stays, so the catalog-staleness alert can see how old it is.
    """
    for state in states:
        if state.last_success is None:
            continue
        live = [r.price for r in state.records if isinstance(r, PriceRecord)]
        if live:
            fresh = live if state.fresh(now) else []
            catalog = catalog.overlay(fresh, state.provider, state.last_success)
    return catalog


def _prices(
    config: Config,
    catalog: Catalog,
    in_use: Mapping[tuple[str, str], ModelPrice],
    samples: dict[str, list[Sample]],
) -> None:
    exported = dict(in_use)
    if config.pricing.export_openrouter_catalog:
        for (provider, model), price in catalog.prices.items():
            if price.source == "openrouter":
                exported.setdefault((provider, model), price)
    for (provider, model), price in sorted(exported.items()):
        tiers = [("base", price.per_token)] + [
            (f"above_{tier.above_tokens // 1000}k", tier.per_token) for tier in price.tiers
        ]
        for tier_name, per_token in tiers:
            for token_type, usd in sorted(per_token.items()):
                labels = {
                    "provider": provider,
                    "model": model,
                    "token_type": token_type,
                    "tier": tier_name,
                }
                samples["llm_model_price_usd_per_token"].append(Sample(labels, float(usd)))
    for source, updated in sorted(catalog.updated.items()):
        samples["llm_catalog_last_update_timestamp_seconds"].append(
            Sample({"source": source}, updated)
        )


def _fold(
    spec: MetricSpec,
    values: Mapping[LabelKey, float],
    state: FoldState,
    limit: int,
) -> tuple[dict[LabelKey, float], int]:
    """Keep at most ``limit`` label groups; sum the rest into one ``other`` group.

    A group is the label tuple without ``token_type``, so one model's token types stay
    together. Once a metric overflows, the groups kept stay kept for the month and new ones
    are folded, so neither a kept series nor ``other`` ever decreases.
    """
    names = spec.labels[2:]
    group_of = _group_projection(names)
    totals: dict[LabelKey, float] = defaultdict(float)
    for key, value in values.items():
        totals[group_of(key)] += value
    if not state.overflowed and len(totals) <= limit:
        state.kept.update(totals)
        return dict(values), 0
    if not state.overflowed:
        state.overflowed = True
        # One group is reserved for ``other``: keep the highest-valued ones.
        ranked = sorted(totals, key=lambda g: (-totals[g], g))
        state.kept = set(ranked[: max(0, limit - 1)])
    result: dict[LabelKey, float] = {}
    folded_groups = set()
    for key, value in values.items():
        group = group_of(key)
        if group in state.kept:
            result[key] = value
            continue
        folded_groups.add(group)
        other = tuple(
            OTHER if name in _FOLDABLE else part for name, part in zip(names, key, strict=True)
        )
        result[other] = result.get(other, 0.0) + value
    return result, len(folded_groups)


def _group_projection(names: Sequence[str]) -> _Projection:
    drop = [i for i, name in enumerate(names) if name == "token_type"]
    return _Projection(drop)


class _Projection:
    def __init__(self, drop: list[int]) -> None:
        self._drop = set(drop)

    def __call__(self, key: LabelKey) -> LabelKey:
        if not self._drop:
            return key
        return tuple(part for i, part in enumerate(key) if i not in self._drop)


def _budgets(
    budgets: Iterable[BudgetConfig],
    costs: Mapping[str, Sequence[tuple[Mapping[str, str], float]]],
    billed_accounts: AbstractSet[tuple[str, str]],
    unpolled: AbstractSet[tuple[str, str]],
    since: datetime,
    samples: dict[str, list[Sample]],
) -> tuple[str, ...]:
    """Budget series; estimated and billed cost of one account are never both counted.

    A budget's spend is left out while an account it may match has a source that was never
    polled (the first round after a start): a partial sum would be a dip after every restart,
    which ``rate()`` reads as a reset and the forecast as a burst of spend.
    """
    end = next_month_start(since).timestamp()
    unmatched = []
    for budget in budgets:
        named = {"budget": budget.name}
        samples["llm_budget_limit_usd"].append(Sample(named, float(budget.limit_usd)))
        samples["llm_budget_period_end_timestamp_seconds"].append(Sample(named, end))
        if any(_may_match(budget, provider, account) for provider, account in unpolled):
            continue
        matched = []
        for kind, rows in costs.items():
            for labels, value in rows:
                account = (labels["provider"], labels["account"])
                if budget.include == "billed_or_estimated":
                    wanted = "billed" if account in billed_accounts else "estimated"
                else:
                    wanted = budget.include
                if kind == wanted and budget.match.matches(labels):
                    matched.append(value)
        if not matched:
            unmatched.append(budget.name)
        # fsum: correctly rounded whatever order the series come in (replicas agree exactly).
        samples["llm_budget_spend_usd"].append(Sample(named, math.fsum(matched)))
    return tuple(unmatched)


def _may_match(budget: BudgetConfig, provider: str, account: str) -> bool:
    """Whether the budget can count series of this account (other labels are not known)."""
    match = budget.match
    return (match.provider is None or provider in match.provider) and (
        match.account is None or account in match.account
    )


def _health(states: Sequence[SourceState], samples: dict[str, list[Sample]]) -> None:
    for state in sorted(states, key=lambda s: (s.provider, s.account, s.source)):
        labels = {"provider": state.provider, "account": state.account, "source": state.source}
        if state.up is not None:
            samples["llm_source_up"].append(Sample(labels, 1.0 if state.up else 0.0))
        if state.last_duration is not None:
            samples["llm_source_poll_duration_seconds"].append(Sample(labels, state.last_duration))
        if state.last_success is not None:
            samples["llm_source_last_success_timestamp_seconds"].append(
                Sample(labels, state.last_success)
            )
        samples["llm_upstream_requests_total"].append(Sample(labels, float(state.stats.requests)))
        for reason, count in sorted(state.stats.failures.items()):
            samples["llm_upstream_request_failures_total"].append(
                Sample({**labels, "reason": reason}, float(count))
            )
