"""Shared by the subscription quota providers (``claude_subscription``, ``codex_subscription``,
``gemini_subscription``): read-only local OAuth credential files and quota window series.

Credential files belong to the vendors' CLIs, which refresh and rewrite them. The exporter only
ever opens them for reading: it never refreshes a token (a refresh can rotate the refresh token
and log the CLI out) and never writes. A file is re-read only when its fingerprint (mtime in ns,
size, inode) changes, so a token the CLI just refreshed is used on the next poll. Errors about a
file name the file and the field, never its contents.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
import re
from collections.abc import Callable, Mapping, MutableMapping
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any, Final, TypeVar

from exporter.errors import CredentialsError, InvalidResponseError
from exporter.parsing import as_decimal, as_rfc3339
from exporter.records import GaugeRecord, Record, gauge

#: A credential file larger than this is not a credential file (memory bound).
MAX_CREDENTIALS_BYTES: Final = 1024 * 1024

#: Window lengths with a short name; other lengths are named ``<seconds>s``.
FIVE_HOURS: Final = 5 * 3600
SEVEN_DAYS: Final = 7 * 86400
_LENGTH_NAMES: Final = {FIVE_HOURS: "5h", SEVEN_DAYS: "7d"}

#: Longest window label value; vendor names are cut to this.
MAX_LABEL_LENGTH: Final = 48

_NOT_LABEL_SAFE = re.compile(r"[^a-z0-9._-]+")
_EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)

T = TypeVar("T")


# --------------------------------------------------------------------------- credential files


def expand(path: Path | str) -> Path:
    return Path(os.path.expanduser(str(path)))


def read_credentials_file(
    path: Path,
    memo: MutableMapping[str, Any],
    parse: Callable[[Mapping[str, Any], str], T],
    *,
    login_hint: str,
) -> T:
    """``parse(json_object, where)`` of the credential file, re-parsed only when it changed.

    The file is opened read-only; the parsed value is kept in ``memo`` with the file's
    fingerprint. A missing, unreadable, oversized or malformed file raises
    :class:`CredentialsError` (``login_hint`` says how to log in).
    """
    where = str(path)
    try:
        with open(path, "rb") as handle:  # read-only, never created
            stat = os.fstat(handle.fileno())
            fingerprint = (stat.st_mtime_ns, stat.st_size, stat.st_ino)
            cached = memo.get(f"credentials:{where}")
            if cached is not None and cached[0] == fingerprint:
                return cached[1]  # type: ignore[no-any-return]
            if stat.st_size > MAX_CREDENTIALS_BYTES:
                raise CredentialsError(f"{where}: {stat.st_size} bytes is too large")
            raw = handle.read(MAX_CREDENTIALS_BYTES + 1)
    except FileNotFoundError:
        raise CredentialsError(f"not logged in: {where} does not exist; {login_hint}") from None
    except IsADirectoryError:
        raise CredentialsError(f"{where} is a directory, not a credentials file") from None
    except PermissionError:
        raise CredentialsError(f"cannot read {where}: permission denied") from None
    except OSError as exc:
        raise CredentialsError(f"cannot read {where}: {exc.strerror or 'I/O error'}") from None
    try:
        document = json.loads(raw, parse_float=Decimal)
    except json.JSONDecodeError as exc:
        # The position only: the message must not quote the file (it holds tokens).
        raise CredentialsError(
            f"{where}: not valid JSON (line {exc.lineno}, column {exc.colno})"
        ) from None
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise CredentialsError(f"{where}: not valid JSON") from None
    if not isinstance(document, Mapping):
        raise CredentialsError(f"{where}: expected a JSON object")
    parsed = parse(document, where)
    memo[f"credentials:{where}"] = (fingerprint, parsed)
    return parsed


def token_field(document: Mapping[str, Any], key: str, where: str) -> str | None:
    """A non-empty string field of a credential file, or None when absent/null/empty."""
    value = document.get(key)
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise CredentialsError(f"{where}: {key} is not a string")
    if not (value.isascii() and value.isprintable()):
        # Tokens and ids are sent as HTTP header values: anything else would fail the request
        # (or, a lone surrogate, crash hashing it). The value itself is never shown.
        raise CredentialsError(f"{where}: {key} is not a token (unexpected characters)")
    return value


def millis_field(document: Mapping[str, Any], key: str, where: str) -> Decimal | None:
    """An epoch-milliseconds field of a credential file as unix seconds (exact)."""
    value = document.get(key)
    if value is None:
        return None
    try:
        millis = as_decimal(value, f"{where}: {key}", null=None)
    except InvalidResponseError:
        raise CredentialsError(f"{where}: {key} is not a number") from None
    return millis.scaleb(-3)


def ensure_not_expired(
    expires_at: Decimal | None, now: float, *, where: str, refresh_hint: str
) -> None:
    """Raise :class:`CredentialsError` when the access token expired (nothing is sent then)."""
    if expires_at is None or expires_at > Decimal(repr(now)):
        return
    try:
        when = datetime.fromtimestamp(int(expires_at), UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    except (OverflowError, OSError, ValueError):
        when = "a time out of range"
    raise CredentialsError(
        f"credentials expired: {refresh_hint} (the access token in {where} expired at {when})"
    )


def jwt_claims(token: str) -> Mapping[str, Any]:
    """The payload of a JWT, decoded **without** verifying it; ``{}`` when it is not a JWT.

    Only for reading our own token's expiry and account id; never for trusting anything.
    """
    parts = token.split(".")
    if len(parts) != 3:
        return {}
    payload = parts[1]
    try:
        decoded = base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))
        claims = json.loads(decoded, parse_float=Decimal)
    except (binascii.Error, ValueError, RecursionError):
        return {}
    return claims if isinstance(claims, Mapping) else {}


# --------------------------------------------------------------------------- quota windows


def label_value(text: str) -> str:
    """A short, label-safe form of a vendor name: lower case, ``[a-z0-9._-]``, ``_`` for the
    rest, at most :data:`MAX_LABEL_LENGTH` characters (``""`` if nothing is left)."""
    cleaned = _NOT_LABEL_SAFE.sub("_", text.strip().lower()).strip("_.-")
    return cleaned[:MAX_LABEL_LENGTH].rstrip("_.-")


def length_name(seconds: int) -> str:
    """``5h``, ``7d``, or ``<seconds>s`` for other window lengths."""
    return _LENGTH_NAMES.get(seconds, f"{seconds}s")


def percent_ratio(value: Any, where: str) -> Decimal:
    """A 0–100 percentage as an exact 0–1 ratio (above 100 is kept: over the limit)."""
    percent = as_decimal(value, where, null=None)
    if percent < 0:
        raise InvalidResponseError(f"{where}: negative percentage")
    return percent.scaleb(-2)


def unix_seconds(moment: datetime) -> Decimal:
    """Exact unix seconds of an aware datetime (microseconds kept)."""
    delta = moment - _EPOCH
    return Decimal(delta.days * 86400 + delta.seconds) + Decimal(delta.microseconds).scaleb(-6)


def rfc3339_seconds(value: Any, where: str) -> Decimal:
    """Unix seconds of an ISO 8601 time (``Z`` or ``+00:00``, any fraction)."""
    return unix_seconds(as_rfc3339(value, where))


@dataclass(frozen=True, slots=True)
class QuotaWindow:
    """One subscription quota window as the vendor reports it (None: not reported)."""

    name: str
    utilization: Decimal | None = None
    resets_at: Decimal | None = None
    length_seconds: int | None = None
    limit_reached: bool | None = None

    @property
    def reported(self) -> bool:
        return self.utilization is not None or self.resets_at is not None

    def records(self) -> list[GaugeRecord]:
        records = []
        if self.utilization is not None:
            records.append(gauge("llm_quota_utilization_ratio", self.utilization, window=self.name))
        if self.resets_at is not None:
            records.append(
                gauge("llm_quota_resets_at_timestamp_seconds", self.resets_at, window=self.name)
            )
        if self.length_seconds is not None:
            records.append(gauge("llm_quota_window_seconds", self.length_seconds, window=self.name))
        if self.limit_reached is not None:
            records.append(
                gauge("llm_quota_limit_reached", int(self.limit_reached), window=self.name)
            )
        return records


def account_records(
    windows: list[QuotaWindow], *, plan: str | None, expires_at: Decimal | None
) -> list[Record]:
    """Window series plus the plan (``llm_subscription_info``) and token expiry gauges."""
    records: list[Record] = []
    for window in windows:
        records += window.records()
    if plan:
        records.append(gauge("llm_subscription_info", 1, plan=plan))
    if expires_at is not None:
        records.append(gauge("llm_credentials_expiry_timestamp_seconds", expires_at))
    return records
