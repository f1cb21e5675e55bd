"""What a provider module provides: a :class:`ProviderSpec` with its sources.

A *source* is one poll unit of an account (``costs``, ``usage_completions``, ...): it gets a
:class:`SourceContext` and returns normalised records (:mod:`exporter.records`) for the current
month, or raises a :class:`~exporter.errors.SourceError`. Sources of one account are polled
independently, so one failing endpoint never hides another's data.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, MutableMapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict

from exporter.pricing import Catalog
from exporter.records import Record
from exporter.upstream import Upstream

#: Label dimensions an account can choose with ``group_by``.
DIMENSIONS = ("project", "api_key", "model", "line_item")


@dataclass(frozen=True, slots=True)
class SourceContext:
    upstream: Upstream
    #: Inclusive start of the window to fetch (00:00 UTC on the 1st of the month).
    start: datetime
    #: Exclusive end of the window (now).
    end: datetime
    #: Dimensions the account asked for (subset of :data:`DIMENSIONS`).
    group_by: frozenset[str]
    #: The account's validated ``options`` (an instance of the provider's ``options`` model).
    options: BaseModel = field(default_factory=lambda: NoOptions())
    #: The pricing catalog, for sources that price their own tokens (local logs).
    catalog: Catalog = field(default_factory=Catalog)
    #: Survives between polls of this (account, source): incremental readers, cursors,
    #: credential-file fingerprints. Owned by the poller; only this source touches it.
    memo: MutableMapping[str, Any] = field(default_factory=dict)

    #: ``end`` as unix seconds.
    @property
    def now(self) -> float:
        return self.end.timestamp()


class NoOptions(BaseModel):
    """The ``options`` model of providers that take none (unknown keys are rejected)."""

    model_config = ConfigDict(extra="forbid", frozen=True)


Source = Callable[[SourceContext], Awaitable[Sequence[Record]]]
Check = Callable[[Upstream], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class ProviderSpec:
    #: Registry key and ``provider`` label.
    name: str
    #: One line for ``--help``, docs and the landing page.
    title: str
    default_base_url: str
    #: Environment variable an account is discovered from when no config file is given
    #: (``None``: only configured accounts).
    env_var: str | None
    #: Where to get the credential (shown when it is missing or rejected).
    key_hint: str
    #: Request headers carrying the credential.
    auth_headers: Callable[[str], Mapping[str, str]]
    sources: Mapping[str, Source]
    #: One cheap authenticated request; raises SourceError on failure.
    check: Check
    #: False for sources that read their own credentials (OAuth files) or none (local logs).
    needs_key: bool = True
    #: Pydantic model of the account's ``options:`` mapping (provider-specific settings).
    options: type[BaseModel] = NoOptions
    #: Default poll interval for this provider's accounts (None: the global one).
    default_poll_interval: float | None = None
    #: Options read from the environment when the account is discovered (option → variable),
    #: e.g. xAI's ``team_id`` from ``XAI_TEAM_ID``.
    env_options: Mapping[str, str] = field(default_factory=dict)
    #: The ``provider`` label of its series when it differs from ``name`` (local logs and
    #: subscriptions are labelled with the vendor: ``claude_code`` → ``anthropic``).
    label: str | None = None
    #: The ``account`` label when the account has no ``name`` (default: ``name``).
    default_account: str | None = None
    #: Sources whose cost is the provider's bill (``llm_cost_usd_total``); budgets with
    #: ``include: billed_or_estimated`` use billed cost for accounts polling one of them.
    billed_sources: frozenset[str] = frozenset()
