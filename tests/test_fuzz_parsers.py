"""Fuzzing every provider response parser (issue 8).

Each parser gets (a) the realistic fixtures of ``tests/fixtures/<provider>/`` mutated at random
places (nulls, numbers as strings, huge / negative / NaN numbers, unicode, missing and extra
fields, wrong container types, empty lists) and (b) fully arbitrary JSON. Properties:

* a parser returns records or raises the documented error (:class:`InvalidResponseError` for a
  response; the credential-file parsers :class:`CredentialsError`; Gemini's setup parser also
  its documented :class:`SourceUnavailable`), never anything else;
* normalised token counts are non-negative integers, other counts non-negative and finite;
* money and every other ``Decimal`` is finite and stays finite as a float (what the exposition
  writes), so no ``+Inf`` / ``NaN`` sample and no ``decimal.Overflow`` when sums are built;
* label values are strings that can be encoded as UTF-8 (the exposition encodes them);
* error messages are short.

Every HTTP source is also driven end to end through a fake :class:`Upstream` that answers every
request with the fuzzed payload, so the glue between requests and parsers is covered too.
"""

from __future__ import annotations

import asyncio
import base64
import copy
import json
import math
import os
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from functools import partial
from pathlib import Path
from typing import Any, cast

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import BaseModel

from exporter.errors import (
    CredentialsError,
    InvalidResponseError,
    SourceError,
    SourceUnavailable,
)
from exporter.providers import (
    PROVIDERS,
    anthropic,
    claude_subscription,
    codex_subscription,
    deepseek,
    fireworks,
    gemini_subscription,
    groq,
    moonshot,
    openai,
    openrouter,
    xai,
)
from exporter.providers.base import DIMENSIONS, NoOptions, SourceContext
from exporter.providers.subscription_quota import QuotaWindow, account_records
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
    gauge,
)
from exporter.upstream import QueryParams, RequestStats, Upstream

FIXTURES = Path(__file__).parent / "fixtures"
ALL = frozenset(DIMENSIONS)
NONE: frozenset[str] = frozenset()
START = datetime(2026, 8, 1, tzinfo=UTC)
END = datetime(2026, 8, 21, 10, 0, tzinfo=UTC)
NOW_S = END.timestamp()
#: One hour into the month: the Groq window then has 12 samples and one chunk.
GROQ_END = datetime(2026, 8, 1, 1, 0, tzinfo=UTC)


def examples(default: int) -> int:
    """Examples per test: ``default`` (the suite stays well under a minute), or
    ``FUZZ_EXAMPLES`` for a deep run (``FUZZ_EXAMPLES=5000 pytest tests/test_fuzz_*.py``)."""
    return int(os.environ.get("FUZZ_EXAMPLES") or default)


MUTATED = settings(
    max_examples=examples(100),
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
ARBITRARY = settings(
    max_examples=examples(300),
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


def fixture(relative: str) -> Any:
    """A fixture decoded the way Upstream decodes bodies (non-integers as Decimal)."""
    return json.loads((FIXTURES / relative).read_bytes(), parse_float=Decimal)


def fixtures(pattern: str) -> list[Any]:
    found = sorted(FIXTURES.glob(pattern))
    assert found, pattern
    return [fixture(str(path.relative_to(FIXTURES))) for path in found]


def _keys(value: Any) -> Iterator[str]:
    if isinstance(value, dict):
        for key, inner in value.items():
            yield key
            yield from _keys(inner)
    elif isinstance(value, list):
        for inner in value:
            yield from _keys(inner)


#: Every field name of every fixture: extra and arbitrary objects use the documented names.
FIELD_NAMES = sorted(
    {
        key
        for path in FIXTURES.rglob("*.json")
        for key in _keys(fixture(str(path.relative_to(FIXTURES))))
    }
)


# --------------------------------------------------------------------------- strategies

NASTY_STRINGS = (
    "",
    " ",
    "NaN",
    "nan",
    "-NaN",
    "sNaN",
    "Infinity",
    "-Infinity",
    "inf",
    "1e999999999",
    "-1e999999999",
    "1E+1000000",
    "1e-999999999",
    "9" * 40,
    "-1",
    "-0",
    "0.1",
    " 12.50 ",
    "1,5",
    "0x10",
    "١٢",
    "\x00",
    "\ud800",
    "a\udfffb",
    "😀",
    "USD",
    "usd",
    "EUR",
    "2026-08-01T00:00:00Z",
    "2026-08-05",
    "0001-01-01T00:00:00+01:00",
    "9999-12-31T23:59:59-01:00",
    "2026-13-01T00:00:00Z",
    "2026-08-01T25:00:00Z",
    "1754006400",
    "true",
    "null",
    "month",
    "success",
    "matrix",
    "session",
    "weekly_scoped",
)
NASTY_NUMBERS: tuple[Any, ...] = (
    0,
    -1,
    1,
    2**63,
    -(2**63),
    2**64,
    10**18,
    10**19,
    10**30,
    10**4000,
    Decimal("1E+999999"),
    Decimal("9E+999999"),
    Decimal("1E+1000000"),
    Decimal("-1E+1000000"),
    Decimal("1E-999999999"),
    Decimal("0.5"),
    Decimal("-0.0"),
    Decimal("1.00000000000000000000000000000001"),
    Decimal("NaN"),
    Decimal("Infinity"),
    float("nan"),
    float("inf"),
    float("-inf"),
    1.5,
    -1e308,
    True,
    False,
    1785542700,
    1754006400,
)
SCALARS: st.SearchStrategy[Any] = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.decimals(allow_nan=False, allow_infinity=False)
    | st.text(max_size=10)
    | st.sampled_from(NASTY_STRINGS)
    | st.sampled_from(NASTY_NUMBERS)
)
KEYS = st.sampled_from(FIELD_NAMES) | st.text(max_size=6)
JSON: st.SearchStrategy[Any] = st.recursive(
    SCALARS,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(KEYS, inner, max_size=5),
    max_leaves=20,
)

#: Where a value sits in a document: keys and list indexes from the root.
Path_ = tuple[str | int, ...]


def _paths(value: Any, here: Path_ = ()) -> Iterator[Path_]:
    yield here
    if isinstance(value, dict):
        for key, inner in value.items():
            yield from _paths(inner, (*here, key))
    elif isinstance(value, list):
        for index, inner in enumerate(value):
            yield from _paths(inner, (*here, index))


def _get(document: Any, path: Path_) -> Any:
    for part in path:
        document = document[part]
    return document


def _retyped(value: Any) -> Any:
    """The same information in another JSON type (what schema drift looks like)."""
    if isinstance(value, dict):
        return list(value.values())
    if isinstance(value, list):
        return {str(i): v for i, v in enumerate(value)}
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, int | Decimal | float):
        return str(value)
    if isinstance(value, str):
        try:
            return Decimal(value)
        except ArithmeticError:
            return [value]
    return {}


#: What a mutation does: "field" sets every value of one field name (all amounts, all
#: timestamps, ...) to one value, "nasty" one scalar; the others change the structure at a
#: random place. Weighted towards values: most bugs are a value no check expected.
MUTATION_OPS = st.sampled_from(
    [
        *["field"] * 6,
        *["nasty"] * 4,
        *("replace", "delete", "add", "wrap", "empty", "retype", "negate", "dup"),
    ]
)
NASTY = st.sampled_from((*NASTY_STRINGS, *NASTY_NUMBERS))
#: Replacement values: small, so that the documented shape stays recognisable around them.
SMALL_JSON: st.SearchStrategy[Any] = st.recursive(
    SCALARS,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(KEYS, inner, max_size=3),
    max_leaves=6,
)


#: Values a "field" mutation gives a field: mostly nasty scalars.
VALUES = st.one_of(NASTY, NASTY, NASTY, SMALL_JSON)


def _set_field(document: Any, name: str, value: Any) -> None:
    """Every ``name`` key of ``document`` (at any depth) set to ``value``."""
    if isinstance(document, dict):
        for key in document:
            if key == name:
                document[key] = copy.deepcopy(value)
            else:
                _set_field(document[key], name, value)
    elif isinstance(document, list):
        for item in document:
            _set_field(item, name, value)


@st.composite
def mutated(draw: st.DrawFn, documents: Sequence[Any]) -> Any:
    """One of ``documents`` with one to six random mutations."""
    document = copy.deepcopy(documents[draw(st.integers(0, len(documents) - 1))])
    for _ in range(draw(st.integers(1, 6))):
        op = draw(MUTATION_OPS)
        if op == "field":
            names = sorted(set(_keys(document)))
            if names:
                _set_field(document, names[draw(st.integers(0, len(names) - 1))], draw(VALUES))
            continue
        paths = list(_paths(document))
        if op == "nasty":  # a scalar: fields rather than containers
            paths = [p for p in paths if not isinstance(_get(document, p), dict | list)] or paths
        path = paths[draw(st.integers(0, len(paths) - 1))]
        target = _get(document, path)
        new: Any = target
        if op == "replace":
            new = draw(SMALL_JSON)
        elif op == "nasty":
            new = draw(NASTY)
        elif op == "delete" and path:
            parent = _get(document, path[:-1])
            del parent[path[-1]]
            continue
        elif op == "add" and isinstance(target, dict):
            target[draw(KEYS)] = draw(SMALL_JSON)
            continue
        elif op == "add" and isinstance(target, list):
            target.append(draw(SMALL_JSON))
            continue
        elif op == "dup" and isinstance(target, list) and target:
            target.append(copy.deepcopy(target[draw(st.integers(0, len(target) - 1))]))
            continue
        elif op == "wrap":
            new = [target]
        elif op == "empty":
            new = type(target)() if isinstance(target, dict | list | str) else None
        elif op == "retype":
            new = _retyped(target)
        elif op == "negate" and isinstance(target, Decimal):
            new = target.copy_negate()  # exact: no context, no overflow
        elif op == "negate" and isinstance(target, int) and not isinstance(target, bool):
            new = -target
        if not path:
            document = new
        else:
            _get(document, path[:-1])[path[-1]] = new
    return document


# --------------------------------------------------------------------------- properties


def assert_label(value: object, what: str) -> None:
    assert isinstance(value, str), f"{what}: label {value!r} is not a string"
    value.encode("utf-8")  # the exposition encodes labels: lone surrogates would fail there


def assert_number(value: object, what: str, *, non_negative: bool = False) -> None:
    assert isinstance(value, Decimal), f"{what}: {value!r} is not a Decimal"
    assert value.is_finite(), f"{what}: {value!r} is not finite"
    assert math.isfinite(float(value)), f"{what}: {value!r} is +/-Inf once exported"
    if non_negative:
        assert value >= 0, f"{what}: {value!r} is negative"


def assert_count(value: object, what: str) -> None:
    assert type(value) is int, f"{what}: {value!r} is not an int"
    assert 0 <= value < 2**64, f"{what}: {value!r} is out of range"


def assert_time(value: object, what: str) -> None:
    assert isinstance(value, datetime) and value.tzinfo is not None, f"{what}: {value!r}"


def check_record(record: object) -> None:
    """The invariants every normalised record keeps, whatever the response was."""
    name = type(record).__name__
    if isinstance(record, TokenRecord):
        assert_time(record.start, name)
        for label in (record.project, record.api_key, record.model):
            assert_label(label, name)
        for count in (
            record.input,
            record.cache_read,
            record.cache_write_5m,
            record.cache_write_1h,
            record.output,
        ):
            assert_count(count, name)
    elif isinstance(record, CostRecord):
        assert_time(record.start, name)
        for label in (record.project, record.model, record.line_item):
            assert_label(label, name)
        assert_number(record.amount_usd, name)
    elif isinstance(record, CountRecord):
        assert_time(record.start, name)
        for label in (record.project, record.api_key, record.model):
            assert_label(label, name)
        assert_number(record.value, name, non_negative=True)
    elif isinstance(record, LevelRecord):
        assert_time(record.start, name)
        assert_label(record.project, name)
        assert_number(record.value, name, non_negative=True)
    elif isinstance(record, EstimatedCostRecord):
        assert_time(record.start, name)
        for label in (record.project, record.api_key, record.model):
            assert_label(label, name)
        assert_number(record.amount_usd, name, non_negative=True)
    elif isinstance(record, UnpricedTokenRecord):
        assert_time(record.start, name)
        assert_label(record.model, name)
        assert_label(record.token_type, name)
        assert_count(record.tokens, name)
    elif isinstance(record, GaugeRecord):
        assert isinstance(record.metric, str) and record.metric.startswith("llm_")
        for key, value in record.labels:
            assert_label(key, name)
            assert_label(value, f"{record.metric}{{{key}}}")
        assert_number(record.value, record.metric)
    elif isinstance(record, PriceRecord):
        assert_label(record.price.model, name)
        for token_type, price in record.price.per_token.items():
            assert_number(price, f"{name}.{token_type}", non_negative=True)
    elif isinstance(record, ProjectInfo):
        assert_label(record.project, name)
        assert_label(record.name, name)
        assert record.project
    elif isinstance(record, ApiKeyInfo):
        assert_label(record.api_key, name)
        assert_label(record.name, name)
        assert record.api_key
    else:  # pragma: no cover - a parser returned something that is not a record
        raise AssertionError(f"not a record: {record!r}")


def check_records(records: Iterable[object]) -> None:
    for record in records:
        check_record(record)


def check_error(error: BaseException) -> None:
    message = str(error)
    assert message, f"{type(error).__name__} without a message"
    assert len(message) < 600, message


def run(
    parse: Callable[[Any], Iterable[object]], payload: Any, allowed: tuple[type[Exception], ...]
) -> None:
    try:
        records = list(parse(payload))
    except allowed as error:
        check_error(error)
        return
    check_records(records)


# --------------------------------------------------------------------------- the parsers


def _windows(windows: Sequence[QuotaWindow]) -> list[Record]:
    for window in windows:
        assert_label(window.name, "window")
        assert window.name
    return account_records(list(windows), plan=None, expires_at=None)


def _spend_limit(body: Any) -> list[Record]:
    limit = openai.parse_spend_limit(body, "spend_limit")
    return [] if limit is None else [gauge("llm_spend_limit_usd", limit, project="")]


def _openrouter_key(body: Any) -> list[Record]:
    records, management = openrouter.parse_key(body)
    assert management in (None, True, False)
    return records


def _openrouter_keys(body: Any) -> list[Record]:
    records, hashes = openrouter.parse_keys_page(body)
    for key_hash in hashes:
        assert_label(key_hash, "hash")
    return records


def _groq(body: Any) -> list[Record]:
    window = groq.sample_window(START, GROQ_END, 300)
    assert window is not None
    totals = groq.integrate(groq.parse_range_page(body, "q"), window, ALL)
    return groq.build_records(totals, totals, totals)


def _claude_quota(body: Any) -> list[Record]:
    return _windows(claude_subscription.parse_usage(body)) + claude_subscription.parse_extra_usage(
        body, {}
    )


def _codex_quota(body: Any) -> list[Record]:
    windows = codex_subscription.parse_usage(body, NOW_S)
    plan = codex_subscription.parse_plan(body)
    if plan is not None:
        assert_label(plan, "plan")
    credits = codex_subscription.credit_balance(body)
    records = account_records(windows, plan=plan, expires_at=None)
    if credits is not None:
        records.append(gauge("llm_subscription_credits", credits))
    return records


def _gemini_setup(body: Any) -> list[Record]:
    for configured in (None, "my-project"):
        setup = gemini_subscription.parse_setup(body, configured)
        assert setup.project
        assert_label(setup.project, "project")
        if setup.plan is not None:
            assert_label(setup.plan, "plan")
    return []


@dataclass(frozen=True)
class Parser:
    """A response parser, the fixtures it starts from and the source that calls it."""

    name: str
    documents: list[Any]
    parse: Callable[[Any], Iterable[object]]
    #: (provider, source) driven with the same payload through a fake Upstream.
    source: tuple[str, str] | None = None
    group_by: frozenset[str] = ALL
    options: BaseModel = field(default_factory=NoOptions)


PARSERS: list[Parser] = [
    Parser(
        "anthropic.usage.all",
        fixtures("anthropic/usage_messages_*.json"),
        lambda p: anthropic.parse_usage_page(p, ALL),
        ("anthropic", "usage_messages"),
    ),
    Parser(
        "anthropic.usage.none",
        fixtures("anthropic/usage_messages_*.json"),
        lambda p: anthropic.parse_usage_page(p, NONE),
        ("anthropic", "usage_messages"),
        NONE,
    ),
    Parser(
        "anthropic.cost.all",
        fixtures("anthropic/cost_report_*.json"),
        lambda p: anthropic.parse_cost_page(p, ALL),
        ("anthropic", "cost_report"),
    ),
    Parser(
        "anthropic.cost.none",
        fixtures("anthropic/cost_report_*.json"),
        lambda p: anthropic.parse_cost_page(p, NONE),
        ("anthropic", "cost_report"),
        NONE,
    ),
    Parser(
        "anthropic.workspaces",
        fixtures("anthropic/workspaces_*.json"),
        anthropic.parse_workspaces_page,
        ("anthropic", "names"),
    ),
    Parser(
        "anthropic.api_keys",
        fixtures("anthropic/api_keys_*.json"),
        anthropic.parse_api_keys_page,
        ("anthropic", "names"),
    ),
    Parser(
        "openai.costs",
        fixtures("openai/costs_*.json"),
        openai.parse_costs_page,
        ("openai", "costs"),
    ),
    *[
        Parser(
            f"openai.usage_{kind}",
            fixtures(f"openai/usage_{kind}*.json"),
            partial(openai.parse_usage_page, kind),
            ("openai", f"usage_{kind}"),
        )
        for kind in openai.USAGE_ENDPOINTS
    ],
    Parser(
        "openai.projects",
        fixtures("openai/*projects_page*.json"),
        openai.parse_projects_page,
        ("openai", "projects"),
    ),
    Parser(
        "openai.api_keys",
        fixtures("openai/api_keys_*.json"),
        openai.parse_api_keys_page,
        ("openai", "projects"),
    ),
    Parser(
        "openai.spend_limit",
        fixtures("openai/spend_limit_*.json"),
        _spend_limit,
        ("openai", "spend_limits"),
    ),
    Parser(
        "openrouter.key", fixtures("openrouter/key_*.json"), _openrouter_key, ("openrouter", "key")
    ),
    Parser(
        "openrouter.credits",
        fixtures("openrouter/credits.json"),
        openrouter.parse_credits,
        ("openrouter", "credits"),
    ),
    Parser(
        "openrouter.keys",
        fixtures("openrouter/keys_page*.json"),
        _openrouter_keys,
        ("openrouter", "keys"),
    ),
    Parser(
        "openrouter.activity",
        fixtures("openrouter/activity.json"),
        lambda p: openrouter.parse_activity(p, START, END, ALL),
        ("openrouter", "activity"),
    ),
    Parser(
        "openrouter.models",
        fixtures("openrouter/models.json"),
        openrouter.parse_models,
        ("openrouter", "models"),
    ),
    Parser(
        "deepseek.balance",
        fixtures("deepseek/*.json"),
        deepseek.parse_balance,
        ("deepseek", "balance"),
    ),
    Parser(
        "moonshot.balance.usd",
        fixtures("moonshot/*.json"),
        lambda p: moonshot.parse_balance(p, "USD"),
        ("moonshot", "balance"),
        options=moonshot.MoonshotOptions(),
    ),
    Parser(
        "moonshot.balance.cny",
        fixtures("moonshot/*.json"),
        lambda p: moonshot.parse_balance(p, "CNY"),
        ("moonshot", "balance"),
        options=moonshot.MoonshotOptions(currency="CNY"),
    ),
    Parser(
        "xai.balance",
        fixtures("xai/prepaid_balance*.json"),
        lambda p: [gauge("llm_credit_balance_usd", xai.parse_balance(p), balance_type="prepaid")],
        ("xai", "balance"),
        options=xai.XaiOptions(team_id="team-1"),
    ),
    Parser(
        "xai.usage",
        fixtures("xai/usage*.json"),
        xai.parse_usage,
        ("xai", "usage"),
        options=xai.XaiOptions(team_id="team-1"),
    ),
    Parser(
        "fireworks.summary.all",
        fixtures("fireworks/billing_summary*.json"),
        lambda p: fireworks.parse_summary(p, START, ALL),
        ("fireworks", "billing_summary"),
        options=fireworks.FireworksOptions(account_id="acme"),
    ),
    Parser(
        "fireworks.summary.none",
        fixtures("fireworks/billing_summary*.json"),
        lambda p: fireworks.parse_summary(p, START, NONE),
        ("fireworks", "billing_summary"),
        NONE,
        fireworks.FireworksOptions(account_id="acme"),
    ),
    Parser(
        "groq.metrics",
        fixtures("groq/*.json"),
        _groq,
        ("groq", "metrics"),
        options=groq.GroqOptions(),
    ),
    Parser("claude_subscription.usage", fixtures("quotas/claude_usage*.json"), _claude_quota),
    Parser("codex_subscription.usage", fixtures("quotas/codex_usage*.json"), _codex_quota),
    Parser(
        "gemini_subscription.quota",
        fixtures("quotas/gemini_quota.json"),
        lambda p: _windows(gemini_subscription.parse_quota(p)),
    ),
]
BY_NAME = {parser.name: parser for parser in PARSERS}
#: Built once: building a strategy per example costs more than running the example.
MUTATIONS = {parser.name: mutated(parser.documents) for parser in PARSERS}

#: Gemini's setup parser documents two more outcomes: not served, or not set up.
SETUP_ERRORS = (InvalidResponseError, SourceUnavailable, CredentialsError)


class PayloadUpstream(Upstream):
    """An Upstream whose every request answers ``payload`` (no network)."""

    def __init__(self, payload: Any) -> None:
        super().__init__(cast(Any, None), "https://api.example.test", {}, RequestStats())
        self.payload = payload

    def with_headers(self, headers: Mapping[str, str]) -> Upstream:
        return self

    async def _request(self, method: str, path: str, params: QueryParams, body: Any) -> Any:
        self.stats.requests += 1
        return copy.deepcopy(self.payload)


#: One event loop for every example (a new loop per example costs more than the example).
LOOP = asyncio.new_event_loop()


def run_source(parser: Parser, payload: Any) -> None:
    """The parser's source with every request answering ``payload``: records or a SourceError."""
    assert parser.source is not None
    provider, source = parser.source
    ctx = SourceContext(
        upstream=PayloadUpstream(payload),
        start=START,
        end=GROQ_END if provider == "groq" else END,
        group_by=parser.group_by,
        options=parser.options,
    )
    run(
        lambda _: LOOP.run_until_complete(PROVIDERS[provider].sources[source](ctx)),
        payload,
        (SourceError,),
    )


def test_every_provider_and_http_source_is_fuzzed() -> None:
    fuzzed = {parser.name.split(".")[0] for parser in PARSERS}
    driven = {parser.source for parser in PARSERS}
    for name, spec in PROVIDERS.items():
        if spec.needs_key:  # HTTP providers: every source is driven end to end
            assert {(name, source) for source in spec.sources} <= driven, name
        else:  # local logs are fuzzed in test_fuzz_logs.py
            assert name in fuzzed | {"claude_code", "codex"}, name


@pytest.mark.parametrize("name", list(BY_NAME))
@MUTATED
@given(data=st.data())
def test_mutated_fixtures_give_records_or_invalid_response(name: str, data: st.DataObject) -> None:
    parser = BY_NAME[name]
    payload = data.draw(MUTATIONS[name], label="payload")
    run(parser.parse, payload, (InvalidResponseError,))
    if parser.source is not None:
        run_source(parser, payload)


@ARBITRARY
@given(payload=JSON)
def test_arbitrary_json_gives_records_or_invalid_response(payload: Any) -> None:
    for parser in PARSERS:
        try:
            run(parser.parse, payload, (InvalidResponseError,))
        except BaseException as error:
            error.add_note(f"parser: {parser.name}")
            raise


@pytest.mark.parametrize("name", list(BY_NAME))
def test_unmutated_fixtures_parse_or_fail_as_documented(name: str) -> None:
    """The starting points themselves (some are documented error answers)."""
    parser = BY_NAME[name]
    for document in parser.documents:
        run(parser.parse, document, (InvalidResponseError,))
        if parser.source is not None:
            run_source(parser, document)


@MUTATED
@given(payload=mutated(fixtures("quotas/gemini_load_code_assist*.json")) | JSON)
def test_gemini_setup_gives_a_setup_or_a_documented_error(payload: Any) -> None:
    run(_gemini_setup, payload, SETUP_ERRORS)


# --------------------------------------------------------------------------- credential files


def _jwt(claims: Any) -> str:
    def part(value: Any) -> str:
        raw = json.dumps(value, default=str).encode()
        return base64.urlsafe_b64encode(raw).decode().rstrip("=")

    return f"{part({'alg': 'none'})}.{part(claims)}.c2ln"


JWT_CLAIMS = st.fixed_dictionaries(
    {},
    optional={
        "exp": SCALARS,
        "https://api.openai.com/auth": st.fixed_dictionaries(
            {}, optional={"chatgpt_account_id": SCALARS}
        )
        | JSON,
    },
)


def assert_header_value(value: object, what: str) -> None:
    """Tokens and account ids are sent as HTTP header values."""
    assert isinstance(value, str) and value, what
    assert value.isascii() and value.isprintable(), f"{what} cannot be sent in a header"


def _check_credentials(credentials: Any) -> list[Record]:
    assert_header_value(credentials.access_token, "access_token")
    account_id = getattr(credentials, "account_id", None)
    if account_id is not None:
        assert_header_value(account_id, "account_id")
    expires_at = credentials.expires_at
    if expires_at is not None:
        assert_number(expires_at, "expires_at")
    plan = getattr(credentials, "plan", None)
    if plan is not None:
        assert_label(plan, "plan")
    assert isinstance(credentials.where, str)
    return []


CREDENTIAL_PARSERS: dict[str, tuple[list[Any], Callable[[Mapping[str, Any], str], Any]]] = {
    "claude": (fixtures("quotas/claude_credentials*.json"), claude_subscription.parse_credentials),
    "codex": (fixtures("quotas/codex_auth*.json"), codex_subscription.parse_credentials),
    "gemini": (fixtures("quotas/gemini_oauth_creds.json"), gemini_subscription.parse_credentials),
}
CREDENTIAL_DOCUMENTS = {
    name: mutated(documents) | st.dictionaries(KEYS, SMALL_JSON, max_size=4)
    for name, (documents, _) in CREDENTIAL_PARSERS.items()
}


@pytest.mark.parametrize("name", list(CREDENTIAL_PARSERS))
@MUTATED
@given(data=st.data())
def test_credential_files_give_credentials_or_credentials_error(
    name: str, data: st.DataObject
) -> None:
    parse = CREDENTIAL_PARSERS[name][1]
    document = data.draw(CREDENTIAL_DOCUMENTS[name], label="document")
    if name == "codex" and data.draw(st.booleans(), label="jwt access token"):
        document = {"tokens": {"access_token": _jwt(data.draw(JWT_CLAIMS, label="claims"))}}
    if not isinstance(document, Mapping):
        return  # read_credentials_file rejects non-objects before any parser sees them
    run(lambda d: _check_credentials(parse(d, "/creds.json")), document, (CredentialsError,))


# --------------------------------------------------------------------------- regressions
# Minimal examples of what the properties above found, as plain tests.


@pytest.mark.parametrize(
    ("name", "payload"),
    [
        # decimal.Overflow negating the ledger total (-cents) in the default context
        ("xai.balance", {"total": {"val": "1e1000000"}}),
        # decimal.Overflow summing two days in the default context
        (
            "xai.usage",
            {
                "timeSeries": [
                    {
                        "dataPoints": [
                            {"timestamp": "2026-08-01T00:00:00Z", "values": ["9e999999"]},
                            {"timestamp": "2026-08-01T00:00:00Z", "values": ["9e999999"]},
                        ]
                    }
                ]
            },
        ),
        # decimal.Overflow in the 200-digit check of total = granted + topped_up
        (
            "deepseek.balance",
            {
                "balance_infos": [
                    {
                        "currency": "USD",
                        "granted_balance": "9e999999",
                        "topped_up_balance": "9e999999",
                    }
                ]
            },
        ),
        (
            "moonshot.balance.usd",
            {
                "data": {
                    "voucher_balance": "9e999999",
                    "cash_balance": "9e999999",
                    "available_balance": 1,
                }
            },
        ),
        ("openrouter.credits", {"data": {"total_credits": "9e999999", "total_usage": "-9e999999"}}),
        # exported as +Inf (float() of a finite but huge Decimal)
        (
            "openai.costs",
            {
                "data": [
                    {
                        "start_time": 1754006400,
                        "results": [{"amount": {"value": "1e400", "currency": "usd"}}],
                    }
                ]
            },
        ),
        # decimal.InvalidOperation: quantize of rate × step beyond 28 digits (a rate of 1e30
        # tokens a second passes the general bound: Groq bounds rates at 1e10)
        (
            "groq.metrics",
            {
                "status": "success",
                "data": {
                    "resultType": "matrix",
                    "result": [{"metric": {}, "values": [[1785542700, "1e30"]]}],
                },
            },
        ),
        # decimal.Overflow in percent / 100 and now + reset_after_seconds
        ("claude_subscription.usage", {"five_hour": {"utilization": "1e1000005"}}),
        (
            "codex_subscription.usage",
            {
                "rate_limit": {
                    "primary_window": {
                        "limit_window_seconds": 18000,
                        "reset_after_seconds": "1e1000000",
                    }
                }
            },
        ),
    ],
)
def test_numbers_out_of_range_are_invalid_responses(name: str, payload: Any) -> None:
    with pytest.raises(InvalidResponseError, match="out of range"):
        list(BY_NAME[name].parse(payload))


OUT_OF_RANGE_TIMES = ("0001-01-01T00:00:00+01:00", "9999-12-31T23:59:59-01:00")


@pytest.mark.parametrize("moment", OUT_OF_RANGE_TIMES)
@pytest.mark.parametrize(
    ("name", "payload"),
    [
        ("anthropic.usage.all", {"data": [{"starting_at": "@", "results": []}]}),
        ("xai.usage", {"timeSeries": [{"dataPoints": [{"timestamp": "@", "values": [1]}]}]}),
        ("openrouter.activity", {"data": [{"date": "@", "usage": 1}]}),
        ("claude_subscription.usage", {"five_hour": {"utilization": 1, "resets_at": "@"}}),
        ("gemini_subscription.quota", {"buckets": [{"modelId": "m", "resetTime": "@"}]}),
    ],
)
def test_times_a_datetime_cannot_hold_are_invalid_responses(
    name: str, payload: Any, moment: str
) -> None:
    """RFC 3339 times whose UTC instant is before year 1 or after 9999 (OverflowError)."""
    document = json.loads(json.dumps(payload).replace('"@"', json.dumps(moment)))
    with pytest.raises(InvalidResponseError, match="time out of range"):
        list(BY_NAME[name].parse(document))


def test_lone_surrogates_in_labels_are_replaced() -> None:
    """JSON allows "\\ud800"; the exposition (UTF-8) does not: rendering /metrics failed."""
    (workspace,) = anthropic.parse_workspaces_page(
        {"data": [{"id": "w\ud800", "name": "a\udfffb"}]}
    )
    assert (workspace.project, workspace.name) == ("w\ufffd", "a\ufffdb")
    summary = {
        "lineItems": [{"category": "\ud800", "totalCost": {"currencyCode": "USD", "units": 1}}]
    }
    (cost,) = fireworks.parse_summary(summary, START, ALL)
    assert cost.line_item == "\ufffd"
    assert (
        "😀".encode()
        == anthropic.parse_workspaces_page({"data": [{"id": "😀"}]})[0].project.encode()
    )


def test_the_number_bound_is_just_below_1e100() -> None:
    from exporter.parsing import as_count, as_decimal

    assert as_decimal("9.99e99", "x") == Decimal("9.99e99")
    assert as_decimal(-(10**100) + 1, "x") == -(10**100) + 1
    assert as_count(10**19 - 1, "x") == 10**19 - 1  # counts keep their own bound
    assert as_decimal("1e-999999999", "x") == Decimal("1e-999999999")  # tiny is harmless
    for huge in ("1e100", 10**100, Decimal("-1E+100"), "1e400"):
        with pytest.raises(InvalidResponseError, match="number out of range"):
            as_decimal(huge, "x")


@pytest.mark.parametrize(
    ("name", "document"),
    [
        # UnicodeEncodeError hashing the refresh token
        ("gemini", {"access_token": "ya29.x", "refresh_token": "\ud800"}),
        # a header value with a newline or non-ASCII text fails the request
        ("claude", {"claudeAiOauth": {"accessToken": "sk-ant-oat01-x\nInjected: 1"}}),
        ("codex", {"tokens": {"access_token": "tok", "account_id": "konto-ü"}}),
    ],
)
def test_credential_values_that_cannot_be_header_values_are_credentials_errors(
    name: str, document: dict[str, Any]
) -> None:
    with pytest.raises(CredentialsError, match="is not a token") as info:
        CREDENTIAL_PARSERS[name][1](document, "/creds.json")
    assert "Injected" not in str(info.value) and "\ud800" not in str(info.value)


def test_a_jwt_account_claim_that_cannot_be_a_header_is_ignored() -> None:
    token = _jwt({"https://api.openai.com/auth": {"chatgpt_account_id": "acct\r\nx"}})
    credentials = codex_subscription.parse_credentials({"tokens": {"access_token": token}}, "/a")
    assert credentials.account_id is None
