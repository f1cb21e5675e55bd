"""DeepSeek: the prepaid balance (the only usage-related data its API offers).

Credential
    A DeepSeek API key (``sk-...``, platform.deepseek.com → API keys), discovered from
    ``DEEPSEEK_API_KEY``, sent as ``Authorization: Bearer <key>``.

Endpoint called (``GET`` on ``https://api.deepseek.com``; also the credential check)
    ``/user/balance`` (source ``balance``): ``balance_infos[]``, one entry per currency, with
    ``total_balance``, ``granted_balance`` and ``topped_up_balance`` as decimal strings in
    major units (yuan, dollars).

Series
    Per entry, ``granted_balance`` → ``balance_type="granted"`` and ``topped_up_balance`` →
    ``balance_type="topped_up"``: ``llm_credit_balance_usd`` for ``USD``,
    ``llm_credit_balance_cny`` for ``CNY``. The two parts are disjoint and ``total_balance`` is
    their sum, so the total is not exported as a row of its own (a ``sum()`` over
    ``balance_type`` would count it twice); a total that is not the sum of the parts is logged
    as a warning. An entry in any other currency is skipped with a warning (currencies are
    never mixed or converted); two entries in the same currency fail the poll.

Blind spots
    * No usage or cost history: DeepSeek has it only on dashboard endpoints that need the web
      session token, not an API key.
    * ``is_available`` (whether the balance still allows calls) is not exported.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from decimal import Decimal, localcontext
from typing import Any, Final

from exporter.errors import InvalidResponseError
from exporter.parsing import as_decimal, as_label, as_list, as_mapping
from exporter.providers.base import ProviderSpec, SourceContext
from exporter.records import Record, gauge
from exporter.upstream import Upstream

log = logging.getLogger(__name__)

BALANCE_PATH: Final = "/user/balance"

#: Currency → the balance metric in that currency.
BALANCE_METRICS: Final[Mapping[str, str]] = {
    "USD": "llm_credit_balance_usd",
    "CNY": "llm_credit_balance_cny",
}
#: Field → ``balance_type`` of the disjoint parts.
_PARTS: Final = (("granted_balance", "granted"), ("topped_up_balance", "topped_up"))


def parse_balance(body: Any) -> list[Record]:
    """Balance gauges of ``/user/balance`` (see the module docstring for the rules)."""
    records: list[Record] = []
    seen: set[str] = set()
    infos = as_list(
        as_mapping(body, "balance").get("balance_infos"), "balance.balance_infos", null_ok=False
    )
    for i, raw in enumerate(infos):
        where = f"balance.balance_infos[{i}]"
        info = as_mapping(raw, where)
        currency = as_label(info.get("currency"), f"{where}.currency").strip().upper()
        metric = BALANCE_METRICS.get(currency)
        if metric is None:
            log.warning(
                "deepseek balance: skipping a balance in currency %r (only USD and CNY are "
                "exported; currencies are never mixed)",
                currency[:16],
            )
            continue
        if currency in seen:
            raise InvalidResponseError(f"{where}.currency: a second {currency} balance")
        seen.add(currency)
        parts = {
            balance_type: as_decimal(info.get(field), f"{where}.{field}", null=None)
            for field, balance_type in _PARTS
        }
        total = info.get("total_balance")
        if total is not None:
            _check_total(as_decimal(total, f"{where}.total_balance"), parts, currency)
        records += [
            gauge(metric, value, balance_type=balance_type) for balance_type, value in parts.items()
        ]
    return records


def _check_total(total: Decimal, parts: Mapping[str, Decimal], currency: str) -> None:
    with localcontext() as context:
        context.prec = 200  # exact for any decimal string the API can send
        summed = sum(parts.values(), Decimal(0))
    if summed != total:
        log.warning(
            "deepseek balance: %s total_balance %s is not granted + topped_up (%s); "
            "exporting the parts",
            currency,
            total,
            summed,
        )


async def balance(ctx: SourceContext) -> list[Record]:
    return parse_balance(await ctx.upstream.get_json(BALANCE_PATH))


async def check(upstream: Upstream) -> None:
    """One cheap authenticated request: the balance itself."""
    parse_balance(await upstream.get_json(BALANCE_PATH))


def auth_headers(api_key: str) -> Mapping[str, str]:
    return {"Authorization": f"Bearer {api_key}"}


PROVIDER: Final = ProviderSpec(
    name="deepseek",
    title="DeepSeek: prepaid balance (granted and topped-up, USD and CNY)",
    default_base_url="https://api.deepseek.com",
    env_var="DEEPSEEK_API_KEY",
    key_hint="a DeepSeek API key (sk-...) from platform.deepseek.com → API keys",
    auth_headers=auth_headers,
    sources={"balance": balance},
    check=check,
)
