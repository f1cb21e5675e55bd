"""Subscription quota providers (Claude, Codex, Gemini CLI): credential files read, never
written; window names from a fixed vocabulary; exact ratios and times; expired or missing
logins send nothing; errors and logs never carry a token.

A loopback aiohttp server plays the three vendors' private endpoints from the fixtures in
``tests/fixtures/quotas`` and records every request it sees.
"""

from __future__ import annotations

import base64
import json
import logging
import os
import re
import time
from collections.abc import AsyncIterator, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from pydantic import BaseModel, ValidationError

from exporter.config import AccountConfig, Config
from exporter.errors import (
    AuthError,
    CredentialsError,
    InvalidResponseError,
    RateLimitedError,
    SourceError,
    SourceUnavailable,
    UpstreamClientError,
)
from exporter.poller import Poller
from exporter.providers import (
    PROVIDERS,
    claude_subscription,
    codex_subscription,
    gemini_subscription,
)
from exporter.providers.base import SourceContext
from exporter.providers.claude_subscription import ClaudeSubscriptionOptions
from exporter.providers.codex_subscription import CodexSubscriptionOptions
from exporter.providers.gemini_subscription import GeminiSubscriptionOptions
from exporter.providers.subscription_quota import account_records, jwt_claims, label_value
from exporter.records import GaugeRecord, Record
from exporter.snapshot import MonthToDateGuard, SourceState, build_snapshot
from exporter.upstream import RequestStats, Upstream

FIXTURES = Path(__file__).parent / "fixtures" / "quotas"
NOW = datetime(2026, 8, 21, 10, 0, tzinfo=UTC)
NOW_S = 1_787_306_400
START = datetime(2026, 8, 1, tzinfo=UTC)

CLAUDE_TOKEN = "sk-ant-oat01-FAKEtestCLAUDEaccessTOKEN-9f8e7d6c"
CLAUDE_REFRESH = "sk-ant-ort01-FAKEtestCLAUDErefreshTOKEN-1a2b3c4d"
CODEX_REFRESH = "rt_FAKEtestCODEXrefreshTOKEN-7e7e7e"
GEMINI_TOKEN = "ya29.FAKEtestGEMINIaccessTOKEN-5d6e7f"
GEMINI_REFRESH = "1//FAKEtestGEMINIrefreshTOKEN-0a0b"
JWT_SIGNATURE = "FAKEsignatureNOTvalid0123456789"
#: Substrings that must never show up in an error, a log line or a record.
SECRETS = (
    CLAUDE_TOKEN,
    CLAUDE_REFRESH,
    "FAKEtestCLAUDE",
    "FAKEtestMCPaccessTOKEN",
    CODEX_REFRESH,
    JWT_SIGNATURE,
    "sk-proj-FAKEtestOPENAIkey",
    GEMINI_TOKEN,
    GEMINI_REFRESH,
    "FAKEtestGEMINI",
)

CLAUDE_USAGE = "/api/oauth/usage"
CODEX_USAGE = "/backend-api/wham/usage"
GEMINI_LOAD = "/v1internal:loadCodeAssist"
GEMINI_QUOTA = "/v1internal:retrieveUserQuota"


def fixture(name: str) -> Any:
    return json.loads((FIXTURES / name).read_text())


def b64url(document: Mapping[str, Any]) -> str:
    raw = json.dumps(document, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def make_jwt(claims: Mapping[str, Any]) -> str:
    return f"{b64url({'alg': 'RS256', 'typ': 'JWT'})}.{b64url(claims)}.{JWT_SIGNATURE}"


def codex_token(auth: Mapping[str, Any]) -> str:
    return str(auth["tokens"]["access_token"])


def assert_clean(text: str) -> None:
    for secret in SECRETS:
        assert secret not in text
    assert "eyJ" not in text  # no JWT segment either


# --------------------------------------------------------------------------- loopback server


@dataclass
class Reply:
    status: int = 200
    body: Any = None
    headers: Mapping[str, str] = field(default_factory=dict)


@dataclass
class Seen:
    method: str
    path: str
    headers: Mapping[str, str]
    body: Any


class VendorServer:
    """Replies from a queue per (method, path); the last reply of a queue repeats."""

    def __init__(self) -> None:
        self.replies: dict[tuple[str, str], list[Reply]] = {}
        self.seen: list[Seen] = []
        self.app = web.Application()
        self.app.router.add_route("*", "/{tail:.*}", self._handle)
        self.url = ""

    def reply(self, method: str, path: str, *replies: Reply | str) -> None:
        self.replies[(method, path)] = [
            Reply(body=fixture(r)) if isinstance(r, str) else r for r in replies
        ]

    def paths(self) -> list[str]:
        return [s.path for s in self.seen]

    async def _handle(self, request: web.Request) -> web.Response:
        body = await request.json() if request.can_read_body else None
        self.seen.append(Seen(request.method, request.path, dict(request.headers), body))
        queue = self.replies.get((request.method, request.path))
        if not queue:
            return web.json_response({"error": "not found"}, status=404)
        reply = queue.pop(0) if len(queue) > 1 else queue[0]
        return web.json_response(reply.body, status=reply.status, headers=reply.headers)


class CredentialFiles:
    """Credential files the test writes; each must be left exactly as written."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.written: dict[Path, tuple[bytes, int]] = {}

    def write(self, name: str, document: Any) -> Path:
        path = self.root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        raw = document if isinstance(document, bytes) else json.dumps(document).encode()
        path.write_bytes(raw)
        self.record(path)
        return path

    def record(self, path: Path) -> None:
        self.written[path] = (path.read_bytes(), path.stat().st_mtime_ns)

    def assert_untouched(self) -> None:
        files = [p for p in self.root.rglob("*") if not p.is_dir()]
        assert sorted(files) == sorted(self.written)  # nothing created
        for path, (raw, mtime_ns) in self.written.items():
            assert path.read_bytes() == raw
            assert path.stat().st_mtime_ns == mtime_ns


class SleepRecorder:
    def __init__(self) -> None:
        self.calls: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.calls.append(seconds)


@pytest.fixture(autouse=True)
def no_secret_in_logs(caplog: pytest.LogCaptureFixture) -> Iterator[None]:
    caplog.set_level(logging.DEBUG)
    yield
    assert_clean(caplog.text)


@pytest.fixture
def creds(tmp_path: Path) -> Iterator[CredentialFiles]:
    files = CredentialFiles(tmp_path)
    yield files
    files.assert_untouched()


@pytest.fixture
async def server() -> AsyncIterator[VendorServer]:
    vendor = VendorServer()
    test_server = TestServer(vendor.app, host="127.0.0.1")
    await test_server.start_server()
    vendor.url = str(test_server.make_url("")).rstrip("/")
    yield vendor
    await test_server.close()


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as s:
        yield s


@pytest.fixture
def sleep() -> SleepRecorder:
    return SleepRecorder()


def context(
    session: aiohttp.ClientSession,
    base_url: str,
    options: BaseModel,
    sleep: SleepRecorder,
    memo: dict[str, Any] | None = None,
    now: datetime = NOW,
) -> SourceContext:
    upstream = Upstream(session, base_url, {}, RequestStats(), sleep=sleep)
    return SourceContext(
        upstream=upstream,
        start=START,
        end=now,
        group_by=frozenset(),
        options=options,
        memo=memo if memo is not None else {},
    )


def gauges(records: Sequence[Record]) -> dict[tuple[str, str], Decimal]:
    """``(metric, window or plan or "")`` → value; fails on a duplicate series."""
    out: dict[tuple[str, str], Decimal] = {}
    for record in records:
        assert isinstance(record, GaugeRecord)
        labels = dict(record.labels)
        key = (record.metric, labels.get("window", labels.get("plan", "")))
        assert key not in out, f"two series for {key}"
        out[key] = record.value
    assert_clean(repr(records))
    return out


def windows(records: Sequence[Record]) -> dict[str, Decimal]:
    return {w: v for (m, w), v in gauges(records).items() if m == "llm_quota_utilization_ratio"}


def of(records: Sequence[Record], metric: str) -> dict[str, Decimal]:
    return {w: v for (m, w), v in gauges(records).items() if m == metric}


async def run(source: str, ctx: SourceContext) -> Sequence[Record]:
    provider = {"claude": "claude_subscription", "codex": "codex_subscription"}.get(
        source, "gemini_subscription"
    )
    return await PROVIDERS[provider].sources["quota"](ctx)


async def failing(source: str, ctx: SourceContext, error: type[SourceError]) -> str:
    with pytest.raises(error) as caught:
        await run(source, ctx)
    assert_clean(str(caught.value))
    assert_clean(repr(caught.value))
    return str(caught.value)


def claude_creds(**changes: Any) -> dict[str, Any]:
    document = fixture("claude_credentials.json")
    document["claudeAiOauth"].update(changes)
    return document


# --------------------------------------------------------------------------- specs


def test_specs_are_registered_with_vendor_labels() -> None:
    expected = {
        "claude_subscription": ("anthropic", "claude", "https://api.anthropic.com"),
        "codex_subscription": ("openai", "chatgpt", "https://chatgpt.com/backend-api"),
        "gemini_subscription": ("google", "gemini-cli", "https://cloudcode-pa.googleapis.com"),
    }
    for name, (label, account, base) in expected.items():
        spec = PROVIDERS[name]
        assert (spec.name, spec.label, spec.default_account) == (name, label, account)
        assert spec.default_base_url == base
        assert spec.needs_key is False
        assert spec.env_var is None
        assert spec.default_poll_interval == 300.0
        assert list(spec.sources) == ["quota"]
        assert dict(spec.auth_headers("")) == {}
        assert AccountConfig(provider=name).account == account
        assert AccountConfig(provider=name).provider_label == label


def test_options_are_validated() -> None:
    account = AccountConfig(
        provider="claude_subscription", options={"credentials_file": "/x/creds.json"}
    )
    assert account.parsed_options == ClaudeSubscriptionOptions(
        credentials_file=Path("/x/creds.json")
    )
    with pytest.raises(ValidationError, match="credentials_file"):
        AccountConfig(provider="claude_subscription", options={"credential_file": "/x"})
    with pytest.raises(ValidationError, match="auth_file"):
        AccountConfig(provider="codex_subscription", options={"authfile": "/x"})
    with pytest.raises(ValidationError, match="reads its own credentials"):
        AccountConfig(provider="gemini_subscription", api_key="k")


def test_docstrings_document_endpoints_and_vocabulary() -> None:
    claude = claude_subscription.__doc__ or ""
    for needle in (CLAUDE_USAGE, "oauth-2025-04-20", "5h", "7d_opus", "7d_routines", "7d_design"):
        assert needle in claude
    codex = codex_subscription.__doc__ or ""
    for needle in ("/wham/usage", "ChatGPT-Account-Id", "never by position", "code_review_"):
        assert needle in codex
    gemini = gemini_subscription.__doc__ or ""
    for needle in (GEMINI_LOAD, GEMINI_QUOTA, "remainingFraction", "ineligibleTiers"):
        assert needle in gemini
    for doc in (claude, codex, gemini):
        assert "never written" in doc or "never\n    written" in doc
        assert "Blind spots" in doc


def test_label_value_is_short_and_safe() -> None:
    assert label_value("GPT-5.3-Codex-Spark") == "gpt-5.3-codex-spark"
    assert label_value(" Claude Opus 4.1 ") == "claude_opus_4.1"
    assert label_value("weird/ name\n{x}") == "weird_name_x"
    assert label_value("___") == ""
    assert len(label_value("x" * 200)) == 48


def test_jwt_claims_are_decoded_without_verification() -> None:
    assert jwt_claims(make_jwt({"exp": 5, "sub": "a"})) == {"exp": 5, "sub": "a"}
    for junk in ("", "opaque-token", "a.b", "a.!!!.c", f"x.{b64url({'a': 1})[:-3]}x.y"):
        assert jwt_claims(junk) == {} or isinstance(jwt_claims(junk), Mapping)
    assert jwt_claims("a." + base64.urlsafe_b64encode(b"[1,2]").decode() + ".c") == {}


# --------------------------------------------------------------------------- Claude


def claude_options(path: Path, **extra: Any) -> ClaudeSubscriptionOptions:
    return ClaudeSubscriptionOptions(credentials_file=path, **extra)


async def test_claude_reference_fixture(
    server: VendorServer,
    session: aiohttp.ClientSession,
    creds: CredentialFiles,
    sleep: SleepRecorder,
) -> None:
    path = creds.write(".credentials.json", fixture("claude_credentials.json"))
    server.reply("GET", CLAUDE_USAGE, "claude_usage.json")

    records = await run("claude", context(session, server.url, claude_options(path), sleep))

    # limits[] repeats five_hour and seven_day: one series per window.
    assert windows(records) == {
        "5h": Decimal("0.11"),
        "7d": Decimal("0.38"),
        "7d_sonnet": Decimal("0.04"),
    }
    assert of(records, "llm_quota_resets_at_timestamp_seconds") == {
        "5h": Decimal("1787324400.282668"),
        "7d": Decimal("1787648400.282694"),
        "7d_sonnet": Decimal("1787648400.283070"),
    }
    assert of(records, "llm_quota_window_seconds") == {
        "5h": 18000,
        "7d": 604800,
        "7d_sonnet": 604800,
    }
    assert of(records, "llm_quota_limit_reached") == {}
    values = gauges(records)
    assert values[("llm_subscription_extra_usage_usd", "")] == Decimal("12.75")
    assert values[("llm_subscription_extra_usage_limit_usd", "")] == Decimal("50")
    assert values[("llm_subscription_info", "max")] == 1
    assert values[("llm_credentials_expiry_timestamp_seconds", "")] == NOW_S + 4 * 3600

    [request] = server.seen
    assert (request.method, request.path) == ("GET", CLAUDE_USAGE)
    assert request.headers["Authorization"] == f"Bearer {CLAUDE_TOKEN}"
    assert request.headers["anthropic-beta"] == "oauth-2025-04-20"
    assert request.headers["User-Agent"].startswith("llm-cost-exporter/")
    assert request.headers["Accept"] == "application/json"


async def test_claude_variants_aliases_unknown_windows_and_limits(
    server: VendorServer,
    session: aiohttp.ClientSession,
    creds: CredentialFiles,
    sleep: SleepRecorder,
) -> None:
    path = creds.write(".credentials.json", fixture("claude_credentials.json"))
    server.reply("GET", CLAUDE_USAGE, "claude_usage_variants.json")

    records = await run("claude", context(session, server.url, claude_options(path), sleep))

    assert windows(records) == {
        "5h": Decimal("0.274"),  # fractional percentage, top level wins over limits[]
        "7d": Decimal("0.60"),
        "7d_opus": Decimal("0.1025"),  # limits[] "opus" duplicates it: not a second series
        "7d_routines": Decimal("0.03"),  # seven_day_cowork alias
        "seven_day_fable_preview": Decimal("0.125"),  # unknown top-level window: its own key
        "iguana_necktie": Decimal(0),
        "7d_fable": Decimal("0.57"),  # scoped limit with no top-level key
        "monthly_all": Decimal("0.05"),  # unknown kind, not inactive
    }  # null windows, a null percent (Ghost), inactive_pool and non-window objects: nothing
    assert of(records, "llm_quota_resets_at_timestamp_seconds") == {
        "5h": Decimal(1787324400),  # "Z"
        "7d": Decimal("1787648400.5"),
        "7d_opus": Decimal(1787648400),  # "+00:00"
        "7d_routines": Decimal(1787648400),
        "seven_day_fable_preview": Decimal(1787648400),
        "7d_fable": Decimal(1787648400),
        "monthly_all": Decimal(1788220800),
    }
    assert of(records, "llm_quota_window_seconds") == {
        "5h": 18000,
        "7d": 604800,
        "7d_opus": 604800,
        "7d_routines": 604800,
        "seven_day_fable_preview": 604800,
        "7d_fable": 604800,
    }
    values = gauges(records)
    assert ("llm_subscription_extra_usage_usd", "") not in values  # is_enabled: false
    assert ("llm_subscription_extra_usage_limit_usd", "") not in values


async def test_claude_limits_only(
    server: VendorServer,
    session: aiohttp.ClientSession,
    creds: CredentialFiles,
    sleep: SleepRecorder,
) -> None:
    path = creds.write(".credentials.json", fixture("claude_credentials.json"))
    server.reply("GET", CLAUDE_USAGE, "claude_usage_limits_only.json")
    records = await run("claude", context(session, server.url, claude_options(path), sleep))
    assert windows(records) == {
        "5h": Decimal("0.52"),
        "7d": Decimal("0.20"),
        "7d_fable": Decimal("0.21"),
    }
    assert of(records, "llm_quota_window_seconds") == {
        "5h": 18000,
        "7d": 604800,
        "7d_fable": 604800,
    }
    assert of(records, "llm_quota_resets_at_timestamp_seconds")["5h"] == Decimal(
        "1787324400.172479"
    )


def test_claude_scoped_limit_names() -> None:
    body = {
        "seven_day": None,
        "limits": [
            {
                "kind": "weekly_scoped",
                "percent": 40,
                "scope": {"model": {"display_name": "All models"}},
            },
            {
                "kind": "weekly_scoped",
                "percent": 50,
                "is_active": False,
                "scope": {"model": {"id": "x"}},
            },
            {
                "kind": "weekly_scoped",
                "percent": 5,
                "scope": {"surface": {"display_name": "Claude Design"}},
            },
            {"kind": "weekly_scoped", "percent": 6, "scope": None},
            {"kind": "weekly_scoped", "percent": 7, "scope": {"model": {"display_name": "X"}}},
            {"kind": None, "percent": 8},
        ],
    }
    windows = claude_subscription.parse_usage(body)
    assert {w.name: w.utilization for w in windows} == {
        "7d": Decimal("0.40"),  # "All models" is the account-wide weekly window
        "7d_x": Decimal("0.50"),  # the model id when there is no display name
        "7d_claude_design": Decimal("0.05"),
        "7d_scoped": Decimal("0.06"),
    }  # "X" repeats 7d_x; an entry without a kind adds nothing
    assert {w.length_seconds for w in windows} == {604800}


@pytest.mark.parametrize(
    ("document", "expected"),
    [
        (None, "not logged in: .* does not exist; run `claude` and log in"),
        (fixture("claude_credentials_mcp_only.json"), "not logged in: .* has no Claude login"),
        (claude_creds(accessToken=""), "not logged in: .* has no access token"),
        (claude_creds(expiresAt=(NOW_S - 60) * 1000), r"credentials expired: run `claude` once"),
        (claude_creds(expiresAt=NOW_S * 1000), r"credentials expired: .* at 2026-08-21T10:00:00Z"),
        (claude_creds(scopes=["user:inference"]), "lacks the user:profile scope"),
        (claude_creds(expiresAt="soon"), "expiresAt is not a number"),
        (claude_creds(accessToken=42), "accessToken is not a string"),
        ({"claudeAiOauth": "x"}, "claudeAiOauth is not an object"),
        ([1, 2], "expected a JSON object"),
        (b'{"claudeAiOauth": {"accessToken": "' + CLAUDE_TOKEN.encode() + b'", ', "not valid JSON"),
        (b"\xff\xfe{}", "not valid JSON"),
    ],
)
async def test_claude_credential_problems_send_nothing(
    server: VendorServer,
    session: aiohttp.ClientSession,
    creds: CredentialFiles,
    sleep: SleepRecorder,
    document: Any,
    expected: str,
) -> None:
    path = creds.root / ".credentials.json"
    if document is not None:
        path = creds.write(".credentials.json", document)
    server.reply("GET", CLAUDE_USAGE, "claude_usage.json")
    ctx = context(session, server.url, claude_options(path), sleep)
    message = await failing("claude", ctx, CredentialsError)
    assert re.search(expected, message), message
    assert server.seen == []  # nothing was sent


async def test_claude_unreadable_file(
    server: VendorServer,
    session: aiohttp.ClientSession,
    creds: CredentialFiles,
    sleep: SleepRecorder,
) -> None:
    ctx = context(session, server.url, claude_options(creds.root), sleep)  # a directory
    assert "is a directory" in await failing("claude", ctx, CredentialsError)
    big = creds.write(".credentials.json", b" " * (1024 * 1024 + 1))
    ctx = context(session, server.url, claude_options(big), sleep)
    assert "too large" in await failing("claude", ctx, CredentialsError)
    assert server.seen == []


async def test_claude_picks_up_a_changed_file_and_caches_an_unchanged_one(
    server: VendorServer,
    session: aiohttp.ClientSession,
    creds: CredentialFiles,
    sleep: SleepRecorder,
) -> None:
    path = creds.write(".credentials.json", fixture("claude_credentials.json"))
    server.reply("GET", CLAUDE_USAGE, "claude_usage.json")
    memo: dict[str, Any] = {}
    options = claude_options(path)
    await run("claude", context(session, server.url, options, sleep, memo))

    # Claude Code refreshed the token in place (same length): the next poll uses it.
    renewed = CLAUDE_TOKEN.replace("9f8e7d6c", "00000001")
    path.write_text(json.dumps(claude_creds(accessToken=renewed)))
    before = path.stat().st_mtime_ns
    os.utime(path, ns=(before, before + 1_000_000_000))
    creds.record(path)
    await run("claude", context(session, server.url, options, sleep, memo))

    # Same fingerprint (mtime, size, inode) → not re-read: the remembered token is used.
    stat = path.stat()
    path.write_text(json.dumps(claude_creds(accessToken=renewed.replace("1", "2"))))
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    creds.record(path)
    await run("claude", context(session, server.url, options, sleep, memo))

    sent = [s.headers["Authorization"] for s in server.seen]
    assert sent == [f"Bearer {CLAUDE_TOKEN}", f"Bearer {renewed}", f"Bearer {renewed}"]


async def test_claude_token_from_environment(
    server: VendorServer,
    session: aiohttp.ClientSession,
    creds: CredentialFiles,
    sleep: SleepRecorder,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    server.reply("GET", CLAUDE_USAGE, "claude_usage.json")
    missing = creds.root / "absent.json"
    options = claude_options(missing, token_env="TEST_CLAUDE_OAUTH_TOKEN")
    monkeypatch.setenv("TEST_CLAUDE_OAUTH_TOKEN", CLAUDE_TOKEN)
    records = await run("claude", context(session, server.url, options, sleep))
    assert server.seen[0].headers["Authorization"] == f"Bearer {CLAUDE_TOKEN}"
    values = gauges(records)
    assert ("llm_credentials_expiry_timestamp_seconds", "") not in values  # unknown
    assert not any(metric == "llm_subscription_info" for metric, _ in values)
    # Unset: back to the file, which is missing.
    monkeypatch.delenv("TEST_CLAUDE_OAUTH_TOKEN")
    assert "does not exist" in await failing(
        "claude", context(session, server.url, options, sleep), CredentialsError
    )
    assert len(server.seen) == 1


def test_claude_plan_is_informational() -> None:
    parse = claude_subscription.parse_credentials
    for plan, expected in [
        ("max", "max"),
        ("Team Premium", "team_premium"),
        (None, None),
        (5, None),
    ]:
        document = claude_creds(subscriptionType=plan)
        assert parse(document, "creds.json").plan == expected
    assert CLAUDE_TOKEN not in repr(parse(claude_creds(), "creds.json"))


def test_claude_default_credentials_file(monkeypatch: pytest.MonkeyPatch) -> None:
    default = claude_subscription.default_credentials_file
    assert default({"CLAUDE_CONFIG_DIR": "/srv/a, /srv/b"}) == Path("/srv/a/.credentials.json")
    monkeypatch.setenv("HOME", "/home/someone")
    assert default({}) == Path("/home/someone/.claude/.credentials.json")
    assert default({"CLAUDE_CONFIG_DIR": ""}) == Path("/home/someone/.claude/.credentials.json")


async def test_claude_429_honours_retry_after(
    server: VendorServer,
    session: aiohttp.ClientSession,
    creds: CredentialFiles,
    sleep: SleepRecorder,
) -> None:
    path = creds.write(".credentials.json", fixture("claude_credentials.json"))
    limited = Reply(429, {"error": {"type": "rate_limit_error"}}, {"Retry-After": "7"})
    server.reply("GET", CLAUDE_USAGE, limited, limited, Reply(body=fixture("claude_usage.json")))
    records = await run("claude", context(session, server.url, claude_options(path), sleep))
    assert windows(records)["5h"] == Decimal("0.11")
    assert sleep.calls == [7.0, 7.0]
    assert len(server.seen) == 3

    server.seen.clear()
    sleep.calls.clear()
    server.reply("GET", CLAUDE_USAGE, limited)
    ctx = context(session, server.url, claude_options(path), sleep)
    assert "429" in await failing("claude", ctx, RateLimitedError)
    assert sleep.calls == [7.0, 7.0, 7.0]
    assert len(server.seen) == 4


async def test_claude_rejected_token_and_broken_answers(
    server: VendorServer,
    session: aiohttp.ClientSession,
    creds: CredentialFiles,
    sleep: SleepRecorder,
) -> None:
    path = creds.write(".credentials.json", fixture("claude_credentials.json"))
    ctx = context(session, server.url, claude_options(path), sleep)
    server.reply("GET", CLAUDE_USAGE, Reply(401, {"error": {"type": "authentication_error"}}))
    await failing("claude", ctx, AuthError)
    for body, where in [
        ([], "oauth_usage"),
        ({"five_hour": 11}, "five_hour: expected an object"),
        ({"five_hour": {"utilization": "lots", "resets_at": None}}, "five_hour"),
        ({"five_hour": {"utilization": -1, "resets_at": None}}, "negative"),
        ({"five_hour": {"utilization": 5, "resets_at": "tomorrow"}}, "resets_at"),
        ({"limits": {"kind": "session"}}, "limits"),
        ({"limits": [{"kind": "session", "percent": True}]}, "limits[0]"),
        ({"extra_usage": {"is_enabled": True, "used_credits": "x"}}, "used_credits"),
    ]:
        server.reply("GET", CLAUDE_USAGE, Reply(body=body))
        assert where in await failing("claude", ctx, InvalidResponseError)


async def test_claude_extra_usage_in_another_currency_is_left_out(
    server: VendorServer,
    session: aiohttp.ClientSession,
    creds: CredentialFiles,
    sleep: SleepRecorder,
    caplog: pytest.LogCaptureFixture,
) -> None:
    path = creds.write(".credentials.json", fixture("claude_credentials.json"))
    body = fixture("claude_usage.json")
    body["extra_usage"]["currency"] = "EUR"
    server.reply("GET", CLAUDE_USAGE, Reply(body=body))
    memo: dict[str, Any] = {}
    for _ in range(2):
        records = await run(
            "claude", context(session, server.url, claude_options(path), sleep, memo)
        )
        assert not {
            "llm_subscription_extra_usage_usd",
            "llm_subscription_extra_usage_limit_usd",
        } & {m for m, _ in gauges(records)}
    assert caplog.text.count("billed in eur, not USD") == 1  # logged once

    body["extra_usage"]["currency"] = "usd"
    del body["extra_usage"]["monthly_limit"]
    server.reply("GET", CLAUDE_USAGE, Reply(body=body))
    records = await run("claude", context(session, server.url, claude_options(path), sleep))
    values = gauges(records)
    assert values[("llm_subscription_extra_usage_usd", "")] == Decimal("12.75")
    assert ("llm_subscription_extra_usage_limit_usd", "") not in values


# --------------------------------------------------------------------------- Codex


def codex_options(path: Path) -> CodexSubscriptionOptions:
    return CodexSubscriptionOptions(auth_file=path)


def codex_base(server: VendorServer) -> str:
    return server.url + "/backend-api"


async def test_codex_reference_fixture(
    server: VendorServer,
    session: aiohttp.ClientSession,
    creds: CredentialFiles,
    sleep: SleepRecorder,
) -> None:
    auth = fixture("codex_auth.json")
    path = creds.write("auth.json", auth)
    server.reply("GET", CODEX_USAGE, "codex_usage.json")

    records = await run("codex", context(session, codex_base(server), codex_options(path), sleep))

    assert windows(records) == {"5h": Decimal("0.23"), "7d": Decimal("0.41")}
    assert of(records, "llm_quota_resets_at_timestamp_seconds") == {
        "5h": 1755795120,
        "7d": 1756087200,
    }
    assert of(records, "llm_quota_window_seconds") == {"5h": 18000, "7d": 604800}
    assert of(records, "llm_quota_limit_reached") == {"5h": 0, "7d": 0}
    values = gauges(records)
    assert values[("llm_subscription_info", "plus")] == 1
    assert values[("llm_credentials_expiry_timestamp_seconds", "")] == NOW_S + 10 * 86400
    # has_credits false: no credits series (never a misleading 0).
    assert not any(m == "llm_subscription_credits" for m, _ in values)

    [request] = server.seen
    assert (request.method, request.path) == ("GET", CODEX_USAGE)
    assert request.headers["Authorization"] == f"Bearer {codex_token(auth)}"
    assert request.headers["ChatGPT-Account-Id"] == "acct-FAKE-file-0001"


async def test_codex_windows_by_length_never_by_position(
    server: VendorServer,
    session: aiohttp.ClientSession,
    creds: CredentialFiles,
    sleep: SleepRecorder,
) -> None:
    path = creds.write("auth.json", fixture("codex_auth.json"))
    server.reply("GET", CODEX_USAGE, "codex_usage_variants.json")

    records = await run("codex", context(session, codex_base(server), codex_options(path), sleep))

    assert windows(records) == {
        "7d": Decimal(1),  # a 7-day window in primary_window
        "5h": Decimal("0.125"),
        "code_review_7d": Decimal(0),
        "gpt-5.3-codex-spark_5h": Decimal("0.07"),
        "gpt-5.3-codex-spark_7d": Decimal("0.03"),
        "codex_other_86400s": Decimal("0.50"),  # no limit_name: metered_feature; odd length
    }  # the window without limit_window_seconds is left out
    assert of(records, "llm_quota_resets_at_timestamp_seconds") == {
        "7d": 1787392800,
        "5h": NOW_S + 3600,  # reset_after_seconds when there is no reset_at
        "code_review_7d": 1787911200,
        "gpt-5.3-codex-spark_5h": 1787307000,
        "gpt-5.3-codex-spark_7d": 1787806400,
        "codex_other_86400s": 1787392800,
    }
    assert of(records, "llm_quota_window_seconds")["codex_other_86400s"] == 86400
    # limit_reached is the group's: on its most used window only; absent where not reported.
    assert of(records, "llm_quota_limit_reached") == {
        "7d": 1,
        "5h": 0,
        "code_review_7d": 0,
        "gpt-5.3-codex-spark_5h": 0,
        "gpt-5.3-codex-spark_7d": 0,
    }
    assert gauges(records)[("llm_subscription_info", "pro")] == 1
    # A number here (a string elsewhere); credits, not dollars.
    assert gauges(records)[("llm_subscription_credits", "")] == Decimal("9.5")


def test_codex_duplicate_window_names_keep_the_more_used() -> None:
    body = {
        "rate_limit": {
            "primary_window": {"used_percent": 10, "limit_window_seconds": 18000},
            "secondary_window": {"used_percent": 30, "limit_window_seconds": 18000},
        }
    }
    [window] = codex_subscription.parse_usage(body, NOW_S)
    assert (window.name, window.utilization) == ("5h", Decimal("0.30"))
    with pytest.raises(InvalidResponseError, match="limit_reached"):
        codex_subscription.parse_usage({"rate_limit": {"limit_reached": "no"}}, NOW_S)
    with pytest.raises(InvalidResponseError, match="limit_window_seconds"):
        codex_subscription.parse_usage(
            {"rate_limit": {"primary_window": {"limit_window_seconds": "5h"}}}, NOW_S
        )


@pytest.mark.parametrize(
    ("credits", "expected"),
    [
        ({"has_credits": True, "unlimited": False, "balance": "9.5"}, Decimal("9.5")),
        ({"has_credits": True, "unlimited": False, "balance": Decimal("9.5")}, Decimal("9.5")),
        ({"has_credits": True, "unlimited": False, "balance": 120}, Decimal(120)),
        ({"has_credits": False, "unlimited": False, "balance": "0"}, None),
        ({"has_credits": True, "unlimited": True, "balance": None}, None),
        (None, None),
    ],
)
def test_codex_credit_balance_string_or_number(credits: Any, expected: Decimal | None) -> None:
    assert codex_subscription.credit_balance({"credits": credits}) == expected


def test_codex_credit_balance_rejects_junk() -> None:
    with pytest.raises(InvalidResponseError, match=r"credits\.balance"):
        codex_subscription.credit_balance({"credits": {"has_credits": True, "balance": "lots"}})


async def test_codex_account_id_from_the_jwt_claim(
    server: VendorServer,
    session: aiohttp.ClientSession,
    creds: CredentialFiles,
    sleep: SleepRecorder,
) -> None:
    path = creds.write("auth.json", fixture("codex_auth_no_account_id.json"))
    server.reply("GET", CODEX_USAGE, "codex_usage.json")
    await run("codex", context(session, codex_base(server), codex_options(path), sleep))
    assert server.seen[0].headers["ChatGPT-Account-Id"] == "acct-FAKE-claim-0002"


async def test_codex_opaque_token_without_account(
    server: VendorServer,
    session: aiohttp.ClientSession,
    creds: CredentialFiles,
    sleep: SleepRecorder,
) -> None:
    auth = fixture("codex_auth_no_account_id.json")
    auth["tokens"]["access_token"] = "opaque-FAKEtestCLAUDE-not-a-jwt"  # a listed secret
    del auth["tokens"]["id_token"]
    path = creds.write("auth.json", auth)
    server.reply("GET", CODEX_USAGE, "codex_usage.json")
    records = await run("codex", context(session, codex_base(server), codex_options(path), sleep))
    assert "ChatGPT-Account-Id" not in server.seen[0].headers
    assert ("llm_credentials_expiry_timestamp_seconds", "") not in gauges(records)


@pytest.mark.parametrize(
    ("document", "expected"),
    [
        (None, "not logged in: .* does not exist; run `codex login`"),
        (fixture("codex_auth_api_key_only.json"), "holds an API key, not a ChatGPT login"),
        ({"OPENAI_API_KEY": None, "tokens": None}, "not logged in: .* has no ChatGPT login"),
        ({"tokens": {"access_token": None}}, "has no access token"),
        ({"tokens": "x"}, "tokens is not an object"),
        (
            {"tokens": {"access_token": make_jwt({"exp": NOW_S - 1})}},
            r"credentials expired: run `codex` once to refresh",
        ),
        ({"tokens": {"access_token": make_jwt({"exp": "later"})}}, "exp claim is not a number"),
    ],
)
async def test_codex_credential_problems_send_nothing(
    server: VendorServer,
    session: aiohttp.ClientSession,
    creds: CredentialFiles,
    sleep: SleepRecorder,
    document: Any,
    expected: str,
) -> None:
    path = creds.root / "auth.json"
    if document is not None:
        path = creds.write("auth.json", document)
    server.reply("GET", CODEX_USAGE, "codex_usage.json")
    ctx = context(session, codex_base(server), codex_options(path), sleep)
    message = await failing("codex", ctx, CredentialsError)
    assert re.search(expected, message), message
    assert server.seen == []


async def test_codex_picks_up_a_replaced_file(
    server: VendorServer,
    session: aiohttp.ClientSession,
    creds: CredentialFiles,
    sleep: SleepRecorder,
) -> None:
    auth = fixture("codex_auth.json")
    path = creds.write("auth.json", auth)
    server.reply("GET", CODEX_USAGE, "codex_usage.json")
    memo: dict[str, Any] = {}
    options = codex_options(path)
    await run("codex", context(session, codex_base(server), options, sleep, memo))
    # Codex rewrites auth.json atomically (new inode) after a refresh.
    renewed = make_jwt({"exp": NOW_S + 20 * 86400, "n": 2})
    auth["tokens"]["access_token"] = renewed
    staged = creds.root / "auth.json.tmp"
    staged.write_text(json.dumps(auth))
    staged.replace(path)
    creds.record(path)
    records = await run("codex", context(session, codex_base(server), options, sleep, memo))
    assert [s.headers["Authorization"] for s in server.seen] == [
        f"Bearer {codex_token(fixture('codex_auth.json'))}",
        f"Bearer {renewed}",
    ]
    assert gauges(records)[("llm_credentials_expiry_timestamp_seconds", "")] == (NOW_S + 20 * 86400)


def test_codex_default_auth_file(monkeypatch: pytest.MonkeyPatch) -> None:
    default = codex_subscription.default_auth_file
    assert default({"CODEX_HOME": "/srv/codex"}) == Path("/srv/codex/auth.json")
    monkeypatch.setenv("HOME", "/home/someone")
    assert default({}) == Path("/home/someone/.codex/auth.json")


# --------------------------------------------------------------------------- Gemini


def gemini_options(path: Path, project: str | None = None) -> GeminiSubscriptionOptions:
    return GeminiSubscriptionOptions(credentials_file=path, project=project)


async def test_gemini_discovers_once_then_reads_the_quota(
    server: VendorServer,
    session: aiohttp.ClientSession,
    creds: CredentialFiles,
    sleep: SleepRecorder,
) -> None:
    path = creds.write("oauth_creds.json", fixture("gemini_oauth_creds.json"))
    server.reply("POST", GEMINI_LOAD, "gemini_load_code_assist.json")
    server.reply("POST", GEMINI_QUOTA, "gemini_quota.json")
    memo: dict[str, Any] = {}
    for _ in range(2):
        records = await run(
            "gemini", context(session, server.url, gemini_options(path), sleep, memo)
        )

    assert windows(records) == {
        "gemini-2.5-pro": Decimal("0.5"),  # lowest remainingFraction of the model's buckets
        "gemini-2.5-flash": Decimal("0.03"),
        "gemini-2.5-flash-lite": Decimal(0),
    }
    assert of(records, "llm_quota_resets_at_timestamp_seconds") == {
        "gemini-2.5-pro": Decimal("1787331600.123456"),  # the chosen bucket's reset
        "gemini-2.5-flash": 1787382000,
        "gemini-2.5-flash-lite": 1787382000,
        "gemini-3-pro-preview": 1787382000,  # no remainingFraction: no ratio
    }
    assert of(records, "llm_quota_window_seconds") == {}
    values = gauges(records)
    assert values[("llm_subscription_info", "standard-tier")] == 1
    assert values[("llm_credentials_expiry_timestamp_seconds", "")] == NOW_S + 1800

    assert server.paths() == [GEMINI_LOAD, GEMINI_QUOTA, GEMINI_QUOTA]  # discovery remembered
    load, quota = server.seen[0], server.seen[1]
    assert load.body == {
        "metadata": {
            "ideType": "IDE_UNSPECIFIED",
            "platform": "PLATFORM_UNSPECIFIED",
            "pluginType": "GEMINI",
        }
    }
    assert quota.body == {"project": "fake-project-123456"}
    assert all(s.headers["Authorization"] == f"Bearer {GEMINI_TOKEN}" for s in server.seen)
    assert all(s.method == "POST" for s in server.seen)


async def test_gemini_configured_project_and_paid_tier(
    server: VendorServer,
    session: aiohttp.ClientSession,
    creds: CredentialFiles,
    sleep: SleepRecorder,
) -> None:
    path = creds.write("oauth_creds.json", fixture("gemini_oauth_creds.json"))
    load = fixture("gemini_load_code_assist.json")
    del load["cloudaicompanionProject"]
    load["paidTier"] = {"id": "g1-ultra-tier", "name": "Gemini Code Assist in Google One AI Ultra"}
    server.reply("POST", GEMINI_LOAD, Reply(body=load))
    server.reply("POST", GEMINI_QUOTA, "gemini_quota.json")
    options = gemini_options(path, project="my-gcp-project")
    records = await run("gemini", context(session, server.url, options, sleep))
    assert gauges(records)[("llm_subscription_info", "g1-ultra-tier")] == 1
    assert server.seen[0].body["cloudaicompanionProject"] == "my-gcp-project"
    assert server.seen[0].body["metadata"]["duetProject"] == "my-gcp-project"
    assert server.seen[1].body == {"project": "my-gcp-project"}


async def test_gemini_ineligible_tier_is_unavailable(
    server: VendorServer,
    session: aiohttp.ClientSession,
    creds: CredentialFiles,
    sleep: SleepRecorder,
) -> None:
    path = creds.write("oauth_creds.json", fixture("gemini_oauth_creds.json"))
    server.reply("POST", GEMINI_LOAD, "gemini_load_code_assist_ineligible.json")
    ctx = context(session, server.url, gemini_options(path), sleep)
    message = await failing("gemini", ctx, SourceUnavailable)
    assert "not available to this Google account" in message
    assert (
        "INELIGIBLE_ACCOUNT: Gemini Code Assist for individuals is no longer available" in message
    )
    assert "\n" not in message
    assert server.paths() == [GEMINI_LOAD]  # no quota request


@pytest.mark.parametrize("status", [400, 404])
async def test_gemini_unserved_client_is_unavailable(
    server: VendorServer,
    session: aiohttp.ClientSession,
    creds: CredentialFiles,
    sleep: SleepRecorder,
    status: int,
) -> None:
    path = creds.write("oauth_creds.json", fixture("gemini_oauth_creds.json"))
    body = {
        "error": {
            "code": status,
            "status": "FAILED_PRECONDITION",
            "details": [{"reason": "UNSUPPORTED_CLIENT"}],
        }
    }
    server.reply("POST", GEMINI_LOAD, Reply(status, body))
    ctx = context(session, server.url, gemini_options(path), sleep)
    assert f"HTTP {status}" in await failing("gemini", ctx, SourceUnavailable)
    assert server.paths() == [GEMINI_LOAD]


async def test_gemini_setup_problems(
    server: VendorServer,
    session: aiohttp.ClientSession,
    creds: CredentialFiles,
    sleep: SleepRecorder,
) -> None:
    path = creds.write("oauth_creds.json", fixture("gemini_oauth_creds.json"))
    ctx = context(session, server.url, gemini_options(path), sleep)
    server.reply("POST", GEMINI_LOAD, Reply(403, {"error": {"status": "PERMISSION_DENIED"}}))
    await failing("gemini", ctx, AuthError)
    server.reply("POST", GEMINI_LOAD, Reply(body={"allowedTiers": [{"id": "free-tier"}]}))
    assert "run `gemini` once" in await failing("gemini", ctx, CredentialsError)
    no_project = fixture("gemini_load_code_assist.json")
    del no_project["cloudaicompanionProject"]
    server.reply("POST", GEMINI_LOAD, Reply(body=no_project))
    assert "set options.project" in await failing("gemini", ctx, SourceUnavailable)
    server.reply("POST", GEMINI_LOAD, Reply(body={"currentTier": "standard"}))
    assert "currentTier" in await failing("gemini", ctx, InvalidResponseError)
    assert GEMINI_QUOTA not in server.paths()


async def test_gemini_forgets_the_setup_when_the_quota_request_fails(
    server: VendorServer,
    session: aiohttp.ClientSession,
    creds: CredentialFiles,
    sleep: SleepRecorder,
) -> None:
    path = creds.write("oauth_creds.json", fixture("gemini_oauth_creds.json"))
    server.reply("POST", GEMINI_LOAD, "gemini_load_code_assist.json")
    server.reply(
        "POST",
        GEMINI_QUOTA,
        Reply(404, {"error": {"status": "NOT_FOUND"}}),
        Reply(body=fixture("gemini_quota.json")),
    )
    memo: dict[str, Any] = {}
    ctx = context(session, server.url, gemini_options(path), sleep, memo)
    with pytest.raises(UpstreamClientError):
        await run("gemini", ctx)
    await run("gemini", ctx)
    assert server.paths() == [GEMINI_LOAD, GEMINI_QUOTA, GEMINI_LOAD, GEMINI_QUOTA]


@pytest.mark.parametrize(
    ("document", "expected"),
    [
        (None, "not logged in: .* does not exist; run `gemini` and log in with Google"),
        ({"refresh_token": GEMINI_REFRESH}, "has no access token"),
        (
            {**fixture("gemini_oauth_creds.json"), "expiry_date": (NOW_S - 5) * 1000},
            r"credentials expired: run `gemini` once to refresh",
        ),
    ],
)
async def test_gemini_credential_problems_send_nothing(
    server: VendorServer,
    session: aiohttp.ClientSession,
    creds: CredentialFiles,
    sleep: SleepRecorder,
    document: Any,
    expected: str,
) -> None:
    path = creds.root / "oauth_creds.json"
    if document is not None:
        path = creds.write("oauth_creds.json", document)
    server.reply("POST", GEMINI_LOAD, "gemini_load_code_assist.json")
    server.reply("POST", GEMINI_QUOTA, "gemini_quota.json")
    ctx = context(session, server.url, gemini_options(path), sleep)
    message = await failing("gemini", ctx, CredentialsError)
    assert re.search(expected, message), message
    assert server.seen == []


def test_gemini_bucket_checks() -> None:
    parse = gemini_subscription.parse_quota
    assert parse({}) == [] and parse({"buckets": []}) == []
    assert [
        w.name for w in parse({"buckets": [{"tokenType": "REQUESTS", "remainingFraction": 1}]})
    ] == ["requests"]
    assert parse({"buckets": [{"remainingFraction": 0.5}]}) == []  # nothing to name it by
    with pytest.raises(InvalidResponseError, match="outside 0"):
        parse({"buckets": [{"modelId": "m", "remainingFraction": 1.5}]})
    with pytest.raises(InvalidResponseError, match="resetTime"):
        parse({"buckets": [{"modelId": "m", "remainingFraction": 0.5, "resetTime": 5}]})


# --------------------------------------------------------------------------- snapshot, poller


def state(provider: str, account: str, records: Sequence[Record]) -> SourceState:
    s = SourceState(provider, account, "quota", stale_after=900)
    s.records = tuple(records)
    s.up = True
    s.last_success = NOW.timestamp()
    return s


def sample(snapshot: Any, name: str, **labels: str) -> float | None:
    family = snapshot.family(name)
    matches = [
        s.value
        for s in (family.samples if family else ())
        if all(s.labels.get(k) == v for k, v in labels.items())
    ]
    assert len(matches) <= 1, matches
    return matches[0] if matches else None


def test_series_through_the_snapshot() -> None:
    now = NOW.timestamp()
    claude = claude_subscription.parse_usage(fixture("claude_usage.json"))
    codex = codex_subscription.parse_usage(fixture("codex_usage_variants.json"), now)
    gemini = gemini_subscription.parse_quota(fixture("gemini_quota.json"))
    config = Config(
        accounts=(
            AccountConfig(provider="claude_subscription"),
            AccountConfig(provider="codex_subscription", name="work"),
            AccountConfig(provider="gemini_subscription"),
        )
    )
    states = [
        state(
            "anthropic",
            "claude",
            account_records(claude, plan="max", expires_at=Decimal(NOW_S + 60))
            + claude_subscription.parse_extra_usage(fixture("claude_usage.json")),
        ),
        state("openai", "work", account_records(codex, plan="pro", expires_at=None)),
        state("google", "gemini-cli", account_records(gemini, plan="free-tier", expires_at=None)),
    ]
    snap = build_snapshot(config, states, MonthToDateGuard(), now)

    ratio = "llm_quota_utilization_ratio"
    assert sample(snap, ratio, provider="anthropic", account="claude", window="5h") == 0.11
    assert sample(snap, ratio, provider="anthropic", account="claude", window="7d_sonnet") == 0.04
    assert sample(snap, ratio, provider="anthropic", window="7d_opus") is None  # null window
    assert sample(snap, ratio, provider="openai", account="work", window="7d") == 1.0
    assert sample(snap, ratio, provider="google", window="gemini-2.5-pro") == 0.5
    assert sample(
        snap, "llm_quota_resets_at_timestamp_seconds", provider="anthropic", window="5h"
    ) == pytest.approx(1787324400.282668)
    assert sample(snap, "llm_quota_window_seconds", provider="openai", window="5h") == 18000
    assert sample(snap, "llm_quota_limit_reached", provider="openai", window="7d") == 1
    assert sample(snap, "llm_quota_limit_reached", provider="openai", window="5h") == 0
    assert sample(snap, "llm_subscription_extra_usage_usd", provider="anthropic") == 12.75
    assert sample(snap, "llm_subscription_extra_usage_limit_usd", provider="anthropic") == 50
    assert sample(snap, "llm_subscription_info", provider="anthropic", plan="max") == 1
    assert sample(snap, "llm_subscription_info", provider="google", plan="free-tier") == 1
    assert (
        sample(
            snap, "llm_credentials_expiry_timestamp_seconds", provider="anthropic", account="claude"
        )
        == NOW_S + 60
    )
    exposition = snap.render().decode()
    assert 'llm_quota_utilization_ratio{account="claude",provider="anthropic",window="5h"}' in (
        exposition
    )
    assert_clean(exposition)


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


async def test_poller_keeps_values_on_expiry_and_backs_off_on_429(
    server: VendorServer,
    session: aiohttp.ClientSession,
    creds: CredentialFiles,
) -> None:
    expires_soon = claude_creds(expiresAt=(NOW_S + 60) * 1000)
    path = creds.write(".credentials.json", expires_soon)
    server.reply("GET", CLAUDE_USAGE, "claude_usage.json")
    config = Config(
        accounts=(
            AccountConfig(
                provider="claude_subscription",
                base_url=server.url,
                options={"credentials_file": str(path)},
            ),
        )
    )
    clock = Clock(NOW.timestamp())
    poller = Poller(config, session, clock=clock)
    labels = {"provider": "anthropic", "account": "claude"}

    await poller.poll_once()
    snap = poller.snapshot
    assert sample(snap, "llm_source_up", source="quota", **labels) == 1
    assert sample(snap, "llm_quota_utilization_ratio", window="7d", **labels) == 0.38

    # The token expires: nothing is sent, reason=credentials, the last values stay.
    clock.now += 300
    await poller.poll_once()
    snap = poller.snapshot
    assert len(server.seen) == 1
    assert sample(snap, "llm_source_up", source="quota", **labels) == 0
    assert (
        sample(snap, "llm_upstream_request_failures_total", source="quota", reason="credentials")
        == 1
    )
    assert sample(snap, "llm_quota_utilization_ratio", window="7d", **labels) == 0.38
    [quota_state] = poller.states
    assert quota_state.last_error is not None
    assert quota_state.last_error.startswith("credentials expired: run `claude` once to refresh")

    # Claude Code refreshed the file; the vendor now rate-limits with a long Retry-After.
    fresh = claude_creds(expiresAt=int(clock.now + 3600) * 1000)
    path.write_text(json.dumps(fresh))
    os.utime(path, ns=(path.stat().st_atime_ns, path.stat().st_mtime_ns + 10**9))
    creds.record(path)
    server.reply("GET", CLAUDE_USAGE, Reply(429, {}, {"Retry-After": "3600"}))
    await poller.poll_once()
    assert len(server.seen) == 2  # longer than max_retry_after: not retried within the poll
    assert sample(poller.snapshot, "llm_quota_utilization_ratio", window="7d", **labels) == 0.38
    clock.now += 120
    await poller.poll_once()
    assert len(server.seen) == 2  # backing off across polls
    assert sample(poller.snapshot, "llm_quota_utilization_ratio", window="7d", **labels) == 0.38
    assert_clean(repr(poller.states))


async def test_checks_use_the_default_credential_files(
    server: VendorServer,
    session: aiohttp.ClientSession,
    creds: CredentialFiles,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("HOME", str(creds.root))
    monkeypatch.delenv("CLAUDE_CONFIG_DIR", raising=False)
    monkeypatch.delenv("CODEX_HOME", raising=False)
    later = int(time.time()) + 3600
    creds.write(".claude/.credentials.json", claude_creds(expiresAt=later * 1000))
    auth = fixture("codex_auth.json")
    auth["tokens"]["access_token"] = make_jwt({"exp": later})
    creds.write(".codex/auth.json", auth)
    creds.write(
        ".gemini/oauth_creds.json",
        {**fixture("gemini_oauth_creds.json"), "expiry_date": later * 1000},
    )
    server.reply("GET", CLAUDE_USAGE, "claude_usage.json")
    server.reply("GET", CODEX_USAGE, "codex_usage.json")
    server.reply("POST", GEMINI_LOAD, "gemini_load_code_assist.json")
    for name, base in [
        ("claude_subscription", server.url),
        ("codex_subscription", codex_base(server)),
        ("gemini_subscription", server.url),
    ]:
        await PROVIDERS[name].check(Upstream(session, base, {}, RequestStats()))
    assert server.paths() == [CLAUDE_USAGE, CODEX_USAGE, GEMINI_LOAD]

    creds.write(".gemini/oauth_creds.json", fixture("gemini_oauth_creds.json"))  # expired
    with pytest.raises(CredentialsError, match="credentials expired"):
        await PROVIDERS["gemini_subscription"].check(
            Upstream(session, server.url, {}, RequestStats())
        )
    assert len(server.seen) == 3
