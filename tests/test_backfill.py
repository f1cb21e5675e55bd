"""History backfill: the range arguments, month-by-month fetching, which sources are skipped,
end-of-day month-to-date values with a reset at each month boundary, the OpenMetrics file
(grouping, order, escaping, ``# EOF``), the command's exit codes, and exact totals against
the simulator served on loopback."""

from __future__ import annotations

import os
from collections import defaultdict
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from io import StringIO
from pathlib import Path

import pytest
from aiohttp import web
from prometheus_client.openmetrics.parser import text_string_to_metric_families

from exporter import cli
from exporter.backfill import (
    BackfillError,
    History,
    Point,
    Span,
    backfill,
    parse_labels,
    parse_span,
    write_openmetrics,
)
from exporter.config import AccountConfig, Config, PriceConfig, PricingConfig, TokenPrices
from exporter.errors import RateLimitedError, SourceUnavailable
from exporter.pricing import ModelPrice
from exporter.providers import PROVIDERS
from exporter.providers.base import ProviderSpec, SourceContext
from exporter.records import (
    CostRecord,
    LevelRecord,
    LevelUnit,
    PriceRecord,
    ProjectInfo,
    Record,
    TokenRecord,
    gauge,
)
from exporter.simulator import OrgModel, create_app
from exporter.simulator.model import cost_items_usd
from exporter.upstream import Upstream
from tests.conftest import FAKE_KEY

#: 2025-03-10 12:00 UTC: January and February 2025 are complete, March is the current month.
NOW = datetime(2025, 3, 10, 12, 0, tzinfo=UTC).timestamp()
JAN = datetime(2025, 1, 1, tzinfo=UTC)
FEB = datetime(2025, 2, 1, tzinfo=UTC)
MAR = datetime(2025, 3, 1, tzinfo=UTC)
SOURCES = ("costs", "usage", "levels", "names", "balance", "prices")
OPENAI_KEY = "sk-admin-unit-FAKE-backfill-1"
ANTHROPIC_KEY = "sk-ant-admin01-unit-FAKE-backfill-2"

Handler = Callable[[SourceContext], Sequence[Record]]


def close(value: Decimal) -> object:
    return pytest.approx(float(value), abs=1e-6)


def ts(moment: datetime) -> int:
    return int(moment.timestamp())


def at(d: date) -> datetime:
    return datetime(d.year, d.month, d.day, tzinfo=UTC)


def days(start: datetime, end: datetime) -> Iterator[datetime]:
    day = start
    while day < end:
        yield day
        day += timedelta(days=1)


# --------------------------------------------------------------------------- a test provider


@dataclass
class Programmed:
    """Sources answering whatever ``handlers`` compute from the context (or raise)."""

    handlers: dict[str, Handler] = field(default_factory=dict)
    calls: list[tuple[str, SourceContext]] = field(default_factory=list)

    def starts(self, source: str) -> list[tuple[datetime, datetime]]:
        return [(c.start, c.end) for name, c in self.calls if name == source]


@pytest.fixture
def hist(monkeypatch: pytest.MonkeyPatch) -> Programmed:
    programmed = Programmed()

    def source(name: str) -> Callable[[SourceContext], object]:
        async def run(ctx: SourceContext) -> Sequence[Record]:
            programmed.calls.append((name, ctx))
            return programmed.handlers.get(name, lambda _: ())(ctx)

        return run

    async def check(upstream: Upstream) -> None:
        return None

    spec = ProviderSpec(
        name="hist",
        title="History test provider",
        default_base_url="http://127.0.0.1:9",
        env_var=None,
        key_hint="any string",
        auth_headers=lambda secret: {"Authorization": f"Bearer {secret}"},
        sources={name: source(name) for name in SOURCES},  # type: ignore[misc]
        check=check,
        billed_sources=frozenset({"costs"}),
    )
    monkeypatch.setitem(PROVIDERS, "hist", spec)  # type: ignore[index]
    return programmed


def config(**extra: object) -> Config:
    account = AccountConfig(provider="hist", name="a", api_key=FAKE_KEY)  # type: ignore[arg-type]
    return Config(accounts=(account,), **extra)  # type: ignore[arg-type]


def daily_costs(ctx: SourceContext) -> list[Record]:
    """1.25/day in January, 2.50/day in February, 0.50/day in March, whatever the window (like
    OpenAI, which pages on to now): the backfill must keep each month's own buckets only."""
    records: list[Record] = [CostRecord(d, "p", "", "li", Decimal("1.25")) for d in days(JAN, FEB)]
    records += [CostRecord(d, "p", "", "li", Decimal("2.50")) for d in days(FEB, MAR)]
    # March up to now, today's partial bucket included (it starts before now).
    today = datetime(2025, 3, 11, tzinfo=UTC)
    records += [CostRecord(d, "p", "", "li", Decimal("0.50")) for d in days(MAR, today)]
    return records


def windowed_tokens(ctx: SourceContext) -> list[Record]:
    """100 input tokens a day, only in the requested window."""
    return [
        TokenRecord(d, "p", "k", "m", 100, 0, 0, 0, 0)
        for d in days(ctx.start, ctx.end)
        if d + timedelta(days=1) <= ctx.end
    ]


def points(history: History, name: str, **labels: str) -> dict[int, float]:
    """timestamp → value of the single series of ``name`` matching ``labels``."""
    matches = [
        series
        for (metric, pairs), series in history.series.items()
        if metric == name and all(dict(pairs).get(k) == v for k, v in labels.items())
    ]
    assert len(matches) == 1, [k for k in history.series if k[0] == name]
    return {p.timestamp: p.value for p in matches[0]}


async def run_backfill(cfg: Config, since: str, until: str, now: float = NOW) -> History:
    return await backfill(cfg, parse_span(since, until, now), now=now)


# --------------------------------------------------------------------------- the range


def test_months_cover_whole_months_and_the_current_month_ends_yesterday() -> None:
    assert parse_span("2025-01", "2025-02", NOW) == Span(date(2025, 1, 1), date(2025, 2, 28))
    assert parse_span("2024-02", "2024-02", NOW) == Span(date(2024, 2, 1), date(2024, 2, 29))
    assert parse_span("2025-02", "2025-03", NOW).last == date(2025, 3, 9)
    assert parse_span("2025-01-15", "2025-02-03", NOW) == Span(date(2025, 1, 15), date(2025, 2, 3))
    assert parse_span("2024-12", "2025-01", NOW).months() == [
        datetime(2024, 12, 1, tzinfo=UTC),
        JAN,
    ]


def test_instants_are_day_ends_and_a_months_last_second() -> None:
    span = parse_span("2025-01-30", "2025-02-02", NOW)
    assert span.instants(JAN) == [
        (datetime(2025, 1, 31, tzinfo=UTC), ts(datetime(2025, 1, 31, tzinfo=UTC))),
        (FEB, ts(FEB) - 1),  # still January: at midnight the live counters show February
    ]
    assert [stamp for _, stamp in span.instants(FEB)] == [
        ts(datetime(2025, 2, 2, tzinfo=UTC)),
        ts(datetime(2025, 2, 3, tzinfo=UTC)),
    ]
    assert len(parse_span("2025-02", "2025-02", NOW).instants(FEB)) == 28


@pytest.mark.parametrize(
    ("since", "until", "message"),
    [
        ("2025/01", "2025-02", "--since '2025/01': expected a UTC month YYYY-MM"),
        ("2025-13", "2025-02", "--since '2025-13'"),
        ("2025-01", "2025-02-30", "--until '2025-02-30'"),
        ("January", "2025-02", "expected a UTC month YYYY-MM (e.g. 2026-01) or day YYYY-MM-DD"),
        ("2025-02", "2025-01", "nothing to backfill: --since 2025-02 is after"),
        ("2025-03-10", "2025-03", "nothing to backfill"),
        ("2025-01", "2025-04", "--until 2025-04 is in the future; the last complete day is"),
        ("2025-01", "2025-03-10", "--until 2025-03-10 is not over yet (today is 2025-03-10 UTC)"),
    ],
)
def test_bad_ranges_say_what_is_expected(since: str, until: str, message: str) -> None:
    with pytest.raises(BackfillError) as caught:
        parse_span(since, until, NOW)
    assert message in str(caught.value)


def test_the_last_three_hours_belong_to_prometheus_head_block() -> None:
    early = datetime(2025, 3, 10, 1, 30, tzinfo=UTC).timestamp()
    with pytest.raises(BackfillError, match=r"less than 3 hours ago.*e\.g\. 2025-03-08"):
        parse_span("2025-03", "2025-03", early)
    assert parse_span("2025-03", "2025-03-08", early).last == date(2025, 3, 8)
    assert parse_span("2025-03", "2025-03", early + 2 * 3600).last == date(2025, 3, 9)


def test_labels_are_validated() -> None:
    assert parse_labels(["job=llm-cost-exporter", "instance=exporter:9771"]) == (
        ("instance", "exporter:9771"),
        ("job", "llm-cost-exporter"),
    )
    for bad, message in (
        ("job", "expected NAME=VALUE"),
        ("job=", "expected NAME=VALUE with a non-empty value"),
        ("1job=x", "not a valid label name"),
        ("__name__=x", "not a valid label name"),
        ("provider=x", "already a label of the exported metrics"),
        ("token_type=x", "already a label"),
    ):
        with pytest.raises(BackfillError, match=message):
            parse_labels([bad])
    with pytest.raises(BackfillError, match="given twice"):
        parse_labels(["job=a", "job=b"])


# --------------------------------------------------------------------------- fetching and values


async def test_month_by_month_contexts_and_month_to_date_with_reset(hist: Programmed) -> None:
    hist.handlers = {"costs": daily_costs, "usage": windowed_tokens}
    history = await run_backfill(config(), "2025-01", "2025-03")

    # One context per month: the 1st to the next 1st, or now for the current month.
    now = datetime.fromtimestamp(NOW, UTC)
    assert hist.starts("costs") == [(JAN, FEB), (FEB, MAR), (MAR, now)]
    cost = points(history, "llm_cost_usd_total", provider="hist", account="a", project="p")
    assert cost[ts(JAN) + 86400] == 1.25  # end of Jan 1
    assert cost[ts(FEB) - 1] == 31 * 1.25  # last second of January, nothing of February
    assert cost[ts(FEB) + 86400] == 2.5  # reset: end of Feb 1
    assert cost[ts(MAR) - 1] == 28 * 2.5
    # The current month ends yesterday: today's partial bucket is not counted.
    assert max(cost) == ts(datetime(2025, 3, 10, tzinfo=UTC))
    assert cost[max(cost)] == 9 * 0.5
    assert len(cost) == 31 + 28 + 9
    assert all(a < b for a, b in zip(sorted(cost), sorted(cost)[1:], strict=False))
    tokens = points(history, "llm_tokens_total", token_type="input")
    assert tokens[ts(FEB) - 1] == 3100 and tokens[ts(FEB) + 86400] == 100
    # _created is the 1st of each point's month; counters only.
    created = {p.timestamp: p.created for p in next(iter(_series(history, "llm_cost_usd_total")))}
    assert created[ts(FEB) - 1] == ts(JAN) and created[ts(FEB) + 86400] == ts(FEB)


def _series(history: History, name: str) -> list[list[Point]]:
    return [list(s) for (metric, _), s in history.series.items() if metric == name]


async def test_since_a_day_trims_samples_but_counts_from_the_first(hist: Programmed) -> None:
    hist.handlers = {"costs": daily_costs}
    history = await run_backfill(config(), "2025-01-20", "2025-01-22")
    cost = points(history, "llm_cost_usd_total")
    assert cost == {
        ts(datetime(2025, 1, 21, tzinfo=UTC)): 20 * 1.25,
        ts(datetime(2025, 1, 22, tzinfo=UTC)): 21 * 1.25,
        ts(datetime(2025, 1, 23, tzinfo=UTC)): 22 * 1.25,
    }


async def test_sources_without_buckets_are_skipped_and_reported(hist: Programmed) -> None:
    hist.handlers = {
        "costs": daily_costs,
        "names": lambda ctx: [ProjectInfo("p", "Project P")],
        "balance": _unavailable,
        "prices": lambda ctx: [PriceRecord(_price("live-model"))],
    }
    history = await run_backfill(config(), "2025-01", "2025-02")
    (account,) = history.accounts
    assert account.with_history == {"costs"}
    assert account.skipped == {
        "names": "current values only (names), no time buckets",
        "balance": "not available to this credential (no such plan)",
        "prices": "current values only (prices), no time buckets",
    }
    assert account.without_data == ("usage", "levels")
    calls = [name for name, _ in hist.calls]
    assert calls.count("names") == calls.count("balance") == calls.count("prices") == 1
    assert calls.count("costs") == calls.count("usage") == 2
    assert {metric for metric, _ in history.series} == {"llm_cost_usd_total"}


def _unavailable(ctx: SourceContext) -> Sequence[Record]:
    raise SourceUnavailable("no such plan")


def _price(model: str) -> ModelPrice:
    per_million = {"input": Decimal(2), "output": Decimal(8)}
    per_million |= {"cache_read": Decimal(1), "cache_write_5m": Decimal(2)}
    per_million |= {"cache_write_1h": Decimal(4)}
    per_token = {k: v / 1_000_000 for k, v in per_million.items()}
    return ModelPrice("hist", model, "live", per_token)


async def test_estimated_cost_unpriced_tokens_and_levels(hist: Programmed) -> None:
    def usage(ctx: SourceContext) -> list[Record]:
        return [
            r
            for d in days(ctx.start, ctx.end)
            if d + timedelta(days=1) <= ctx.end
            for r in (
                TokenRecord(d, "p", "k", "config-model", 1_000_000, 0, 0, 0, 500_000),
                TokenRecord(d, "p", "k", "live-model", 0, 2_000_000, 1_000_000, 0, 0),
                TokenRecord(d, "p", "k", "mystery", 7, 0, 0, 0, 3),
            )
        ]

    def levels(ctx: SourceContext) -> list[Record]:
        return [
            LevelRecord(d, LevelUnit.VECTOR_STORE_BYTES, "p", Decimal(d.day * 10))
            for d in days(ctx.start, ctx.end)
        ] + [gauge("llm_spend_limit_usd", 100, project="")]

    hist.handlers = {
        "usage": usage,
        "levels": levels,
        "prices": lambda ctx: [PriceRecord(_price("live-model"))],
    }
    prices = TokenPrices(input=Decimal(3), output=Decimal(15))  # type: ignore[call-arg]
    price = PriceConfig(provider="hist", model="config-model", usd_per_million_tokens=prices)
    pricing = PricingConfig(prices=(price,))
    history = await run_backfill(config(pricing=pricing), "2025-02", "2025-02")

    end_of_feb = ts(MAR) - 1
    # config price: 3 + 0.5 × 15 = 10.5 USD a day; live price: 2 × 1 + 1 × 2 = 4 USD a day.
    estimated = points(history, "llm_estimated_cost_usd_total", model="config-model")
    assert estimated[end_of_feb] == pytest.approx(28 * 10.5, abs=1e-9)
    live = points(history, "llm_estimated_cost_usd_total", model="live-model")
    assert live[ts(FEB) + 86400] == pytest.approx(4.0, abs=1e-12)
    unpriced = points(history, "llm_unpriced_tokens_total", model="mystery", token_type="output")
    assert unpriced[end_of_feb] == 28 * 3
    # A level is the latest bucket's value, not a sum; the gauge record has no history.
    level = points(history, "llm_vector_store_bytes")
    assert level[ts(FEB) + 86400] == 10 and level[end_of_feb] == 280
    assert level.keys() == estimated.keys()
    for series in _series(history, "llm_vector_store_bytes"):
        assert all(point.created is None for point in series)
    assert not any(metric == "llm_spend_limit_usd" for metric, _ in history.series)


async def test_a_failing_source_aborts_with_where_and_why(hist: Programmed) -> None:
    def flaky(ctx: SourceContext) -> Sequence[Record]:
        if ctx.start == FEB:
            raise RateLimitedError("GET /usage: HTTP 429")
        return ()

    hist.handlers = {"costs": daily_costs, "usage": flaky}
    with pytest.raises(BackfillError) as caught:
        await run_backfill(config(), "2025-01", "2025-02")
    assert "hist/a usage 2025-02: GET /usage: HTTP 429 (reason=rate_limited)" in str(caught.value)


# --------------------------------------------------------------------------- the file


def test_openmetrics_groups_series_in_time_order_with_escaping() -> None:
    weird = 'a "quoted" \\ back\nslash'
    labels = (("provider", "p"), ("account", "a"), ("project", weird), ("model", ""))
    history = History(
        series={
            ("llm_cost_usd_total", (*labels, ("line_item", "x"))): [
                Point(200, 2.5, 100),
                Point(150, 1.0, 100),
            ],
            ("llm_cost_usd_total", (*labels, ("line_item", "a"))): [Point(150, 0.1, 100)],
            ("llm_vector_store_bytes", labels[:3]): [Point(150, 12.0, None)],
            ("llm_tokens_total", (*labels, ("api_key", "k"), ("token_type", "input"))): [
                Point(150, 2.0**60, 100)
            ],
        },
        accounts=[],
    )
    out = StringIO()
    write_openmetrics(history, out)
    text = out.getvalue()
    lines = text.splitlines()
    assert lines[-1] == "# EOF" and text.endswith("\n")
    assert lines[:2] == [
        "# HELP llm_cost_usd Billed spend in USD as the provider's cost endpoint reports it, "
        "month-to-date (UTC).",
        "# TYPE llm_cost_usd counter",
    ]
    assert lines[2] == (
        'llm_cost_usd_total{provider="p",account="a",project="a \\"quoted\\" \\\\ back\\nslash",'
        'model="",line_item="a"} 0.1 150'
    )
    assert lines[3].startswith("llm_cost_usd_created{") and lines[3].endswith("} 100 150")
    x_series = [line for line in lines if 'line_item="x"' in line]
    assert [line.rsplit(" ", 2)[1:] for line in x_series] == [
        ["1", "150"],
        ["100", "150"],
        ["2.5", "200"],
        ["100", "200"],
    ]
    # Contract order of families, each once; large integers stay exact floats.
    types = [line for line in lines if line.startswith("# TYPE")]
    assert types == [
        "# TYPE llm_cost_usd counter",
        "# TYPE llm_tokens counter",
        "# TYPE llm_vector_store_bytes gauge",
    ]
    assert "1.152921504606847e+18 150" in text
    # A strict OpenMetrics parser accepts it and reads the values back.
    families = {f.name: f for f in text_string_to_metric_families(text)}
    samples = [
        (s.name, s.labels["line_item"], s.value, s.timestamp.sec)
        for s in families["llm_cost_usd"].samples
    ]
    assert ("llm_cost_usd_total", "x", 2.5, 200) in samples
    assert families["llm_cost_usd"].samples[0].labels["project"] == weird


async def test_values_equal_the_simulators_exact_totals(tmp_path: Path) -> None:
    sim_now = datetime(2026, 3, 10, 12, 0, tzinfo=UTC).timestamp()
    model = OrgModel(seed=5, clock=lambda: sim_now)
    app = create_app(model, openai_key=OPENAI_KEY, anthropic_key=ANTHROPIC_KEY, page_size=5)
    async with _serve(app) as base:
        sonnet = "claude-sonnet-4-20250514"
        prices = TokenPrices(
            input=Decimal(3),
            output=Decimal(15),
            cache_read=Decimal("0.30"),
            cache_write_5m=Decimal("3.75"),
            cache_write_1h=Decimal(6),
        )
        accounts = (
            AccountConfig(provider="openai", name="o", api_key=OPENAI_KEY, base_url=base),  # type: ignore[arg-type]
            AccountConfig(provider="anthropic", name="a", api_key=ANTHROPIC_KEY, base_url=base),  # type: ignore[arg-type]
        )
        price = PriceConfig(provider="anthropic", model=sonnet, usd_per_million_tokens=prices)
        cfg = Config(accounts=accounts, pricing=PricingConfig(prices=(price,)))
        history = await backfill(cfg, parse_span("2026-01", "2026-02", sim_now), now=sim_now)

    totals: dict[tuple[str, str, int], float] = defaultdict(float)
    for (name, labels), series in history.series.items():
        provider = dict(labels)["provider"]
        model_label = dict(labels).get("model", "")
        for point in series:
            totals[(name, provider, point.timestamp)] += point.value
            if name == "llm_estimated_cost_usd_total" and model_label == sonnet:
                totals[("sonnet", provider, point.timestamp)] += point.value
    # The model's windows add up exactly, so month-to-date = the sum of its days so far.
    span = parse_span("2026-01", "2026-02", sim_now)
    checked = 0
    for month in span.months():
        want: dict[str, Decimal] = defaultdict(Decimal)
        for bound, stamp in span.instants(month):
            a, b = bound.timestamp() - 86400, bound.timestamp()
            want["openai"] += model.openai_cost(a, b)
            want["anthropic"] += model.anthropic_cost(a, b)
            want["openai tokens"] += sum(model.openai_tokens(a, b).values())
            want["anthropic tokens"] += sum(model.anthropic_tokens(a, b).values())
            for stream, raw in model.usage(a, b, "anthropic"):
                if stream.model == sonnet:
                    want["sonnet"] += sum(cost_items_usd(stream, raw).values(), Decimal(0))
            assert totals[("llm_cost_usd_total", "openai", stamp)] == close(want["openai"])
            assert totals[("llm_cost_usd_total", "anthropic", stamp)] == close(want["anthropic"])
            assert totals[("llm_tokens_total", "openai", stamp)] == want["openai tokens"]
            assert totals[("llm_tokens_total", "anthropic", stamp)] == want["anthropic tokens"]
            assert totals[("sonnet", "anthropic", stamp)] == close(want["sonnet"])
            checked += 1
    assert checked == 31 + 28
    # Cross-check one whole month against the model's own window.
    assert totals[("llm_cost_usd_total", "openai", ts(datetime(2026, 2, 1, tzinfo=UTC)) - 1)] == (
        close(
            model.openai_cost(
                datetime(2026, 1, 1, tzinfo=UTC).timestamp(), ts(datetime(2026, 2, 1, tzinfo=UTC))
            )
        )
    )


class _serve:
    def __init__(self, app: web.Application) -> None:
        self.runner = web.AppRunner(app)

    async def __aenter__(self) -> str:
        await self.runner.setup()
        site = web.TCPSite(self.runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        return f"http://127.0.0.1:{port}"

    async def __aexit__(self, *exc: object) -> None:
        await self.runner.cleanup()


# --------------------------------------------------------------------------- the command


def write_config(tmp_path: Path, accounts: str = "") -> Path:
    path = tmp_path / "config.yml"
    default = f"  - provider: hist\n    name: a\n    api_key: {FAKE_KEY}\n"
    path.write_text(f"accounts:\n{accounts or default}", encoding="utf-8")
    return path


def range_args(since: str, until: str) -> list[str]:
    return ["backfill", "--since", since, "--until", until, "--output", "unused.om"]


def test_command_writes_a_parseable_file(
    hist: Programmed, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    hist.handlers = {"costs": daily_costs, "names": lambda ctx: [ProjectInfo("p", "P")]}
    output = tmp_path / "history.om"
    code = cli.main(
        [
            "backfill",
            "--config.file", str(write_config(tmp_path)),
            "--since", "2025-01",
            "--until", "2025-02",
            "--output", str(output),
            "--label", "job=llm-cost-exporter",
        ]
    )  # fmt: skip
    err = capsys.readouterr().err
    assert code == 0, err
    assert "hist/a: history from costs" in err
    assert "skipped names: current values only (names), no time buckets" in err
    assert "wrote 1 series, 59 samples (2025-01-01 to 2025-02-28" in err
    text = output.read_text(encoding="utf-8")
    (family,) = text_string_to_metric_families(text)
    totals = [s for s in family.samples if s.name == "llm_cost_usd_total"]
    assert len(totals) == 59 and totals[-1].value == 70.0
    assert {s.labels["job"] for s in family.samples} == {"llm-cost-exporter"}
    assert not list(tmp_path.glob("*.partial"))


def test_command_failure_writes_nothing(
    hist: Programmed, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    def broken(ctx: SourceContext) -> Sequence[Record]:
        raise RateLimitedError("GET /costs: HTTP 429")

    hist.handlers = {"costs": broken}
    output = tmp_path / "history.om"
    args = ["backfill", "--config.file", str(write_config(tmp_path))]
    code = cli.main([*args, "--since", "2025-01", "--until", "2025-01", "--output", str(output)])
    err = capsys.readouterr().err
    assert code == 1
    assert "hist/a costs 2025-01: GET /costs: HTTP 429 (reason=rate_limited)" in err
    assert "nothing written" in err
    assert not output.exists() and not list(tmp_path.glob("*.partial"))


def test_command_argument_errors(
    hist: Programmed, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cfg = str(write_config(tmp_path))
    with pytest.raises(SystemExit) as exited:
        cli.main(["backfill", "--config.file", cfg, "--since", "2025-01", "--output", "x"])
    assert exited.value.code == 2
    assert "the following arguments are required: --until" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exited:
        cli.main(range_args("2025-02", "2025-01"))
    assert exited.value.code == 2
    assert "nothing to backfill: --since 2025-02 is after" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        cli.main([*range_args("2025-01", "2025-01"), "--label", "provider=x"])
    assert "'provider' is already a label" in capsys.readouterr().err

    empty = tmp_path / "empty.yml"
    empty.write_text("accounts: []\n", encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if not k.endswith(("_KEY", "_KEY_FILE"))}
    with pytest.MonkeyPatch.context() as patch:
        for key in set(os.environ) - set(env):
            patch.delenv(key)
        code = cli.main([*range_args("2025-01", "2025-01"), "--config.file", str(empty)])
    assert code == 2
    assert "llm-cost-exporter backfill: no accounts configured." in capsys.readouterr().err


def test_help_mentions_the_command(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        cli.main(["--help"])
    assert "llm-cost-exporter backfill --since YYYY-MM" in capsys.readouterr().out
    with pytest.raises(SystemExit):
        cli.main(["backfill", "--help"])
    out = capsys.readouterr().out
    assert "docs/backfill.md" in out and "--label NAME=VALUE" in out
