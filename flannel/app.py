"""The edge's ASGI application: Web API (``/api/<method>``), ``/rtm`` WebSocket, health.

:func:`create_app` is given a built :class:`~flannel.edge.Edge` (``flannel_cli.edge.build_edge``
builds one from settings; tests build theirs from in-process parts). The lifespan registers the
edge with the routers, hands the edge to the handlers as Starlette lifespan state, and on
shutdown leaves the registry, drains, closes the edge and then the injected parts.

``/rtm`` and the Web API are served outside Starlette's middleware stack and router
(:class:`EdgeApp`): a WebSocket to ``/rtm`` goes straight to :func:`flannel.rtm_endpoint.rtm`, so
each of the edge's long-lived connections does not hold the error, exception and routing
middlewares' frames for its whole life; a GET or POST to ``/api/<method>`` goes straight to
:class:`flannel.webapi.WebApi` (arguments parsed from the raw query string and body, the answer
written as bytes), so a call pays for no routing, ``Request`` or ``Response`` object. Multipart
``files.upload`` and every other path take the Starlette routes. The routes stay in the table
(``url_path_for``, and the way in when middleware is added to the app).
"""

from __future__ import annotations

import hmac
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from typing import Any, TypedDict

import orjson
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route, WebSocketRoute
from starlette.types import Receive, Scope, Send
from starlette.websockets import WebSocket

from flannel import gcstats
from flannel.edge import Edge
from flannel.files_proxy import FilesProxy
from flannel.first_screen import first_screen
from flannel.methods import LOCAL
from flannel.metrics import EdgeMetrics
from flannel.quick import QuickApi, api_name
from flannel.registry import EdgeRegistration
from flannel.rtm_endpoint import rtm
from flannel.webapi import WebApi, api
from wire.errors import SlackError
from wire.http import JSON_TYPE, SERVICE_HEADER, bearer, error_answer, ok_body

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


def service_refusal(request: Request, secret: str) -> Response | None:
    """None when the caller is a Flannel service (it sent the shared secret), else the 401."""
    given = request.headers.get(SERVICE_HEADER, "")
    if not given:
        return _json({"ok": False, "error": "not_authed", "detail": "service secret required"}, 401)
    if not hmac.compare_digest(given.encode(), secret.encode()):
        return _json({"ok": False, "error": "invalid_auth", "detail": "wrong service secret"}, 401)
    return None


async def stats(request: Request) -> Response:
    edge: Edge = request.state.edge
    refused = service_refusal(request, edge.settings.secret)
    if refused is not None:
        return refused
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
            "gc_full_collections": gcstats.full_collections(),  # this process, since the app was built
        }
    )


async def first_screen_endpoint(request: Request) -> Response:
    """A page's first screen, for the router serving it (:mod:`flannel.first_screen`): the
    service secret says a router asks, the user's token whose screen it is; the body may
    name the channel the page showed last (``{"channel": ...}``)."""
    edge: Edge = request.state.edge
    refused = service_refusal(request, edge.settings.secret)
    if refused is not None:
        return refused
    try:
        asked = orjson.loads(await request.body() or b"{}")
        wanted = asked.get("channel") if isinstance(asked, dict) else None
        token = bearer(request.headers.get("authorization"), {})
        screen = await first_screen(edge, token, wanted if isinstance(wanted, str) else None)
    except orjson.JSONDecodeError:
        return _json({"ok": False, "error": "invalid_json"})
    except SlackError as exc:
        body, status, headers = error_answer(exc)
        return Response(body, status, headers, media_type=JSON_TYPE)
    return Response(ok_body(screen), media_type=JSON_TYPE)


RTM_PATH = "/rtm"


#: The methods Starlette's ``/api/{method}`` route takes (HEAD and the rest stay with it).
_DIRECT_METHODS = frozenset({"GET", "POST"})


class EdgeApp(Starlette):
    """The edge's Starlette app, with ``/rtm`` WebSockets and Web API calls routed directly.

    Starlette's stack adds nothing to a WebSocket here (no user middleware; the error
    middleware passes WebSockets through; the exception middleware re-raises what it has no
    handler for, as the endpoint raises nothing else), so the endpoint runs in the same way,
    with the same lifespan state, minus those frames per connection. A Web API call (``web_api``,
    set by :func:`create_app`) answers every failure itself (a Slack error, or a 500 body), so
    the error middleware has nothing to catch either. Any middleware added to the app puts both
    back behind it.
    """

    web_api: WebApi | None = None
    quick: QuickApi | None = None

    def quick_answers(self) -> QuickApi | None:
        """What the HTTP protocol may answer without the ASGI path
        (``flannel_cli.http_protocol``): only while calls go straight to :attr:`web_api` (no
        middleware added, which must see every call)."""
        return self.quick if self.web_api is not None and not self.user_middleware else None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind == "http" and self.web_api is not None and not self.user_middleware:
            name = api_method(scope)
            if name is not None:
                await self.web_api(scope, receive, send, name)
                return
        elif kind == "websocket" and not self.user_middleware and _route_path(scope) == RTM_PATH:
            scope["app"] = self
            await rtm(WebSocket(scope, receive, send))
            return
        await super().__call__(scope, receive, send)


def api_method(scope: Scope) -> str | None:
    """The method a GET or POST to ``/api/<method>`` names, as the Starlette route would match
    it (one path segment), or None: not a Web API call, or one for the Starlette route (a
    ``files.upload``, which may stream a multipart body to the origin; any other HTTP method)."""
    if scope["method"] not in _DIRECT_METHODS:
        return None
    return api_name(_route_path(scope))


def _route_path(scope: Scope) -> str:
    """The path the router would match (Starlette's rule: the path below ``root_path``)."""
    path: str = scope["path"]
    root = scope.get("root_path", "")
    return path[len(root) :] if root and path.startswith(root) else path


def create_app(
    edge: Edge,
    registration: EdgeRegistration | None = None,
    closers: Sequence[Closer] = (),
    starters: Sequence[Closer] = (),
    files: FilesProxy | None = None,
) -> Starlette:
    """The app over ``edge``; ``registration`` announces it to routers (None: nobody routes
    here), ``starters`` start the injected parts first (the nonce store's epoch), ``closers``
    close them after the edge, in order. ``files`` streams file bytes to the origin (default:
    to ``edge.settings.origin_url``)."""
    files_proxy = files or FilesProxy(edge.settings.origin_url)
    metrics = EdgeMetrics(edge, known_methods=(*LOCAL, "rtm.connect"))
    gcstats.install()

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[State]:
        for start in starters:
            await start()
        if registration is not None:
            await registration.start()
        try:
            yield {"edge": edge, "metrics": metrics}
        finally:
            if registration is not None:
                await registration.stop()  # routers stop sending sessions here before the goodbyes
            await edge.drain()
            await edge.close()
            await files_proxy.close()
            for close in closers:
                try:
                    await close()
                except Exception:  # one part failing to close must not keep the others open
                    log.exception("closing %r failed", close)

    app = EdgeApp(
        routes=[
            Route("/api/{method}", files_proxy.with_uploads(api), methods=["GET", "POST"]),
            *files_proxy.routes(),
            WebSocketRoute(RTM_PATH, rtm),
            Route("/healthz", healthz),
            Route("/readyz", readyz),
            Route("/internal/stats", stats),
            Route("/internal/first_screen", first_screen_endpoint, methods=["POST"]),
            Route("/metrics", metrics_endpoint),
        ],
        lifespan=lifespan,
    )
    app.web_api = WebApi(edge, metrics)
    app.quick = QuickApi(edge, metrics)
    return app
