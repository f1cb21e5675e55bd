"""A deterministic, seeded model of an organisation's LLM usage and spend.

The model is a set of *streams* — (provider, project/workspace, API key, model) combinations —
each with a typical daily volume per raw token type. A day's full volume is that base scaled by
seeded noise, a weekend dip, an occasional spike day and any restatement. Within a day usage
accrues along a smooth day curve (quiet at night, busy at noon): the part of day ``d`` accrued by
time ``t`` is ``floor(full * F(x))`` with ``x`` the elapsed fraction of the day, so usage up to
any moment is an exact integer and windows add up: ``usage(a, b) + usage(b, c) == usage(a, c)``.

Money is ``tokens × fixed price`` in :class:`~decimal.Decimal` (prices per million tokens), so
every total is exact. Nothing exists after the model's clock (``clock()``).
"""

from __future__ import annotations

import dataclasses
import math
import random
import string
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal
from fractions import Fraction
from functools import lru_cache
from typing import Final, Literal

DAY: Final = 86400
_EPOCH: Final = date(1970, 1, 1)
_MILLION: Final = Decimal(1_000_000)

#: Raw token types of the model (Anthropic's split; OpenAI never has 1-hour cache writes).
RAW_TYPES: Final = ("input", "cache_read", "cache_write_5m", "cache_write_1h", "output")
#: The exporter's disjoint token types.
TOKEN_TYPES: Final = ("input", "cache_read", "cache_write", "output")

Provider = Literal["openai", "anthropic"]
Kind = Literal["completions", "embeddings", "messages"]
RawTokens = tuple[int, int, int, int, int]


@dataclass(frozen=True, slots=True)
class Price:
    """USD per million tokens of each raw token type."""

    input: Decimal
    cache_read: Decimal = Decimal(0)
    cache_write_5m: Decimal = Decimal(0)
    cache_write_1h: Decimal = Decimal(0)
    output: Decimal = Decimal(0)

    def per_type(self) -> tuple[Decimal, Decimal, Decimal, Decimal, Decimal]:
        return (self.input, self.cache_read, self.cache_write_5m, self.cache_write_1h, self.output)


def _p(*values: str) -> Price:
    return Price(*(Decimal(v) for v in values))


#: model → (price, display name used in line items / cost descriptions)
PRICES: Final[dict[str, tuple[Price, str]]] = {
    "gpt-4.1-2025-04-14": (_p("2.00", "0.50", "2.50", "0", "8.00"), "gpt-4.1"),
    "gpt-4.1-mini-2025-04-14": (_p("0.40", "0.10", "0.50", "0", "1.60"), "gpt-4.1-mini"),
    "o4-mini-2025-04-16": (_p("1.10", "0.275", "1.375", "0", "4.40"), "o4-mini"),
    "text-embedding-3-small": (_p("0.02"), "text-embedding-3-small"),
    "claude-sonnet-4-20250514": (_p("3", "0.30", "3.75", "6", "15"), "Claude Sonnet 4"),
    "claude-opus-4-1-20250805": (_p("15", "1.50", "18.75", "30", "75"), "Claude Opus 4.1"),
    "claude-3-5-haiku-20241022": (_p("0.80", "0.08", "1", "1.60", "4"), "Claude Haiku 3.5"),
}
_OPENAI_CHAT: Final = ("gpt-4.1-2025-04-14", "gpt-4.1-mini-2025-04-14", "o4-mini-2025-04-16")
_OPENAI_EMBEDDING: Final = "text-embedding-3-small"
_ANTHROPIC: Final = (
    "claude-sonnet-4-20250514",
    "claude-opus-4-1-20250805",
    "claude-3-5-haiku-20241022",
)

#: Amplitude of the day curve: usage rate ∝ 1 − A·cos(2πx), x = fraction of the day.
_DAY_AMPLITUDE: Final = 0.8
#: Probability that a day is a spike day, and the spike's factor.
_SPIKE_CHANCE: Final = 0.08
_SPIKE_FACTOR: Final = 4


@dataclass(frozen=True, slots=True)
class Named:
    """A project/workspace (``parent`` is None) or an API key (``parent`` = its project)."""

    id: str
    name: str
    created_at: int
    archived: bool = False
    parent: str | None = None


@dataclass(frozen=True, slots=True)
class Stream:
    provider: Provider
    kind: Kind
    #: Project (OpenAI) or workspace id; None is Anthropic's default workspace.
    project: str | None
    #: API key id; None is Anthropic Console usage (no key).
    api_key: str | None
    model: str
    #: Typical daily tokens per raw type.
    base: RawTokens


@dataclass(frozen=True, slots=True)
class Org:
    streams: tuple[Stream, ...]
    openai_projects: tuple[Named, ...]
    openai_keys: tuple[Named, ...]
    anthropic_workspaces: tuple[Named, ...]
    anthropic_keys: tuple[Named, ...]


def _ident(rng: random.Random, prefix: str, n: int) -> str:
    return prefix + "".join(rng.choices(string.ascii_letters + string.digits, k=n))


def _raw(rng: random.Random, *, cache_1h: bool, embedding: bool = False) -> RawTokens:
    uncached = rng.randint(200_000, 3_000_000)
    if embedding:
        return (uncached * 3, 0, 0, 0, 0)
    cache_read = uncached * rng.randint(50, 300) // 100
    write_5m = uncached * rng.randint(5, 20) // 100
    write_1h = uncached * rng.randint(2, 8) // 100 if cache_1h else 0
    output = uncached * rng.randint(10, 30) // 100
    return (uncached, cache_read, write_5m, write_1h, output)


@lru_cache(maxsize=32)
def build_org(seed: int) -> Org:
    """The organisation of ``seed``: projects, workspaces, keys and usage streams."""
    rng = random.Random(f"llm-sim-org|{seed}")
    created = 1_735_689_600  # 2025-01-01
    streams: list[Stream] = []
    projects: list[Named] = []
    okeys: list[Named] = []
    for i, title in enumerate(("Web app", "Data pipeline", "Legacy bot")):
        pid = _ident(rng, "proj_", 12)
        projects.append(Named(pid, title, created + i * DAY, archived=i == 2))
        for k in range(2):
            kid = _ident(rng, "key_", 12)
            okeys.append(Named(kid, f"{title} key {k + 1}", created + i * DAY, parent=pid))
            for model in rng.sample(_OPENAI_CHAT, 2):
                streams.append(
                    Stream("openai", "completions", pid, kid, model, _raw(rng, cache_1h=False))
                )
        streams.append(
            Stream(
                "openai",
                "embeddings",
                pid,
                okeys[-1].id,
                _OPENAI_EMBEDDING,
                _raw(rng, cache_1h=False, embedding=True),
            )
        )
    workspaces: list[Named] = []
    akeys: list[Named] = []
    for i, title in enumerate(("Research", "Support", "Old experiments")):
        wid = _ident(rng, "wrkspc_01", 22)
        workspaces.append(Named(wid, title, created + i * DAY, archived=i == 2))
    for i, workspace in enumerate((None, *(w.id for w in workspaces))):
        for k in range(2 if workspace else 1):
            kid = _ident(rng, "apikey_01", 22)
            name = f"{'default' if workspace is None else workspaces[i - 1].name} key {k + 1}"
            akeys.append(Named(kid, name, created + i * DAY, parent=workspace))
            for model in rng.sample(_ANTHROPIC, 2):
                streams.append(
                    Stream("anthropic", "messages", workspace, kid, model, _raw(rng, cache_1h=True))
                )
    # Console (Workbench) usage: default workspace, no API key.
    streams.append(
        Stream("anthropic", "messages", None, None, _ANTHROPIC[0], _raw(rng, cache_1h=True))
    )
    return Org(tuple(streams), tuple(projects), tuple(okeys), tuple(workspaces), tuple(akeys))


def day_curve(x: float) -> float:
    """Fraction of a day's usage accrued after fraction ``x`` of the day (0 → 0, 1 → 1)."""
    if x <= 0.0:
        return 0.0
    if x >= 1.0:
        return 1.0
    return x - _DAY_AMPLITUDE * math.sin(2.0 * math.pi * x) / (2.0 * math.pi)


def day_index(day: date) -> int:
    return (day - _EPOCH).days


def day_start(ts: float) -> int:
    """Unix time of 00:00 UTC of the day containing ``ts``."""
    return int(ts // DAY) * DAY


@dataclass(frozen=True)
class OrgModel:
    """A seeded organisation whose usage up to ``clock()`` is exactly computable.

    ``restatements`` revise whole past (or current) days by a factor — use :meth:`restate`.
    """

    seed: int = 1
    clock: Callable[[], float] = field(default=time.time, compare=False)
    restatements: tuple[tuple[int, Fraction], ...] = ()

    # ------------------------------------------------------------------ structure

    @property
    def org(self) -> Org:
        return build_org(self.seed)

    @property
    def streams(self) -> tuple[Stream, ...]:
        return self.org.streams

    def now(self) -> float:
        return self.clock()

    def restate(self, day: date, factor: Fraction | int | str) -> OrgModel:
        """A copy in which every stream's usage on ``day`` (UTC) is multiplied by ``factor``."""
        return dataclasses.replace(
            self, restatements=(*self.restatements, (day_index(day), Fraction(factor)))
        )

    def with_clock(self, clock: Callable[[], float]) -> OrgModel:
        return dataclasses.replace(self, clock=clock)

    # ------------------------------------------------------------------ usage

    def _full_day(self, stream_no: int, day: int) -> RawTokens:
        """Total tokens of stream ``stream_no`` on day number ``day`` (days since the epoch)."""
        stream = self.streams[stream_no]
        rng = random.Random(f"llm-sim-day|{self.seed}|{stream_no}|{day}")
        percent = rng.randint(70, 130)
        weekday = date.fromordinal(_EPOCH.toordinal() + day).weekday()
        weekend = 60 if weekday >= 5 else 100
        spike_rng = random.Random(f"llm-sim-spike|{self.seed}|{day}")
        spike = _SPIKE_FACTOR if spike_rng.random() < _SPIKE_CHANCE else 1
        factor = Fraction(percent * weekend * spike, 10_000)
        for restated_day, restated_factor in self.restatements:
            if restated_day == day:
                factor *= restated_factor
        values = [math.floor(base * factor) for base in stream.base]
        return (values[0], values[1], values[2], values[3], values[4])

    def _accrued(self, stream_no: int, day: int, t: float) -> RawTokens:
        """Part of day ``day`` of the stream accrued by time ``t``."""
        start = day * DAY
        if t <= start:
            return (0, 0, 0, 0, 0)
        full = self._full_day(stream_no, day)
        if t >= start + DAY:
            return full
        f = day_curve((t - start) / DAY)
        values = [math.floor(v * f) for v in full]
        return (values[0], values[1], values[2], values[3], values[4])

    def stream_usage(self, stream_no: int, start: float, end: float) -> RawTokens:
        """Raw tokens of one stream in ``[start, end)``, never beyond ``now()``."""
        end = min(end, self.now())
        if end <= start:
            return (0, 0, 0, 0, 0)
        totals = [0, 0, 0, 0, 0]
        for day in range(int(start // DAY), math.ceil(end / DAY)):
            upto = self._accrued(stream_no, day, end)
            before = self._accrued(stream_no, day, start)
            for k in range(5):
                totals[k] += upto[k] - before[k]
        return (totals[0], totals[1], totals[2], totals[3], totals[4])

    def usage(
        self, start: float, end: float, provider: Provider
    ) -> Iterator[tuple[Stream, RawTokens]]:
        """``(stream, raw tokens)`` of every stream of ``provider`` with usage in the window."""
        for no, stream in enumerate(self.streams):
            if stream.provider != provider:
                continue
            raw = self.stream_usage(no, start, end)
            if any(raw):
                yield stream, raw

    # ------------------------------------------------------------------ expected totals

    def _tokens(self, provider: Provider, start: float, end: float) -> dict[str, int]:
        totals = dict.fromkeys(TOKEN_TYPES, 0)
        for _, raw in self.usage(start, end, provider):
            totals["input"] += raw[0]
            totals["cache_read"] += raw[1]
            totals["cache_write"] += raw[2] + raw[3]
            totals["output"] += raw[4]
        return totals

    def _cost(self, provider: Provider, start: float, end: float) -> Decimal:
        total = Decimal(0)
        for stream, raw in self.usage(start, end, provider):
            total += sum(cost_items_usd(stream, raw).values(), Decimal(0))
        return total

    def openai_tokens(self, start: float, end: float) -> dict[str, int]:
        """Exporter token types (disjoint) of OpenAI completions + embeddings in the window."""
        return self._tokens("openai", start, end)

    def anthropic_tokens(self, start: float, end: float) -> dict[str, int]:
        return self._tokens("anthropic", start, end)

    def openai_cost(self, start: float, end: float) -> Decimal:
        """USD billed by OpenAI for the window (exact)."""
        return self._cost("openai", start, end)

    def anthropic_cost(self, start: float, end: float) -> Decimal:
        return self._cost("anthropic", start, end)


_OPENAI_ITEM: Final = ("input", "cached input", "cache write", "cache write 1h", "output")
_ANTHROPIC_ITEM: Final = (
    "Input Tokens",
    "Cache Read",
    "5m Cache Write",
    "1h Cache Write",
    "Output Tokens",
)
ANTHROPIC_TOKEN_TYPE: Final = (
    "uncached_input_tokens",
    "cache_read_input_tokens",
    "cache_creation.ephemeral_5m_input_tokens",
    "cache_creation.ephemeral_1h_input_tokens",
    "output_tokens",
)


def cost_item_names(stream: Stream) -> tuple[str, str, str, str, str]:
    """Line item (OpenAI) or description (Anthropic) of each raw token type of the stream."""
    display = PRICES[stream.model][1]
    if stream.provider == "openai":
        names = [f"{display}, {item}" for item in _OPENAI_ITEM]
    else:
        names = [f"{display} Usage - {item}" for item in _ANTHROPIC_ITEM]
    return (names[0], names[1], names[2], names[3], names[4])


def cost_items_usd(stream: Stream, raw: RawTokens) -> dict[int, Decimal]:
    """Raw type index → exact USD of the stream's tokens (non-zero items only)."""
    prices = PRICES[stream.model][0].per_type()
    return {
        k: Decimal(tokens) * prices[k] / _MILLION
        for k, tokens in enumerate(raw)
        if tokens and prices[k]
    }


def utc(ts: float) -> datetime:
    return datetime.fromtimestamp(ts, UTC)
