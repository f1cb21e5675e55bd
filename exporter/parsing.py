"""Tolerant readers for provider JSON fields.

Provider responses arrive with numbers as JSON numbers or numeric strings, ``null`` where a
field is optional, and extra fields we do not know. These readers accept exactly that and raise
:class:`~exporter.errors.InvalidResponseError` (naming the field, never the document) for
anything else. JSON is decoded with ``parse_float=Decimal``, so money never passes through
binary floats.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from exporter.errors import InvalidResponseError


def as_mapping(value: Any, where: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise InvalidResponseError(f"{where}: expected an object, got {type(value).__name__}")
    return value


def as_list(value: Any, where: str, *, null_ok: bool = True) -> Sequence[Any]:
    if value is None and null_ok:
        return ()
    if not isinstance(value, list):
        raise InvalidResponseError(f"{where}: expected a list, got {type(value).__name__}")
    return value


def as_decimal(value: Any, where: str, *, null: Decimal | None = Decimal(0)) -> Decimal:
    """A finite Decimal from a JSON number or numeric string; ``null`` maps to ``null``."""
    if value is None:
        if null is None:
            raise InvalidResponseError(f"{where}: missing number")
        return null
    if isinstance(value, bool):
        raise InvalidResponseError(f"{where}: expected a number, got a boolean")
    if isinstance(value, int | Decimal):
        result = Decimal(value)
    elif isinstance(value, float):
        result = Decimal(repr(value))
    elif isinstance(value, str):
        try:
            result = Decimal(value.strip())
        except InvalidOperation:
            raise InvalidResponseError(f"{where}: not a number: {value[:32]!r}") from None
    else:
        raise InvalidResponseError(f"{where}: expected a number, got {type(value).__name__}")
    if not result.is_finite():
        raise InvalidResponseError(f"{where}: not a finite number")
    return result


def as_count(value: Any, where: str) -> int:
    """A non-negative integer count; ``null`` and absent are 0."""
    number = as_decimal(value, where)
    if number.adjusted() > 18:  # int() of a huge exponent would stall the event loop
        raise InvalidResponseError(f"{where}: count out of range")
    if number != number.to_integral_value():
        raise InvalidResponseError(f"{where}: expected a whole number")
    if number < 0:
        raise InvalidResponseError(f"{where}: negative count")
    return int(number)


def as_label(value: Any, where: str, *, null: str = "") -> str:
    """A label value from a string field; ``null`` maps to ``null``."""
    if value is None:
        return null
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise InvalidResponseError(f"{where}: expected a string, got {type(value).__name__}")
    return str(value)


def as_unix_time(value: Any, where: str) -> datetime:
    """UTC datetime from unix seconds (int or numeric string)."""
    seconds = as_decimal(value, where, null=None)
    if seconds.adjusted() > 18:  # int() of a huge exponent would stall the event loop
        raise InvalidResponseError(f"{where}: timestamp out of range")
    try:
        return datetime.fromtimestamp(int(seconds), UTC)
    except (OverflowError, OSError, ValueError):
        raise InvalidResponseError(f"{where}: timestamp out of range") from None


def as_rfc3339(value: Any, where: str) -> datetime:
    """UTC datetime from an RFC 3339 / ISO 8601 string (``Z`` or offset, any fraction)."""
    if not isinstance(value, str):
        raise InvalidResponseError(f"{where}: expected an RFC 3339 time")
    text = value.strip()
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        raise InvalidResponseError(f"{where}: not an RFC 3339 time: {value[:40]!r}") from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)
