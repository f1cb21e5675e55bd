"""Command line: serve (default), ``--once``, ``--check``, and the ``backfill`` command.

Flags follow the Prometheus exporter style (``--config.file``, ``--web.listen-address``,
``--log.level``, ``--log.format``). ``llm-cost-exporter backfill ...`` (the word first) writes
past months as OpenMetrics for ``promtool`` (:mod:`exporter.backfill`).
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import aiohttp

from exporter import __version__, backfill, logs, web_config
from exporter.config import AccountConfig, Config, load
from exporter.errors import (
    AuthError,
    ConfigError,
    SourceError,
    UpstreamConnectionError,
    UpstreamTimeoutError,
)
from exporter.formats import render
from exporter.poller import Poller, account_upstream
from exporter.providers import PROVIDERS
from exporter.upstream import RequestStats, RetryPolicy

if TYPE_CHECKING:
    from starlette.types import ASGIApp

DEFAULT_LISTEN = "0.0.0.0:9771"
BACKFILL = "backfill"

log = logging.getLogger("exporter")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="llm-cost-exporter",
        description="Prometheus exporter for LLM spend, usage, credits and quotas.",
        epilog=f"command: llm-cost-exporter {BACKFILL} --since YYYY-MM --until YYYY-MM "
        "--output FILE writes past months of provider history as OpenMetrics for "
        f"'promtool tsdb create-blocks-from openmetrics' (llm-cost-exporter {BACKFILL} --help).",
    )
    _add_config_flags(parser)
    parser.add_argument(
        "--web.listen-address",
        dest="listen",
        default=DEFAULT_LISTEN,
        help=f"HOST:PORT to serve /metrics on (default {DEFAULT_LISTEN}).",
    )
    parser.add_argument(
        "--web.config.file",
        dest="web_config_file",
        type=Path,
        default=None,
        help="Prometheus exporter-toolkit web config (YAML): TLS, basic auth, headers, rate "
        "limit, for every path. See docs/security.md.",
    )
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument(
        "--once",
        action="store_true",
        help="Poll every source once, print the result and exit "
        "(0 if every source succeeded, 1 otherwise).",
    )
    mode.add_argument(
        "--check",
        action="store_true",
        help="Validate the config and test each account's credential with one "
        "cheap call; exit non-zero on any failure.",
    )
    parser.add_argument(
        "--format",
        dest="fmt",
        default="prometheus",
        choices=["prometheus", "json", "csv"],
        help="Output of --once.",
    )
    parser.add_argument(
        "--allow-empty",
        action="store_true",
        help="Start even when no account is configured (serves health only).",
    )
    parser.add_argument(
        "--demo",
        nargs="?",
        const="always",
        choices=["always", "auto"],
        help="Serve a simulated organisation (built-in provider simulator on loopback; "
        "accounts named 'demo'); needs no key. --demo=auto does so only when no account is "
        "configured (what docker-compose.yml uses).",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    return parser


def _add_config_flags(parser: argparse.ArgumentParser) -> None:
    """``--config.file``, ``--log.level``, ``--log.format``: shared by serving and backfill."""
    parser.add_argument(
        "--config.file",
        dest="config_file",
        type=Path,
        default=os.environ.get("LLM_EXPORTER_CONFIG") or None,
        help="YAML config file (env LLM_EXPORTER_CONFIG). Without one, accounts are "
        "discovered from "
        + ", ".join(spec.env_var for spec in PROVIDERS.values() if spec.env_var)
        + ".",
    )
    parser.add_argument(
        "--log.level",
        dest="log_level",
        default="info",
        choices=["debug", "info", "warning", "error"],
    )
    parser.add_argument("--log.format", dest="log_format", default="text", choices=["text", "json"])


def build_backfill_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=f"llm-cost-exporter {BACKFILL}",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description="""\
Write past months of provider history as OpenMetrics with timestamps, for
'promtool tsdb create-blocks-from openmetrics FILE DIR'.

For every configured account (same config and environment as the exporter), each
month of the range is fetched from the sources whose data comes in time buckets
(OpenAI costs and usage, Anthropic cost report and usage, OpenRouter activity, ...);
sources that only report current values (balances, quotas, names) are skipped and
listed. At the end of each day (00:00 UTC, or 23:59:59 on a month's last day) every
month-to-date series the live exporter exposes gets one sample with the same name,
labels and value; counters reset at each month boundary. Nothing is written unless
every month of every source was fetched.""",
        epilog="""\
Stop before the data your Prometheus already scraped: use --until = the day (or
month) before the exporter's first scrape, and pass the scrape's target labels
(e.g. --label job=llm-cost-exporter --label instance=exporter:9771) so history and
live data are one series. Backfilled samples are one per day: instant queries at a
past time need a range such as last_over_time(llm_cost_usd_total[1d]).
Procedure (compose stack and existing Prometheus): docs/backfill.md.

exit status: 0 written, 1 history could not be fetched or written, 2 bad arguments
or configuration.""",
    )
    _add_config_flags(parser)
    parser.add_argument(
        "--since",
        required=True,
        metavar="YYYY-MM[-DD]",
        help="First month (or day) to write, UTC. Month-to-date values always count from "
        "the 1st, so a day only trims the first samples.",
    )
    parser.add_argument(
        "--until",
        required=True,
        metavar="YYYY-MM[-DD]",
        help="Last month (or day) to write, inclusive, UTC. The current month ends "
        "yesterday; a day must be over.",
    )
    parser.add_argument(
        "--output",
        required=True,
        metavar="FILE",
        help="OpenMetrics file to write ('-': standard output). Written only when complete.",
    )
    parser.add_argument(
        "--label",
        dest="labels",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="Add this label to every series (repeatable), e.g. the job and instance "
        "labels your Prometheus adds to the live series.",
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    arguments = list(sys.argv[1:] if argv is None else argv)
    if arguments[:1] == [BACKFILL]:
        return _backfill(arguments[1:])
    args = build_parser().parse_args(arguments)
    logs.configure(args.log_level, args.log_format)
    try:
        config = load(args.config_file)
    except ConfigError as exc:
        print(f"llm-cost-exporter: {exc}", file=sys.stderr)
        return 2
    web: web_config.WebConfigSource | None = None
    if args.web_config_file is not None and not args.once:
        try:
            web = web_config.WebConfigSource(web_config.load(args.web_config_file))
        except ConfigError as exc:
            print(f"llm-cost-exporter: --web.config.file: {exc}", file=sys.stderr)
            return 2
    if args.demo == "auto" and config.accounts:
        args.demo = None
    if args.demo:
        if args.check or args.once:
            print("llm-cost-exporter: --demo only serves; drop --once/--check", file=sys.stderr)
            return 2
        return _serve(config, args.listen, web, demo=True)
    if not config.accounts and not args.allow_empty:
        print(_nothing_configured(), file=sys.stderr)
        return 2
    if args.check:
        if web is not None:
            print(f"web config {web.path}: ok ({web.current().describe()})")
        return asyncio.run(_check(config))
    if args.once:
        return asyncio.run(_once(config, args.fmt))
    return _serve(config, args.listen, web)


def _backfill(arguments: Sequence[str]) -> int:
    parser = build_backfill_parser()
    args = parser.parse_args(arguments)
    logs.configure(args.log_level, args.log_format)
    now = time.time()
    try:
        span = backfill.parse_span(args.since, args.until, now)
        labels = backfill.parse_labels(args.labels)
    except backfill.BackfillError as exc:
        parser.error(str(exc))
    try:
        config = load(args.config_file)
    except ConfigError as exc:
        print(f"llm-cost-exporter {BACKFILL}: {exc}", file=sys.stderr)
        return 2
    if not config.accounts:
        print(_nothing_configured(BACKFILL), file=sys.stderr)
        return 2
    try:
        history = asyncio.run(backfill.backfill(config, span, now=now, extra_labels=labels))
        backfill.save(history, args.output)
    except backfill.BackfillError as exc:
        print(f"llm-cost-exporter {BACKFILL}: {exc}", file=sys.stderr)
        print(f"llm-cost-exporter {BACKFILL}: nothing written", file=sys.stderr)
        return 1
    for line in backfill.describe(history, span, args.output):
        print(f"llm-cost-exporter {BACKFILL}: {line}", file=sys.stderr)
    return 0


def _nothing_configured(command: str | None = None) -> str:
    envs = "\n".join(
        f"  {spec.env_var:<22} {spec.title}: {spec.key_hint}"
        for spec in PROVIDERS.values()
        if spec.env_var  # config-only providers (subscriptions, local logs) have none
    )
    head = (
        f"llm-cost-exporter{' ' + command if command else ''}: no accounts configured.\n"
        "Set at least one of these environment variables (or NAME_FILE pointing at a file):\n"
        f"{envs}\n"
        "or pass --config.file with an `accounts:` list (see README, Configuration)"
    )
    if command:
        return head + "."
    return head + (
        ",\nor pass --demo to see it work on simulated data,\n"
        "or pass --allow-empty to serve only the exporter's own health metrics."
    )


async def _once(config: Config, fmt: str) -> int:
    async with aiohttp.ClientSession(trust_env=True) as session:
        poller = Poller(config, session)
        snapshot = await poller.poll_once()
    sys.stdout.write(render(snapshot, fmt))
    failed = [s for s in poller.states if not s.up and s.unavailable is None]
    for state in failed:
        print(
            f"llm-cost-exporter: {state.provider}/{state.account} {state.source}: "
            f"{state.last_error}",
            file=sys.stderr,
        )
    return 1 if failed else 0


async def _check(config: Config) -> int:
    failures = 0
    async with aiohttp.ClientSession(trust_env=True) as session:
        for account in config.accounts:
            spec = PROVIDERS[account.provider]
            label = f"{account.provider}/{account.account}"
            secret = account.secret if spec.needs_key else ""
            if secret is None or (spec.needs_key and not secret):
                print(f"{label}: missing key ({spec.key_hint})")
                failures += 1
                continue
            if not spec.needs_key or spec.options.model_fields:
                # The check needs the account's own options (credential files, log paths,
                # team ids), which the provider's check() cannot see: poll its sources once.
                failures += await _check_by_polling(config, account, session, label)
                continue
            upstream = account_upstream(
                session,
                account,
                secret,
                RequestStats(),
                retry=RetryPolicy(attempts=2, max_retry_after=10),
                timeout=min(account.timeout, 30),
            )
            try:
                await spec.check(upstream)
            except AuthError:
                print(f"{label}: auth failed (the key was rejected; {spec.key_hint})")
            except (UpstreamConnectionError, UpstreamTimeoutError) as exc:
                print(f"{label}: unreachable ({exc})")
            except SourceError as exc:
                print(f"{label}: error ({exc.reason}: {exc})")
            else:
                print(f"{label}: ok")
                continue
            failures += 1
    return 1 if failures else 0


async def _check_by_polling(
    config: Config, account: AccountConfig, session: aiohttp.ClientSession, label: str
) -> int:
    """One poll of every source of ``account``; prints one line; returns 1 on failure."""
    poller = Poller(config.model_copy(update={"accounts": (account,), "budgets": ()}), session)
    await poller.poll_once()
    failed = [s for s in poller.states if not s.up and s.unavailable is None]
    if not failed:
        print(f"{label}: ok")
        return 0
    reasons = "; ".join(f"{s.source}: {s.last_error}" for s in failed)
    kind = "auth failed" if any("credential" in (s.last_error or "") for s in failed) else "error"
    print(f"{label}: {kind} ({reasons})")
    return 1


def _serve(
    config: Config, listen: str, web: web_config.WebConfigSource | None, *, demo: bool = False
) -> int:
    import uvicorn

    from exporter.app import create_app

    host, _, port = listen.rpartition(":")
    host = host.strip("[]") or "0.0.0.0"
    try:
        port_number = int(port)
    except ValueError:
        print(
            f"llm-cost-exporter: --web.listen-address: expected HOST:PORT, got {listen!r}",
            file=sys.stderr,
        )
        return 2
    log.info(
        "starting llm-cost-exporter %s on %s with %d account(s)",
        __version__,
        listen,
        len(config.accounts),
    )
    app: ASGIApp = create_app(config, demo=demo)
    options: dict[str, Any] = {}
    if web is not None:
        app = web_config.WebConfigMiddleware(app, web)
        options = web_config.uvicorn_options(web)
    uvicorn.run(
        app,
        host=host,
        port=port_number,
        log_config=None,
        access_log=False,
        lifespan="on",
        server_header=False,
        **options,
    )
    return 0
