"""Background polling: one asyncio task per account, one snapshot swap per round of results.

Each account's sources are polled concurrently every ``poll_interval`` (first poll after a
small random jitter, so many accounts do not hit providers in lockstep). A source's result
replaces its previous records (month-to-date is recomputed, never accumulated); a failure keeps
the previous records until they are ``stale_after`` old. After any poll the snapshot is rebuilt
and swapped in one reference assignment, which is all a scrape ever reads.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Callable, Sequence
from datetime import datetime

import aiohttp

from exporter.config import AccountConfig, Config
from exporter.errors import RateLimitedError, SourceError, SourceUnavailable
from exporter.pricing import Catalog, load_catalog
from exporter.providers import PROVIDERS
from exporter.providers.base import SourceContext
from exporter.snapshot import MonthToDateGuard, Snapshot, SourceState, build_snapshot, month_start
from exporter.upstream import Limits, RequestStats, RetryPolicy, Upstream

log = logging.getLogger(__name__)

Clock = Callable[[], float]


def account_upstream(
    session: aiohttp.ClientSession,
    account: AccountConfig,
    secret: str,
    stats: RequestStats,
    *,
    retry: RetryPolicy | None = None,
    timeout: float | None = None,
) -> Upstream:
    """The client one account's requests go through (its base URL, auth and timeout)."""
    spec = PROVIDERS[account.provider]
    return Upstream(
        session,
        account.base_url or spec.default_base_url,
        spec.auth_headers(secret),
        stats,
        retry=retry,
        limits=Limits(request_timeout=timeout or account.timeout),
    )


class Poller:
    """Owns the source states and the current snapshot."""

    def __init__(
        self,
        config: Config,
        session: aiohttp.ClientSession,
        *,
        clock: Clock = time.time,
        jitter: float = 1.0,
        catalog: Catalog | None = None,
    ) -> None:
        self.config = config
        self._session = session
        self._clock = clock
        self._jitter = jitter
        self.catalog = catalog if catalog is not None else load_catalog(config.pricing)
        self._guard = MonthToDateGuard()
        self._states: dict[tuple[str, str, str], SourceState] = {}
        for account in config.accounts:
            stale_after = config.stale_after_of(account)
            for source in account.enabled_sources():
                key = (account.provider, account.account, source)
                self._states[key] = SourceState(
                    account.provider_label, account.account, source, stale_after
                )
        self._snapshot = build_snapshot(config, self.states, self._guard, clock(), self.catalog)
        #: Snapshots built, and the number of the one served (see :meth:`publish`).
        self._built = self._published = 0
        self.first_round = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []

    @property
    def states(self) -> Sequence[SourceState]:
        return tuple(self._states.values())

    @property
    def snapshot(self) -> Snapshot:
        return self._snapshot

    def rebuild(self) -> Snapshot:
        self._snapshot = build_snapshot(
            self.config, self.states, self._guard, self._clock(), self.catalog
        )
        self._built += 1
        self._published = self._built
        return self._snapshot

    async def publish(self) -> None:
        """Build a snapshot and serve it once the body Prometheus asks for is rendered.

        The build reads the live source states, so it runs on the event loop; rendering only
        reads the new immutable snapshot and runs in a thread (1-2 s at 50k series), so
        scrapes keep getting the previous snapshot's cached bytes meanwhile instead of
        waiting for the first scrape after a poll to render. Snapshots finishing out of order
        never replace a newer one.
        """
        snapshot = build_snapshot(
            self.config, self.states, self._guard, self._clock(), self.catalog
        )
        self._built += 1
        number = self._built
        await asyncio.to_thread(snapshot.prerender)
        if number > self._published:
            self._published = number
            self._snapshot = snapshot

    async def poll_once(self) -> Snapshot:
        """Poll every source of every account once, concurrently; return the new snapshot."""
        await asyncio.gather(*(self.poll_account(a) for a in self.config.accounts))
        snapshot = self.rebuild()
        self.first_round.set()
        return snapshot

    async def poll_account(self, account: AccountConfig) -> None:
        await asyncio.gather(*(self._poll_source(account, s) for s in account.enabled_sources()))

    def start(self) -> None:
        """Start one background task per account plus the staleness sweeper."""
        if not self.config.accounts:
            self.first_round.set()
        remaining = {a.account + "/" + a.provider for a in self.config.accounts}

        def done(name: str) -> None:
            remaining.discard(name)
            if not remaining:
                self.first_round.set()

        for account in self.config.accounts:
            self._tasks.append(asyncio.create_task(self._run_account(account, done)))
        self._tasks.append(asyncio.create_task(self._sweep()))

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks.clear()

    async def _run_account(self, account: AccountConfig, done: Callable[[str], None]) -> None:
        interval = self.config.poll_interval_of(account)
        await asyncio.sleep(random.uniform(0, self._jitter))
        first = True
        while True:
            started = time.monotonic()
            await self.poll_account(account)
            await self.publish()
            if first:
                done(account.account + "/" + account.provider)
                first = False
            elapsed = time.monotonic() - started
            await asyncio.sleep(max(0.0, interval - elapsed))

    async def _sweep(self) -> None:
        """Rebuild periodically so stale data expires and month rollover happens on time."""
        while True:
            await asyncio.sleep(30)
            await self.publish()

    async def _poll_source(self, account: AccountConfig, source: str) -> None:
        state = self._states[(account.provider, account.account, source)]
        spec = PROVIDERS[account.provider]
        if state.unavailable is not None or self._clock() < state.backoff_until:
            return  # not for this credential, or backing off after 429: keep last values
        started = time.monotonic()
        counted = sum(state.stats.failures.values())
        secret = account.secret if spec.needs_key else ""
        try:
            if secret is None or (spec.needs_key and not secret):
                raise _MissingCredential(
                    f"no credential configured: set api_key or api_key_file ({spec.key_hint})"
                )
            now = self._clock()
            upstream = account_upstream(self._session, account, secret, state.stats)
            context = SourceContext(
                upstream=upstream,
                start=month_start(now),
                end=datetime.fromtimestamp(now, month_start(now).tzinfo),
                group_by=frozenset(account.group_by),
                options=account.parsed_options,
                catalog=self.catalog,
                memo=state.memo,
            )
            budget = max(self.config.poll_interval_of(account), account.timeout * 2)
            records = await asyncio.wait_for(spec.sources[source](context), timeout=budget)
        except _MissingCredential as exc:
            self._failed(state, started, str(exc), exc.reason)
        except SourceUnavailable as exc:
            state.unavailable = str(exc)
            state.up = None
            state.records = ()
            log.info(
                "%s/%s %s: %s; not polling it again until restart",
                state.provider,
                state.account,
                source,
                exc,
            )
        except RateLimitedError as exc:
            self._failed(state, started, str(exc), exc.reason, counted)
            # Back off across polls too (doubling, at most 8 intervals); values stay meanwhile.
            state.backoff_level = min(state.backoff_level + 1, 3)
            interval = self.config.poll_interval_of(account)
            now = self._clock()
            state.backoff_until = now + interval * (2**state.backoff_level - 1)
            if state.last_success is not None:
                # Never sit out the last regular poll before the last good data expire: they
                # are dropped after a failed try (the staleness rule), not for the backoff.
                last_try = state.last_success + state.stale_after - interval / 2
                if last_try > now:
                    state.backoff_until = min(state.backoff_until, last_try)
        except SourceError as exc:
            self._failed(state, started, str(exc), exc.reason, counted)
        except TimeoutError:
            message = "poll did not finish within its time budget"
            self._failed(state, started, message, "timeout", counted)
        except Exception as exc:  # a parser bug must not kill the poller
            log.exception(
                "unexpected error polling %s/%s %s", state.provider, state.account, source
            )
            message = f"unexpected {type(exc).__name__}"
            self._failed(state, started, message, "invalid_response", counted)
        else:
            state.records = tuple(records)
            state.backoff_level = 0
            state.up = True
            state.last_error = None
            state.last_success = self._clock()
            state.last_duration = time.monotonic() - started
            log.debug(
                "polled %s/%s %s: %d records in %.2fs",
                state.provider,
                state.account,
                source,
                len(state.records),
                state.last_duration,
            )

    def _failed(
        self,
        state: SourceState,
        started: float,
        message: str,
        reason: str,
        counted: int | None = None,
    ) -> None:
        if counted is not None and sum(state.stats.failures.values()) == counted:
            # Failed after the requests succeeded (parser, time budget): count it once here.
            state.stats.failures[reason] += 1
        state.up = False
        state.last_error = message
        state.last_duration = time.monotonic() - started
        log.warning(
            "poll failed: %s/%s %s: %s (reason=%s)",
            state.provider,
            state.account,
            state.source,
            message,
            reason,
        )


class _MissingCredential(SourceError):
    reason = "auth"
