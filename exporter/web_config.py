"""Serving ``/metrics`` safely: the Prometheus exporter-toolkit web configuration file.

``--web.config.file=PATH`` reads the YAML file that every exporter built on the Prometheus
exporter-toolkit reads (https://github.com/prometheus/exporter-toolkit/blob/master/docs/
web-configuration.md), so an existing file works unchanged::

    tls_server_config:
      cert_file: server.crt            # relative paths: relative to this file's directory
      key_file: server.key             # or `cert:` / `key:` with the PEM text inline
      client_auth_type: RequireAndVerifyClientCert   # default NoClientCert
      client_ca_file: clients-ca.crt   # or `client_ca:` inline
      min_version: TLS12               # TLS10 TLS11 TLS12 (default) TLS13
      max_version: TLS13               # default TLS13
      cipher_suites: [TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256]   # Go/IANA names, TLS <= 1.2
      prefer_server_cipher_suites: true
      curve_preferences: [X25519]      # CurveP256 CurveP384 CurveP521 X25519
    http_server_config:
      http2: true                      # accepted, no effect: uvicorn serves HTTP/1.1
      headers: {X-Content-Type-Options: nosniff, X-Frame-Options: deny}
    basic_auth_users:                  # user: bcrypt hash (htpasswd -nBC 10 "" | tr -d ':\\n')
      prometheus: $2y$10$...
    rate_limit: {interval: 1s, burst: 20}   # token bucket; 429 beyond it

What applies where:

- Every path (``/metrics``, ``/``, ``/-/healthy``, ``/-/ready``) needs the credentials, as
  with the toolkit: an unauthenticated health check must use the TCP port, not HTTP.
- Basic auth: user names are compared in constant time, unknown users still cost one bcrypt
  verification (no user enumeration by timing), successful verifications are cached (bcrypt
  costs ~0.1 s by design) under an HMAC of user, hash and password with a per-process random
  key: the plaintext is never stored. Failures answer ``401`` with ``WWW-Authenticate: Basic``.
- Reload, like the toolkit: the file (and the certificate, key and CA files it names) is
  checked on every request and every new TLS connection and re-read when changed: new
  certificates, users, headers and rate limits apply at once. Other ``tls_server_config``
  changes (versions, client authentication and CA, ciphers) and switching TLS on or off need
  a restart; a warning says so. A file that fails to load is logged and the previous one stays.

Where this implementation differs, it fails closed with a message instead of ignoring a
security setting: ``client_auth_type`` ``RequestClientCert`` and ``RequireAnyClientCert``
(an unverified client certificate) and ``client_allowed_sans`` are rejected (Python's ``ssl``
module can neither accept an unverified certificate nor inspect it during the handshake);
``VerifyClientCertIfGiven`` and ``RequireAndVerifyClientCert`` need ``client_ca_file`` or
``client_ca`` (Go would trust every publicly signed client certificate); at most one
``curve_preferences`` entry (Python 3.11's ``ssl`` sets one group). ``${VAR}`` is not
expanded (bcrypt hashes contain ``$``), as in the toolkit.

Errors: :class:`WebConfigError`, a :class:`~exporter.errors.ConfigError`; its message names
the field, the bad value (never a secret's: ``key``, ``basic_auth_users``) and the fix.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import difflib
import hashlib
import hmac
import logging
import os
import re
import secrets
import ssl
import tempfile
import time
from collections import OrderedDict
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Annotated, Any, Literal

# bcrypt is the hash the toolkit's format mandates for basic_auth_users (Go's
# golang.org/x/crypto/bcrypt); the pyca package is the maintained binding.
import bcrypt
import yaml
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from exporter.errors import ConfigError

log = logging.getLogger(__name__)

TLS_VERSIONS: Mapping[str, ssl.TLSVersion] = {
    "TLS10": ssl.TLSVersion.TLSv1,
    "TLS11": ssl.TLSVersion.TLSv1_1,
    "TLS12": ssl.TLSVersion.TLSv1_2,
    "TLS13": ssl.TLSVersion.TLSv1_3,
}
CLIENT_AUTH_TYPES: Mapping[str, ssl.VerifyMode] = {
    "NoClientCert": ssl.CERT_NONE,
    "VerifyClientCertIfGiven": ssl.CERT_OPTIONAL,
    "RequireAndVerifyClientCert": ssl.CERT_REQUIRED,
}
_UNVERIFIED_CLIENT_AUTH = ("RequestClientCert", "RequireAnyClientCert", "RequireClientCert")
#: Go's ``tls.CipherSuites()`` names → OpenSSL names. TLS 1.3 suites (None) are accepted and,
#: as in Go, not configurable.
CIPHER_SUITES: Mapping[str, str | None] = {
    "TLS_RSA_WITH_AES_128_CBC_SHA": "AES128-SHA",
    "TLS_RSA_WITH_AES_256_CBC_SHA": "AES256-SHA",
    "TLS_RSA_WITH_AES_128_GCM_SHA256": "AES128-GCM-SHA256",
    "TLS_RSA_WITH_AES_256_GCM_SHA384": "AES256-GCM-SHA384",
    "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA": "ECDHE-ECDSA-AES128-SHA",
    "TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA": "ECDHE-ECDSA-AES256-SHA",
    "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA": "ECDHE-RSA-AES128-SHA",
    "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA": "ECDHE-RSA-AES256-SHA",
    "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256": "ECDHE-ECDSA-AES128-GCM-SHA256",
    "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384": "ECDHE-ECDSA-AES256-GCM-SHA384",
    "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256": "ECDHE-RSA-AES128-GCM-SHA256",
    "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384": "ECDHE-RSA-AES256-GCM-SHA384",
    "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256": "ECDHE-RSA-CHACHA20-POLY1305",
    "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256": "ECDHE-ECDSA-CHACHA20-POLY1305",
    "TLS_AES_128_GCM_SHA256": None,
    "TLS_AES_256_GCM_SHA384": None,
    "TLS_CHACHA20_POLY1305_SHA256": None,
}
CURVES: Mapping[str, str] = {
    "CurveP256": "prime256v1",
    "CurveP384": "secp384r1",
    "CurveP521": "secp521r1",
    "X25519": "X25519",
}
#: The headers the toolkit lets a web config set, with their allowed values (None: any).
HEADERS: Mapping[str, tuple[str, ...] | None] = {
    "Strict-Transport-Security": None,
    "X-Content-Type-Options": ("nosniff",),
    "X-Frame-Options": ("deny", "sameorigin"),
    "X-XSS-Protection": None,
    "Content-Security-Policy": None,
}
_HEADER_VALUE = re.compile(r"^[\x20-\x7e]+$")
_BCRYPT_HASH = re.compile(rb"^\$2[aby]\$(0[4-9]|[12][0-9]|3[01])\$[./A-Za-z0-9]{53}$")
#: bcrypt reads only the first 72 bytes of a password; Go and htpasswd drop the rest silently,
#: the Python package raises, so passwords are cut the same way before verification.
_BCRYPT_MAX_PASSWORD = 72
_GO_DURATION = re.compile(r"^(?:\d+(?:\.\d*)?|\.\d+)(?:ns|us|µs|μs|ms|s|m|h)")
_GO_UNIT_SECONDS = {
    "ns": 1e-9, "us": 1e-6, "µs": 1e-6, "μs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0
}  # fmt: skip
#: Fields whose values are never shown in errors.
_SECRET_SECTIONS = frozenset({"key", "basic_auth_users"})


class WebConfigError(ConfigError):
    """The web config file cannot be used; ``str(err)`` names the field and the fix."""


# --------------------------------------------------------------------------- file format


def _blank_is_unset(value: Any) -> Any:
    # Go's YAML decoding leaves "" as the zero value, which the toolkit treats as unset.
    return None if value == "" else value


def _go_duration(value: Any) -> float:
    """Seconds from a Go duration (``1s``, ``500ms``, ``1m30s``; ``0`` is zero)."""
    if value == 0 or value == "0":
        return 0.0
    if not isinstance(value, str) or not value:
        raise ValueError("expected a Go duration such as 1s, 500ms or 1m30s (0 disables)")
    rest, seconds = value, 0.0
    while rest:
        match = _GO_DURATION.match(rest)
        if match is None:
            raise ValueError("expected a Go duration such as 1s, 500ms or 1m30s (0 disables)")
        part = match.group(0)
        unit = part.lstrip("0123456789.")
        seconds += float(part[: len(part) - len(unit)]) * _GO_UNIT_SECONDS[unit]
        rest = rest[match.end() :]
    return seconds


OptionalText = Annotated[str | None, BeforeValidator(_blank_is_unset)]
OptionalPath = Annotated[Path | None, BeforeValidator(_blank_is_unset)]
OptionalSecret = Annotated[SecretStr | None, BeforeValidator(_blank_is_unset)]
TLSVersionName = Literal["TLS10", "TLS11", "TLS12", "TLS13"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    @model_validator(mode="before")
    @classmethod
    def _null_is_unset(cls, data: Any) -> Any:
        # `section:` with nothing under it is YAML null: the toolkit takes the defaults.
        if isinstance(data, Mapping):
            return {k: v for k, v in data.items() if v is not None}
        return {} if data is None else data


class TLSServerConfig(_Strict):
    cert: OptionalText = None
    key: OptionalSecret = None
    client_ca: OptionalText = None
    cert_file: OptionalPath = None
    key_file: OptionalPath = None
    client_auth_type: OptionalText = None
    client_ca_file: OptionalPath = None
    client_allowed_sans: tuple[str, ...] | None = None
    min_version: TLSVersionName = "TLS12"
    max_version: TLSVersionName = "TLS13"
    cipher_suites: tuple[str, ...] = ()
    prefer_server_cipher_suites: bool = True
    curve_preferences: tuple[str, ...] = ()

    @field_validator("client_auth_type")
    @classmethod
    def _known_client_auth(cls, value: str | None) -> str | None:
        if value in _UNVERIFIED_CLIENT_AUTH:
            raise ValueError(
                "unverified client certificates are not supported (Python's ssl module "
                "verifies every certificate it accepts); use RequireAndVerifyClientCert with "
                "client_ca_file"
            )
        if value is not None and value not in CLIENT_AUTH_TYPES:
            raise ValueError(
                f"expected one of: {', '.join(CLIENT_AUTH_TYPES)}{_hint(value, CLIENT_AUTH_TYPES)}"
            )
        return value

    @field_validator("client_allowed_sans")
    @classmethod
    def _no_san_matching(cls, value: tuple[str, ...] | None) -> tuple[str, ...] | None:
        if value is not None:
            raise ValueError(
                "not supported (Python's ssl module cannot inspect the client certificate "
                "during the handshake); remove it and issue client certificates from a CA "
                "that signs only your scrapers, or terminate TLS in a proxy that matches SANs"
            )
        return value

    @field_validator("cipher_suites")
    @classmethod
    def _known_ciphers(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for name in value:
            if name not in CIPHER_SUITES:
                raise ValueError(
                    f"unknown cipher {name!r}{_hint(name, CIPHER_SUITES)}; expected Go's "
                    f"names of secure suites: {', '.join(CIPHER_SUITES)}"
                )
        return value

    @field_validator("curve_preferences")
    @classmethod
    def _known_curves(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for name in value:
            if name not in CURVES:
                raise ValueError(
                    f"unknown curve {name!r}{_hint(name, CURVES)}; expected one of: "
                    f"{', '.join(CURVES)}"
                )
        if len(value) > 1:
            raise ValueError(
                "list one curve: Python 3.11's ssl module sets a single group "
                "(leave it out for OpenSSL's default list)"
            )
        return value

    @property
    def enabled(self) -> bool:
        """Whether TLS is on: any certificate, key, CA or client auth field set (as in Go)."""
        return any(
            value is not None
            for value in (
                self.cert,
                self.key,
                self.cert_file,
                self.key_file,
                self.client_ca,
                self.client_ca_file,
                self.client_auth_type,
            )
        )

    @model_validator(mode="after")
    def _complete(self) -> TLSServerConfig:
        if not self.enabled:
            return self
        for inline, file in (
            ("cert", "cert_file"),
            ("key", "key_file"),
            ("client_ca", "client_ca_file"),
        ):
            if getattr(self, inline) is not None and getattr(self, file) is not None:
                raise ValueError(f"set {inline} or {file}, not both")
        if self.cert is None and self.cert_file is None:
            raise ValueError("TLS needs a certificate: set cert_file (or cert, PEM inline)")
        if self.key is None and self.key_file is None:
            raise ValueError("TLS needs a private key: set key_file (or key, PEM inline)")
        if TLS_VERSIONS[self.min_version] > TLS_VERSIONS[self.max_version]:
            raise ValueError(
                f"min_version {self.min_version} is above max_version {self.max_version}"
            )
        has_ca = self.client_ca is not None or self.client_ca_file is not None
        auth = self.client_auth_type or "NoClientCert"
        if has_ca and auth == "NoClientCert":
            raise ValueError(
                "a client CA is set but client_auth_type is NoClientCert; set client_auth_type: "
                "RequireAndVerifyClientCert (or remove the CA)"
            )
        if not has_ca and auth != "NoClientCert":
            raise ValueError(
                f"client_auth_type {auth} needs the CA that signs client certificates: set "
                "client_ca_file (or client_ca, PEM inline)"
            )
        return self


class HTTPServerConfig(_Strict):
    http2: bool = True
    headers: dict[str, str] = Field(default_factory=dict)

    @field_validator("headers", mode="before")
    @classmethod
    def _blank_headers_unset(cls, value: Any) -> Any:
        # "Unset if blank", as the toolkit documents for every header.
        if isinstance(value, Mapping):
            return {k: v for k, v in value.items() if v not in (None, "")}
        return value

    @field_validator("headers")
    @classmethod
    def _allowed_headers(cls, value: dict[str, str]) -> dict[str, str]:
        for name, content in value.items():
            if name not in HEADERS:
                raise ValueError(
                    f"header {name!r} cannot be configured{_hint(name, HEADERS)}; expected "
                    f"some of: {', '.join(HEADERS)}"
                )
            if not _HEADER_VALUE.match(content):
                raise ValueError(
                    f"{name}: expected printable ASCII on one line (it becomes an HTTP header)"
                )
            allowed = HEADERS[name]
            if allowed is not None and content not in allowed:
                raise ValueError(f"{name}: got {content!r}; expected one of: {', '.join(allowed)}")
        return value


class RateLimitConfig(_Strict):
    interval: Annotated[float, BeforeValidator(_go_duration)] = 0.0
    burst: int = Field(default=0, ge=0)

    @model_validator(mode="after")
    def _burst_with_interval(self) -> RateLimitConfig:
        if self.interval > 0 and self.burst < 1:
            raise ValueError(
                "burst must be at least 1 when interval is set (0 would reject every request)"
            )
        return self


class WebConfigFile(_Strict):
    """The file as written (paths not yet resolved)."""

    tls_server_config: TLSServerConfig = TLSServerConfig()
    http_server_config: HTTPServerConfig = HTTPServerConfig()
    basic_auth_users: dict[str, SecretStr] = Field(default_factory=dict)
    rate_limit: RateLimitConfig = RateLimitConfig()

    @field_validator("basic_auth_users")
    @classmethod
    def _bcrypt_hashes(cls, value: dict[str, SecretStr]) -> dict[str, SecretStr]:
        for user, hashed in value.items():
            if ":" in user or not user:
                raise ValueError(
                    f"user {user!r}: a basic auth user name cannot be empty or contain ':'"
                )
            if not _BCRYPT_HASH.match(hashed.get_secret_value().encode()):
                raise ValueError(
                    f"user {user!r}: the value is not a bcrypt hash (not shown); expected "
                    "$2y$10$ followed by 53 characters, as printed by "
                    "htpasswd -nBC 10 \"\" | tr -d ':\\n'"
                )
        return value


_SECTIONS: Mapping[str, type[BaseModel]] = {
    "": WebConfigFile,
    "tls_server_config": TLSServerConfig,
    "http_server_config": HTTPServerConfig,
    "rate_limit": RateLimitConfig,
}


# --------------------------------------------------------------------------- loaded config


class WebConfig:
    """A loaded web config: the file's settings plus the TLS context and users they make."""

    def __init__(self, path: Path, settings: WebConfigFile) -> None:
        self.path = path
        self.settings = settings
        base = path.parent
        tls = settings.tls_server_config
        self.cert_file = _resolve(base, tls.cert_file)
        self.key_file = _resolve(base, tls.key_file)
        self.client_ca_file = _resolve(base, tls.client_ca_file)
        if self.client_ca_file is not None:
            self.client_ca = _read(self.client_ca_file, "client_ca_file")
        else:
            self.client_ca = (tls.client_ca or "").encode()
        #: The files whose change triggers a reload.
        self.watched: tuple[Path, ...] = tuple(
            p for p in (path, self.cert_file, self.key_file, self.client_ca_file) if p
        )
        self.ssl_context = _ssl_context(self) if tls.enabled else None
        #: (SHA-256 of the user name, bcrypt hash): names are compared as equal-length digests.
        self.users: tuple[tuple[bytes, bytes], ...] = tuple(
            (hashlib.sha256(user.encode()).digest(), hashed.get_secret_value().encode())
            for user, hashed in settings.basic_auth_users.items()
        )
        self.headers: tuple[tuple[bytes, bytes], ...] = tuple(
            (name.lower().encode("latin-1"), value.encode("latin-1"))
            for name, value in settings.http_server_config.headers.items()
        )
        limit = settings.rate_limit
        self.rate_limiter = TokenBucket(limit.interval, limit.burst) if limit.interval else None

    def describe(self) -> str:
        """One line for the startup log and ``--check``; no secret in it."""
        tls = self.settings.tls_server_config
        parts = []
        if tls.enabled:
            auth = tls.client_auth_type or "NoClientCert"
            parts.append(f"TLS {tls.min_version}-{tls.max_version}, client certificates {auth}")
        else:
            parts.append("no TLS")
        users = len(self.users)
        parts.append(f"basic auth for {users} user(s)" if users else "no basic auth")
        if self.headers:
            parts.append(f"{len(self.headers)} extra header(s)")
        limit = self.settings.rate_limit
        if self.rate_limiter is not None:
            parts.append(f"rate limit: burst {limit.burst}, one more every {limit.interval:g}s")
        return ", ".join(parts)

    def tls_policy(self) -> dict[str, Any]:
        """The TLS settings that apply at restart only (everything but certificate and key)."""
        tls = self.settings.tls_server_config
        policy = tls.model_dump(exclude={"cert", "key", "cert_file", "key_file", "client_ca"})
        policy["enabled"] = tls.enabled
        policy["client_ca_file"] = self.client_ca_file
        policy["client_ca_sha256"] = hashlib.sha256(self.client_ca).hexdigest()
        return policy

    def __repr__(self) -> str:
        return f"WebConfig({str(self.path)!r}: {self.describe()})"


def load(path: Path) -> WebConfig:
    """Read, validate and build the web config at ``path`` (TLS files read, context built)."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise WebConfigError(f"cannot read web config file {path}: {exc.strerror}") from None
    except UnicodeDecodeError:
        raise WebConfigError(f"{path}: not UTF-8 text") from None
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or "invalid YAML"
        raise WebConfigError(f"{path}: {problem}{where}") from None
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise WebConfigError(f"{path}: expected a mapping at the top level (web config file)")
    try:
        settings = WebConfigFile.model_validate(raw)
    except ValidationError as exc:
        raise WebConfigError(_format_errors(path, exc)) from None
    return WebConfig(path, settings)


def _resolve(base: Path, path: Path | None) -> Path | None:
    if path is None:
        return None
    return path if path.is_absolute() else base / path


def _read(path: Path, field: str) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise WebConfigError(
            f"tls_server_config.{field}: cannot read {path}: {exc.strerror}"
        ) from None


def _ssl_context(web: WebConfig) -> ssl.SSLContext:
    tls = web.settings.tls_server_config
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = TLS_VERSIONS[tls.min_version]
    context.maximum_version = TLS_VERSIONS[tls.max_version]
    # HTTP/1.1 only: a client offering h2 falls back instead of guessing.
    context.set_alpn_protocols(["http/1.1"])
    cert = _read(web.cert_file, "cert_file") if web.cert_file else (tls.cert or "").encode()
    if web.key_file:
        key = _read(web.key_file, "key_file")
    else:
        key = tls.key.get_secret_value().encode() if tls.key else b""
    cert_field = "cert_file" if web.cert_file else "cert"
    key_field = "key_file" if web.key_file else "key"
    try:
        with _in_memory_file(cert) as cert_path, _in_memory_file(key) as key_path:
            context.load_cert_chain(cert_path, key_path, password=_refuse_encrypted_key)
    except ssl.SSLError as exc:
        raise WebConfigError(
            f"tls_server_config.{cert_field}/{key_field}: cannot use the certificate and key "
            f"({exc.reason or exc.strerror}); expected a PEM certificate (chain) and the PEM "
            "private key that matches it"
        ) from None
    if tls.client_auth_type is not None:
        context.verify_mode = CLIENT_AUTH_TYPES[tls.client_auth_type]
    ca_field = "client_ca_file" if web.client_ca_file else "client_ca"
    if web.client_ca:
        try:
            context.load_verify_locations(cadata=web.client_ca.decode("ascii"))
        except (ssl.SSLError, UnicodeDecodeError, ValueError) as exc:
            reason = getattr(exc, "reason", None) or "not PEM"
            raise WebConfigError(
                f"tls_server_config.{ca_field}: cannot use the client CA ({reason}); expected "
                "one or more PEM certificates"
            ) from None
    suites = [CIPHER_SUITES[name] for name in tls.cipher_suites]
    tls12_suites = [name for name in suites if name is not None]
    if tls12_suites:
        context.set_ciphers(":".join(tls12_suites))
    if tls.prefer_server_cipher_suites:
        context.options |= ssl.OP_CIPHER_SERVER_PREFERENCE
    else:
        context.options &= ~ssl.OP_CIPHER_SERVER_PREFERENCE
    for curve in tls.curve_preferences:
        context.set_ecdh_curve(CURVES[curve])
    return context


def _refuse_encrypted_key() -> str:
    # Without a callback OpenSSL would prompt on the terminal; the format has no key password.
    raise WebConfigError(
        "tls_server_config: the private key is encrypted and the web config format has no "
        "key password; decrypt it (openssl pkey -in key.pem -out key-plain.pem) and protect "
        "the file with permissions instead"
    )


@contextlib.contextmanager
def _in_memory_file(data: bytes) -> Iterator[str]:
    """A path holding ``data`` for OpenSSL's file-only loader, never on disk where possible.

    Linux: an anonymous memory file (works on a read-only root filesystem); elsewhere a
    private temporary file, removed at once.
    """
    if hasattr(os, "memfd_create"):
        fd = os.memfd_create("llm-cost-exporter-tls", os.MFD_CLOEXEC)
        try:
            os.write(fd, data)
            yield f"/proc/self/fd/{fd}"
        finally:
            os.close(fd)
        return
    with tempfile.NamedTemporaryFile(prefix="llm-cost-exporter-tls-") as file:
        file.write(data)
        file.flush()
        yield file.name


# --------------------------------------------------------------------------- error messages


def _format_errors(path: Path, exc: ValidationError) -> str:
    lines = []
    for error in exc.errors(include_url=False, include_input=True):
        loc = tuple(str(part) for part in error["loc"])
        where = ".".join(loc) or "(top level)"
        if error["type"] == "extra_forbidden":
            section = _SECTIONS.get(".".join(loc[:-1]))
            known = sorted(section.model_fields) if section is not None else []
            hint = _hint(loc[-1], known)
            lines.append(f"{where}: unknown key{hint or '; expected one of: ' + ', '.join(known)}")
            continue
        message = str(error["msg"]).removeprefix("Value error, ")
        shown = error.get("input")
        secret = any(part in _SECRET_SECTIONS for part in loc) or loc == ("basic_auth_users",)
        if (
            secret
            or isinstance(shown, Mapping | list | tuple)
            or error["type"].startswith("value_error")
        ):
            lines.append(f"{where}: {message}")
        else:
            text = repr(shown)
            lines.append(
                f"{where}: got {text if len(text) <= 60 else text[:57] + '...'}; {message}"
            )
    return f"invalid web config file {path}:\n" + "\n".join(f"  - {line}" for line in lines)


def _hint(value: str, choices: Mapping[str, Any] | list[str]) -> str:
    close = difflib.get_close_matches(value, list(choices), n=1, cutoff=0.6)
    return f"; did you mean {close[0]!r}?" if close else ""


# --------------------------------------------------------------------------- reloading


def _stamp(paths: tuple[Path, ...]) -> tuple[tuple[int, int, int] | None, ...]:
    stamps: list[tuple[int, int, int] | None] = []
    for path in paths:
        try:
            st = path.stat()
        except OSError:
            stamps.append(None)
        else:
            stamps.append((st.st_mtime_ns, st.st_size, st.st_ino))
    return tuple(stamps)


class WebConfigSource:
    """The web config file, re-read when it or a file it names changes (see module doc)."""

    def __init__(self, web: WebConfig) -> None:
        self._current = web
        #: The settings uvicorn's listener was started with (TLS policy applies at restart).
        self._started = web
        self._stamp = _stamp(web.watched)

    @classmethod
    def from_file(cls, path: Path) -> WebConfigSource:
        return cls(load(path))

    @property
    def path(self) -> Path:
        return self._current.path

    def current(self) -> WebConfig:
        """The up-to-date config: a stat of each watched file, a reload when one changed."""
        stamp = _stamp(self._current.watched)
        if stamp == self._stamp:
            return self._current
        self._stamp = stamp
        try:
            fresh = load(self.path)
        except WebConfigError as exc:
            log.error("web config not reloaded, the previous one stays in force: %s", exc)
            return self._current
        if fresh.tls_policy() != self._started.tls_policy():
            log.warning(
                "web config %s: TLS settings other than the certificate and key changed; "
                "they apply after a restart",
                self.path,
            )
        log.info("web config reloaded: %s", fresh.describe())
        self._current = fresh
        self._stamp = _stamp(fresh.watched)
        return fresh

    def listener_context(self) -> ssl.SSLContext | None:
        """The SSLContext to listen with; each new connection switches to the current
        certificate (the SNI callback runs for every handshake, with or without SNI)."""
        context = self._started.ssl_context
        if context is not None:
            context.sni_callback = self._on_client_hello
        return context

    def _on_client_hello(
        self, connection: ssl.SSLObject | ssl.SSLSocket, server_name: str | None, _: ssl.SSLContext
    ) -> None:
        try:
            web = self.current()
        except Exception:  # an exception here would only abort the handshake, unexplained
            log.exception("web config: cannot check for changes")
            return
        # Only the certificate and key of the new context take effect (OpenSSL keeps the
        # connection's verify mode and versions); current() warned if more changed.
        if web.ssl_context is not None and connection.context is not web.ssl_context:
            connection.context = web.ssl_context


# --------------------------------------------------------------------------- serving


class TokenBucket:
    """``rate_limit``: one token every ``interval`` seconds, at most ``burst`` saved (Go's
    ``rate.Limiter``)."""

    def __init__(
        self, interval: float, burst: int, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.interval = interval
        self.burst = burst
        self._clock = clock
        self._tokens = float(burst)
        self._last = clock()

    def allow(self) -> bool:
        now = self._clock()
        self._tokens = min(self.burst, self._tokens + (now - self._last) / self.interval)
        self._last = now
        if self._tokens >= 1:
            self._tokens -= 1
            return True
        return False


class BasicAuthenticator:
    """Checks ``Authorization: Basic`` against bcrypt hashes, caching successes.

    The cache key is an HMAC (per-process random key) of user, stored hash and password, so
    neither the password nor a hash that could be tested offline without the key is kept,
    and a changed hash invalidates its entries. Verifications run one at a time in a worker
    thread (bcrypt is CPU-bound by design; the toolkit serialises them too).
    """

    CACHE_SIZE = 1024

    def __init__(self) -> None:
        self._key = secrets.token_bytes(32)
        self._verified: OrderedDict[bytes, None] = OrderedDict()
        self._lock = asyncio.Lock()
        self._decoys: dict[int, bytes] = {}

    async def authenticate(self, web: WebConfig, authorization: bytes | None) -> bool:
        credentials = parse_basic_authorization(authorization)
        if credentials is None:
            return False
        user, password = credentials
        password = password[:_BCRYPT_MAX_PASSWORD]
        wanted = hashlib.sha256(user).digest()
        stored: bytes | None = None
        for name_digest, hashed in web.users:  # no early exit: same time for every user
            if hmac.compare_digest(name_digest, wanted):
                stored = hashed
        if stored is None:
            # Unknown user: verify against a decoy of the highest cost, so timing tells nothing.
            costliest = max(hashed[4:6] for _, hashed in web.users)
            await self._verify(await self._decoy(int(costliest)), password)
            return False
        key = hmac.new(self._key, _frame(user, stored, password), hashlib.sha256).digest()
        if key in self._verified:
            self._verified.move_to_end(key)
            return True
        if not await self._verify(stored, password):
            return False
        self._verified[key] = None
        if len(self._verified) > self.CACHE_SIZE:
            self._verified.popitem(last=False)
        return True

    async def _verify(self, hashed: bytes, password: bytes) -> bool:
        async with self._lock:
            return await asyncio.to_thread(bcrypt.checkpw, password, hashed)

    async def _decoy(self, rounds: int) -> bytes:
        if rounds not in self._decoys:
            salt = bcrypt.gensalt(rounds)
            decoy = await asyncio.to_thread(bcrypt.hashpw, secrets.token_bytes(16), salt)
            self._decoys[rounds] = decoy
        return self._decoys[rounds]

    def __repr__(self) -> str:
        return f"BasicAuthenticator({len(self._verified)} cached)"


def _frame(*parts: bytes) -> bytes:
    # Length-prefixed, so ("ab", "c") and ("a", "bc") never share a cache key.
    return b"".join(len(part).to_bytes(4, "big") + part for part in parts)


def parse_basic_authorization(header: bytes | None) -> tuple[bytes, bytes] | None:
    """(user, password) from an ``Authorization: Basic`` value, or None if it is not one."""
    if not header:
        return None
    scheme, _, encoded = header.strip().partition(b" ")
    if scheme.lower() != b"basic":
        return None
    try:
        decoded = base64.b64decode(encoded.strip(), validate=True)
    except (binascii.Error, ValueError):
        return None
    user, colon, password = decoded.partition(b":")
    return (user, password) if colon else None


class WebConfigMiddleware:
    """ASGI middleware applying the web config to every HTTP request: extra headers, the
    rate limit (429), then basic auth (401). Lifespan events pass through."""

    def __init__(self, app: ASGIApp, source: WebConfigSource) -> None:
        self.app = app
        self.source = source
        self.authenticator = BasicAuthenticator()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        web = self.source.current()
        if web.headers:
            send = _with_headers(send, web.headers)
        if web.rate_limiter is not None and not web.rate_limiter.allow():
            await _plain_response(send, 429, b"Too Many Requests\n")
            return
        if web.users:
            authorization = dict(scope["headers"]).get(b"authorization")
            if not await self.authenticator.authenticate(web, authorization):
                await _plain_response(
                    send, 401, b"Unauthorized\n", [(b"www-authenticate", b"Basic")]
                )
                return
        await self.app(scope, receive, send)


def _with_headers(send: Send, headers: tuple[tuple[bytes, bytes], ...]) -> Send:
    async def sending(message: Message) -> None:
        if message["type"] == "http.response.start":
            names = {name for name, _ in headers}
            kept = [(n, v) for n, v in message.get("headers", ()) if n.lower() not in names]
            message = {**message, "headers": [*kept, *headers]}
        await send(message)

    return sending


async def _plain_response(
    send: Send, status: int, body: bytes, extra: list[tuple[bytes, bytes]] | None = None
) -> None:
    headers = [
        (b"content-type", b"text/plain; charset=utf-8"),
        (b"content-length", str(len(body)).encode()),
        *(extra or []),
    ]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def uvicorn_options(source: WebConfigSource) -> dict[str, Any]:
    """Extra ``uvicorn.run`` keyword arguments for serving with ``source``, logged once.

    With TLS: our own SSLContext through ``ssl_context_factory`` (uvicorn >= 0.47), since
    uvicorn's ``ssl_*`` options cannot set TLS versions, inline PEM or certificate reloading.
    """
    web = source.current()
    log.info("web config %s: %s", web.path, web.describe())
    if web.users and web.ssl_context is None:
        log.warning(
            "web config %s: basic auth without TLS sends passwords in clear text; add "
            "tls_server_config (or serve on loopback only)",
            web.path,
        )
    context = source.listener_context()
    if context is None:
        return {}

    def factory(config: object, default: Callable[[], ssl.SSLContext]) -> ssl.SSLContext:
        return context

    return {"ssl_context_factory": factory}
