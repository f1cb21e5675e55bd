"""Dashboards as code for llm-cost-exporter (grafana-foundation-sdk, Grafana 11.6 build).

Regenerate the committed JSON after editing any module here::

    python grafana/dashboards_src            # writes grafana/dashboards/<uid>.json
    python grafana/dashboards_src --check    # exit 1 if the committed JSON is stale

Modules: ``panels`` (shared factories), one module per dashboard (``overview``,
``provider``, ``subscriptions``, ``pricing``, ``health``). A new dashboard is a new module with
``UID``, ``TITLE``, ``BUSINESS_WINDOWS`` and ``build()``, listed in ``DASHBOARDS`` below.
"""

from __future__ import annotations

from types import ModuleType

from . import health, overview, pricing, provider, subscriptions
from .panels import render

#: Every dashboard module, in the order of the dashboard links.
DASHBOARDS: tuple[ModuleType, ...] = (overview, provider, subscriptions, pricing, health)


def render_all() -> dict[str, str]:
    """``{file name: JSON text}`` for every dashboard."""
    return {f"{module.UID}.json": render(module.build()) for module in DASHBOARDS}


__all__ = ["DASHBOARDS", "render_all"]
