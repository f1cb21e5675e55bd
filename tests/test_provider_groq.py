"""Groq Prometheus metrics provider: integration of rates, chunking, 404 and error paths."""

from __future__ import annotations

import itertools
import json
from collections.abc import AsyncIterator, Iterable, Iterator
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aioresponses import aioresponses
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError
from yarl import URL

from exporter.config import AccountConfig, Config
from exporter.errors import (
    AuthError,
    InvalidResponseError,
    SourceUnavailable,
    UpstreamClientError,
)
from exporter.providers import PROVIDERS, groq
from exporter.providers.base import DIMENSIONS, SourceContext
from exporter.providers.groq import (
    MAX_POINTS_PER_QUERY,
    NOT_ENTERPRISE,
    PROVIDER,
    GroqOptions,
    Window,
    parse_range_page,
    sample_window,
)
from exporter.records import CountRecord, CountUnit, Record, TokenRecord
from exporter.snapshot import MonthToDateGuard, SourceState, build_snapshot
from exporter.upstream import RequestStats, Upstream

FIXTURES = Path(__file__).parent / "fixtures" / "groq"
BASE = "https://api.groq.com/v1/metrics/prometheus"
KEY = "gsk_test_FAKE_groq_key_0000000000"
RANGE = "/api/v1/query_range"
START = datetime(2026, 8, 1, tzinfo=UTC)
END = datetime(2026, 8, 2, 0, 7, 30, tzinfo=UTC)
T0 = 1785542400  # START as unix seconds
FIRST = str(T0 + 300)  # the first whole 5-minute window of the month ends here
LAST = str(T0 + 86_700)  # END rounded down to the step
ALL = frozenset(DIMENSIONS)

A = ("llama-3.1-8b-instant", "project_01demoA")
B = ("openai/gpt-oss-120b", "project_01demoB")
C = ("llama-3.3-70b-versatile", "")
DAY1 = datetime(2026, 8, 1, tzinfo=UTC)
DAY2 = datetime(2026, 8, 2, tzinfo=UTC)

OPTIONS = GroqOptions()
QUERIES = {
    "tokens_in": OPTIONS.tokens_in_query,
    "tokens_out": OPTIONS.tokens_out_query,
    "requests": OPTIONS.requests_query,
}


def fixture(name: str) -> str:
    return (FIXTURES / f"{name}.json").read_text()


def range_url(query: str, start: str = FIRST, end: str = LAST, step: str = "300") -> URL:
    params = [("query", query), ("start", start), ("end", end), ("step", step)]
    return URL(BASE + RANGE).with_query(params)


def sent(mock: aioresponses) -> list[list[tuple[str, str]]]:
    return [list(call.kwargs["params"]) for calls in mock.requests.values() for call in calls]


@pytest.fixture
def mock() -> Iterator[aioresponses]:
    with aioresponses() as m:
        yield m


@pytest.fixture
async def upstream() -> AsyncIterator[Upstream]:
    async def no_sleep(_: float) -> None:
        return None

    async with aiohttp.ClientSession() as session:
        yield Upstream(session, BASE, PROVIDER.auth_headers(KEY), RequestStats(), sleep=no_sleep)


def context(
    upstream: Upstream,
    *,
    options: GroqOptions = OPTIONS,
    group_by: Iterable[str] = ALL,
    start: datetime = START,
    end: datetime = END,
) -> SourceContext:
    return SourceContext(
        upstream=upstream, start=start, end=end, group_by=frozenset(group_by), options=options
    )


def mock_all(mock: aioresponses) -> None:
    for name, query in QUERIES.items():
        mock.get(range_url(query), body=fixture(name))


def assert_no_key(error: BaseException) -> None:
    assert KEY not in str(error)
    assert KEY not in repr(error)


# --------------------------------------------------------------------------- spec and options


def test_provider_spec_and_registration() -> None:
    assert PROVIDERS["groq"] is PROVIDER
    assert PROVIDER.name == "groq"
    assert PROVIDER.default_base_url == BASE
    assert PROVIDER.env_var == "GROQ_API_KEY"
    assert "Enterprise" in PROVIDER.key_hint
    assert PROVIDER.auth_headers(KEY) == {"Authorization": f"Bearer {KEY}"}
    assert list(PROVIDER.sources) == ["metrics"]
    assert PROVIDER.billed_sources == frozenset()  # Groq reports no money here
    assert PROVIDER.options is GroqOptions
    doc = groq.__doc__ or ""
    for needle in (RANGE, "/api/v1/query", "GROQ_API_KEY", "estimate", "llm_tokens_total"):
        assert needle in doc
    assert "llm_requests_total" in doc


def test_options_defaults_and_validation() -> None:
    assert OPTIONS.step == 300
    assert OPTIONS.tokens_in_query == (
        "sum by (model, project_id) (model_project_id:tokens_in:rate5m)"
    )
    assert "model_project_id:tokens_out:rate5m" in OPTIONS.tokens_out_query
    assert "model_project_id_status_code:requests:rate5m" in OPTIONS.requests_query
    assert GroqOptions(step=60).step == 60
    for bad in (7, 420, 7200, 0):  # too small, does not divide a day, too large
        with pytest.raises(ValidationError):
            GroqOptions(step=bad)
    with pytest.raises(ValidationError, match="PromQL"):
        GroqOptions(tokens_in_query="   ")
    with pytest.raises(ValidationError):
        GroqOptions.model_validate({"stepp": 300})
    account = AccountConfig.model_validate(
        {"provider": "groq", "options": {"step": 600, "requests_query": "sum(x)"}}
    )
    parsed = account.parsed_options
    assert isinstance(parsed, GroqOptions)
    assert (parsed.step, parsed.requests_query) == (600, "sum(x)")
    with pytest.raises(ValidationError, match=r"options\.step"):
        AccountConfig.model_validate({"provider": "groq", "options": {"step": 7}})


# --------------------------------------------------------------------------- time windows


def test_sample_window() -> None:
    window = sample_window(START, END, 300)
    assert window == Window(T0 + 300, T0 + 86_700, 300)
    # Less than one whole step into the month: nothing to ask for.
    assert sample_window(START, datetime(2026, 8, 1, 0, 4, 59, tzinfo=UTC), 300) is None
    assert sample_window(START, datetime(2026, 8, 1, 0, 5, tzinfo=UTC), 300) == Window(
        T0 + 300, T0 + 300, 300
    )


def test_chunks_cover_a_month_without_gaps_or_overlap() -> None:
    window = sample_window(START, datetime(2026, 9, 1, tzinfo=UTC), 60)
    assert window is not None
    chunks = window.chunks()
    points = [(end - start) // 60 + 1 for start, end in chunks]
    assert sum(points) == 31 * 1440 == 44_640
    assert len(chunks) == 5
    assert max(points) == MAX_POINTS_PER_QUERY
    assert chunks[0][0] == window.first and chunks[-1][1] == window.last
    for (_, end), (next_start, _) in itertools.pairwise(chunks):
        assert next_start == end + 60
    # The default step fits a whole month in one request.
    month = sample_window(START, datetime(2026, 9, 1, tzinfo=UTC), 300)
    assert month is not None and len(month.chunks()) == 1


# --------------------------------------------------------------------------- the metrics source


def expected_records() -> list[Record]:
    return [
        # Aug 1: A = 2.5×300 + 1.25×300 + 0.5×300 (the 23:55-24:00 window) = 1275 in, 1×300 out
        TokenRecord(DAY1, A[1], "", A[0], 1275, 0, 0, 0, 300),
        # C has no project_id label: project "" (a JSON number sample: 10×300)
        TokenRecord(DAY1, C[1], "", C[0], 3000, 0, 0, 0, 0),
        # B = 0.0016666666666666668×300 + 0.0016666666666666666×300 = 1.00000000000000002 → 1
        TokenRecord(DAY1, B[1], "", B[0], 1, 0, 0, 0, 150),
        # Aug 2: A = 4×300 (its duplicate sample counted once, the sample past END ignored)
        TokenRecord(DAY2, A[1], "", A[0], 1200, 0, 0, 0, 600),
        # B's Aug 2 tokens (1e-3×300 = 0.3) round to 0: no record
        # requests: (0.01 + 0.0125 + 0.005)×300 = 8.25 → 8 (status codes summed), then 0.02×300
        CountRecord(DAY1, CountUnit.REQUESTS, A[1], "", A[0], Decimal(8)),
        CountRecord(DAY2, CountUnit.REQUESTS, A[1], "", A[0], Decimal(6)),
    ]


async def test_metrics_integrates_rates_per_day(mock: aioresponses, upstream: Upstream) -> None:
    mock_all(mock)
    records = await PROVIDER.sources["metrics"](context(upstream))
    assert records == expected_records()
    assert sent(mock) == [
        [("query", query), ("start", FIRST), ("end", LAST), ("step", "300")]
        for query in QUERIES.values()
    ]
    assert upstream.stats.requests == 3
    assert not upstream.stats.failures
    for calls in mock.requests.values():
        assert calls[0].kwargs["headers"]["Authorization"] == f"Bearer {KEY}"


async def test_month_to_date_through_the_snapshot(mock: aioresponses, upstream: Upstream) -> None:
    """Exact month-to-date values, computed by hand from the fixtures (see above)."""
    mock_all(mock)
    records = await PROVIDER.sources["metrics"](context(upstream))
    config = Config(accounts=(AccountConfig(provider="groq", name="ent"),))
    state = SourceState("groq", "ent", "metrics", stale_after=900)
    state.records = tuple(records)
    state.up = True
    state.last_success = END.timestamp()
    snapshot = build_snapshot(config, [state], MonthToDateGuard(), END.timestamp())

    def value(name: str, **labels: str) -> float:
        family = snapshot.family(name)
        assert family is not None
        matches = [
            s.value for s in family.samples if all(s.labels.get(k) == v for k, v in labels.items())
        ]
        assert len(matches) == 1, matches
        return matches[0]

    a = {"provider": "groq", "account": "ent", "api_key": "", "model": A[0], "project": A[1]}
    assert value("llm_tokens_total", token_type="input", **a) == 1275 + 1200 == 2475
    assert value("llm_tokens_total", token_type="output", **a) == 300 + 600 == 900
    assert value("llm_requests_total", **a) == 8 + 6 == 14
    b = {"model": B[0], "project": B[1]}
    assert value("llm_tokens_total", token_type="input", **b) == 1
    assert value("llm_tokens_total", token_type="output", **b) == 150
    assert value("llm_tokens_total", token_type="input", model=C[0], project="") == 3000
    assert snapshot.family("llm_cost_usd_total") is None  # never billed cost


async def test_group_by_without_model_sums_models(mock: aioresponses, upstream: Upstream) -> None:
    mock_all(mock)
    records = await PROVIDER.sources["metrics"](context(upstream, group_by={"project"}))
    tokens = {
        (r.start, r.project, r.model): (r.input, r.output)
        for r in records
        if isinstance(r, TokenRecord)
    }
    assert tokens == {
        (DAY1, A[1], ""): (1275, 300),
        (DAY1, "", ""): (3000, 0),
        (DAY1, B[1], ""): (1, 150),
        (DAY2, A[1], ""): (1200, 600),
    }


async def test_empty_results(mock: aioresponses, upstream: Upstream) -> None:
    for query in QUERIES.values():
        mock.get(range_url(query), body=fixture("empty"))
    assert await PROVIDER.sources["metrics"](context(upstream)) == []
    assert upstream.stats.requests == 3


async def test_nothing_is_asked_in_the_first_step_of_the_month(
    mock: aioresponses, upstream: Upstream
) -> None:
    end = datetime(2026, 8, 1, 0, 3, tzinfo=UTC)
    assert await PROVIDER.sources["metrics"](context(upstream, end=end)) == []
    assert upstream.stats.requests == 0


async def test_long_ranges_are_chunked_and_edges_counted_once(
    mock: aioresponses, upstream: Upstream
) -> None:
    options = GroqOptions(step=60)
    end = datetime(2026, 8, 8, tzinfo=UTC)  # 7 days of 1-minute samples: 10080 points
    first, split, last = T0 + 60, T0 + 60 * MAX_POINTS_PER_QUERY, T0 + 7 * 86_400
    series = {"model": A[0], "project_id": A[1]}

    def page(*points: tuple[int, str]) -> dict[str, Any]:
        values = [list(p) for p in points]
        return {
            "status": "success",
            "data": {"resultType": "matrix", "result": [{"metric": series, "values": values}]},
        }

    # The server repeats the chunk-edge sample in both answers: counted once.
    first_chunk = page((first, "1"), (split, "2"))
    second_chunk = page((split, "2"), (last, "3"))
    for query in (options.tokens_in_query, options.tokens_out_query, options.requests_query):
        mock.get(range_url(query, str(first), str(split), "60"), payload=first_chunk)
        mock.get(range_url(query, str(split + 60), str(last), "60"), payload=second_chunk)
    records = await PROVIDER.sources["metrics"](context(upstream, options=options, end=end))
    tokens = [r for r in records if isinstance(r, TokenRecord)]
    # 1×60 on Aug 1; 2×60 in the window starting Aug 7 22:39 (day 7); 3×60 on Aug 7 23:59.
    assert [(r.start.day, r.input, r.output) for r in tokens] == [(1, 60, 60), (7, 300, 300)]
    assert upstream.stats.requests == 6


async def test_404_means_not_enterprise(mock: aioresponses, upstream: Upstream) -> None:
    mock.get(range_url(QUERIES["tokens_in"]), status=404, body='{"detail":"Not Found"}')
    with pytest.raises(SourceUnavailable) as caught:
        await PROVIDER.sources["metrics"](context(upstream))
    assert str(caught.value) == NOT_ENTERPRISE
    assert "Enterprise" in str(caught.value)
    assert upstream.stats.requests == 1  # 404 is not retried
    assert_no_key(caught.value)


async def test_bad_query_names_the_option(mock: aioresponses, upstream: Upstream) -> None:
    mock.get(range_url(QUERIES["tokens_in"]), body=fixture("tokens_in"))
    mock.get(range_url(QUERIES["tokens_out"]), status=400, body=fixture("error_bad_data"))
    with pytest.raises(UpstreamClientError, match=r"options\.tokens_out_query") as caught:
        await PROVIDER.sources["metrics"](context(upstream))
    assert caught.value.status == 400
    assert_no_key(caught.value)


async def test_status_error_is_an_invalid_response(mock: aioresponses, upstream: Upstream) -> None:
    mock.get(range_url(QUERIES["tokens_in"]), body=fixture("error_bad_data"))
    with pytest.raises(InvalidResponseError, match="bad_data"):
        await PROVIDER.sources["metrics"](context(upstream))
    assert upstream.stats.failures["invalid_response"] == 1


async def test_auth_failure(mock: aioresponses, upstream: Upstream) -> None:
    mock.get(range_url(QUERIES["tokens_in"]), status=401)
    with pytest.raises(AuthError) as caught:
        await PROVIDER.sources["metrics"](context(upstream))
    assert_no_key(caught.value)


def matrix(*values: Any, metric: Any = None) -> dict[str, Any]:
    series = {"metric": {"model": "m"} if metric is None else metric, "values": list(values)}
    return {"status": "success", "data": {"resultType": "matrix", "result": [series]}}


@pytest.mark.parametrize(
    ("page", "match"),
    [
        ({"status": "success", "data": {"resultType": "vector", "result": []}}, "matrix"),
        ({"status": "success"}, "data"),
        ({"data": {"resultType": "matrix", "result": []}}, "not success"),
        ([], "object"),
        (matrix([T0, "-1"]), "negative"),
        (matrix([T0, "+Inf"]), "finite"),
        (matrix([T0, "abc"]), "not a number"),
        (matrix([T0, None]), "missing"),
        (matrix([T0]), r"\[time, value\]"),
        (matrix("x"), "list"),
        (matrix([None, "1"]), "missing"),
        (matrix([1e20, "1"]), "out of range"),
        (matrix([T0, "1"], metric={"model": ["x"]}), "string"),
        (matrix([T0, "1"], metric="m"), "object"),
    ],
)
def test_parser_rejects(page: Any, match: str) -> None:
    decoded = json.loads(json.dumps(page), parse_float=Decimal)
    with pytest.raises(InvalidResponseError, match=match):
        parse_range_page(decoded, "tokens_in_query")


def test_parser_tolerates_nulls_nan_and_string_numbers() -> None:
    page = matrix([T0, "NaN"], [str(T0 + 60), " 2.5 "], [T0 + 120, 3], metric=None)
    page["data"]["result"].append({"metric": None, "values": None})
    page["data"]["result"].append({"metric": {"model": None, "project_id": 7}, "values": []})
    samples = parse_range_page(page, "q")
    assert sorted((t, v) for (_, t), (_, _, v) in samples.items()) == [
        (T0 + 60, Decimal("2.5")),
        (T0 + 120, Decimal(3)),
    ]
    assert (
        parse_range_page(
            {"status": "success", "data": {"resultType": "matrix", "result": None}}, "q"
        )
        == {}
    )


# --------------------------------------------------------------------------- check


CHECK_URL = URL(BASE + "/api/v1/query").with_query([("query", "vector(1)")])


async def test_check(mock: aioresponses, upstream: Upstream) -> None:
    mock.get(CHECK_URL, body=fixture("instant_vector1"))
    await PROVIDER.check(upstream)
    assert upstream.stats.requests == 1


async def test_check_not_enterprise(mock: aioresponses, upstream: Upstream) -> None:
    mock.get(CHECK_URL, status=404)
    with pytest.raises(SourceUnavailable, match="Groq Enterprise only"):
        await PROVIDER.check(upstream)


async def test_check_error_status(mock: aioresponses, upstream: Upstream) -> None:
    mock.get(CHECK_URL, body=fixture("error_bad_data"))
    with pytest.raises(InvalidResponseError):
        await PROVIDER.check(upstream)


_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=8) | st.just("NaN"),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=20,
)
_series = st.fixed_dictionaries(
    {
        "metric": _json,
        "values": st.lists(
            st.lists(_json | st.integers(T0, T0 + 90_000), max_size=3) | _json, max_size=3
        ),
    }
)
_pages = (
    st.fixed_dictionaries(
        {
            "status": st.sampled_from(["success", "error"]) | _json,
            "data": st.fixed_dictionaries(
                {
                    "resultType": st.sampled_from(["matrix", "vector"]),
                    "result": st.lists(_series, max_size=3) | _json,
                }
            )
            | _json,
        }
    )
    | _json
)


@settings(max_examples=300, deadline=None)
@given(page=_pages)
def test_parser_raises_only_invalid_response(page: Any) -> None:
    window = sample_window(START, END, 300)
    assert window is not None
    try:
        samples = parse_range_page(page, "q")
    except InvalidResponseError as err:
        assert len(str(err)) < 300
    else:
        groq.integrate(samples, window, ALL)
