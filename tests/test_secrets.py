"""Secrets never leave the exporter (issue 8).

Every credential the exporter can hold gets a distinctive random value made for this run: the
OpenAI and Anthropic Admin keys, the OpenRouter, DeepSeek, Moonshot, Groq, xAI and Fireworks
keys (inline, ``${VAR}`` and ``api_key_file``), the Claude, Codex and Gemini OAuth files
(access, refresh and id tokens, the Codex account id), an access token in an environment
variable (``token_env``), wrong keys, tokens inside broken credential files, and the
``--web.config.file`` basic-auth password (with its bcrypt hash and the headers carrying it).
The provider simulator (in this process, on loopback) is built to accept exactly these.

The real exporter then runs as users run it (the console script, ``--log.level debug``, text
and JSON logs): serving (every route fetched; once behind basic auth), ``--once`` in all three
formats and ``--check``, against the simulator and against hostile copies of it, whose faults
are injected with :mod:`exporter.simulator.faults`: 401, 403, 400, 404, 302, 429, 500 and 503
with the request's credentials echoed in body and headers, malformed, non-UTF-8, HTML and
truncated bodies quoting the credential, dropped connections, timeouts, wrong schemas, looping
pagination, and 200 answers whose every string or number is the credential the request
carried. Every byte it writes (logs, bodies, stdout) is searched for any 8-character fragment
of any secret.

In-process: reprs and strs of the configuration, clients, credentials and source states;
log records of a poll round; exceptions raised against the hostile servers (with their
tracebacks); configuration errors; and the ``api_key`` label values, which must be the
providers' key ids, never key material.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import gzip
import json
import logging
import os
import secrets
import shutil
import signal
import subprocess
import sys
import threading
import time
import traceback
import urllib.error
import urllib.request
from collections.abc import Awaitable, Callable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import bcrypt
import pytest
import yaml
from aiohttp import web
from pydantic import SecretStr

from exporter.config import AccountConfig, load
from exporter.errors import ConfigError, SourceError
from exporter.poller import Poller, account_upstream
from exporter.providers import PROVIDERS
from exporter.providers import claude_subscription as claude_sub
from exporter.providers import codex_subscription as codex_sub
from exporter.providers import gemini_subscription as gemini_sub
from exporter.providers.anthropic import CONSOLE_KEY
from exporter.simulator import OrgModel, create_app
from exporter.simulator import balances as sim_balances
from exporter.simulator import faults as sim_faults
from exporter.simulator import openrouter as sim_openrouter
from exporter.simulator import subscriptions as sim_subscriptions
from exporter.simulator.agent_logs import AgentLogWriter
from exporter.upstream import RequestStats, RetryPolicy, Upstream

# --------------------------------------------------------------------------- the leak checker

#: A fragment of a secret this long or longer found in any output is a leak.
WINDOW = 8


def mask(secret: str) -> str:
    """How a secret is named in a failure message: two characters and its length."""
    return f"{secret[:2]}…({len(secret)} chars)"


@dataclass(frozen=True)
class Leak:
    where: str
    line: int
    secret: str
    masked: str
    start: int
    length: int
    context: str

    def __str__(self) -> str:
        return (
            f"{self.where}, line {self.line}: characters {self.start}-"
            f"{self.start + self.length} of secret {self.secret} ({self.masked}) leaked: "
            f"{self.context}"
        )


class SecretBook:
    """Named secrets, and where any 8-character fragment of one appears in a text."""

    #: Texts are probed every ``_STRIDE`` characters for a fragment this long: any 8-character
    #: fragment covers one probe position (an aligned 4-gram), so none is missed.
    _STRIDE = 4

    def __init__(self) -> None:
        self.values: dict[str, str] = {}
        self._names: dict[str, str] = {}
        self._windows: dict[str, tuple[str, int]] = {}
        self._grams: set[str] = set()

    def new(self, name: str, tag: str) -> str:
        """A fresh random secret; ``tag`` (at most 4 characters) says what it is."""
        assert len(tag) <= 4
        return self.add(name, f"{tag}{secrets.token_urlsafe(30)}")

    def add(self, name: str, value: str) -> str:
        assert name not in self.values and len(value) >= WINDOW, name
        self.values[name] = value
        self._names[value] = name
        for i in range(len(value) - WINDOW + 1):
            self._windows.setdefault(value[i : i + WINDOW], (name, i))
        for i in range(len(value) - self._STRIDE + 1):
            self._grams.add(value[i : i + self._STRIDE])
        return value

    def name_of(self, value: str) -> str | None:
        return self._names.get(value)

    def leaks(self, text: str, where: str) -> list[Leak]:
        spans = self._spans(text)
        found = []
        for i, length, name, start in spans:
            line_start = text.rfind("\n", 0, i) + 1
            line_end = text.find("\n", i)
            line_end = len(text) if line_end < 0 else line_end
            left, right = max(line_start, i - 60), min(line_end, i + length + 60)
            # The context shows every secret on it masked, not only this one.
            shown, at = "", left
            for j, n, other, o in spans:
                if j + n <= left or j >= right:
                    continue
                shown += text[at:j] + f"«{other}[{o}:{o + n}]»"
                at = j + n
            shown += text[at:right]
            line = text.count("\n", 0, i) + 1
            found.append(Leak(where, line, name, mask(self.values[name]), start, length, shown))
        return found

    def _spans(self, text: str) -> list[tuple[int, int, str, int]]:
        """(position, length, secret name, offset in the secret) of each leaked fragment."""
        spans: list[tuple[int, int, str, int]] = []
        stride, grams, windows = self._STRIDE, self._grams, self._windows
        resume = 0  # text before this is part of a fragment already found
        for probe in range(0, len(text) - stride + 1, stride):
            if text[probe : probe + stride] not in grams:
                continue
            for i in range(max(probe - WINDOW + stride, resume), probe + 1):
                hit = windows.get(text[i : i + WINDOW])
                if hit is None:
                    continue
                name, start = hit
                secret = self.values[name]
                length = WINDOW
                while (
                    start + length < len(secret)
                    and i + length < len(text)
                    and text[i + length] == secret[start + length]
                ):
                    length += 1
                spans.append((i, length, name, start))
                resume = i + length
                break
        return spans


def assert_no_leaks(book: SecretBook, outputs: Sequence[tuple[str, str]]) -> None:
    seen: set[str] = set()
    leaks: list[Leak] = []
    for where, text in outputs:
        if text not in seen:  # e.g. /metrics plain and gzipped: searched once
            seen.add(text)
            leaks += book.leaks(text, where)
    if leaks:
        # No traceback: pytest would show the outputs (and so the secrets) as arguments.
        report = "\n".join(str(leak) for leak in leaks[:40])
        pytest.fail(f"{len(leaks)} secret leak(s):\n{report}", pytrace=False)


# --------------------------------------------------------------------------- the secrets

#: The providers that send a credential over HTTP, and the path of their API on the simulator.
API_PROVIDERS: dict[str, str] = {
    "openai": "",
    "anthropic": "",
    "openrouter": sim_openrouter.PREFIX,
    "deepseek": sim_balances.DEEPSEEK_PREFIX,
    "moonshot": sim_balances.MOONSHOT_PREFIX,
    "groq": sim_balances.GROQ_PREFIX,
    "xai": sim_balances.XAI_PREFIX,
    "fireworks": sim_balances.FIREWORKS_PREFIX,
}
OAUTH_PROVIDERS: dict[str, str] = {
    "claude_subscription": sim_subscriptions.CLAUDE_PREFIX,
    "codex_subscription": sim_subscriptions.CHATGPT_PREFIX,
    "gemini_subscription": sim_subscriptions.GEMINI_PREFIX,
}
HTTP_PROVIDERS = {**API_PROVIDERS, **OAUTH_PROVIDERS}
#: How each API provider's key reaches the config: inline, ``${VAR}`` or ``api_key_file``.
KEY_STYLE = {
    "openai": "env",
    "anthropic": "file",
    "openrouter": "inline",
    "deepseek": "file",
    "moonshot": "env",
    "groq": "inline",
    "xai": "file",
    "fireworks": "env",
}
OPTIONS: dict[str, dict[str, Any]] = {
    "moonshot": {"currency": "CNY"},
    "xai": {"team_id": sim_balances.XAI_TEAM},
    "fireworks": {"account_id": sim_balances.FIREWORKS_ACCOUNT},
}
#: The simulator's credential name of each Bearer provider.
SIM_CREDENTIAL = {
    "openrouter": "openrouter",
    "deepseek": "deepseek",
    "moonshot": "moonshot",
    "groq": "groq",
    "xai": "xai",
    "fireworks": "fireworks",
    "claude_subscription": "claude",
    "codex_subscription": "codex",
    "gemini_subscription": "gemini",
}
YEAR = 365 * 86400
WEB_USER = "prometheus"
#: OpenAI's other usage sources parse the same way and would only load the simulator.
OPENAI_SOURCES = ["costs", "usage_completions", "usage_images", "projects", "spend_limits"]


def fake_jwt(claims: Mapping[str, Any], signature: str) -> str:
    def part(value: Mapping[str, Any]) -> str:
        raw = json.dumps(value, separators=(",", ":")).encode()
        return base64.urlsafe_b64encode(raw).decode().rstrip("=")

    return f"{part({'alg': 'none', 'typ': 'JWT'})}.{part(claims)}.{signature}"


def make_book() -> SecretBook:
    book = SecretBook()
    for provider in API_PROVIDERS:
        book.new(f"{provider}.key", "k")
        book.new(f"{provider}.wrong_key", "w")
    book.new("claude.access", "ca")
    book.new("claude.refresh", "cr")
    book.new("claude.env_token", "ce")
    book.new("claude.wrong_access", "cw")
    book.new("codex.account_id", "acct")
    book.new("codex.refresh", "xr")
    book.new("codex.api_key", "xk")
    for kind in ("access", "wrong_access"):
        book.add(
            f"codex.{kind}",
            fake_jwt(
                {
                    "exp": int(time.time()) + YEAR,
                    "https://api.openai.com/auth": {
                        "chatgpt_account_id": book.values["codex.account_id"]
                    },
                    "nonce": secrets.token_urlsafe(12),
                },
                secrets.token_urlsafe(24),
            ),
        )
    book.add(
        "codex.id_token",
        fake_jwt({"email": f"{secrets.token_hex(6)}@example.com"}, secrets.token_urlsafe(24)),
    )
    book.new("gemini.access", "ga")
    book.new("gemini.refresh", "gr")
    book.new("gemini.id_token", "gi")
    book.new("gemini.wrong_access", "gw")
    # The exporter's own web server: a basic-auth password, its hash, the headers sent.
    for name in ("password", "wrong_password"):
        password = book.new(f"web.{name}", "wp")
        book.add(f"web.{name}.header", basic_auth(password).removeprefix("Basic "))
    hashed = bcrypt.hashpw(book.values["web.password"].encode(), bcrypt.gensalt(4))
    book.add("web.password_hash", hashed.decode())
    return book


# --------------------------------------------------------------------------- hostile servers

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
CREDENTIAL_HEADERS = ("Authorization", "x-api-key", "ChatGPT-Account-Id")


def sent_credential(request: web.Request) -> str:
    """The credential the request carries (the token of ``Authorization: Bearer``)."""
    auth = request.headers.get("Authorization", "")
    return auth.removeprefix("Bearer ") or request.headers.get("x-api-key", "")


@dataclass(frozen=True)
class EchoError:
    """``status`` with every request header echoed in the body and in response headers."""

    status: int
    retry_after: str | None = None

    async def respond(
        self, request: web.Request, handler: Handler, rule: sim_faults.FaultRule
    ) -> web.StreamResponse:
        token = sent_credential(request)
        body = {
            "error": {
                "message": f"Incorrect API key provided: {token}",
                "type": "invalid_request_error",
                "request_headers": dict(request.headers),
            }
        }
        headers = {
            "WWW-Authenticate": f'Bearer error="invalid_token", error_description="{token}"',
            "X-Echo": request.headers.get("Authorization", token),
            "Location": f"http://127.0.0.1:9/steal?token={token}",
        }
        if self.retry_after is not None:
            headers["Retry-After"] = self.retry_after
        return web.json_response(body, status=self.status, headers=headers)


@dataclass(frozen=True)
class EchoRaw:
    """``200`` with a body (not JSON, or not UTF-8) quoting the credential."""

    make: Callable[[str], bytes]
    content_type: str = "application/json"

    async def respond(
        self, request: web.Request, handler: Handler, rule: sim_faults.FaultRule
    ) -> web.StreamResponse:
        body = self.make(sent_credential(request))
        return web.Response(body=body, content_type=self.content_type)


def replace_leaves(node: Any, numbers: bool, value: str) -> Any:
    if isinstance(node, dict):
        return {k: replace_leaves(v, numbers, value) for k, v in node.items()}
    if isinstance(node, list):
        return [replace_leaves(v, numbers, value) for v in node]
    if numbers and isinstance(node, int | float) and not isinstance(node, bool):
        return value
    if not numbers and isinstance(node, str):
        return value
    return node


@dataclass(frozen=True)
class EchoLeaves:
    """The real answer with every string (or number) replaced by the request's credential:
    ids, names, cursors and amounts that are the key."""

    numbers: bool

    async def respond(
        self, request: web.Request, handler: Handler, rule: sim_faults.FaultRule
    ) -> web.StreamResponse:
        response = await handler(request)
        if response.status != 200 or not isinstance(response, web.Response):
            return response
        assert isinstance(response.body, bytes)
        token = sent_credential(request)
        shown = f"Bearer {token}" if self.numbers else token
        return web.json_response(replace_leaves(json.loads(response.body), self.numbers, shown))


@dataclass(frozen=True)
class EchoTruncated:
    """A ``Content-Length`` larger than the body sent (which quotes the credential), then the
    connection closes (like ``faults.TruncatedBody``, without computing the real answer)."""

    async def respond(
        self, request: web.Request, handler: Handler, rule: sim_faults.FaultRule
    ) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "application/json"})
        response.content_length = 4096
        response.force_close()
        await response.prepare(request)
        await response.write(b'{"id": "' + sent_credential(request).encode())
        return response


@dataclass(frozen=True)
class Hang:
    """Nothing for ``seconds`` (a read timeout), then an error (like ``faults.Stall``, without
    computing an answer nobody waits for any more)."""

    seconds: float

    async def respond(
        self, request: web.Request, handler: Handler, rule: sim_faults.FaultRule
    ) -> web.StreamResponse:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(rule.released.wait(), self.seconds)
        return await EchoError(500).respond(request, handler, rule)


class Disconnect:
    """The connection closes before any answer (faults.py has no connection-level fault)."""

    async def respond(
        self, request: web.Request, handler: Handler, rule: sim_faults.FaultRule
    ) -> web.StreamResponse:
        response = web.StreamResponse()
        if request.transport is not None:
            request.transport.close()
        return response


#: Faults the exporter gives up on at once; ``SLOW_FAULTS`` are retried with backoff first.
FAST_FAULTS: dict[str, sim_faults.Fault] = {
    "e401": EchoError(401),
    "e403": EchoError(403),
    "e400": EchoError(400),
    "e404": EchoError(404),
    "e302": EchoError(302),
    "e429": EchoError(429, retry_after="0"),
    "e503": EchoError(503, retry_after="0"),
    "badjson": EchoRaw(lambda t: f'{{"data": [{{"id": "{t}", "amount": {t}'.encode()),
    "notutf8": EchoRaw(lambda t: b'{"id": "' + t.encode() + b'\xff\xfe"}'),
    "html": EchoRaw(lambda t: f"<html><body>token {t}</body></html>".encode(), "text/html"),
    "strings": EchoLeaves(numbers=False),
    "numbers": EchoLeaves(numbers=True),
    "malformed": sim_faults.MalformedJson(),
    "schema": sim_faults.WrongSchema(),
    "pageloop": sim_faults.PageLoop(),
}
SLOW_FAULTS: dict[str, sim_faults.Fault] = {
    "e500": EchoError(500),
    "truncated": EchoTruncated(),
    "disconnect": Disconnect(),
    "timeout": Hang(2.0),  # the fault accounts time out after 500 ms
}
FAULT_MATRIX = {**FAST_FAULTS, **SLOW_FAULTS}
#: The scenarios of the configuration served (see World.core_config).
CORE_SCENARIOS = frozenset({"ok", "wrong", "cf", "canary", "e401", "strings", "numbers"})


@dataclass
class Farm:
    """Simulators on loopback, served by one event loop in a background thread."""

    book: SecretBook
    loop: asyncio.AbstractEventLoop = field(default_factory=asyncio.new_event_loop)
    runners: list[web.AppRunner] = field(default_factory=list)
    apps: list[web.Application] = field(default_factory=list)
    #: fault name → names of the secrets the hostile server received.
    received: dict[str, set[str]] = field(default_factory=dict)
    urls: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        # Dropped and truncated connections are the point: not errors worth a traceback.
        self._server_log = logging.getLogger("aiohttp.server")
        self._server_log_was = self._server_log.disabled
        self._server_log.disabled = True
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()

    def serve(
        self, name: str, credentials: Mapping[str, str], fault: sim_faults.Fault | None
    ) -> str:
        async def start() -> str:
            app = create_app(
                OrgModel(seed=8),
                openai_key=self.book.values["openai.key"],
                anthropic_key=self.book.values["anthropic.key"],
                page_size=31,
                credentials=credentials,
            )
            app.middlewares.insert(0, self._recorder(name))
            if fault is not None:
                app[sim_faults.FAULTS].inject("/", fault)
            self.apps.append(app)
            runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0)
            await runner.setup()
            await web.TCPSite(runner, "127.0.0.1", 0).start()
            self.runners.append(runner)
            return f"http://127.0.0.1:{runner.addresses[0][1]}"

        url = asyncio.run_coroutine_threadsafe(start(), self.loop).result(30)
        self.urls[name] = url
        return url

    def _recorder(self, name: str) -> Any:
        """Notes which secrets the server received (before any fault answers)."""
        received = self.received.setdefault(name, set())

        @web.middleware
        async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
            for header in CREDENTIAL_HEADERS:
                value = request.headers.get(header, "").removeprefix("Bearer ")
                secret = self.book.name_of(value)
                if secret is not None:
                    received.add(secret)
            return await handler(request)

        return middleware

    def close(self) -> None:
        async def stop() -> None:
            for app in self.apps:
                app[sim_faults.FAULTS].clear()  # releases stalled answers
            for runner in self.runners:
                await runner.cleanup()

        asyncio.run_coroutine_threadsafe(stop(), self.loop).result(30)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)
        self.loop.close()
        self._server_log.disabled = self._server_log_was


# --------------------------------------------------------------------------- configuration


@dataclass
class World:
    book: SecretBook
    farm: Farm
    root: Path
    env: dict[str, str]
    #: Every scenario, every fault of the matrix included.
    matrix_config: Path
    #: Every scenario but the faults that take seconds of retries (``--check`` is sequential).
    fast_config: Path
    #: Good and wrong credentials, broken credential files and three echoing faults: for
    #: serving, where every account's poll rebuilds the whole snapshot.
    core_config: Path
    #: ``--web.config.file``: basic auth with the bcrypt hash of ``web.password``.
    web_config: Path
    #: Account name → scenario (``ok``, ``wrong``, a fault name, ``cf``...).
    accounts: dict[str, str]
    canary: SecretBook


def _write_json(path: Path, body: Any) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(body if isinstance(body, str) else json.dumps(body), encoding="utf-8")
    return path


def credential_files(root: Path, book: SecretBook, prefix: str) -> dict[str, Path]:
    """The three CLIs' credential files, holding ``<prefix>access`` tokens."""
    v = book.values
    expires_ms = int((time.time() + YEAR) * 1000)
    return {
        "claude_subscription": _write_json(
            root / "claude" / ".credentials.json",
            {
                "claudeAiOauth": {
                    "accessToken": v[f"claude.{prefix}access"],
                    "refreshToken": v["claude.refresh"],
                    "expiresAt": expires_ms,
                    "scopes": ["user:inference", "user:profile"],
                    "subscriptionType": "max",
                }
            },
        ),
        "codex_subscription": _write_json(
            root / "codex" / "auth.json",
            {
                "OPENAI_API_KEY": None,
                "tokens": {
                    "id_token": v["codex.id_token"],
                    "access_token": v[f"codex.{prefix}access"],
                    "refresh_token": v["codex.refresh"],
                    "account_id": v["codex.account_id"],
                },
                "last_refresh": "2026-01-01T00:00:00Z",
            },
        ),
        "gemini_subscription": _write_json(
            root / "gemini" / "oauth_creds.json",
            {
                "access_token": v[f"gemini.{prefix}access"],
                "refresh_token": v["gemini.refresh"],
                "id_token": v["gemini.id_token"],
                "scope": "https://www.googleapis.com/auth/cloud-platform openid",
                "token_type": "Bearer",
                "expiry_date": expires_ms,
            },
        ),
    }


def broken_credential_files(root: Path, book: SecretBook) -> list[tuple[str, str, Path]]:
    """(provider, account name, file) of credential files the sources must refuse."""
    t = book.new
    past_ms = int((time.time() - 3600) * 1000)
    files: list[tuple[str, str, Any]] = [
        (
            "claude_subscription",
            "cf.claude.badjson",
            '{"claudeAiOauth": {"accessToken": "' + t("cf.claude.badjson", "cb") + '", ',
        ),
        (
            "claude_subscription",
            "cf.claude.expired",
            {"claudeAiOauth": {"accessToken": t("cf.claude.expired", "cx"), "expiresAt": past_ms}},
        ),
        (
            "claude_subscription",
            "cf.claude.noscope",
            {"claudeAiOauth": {"accessToken": t("cf.claude.noscope", "cn"), "scopes": ["x"]}},
        ),
        (
            "claude_subscription",
            "cf.claude.types",
            {
                "claudeAiOauth": {
                    "accessToken": t("cf.claude.types", "ct"),
                    "expiresAt": t("cf.claude.types.expiry", "cy"),
                }
            },
        ),
        (
            "claude_subscription",
            "cf.claude.tokentype",
            {"claudeAiOauth": {"accessToken": [t("cf.claude.tokentype", "cl")]}},
        ),
        (
            "codex_subscription",
            "cf.codex.badjson",
            '{"tokens": {"access_token": "' + t("cf.codex.badjson", "xb") + '"',
        ),
        (
            "codex_subscription",
            "cf.codex.apikey",
            {"OPENAI_API_KEY": book.values["codex.api_key"], "tokens": None},
        ),
        (
            "codex_subscription",
            "cf.codex.expired",
            {
                "tokens": {
                    "access_token": book.add(
                        "cf.codex.expired",
                        fake_jwt({"exp": int(time.time()) - 60}, secrets.token_urlsafe(24)),
                    )
                }
            },
        ),
        (
            "codex_subscription",
            "cf.codex.exptype",
            {
                "tokens": {
                    "access_token": book.add(
                        "cf.codex.exptype",
                        fake_jwt(
                            {"exp": t("cf.codex.exptype.exp", "xe")}, secrets.token_urlsafe(24)
                        ),
                    )
                }
            },
        ),
        ("codex_subscription", "cf.codex.tokens", {"tokens": t("cf.codex.tokens", "xt")}),
        (
            "gemini_subscription",
            "cf.gemini.badjson",
            '{"access_token": "' + t("cf.gemini.badjson", "gb") + '", "expiry_date": ',
        ),
        (
            "gemini_subscription",
            "cf.gemini.expired",
            {"access_token": t("cf.gemini.expired", "gx"), "expiry_date": past_ms},
        ),
        (
            "gemini_subscription",
            "cf.gemini.types",
            {
                "access_token": t("cf.gemini.types", "gt"),
                "expiry_date": t("cf.gemini.types.expiry", "gy"),
            },
        ),
        (
            "gemini_subscription",
            "cf.gemini.tokentype",
            {"access_token": {"value": t("cf.gemini.tokentype", "gl")}},
        ),
    ]
    return [
        (provider, name, _write_json(root / "broken" / f"{name}.json", body))
        for provider, name, body in files
    ]


def build_world(root: Path, book: SecretBook, farm: Farm) -> World:
    v = book.values
    keyfiles = root / "keys"
    keyfiles.mkdir(parents=True)
    env: dict[str, str] = {}

    def api_key(provider: str, which: str) -> dict[str, Any]:
        secret = v[f"{provider}.{which}"]
        style = KEY_STYLE[provider]
        if style == "inline":
            return {"api_key": secret}
        if style == "env":
            var = f"LEAKTEST_{provider.upper()}_{which.upper()}"
            env[var] = secret
            return {"api_key": f"${{{var}}}"}
        path = keyfiles / f"{provider}.{which}"
        path.write_text(secret + "\n", encoding="utf-8")
        return {"api_key_file": str(path)}

    good = {SIM_CREDENTIAL[p]: v[f"{p}.key"] for p in API_PROVIDERS if p in SIM_CREDENTIAL}
    good |= {"claude": v["claude.access"], "codex": v["codex.access"], "gemini": v["gemini.access"]}
    urls = {"ok": farm.serve("ok", good, None)}
    urls["env"] = farm.serve("env", {**good, "claude": v["claude.env_token"]}, None)
    for fault_name, fault in FAULT_MATRIX.items():
        urls[fault_name] = farm.serve(fault_name, good, fault)

    files = credential_files(root / "good", book, "")
    wrong_files = credential_files(root / "wrong", book, "wrong_")
    writer = AgentLogWriter(8, root / "good" / "claude", root / "good" / "codex", history=86400)
    writer.write_until(time.time())

    accounts: list[dict[str, Any]] = []
    scenarios: dict[str, str] = {}

    def add(scenario: str, provider: str, base: str | None, **fields: Any) -> None:
        name = f"{scenario}.{provider}" if "name" not in fields else fields.pop("name")
        entry: dict[str, Any] = {"provider": provider, "name": name}
        if provider == "openai":
            entry["sources"] = OPENAI_SOURCES
        if base is not None:
            entry["base_url"] = base + HTTP_PROVIDERS.get(provider, "")
        entry.update(fields)
        accounts.append(entry)
        scenarios[name] = scenario

    for scenario, which, oauth_files in (("ok", "key", files), ("wrong", "wrong_key", wrong_files)):
        for provider in API_PROVIDERS:
            options = OPTIONS.get(provider, {})
            add(scenario, provider, urls["ok"], options=options, **api_key(provider, which))
        for provider in OAUTH_PROVIDERS:
            option = "auth_file" if provider == "codex_subscription" else "credentials_file"
            add(scenario, provider, urls["ok"], options={option: str(oauth_files[provider])})
    env["LEAKTEST_CLAUDE_TOKEN"] = v["claude.env_token"]
    add(
        "ok",
        "claude_subscription",
        urls["env"],
        name="ok.claude_env",
        options={"token_env": "LEAKTEST_CLAUDE_TOKEN"},
    )
    add("ok", "claude_code", None, options={"paths": [str(root / "good" / "claude")]})
    add("ok", "codex", None, options={"paths": [str(root / "good" / "codex")]})
    for fault_name in FAULT_MATRIX:
        for provider in API_PROVIDERS:
            fields = api_key(provider, "key")
            if fault_name == "timeout":
                fields["timeout"] = "500ms"
            add(fault_name, provider, urls[fault_name], options=OPTIONS.get(provider, {}), **fields)
        for provider in OAUTH_PROVIDERS:
            option = "auth_file" if provider == "codex_subscription" else "credentials_file"
            timeout = {"timeout": "500ms"} if fault_name == "timeout" else {}
            add(
                fault_name,
                provider,
                urls[fault_name],
                options={option: str(files[provider])},
                **timeout,
            )
    for provider, name, path in broken_credential_files(root, book):
        option = "auth_file" if provider == "codex_subscription" else "credentials_file"
        add("cf", provider, urls["ok"], name=name, options={option: str(path)})

    # A canary: a secret of another book shown on purpose (an account name), so the tests
    # prove that the outputs searched really hold what the exporter wrote.
    canary = SecretBook()
    canary_value = canary.add("canary", "Canary" + secrets.token_hex(12))
    add("canary", "deepseek", urls["ok"], name=canary_value, **api_key("deepseek", "key"))

    def write(name: str, keep: Callable[[str], bool]) -> Path:
        chosen = [a for a in accounts if keep(scenarios[a["name"]])]
        body = {"poll_interval": "5m", "accounts": chosen}
        path = root / name
        path.write_text(yaml.safe_dump(body, sort_keys=False), encoding="utf-8")
        return path

    matrix = write("matrix.yml", lambda s: True)
    fast = write("fast.yml", lambda s: s not in SLOW_FAULTS)
    core = write("core.yml", lambda s: s in CORE_SCENARIOS)
    web_config = root / "web.yml"
    web_config.write_text(
        yaml.safe_dump({"basic_auth_users": {WEB_USER: v["web.password_hash"]}}), encoding="utf-8"
    )
    home = root / "home"
    home.mkdir()
    env |= {"HOME": str(home), "NO_PROXY": "*", "PYTHONUNBUFFERED": "1"}
    return World(book, farm, root, env, matrix, fast, core, web_config, scenarios, canary)


# --------------------------------------------------------------------------- running it

EXE = shutil.which("llm-cost-exporter")


def command(*args: str) -> list[str]:
    return [EXE, *args] if EXE else [sys.executable, "-m", "exporter", *args]


def clean_env(extra: Mapping[str, str]) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("LLM_EXPORTER_")
        and k not in ("CLAUDE_CONFIG_DIR", "CODEX_HOME", "HTTP_PROXY", "HTTPS_PROXY")
        and not k.endswith(("_API_KEY", "_ADMIN_KEY"))
    }
    return {**env, **extra}


Outputs = list[tuple[str, str]]


def run_cli(world: World, name: str, *args: str) -> tuple[int, Outputs]:
    proc = subprocess.run(
        command(*args, "--log.level", "debug"),
        capture_output=True,
        env=clean_env(world.env),
        timeout=120,
        check=False,
    )
    return proc.returncode, [
        (f"{name} stdout", proc.stdout.decode("utf-8", "replace")),
        (f"{name} stderr", proc.stderr.decode("utf-8", "replace")),
    ]


NO_PROXY_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def fetch(url: str, headers: Mapping[str, str] | None = None) -> tuple[int, str]:
    request = urllib.request.Request(url, headers=dict(headers or {}))
    try:
        with NO_PROXY_OPENER.open(request, timeout=20) as response:
            body = response.read()
            if response.headers.get("Content-Encoding") == "gzip":
                body = gzip.decompress(body)
            return response.status, body.decode("utf-8", "replace")
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode("utf-8", "replace")


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


#: (label, path, request headers) fetched from the serving exporter after its first poll round.
ROUTES: tuple[tuple[str, str, Mapping[str, str]], ...] = (
    ("metrics", "/metrics", {}),
    ("openmetrics", "/metrics", {"Accept": "application/openmetrics-text; version=1.0.0"}),
    ("metrics-gzip", "/metrics", {"Accept-Encoding": "gzip"}),
    ("landing", "/", {}),
    ("healthy", "/-/healthy", {}),
    ("ready", "/-/ready", {}),
    ("unknown-route", "/no-such-route", {}),
)


def basic_auth(password: str) -> str:
    return "Basic " + base64.b64encode(f"{WEB_USER}:{password}".encode()).decode()


def serve(
    world: World, name: str, config: str, log_format: str, *, web: bool
) -> tuple[int, Outputs]:
    """Serve until the first poll round is over, fetch every route, stop; with ``web``, behind
    the web config's basic auth (and once with a wrong password)."""
    port = free_port()
    log_path = world.root / f"{name}.log"
    args = ["--config.file", config, "--web.listen-address", f"127.0.0.1:{port}"]
    args += ["--log.level", "debug", "--log.format", log_format]
    auth: dict[str, str] = {}
    routes = list(ROUTES)
    if web:
        args += ["--web.config.file", str(world.web_config)]
        auth["Authorization"] = basic_auth(world.book.values["web.password"])
        wrong = basic_auth(world.book.values["web.wrong_password"])
        routes.append(("wrong-password", "/metrics", {"Authorization": wrong}))
    with log_path.open("wb") as log_file:
        proc = subprocess.Popen(
            command(*args),
            stdout=log_file,
            stderr=subprocess.STDOUT,
            env=clean_env(world.env),
        )
        outputs: Outputs = []
        try:
            base = f"http://127.0.0.1:{port}"
            deadline = time.monotonic() + 90
            while True:
                with contextlib.suppress(OSError):
                    if fetch(base + "/-/ready", auth)[0] == 200:
                        break
                assert proc.poll() is None, log_path.read_text()
                assert time.monotonic() < deadline, "the exporter never got ready"
                time.sleep(0.2)
            for label, path, headers in routes:
                status, body = fetch(base + path, {**auth, **headers})
                outputs.append((f"{name} GET {label} -> {status}", body))
        finally:
            proc.send_signal(signal.SIGTERM)
            try:
                code = proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                code = proc.wait()
    outputs.append((f"{name} log", log_path.read_text(encoding="utf-8", errors="replace")))
    return code, outputs


@dataclass
class Run:
    name: str
    code: int
    outputs: Outputs

    def text(self, suffix: str) -> str:
        return next(t for w, t in self.outputs if w.endswith(suffix))


@dataclass(frozen=True)
class Plan:
    mode: str  # serve, once or check
    config: str  # matrix, fast or core (see World)
    log_format: str
    output: str = "prometheus"
    #: Serve behind ``--web.config.file`` (basic auth).
    web: bool = False


#: Every mode in both log formats and every ``--once`` format, debug logs on.
RUNS: dict[str, Plan] = {
    "serve-text": Plan("serve", "core", "text"),
    "serve-json": Plan("serve", "core", "json", web=True),
    "once-prometheus": Plan("once", "core", "text", "prometheus"),
    "once-json": Plan("once", "matrix", "json", "json"),
    "once-csv": Plan("once", "core", "text", "csv"),
    "check-text": Plan("check", "fast", "text"),
    "check-json": Plan("check", "core", "json"),
}


def execute(world: World, name: str) -> Run:
    plan = RUNS[name]
    config = str(getattr(world, f"{plan.config}_config"))
    if plan.mode == "serve":
        return Run(name, *serve(world, name, config, plan.log_format, web=plan.web))
    args = ["--once", "--format", plan.output] if plan.mode == "once" else ["--check"]
    args += ["--config.file", config, "--log.format", plan.log_format]
    return Run(name, *run_cli(world, name, *args))


@pytest.fixture(scope="module")
def book() -> SecretBook:
    return make_book()


@pytest.fixture(scope="module")
def world(book: SecretBook, tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(sim_subscriptions, "CODEX_ACCOUNT_ID", book.values["codex.account_id"])
        farm = Farm(book)
        try:
            yield build_world(tmp_path_factory.mktemp("secrets"), book, farm)
        finally:
            farm.close()


@pytest.fixture(scope="module")
def runs(world: World) -> dict[str, Run]:
    with ThreadPoolExecutor(max_workers=len(RUNS)) as pool:
        futures = {name: pool.submit(execute, world, name) for name in RUNS}
        return {name: future.result() for name, future in futures.items()}


def rows_of(run: Run) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = json.loads(run.text("stdout"))
    return rows


def source_up(runs: dict[str, Run]) -> dict[tuple[str, str], float]:
    return {
        (r["labels"]["account"], r["labels"]["source"]): r["value"]
        for r in rows_of(runs["once-json"])
        if r["name"] == "llm_source_up"
    }


# --------------------------------------------------------------------------- the checker


def test_checker_finds_a_leaked_fragment_and_says_where_without_showing_it() -> None:
    book = SecretBook()
    secret = book.new("example.key", "k")
    book.new("other.key", "o")
    text = "first line\nmsg=auth failed for " + secret[10:18] + " (HTTP 401)\n"
    leaks = book.leaks(text, "example log")
    assert [(x.where, x.line, x.secret, x.start, x.length) for x in leaks] == [
        ("example log", 2, "example.key", 10, 8)
    ]
    message = str(leaks[0])
    assert "example log, line 2" in message and "example.key" in message
    assert mask(secret) in message and secret[10:18] not in message
    with pytest.raises(
        pytest.fail.Exception, match=r"1 secret leak\(s\):\nexample log, line 2"
    ) as e:
        assert_no_leaks(book, [("clean output", "nothing here\n"), ("example log", text)])
    assert secret[10:18] not in str(e.value)


def test_checker_reports_a_whole_secret_once_and_ignores_short_fragments() -> None:
    book = SecretBook()
    secret = book.new("example.key", "k")
    assert [(x.start, x.length) for x in book.leaks(f'{{"key": "{secret}"}}', "json")] == [
        (0, len(secret))
    ]
    assert [(x.start, x.length) for x in book.leaks(f"a {secret[-9:]}", "tail")] == [
        (len(secret) - 9, 9)
    ]
    assert book.leaks(f"{secret[:7]} {secret[7:14]} {secret[-7:]}", "short") == []


def test_checker_finds_every_fragment_wherever_it_starts() -> None:
    book = SecretBook()
    secret = book.new("example.key", "k")
    for start in range(len(secret) - WINDOW + 1):
        for pad in range(6):
            text = "." * pad + secret[start : start + WINDOW] + "."
            assert [(x.start, x.length) for x in book.leaks(text, "t")] == [(start, WINDOW)]


# --------------------------------------------------------------------------- the real exporter


def test_every_secret_reached_the_servers(world: World, runs: dict[str, Run]) -> None:
    """The hostile servers got every credential: the exporter had every chance to leak them."""
    sent = {f"{p}.key" for p in API_PROVIDERS} | {
        "claude.access",
        "codex.access",
        "codex.account_id",
        "gemini.access",
    }
    wrong = {f"{p}.wrong_key" for p in API_PROVIDERS} | {
        "claude.wrong_access",
        "codex.wrong_access",
        "gemini.wrong_access",
    }
    received = world.farm.received
    assert received["ok"] >= sent | wrong, f"never got {(sent | wrong) - received['ok']}"
    assert "claude.env_token" in received["env"]
    for fault in FAULT_MATRIX:
        if fault != "timeout":  # its 500 ms may run out before a request is even sent
            assert received[fault] >= sent, f"{fault}: never got {sent - received[fault]}"
    never_sent = {
        name for name in world.book.values if name.endswith(("refresh", "id_token", "api_key"))
    }
    assert never_sent and not never_sent & set().union(*received.values())


@pytest.mark.parametrize("run", RUNS)
def test_no_secret_in_any_output(book: SecretBook, runs: dict[str, Run], run: str) -> None:
    assert_no_leaks(book, runs[run].outputs)


@pytest.mark.parametrize("run", RUNS)
def test_the_outputs_searched_are_what_the_exporter_wrote(
    world: World, runs: dict[str, Run], run: str
) -> None:
    """The canary account's name is in them: the search above could have found a leak."""
    found = {leak.where for w, t in runs[run].outputs for leak in world.canary.leaks(t, w)}
    if run.startswith("serve"):
        expected = {f"{run} GET {r} -> 200" for r in ("metrics", "openmetrics", "landing")}
        expected.add(f"{run} log")
    elif run.startswith("once"):
        expected = {f"{run} stdout", f"{run} stderr"}
    else:
        expected = {f"{run} stdout"}
    assert found >= expected


def test_every_route_answered_and_debug_logs_were_written(runs: dict[str, Run]) -> None:
    for name in ("serve-text", "serve-json"):
        statuses = [w.rsplit(" ", 1)[-1] for w, _ in runs[name].outputs if " GET " in w]
        wrong_password = ["401"] if RUNS[name].web else []
        assert statuses == ["200", "200", "200", "200", "200", "200", "404", *wrong_password]
        # uvicorn re-raises the SIGTERM it handled once shut down.
        assert runs[name].code in (0, -signal.SIGTERM), runs[name].text("log")[-2000:]
    assert "level=DEBUG logger=exporter.poller msg=polled " in runs["serve-text"].text("log")
    for run, stream in (("serve-json", "log"), ("once-json", "stderr"), ("check-json", "stderr")):
        lines = runs[run].text(stream).splitlines()
        # Besides log records, --once ends with one plain line per failed source.
        assert all(line.startswith(("{", "llm-cost-exporter: ")) for line in lines)
        entries = [json.loads(line) for line in lines if line.startswith("{")]
        assert entries and all({"ts", "level", "msg"} <= set(e) for e in entries)
        if run != "check-json":
            assert any(e["level"] == "debug" for e in entries)


def test_accounts_with_good_credentials_are_up_and_every_error_path_was_taken(
    world: World, runs: dict[str, Run]
) -> None:
    up = source_up(runs)
    scenario_of = world.accounts
    assert {scenario_of[a] for a, _ in up} == set(scenario_of.values())
    down = {(a, s) for (a, s), v in up.items() if scenario_of[a] == "ok" and v != 1}
    assert not down
    for scenario in ("wrong", "cf", *FAULT_MATRIX):
        values = [v for (a, _), v in up.items() if scenario_of[a] == scenario]
        assert values and 0 in values, scenario
    for scenario in ("wrong", "cf", "e401", "e403", "e429", "e500", "badjson", "timeout"):
        assert all(v == 0 for (a, _), v in up.items() if scenario_of[a] == scenario), scenario
    for run in ("once-prometheus", "once-json", "once-csv", "check-text", "check-json"):
        assert runs[run].code == 1, run
    landing = runs["serve-text"].text(" GET landing -> 200")
    for message in (
        "HTTP 401 (credential rejected)",
        "not a number: &#x27;Bearer [REDACTED]&#x27;",
        "credentials expired",
        "not valid JSON",
    ):
        assert message in landing, message
    shown = runs["once-json"].text("stderr") + runs["check-text"].text("stdout")
    for message in (
        "HTTP 401 (credential rejected)",
        "HTTP 403 (credential rejected)",
        "HTTP 400",
        "HTTP 302",
        "HTTP 429 (rate limited)",
        "HTTP 500",
        "HTTP 503",
        "malformed JSON",
        "body is not UTF-8",
        "truncated or malformed body",
        "ServerDisconnectedError",
        "timed out",
        "not a number: 'Bearer [REDACTED]'",
        "expected a JSON object page",
        "pagination cursor repeated",
        "credentials expired",
        "not valid JSON",
        "holds an API key, not a ChatGPT login",
    ):
        assert message in shown, message
    check = runs["check-text"].text("stdout")
    assert "openai/ok.openai: ok" in check and "openai/wrong.openai: auth failed" in check


def test_api_key_labels_are_key_ids_never_key_material(
    world: World, book: SecretBook, runs: dict[str, Run]
) -> None:
    org = OrgModel(seed=8).org
    allowed = (
        {"", "current", CONSOLE_KEY}
        | {k.id for k in org.openai_keys}
        | {k.id for k in org.anthropic_keys}
        | {key[0] for key in sim_openrouter.KEYS}
    )
    labels: dict[str, set[str]] = {}
    for row in rows_of(runs["once-json"]):
        value = row["labels"].get("api_key")
        if value is None:
            continue
        assert not book.leaks(value, f"api_key label of {row['name']}")
        if world.accounts[row["labels"]["account"]] == "ok":
            labels.setdefault(row["labels"]["provider"], set()).add(value)
    assert set().union(*labels.values()) <= allowed
    # Not vacuous: the ids of every provider that has them are there.
    assert labels["openai"] & {k.id for k in org.openai_keys}
    assert labels["anthropic"] & {k.id for k in org.anthropic_keys}
    assert labels["openrouter"] >= {"current", *(key[0] for key in sim_openrouter.KEYS)}


# --------------------------------------------------------------------------- in-process


def test_config_reprs_and_dumps_hide_secrets(world: World, book: SecretBook) -> None:
    config = load(world.matrix_config, environ=world.env)
    loaded = {a.name: a.secret for a in config.accounts if a.secret}
    assert loaded["ok.openai"] == book.values["openai.key"]  # ${VAR}
    assert loaded["ok.anthropic"] == book.values["anthropic.key"]  # api_key_file
    assert loaded["ok.groq"] == book.values["groq.key"]  # inline
    outputs = [
        ("repr(Config)", repr(config)),
        ("str(Config)", str(config)),
        ("Config.model_dump_json()", config.model_dump_json()),
        ("str(Config.model_dump())", str(config.model_dump())),
        ("repr(Config.model_copy())", repr(config.model_copy(update={"budgets": ()}))),
    ]
    for account in config.accounts:
        outputs += [
            (f"repr({account.name})", repr(account)),
            (f"str({account.name})", str(account)),
            (f"format({account.name})", f"{account}|{account!r}|{account!s}"),
            (f"{account.name}.model_dump_json()", account.model_dump_json()),
            (f"repr({account.name}.api_key)", repr(account.api_key)),
            (f"str({account.name}.api_key)", str(account.api_key)),
        ]
    environ = {"OPENAI_ADMIN_KEY": book.values["openai.key"], "HOME": str(world.root)}
    discovered = load(None, environ=environ)
    outputs.append(("repr(discovered Config)", repr(discovered)))
    assert_no_leaks(book, outputs)


async def test_client_and_credential_reprs_hide_secrets(world: World, book: SecretBook) -> None:
    config = load(world.matrix_config, environ=world.env)
    outputs: Outputs = []
    async with aiohttp.ClientSession() as session:
        for account in config.accounts:
            if account.secret is None:
                continue
            upstream = account_upstream(session, account, account.secret, RequestStats())
            copy = upstream.with_headers({"Authorization": f"Bearer {account.secret}"})
            outputs += [
                (f"repr(Upstream of {account.name})", repr(upstream)),
                (f"str(Upstream of {account.name})", str(upstream)),
                (f"repr(Upstream.with_headers of {account.name})", repr(copy)),
                (f"repr(Upstream.stats of {account.name})", repr(upstream.stats)),
            ]
    good = world.root / "good"
    outputs += [
        (
            "repr(ClaudeCredentials)",
            repr(
                claude_sub.load_credentials(
                    claude_sub.ClaudeSubscriptionOptions(
                        credentials_file=good / "claude" / ".credentials.json"
                    ),
                    {},
                )
            ),
        ),
        (
            "repr(ClaudeCredentials from token_env)",
            repr(
                claude_sub.load_credentials(
                    claude_sub.ClaudeSubscriptionOptions(token_env="LEAKTEST_CLAUDE_TOKEN"),
                    {},
                    env=world.env,
                )
            ),
        ),
        (
            "repr(CodexCredentials)",
            repr(
                codex_sub.load_credentials(
                    codex_sub.CodexSubscriptionOptions(auth_file=good / "codex" / "auth.json"), {}
                )
            ),
        ),
        (
            "repr(GeminiCredentials)",
            repr(
                gemini_sub.load_credentials(
                    gemini_sub.GeminiSubscriptionOptions(
                        credentials_file=good / "gemini" / "oauth_creds.json"
                    ),
                    {},
                )
            ),
        ),
    ]
    assert len(outputs) > 20
    assert_no_leaks(book, outputs)


async def test_in_process_poll_states_and_log_records_hide_secrets(
    world: World, book: SecretBook, caplog: pytest.LogCaptureFixture
) -> None:
    """One in-process poll round of every fast scenario: source states (with their memos of
    parsed credentials), error messages and log records, tracebacks included."""
    from exporter.logs import JsonFormatter

    config = load(world.core_config, environ=world.env)
    caplog.set_level("DEBUG")
    with pytest.MonkeyPatch.context() as patch:
        for name, value in world.env.items():
            patch.setenv(name, value)
        async with aiohttp.ClientSession() as session:
            poller = Poller(config, session, jitter=0)
            await poller.poll_once()
    states = poller.states
    assert all(s.up for s in states if world.accounts[s.account] == "ok")
    assert any(s.last_error for s in states)
    formatter = JsonFormatter()
    outputs: Outputs = [
        ("caplog.text", caplog.text),
        ("JsonFormatter(records)", "\n".join(formatter.format(r) for r in caplog.records)),
        ("repr(states)", repr(states)),
        ("snapshot", poller.snapshot.render().decode()),
    ]
    assert any("credentials:" in key for s in states for key in s.memo)  # memos were filled
    assert_no_leaks(book, outputs)


ECHO_TARGETS = (
    ("openai", "/v1/organization/projects", lambda key: {"Authorization": f"Bearer {key}"}),
    (
        "anthropic",
        "/v1/organizations/workspaces",
        lambda key: {"x-api-key": key, "anthropic-version": "2023-06-01"},
    ),
)


@pytest.mark.parametrize("fault", FAULT_MATRIX)
async def test_errors_from_hostile_servers_hold_no_secret(
    world: World, book: SecretBook, fault: str
) -> None:
    """A server that echoes the credential back: the exception (message, repr, traceback)
    or, for a 200, the body handed to the parsers never holds it."""
    from exporter.upstream import Limits

    outputs: Outputs = []
    async with aiohttp.ClientSession() as session:
        for provider, path, headers in ECHO_TARGETS:
            upstream = Upstream(
                session,
                world.farm.urls[fault],
                headers(book.values[f"{provider}.key"]),
                RequestStats(),
                retry=RetryPolicy(attempts=1),
                limits=Limits(request_timeout=0.5),
            )
            where = f"{fault}: {provider} GET {path}"
            try:
                body = await upstream.get_json(path, [("limit", "2")])
            except SourceError as exc:
                outputs += [
                    (f"{where}: str", str(exc)),
                    (f"{where}: repr", repr(exc)),
                    (f"{where}: traceback", "".join(traceback.format_exception(exc))),
                ]
            else:
                assert fault in ("strings", "numbers", "schema", "pageloop"), where
                outputs.append((f"{where}: body", json.dumps(body, default=str)))
    assert_no_leaks(book, outputs)


async def test_redaction_replaces_the_credentials_and_nothing_else() -> None:
    """Only credential headers' values are redacted from bodies (a version string that is
    also sent as a header stays), in clients made by ``with_headers`` too."""

    async def echo_headers(request: web.Request) -> web.Response:
        headers = {k.lower(): v for k, v in request.headers.items()}
        return web.json_response({"headers": headers, "note": "kept as is"})

    app = web.Application()
    app.router.add_get("/echo", echo_headers)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    book = SecretBook()
    key, token = book.new("api.key", "k"), book.new("oauth.token", "t")
    try:
        async with aiohttp.ClientSession() as session:
            base = f"http://127.0.0.1:{runner.addresses[0][1]}"
            headers = {"x-api-key": key, "anthropic-version": "2023-06-01"}
            upstream = Upstream(session, base, headers, RequestStats())
            oauth = upstream.with_headers(
                {"Authorization": f"Bearer {token}", "anthropic-beta": "oauth-2025-04-20"}
            )
            plain = await upstream.get_json("/echo")
            both = await oauth.get_json("/echo")
    finally:
        await runner.cleanup()
    assert plain["headers"]["x-api-key"] == "[REDACTED]"
    assert plain["headers"]["anthropic-version"] == "2023-06-01"
    assert plain["note"] == "kept as is"
    assert both["headers"]["x-api-key"] == "[REDACTED]"
    assert both["headers"]["authorization"] == "Bearer [REDACTED]"
    assert both["headers"]["anthropic-beta"] == "oauth-2025-04-20"
    assert_no_leaks(book, [("plain", json.dumps(plain)), ("with_headers", json.dumps(both))])


BAD_CONFIGS: dict[str, str] = {
    "api_key for a provider that reads its own files": """
accounts:
  - provider: claude_subscription
    api_key: {secret}
""",
    "api_key and api_key_file": """
accounts:
  - provider: openai
    api_key: {secret}
    api_key_file: /nonexistent
""",
    "api_key as a list": """
accounts:
  - provider: openai
    api_key: [{secret}]
""",
    "api_key as a mapping": """
accounts:
  - provider: openai
    api_key: {{value: {secret}}}
""",
    "misspelt api_key": """
accounts:
  - provider: openai
    api_kye: {secret}
""",
    "api_key at the wrong indentation": """
accounts:
  - provider: openai
api_key: {secret}
""",
    "unknown provider": """
accounts:
  - provider: opneai
    api_key: {secret}
""",
    "provider missing": """
accounts:
  - api_key: {secret}
""",
    "secret in an unknown option": """
accounts:
  - provider: openai
    api_key: {secret}
    options: {{token: {secret}}}
""",
    "unterminated quote": """
accounts:
  - provider: openai
    api_key: "{secret}
""",
    "bad YAML after the key": """
accounts:
  - provider: openai
    api_key: {secret}
   name: : x
""",
    "duplicate account": """
accounts:
  - provider: openai
    api_key: {secret}
  - provider: openai
    api_key: {secret}
""",
}


@pytest.mark.parametrize("case", BAD_CONFIGS)
def test_configuration_errors_hold_no_secret(tmp_path: Path, case: str) -> None:
    book = SecretBook()
    secret = book.new("config.key", "k")
    path = tmp_path / "config.yml"
    path.write_text(BAD_CONFIGS[case].format(secret=secret), encoding="utf-8")
    with pytest.raises(ConfigError) as err:
        load(path, environ={})
    assert_no_leaks(
        book,
        [
            (f"{case}: str", str(err.value)),
            (f"{case}: traceback", "".join(traceback.format_exception(err.value))),
        ],
    )


def test_an_account_built_in_code_hides_its_key() -> None:
    """``AccountConfig`` made in code (as the demo does) is as discreet as a loaded one."""
    book = SecretBook()
    secret = book.new("inline.key", "k")
    account = AccountConfig(provider="openai", api_key=SecretStr(secret))
    assert account.secret == secret
    assert_no_leaks(book, [("repr", repr(account)), ("dump", str(account.model_dump(mode="json")))])
    assert PROVIDERS["openai"].needs_key
