"""Tolerant readers for provider JSON fields.

Provider responses arrive with numbers as JSON numbers or numeric strings, ``null`` where a
field is optional, and extra fields we do not know. These readers accept exactly that and raise
:class:`~exporter.errors.InvalidResponseError` (naming the field, never the document) for
anything else. JSON is decoded with ``parse_float=Decimal``, so money never passes through
binary floats.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any, Final

from exporter.errors import InvalidResponseError

_LONE_SURROGATE: Final = re.compile("[\ud800-\udfff]")


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


#: Largest power of ten of any number a provider sends (below 10**100). Beyond it a number is
#: a broken response: ``1e400`` would be exported as ``+Inf`` and ``9e999999`` overflow a
#: decimal sum (``decimal.Overflow``) instead of failing the poll as invalid.
MAX_NUMBER_EXPONENT: Final = 99
#: Largest power of ten of a count or a unix time (int() of a huge exponent would stall the
#: event loop; 10**18 is a billion billion tokens or bytes).
MAX_COUNT_EXPONENT: Final = 18


def as_decimal(value: Any, where: str, *, null: Decimal | None = Decimal(0)) -> Decimal:
    """A finite Decimal below 10**100 in magnitude from a JSON number or numeric string;
    ``null`` maps to ``null``."""
    number = _finite_decimal(value, where, null=null)
    if number.adjusted() > MAX_NUMBER_EXPONENT:
        raise InvalidResponseError(f"{where}: number out of range")
    return number


def _finite_decimal(value: Any, where: str, *, null: Decimal | None) -> Decimal:
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
    number = _finite_decimal(value, where, null=Decimal(0))
    if number.adjusted() > MAX_COUNT_EXPONENT:
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
    text = str(value)
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        # A lone surrogate escape (JSON allows "\ud800"; JavaScript writes one for a string cut
        # inside an emoji) cannot be encoded in the exposition: replace it, keep the rest.
        text = _LONE_SURROGATE.sub("\ufffd", text)
    return text


def as_unix_time(value: Any, where: str) -> datetime:
    """UTC datetime from unix seconds (int or numeric string)."""
    seconds = _finite_decimal(value, where, null=None)
    if seconds.adjusted() > MAX_COUNT_EXPONENT:
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
    try:
        return parsed.astimezone(UTC)
    except OverflowError:  # e.g. 0001-01-01T00:00:00+01:00 is before year 1 in UTC
        raise InvalidResponseError(f"{where}: time out of range: {value[:40]!r}") from None
