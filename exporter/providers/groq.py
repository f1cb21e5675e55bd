"""Groq: the Prometheus metrics API of GroqCloud Enterprise organisations.

Credential
    A Groq API key (``gsk_...``) of an **Enterprise** organisation, discovered from
    ``GROQ_API_KEY``; sent as ``Authorization: Bearer <key>``. Standard (non-Enterprise) keys get
    HTTP 404 from the metrics API: the source then reports itself unavailable for this key
    (:class:`~exporter.errors.SourceUnavailable`, logged once, not polled again until restart)
    instead of failing every poll.

Endpoints called (all ``GET`` on ``https://api.groq.com/v1/metrics/prometheus``, a
VictoriaMetrics backend speaking the Prometheus HTTP API)
    * ``/api/v1/query_range`` (source ``metrics``), three PromQL queries per poll, each
      configurable under ``options`` because Groq has renamed its metrics before:

      - ``tokens_in_query`` (default
        ``sum by (model, project_id) (model_project_id:tokens_in:rate5m)``),
      - ``tokens_out_query`` (default ``... (model_project_id:tokens_out:rate5m)``),
      - ``requests_query`` (default
        ``sum by (model, project_id) (model_project_id_status_code:requests:rate5m)``),

      with ``step=<options.step>`` (seconds, default 300; it must divide a day),
      ``start`` = 00:00 UTC on the 1st + one step and ``end`` = now rounded down to a step. A
      range longer than :data:`MAX_POINTS_PER_QUERY` points is split into consecutive chunks
      (VictoriaMetrics refuses more than 30,000 points per series by default, Prometheus
      11,000); samples repeated across chunk edges are counted once.
    * ``/api/v1/query?query=vector(1)`` as the credential check (a 404 means the key is not
      Enterprise).

Series
    ``metrics`` → ``llm_tokens_total`` (``input`` = tokens in, ``output`` = tokens out) and
    ``llm_requests_total``; ``llm_estimated_cost_usd_total`` follows from the pricing catalog.
    Groq reports no money here: there is no ``llm_cost_usd_total`` (no billed source).

How rates become month-to-date counts (an **estimate**, not Groq's bill)
    The metrics are per-second rates over 5 minutes. A sample at time ``t`` stands for the
    window ``(t - step, t]``; it contributes ``rate × step`` to the UTC day in which its
    window starts, summed per (model, project). With the default step of 300 s the windows
    tile the month exactly, so the estimate is as good as the recording rule's 5-minute rates;
    other steps sample or overlap them. Daily totals are rounded to whole tokens / requests
    (half to even). The partial window after the last whole step is counted on a later poll.
    Sample values arrive as strings; ``NaN`` samples are skipped (no defined rate), negative
    or infinite ones fail the poll.

Label values
    ``project`` is Groq's ``project_id`` label and ``model`` its ``model`` label (``""`` when a
    series lacks them, or when the account does not group by that dimension: series are then
    summed). ``api_key`` is always ``""``: the metrics have no key dimension. Other labels a
    custom query keeps (``status_code``, ...) are summed away.

Blind spots
    * Enterprise only; non-Enterprise usage lives in a console API behind a browser session.
    * ``tokens_in`` cannot be split into cached and uncached input: all of it is ``input``, so
      the cost estimate prices cached prompt tokens at the uncached price.
    * Usage older than the metrics backend's retention is gone from the month-to-date sum.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from collections.abc import Set as AbstractSet
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any, Final

from pydantic import BaseModel, ConfigDict, Field, field_validator

from exporter.errors import InvalidResponseError, SourceUnavailable, UpstreamClientError
from exporter.parsing import as_decimal, as_label, as_list, as_mapping
from exporter.providers.base import ProviderSpec, SourceContext
from exporter.records import CountRecord, CountUnit, Record, TokenRecord
from exporter.upstream import QueryParams, Upstream

QUERY_PATH: Final = "/api/v1/query"
QUERY_RANGE_PATH: Final = "/api/v1/query_range"

DEFAULT_TOKENS_IN_QUERY: Final = "sum by (model, project_id) (model_project_id:tokens_in:rate5m)"
DEFAULT_TOKENS_OUT_QUERY: Final = "sum by (model, project_id) (model_project_id:tokens_out:rate5m)"
DEFAULT_REQUESTS_QUERY: Final = (
    "sum by (model, project_id) (model_project_id_status_code:requests:rate5m)"
)
DEFAULT_STEP: Final = 300

#: Points per series per request; below VictoriaMetrics' 30,000 and Prometheus' 11,000.
MAX_POINTS_PER_QUERY: Final = 10_000

NOT_ENTERPRISE: Final = "Prometheus metrics API not available for this key (Groq Enterprise only)"

_DAY: Final = 86_400
#: Largest power of ten of a per-second rate: 10**10 tokens a second is beyond any organisation.
MAX_RATE_EXPONENT: Final = 9
_ONE: Final = Decimal(1)


class GroqOptions(BaseModel):
    """``options:`` of a Groq account: the PromQL queries and the integration step."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    tokens_in_query: str = DEFAULT_TOKENS_IN_QUERY
    tokens_out_query: str = DEFAULT_TOKENS_OUT_QUERY
    requests_query: str = DEFAULT_REQUESTS_QUERY
    #: Seconds between samples; a divisor of 86400 so that windows never straddle two days.
    step: int = Field(default=DEFAULT_STEP, ge=60, le=3600)

    @field_validator("tokens_in_query", "tokens_out_query", "requests_query")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("expected a PromQL query")
        return value.strip()

    @field_validator("step")
    @classmethod
    def _divides_a_day(cls, value: int) -> int:
        if _DAY % value:
            raise ValueError("expected a number of seconds that divides 86400 (60, 300, 600, ...)")
        return value


# --------------------------------------------------------------------------- time windows


@dataclass(frozen=True, slots=True)
class Window:
    """Sample times of one poll: every multiple of ``step`` in ``[first, last]``."""

    first: int
    last: int
    step: int

    def chunks(self, max_points: int = MAX_POINTS_PER_QUERY) -> list[tuple[int, int]]:
        """``(start, end)`` of consecutive requests, each at most ``max_points`` samples."""
        spans = []
        start = self.first
        while start <= self.last:
            end = min(self.last, start + (max_points - 1) * self.step)
            spans.append((start, end))
            start = end + self.step
        return spans


def sample_window(start: datetime, end: datetime, step: int) -> Window | None:
    """Samples whose windows ``(t - step, t]`` lie in ``[start, end]``; None if there is none."""
    first_window = -(-int(start.timestamp()) // step) * step  # start rounded up to a step
    first = first_window + step
    last = int(end.timestamp()) // step * step
    if last < first:
        return None
    return Window(first, last, step)


# --------------------------------------------------------------------------- pure parsers


#: (model, project) → UTC day → sum of rate × step.
Totals = dict[tuple[str, str], dict[datetime, Decimal]]
#: Identity of one sample: the series' full label set and its timestamp.
_SampleKey = tuple[tuple[tuple[str, str], ...], int]


def parse_range_page(body: Any, where: str) -> dict[_SampleKey, tuple[str, str, Decimal]]:
    """Samples of one ``query_range`` response: ``(labels, t)`` → ``(model, project, rate)``.

    ``NaN`` samples are left out; anything that is not a success with a ``matrix`` result
    raises :class:`InvalidResponseError`.
    """
    page = as_mapping(body, where)
    status = page.get("status")
    if status != "success":
        shown = page.get("errorType") or page.get("error") or status
        text = str(shown)[:80] if isinstance(shown, str) else type(shown).__name__
        raise InvalidResponseError(f"{where}: status is not success ({text})")
    data = as_mapping(page.get("data"), f"{where}.data")
    if data.get("resultType") != "matrix":
        raise InvalidResponseError(f"{where}.data.resultType: expected 'matrix'")
    samples: dict[_SampleKey, tuple[str, str, Decimal]] = {}
    for i, raw_series in enumerate(as_list(data.get("result"), f"{where}.data.result")):
        path = f"{where}.data.result[{i}]"
        series = as_mapping(raw_series, path)
        metric = {} if series.get("metric") is None else as_mapping(series["metric"], path)
        labels = tuple(
            sorted((str(k), as_label(v, f"{path}.metric.{k}")) for k, v in metric.items())
        )
        model = as_label(metric.get("model"), f"{path}.metric.model")
        project = as_label(metric.get("project_id"), f"{path}.metric.project_id")
        for j, raw_point in enumerate(as_list(series.get("values"), f"{path}.values")):
            point_path = f"{path}.values[{j}]"
            point = as_list(raw_point, point_path, null_ok=False)
            if len(point) != 2:
                raise InvalidResponseError(f"{point_path}: expected [time, value]")
            moment = as_decimal(point[0], f"{point_path}[0]", null=None)
            if moment.adjusted() > 12 or moment < 0:
                raise InvalidResponseError(f"{point_path}[0]: timestamp out of range")
            if isinstance(point[1], str) and point[1].strip().lower() == "nan":
                continue  # a rate with nothing to divide: no usage information
            rate = as_decimal(point[1], f"{point_path}[1]", null=None)
            if rate < 0:
                raise InvalidResponseError(f"{point_path}[1]: negative rate")
            if rate.adjusted() > MAX_RATE_EXPONENT:  # daily sums must stay whole 64-bit counts
                raise InvalidResponseError(f"{point_path}[1]: rate out of range")
            samples[(labels, int(moment))] = (model, project, rate)
    return samples


def integrate(
    samples: Mapping[_SampleKey, tuple[str, str, Decimal]],
    window: Window,
    group_by: AbstractSet[str],
) -> Totals:
    """Sum ``rate × step`` per (model, project) and UTC day of each sample's window start."""
    totals: Totals = defaultdict(lambda: defaultdict(Decimal))
    for (_, moment), (model, project, rate) in samples.items():
        if not window.first <= moment <= window.last:
            continue  # outside the month (a server that aligned the range differently)
        window_start = moment - window.step
        day = datetime.fromtimestamp(window_start - window_start % _DAY, UTC)
        key = (
            model if "model" in group_by else "",
            project if "project" in group_by else "",
        )
        totals[key][day] += rate * window.step
    return totals


def _whole(value: Decimal) -> int:
    return int(value.quantize(_ONE, rounding=ROUND_HALF_EVEN))


def build_records(tokens_in: Totals, tokens_out: Totals, requests: Totals) -> list[Record]:
    """Token and request records, one per (day, model, project), rounded to whole counts."""
    records: list[Record] = []
    keys = sorted(
        {(day, key) for totals in (tokens_in, tokens_out) for key in totals for day in totals[key]}
    )
    for day, (model, project) in keys:
        input_tokens = _whole(tokens_in.get((model, project), {}).get(day, Decimal(0)))
        output_tokens = _whole(tokens_out.get((model, project), {}).get(day, Decimal(0)))
        if input_tokens or output_tokens:
            records.append(
                TokenRecord(day, project, "", model, input_tokens, 0, 0, 0, output_tokens)
            )
    for (model, project), days in sorted(requests.items()):
        for day, value in sorted(days.items()):
            count = _whole(value)
            if count:
                records.append(
                    CountRecord(day, CountUnit.REQUESTS, project, "", model, Decimal(count))
                )
    return records


# --------------------------------------------------------------------------- fetching


async def _get(upstream: Upstream, path: str, params: QueryParams, option: str) -> Any:
    """GET that maps 404 to "not Enterprise" and 400 to "fix this query option"."""
    try:
        return await upstream.get_json(path, params)
    except UpstreamClientError as exc:
        if exc.status == 404:
            raise SourceUnavailable(NOT_ENTERPRISE) from None
        if exc.status in (400, 422):
            raise UpstreamClientError(
                f"GET {path}: HTTP {exc.status} (the PromQL query was rejected: check "
                f"options.{option})",
                status=exc.status,
            ) from None
        raise


async def _integrated(
    upstream: Upstream, query: str, option: str, window: Window, group_by: AbstractSet[str]
) -> Totals:
    samples: dict[_SampleKey, tuple[str, str, Decimal]] = {}
    for start, end in window.chunks():
        params = [
            ("query", query),
            ("start", str(start)),
            ("end", str(end)),
            ("step", str(window.step)),
        ]
        body = await _get(upstream, QUERY_RANGE_PATH, params, option)
        try:
            samples.update(parse_range_page(body, option))
        except InvalidResponseError:
            upstream.stats.failures["invalid_response"] += 1
            raise
    return integrate(samples, window, group_by)


async def fetch_metrics(ctx: SourceContext) -> list[Record]:
    options = ctx.options if isinstance(ctx.options, GroqOptions) else GroqOptions()
    window = sample_window(ctx.start, ctx.end, options.step)
    if window is None:
        return []  # less than one step into the month
    tokens_in = await _integrated(
        ctx.upstream, options.tokens_in_query, "tokens_in_query", window, ctx.group_by
    )
    tokens_out = await _integrated(
        ctx.upstream, options.tokens_out_query, "tokens_out_query", window, ctx.group_by
    )
    requests = await _integrated(
        ctx.upstream, options.requests_query, "requests_query", window, ctx.group_by
    )
    return build_records(tokens_in, tokens_out, requests)


async def check(upstream: Upstream) -> None:
    """One cheap authenticated instant query (``vector(1)`` reads no data)."""
    body = await _get(upstream, QUERY_PATH, [("query", "vector(1)")], "query")
    if not isinstance(body, Mapping) or body.get("status") != "success":
        upstream.stats.failures["invalid_response"] += 1
        raise InvalidResponseError(f"GET {QUERY_PATH}: status is not success")


def auth_headers(key: str) -> Mapping[str, str]:
    return {"Authorization": f"Bearer {key}"}


PROVIDER: Final = ProviderSpec(
    name="groq",
    title="Groq Enterprise Prometheus metrics: estimated tokens and requests",
    default_base_url="https://api.groq.com/v1/metrics/prometheus",
    env_var="GROQ_API_KEY",
    key_hint=(
        "a Groq API key (gsk_...) of an Enterprise organisation, from "
        "https://console.groq.com/keys; the metrics API answers 404 to other keys"
    ),
    auth_headers=auth_headers,
    sources={"metrics": fetch_metrics},
    check=check,
    options=GroqOptions,
)
