"""Fireworks AI: the account billing summary (billed spend by line item).

Credential
    A Fireworks API key (``fw_...``; any key of the account), discovered from
    ``FIREWORKS_API_KEY``; sent as ``Authorization: Bearer <key>``. The account must also set
    ``options.account_id`` (the account slug, e.g. from ``firectl whoami`` or the console's
    account switcher): the billing endpoint is per account. An account without it (e.g. one
    discovered from the environment alone, which has no options) starts, and its source
    reports itself unavailable naming the fix.

Endpoints called (all ``GET``, base ``https://api.fireworks.ai``)
    * ``/v1/accounts/{account_id}/billing/summary`` (source ``billing_summary``) with
      ``startTime=<1st of the month>T00:00:00Z`` and ``endTime=<tomorrow>T00:00:00Z``. Fireworks
      aggregates costs per (UTC) day and reads only the date part of both bounds; the end date
      is excluded, so this range is the 1st up to and including today.
    * ``/v1/accounts`` as the credential check (it needs no account id: the check is given no
      account options).

Series
    ``billing_summary`` → ``llm_cost_usd_total`` (billed). Each ``lineItems[]`` entry's
    ``totalCost`` is Google-style money: ``units`` (whole currency units, a JSON string or
    number) plus ``nanos`` (1e-9 units, same sign), summed exactly. Any currency other than USD
    fails the poll (currencies are never converted); absent ``units``/``nanos`` are 0 (proto3
    JSON omits zero fields); a line item without ``totalCost`` or with a zero total adds
    nothing. ``line_item`` is the item's ``category`` and ``groupingValue`` joined with
    ``", "`` (opaque; ``""`` unless the account groups by ``line_item``); ``project`` and
    ``model`` are ``""``.

What month-to-date means here
    Line items carry no per-day split (the ``granularity=DAILY`` breakdown is not used: its
    bucket field names differ between the clients that read it). So the whole month so far is
    **one bucket** whose start is 00:00 UTC on the 1st: every poll replaces it with the
    current month-to-date total. Today's partial costs are included as far as Fireworks has
    rated them.

Blind spots
    * No credit balance endpoint exists; no token counts are read (``/billingUsage`` returns
      metered usage whose schema the reference does not confirm).
    * Costs of the last day(s) of a month rated after the month ended are not seen.
"""

from __future__ import annotations

from collections.abc import Mapping
from collections.abc import Set as AbstractSet
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any, Final
from urllib.parse import quote

from pydantic import BaseModel, ConfigDict, field_validator

from exporter.errors import InvalidResponseError, SourceUnavailable
from exporter.parsing import as_decimal, as_label, as_list, as_mapping
from exporter.providers.base import ProviderSpec, SourceContext
from exporter.records import CostRecord, Record
from exporter.upstream import Upstream

SUMMARY_PATH: Final = "/v1/accounts/{account_id}/billing/summary"
ACCOUNTS_PATH: Final = "/v1/accounts"

_MAX_NANOS: Final = 999_999_999

NO_ACCOUNT_ID: Final = (
    "options.account_id is not set: add the Fireworks account slug (firectl whoami) to the "
    "account in the config file"
)


class FireworksOptions(BaseModel):
    """``options:`` of a Fireworks account."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    #: The account slug whose billing is read (``firectl whoami``, console account switcher).
    #: Needed by the source; optional here only because accounts discovered from the
    #: environment have no options (they must not stop the exporter from starting).
    account_id: str | None = None

    @field_validator("account_id")
    @classmethod
    def _not_blank(cls, value: str | None) -> str | None:
        if value is None:
            return None
        value = value.strip().removeprefix("accounts/")
        if not value:
            raise ValueError("expected the Fireworks account id (slug)")
        return value


# --------------------------------------------------------------------------- pure parsers


def _whole(value: Any, where: str) -> Decimal:
    number = as_decimal(value, where)
    if number != number.to_integral_value():
        raise InvalidResponseError(f"{where}: expected a whole number")
    if number.adjusted() > 18:
        raise InvalidResponseError(f"{where}: out of range")
    return number


def money_to_usd(value: Any, where: str) -> Decimal:
    """Exact amount of a Google ``Money`` object in USD; zero amounts need no currency."""
    money = as_mapping(value, where)
    units = _whole(money.get("units"), f"{where}.units")
    nanos = _whole(money.get("nanos"), f"{where}.nanos")
    if abs(nanos) > _MAX_NANOS:
        raise InvalidResponseError(f"{where}.nanos: out of range (|nanos| < 1e9)")
    if (units > 0 and nanos < 0) or (units < 0 and nanos > 0):
        raise InvalidResponseError(f"{where}: units and nanos have different signs")
    amount = units + nanos.scaleb(-9)
    if not amount:
        return Decimal(0)
    currency = money.get("currencyCode")
    if not isinstance(currency, str) or currency.strip().upper() != "USD":
        shown = repr(currency[:16]) if isinstance(currency, str) else repr(currency)[:16]
        raise InvalidResponseError(
            f"{where}.currencyCode: expected 'USD', got {shown} (currencies are never converted)"
        )
    return amount


def _line_item_label(item: Mapping[str, Any], where: str) -> str:
    parts = (
        as_label(item.get("category"), f"{where}.category"),
        as_label(item.get("groupingValue"), f"{where}.groupingValue"),
    )
    return ", ".join(part for part in parts if part)


def parse_summary(body: Any, start: datetime, group_by: AbstractSet[str]) -> list[CostRecord]:
    """Cost records of one billing summary, all in the one bucket that starts at ``start``."""
    page = as_mapping(body, "billing_summary")
    records: list[CostRecord] = []
    for i, raw in enumerate(as_list(page.get("lineItems"), "billing_summary.lineItems")):
        where = f"billing_summary.lineItems[{i}]"
        item = as_mapping(raw, where)
        if item.get("totalCost") is None:
            continue
        amount = money_to_usd(item["totalCost"], f"{where}.totalCost")
        if not amount:
            continue
        label = _line_item_label(item, where) if "line_item" in group_by else ""
        records.append(CostRecord(start, "", "", label, amount))
    return records


def summary_params(start: datetime, end: datetime) -> list[tuple[str, str]]:
    """The date range from ``start``'s day up to and including ``end``'s day (UTC)."""

    def day(moment: datetime) -> datetime:
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
        return moment.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)

    last_excluded = day(end) + timedelta(days=1)
    return [
        ("startTime", day(start).strftime("%Y-%m-%dT%H:%M:%SZ")),
        ("endTime", last_excluded.strftime("%Y-%m-%dT%H:%M:%SZ")),
    ]


# --------------------------------------------------------------------------- sources


async def fetch_billing_summary(ctx: SourceContext) -> list[Record]:
    account_id = ctx.options.account_id if isinstance(ctx.options, FireworksOptions) else None
    if account_id is None:
        raise SourceUnavailable(NO_ACCOUNT_ID)
    path = SUMMARY_PATH.format(account_id=quote(account_id, safe=""))
    body = await ctx.upstream.get_json(path, summary_params(ctx.start, ctx.end))
    try:
        return list(parse_summary(body, ctx.start, ctx.group_by))
    except InvalidResponseError:
        ctx.upstream.stats.failures["invalid_response"] += 1
        raise


async def check(upstream: Upstream) -> None:
    """One cheap authenticated request: the accounts the key can see."""
    body = await upstream.get_json(ACCOUNTS_PATH)
    if not isinstance(body, Mapping):
        upstream.stats.failures["invalid_response"] += 1
        raise InvalidResponseError(f"GET {ACCOUNTS_PATH}: expected a JSON object")


def auth_headers(key: str) -> Mapping[str, str]:
    return {"Authorization": f"Bearer {key}"}


PROVIDER: Final = ProviderSpec(
    name="fireworks",
    title="Fireworks AI billing summary: month-to-date billed spend by line item",
    default_base_url="https://api.fireworks.ai",
    env_var="FIREWORKS_API_KEY",
    key_hint=(
        "a Fireworks API key (fw_...) from the console at https://app.fireworks.ai "
        "plus options.account_id (the account slug, see firectl whoami)"
    ),
    auth_headers=auth_headers,
    sources={"billing_summary": fetch_billing_summary},
    check=check,
    options=FireworksOptions,
    billed_sources=frozenset({"billing_summary"}),
    env_options={"account_id": "FIREWORKS_ACCOUNT_ID"},
)
