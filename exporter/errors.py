"""Errors raised by the exporter.

Hierarchy::

    ExporterError
    ├── ConfigError              bad configuration; the message names field, value and fix
    └── SourceError              one poll of one source failed; carries a bounded ``reason``
        ├── AuthError               401/403, never retried           reason=auth
        ├── RateLimitedError        429 after retries                reason=rate_limited
        ├── UpstreamServerError     5xx after retries                reason=server_error
        ├── UpstreamClientError     other 4xx                        reason=client_error
        ├── UpstreamTimeoutError    timeouts after retries           reason=timeout
        ├── UpstreamConnectionError refused/DNS/reset/TLS            reason=connection
        ├── InvalidResponseError    bad JSON, schema drift, caps     reason=invalid_response
        ├── CredentialsError        local credential file missing,   reason=credentials
        │                           unreadable or expired (no request sent)
        └── SourceUnavailable       the credential cannot use this source at all (e.g. a
                                    Groq key without Enterprise metrics): logged once at
                                    info, the source is not polled again until restart

Messages never contain credentials: they are built from the URL path (no query string), status
code and a short, sanitised description.
"""

from __future__ import annotations

from typing import ClassVar, Final

FAILURE_REASONS: Final[tuple[str, ...]] = (
    "auth",
    "rate_limited",
    "server_error",
    "client_error",
    "timeout",
    "connection",
    "invalid_response",
    "credentials",
)


class ExporterError(Exception):
    """Base class of every error the exporter raises on purpose."""


class ConfigError(ExporterError):
    """The configuration cannot be used. ``str(err)`` is meant for the operator."""


class SourceError(ExporterError):
    """A source could not be polled. ``reason`` is one of :data:`FAILURE_REASONS`."""

    reason: ClassVar[str] = "invalid_response"


class AuthError(SourceError):
    reason = "auth"


class RateLimitedError(SourceError):
    reason = "rate_limited"


class UpstreamServerError(SourceError):
    reason = "server_error"


class UpstreamClientError(SourceError):
    reason = "client_error"

    def __init__(self, message: str, *, status: int | None = None) -> None:
        super().__init__(message)
        #: The HTTP status (e.g. 404), so a source can tell "not available" from a bad request.
        self.status = status


class UpstreamTimeoutError(SourceError):
    reason = "timeout"


class UpstreamConnectionError(SourceError):
    reason = "connection"


class InvalidResponseError(SourceError):
    reason = "invalid_response"


class CredentialsError(SourceError):
    reason = "credentials"


class SourceUnavailable(SourceError):
    """Not a failure: this source does not exist for this credential (never counted)."""

    reason = "unavailable"
