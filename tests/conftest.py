"""Shared fixtures: a fake provider registered for the duration of a test."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from exporter.providers import PROVIDERS
from exporter.providers.base import ProviderSpec, SourceContext
from exporter.records import CostRecord, Record, TokenRecord
from exporter.upstream import Upstream

FAKE_KEY = "sk-fake-test-ZZtopSecretValue0123456789"


@dataclass
class FakeSources:
    """Programmable sources: each returns what ``results[source]`` holds (or raises it)."""

    results: dict[str, Sequence[Record] | BaseException] = field(default_factory=dict)
    calls: list[str] = field(default_factory=list)
    contexts: list[SourceContext] = field(default_factory=list)

    def source(self, name: str) -> Callable[[SourceContext], Awaitable[Sequence[Record]]]:
        async def run(ctx: SourceContext) -> Sequence[Record]:
            self.calls.append(name)
            self.contexts.append(ctx)
            result = self.results.get(name, ())
            if isinstance(result, BaseException):
                raise result
            return result

        return run


@pytest.fixture
def fake_provider(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeSources]:
    sources = FakeSources()

    async def check(upstream: Upstream) -> None:
        await upstream.get_json("/v1/check")

    def headers(secret: str) -> Mapping[str, str]:
        return {"Authorization": f"Bearer {secret}"}

    spec = ProviderSpec(
        name="fake",
        title="Fake provider",
        default_base_url="http://127.0.0.1:9",
        env_var="FAKE_ADMIN_KEY",
        key_hint="any string",
        auth_headers=headers,
        sources={"costs": sources.source("costs"), "usage": sources.source("usage")},
        check=check,
        billed_sources=frozenset({"costs"}),
    )
    monkeypatch.setitem(PROVIDERS, "fake", spec)  # type: ignore[index]
    yield sources


def day(d: int, month: int = 11, year: int = 2026) -> datetime:
    return datetime(year, month, d, tzinfo=UTC)


def cost(
    d: int,
    amount: str,
    project: str = "proj_a",
    line_item: str = "gpt-4o, input",
    model: str = "",
    month: int = 11,
) -> CostRecord:
    return CostRecord(day(d, month=month), project, model, line_item, Decimal(amount))


def tokens(
    d: int,
    project: str = "proj_a",
    api_key: str = "key_1",
    model: str = "gpt-4o",
    input: int = 0,
    cache_read: int = 0,
    cache_write_5m: int = 0,
    cache_write_1h: int = 0,
    output: int = 0,
) -> TokenRecord:
    return TokenRecord(
        day(d), project, api_key, model, input, cache_read, cache_write_5m, cache_write_1h, output
    )
