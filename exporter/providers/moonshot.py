"""Moonshot / Kimi Open Platform: the prepaid balance (its API has no usage or cost data).

Credential
    A Moonshot API key from platform.moonshot.ai (international, the default base URL
    ``https://api.moonshot.ai``) or platform.moonshot.cn (China: set ``base_url:
    https://api.moonshot.cn``); keys only work in their own region. Discovered from
    ``MOONSHOT_API_KEY``, sent as ``Authorization: Bearer <key>``.

Endpoint called (``GET``; also the credential check)
    ``/v1/users/me/balance`` (source ``balance``): ``{"code": 0, "status": true, "data":
    {"available_balance", "voucher_balance", "cash_balance"}}``, JSON numbers in major units.
    A ``code`` other than 0 or a ``status`` other than true fails the poll as an invalid
    response.

Series
    ``voucher_balance`` → ``balance_type="voucher"``, ``cash_balance`` → ``balance_type="cash"``
    (negative when the account is in debt). They are disjoint and ``available_balance`` is
    their sum, so it is not exported as a row of its own; a mismatch is logged as a warning.
    The response names no currency: it is the ``currency`` option (``USD`` or ``CNY``) when
    set, else derived from the base URL host: a ``.cn`` host is CNY
    (``llm_credit_balance_cny``), any other host USD (``llm_credit_balance_usd``). CNY on
    ``api.moonshot.cn`` is documented; **USD on ``api.moonshot.ai`` is uncertain** (it comes
    from a third-party description of the API), so set ``currency`` if the console shows
    otherwise.

Blind spots
    * No usage or cost history through the API; console billing is final by 07:00 the next day.
    * Kimi Code subscriptions (``api.kimi.com``) are a different product, not read here.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from decimal import Decimal, localcontext
from typing import Any, Final, Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict

from exporter.errors import InvalidResponseError
from exporter.parsing import as_decimal, as_mapping
from exporter.providers.base import ProviderSpec, SourceContext
from exporter.records import Record, gauge
from exporter.upstream import Upstream

log = logging.getLogger(__name__)

BALANCE_PATH: Final = "/v1/users/me/balance"

Currency = Literal["USD", "CNY"]

#: Currency → the balance metric in that currency.
BALANCE_METRICS: Final[Mapping[str, str]] = {
    "USD": "llm_credit_balance_usd",
    "CNY": "llm_credit_balance_cny",
}
#: Field → ``balance_type`` of the disjoint parts.
_PARTS: Final = (("voucher_balance", "voucher"), ("cash_balance", "cash"))


class MoonshotOptions(BaseModel):
    """``options:`` of a Moonshot account."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    #: Currency of the balance; default: CNY for a ``.cn`` base URL host, else USD.
    currency: Currency | None = None


def currency_for(base_url: str, options: BaseModel) -> Currency:
    """The configured currency, else the one the base URL's host implies."""
    if isinstance(options, MoonshotOptions) and options.currency is not None:
        return options.currency
    host = (urlsplit(base_url).hostname or "").rstrip(".")
    return "CNY" if host.endswith(".cn") else "USD"


def parse_balance(body: Any, currency: Currency) -> list[Record]:
    """Balance gauges of ``/v1/users/me/balance`` in ``currency``."""
    document = as_mapping(body, "balance")
    code = document.get("code")
    # 0 is success, as a number or a string (false/true are not 0 either).
    if code is not None and str(code).strip() != "0":
        raise InvalidResponseError(
            f"balance.code: the API reported failure (code {str(code)[:16]!r})"
        )
    status = document.get("status")
    if status is not None and status is not True:
        raise InvalidResponseError("balance.status: the API reported failure (status not true)")
    data = as_mapping(document.get("data"), "balance.data")
    parts = {
        balance_type: as_decimal(data.get(field), f"balance.data.{field}", null=None)
        for field, balance_type in _PARTS
    }
    available = data.get("available_balance")
    if available is not None:
        _check_available(as_decimal(available, "balance.data.available_balance"), parts)
    metric = BALANCE_METRICS[currency]
    return [
        gauge(metric, value, balance_type=balance_type) for balance_type, value in parts.items()
    ]


def _check_available(available: Decimal, parts: Mapping[str, Decimal]) -> None:
    with localcontext() as context:
        context.prec = 200  # exact for any JSON number the API can send
        summed = sum(parts.values(), Decimal(0))
    if summed != available:
        log.warning(
            "moonshot balance: available_balance %s is not voucher + cash (%s); exporting the "
            "parts",
            available,
            summed,
        )


async def balance(ctx: SourceContext) -> list[Record]:
    currency = currency_for(ctx.upstream.base_url, ctx.options)
    return parse_balance(await ctx.upstream.get_json(BALANCE_PATH), currency)


async def check(upstream: Upstream) -> None:
    """One cheap authenticated request: the balance itself (``code`` checked too)."""
    parse_balance(await upstream.get_json(BALANCE_PATH), "USD")


def auth_headers(api_key: str) -> Mapping[str, str]:
    return {"Authorization": f"Bearer {api_key}"}


PROVIDER: Final = ProviderSpec(
    name="moonshot",
    title="Moonshot / Kimi Open Platform: prepaid balance (voucher and cash)",
    default_base_url="https://api.moonshot.ai",
    env_var="MOONSHOT_API_KEY",
    key_hint=(
        "a Moonshot API key from platform.moonshot.ai (or platform.moonshot.cn with base_url "
        "https://api.moonshot.cn; keys are region-bound)"
    ),
    auth_headers=auth_headers,
    sources={"balance": balance},
    check=check,
    options=MoonshotOptions,
)
