"""Claude subscription (Pro / Max / Team): quota windows of the Claude Code login, read-only.

Credential
    The Claude Code OAuth login, read at every poll from ``credentials_file`` (default
    ``$CLAUDE_CONFIG_DIR/.credentials.json``, the first entry when the variable lists several
    directories separated by commas, else ``~/.claude/.credentials.json``): its
    ``claudeAiOauth.accessToken``, ``expiresAt`` (epoch ms), ``scopes`` and
    ``subscriptionType``. The file is never written and the token never refreshed: run
    ``claude`` to refresh it. A file that is missing, has no ``claudeAiOauth`` (only
    ``mcpOAuth``: not logged in), an expired token, or a token without the ``user:profile``
    scope fail the poll with reason ``credentials`` before anything is sent.
    ``token_env: CLAUDE_CODE_OAUTH_TOKEN`` (opt-in) takes the access token from that environment
    variable instead when it is set; expiry, scopes and plan are then unknown. A token with
    only the ``user:inference`` scope cannot read the usage endpoint (reason ``auth``), and
    long-lived ``claude setup-token`` tokens may be such tokens, which is why the variable is
    not read by default. macOS keeps the login in the
    Keychain, not in a file: point ``credentials_file`` at an exported copy or use ``token_env``.

Endpoint called
    ``GET https://api.anthropic.com/api/oauth/usage`` (source ``quota``, private and
    undocumented) with ``Authorization: Bearer <token>`` and ``anthropic-beta: oauth-2025-04-20``.
    The User-Agent is the exporter's own (``llm-cost-exporter/<version>``); Claude Code's
    ``claude-code/<version>`` is not imitated (no client is known to need it). Default poll
    interval 5 minutes; a 429 is retried after ``Retry-After`` and then backed off across polls
    with the last values kept.

Series (``provider="anthropic"``, ``account="claude"`` unless named)
    * ``llm_quota_utilization_ratio{window}``: ``utilization`` (a 0–100 percentage, may be
      fractional) / 100, exactly.
    * ``llm_quota_resets_at_timestamp_seconds{window}``: ``resets_at`` (ISO 8601, microseconds,
      ``Z`` or ``+00:00``).
    * ``llm_quota_window_seconds{window}``: 18000 for ``5h``, 604800 for the 7-day windows.
    * ``llm_subscription_extra_usage_usd`` / ``llm_subscription_extra_usage_limit_usd``:
      ``extra_usage.used_credits`` / ``monthly_limit`` in **cents** / 100, only while
      ``is_enabled`` is true and the currency is USD (or absent); another currency is not
      converted and its series are left out (logged once).
    * ``llm_subscription_info{plan}``: ``subscriptionType`` of the credentials file (``pro``,
      ``max``, ``team``, ...). ``rateLimitTier`` (e.g. Max 5x vs 20x) is not exported.
    * ``llm_credentials_expiry_timestamp_seconds``: ``expiresAt`` / 1000.

Window label values (vendor field → ``window``, length in seconds)
    * ``five_hour``, ``limits[kind=session]`` → ``5h`` (18000)
    * ``seven_day``, ``limits[kind=weekly_all]`` → ``7d`` (604800)
    * ``seven_day_opus`` → ``7d_opus``; ``seven_day_sonnet`` → ``7d_sonnet``;
      ``seven_day_oauth_apps`` → ``7d_oauth_apps``; ``seven_day_routines`` or its alias
      ``seven_day_cowork`` → ``7d_routines``; ``seven_day_design`` or its alias
      ``seven_day_omelette`` → ``7d_design`` (all 604800)
    * ``limits[kind=weekly_scoped]`` for model X (``scope.model.display_name``, else its
      ``id``, else ``scope.surface``'s) → ``7d_<x>`` (604800), ``7d_scoped`` without a name;
      an "All models" scope is ``7d``
    * any other top-level object with a ``utilization`` → its key, sanitised (604800 / 18000
      when the key starts with ``seven_day`` / ``five_hour``, else no length), so a new window
      shows up without a release
    * any other ``limits[]`` kind → ``<kind>`` or ``<kind>_<scope>`` (no length)

    Sanitised: lower case, characters outside ``[a-z0-9._-]`` → ``_``, at most 48 characters.
    A ``null`` window has no series. The top-level windows win over ``limits[]``: a ``limits[]``
    entry whose window name is already reported (e.g. ``session`` next to ``five_hour``, or
    ``weekly_scoped`` "opus" next to ``seven_day_opus``) adds nothing, so one window is never
    two series; ``limits[]`` fills in windows that are null or absent at the top level. An
    entry of an unknown kind is exported only when ``is_active`` is not false (``inactive_pool``
    entries report 100 % without being a quota), and one with a null ``percent`` adds nothing.

Blind spots
    * Private endpoint: shapes change without notice; every field is optional.
    * The token lives a few hours; while Claude Code is not used it expires and the source
      reports ``credentials`` failures (the last values stay until stale).
    * The newer ``spend`` object (minor units with a currency) is not read.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Mapping, MutableMapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any, Final

from pydantic import BaseModel, ConfigDict, Field

from exporter.errors import CredentialsError, InvalidResponseError
from exporter.parsing import as_decimal, as_label, as_list, as_mapping
from exporter.providers.base import ProviderSpec, SourceContext
from exporter.providers.subscription_quota import (
    FIVE_HOURS,
    SEVEN_DAYS,
    QuotaWindow,
    account_records,
    ensure_not_expired,
    expand,
    label_value,
    millis_field,
    percent_ratio,
    read_credentials_file,
    rfc3339_seconds,
    token_field,
)
from exporter.records import Record, gauge
from exporter.upstream import Upstream

log = logging.getLogger(__name__)

USAGE_PATH: Final = "/api/oauth/usage"
OAUTH_BETA: Final = "oauth-2025-04-20"
#: Scope the usage endpoint needs (``user:inference``-only tokens are rejected).
PROFILE_SCOPE: Final = "user:profile"

LOGIN_HINT: Final = "run `claude` and log in"
REFRESH_HINT: Final = "run `claude` once to refresh"

#: Top-level windows: vendor key → (window label, length in seconds). Aliases share a label.
KNOWN_WINDOWS: Final[Mapping[str, tuple[str, int]]] = {
    "five_hour": ("5h", FIVE_HOURS),
    "seven_day": ("7d", SEVEN_DAYS),
    "seven_day_opus": ("7d_opus", SEVEN_DAYS),
    "seven_day_sonnet": ("7d_sonnet", SEVEN_DAYS),
    "seven_day_oauth_apps": ("7d_oauth_apps", SEVEN_DAYS),
    "seven_day_routines": ("7d_routines", SEVEN_DAYS),
    "seven_day_cowork": ("7d_routines", SEVEN_DAYS),
    "seven_day_design": ("7d_design", SEVEN_DAYS),
    "seven_day_omelette": ("7d_design", SEVEN_DAYS),
}
#: Top-level objects that are not quota windows even though some carry ``utilization``.
NOT_WINDOWS: Final = frozenset({"extra_usage", "spend", "limits"})
#: Sanitised ``weekly_scoped`` scope names that mean every model (the plain ``7d`` window).
ALL_MODELS_SCOPES: Final = frozenset({"all_models", "all"})
#: ``limits[].kind`` → (window label, length) for the unscoped kinds.
LIMIT_KINDS: Final[Mapping[str, tuple[str, int]]] = {
    "session": ("5h", FIVE_HOURS),
    "weekly_all": ("7d", SEVEN_DAYS),
}


class ClaudeSubscriptionOptions(BaseModel):
    """``options:`` of a ``claude_subscription`` account."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    credentials_file: Path | None = Field(
        default=None,
        description="Claude Code's credentials file (default `$CLAUDE_CONFIG_DIR/.credentials"
        ".json`, else `~/.claude/.credentials.json`); only ever read",
    )
    token_env: str | None = Field(
        default=None,
        description="name of an environment variable holding an access token, used instead "
        "of the file when set (e.g. `CLAUDE_CODE_OAUTH_TOKEN`; needs the user:profile scope)",
    )


@dataclass(frozen=True, slots=True)
class ClaudeCredentials:
    access_token: str = field(repr=False)
    #: Unix seconds; None when unknown (token from the environment).
    expires_at: Decimal | None
    scopes: tuple[str, ...] | None
    plan: str | None
    where: str


def default_credentials_file(env: Mapping[str, str] = os.environ) -> Path:
    """``$CLAUDE_CONFIG_DIR/.credentials.json`` (first of a comma list), else ``~/.claude``."""
    config_dir = env.get("CLAUDE_CONFIG_DIR", "").split(",")[0].strip()
    if config_dir:
        return expand(config_dir) / ".credentials.json"
    return expand("~/.claude/.credentials.json")


def parse_credentials(document: Mapping[str, Any], where: str) -> ClaudeCredentials:
    """The Claude login of a ``.credentials.json`` document."""
    oauth = document.get("claudeAiOauth")
    if oauth is None:
        raise CredentialsError(f"not logged in: {where} has no Claude login; {LOGIN_HINT}")
    if not isinstance(oauth, Mapping):
        raise CredentialsError(f"{where}: claudeAiOauth is not an object")
    inner = f"{where}: claudeAiOauth"
    token = token_field(oauth, "accessToken", inner)
    if token is None:
        raise CredentialsError(f"not logged in: {where} has no access token; {LOGIN_HINT}")
    raw_scopes = oauth.get("scopes")
    scopes: tuple[str, ...] | None = None
    if isinstance(raw_scopes, list):
        scopes = tuple(s for s in raw_scopes if isinstance(s, str))
    plan = oauth.get("subscriptionType")  # informational: anything but a string is ignored
    return ClaudeCredentials(
        access_token=token,
        expires_at=millis_field(oauth, "expiresAt", inner),
        scopes=scopes,
        plan=(label_value(plan) or None) if isinstance(plan, str) else None,
        where=where,
    )


def load_credentials(
    options: ClaudeSubscriptionOptions,
    memo: MutableMapping[str, Any],
    env: Mapping[str, str] = os.environ,
) -> ClaudeCredentials:
    if options.token_env:
        token = env.get(options.token_env, "").strip()
        if token:
            where = f"${options.token_env}"
            return ClaudeCredentials(token, expires_at=None, scopes=None, plan=None, where=where)
    path = expand(options.credentials_file or default_credentials_file(env))
    return read_credentials_file(path, memo, parse_credentials, login_hint=LOGIN_HINT)


def usable_token(credentials: ClaudeCredentials, now: float) -> str:
    """The access token, once it is known not to be expired nor to lack the profile scope."""
    ensure_not_expired(
        credentials.expires_at, now, where=credentials.where, refresh_hint=REFRESH_HINT
    )
    if credentials.scopes is not None and PROFILE_SCOPE not in credentials.scopes:
        raise CredentialsError(
            f"the login in {credentials.where} lacks the {PROFILE_SCOPE} scope the usage "
            f"endpoint needs; {LOGIN_HINT} again (setup-token tokens are inference-only)"
        )
    return credentials.access_token


# --------------------------------------------------------------------------- pure parsers


def _window(name: str, length: int | None, body: Mapping[str, Any], where: str) -> QuotaWindow:
    utilization = body.get("utilization")
    resets_at = body.get("resets_at")
    return QuotaWindow(
        name=name,
        utilization=None if utilization is None else percent_ratio(utilization, where),
        resets_at=None if resets_at is None else rfc3339_seconds(resets_at, f"{where}.resets_at"),
        length_seconds=length,
    )


def _length_from_key(key: str) -> int | None:
    if key.startswith("seven_day"):
        return SEVEN_DAYS
    if key.startswith("five_hour"):
        return FIVE_HOURS
    return None


def _top_level_windows(body: Mapping[str, Any]) -> list[QuotaWindow]:
    windows: dict[str, QuotaWindow] = {}
    for key, value in body.items():
        if value is None or key in NOT_WINDOWS:
            continue
        where = f"oauth_usage.{key}"
        length: int | None
        if key in KNOWN_WINDOWS:
            as_mapping(value, where)  # a known window of another shape is drift: fail
            name, length = KNOWN_WINDOWS[key]
        elif not isinstance(value, Mapping):
            continue
        elif "utilization" in value:  # a window this release does not know yet
            name, length = label_value(key), _length_from_key(key)
        else:
            continue
        window = _window(name, length, value, where)
        if name and window.reported and name not in windows:  # first alias reported wins
            windows[name] = window
    return list(windows.values())


def _scope_name(entry: Mapping[str, Any], where: str) -> str:
    scope = entry.get("scope")
    if not isinstance(scope, Mapping):
        return ""
    for part in ("model", "surface"):
        named = scope.get(part)
        if isinstance(named, Mapping):
            for key in ("display_name", "id"):
                text = as_label(named.get(key), f"{where}.scope.{part}.{key}")
                if text:
                    return label_value(text)
    return ""


def _limit_window(entry: Mapping[str, Any], where: str) -> QuotaWindow | None:
    kind = as_label(entry.get("kind"), f"{where}.kind")
    scope = _scope_name(entry, where)
    if kind in LIMIT_KINDS:
        name, length = LIMIT_KINDS[kind]
    elif kind == "weekly_scoped":
        # An "All models" scope is the account-wide weekly window, not a model's.
        name = "7d" if scope in ALL_MODELS_SCOPES else f"7d_{scope or 'scoped'}"
        length = SEVEN_DAYS
    elif kind and entry.get("is_active") is not False:
        name, length = label_value(f"{kind}_{scope}" if scope else kind), None
    else:
        return None
    if entry.get("percent") is None:
        return None
    reported = {"utilization": entry.get("percent"), "resets_at": entry.get("resets_at")}
    return _window(name, length, reported, where) if name else None


def parse_usage(body: Any) -> list[QuotaWindow]:
    """Quota windows of an ``/api/oauth/usage`` answer (one per window name)."""
    usage = as_mapping(body, "oauth_usage")
    windows = _top_level_windows(usage)
    names = {w.name for w in windows}
    for i, raw in enumerate(as_list(usage.get("limits"), "oauth_usage.limits")):
        where = f"oauth_usage.limits[{i}]"
        window = _limit_window(as_mapping(raw, where), where)
        if window is not None and window.name not in names:
            names.add(window.name)
            windows.append(window)
    return windows


def _cents_usd(value: Any, where: str) -> Decimal | None:
    """Cents as exact dollars (the exponent shifts; no rounding)."""
    if value is None:
        return None
    cents = as_decimal(value, where, null=None)
    if cents < 0:
        raise InvalidResponseError(f"{where}: negative amount")
    return cents.scaleb(-2)


def parse_extra_usage(body: Any, memo: MutableMapping[str, Any] | None = None) -> list[Record]:
    """Extra (pay-as-you-go) usage in USD while it is enabled; other currencies are skipped."""
    usage = as_mapping(body, "oauth_usage")
    raw = usage.get("extra_usage")
    if raw is None:
        return []
    extra = as_mapping(raw, "oauth_usage.extra_usage")
    if extra.get("is_enabled") is not True:
        return []
    currency = as_label(extra.get("currency"), "oauth_usage.extra_usage.currency")
    if currency and currency.upper() != "USD":
        if memo is not None and memo.get("extra_usage_currency") != currency:
            memo["extra_usage_currency"] = currency
            log.info(
                "claude_subscription: extra usage is billed in %s, not USD; not exported",
                label_value(currency),
            )
        return []
    records: list[Record] = []
    used = _cents_usd(extra.get("used_credits"), "oauth_usage.extra_usage.used_credits")
    limit = _cents_usd(extra.get("monthly_limit"), "oauth_usage.extra_usage.monthly_limit")
    if used is not None:
        records.append(gauge("llm_subscription_extra_usage_usd", used))
    if limit is not None:
        records.append(gauge("llm_subscription_extra_usage_limit_usd", limit))
    return records


# --------------------------------------------------------------------------- source


def _client(upstream: Upstream, token: str) -> Upstream:
    return upstream.with_headers({"Authorization": f"Bearer {token}", "anthropic-beta": OAUTH_BETA})


async def quota(ctx: SourceContext) -> Sequence[Record]:
    options = ctx.options
    assert isinstance(options, ClaudeSubscriptionOptions)
    credentials = load_credentials(options, ctx.memo)
    token = usable_token(credentials, ctx.now)
    body = await _client(ctx.upstream, token).get_json(USAGE_PATH)
    records = account_records(
        parse_usage(body), plan=credentials.plan, expires_at=credentials.expires_at
    )
    return records + parse_extra_usage(body, ctx.memo)


async def check(upstream: Upstream) -> None:
    """The usage request with the default credentials (``--check`` has no account options)."""
    credentials = load_credentials(ClaudeSubscriptionOptions(), {})
    await _client(upstream, usable_token(credentials, time.time())).get_json(USAGE_PATH)


def auth_headers(_: str) -> Mapping[str, str]:
    return {}  # the token is read from the credentials file at poll time


PROVIDER: Final = ProviderSpec(
    name="claude_subscription",
    title="Claude Pro/Max subscription: quota windows and extra usage of the Claude Code login",
    default_base_url="https://api.anthropic.com",
    env_var=None,
    key_hint=(
        "a Claude Code login (run `claude` and log in; read-only from "
        "~/.claude/.credentials.json or $CLAUDE_CONFIG_DIR)"
    ),
    auth_headers=auth_headers,
    sources={"quota": quota},
    check=check,
    needs_key=False,
    options=ClaudeSubscriptionOptions,
    default_poll_interval=300.0,
    label="anthropic",
    default_account="claude",
)
