"""Command line: serve (default), ``--once``, ``--check``.

Flags follow the Prometheus exporter style (``--config.file``, ``--web.listen-address``,
``--log.level``, ``--log.format``).
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys
from collections.abc import Sequence
from pathlib import Path

import aiohttp

from exporter import __version__, logs
from exporter.config import Config, load
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

DEFAULT_LISTEN = "0.0.0.0:9771"

log = logging.getLogger("exporter")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="llm-cost-exporter",
        description="Prometheus exporter for LLM spend, usage, credits and quotas.",
    )
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
        "--web.listen-address",
        dest="listen",
        default=DEFAULT_LISTEN,
        help=f"HOST:PORT to serve /metrics on (default {DEFAULT_LISTEN}).",
    )
    parser.add_argument(
        "--log.level",
        dest="log_level",
        default="info",
        choices=["debug", "info", "warning", "error"],
    )
    parser.add_argument("--log.format", dest="log_format", default="text", choices=["text", "json"])
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


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logs.configure(args.log_level, args.log_format)
    try:
        config = load(args.config_file)
    except ConfigError as exc:
        print(f"llm-cost-exporter: {exc}", file=sys.stderr)
        return 2
    if args.demo == "auto" and config.accounts:
        args.demo = None
    if args.demo:
        if args.check or args.once:
            print("llm-cost-exporter: --demo only serves; drop --once/--check", file=sys.stderr)
            return 2
        return _serve(config, args.listen, demo=True)
    if not config.accounts and not args.allow_empty:
        print(_nothing_configured(), file=sys.stderr)
        return 2
    if args.check:
        return asyncio.run(_check(config))
    if args.once:
        return asyncio.run(_once(config, args.fmt))
    return _serve(config, args.listen)


def _nothing_configured() -> str:
    envs = "\n".join(
        f"  {spec.env_var:<22} {spec.title}: {spec.key_hint}" for spec in PROVIDERS.values()
    )
    return (
        "llm-cost-exporter: no accounts configured.\n"
        "Set at least one of these environment variables (or NAME_FILE pointing at a file):\n"
        f"{envs}\n"
        "or pass --config.file with an `accounts:` list (see README, Configuration),\n"
        "or pass --demo to see it work on simulated data,\n"
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


def _serve(config: Config, listen: str, *, demo: bool = False) -> int:
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
    uvicorn.run(
        create_app(config, demo=demo),
        host=host,
        port=port_number,
        log_config=None,
        access_log=False,
        lifespan="on",
        server_header=False,
    )
    return 0
