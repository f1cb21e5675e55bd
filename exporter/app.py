"""The HTTP side: a starlette app whose lifespan owns the ClientSession and the poller.

Routes: ``/metrics`` (cached exposition of the current snapshot; OpenMetrics and gzip
negotiated), ``/`` (landing page), ``/-/healthy`` (process alive), ``/-/ready`` (first poll
round finished, successful or not). In demo mode the lifespan also owns the in-process
provider simulator.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import AsyncIterator

import aiohttp
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, PlainTextResponse, Response
from starlette.routing import Route

from exporter.config import Config
from exporter.landing import render_landing
from exporter.poller import Clock, Poller
from exporter.snapshot import OPENMETRICS_CONTENT_TYPE, TEXT_CONTENT_TYPE

DEMO_BANNER = (
    "Demo mode: all data comes from the built-in provider simulator, not from a real account."
)


def create_app(
    config: Config, *, clock: Clock = time.time, jitter: float = 1.0, demo: bool = False
) -> Starlette:
    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        async with contextlib.AsyncExitStack() as stack:
            effective = config
            if demo:
                from exporter.demo import running_simulator

                effective = await stack.enter_async_context(running_simulator(config))
            connector = aiohttp.TCPConnector(limit=32, limit_per_host=8)
            session = await stack.enter_async_context(
                # Demo traffic stays on loopback: never route it through an HTTP proxy.
                aiohttp.ClientSession(connector=connector, trust_env=not demo)
            )
            poller = Poller(effective, session, clock=clock, jitter=jitter)
            app.state.poller = poller
            poller.start()
            try:
                yield
            finally:
                await poller.stop()

    async def metrics(request: Request) -> Response:
        snapshot = _poller(request).snapshot
        accept = request.headers.get("accept", "")
        openmetrics = "application/openmetrics-text" in accept
        compress = "gzip" in request.headers.get("accept-encoding", "")
        if snapshot.rendered(openmetrics=openmetrics, compress=compress):
            body = snapshot.render(openmetrics=openmetrics, compress=compress)
        else:
            # A format the poller did not pre-render: render it off the event loop.
            body = await run_in_threadpool(
                snapshot.render, openmetrics=openmetrics, compress=compress
            )
        headers = {"Content-Encoding": "gzip", "Vary": "Accept-Encoding"} if compress else {}
        media = OPENMETRICS_CONTENT_TYPE if openmetrics else TEXT_CONTENT_TYPE
        return Response(body, headers=headers, media_type=media)

    async def landing(request: Request) -> Response:
        poller = _poller(request)
        banner = DEMO_BANNER if demo else None
        return HTMLResponse(render_landing(poller.config, poller.snapshot, banner=banner))

    async def healthy(request: Request) -> Response:
        return PlainTextResponse("OK\n")

    async def ready(request: Request) -> Response:
        if _poller(request).first_round.is_set():
            return PlainTextResponse("Ready\n")
        return PlainTextResponse("Waiting for the first poll round\n", status_code=503)

    return Starlette(
        routes=[
            Route("/metrics", metrics),
            Route("/", landing),
            Route("/-/healthy", healthy, methods=["GET", "HEAD"]),
            Route("/-/ready", ready, methods=["GET", "HEAD"]),
        ],
        lifespan=lifespan,
    )


def _poller(request: Request) -> Poller:
    poller: Poller = request.app.state.poller
    return poller
