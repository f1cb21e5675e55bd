"""ChatGPT / Codex subscription: Codex quota windows of the ChatGPT login, read-only.

Credential
    The Codex CLI's ChatGPT login, read at every poll from ``auth_file`` (default
    ``$CODEX_HOME/auth.json``, else ``~/.codex/auth.json``): ``tokens.access_token`` (a JWT)
    and ``tokens.account_id``. When ``account_id`` is absent it is taken from the token's
    ``https://api.openai.com/auth`` → ``chatgpt_account_id`` claim (access token, then id
    token; decoded without verification, only to read our own token), and when neither has
    it the header is left out. The token's ``exp`` claim is its expiry. The file is never
    written and the token never refreshed (Codex refresh tokens are single-use: refreshing
    would log the CLI out): run ``codex`` to refresh it. A missing file, an API-key-only file
    (``OPENAI_API_KEY`` without ``tokens``) or an expired token fail the poll with reason
    ``credentials`` before anything is sent. Logins kept in the OS keyring
    (``cli_auth_credentials_store = "keyring"``) have no file and cannot be read.

Endpoint called
    ``GET https://chatgpt.com/backend-api/wham/usage`` (source ``quota``, private and
    undocumented) with ``Authorization: Bearer <token>`` and ``ChatGPT-Account-Id``. The
    User-Agent is the exporter's own (Codex sends ``codex-cli``; not imitated). Default poll
    interval 5 minutes; 429 is retried after ``Retry-After``, then backed off across polls.

Series (``provider="openai"``, ``account="chatgpt"`` unless named)
    * ``llm_quota_utilization_ratio{window}``: ``used_percent`` / 100, exactly.
    * ``llm_quota_resets_at_timestamp_seconds{window}``: ``reset_at`` (unix s), else now +
      ``reset_after_seconds``.
    * ``llm_quota_window_seconds{window}``: ``limit_window_seconds``.
    * ``llm_quota_limit_reached{window}``: the rate limit's ``limit_reached`` applies to the
      whole group (``rate_limit``, ``code_review_rate_limit`` or one additional limit); it is
      1 on the group's most used window(s) — the one that binds — and 0 on the others; no
      series when the vendor does not report the flag.
    * ``llm_subscription_info{plan}``: ``plan_type`` (``plus``, ``pro``, ``team``, ...).
    * ``llm_credentials_expiry_timestamp_seconds``: the access token's ``exp``.

Window label values
    Windows are named by ``limit_window_seconds``, **never by position** (a 7-day window has
    been seen in ``primary_window``): 18000 → ``5h``, 604800 → ``7d``, any other length →
    ``<seconds>s``. ``code_review_rate_limit`` windows are ``code_review_<5h|7d|...>``;
    ``additional_rate_limits[]`` windows are ``<limit_name>_<5h|7d|...>`` with the name
    sanitised (lower case, characters outside ``[a-z0-9._-]`` → ``_``, at most 48
    characters; ``metered_feature`` when there is no name), e.g.
    ``gpt-5.3-codex-spark_5h``. A window without ``limit_window_seconds`` is left out. Two
    windows with one name (same group, same length) are one series: the more used one.

Blind spots
    * ``credits.balance`` → ``llm_subscription_credits`` in Codex's own credit unit: credits
      are priced per million tokens (about $0.04 each at GPT-5.4's rate card), not dollars,
      so they are never exported as USD. Absent when unlimited or when the plan has none.
    * Team credit pools (``spend_control``, ``individual_limit``) are not read.
    * Private endpoint: every field is optional and shapes change without notice.
"""

from __future__ import annotations

import os
import time
from collections.abc import Mapping, MutableMapping, Sequence
from dataclasses import dataclass, field, replace
from decimal import Decimal
from pathlib import Path
from typing import Any, Final

from pydantic import BaseModel, ConfigDict, Field

from exporter.errors import CredentialsError, InvalidResponseError
from exporter.parsing import as_count, as_decimal, as_label, as_list, as_mapping
from exporter.providers.base import ProviderSpec, SourceContext
from exporter.providers.subscription_quota import (
    QuotaWindow,
    account_records,
    ensure_not_expired,
    expand,
    jwt_claims,
    label_value,
    length_name,
    percent_ratio,
    read_credentials_file,
    token_field,
)
from exporter.records import Record, gauge
from exporter.upstream import Upstream

USAGE_PATH: Final = "/wham/usage"
ACCOUNT_HEADER: Final = "ChatGPT-Account-Id"
#: JWT claim (an object) holding ``chatgpt_account_id``.
AUTH_CLAIM: Final = "https://api.openai.com/auth"

LOGIN_HINT: Final = "run `codex login` and sign in with ChatGPT"
REFRESH_HINT: Final = "run `codex` once to refresh"

#: Rate-limit groups at the top level of the answer: field → window name prefix.
GROUPS: Final = (("rate_limit", ""), ("code_review_rate_limit", "code_review"))


class CodexSubscriptionOptions(BaseModel):
    """``options:`` of a ``codex_subscription`` account."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    auth_file: Path | None = Field(
        default=None,
        description="the Codex CLI's `auth.json` (default `$CODEX_HOME/auth.json`, else "
        "`~/.codex/auth.json`); only ever read",
    )


@dataclass(frozen=True, slots=True)
class CodexCredentials:
    access_token: str = field(repr=False)
    account_id: str | None = field(repr=False)
    #: Unix seconds from the token's ``exp`` claim; None when it has none.
    expires_at: Decimal | None
    where: str


def default_auth_file(env: Mapping[str, str] = os.environ) -> Path:
    """``$CODEX_HOME/auth.json``, else ``~/.codex/auth.json``."""
    home = env.get("CODEX_HOME", "").strip()
    return expand(home) / "auth.json" if home else expand("~/.codex/auth.json")


def _account_claim(claims: Mapping[str, Any]) -> str | None:
    auth = claims.get(AUTH_CLAIM)
    if isinstance(auth, Mapping):
        account = auth.get("chatgpt_account_id")
        # Sent as a header value: a claim that cannot be one is as good as absent.
        if isinstance(account, str) and account and account.isascii() and account.isprintable():
            return account
    return None


def _expiry(claims: Mapping[str, Any], where: str) -> Decimal | None:
    exp = claims.get("exp")
    if exp is None:
        return None
    try:
        return as_decimal(exp, "exp", null=None)
    except InvalidResponseError:
        raise CredentialsError(f"{where}: the access token's exp claim is not a number") from None


def parse_credentials(document: Mapping[str, Any], where: str) -> CodexCredentials:
    """The ChatGPT login of an ``auth.json`` document."""
    tokens = document.get("tokens")
    if tokens is None:
        if document.get("OPENAI_API_KEY"):
            raise CredentialsError(f"{where} holds an API key, not a ChatGPT login; {LOGIN_HINT}")
        raise CredentialsError(f"not logged in: {where} has no ChatGPT login; {LOGIN_HINT}")
    if not isinstance(tokens, Mapping):
        raise CredentialsError(f"{where}: tokens is not an object")
    inner = f"{where}: tokens"
    token = token_field(tokens, "access_token", inner)
    if token is None:
        raise CredentialsError(f"not logged in: {where} has no access token; {LOGIN_HINT}")
    claims = jwt_claims(token)
    id_token = token_field(tokens, "id_token", inner)
    account = (
        token_field(tokens, "account_id", inner)
        or _account_claim(claims)
        or (_account_claim(jwt_claims(id_token)) if id_token else None)
    )
    return CodexCredentials(
        access_token=token, account_id=account, expires_at=_expiry(claims, where), where=where
    )


def load_credentials(
    options: CodexSubscriptionOptions,
    memo: MutableMapping[str, Any],
    env: Mapping[str, str] = os.environ,
) -> CodexCredentials:
    path = expand(options.auth_file or default_auth_file(env))
    return read_credentials_file(path, memo, parse_credentials, login_hint=LOGIN_HINT)


# --------------------------------------------------------------------------- pure parsers


def _limit_reached(value: Any, where: str) -> bool | None:
    if value is None or isinstance(value, bool):
        return value
    raise InvalidResponseError(f"{where}: expected a boolean")


def _group_windows(prefix: str, raw: Any, where: str, now: float) -> list[QuotaWindow]:
    """The windows of one rate-limit object, ``limit_reached`` put on the binding one."""
    if raw is None:
        return []
    group = as_mapping(raw, where)
    windows: list[QuotaWindow] = []
    for key in ("primary_window", "secondary_window"):
        if group.get(key) is None:
            continue
        path = f"{where}.{key}"
        window = as_mapping(group[key], path)
        seconds = as_count(window.get("limit_window_seconds"), f"{path}.limit_window_seconds")
        if not seconds:
            continue  # unnamed: never guessed from the position
        name = f"{prefix}_{length_name(seconds)}" if prefix else length_name(seconds)
        used = window.get("used_percent")
        resets_at: Decimal | None = None
        if window.get("reset_at") is not None:
            resets_at = as_decimal(window["reset_at"], f"{path}.reset_at")
        elif window.get("reset_after_seconds") is not None:
            after = as_decimal(window["reset_after_seconds"], f"{path}.reset_after_seconds")
            resets_at = Decimal(repr(now)) + after
        windows.append(
            QuotaWindow(
                name=name,
                utilization=None if used is None else percent_ratio(used, f"{path}.used_percent"),
                resets_at=resets_at,
                length_seconds=seconds,
            )
        )
    reached = _limit_reached(group.get("limit_reached"), f"{where}.limit_reached")
    if reached is None or not windows:
        return windows
    most = max((w.utilization for w in windows if w.utilization is not None), default=None)
    return [
        replace(w, limit_reached=reached and (most is None or w.utilization == most))
        for w in windows
    ]


def parse_usage(body: Any, now: float) -> list[QuotaWindow]:
    """Quota windows of a ``/wham/usage`` answer (one per window name)."""
    usage = as_mapping(body, "wham_usage")
    windows: list[QuotaWindow] = []
    for key, prefix in GROUPS:
        windows += _group_windows(prefix, usage.get(key), f"wham_usage.{key}", now)
    extra = as_list(usage.get("additional_rate_limits"), "wham_usage.additional_rate_limits")
    for i, raw in enumerate(extra):
        where = f"wham_usage.additional_rate_limits[{i}]"
        item = as_mapping(raw, where)
        name = as_label(item.get("limit_name"), f"{where}.limit_name") or as_label(
            item.get("metered_feature"), f"{where}.metered_feature"
        )
        prefix = label_value(name) or f"additional_{i}"
        windows += _group_windows(prefix, item.get("rate_limit"), f"{where}.rate_limit", now)
    merged: dict[str, QuotaWindow] = {}
    for window in windows:
        kept = merged.get(window.name)
        if kept is None or (window.utilization or 0) > (kept.utilization or 0):
            merged[window.name] = window
    return list(merged.values())


def parse_plan(body: Any) -> str | None:
    plan = as_label(as_mapping(body, "wham_usage").get("plan_type"), "wham_usage.plan_type")
    return label_value(plan) or None


def credit_balance(body: Any) -> Decimal | None:
    """Codex credits left (a count of credits, string or number), None when the account has
    no credits or unlimited ones; credits are not dollars (see the docstring)."""
    raw = as_mapping(body, "wham_usage").get("credits")
    if raw is None:
        return None
    credits = as_mapping(raw, "wham_usage.credits")
    if credits.get("unlimited") is True or credits.get("has_credits") is False:
        return None
    if credits.get("balance") is None:
        return None
    return as_decimal(credits["balance"], "wham_usage.credits.balance")


# --------------------------------------------------------------------------- source


def _client(upstream: Upstream, credentials: CodexCredentials, now: float) -> Upstream:
    ensure_not_expired(
        credentials.expires_at, now, where=credentials.where, refresh_hint=REFRESH_HINT
    )
    headers = {"Authorization": f"Bearer {credentials.access_token}"}
    if credentials.account_id:
        headers[ACCOUNT_HEADER] = credentials.account_id
    return upstream.with_headers(headers)


async def quota(ctx: SourceContext) -> Sequence[Record]:
    options = ctx.options
    assert isinstance(options, CodexSubscriptionOptions)
    credentials = load_credentials(options, ctx.memo)
    body = await _client(ctx.upstream, credentials, ctx.now).get_json(USAGE_PATH)
    records = list(
        account_records(
            parse_usage(body, ctx.now), plan=parse_plan(body), expires_at=credentials.expires_at
        )
    )
    credits = credit_balance(body)
    if credits is not None:
        records.append(gauge("llm_subscription_credits", credits))
    return records


async def check(upstream: Upstream) -> None:
    """The usage request with the default ``auth.json`` (``--check`` has no account options)."""
    credentials = load_credentials(CodexSubscriptionOptions(), {})
    await _client(upstream, credentials, time.time()).get_json(USAGE_PATH)


def auth_headers(_: str) -> Mapping[str, str]:
    return {}  # the token is read from auth.json at poll time


PROVIDER: Final = ProviderSpec(
    name="codex_subscription",
    title="ChatGPT/Codex subscription: Codex quota windows of the ChatGPT login",
    default_base_url="https://chatgpt.com/backend-api",
    env_var=None,
    key_hint=(
        "a Codex CLI ChatGPT login (run `codex login`; read-only from ~/.codex/auth.json "
        "or $CODEX_HOME/auth.json)"
    ),
    auth_headers=auth_headers,
    sources={"quota": quota},
    check=check,
    needs_key=False,
    options=CodexSubscriptionOptions,
    default_poll_interval=300.0,
    label="openai",
    default_account="chatgpt",
)
