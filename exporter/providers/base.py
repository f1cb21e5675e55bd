"""What a provider module provides: a :class:`ProviderSpec` with its sources.

A *source* is one poll unit of an account (``costs``, ``usage_completions``, ...): it gets a
:class:`SourceContext` and returns normalised records (:mod:`exporter.records`) for the current
month, or raises a :class:`~exporter.errors.SourceError`. Sources of one account are polled
independently, so one failing endpoint never hides another's data.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

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


Source = Callable[[SourceContext], Awaitable[Sequence[Record]]]
Check = Callable[[Upstream], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class ProviderSpec:
    #: Registry key and ``provider`` label.
    name: str
    #: One line for ``--help``, docs and the landing page.
    title: str
    default_base_url: str
    #: Environment variable an account is discovered from when no config file is given.
    env_var: str
    #: Where to get the credential (shown when it is missing or rejected).
    key_hint: str
    #: Request headers carrying the credential.
    auth_headers: Callable[[str], Mapping[str, str]]
    sources: Mapping[str, Source]
    #: One cheap authenticated request; raises SourceError on failure.
    check: Check
