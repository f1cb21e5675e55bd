"""Writes grafana/dashboards/<uid>.json from the modules of this package.

Usage (from the repository root)::

    python grafana/dashboards_src [--out DIR] [--check]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

_GRAFANA_DIR = Path(__file__).resolve().parent.parent
_REPO_ROOT = _GRAFANA_DIR.parent
# Runnable as `python grafana/dashboards_src` without installing anything: the package
# lives in grafana/, the metrics contract in the repository root.
for path in (_REPO_ROOT, _GRAFANA_DIR):
    if str(path) not in sys.path:
        sys.path.insert(0, str(path))

from dashboards_src import render_all  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python grafana/dashboards_src", description=__doc__)
    parser.add_argument(
        "--out",
        type=Path,
        default=_GRAFANA_DIR / "dashboards",
        help="output directory (default: grafana/dashboards)",
    )
    parser.add_argument(
        "--check",
        action="store_true",
        help="do not write; exit 1 if a file in --out differs from the generated JSON",
    )
    args = parser.parse_args(argv)

    stale = []
    for name, text in render_all().items():
        target = args.out / name
        if args.check:
            if not target.is_file() or target.read_text(encoding="utf-8") != text:
                stale.append(name)
            continue
        args.out.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")
        print(f"wrote {target}")
    if stale:
        print(f"stale dashboards (run python grafana/dashboards_src): {', '.join(stale)}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
