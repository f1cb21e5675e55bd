"""Normalised records: what a provider source returns.

Providers translate their API's shapes into these frozen dataclasses and never touch
prometheus_client. Dimensions a source does not have are ``""``. Money is ``Decimal`` in USD
until exposition; counts are non-negative integers (``Decimal`` where a unit can be fractional).
Each usage/cost record belongs to one provider bucket (``start``, UTC), so the same records can
feed the live month-to-date counters and the history backfill.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from exporter.pricing import ModelPrice


class CountUnit(enum.Enum):
    """Usage units other than tokens and money; the value is the contract metric name."""

    REQUESTS = "llm_requests_total"
    IMAGES = "llm_images_total"
    SPEECH_CHARACTERS = "llm_speech_characters_total"
    TRANSCRIPTION_SECONDS = "llm_transcription_seconds_total"
    CODE_INTERPRETER_SESSIONS = "llm_code_interpreter_sessions_total"
    WEB_SEARCH_CALLS = "llm_web_search_calls_total"
    FILE_SEARCH_CALLS = "llm_file_search_calls_total"


class LevelUnit(enum.Enum):
    """Levels (gauges) a usage endpoint reports; the value is the contract metric name."""

    VECTOR_STORE_BYTES = "llm_vector_store_bytes"


@dataclass(frozen=True, slots=True)
class CostRecord:
    """Billed spend of one bucket for one label set."""

    start: datetime
    project: str
    model: str
    line_item: str
    amount_usd: Decimal


@dataclass(frozen=True, slots=True)
class TokenRecord:
    """Disjoint token counts of one bucket for one label set.

    ``input`` excludes cached and cache-write tokens; cache writes keep their TTL split because
    5-minute and 1-hour writes are priced apart.
    """

    start: datetime
    project: str
    api_key: str
    model: str
    input: int
    cache_read: int
    cache_write_5m: int
    cache_write_1h: int
    output: int
    #: True when the source prices these tokens itself (per request, tiers applied) and
    #: returns :class:`EstimatedCostRecord` / :class:`UnpricedTokenRecord` for them; the
    #: snapshot then does not estimate them again from bucket totals.
    priced_by_source: bool = False

    @property
    def cache_write(self) -> int:
        return self.cache_write_5m + self.cache_write_1h


@dataclass(frozen=True, slots=True)
class CountRecord:
    """A non-token usage count of one bucket (requests, images, search calls, ...)."""

    start: datetime
    unit: CountUnit
    project: str
    api_key: str
    model: str
    value: Decimal


@dataclass(frozen=True, slots=True)
class LevelRecord:
    """A level reported per bucket; the latest bucket of the month is the current value."""

    start: datetime
    unit: LevelUnit
    project: str
    value: Decimal


@dataclass(frozen=True, slots=True)
class EstimatedCostRecord:
    """Cost a source estimated itself from the pricing catalog (see ``priced_by_source``)."""

    start: datetime
    project: str
    api_key: str
    model: str
    amount_usd: Decimal


@dataclass(frozen=True, slots=True)
class UnpricedTokenRecord:
    """Tokens a source could not price (unknown model); ``token_type`` as in the contract."""

    start: datetime
    model: str
    token_type: str
    tokens: int


@dataclass(frozen=True, slots=True)
class GaugeRecord:
    """A current value of a contract metric: a gauge (balances, limits, quota windows, ...)
    or a process-lifetime counter the source keeps itself (skipped log lines).

    ``labels`` are the metric's labels other than ``provider`` and ``account``, all of them,
    in any order. Build with :func:`gauge`.
    """

    metric: str
    labels: tuple[tuple[str, str], ...]
    value: Decimal


def gauge(metric: str, value: Decimal | int, **labels: str) -> GaugeRecord:
    return GaugeRecord(metric, tuple(sorted(labels.items())), Decimal(value))


@dataclass(frozen=True, slots=True)
class PriceRecord:
    """A live catalog price fetched by a source (OpenRouter's ``/models``).

    Live prices replace the bundled catalog's entry for the same (provider, model) while the
    source is fresh.
    """

    price: ModelPrice


@dataclass(frozen=True, slots=True)
class ProjectInfo:
    project: str
    name: str


@dataclass(frozen=True, slots=True)
class ApiKeyInfo:
    api_key: str
    name: str


Record = (
    CostRecord
    | TokenRecord
    | CountRecord
    | LevelRecord
    | EstimatedCostRecord
    | UnpricedTokenRecord
    | GaugeRecord
    | PriceRecord
    | ProjectInfo
    | ApiKeyInfo
)
