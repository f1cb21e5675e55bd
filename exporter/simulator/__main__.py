"""``python -m exporter.simulator --listen 127.0.0.1:8787 --seed 1``: serve a simulated org."""

from __future__ import annotations

import argparse
import sys

from aiohttp import web

from exporter.simulator.model import OrgModel
from exporter.simulator.server import create_app


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m exporter.simulator", description=__doc__)
    parser.add_argument("--listen", default="127.0.0.1:8787", help="HOST:PORT")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--page-size", type=int, default=2, help="buckets/items per page")
    parser.add_argument("--rate-limit-every", type=int, default=0, help="429 every Nth request")
    args = parser.parse_args(argv)
    host, _, port = args.listen.rpartition(":")
    openai_key = f"sk-admin-simulator-{args.seed}"
    anthropic_key = f"sk-ant-admin01-simulator-{args.seed}"
    app = create_app(
        OrgModel(seed=args.seed),
        openai_key=openai_key,
        anthropic_key=anthropic_key,
        page_size=args.page_size,
        rate_limit_every=args.rate_limit_every,
    )
    base = f"http://{host or '127.0.0.1'}:{port}"
    print(f"OPENAI_ADMIN_KEY={openai_key}", flush=True)
    print(f"ANTHROPIC_ADMIN_KEY={anthropic_key}", flush=True)
    print(f"base_url for both providers: {base}", flush=True)
    web.run_app(app, host=host or "127.0.0.1", port=int(port), print=None)
    return 0


if __name__ == "__main__":
    sys.exit(main())
