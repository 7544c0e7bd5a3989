"""The edge's ASGI application: Web API (``/api/<method>``), ``/rtm`` WebSocket, health.

:func:`create_app` is given a built :class:`~flannel.edge.Edge` (``flannel_cli.edge.build_edge``
builds one from settings; tests build theirs from in-process parts). The lifespan registers the
edge with the routers, hands the edge to the handlers as Starlette lifespan state, and on
shutdown leaves the registry, drains, closes the edge and then the injected parts.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from typing import Any, TypedDict

import orjson
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route, WebSocketRoute

from flannel.edge import Edge
from flannel.metrics import EdgeMetrics
from flannel.registry import EdgeRegistration
from flannel.rtm_endpoint import rtm
from flannel.webapi import api
from wire.http import JSON_TYPE

Closer = Callable[[], Awaitable[None]]
log = logging.getLogger("flannel.edge")


class State(TypedDict):
    """What every request and WebSocket sees as ``request.state``."""

    edge: Edge
    metrics: EdgeMetrics


def _json(body: dict[str, Any], status: int = 200) -> Response:
    return Response(orjson.dumps(body), status, media_type=JSON_TYPE)


async def healthz(request: Request) -> Response:
    return _json({"ok": True})


async def readyz(request: Request) -> Response:
    """Ready: not draining, and the origin and the change log (Redis) answer."""
    edge: Edge = request.state.edge
    if edge.draining:
        return _json({"ok": False, "error": "draining"}, 503)
    try:
        await edge.origin.ping()
        await edge.changelog.last_offset("T0")
    except Exception as exc:  # any failure means not ready
        return _json({"ok": False, "error": "not_ready", "detail": str(exc)}, 503)
    return _json({"ok": True})


async def metrics_endpoint(request: Request) -> Response:
    metrics: EdgeMetrics = request.state.metrics
    return Response(await metrics.render(), media_type="text/plain; version=0.0.4")


async def stats(request: Request) -> Response:
    edge: Edge = request.state.edge
    s = edge.cache.stats
    return _json(
        {
            "ok": True,
            "edge_id": edge.settings.edge_id,
            "region": edge.settings.region,
            "connections": edge.connections,
            "workspaces": len(edge.cache.loaded()),
            "cache_bytes": edge.cache.total_bytes(),
            "loads": s.loads,
            "hits": s.hits,
            "misses": s.misses,
            "evictions": s.evictions,
            "resyncs": s.resyncs,
            "origin_snapshot_loads": edge.regional.origin_loads,
            "regional_snapshot_hits": edge.regional.regional_hits,
        }
    )


def create_app(
    edge: Edge, registration: EdgeRegistration | None = None, closers: Sequence[Closer] = ()
) -> Starlette:
    """The app over ``edge``; ``registration`` announces it to routers (None: nobody routes
    here), ``closers`` close the injected parts after the edge, in order."""
    metrics = EdgeMetrics(edge)

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[State]:
        if registration is not None:
            await registration.start()
        try:
            yield {"edge": edge, "metrics": metrics}
        finally:
            if registration is not None:
                await registration.stop()  # routers stop sending sessions here before the goodbyes
            await edge.drain()
            await edge.close()
            for close in closers:
                try:
                    await close()
                except Exception:  # one part failing to close must not keep the others open
                    log.exception("closing %r failed", close)

    return Starlette(
        routes=[
            Route("/api/{method}", api, methods=["GET", "POST"]),
            WebSocketRoute("/rtm", rtm),
            Route("/healthz", healthz),
            Route("/readyz", readyz),
            Route("/internal/stats", stats),
            Route("/metrics", metrics_endpoint),
        ],
        lifespan=lifespan,
    )
