"""OpenRouter: key usage and limits, prepaid credits, per-key spend, daily activity, live prices.

Credential
    Any OpenRouter API key (``sk-or-v1-...``), discovered from ``OPENROUTER_API_KEY``, sent as
    ``Authorization: Bearer <key>``. An ordinary key sees only itself (source ``key``) and the
    public model list (``models``). A **management key** (created at
    openrouter.ai/settings/management-keys; older responses call it a provisioning key) also
    unlocks ``credits``, ``keys`` and ``activity``. With an ordinary key those three answer
    401/403; the source then asks ``/key`` once whether the key is a management key and, if it
    is not, reports itself unavailable (logged once at info by the poller, not polled again until
    restart) instead of failing every poll as an auth error. A management key that is rejected
    still fails as ``auth``.

Endpoints called (all ``GET`` on ``https://openrouter.ai/api/v1``) and the series each yields
    ``/key`` (source ``key``, any key; also the credential check)
        ``llm_api_key_usage_usd{api_key="current", period}``: ``usage_daily`` → ``day``,
        ``usage_weekly`` → ``week``, ``usage_monthly`` → ``month`` (OpenRouter's UTC calendar,
        weeks start Monday; gauges because they reset), ``usage`` → ``lifetime``. Older responses
        have no ``*_daily/weekly/monthly`` fields: absent or null periods are left out.
        ``llm_api_key_limit_usd{api_key="current", reset}`` and
        ``llm_api_key_limit_remaining_usd{api_key="current"}`` only when ``limit`` is not null
        (null is unlimited: no limit series at all, never ``+Inf`` or 0); ``reset`` is
        ``limit_reset`` (``daily``, ``weekly``, ``monthly``) or ``never`` when null.
        ``api_key`` is ``current`` because ``/key`` gives no key id, and its ``label`` field is
        redacted key material, which is never read. When the key is not a management key, the
        source logs once (info) what a management key would add.
    ``/credits`` (source ``credits``, management key)
        ``llm_credit_balance_usd{balance_type="prepaid"}`` = ``total_credits`` − ``total_usage``
        (computed exactly), ``llm_credit_purchased_usd`` = ``total_credits``,
        ``llm_credit_used_usd`` = ``total_usage``.
    ``/keys?include_disabled=true&offset=N`` (source ``keys``, management key)
        Offset pagination: ``offset`` grows by the items received until an empty page. Per key,
        labelled by its ``hash`` (the key id OpenRouter uses everywhere; not key material): the
        same usage / limit / limit remaining gauges as ``key`` (same null rule), and
        ``llm_api_key_info`` mapping the hash to the key's ``name``. Disabled keys are included.
        A hash seen twice (a server ignoring ``offset``) fails the poll.
    ``/activity`` (source ``activity``, management key)
        One row per completed UTC day × model × provider endpoint, for the last 30 completed
        days; rows dated in the current month (00:00 UTC on the 1st up to now) become
        month-to-date ``llm_cost_usd_total`` (``usage``, the OpenRouter bill: ``project`` and
        ``line_item`` are ``""``), ``llm_tokens_total`` (``input`` = ``prompt_tokens``,
        ``output`` = ``completion_tokens``, no cache split) and ``llm_requests_total``.
        ``model`` is the row's model slug when the account groups by ``model``, else ``""``.
        **Today's partial day is not in the response**: these counters lag by up to a day and
        move once a day, after 00:00 UTC.
    ``/models`` (source ``models``, public; sent with the key anyway)
        The live price list, as catalog prices (no series of its own: the snapshot lays them
        over the bundled catalog and exports ``llm_model_price_usd_per_token`` for models in
        use). ``pricing`` values are decimal strings in USD per token: ``prompt`` → input,
        ``completion`` → output, ``input_cache_read`` → cache read, ``input_cache_write`` →
        5-minute cache write, ``input_cache_write_1h`` → 1-hour cache write. An absent, null or
        negative cache price falls back to the input price (the same rule as config prices).
        Models without a usable ``prompt`` or ``completion`` price are skipped: absent, null or
        negative (OpenRouter lists routers whose price depends on the model they pick, such as
        ``openrouter/auto``, with ``"-1"``).

Label values
    ``api_key`` is ``current`` (``key``) or a key hash (``keys``); ``balance_type`` is
    ``prepaid``; ``period`` is ``day``, ``week``, ``month`` or ``lifetime``.

Blind spots
    * ``completion_tokens`` is taken to include ``reasoning_tokens``: OpenRouter's per-request
      usage follows the OpenAI convention (``completion_tokens_details.reasoning_tokens`` is a
      part of ``completion_tokens``) and the activity schema's example is consistent with it,
      but the activity schema does not say so; a row with more reasoning than completion tokens
      is logged as a warning.
    * ``prompt_tokens`` include cached prompt tokens (activity has no cache split), so the
      estimate prices them all at the input price; the bill (``usage``) is exact.
    * ``byok_usage_inference`` (bring-your-own-key inference, paid to the upstream provider,
      not to OpenRouter) is not read: it is on that provider's bill, not OpenRouter's.
    * Activity has no API key or workspace dimension (per-key activity would take one request
      per key); per-key spend comes from ``keys`` as gauges instead. ``/keys`` lists the
      default workspace's keys only.
    * The ``key`` gauges of a management key are its own (management keys cannot run
      inference, so they stay 0).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from collections.abc import Set as AbstractSet
from datetime import UTC, date, datetime
from decimal import Decimal, localcontext
from typing import Any, Final

from exporter.errors import AuthError, InvalidResponseError, SourceUnavailable
from exporter.parsing import as_count, as_decimal, as_label, as_list, as_mapping, as_rfc3339
from exporter.pricing import ModelPrice
from exporter.providers.base import ProviderSpec, SourceContext
from exporter.records import (
    ApiKeyInfo,
    CostRecord,
    CountRecord,
    CountUnit,
    GaugeRecord,
    PriceRecord,
    Record,
    TokenRecord,
    gauge,
)
from exporter.upstream import QueryParams, Upstream

log = logging.getLogger(__name__)

KEY_PATH: Final = "/key"
CREDITS_PATH: Final = "/credits"
KEYS_PATH: Final = "/keys"
ACTIVITY_PATH: Final = "/activity"
MODELS_PATH: Final = "/models"

#: ``api_key`` label of the polling key (``/key`` gives no id; its ``label`` is key material).
CURRENT_KEY: Final = "current"
#: ``reset`` label of a limit whose ``limit_reset`` is null.
NO_RESET: Final = "never"
#: ``balance_type`` of the OpenRouter credit balance.
PREPAID: Final = "prepaid"

#: Usage field → ``period`` label.
_PERIODS: Final = (
    ("usage_daily", "day"),
    ("usage_weekly", "week"),
    ("usage_monthly", "month"),
    ("usage", "lifetime"),
)
#: ``pricing`` field → catalog token type; each falls back to the input price.
_CACHE_PRICES: Final = (
    ("input_cache_read", "cache_read"),
    ("input_cache_write", "cache_write_5m"),
    ("input_cache_write_1h", "cache_write_1h"),
)

#: ``ctx.memo`` keys.
_MEMO_MANAGEMENT: Final = "is_management_key"
_MEMO_HINT_LOGGED: Final = "management_hint_logged"

MANAGEMENT_HINT: Final = (
    "this OpenRouter key is not a management key, so only its own usage and limit are "
    "exported; a management key (openrouter.ai/settings/management-keys) adds the credit "
    "balance (credits), per-key spend and limits (keys) and month-to-date cost, tokens and "
    "requests by model (activity)"
)


# --------------------------------------------------------------------------- pure parsers


def _data(body: Any, where: str) -> Any:
    return as_mapping(body, where).get("data")


def key_gauges(item: Mapping[str, Any], api_key: str, where: str) -> list[GaugeRecord]:
    """Usage, limit and limit-remaining gauges of one key object (``/key`` data or a ``/keys``
    item). Absent or null usage periods are skipped; a null ``limit`` means unlimited and
    yields no limit series."""
    records = [
        gauge(
            "llm_api_key_usage_usd",
            as_decimal(item[field], f"{where}.{field}"),
            api_key=api_key,
            period=period,
        )
        for field, period in _PERIODS
        if item.get(field) is not None
    ]
    limit = item.get("limit")
    if limit is None:
        return records
    reset = as_label(item.get("limit_reset"), f"{where}.limit_reset") or NO_RESET
    records.append(
        gauge(
            "llm_api_key_limit_usd",
            as_decimal(limit, f"{where}.limit"),
            api_key=api_key,
            reset=reset,
        )
    )
    remaining = item.get("limit_remaining")
    if remaining is not None:
        records.append(
            gauge(
                "llm_api_key_limit_remaining_usd",
                as_decimal(remaining, f"{where}.limit_remaining"),
                api_key=api_key,
            )
        )
    return records


def management_flag(data: Mapping[str, Any], where: str) -> bool | None:
    """Whether ``/key`` describes a management key (``None``: the response does not say).

    Management keys used to be called provisioning keys; either flag being true counts.
    """
    flags = []
    for field in ("is_management_key", "is_provisioning_key"):
        value = data.get(field)
        if value is None:
            continue
        if not isinstance(value, bool):
            raise InvalidResponseError(f"{where}.{field}: expected a boolean")
        flags.append(value)
    if not flags:
        return None
    return any(flags)


def parse_key(body: Any) -> tuple[list[Record], bool | None]:
    """Gauges of ``/key`` and whether the key is a management key."""
    data = as_mapping(_data(body, "key"), "key.data")
    records: list[Record] = list(key_gauges(data, CURRENT_KEY, "key.data"))
    return records, management_flag(data, "key.data")


def exact_difference(minuend: Decimal, subtrahend: Decimal) -> Decimal:
    """``minuend - subtrahend`` without rounding to the default 28 significant digits."""
    with localcontext() as context:
        context.prec = 200
        return minuend - subtrahend


def parse_credits(body: Any) -> list[Record]:
    """Balance, purchased and used gauges of ``/credits``."""
    data = as_mapping(_data(body, "credits"), "credits.data")
    purchased = as_decimal(data.get("total_credits"), "credits.data.total_credits", null=None)
    used = as_decimal(data.get("total_usage"), "credits.data.total_usage", null=None)
    return [
        gauge("llm_credit_balance_usd", exact_difference(purchased, used), balance_type=PREPAID),
        gauge("llm_credit_purchased_usd", purchased),
        gauge("llm_credit_used_usd", used),
    ]


def parse_keys_page(body: Any) -> tuple[list[Record], list[str]]:
    """Gauges and names of one ``/keys`` page, and the key hashes it listed (in order)."""
    records: list[Record] = []
    hashes: list[str] = []
    for i, raw in enumerate(as_list(_data(body, "keys"), "keys.data", null_ok=False)):
        where = f"keys.data[{i}]"
        item = as_mapping(raw, where)
        key_hash = as_label(item.get("hash"), f"{where}.hash")
        if not key_hash:
            raise InvalidResponseError(f"{where}.hash: missing key hash")
        hashes.append(key_hash)
        records += key_gauges(item, key_hash, where)
        # ``name`` is chosen by people; ``label`` is redacted key material and never read.
        records.append(ApiKeyInfo(key_hash, as_label(item.get("name"), f"{where}.name")))
    return records, hashes


def _utc_day(value: Any, where: str) -> datetime:
    """00:00 UTC of an activity ``date`` (``YYYY-MM-DD``; an RFC 3339 time is tolerated)."""
    if isinstance(value, str) and len(value.strip()) == 10:
        try:
            day = date.fromisoformat(value.strip())
        except ValueError:
            raise InvalidResponseError(f"{where}: not a date: {value[:16]!r}") from None
        return datetime(day.year, day.month, day.day, tzinfo=UTC)
    moment = as_rfc3339(value, where)
    return moment.replace(hour=0, minute=0, second=0, microsecond=0)


def parse_activity(
    body: Any, start: datetime, end: datetime, group_by: AbstractSet[str]
) -> list[Record]:
    """Cost, token and request records of ``/activity`` rows dated in ``[start, end)``.

    Rows of earlier months are skipped. A record whose value is zero is not emitted (a free
    model's row yields tokens and requests but no cost).
    """
    records: list[Record] = []
    reasoning_beyond_completion = 0
    for i, raw in enumerate(as_list(_data(body, "activity"), "activity.data", null_ok=False)):
        where = f"activity.data[{i}]"
        row = as_mapping(raw, where)
        day = _utc_day(row.get("date"), f"{where}.date")
        model_slug = as_label(row.get("model"), f"{where}.model")
        usd = as_decimal(row.get("usage"), f"{where}.usage", null=None)
        prompt = as_count(row.get("prompt_tokens"), f"{where}.prompt_tokens")
        completion = as_count(row.get("completion_tokens"), f"{where}.completion_tokens")
        reasoning = as_count(row.get("reasoning_tokens"), f"{where}.reasoning_tokens")
        requests = as_count(row.get("requests"), f"{where}.requests")
        if not start <= day < end:
            continue
        if reasoning > completion:
            reasoning_beyond_completion += 1
        model = model_slug if "model" in group_by else ""
        if usd:
            records.append(CostRecord(day, "", model, "", usd))
        if prompt or completion:
            records.append(TokenRecord(day, "", "", model, prompt, 0, 0, 0, completion))
        if requests:
            records.append(CountRecord(day, CountUnit.REQUESTS, "", "", model, Decimal(requests)))
    if reasoning_beyond_completion:
        log.warning(
            "openrouter activity: %d row(s) report more reasoning than completion tokens; "
            "output tokens assume completion_tokens include reasoning_tokens",
            reasoning_beyond_completion,
        )
    return records


def _price(pricing: Mapping[str, Any], field: str, where: str) -> Decimal | None:
    """USD per token of a ``pricing`` field; ``None`` when absent, null or negative."""
    value = pricing.get(field)
    if value is None:
        return None
    price = as_decimal(value, f"{where}.{field}")
    return None if price < 0 else price


def parse_models(body: Any) -> list[Record]:
    """Catalog prices of ``/models``; models without a usable prompt/completion price are
    skipped (variable-price routers list ``"-1"``)."""
    records: list[Record] = []
    skipped = 0
    for i, raw in enumerate(as_list(_data(body, "models"), "models.data", null_ok=False)):
        where = f"models.data[{i}]"
        item = as_mapping(raw, where)
        model_id = as_label(item.get("id"), f"{where}.id")
        if not model_id:
            raise InvalidResponseError(f"{where}.id: missing model id")
        raw_pricing = item.get("pricing")
        if raw_pricing is None:
            skipped += 1
            continue
        pricing = as_mapping(raw_pricing, f"{where}.pricing")
        input_price = _price(pricing, "prompt", f"{where}.pricing")
        output_price = _price(pricing, "completion", f"{where}.pricing")
        if input_price is None or output_price is None:
            skipped += 1
            continue
        per_token = {"input": input_price, "output": output_price}
        for field, token_type in _CACHE_PRICES:
            cache_price = _price(pricing, field, f"{where}.pricing")
            per_token[token_type] = input_price if cache_price is None else cache_price
        records.append(PriceRecord(ModelPrice("openrouter", model_id, "openrouter", per_token)))
    if skipped:
        log.debug("openrouter models: %d model(s) without a per-token price skipped", skipped)
    return records


# --------------------------------------------------------------------------- sources


async def _is_management_key(ctx: SourceContext) -> bool | None:
    """What ``/key`` says about the polling key, asked once per (account, source)."""
    if _MEMO_MANAGEMENT not in ctx.memo:
        _, flag = parse_key(await ctx.upstream.get_json(KEY_PATH))
        ctx.memo[_MEMO_MANAGEMENT] = flag
    known: bool | None = ctx.memo[_MEMO_MANAGEMENT]
    return known


async def _management_get(ctx: SourceContext, path: str, params: QueryParams = ()) -> Any:
    """GET an endpoint that needs a management key.

    401/403 from an ordinary key (as ``/key`` reports it) is :class:`SourceUnavailable`; from
    a management key, or when ``/key`` does not say, it stays an :class:`AuthError`.
    """
    try:
        return await ctx.upstream.get_json(path, params)
    except AuthError:
        if await _is_management_key(ctx) is False:
            raise SourceUnavailable(
                f"GET {path} needs a management key (openrouter.ai/settings/management-keys); "
                "this key is an ordinary API key"
            ) from None
        raise


async def key(ctx: SourceContext) -> list[Record]:
    records, management = parse_key(await ctx.upstream.get_json(KEY_PATH))
    if management is False and not ctx.memo.get(_MEMO_HINT_LOGGED):
        ctx.memo[_MEMO_HINT_LOGGED] = True
        log.info(MANAGEMENT_HINT)
    return records


async def credits(ctx: SourceContext) -> list[Record]:
    return parse_credits(await _management_get(ctx, CREDITS_PATH))


async def keys(ctx: SourceContext) -> list[Record]:
    records: list[Record] = []
    seen: set[str] = set()
    offset = 0
    for _ in range(ctx.upstream.limits.max_pages):
        query = [("include_disabled", "true"), ("offset", str(offset))]
        page_records, hashes = parse_keys_page(await _management_get(ctx, KEYS_PATH, query))
        if not hashes:
            return records
        if len(set(hashes)) != len(hashes) or not seen.isdisjoint(hashes):
            raise InvalidResponseError(
                f"GET {KEYS_PATH}: a key listed twice at offset {offset} (offset ignored?)"
            )
        seen.update(hashes)
        records += page_records
        offset += len(hashes)
    raise InvalidResponseError(f"GET {KEYS_PATH}: more than {ctx.upstream.limits.max_pages} pages")


async def activity(ctx: SourceContext) -> list[Record]:
    """Month-to-date cost, tokens and requests from completed UTC days (today is absent)."""
    body = await _management_get(ctx, ACTIVITY_PATH)
    return parse_activity(body, ctx.start, ctx.end, ctx.group_by)


async def models(ctx: SourceContext) -> list[Record]:
    return parse_models(await ctx.upstream.get_json(MODELS_PATH))


async def check(upstream: Upstream) -> None:
    """One cheap authenticated request that any key may make: ``/key``."""
    parse_key(await upstream.get_json(KEY_PATH))


def auth_headers(api_key: str) -> Mapping[str, str]:
    return {"Authorization": f"Bearer {api_key}"}


PROVIDER: Final = ProviderSpec(
    name="openrouter",
    title="OpenRouter: key usage and limits, credits, per-key spend, daily activity, live prices",
    default_base_url="https://openrouter.ai/api/v1",
    env_var="OPENROUTER_API_KEY",
    key_hint=(
        "an OpenRouter API key (sk-or-v1-...) from openrouter.ai/settings/keys for its own "
        "usage and limit; a management key from openrouter.ai/settings/management-keys adds "
        "credits, per-key spend and activity"
    ),
    auth_headers=auth_headers,
    sources={
        "key": key,
        "credits": credits,
        "keys": keys,
        "activity": activity,
        "models": models,
    },
    check=check,
    billed_sources=frozenset({"activity"}),
)
