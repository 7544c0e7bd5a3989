"""The router's ASGI application: ``/api/rtm.connect``, ``/api/auth.test``, health and stats.

Requests follow Slack's conventions, as at the origin and the edges (GET query, POST form or
JSON; ``Authorization: Bearer`` or a ``token`` argument), so ``slack_sdk`` with ``base_url`` at
the router works: its ``RTMClient`` calls ``auth.test`` then ``rtm.connect`` and follows the URL.
Every other method lives at the edge whose ``api_url`` the connect answer gives.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import orjson
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from router.errors import RouterError
from router.metrics import RouterMetrics
from router.registry import MemoryRegistry, RedisRegistry, Registry
from router.service import Router
from router.settings import RouterSettings
from router.tokens import TokenChecker

MAX_BODY = 64 * 1024
log = logging.getLogger("flannel.router")


def json_response(body: dict[str, Any], status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(orjson.dumps(body), status, headers, media_type="application/json")


def error_response(exc: RouterError) -> Response:
    body: dict[str, Any] = {"ok": False, "error": exc.code}
    if exc.detail:
        body["response_metadata"] = {"messages": [f"[ERROR] {exc.detail}"]}
    headers = {"Retry-After": str(exc.retry_after)} if exc.retry_after else None
    return json_response(body, exc.status, headers)


async def read_args(request: Request) -> dict[str, Any]:
    values: dict[str, Any] = dict(request.query_params)
    if request.method != "POST":
        return values
    body = await request.body()
    if len(body) > MAX_BODY:
        raise RouterError("request_too_large", 413, f"bodies are at most {MAX_BODY} bytes")
    ctype = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if ctype == "application/json":
        if body.strip():
            try:
                data = orjson.loads(body)
            except orjson.JSONDecodeError:
                raise RouterError("invalid_json", detail="malformed JSON body") from None
            if not isinstance(data, dict):
                raise RouterError("invalid_json", detail="the JSON body must be an object")
            values.update(data)
    elif ctype in ("application/x-www-form-urlencoded", "multipart/form-data"):
        form = await request.form()
        values.update({k: v for k, v in form.items() if isinstance(v, str)})
    elif body.strip():
        raise RouterError("invalid_form_data", detail=f"unsupported content type {ctype!r}")
    return values


def bearer(request: Request, values: dict[str, Any]) -> str | None:
    header = request.headers.get("authorization", "")
    if header.lower().startswith("bearer "):
        return header[7:].strip() or None
    token = values.pop("token", None)
    return token if isinstance(token, str) and token else None


def open_registry(settings: RouterSettings) -> Registry:
    if settings.redis_url:
        return RedisRegistry(
            settings.redis_url, settings.redis_prefix, settings.warm_ttl_s, settings.edges_refresh_s
        )
    return MemoryRegistry(settings.warm_ttl_s)


def create_app(
    settings: RouterSettings,
    registry: Registry | None = None,
    origin_transport: httpx.AsyncBaseTransport | None = None,
) -> Starlette:
    """``registry``: shared with in-process edges when embedded; else Redis or in-process as
    configured. ``origin_transport`` lets tests stand in for the origin."""
    tokens = TokenChecker(
        settings.origin_url, settings.token_ttl_s, settings.token_failure_ttl_s, transport=origin_transport
    )
    router = Router(settings, registry or open_registry(settings), tokens)
    metrics = RouterMetrics(router)

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        try:
            yield
        finally:
            await router.close()

    async def api(request: Request) -> Response:
        name = request.path_params["method"]
        address = request.client.host if request.client else "unknown"
        try:
            values = await read_args(request)
            token = bearer(request, values)
            if name == "rtm.connect":
                return json_response({"ok": True, **await router.connect(token, address, values)})
            if name == "auth.test":
                return json_response({"ok": True, **await router.auth_test(token, address)})
            raise RouterError(
                "unknown_method",
                404,
                f"the router answers rtm.connect and auth.test; call {name} at the api_url rtm.connect gives",
            )
        except RouterError as exc:
            return error_response(exc)
        except Exception:
            log.exception("%s failed", name)
            return json_response({"ok": False, "error": "internal_error"}, 500)

    async def healthz(request: Request) -> Response:
        return json_response({"ok": True})

    async def readyz(request: Request) -> Response:
        if not await router.registry.ping():
            return json_response({"ok": False, "error": "registry_unreachable"}, 503)
        if not await tokens.ping_origin():
            return json_response({"ok": False, "error": "origin_unreachable"}, 503)
        return json_response({"ok": True})

    async def stats(request: Request) -> Response:
        return json_response({"ok": True, **await router.stats()})

    async def metrics_endpoint(request: Request) -> Response:
        return Response(await metrics.render(), media_type="text/plain; version=0.0.4")

    app = Starlette(
        routes=[
            Route("/api/{method}", api, methods=["GET", "POST"]),
            Route("/healthz", healthz),
            Route("/readyz", readyz),
            Route("/internal/stats", stats),
            Route("/metrics", metrics_endpoint),
        ],
        lifespan=lifespan,
    )
    app.state.router = router
    return app
