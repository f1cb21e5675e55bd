"""Gemini CLI (Gemini Code Assist): per-model quota of the Gemini CLI Google login, read-only.

Credential
    The Gemini CLI's Google OAuth login, read at every poll from ``credentials_file`` (default
    ``~/.gemini/oauth_creds.json``): ``access_token`` and ``expiry_date`` (epoch ms). The file
    is never written and the token never refreshed: run ``gemini`` to refresh it. Google
    access tokens live about an hour, so between Gemini CLI sessions the source mostly reports
    ``credentials`` failures (nothing is sent; the last values stay until stale). Only the
    ``oauth-personal`` login has this file; API-key and Vertex AI modes have no quota endpoint.
    ``project`` (the Gemini CLI's ``GOOGLE_CLOUD_PROJECT``) is needed by Standard / Enterprise
    accounts that have no managed project.

Endpoints called (``POST`` on ``https://cloudcode-pa.googleapis.com``, private, undocumented)
    * ``/v1internal:loadCodeAssist`` with the Gemini CLI's own body
      ``{"cloudaicompanionProject"?, "metadata": {"ideType": "IDE_UNSPECIFIED", "platform":
      "PLATFORM_UNSPECIFIED", "pluginType": "GEMINI", "duetProject"?}}``: the tier (plan) and
      ``cloudaicompanionProject``. Remembered for the login (not repeated every poll) and
      forgotten when the quota request fails. Nothing is onboarded: an account without a
      ``currentTier`` must run ``gemini`` once first.
    * ``/v1internal:retrieveUserQuota`` with ``{"project": <project>}`` (source ``quota``).
    Header ``Authorization: Bearer <token>``; the exporter's own User-Agent. Default poll
    interval 5 minutes.

Series (``provider="google"``, ``account="gemini-cli"`` unless named)
    * ``llm_quota_utilization_ratio{window}``: 1 − ``remainingFraction`` (the answer says what
      is left), exactly.
    * ``llm_quota_resets_at_timestamp_seconds{window}``: ``resetTime`` (ISO 8601).
    * ``llm_subscription_info{plan}``: ``paidTier.id`` if present, else ``currentTier.id``
      (``free-tier``, ``standard-tier``, ``legacy-tier``, ...).
    * ``llm_credentials_expiry_timestamp_seconds``: ``expiry_date`` / 1000.
    The window length is not reported, so there is no ``llm_quota_window_seconds``.

Window label values
    The bucket's ``modelId`` (``tokenType`` when it has none), sanitised: lower case,
    characters outside ``[a-z0-9._-]`` → ``_``, at most 48 characters, e.g.
    ``gemini-2.5-pro``, ``gemini-2.5-flash``. Several buckets of one model (per token type)
    are one window: the one with the lowest ``remainingFraction`` (the binding one, as
    CodexBar does), with its ``resetTime``; so the set of series does not change with the
    token types the server happens to list.

Not available (logged once, not polled again until restart; never an error storm)
    ``loadCodeAssist`` answering without a ``currentTier`` but with ``ineligibleTiers`` (the
    Gemini CLI's ``IneligibleTierError``: e.g. individual / AI Pro / Ultra accounts after
    Google stopped serving Gemini CLI OAuth to them on 2026-06-18), a tier without any
    project, or HTTP 400 / 404 to ``loadCodeAssist`` (``UNSUPPORTED_CLIENT`` and friends; the
    error body is not available to sources, so only the status is used).

Blind spots
    * A bucket without ``remainingFraction`` has no utilization series (a proto3 answer may
      omit an exhausted bucket's 0; uncertain).
    * A 403 ``UNSUPPORTED_CLIENT`` cannot be told from a rejected token: both are ``auth``.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Mapping, MutableMapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any, Final

from pydantic import BaseModel, ConfigDict, Field

from exporter.errors import (
    AuthError,
    CredentialsError,
    InvalidResponseError,
    SourceUnavailable,
    UpstreamClientError,
)
from exporter.parsing import as_decimal, as_label, as_list, as_mapping
from exporter.providers.base import ProviderSpec, SourceContext
from exporter.providers.subscription_quota import (
    QuotaWindow,
    account_records,
    ensure_not_expired,
    expand,
    label_value,
    millis_field,
    read_credentials_file,
    rfc3339_seconds,
    token_field,
)
from exporter.records import Record
from exporter.upstream import Upstream

LOAD_PATH: Final = "/v1internal:loadCodeAssist"
QUOTA_PATH: Final = "/v1internal:retrieveUserQuota"

LOGIN_HINT: Final = "run `gemini` and log in with Google"
REFRESH_HINT: Final = "run `gemini` once to refresh"
#: loadCodeAssist statuses that mean this account or client is not served at all.
UNSERVED_STATUSES: Final = frozenset({400, 404})
#: Longest ineligibility text kept from Google's answer in an error message.
MAX_REASON_LENGTH: Final = 300


class GeminiSubscriptionOptions(BaseModel):
    """``options:`` of a ``gemini_subscription`` account."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    credentials_file: Path | None = Field(
        default=None,
        description="the Gemini CLI's OAuth credentials (default "
        "`~/.gemini/oauth_creds.json`); only ever read",
    )
    project: str | None = Field(
        default=None,
        description="Google Cloud project of Standard / Enterprise accounts without a managed "
        "one (the Gemini CLI's `GOOGLE_CLOUD_PROJECT`)",
    )


@dataclass(frozen=True, slots=True)
class GeminiCredentials:
    access_token: str = field(repr=False)
    expires_at: Decimal | None
    #: Digest of the login (refresh token), to know when the remembered setup is stale.
    login: str = field(repr=False)
    where: str


@dataclass(frozen=True, slots=True)
class CodeAssistSetup:
    project: str | None
    plan: str | None


def default_credentials_file() -> Path:
    return expand("~/.gemini/oauth_creds.json")


def parse_credentials(document: Mapping[str, Any], where: str) -> GeminiCredentials:
    """The Google login of an ``oauth_creds.json`` document."""
    token = token_field(document, "access_token", where)
    if token is None:
        raise CredentialsError(f"not logged in: {where} has no access token; {LOGIN_HINT}")
    refresh = token_field(document, "refresh_token", where) or token
    return GeminiCredentials(
        access_token=token,
        expires_at=millis_field(document, "expiry_date", where),
        login=hashlib.sha256(refresh.encode()).hexdigest(),
        where=where,
    )


def load_credentials(
    options: GeminiSubscriptionOptions, memo: MutableMapping[str, Any]
) -> GeminiCredentials:
    path = expand(options.credentials_file or default_credentials_file())
    return read_credentials_file(path, memo, parse_credentials, login_hint=LOGIN_HINT)


# --------------------------------------------------------------------------- pure parsers


def load_request(project: str | None) -> dict[str, Any]:
    """The body the Gemini CLI sends to ``loadCodeAssist``."""
    metadata: dict[str, Any] = {
        "ideType": "IDE_UNSPECIFIED",
        "platform": "PLATFORM_UNSPECIFIED",
        "pluginType": "GEMINI",
    }
    if project:
        metadata["duetProject"] = project
        return {"cloudaicompanionProject": project, "metadata": metadata}
    return {"metadata": metadata}


def _tier_id(value: Any, where: str) -> str:
    if value is None:
        return ""
    return as_label(as_mapping(value, where).get("id"), f"{where}.id")


def _ineligible(tiers: Sequence[Any]) -> str:
    reasons = []
    for i, raw in enumerate(tiers):
        where = f"loadCodeAssist.ineligibleTiers[{i}]"
        tier = as_mapping(raw, where)
        code = as_label(tier.get("reasonCode"), f"{where}.reasonCode")
        message = as_label(tier.get("reasonMessage"), f"{where}.reasonMessage")
        reasons.append(": ".join(part for part in (code, message) if part))
    text = " ".join("; ".join(r for r in reasons if r).split())
    return text[:MAX_REASON_LENGTH] or "no reason given"


def parse_setup(body: Any, configured_project: str | None) -> CodeAssistSetup:
    """Project and plan from ``loadCodeAssist``; raises SourceUnavailable when not served."""
    load = as_mapping(body, "loadCodeAssist")
    current = _tier_id(load.get("currentTier"), "loadCodeAssist.currentTier")
    paid = _tier_id(load.get("paidTier"), "loadCodeAssist.paidTier")
    ineligible = as_list(load.get("ineligibleTiers"), "loadCodeAssist.ineligibleTiers")
    raw_project = load.get("cloudaicompanionProject")
    if isinstance(raw_project, Mapping):  # the onboarding answer's shape, tolerated here
        raw_project = raw_project.get("id")
    project = as_label(raw_project, "loadCodeAssist.cloudaicompanionProject")
    if not current:
        if ineligible:
            raise SourceUnavailable(
                f"Gemini Code Assist is not available to this Google account "
                f"({_ineligible(ineligible)})"
            )
        raise CredentialsError(
            "Gemini Code Assist is not set up for this Google account: run `gemini` once"
        )
    project = project or configured_project or ""
    if not project:
        detail = f" ({_ineligible(ineligible)})" if ineligible else ""
        raise SourceUnavailable(
            "this Google account needs a Google Cloud project: set options.project "
            f"(the Gemini CLI's GOOGLE_CLOUD_PROJECT){detail}"
        )
    return CodeAssistSetup(project=project, plan=label_value(paid or current) or None)


def _remaining(value: Any, where: str) -> Decimal | None:
    if value is None:
        return None
    fraction = as_decimal(value, where)
    if not 0 <= fraction <= 1:
        raise InvalidResponseError(f"{where}: fraction outside 0–1")
    return fraction


def parse_quota(body: Any) -> list[QuotaWindow]:
    """One window per model: its bucket with the lowest ``remainingFraction``."""
    quota = as_mapping(body, "retrieveUserQuota")
    chosen: dict[str, tuple[Decimal | None, Mapping[str, Any], str]] = {}
    for i, raw in enumerate(as_list(quota.get("buckets"), "retrieveUserQuota.buckets")):
        where = f"retrieveUserQuota.buckets[{i}]"
        bucket = as_mapping(raw, where)
        model = as_label(bucket.get("modelId"), f"{where}.modelId") or as_label(
            bucket.get("tokenType"), f"{where}.tokenType"
        )
        name = label_value(model)
        if not name:
            continue
        remaining = _remaining(bucket.get("remainingFraction"), f"{where}.remainingFraction")
        kept = chosen.get(name)
        if kept is None or (remaining is not None and (kept[0] is None or remaining < kept[0])):
            chosen[name] = (remaining, bucket, where)
    windows = []
    for name, (remaining, bucket, where) in chosen.items():
        reset = bucket.get("resetTime")
        windows.append(
            QuotaWindow(
                name=name,
                utilization=None if remaining is None else Decimal(1) - remaining,
                resets_at=None if reset is None else rfc3339_seconds(reset, f"{where}.resetTime"),
            )
        )
    return windows


# --------------------------------------------------------------------------- source


def _client(upstream: Upstream, credentials: GeminiCredentials, now: float) -> Upstream:
    ensure_not_expired(
        credentials.expires_at, now, where=credentials.where, refresh_hint=REFRESH_HINT
    )
    return upstream.with_headers({"Authorization": f"Bearer {credentials.access_token}"})


async def _setup(client: Upstream, options: GeminiSubscriptionOptions) -> CodeAssistSetup:
    try:
        body = await client.post_json(LOAD_PATH, load_request(options.project))
    except UpstreamClientError as exc:
        if exc.status in UNSERVED_STATUSES:
            raise SourceUnavailable(
                f"Cloud Code answered HTTP {exc.status} to loadCodeAssist: this Google account "
                "or client is not served (Google stopped serving Gemini CLI OAuth to "
                "individual, AI Pro and Ultra accounts on 2026-06-18)"
            ) from None
        raise
    return parse_setup(body, options.project)


async def quota(ctx: SourceContext) -> Sequence[Record]:
    options = ctx.options
    assert isinstance(options, GeminiSubscriptionOptions)
    credentials = load_credentials(options, ctx.memo)
    client = _client(ctx.upstream, credentials, ctx.now)
    remembered = ctx.memo.get("setup")
    if remembered is not None and remembered[0] == credentials.login:
        setup: CodeAssistSetup = remembered[1]
    else:
        setup = await _setup(client, options)
        ctx.memo["setup"] = (credentials.login, setup)
    try:
        body = await client.post_json(QUOTA_PATH, {"project": setup.project})
    except (AuthError, UpstreamClientError):
        ctx.memo.pop("setup", None)  # the project or tier may have changed: ask again
        raise
    return account_records(parse_quota(body), plan=setup.plan, expires_at=credentials.expires_at)


async def check(upstream: Upstream) -> None:
    """``loadCodeAssist`` with the default credentials (``--check`` has no account options)."""
    options = GeminiSubscriptionOptions()
    credentials = load_credentials(options, {})
    await _setup(_client(upstream, credentials, time.time()), options)


def auth_headers(_: str) -> Mapping[str, str]:
    return {}  # the token is read from oauth_creds.json at poll time


PROVIDER: Final = ProviderSpec(
    name="gemini_subscription",
    title="Gemini CLI (Code Assist): per-model quota of the Gemini CLI Google login",
    default_base_url="https://cloudcode-pa.googleapis.com",
    env_var=None,
    key_hint=(
        "a Gemini CLI Google login (run `gemini` and log in with Google; read-only from "
        "~/.gemini/oauth_creds.json)"
    ),
    auth_headers=auth_headers,
    sources={"quota": quota},
    check=check,
    needs_key=False,
    options=GeminiSubscriptionOptions,
    default_poll_interval=300.0,
    label="google",
    default_account="gemini-cli",
)
