"""``python -m exporter.providers > docs/providers.md``: the provider reference.

Generated from the registry and each provider module's docstring (endpoints, credential,
series, blind spots), so the docs cannot drift from the code; a test checks they agree.
"""

from __future__ import annotations

import inspect
import sys
from types import ModuleType

from exporter.providers import PROVIDERS
from exporter.providers.base import ProviderSpec


def _module_of(spec: ProviderSpec) -> ModuleType:
    """The module that defines ``spec`` as its ``PROVIDER``."""
    for name, module in sorted(sys.modules.items()):
        if name.startswith("exporter.providers.") and getattr(module, "PROVIDER", None) is spec:
            return module
    raise LookupError(spec.name)


def render_markdown() -> str:
    lines = [
        "# Providers",
        "",
        "Generated from `exporter/providers/` by `python -m exporter.providers > "
        "docs/providers.md`;",
        "a test fails when this file and the code disagree. Each section is the provider",
        "module's own documentation: the endpoints it calls, the credential it needs, the",
        "series it yields and what it cannot see.",
        "",
        "| `provider:` | labels as | credential | discovered from | sources | default poll |",
        "|---|---|---|---|---|---|",
    ]
    for name, spec in PROVIDERS.items():
        env = f"`{spec.env_var}` (or `{spec.env_var}_FILE`)" if spec.env_var else "config only"
        credential = "api_key / api_key_file" if spec.needs_key else "reads its own files"
        poll = f"{spec.default_poll_interval:g}s" if spec.default_poll_interval else "global"
        sources = ", ".join(f"`{s}`" for s in spec.sources)
        label = f"`{spec.label or name}` / `{spec.default_account or name}`"
        lines.append(f"| `{name}` | {label} | {credential} | {env} | {sources} | {poll} |")
    for name, spec in PROVIDERS.items():
        doc = inspect.cleandoc(_module_of(spec).__doc__ or "")
        lines += ["", f"## `{name}`: {spec.title}", "", f"Credential: {spec.key_hint}.", ""]
        options = spec.options.model_fields
        if options:
            lines.append("Options (under the account's `options:`):")
            lines.append("")
            for option, info in options.items():
                described = f": {info.description}" if info.description else ""
                lines.append(f"- `{option}`{described}")
            lines.append("")
        lines += ["```text", doc, "```"]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.stdout.write(render_markdown())
