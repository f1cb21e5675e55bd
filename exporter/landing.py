"""The landing page at ``/``: accounts, the health of each source, links."""

from __future__ import annotations

import html
import time

from exporter import __version__
from exporter.config import Config
from exporter.snapshot import Snapshot

_STYLE = (
    "body{font-family:system-ui,sans-serif;margin:2em;max-width:70em}"
    "table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:.3em .6em;text-align:left}"
    ".up{color:#176f2c}.down{color:#b00020}.pending{color:#777}"
)


def render_landing(config: Config, snapshot: Snapshot, *, banner: str | None = None) -> str:
    now = time.time()
    rows = []
    for view in snapshot.health:
        if view.unavailable is not None:
            status = '<span class="pending">not available for this key</span>'
        elif view.up is None:
            status = '<span class="pending">pending</span>'
        elif view.up:
            status = '<span class="up">up</span>'
        else:
            status = '<span class="down">down</span>'
        age = f"{now - view.last_success:.0f}s ago" if view.last_success else "never"
        rows.append(
            "<tr>"
            + "".join(
                f"<td>{cell}</td>"
                for cell in (
                    html.escape(view.provider),
                    html.escape(view.account),
                    html.escape(view.source),
                    status,
                    age,
                    html.escape(view.unavailable or view.last_error or ""),
                )
            )
            + "</tr>"
        )
    table = (
        "<table><tr><th>provider</th><th>account</th><th>source</th><th>status</th>"
        "<th>last success</th><th>last error</th></tr>" + "".join(rows) + "</table>"
        if rows
        else "<p>No accounts configured.</p>"
    )
    warn = ""
    if snapshot.unmatched_budgets:
        names = ", ".join(html.escape(n) for n in snapshot.unmatched_budgets)
        warn = f"<p class='down'>Budgets whose scope matches no spend yet: {names}</p>"
    if snapshot.unpriced_models:
        models = ", ".join(
            f"{html.escape(provider)}/{html.escape(model)}"
            for provider, model in snapshot.unpriced_models
        )
        warn += (
            "<p class='down'>Models without a catalog price (their tokens are in "
            "llm_unpriced_tokens_total and left out of estimated cost; add them under "
            f"pricing.prices in the config): {models}</p>"
        )
    top = f"<p style='background:#fff3cd;padding:.6em'>{html.escape(banner)}</p>" if banner else ""
    return (
        "<!doctype html><html><head><meta charset='utf-8'><title>LLM cost exporter</title>"
        f"<style>{_STYLE}</style></head><body>{top}<h1>LLM cost exporter</h1>"
        f"<p>Version {html.escape(__version__)} · {len(config.accounts)} account(s) · "
        "<a href='/metrics'>Metrics</a> · <a href='/-/healthy'>Health</a> · "
        f"<a href='/-/ready'>Readiness</a></p>{warn}{table}</body></html>"
    )
