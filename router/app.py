"""The router's ASGI application: the one base URL of the Web API, health and stats
(``/internal/stats`` for Flannel services only: it needs the shared secret).

Requests follow Slack's conventions, read and answered by :mod:`wire.http` exactly as at the
origin and the edges (GET query, POST form or JSON; ``Authorization: Bearer`` or a ``token``
argument; Slack's errors with HTTP 200, ``ratelimited`` with 429 and ``Retry-After``, and the
router's own trouble, no edge or an unreachable origin or registry, with 503). The router
answers ``rtm.connect``, ``auth.test`` and ``rtm.start`` (the origin's fat payload with a
working ``url``); every other method goes to the caller's edge and its answer comes back
unchanged (:mod:`router.forward`), so a client with one base URL (slack_sdk's RTMClient and
WebClient, the Node SDK) works. This module only moves bytes between starlette and those.
"""

from __future__ import annotations

import hmac
import logging
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from typing import Any

import httpx
import orjson
from starlette.applications import Starlette
from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route

from router.files_proxy import FilesProxy, is_multipart_upload
from router.forward import EdgeClient, Forwarder
from router.metrics import RouterMetrics
from router.registry import Registry, open_registry
from router.service import Router
from router.settings import RouterSettings, valid_region
from router.tokens import TokenChecker
from router.webclient import WebClient
from wire.errors import SlackError
from wire.files import DOWNLOAD_PREFIX, THUMB_PREFIX, UPLOAD_PREFIX
from wire.http import (
    INTERNAL_ERROR,
    JSON_TYPE,
    SERVICE_HEADER,
    bearer,
    error_answer,
    ok_body,
    parse_args,
    read_body,
)

log = logging.getLogger("flannel.router")
#: The methods answered here; every other one is forwarded to the caller's edge.
METHODS = ("rtm.connect", "auth.test", "rtm.start")


def json_response(body: dict[str, Any], status: int = 200) -> Response:
    return Response(orjson.dumps(body), status, media_type=JSON_TYPE)


def ok_response(result: Mapping[str, Any]) -> Response:
    return Response(ok_body(result), media_type=JSON_TYPE)


def error_response(exc: SlackError) -> Response:
    body, status, headers = error_answer(exc)
    return Response(body, status, headers, media_type=JSON_TYPE)


async def read_args(request: Request) -> tuple[dict[str, Any], bytes]:
    """Every argument of the request (query string, then a POST body's fields over it), and
    the raw body (forwarded as it came)."""
    body = await read_body(request.stream()) if request.method == "POST" else b""
    return parse_request(request, body), body


def parse_request(request: Request, body: bytes) -> dict[str, Any]:
    query: bytes = request.scope.get("query_string", b"")
    try:
        return parse_args(request.method, query, request.headers.get("content-type", ""), body)
    except (ValueError, LookupError):  # a body the parser chokes on is still just a bad form
        raise SlackError("invalid_form_data", "malformed body") from None


def service_refusal(request: Request, secret: str) -> Response | None:
    """None when the caller is a Flannel service (it sent the shared secret), else the 401."""
    given = request.headers.get(SERVICE_HEADER, "")
    if not given:
        return json_response({"ok": False, "error": "not_authed", "detail": "service secret required"}, 401)
    if not hmac.compare_digest(given.encode(), secret.encode()):
        return json_response({"ok": False, "error": "invalid_auth", "detail": "wrong service secret"}, 401)
    return None


def create_app(
    settings: RouterSettings,
    registry: Registry | None = None,
    origin_transport: httpx.AsyncBaseTransport | None = None,
    edge_transport: httpx.AsyncBaseTransport | None = None,
) -> Starlette:
    """``registry``: shared with in-process edges when embedded; else Redis or in-process as
    configured. ``origin_transport`` and ``edge_transport`` let tests stand in for the origin
    and the edges (the latter also carries the origin's ``rtm.start``)."""
    tokens = TokenChecker(
        settings.origin_url,
        settings.token_ttl_s,
        settings.token_failure_ttl_s,
        transport=origin_transport,
        secret=settings.secret,  # new tokens checked in batches at the origin
    )
    router = Router(settings, registry or open_registry(settings), tokens)
    metrics = RouterMetrics(router)
    edges = EdgeClient(edge_transport)
    forwarder = Forwarder(router, edges, settings.origin_url)
    files = FilesProxy(router, edge_transport)
    web = WebClient(router, settings.origin_url, settings.secret, origin_transport)

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        try:
            yield
        finally:
            await router.close()
            await edges.close()
            await files.close()
            await web.close()

    async def api(request: Request) -> Response:
        name = request.path_params["method"]
        address = request.client.host if request.client else "unknown"
        if is_multipart_upload(name, request):
            return await files(request, settings.default_region)
        try:
            values, body = await read_args(request)
            token = bearer(request.headers.get("authorization"), values)
            headers: Mapping[str, str] = request.headers
            if token is None:  # a browser page: its session cookie, with the CSRF header
                token = web.token_of(request)
                if token is not None:
                    headers = {**request.headers, "authorization": f"Bearer {token}"}
            if name == "rtm.connect":
                return ok_response(await router.connect(token, address, values))
            if name == "auth.test":
                return ok_response(await router.auth_test(token, address))
            if name == "rtm.start":
                return ok_response(await forwarder.rtm_start(token, address, values))
            region = values.get("region")
            if not isinstance(region, str) or not valid_region(region):
                region = settings.default_region
            query: bytes = request.scope.get("query_string", b"")
            verb = request.method
            answer = await forwarder.forward(name, verb, query, headers, body, token, region)
            return StreamingResponse(answer.chunks(), answer.status, answer.headers)
        except SlackError as exc:
            return error_response(exc)
        except ClientDisconnect:
            log.debug("client hung up during %s", name)  # nobody is left to answer
            return Response(status_code=400)
        except Exception:
            log.exception("%s failed", name)
            return Response(INTERNAL_ERROR, 500, media_type=JSON_TYPE)

    async def file_bytes(request: Request) -> Response:
        region = request.query_params.get("region")
        if not isinstance(region, str) or not valid_region(region):
            region = settings.default_region
        return await files(web.with_session(request), region)

    async def healthz(request: Request) -> Response:
        return json_response({"ok": True})

    async def readyz(request: Request) -> Response:
        if not await router.registry.ping():
            return json_response({"ok": False, "error": "registry_unreachable"}, 503)
        if not await tokens.ping_origin():
            return json_response({"ok": False, "error": "origin_unreachable"}, 503)
        return json_response({"ok": True})

    async def stats(request: Request) -> Response:
        refused = service_refusal(request, settings.secret)
        return refused if refused is not None else ok_response(await router.stats())

    async def metrics_endpoint(request: Request) -> Response:
        return Response(await metrics.render(), media_type="text/plain; version=0.0.4")

    app = Starlette(
        routes=[
            Route("/api/{method}", api, methods=["GET", "POST"]),
            *[
                Route(prefix + "{rest:path}", file_bytes, methods=methods)
                for prefix, methods in (
                    (UPLOAD_PREFIX, ["POST", "PUT"]),
                    (DOWNLOAD_PREFIX, ["GET", "HEAD"]),
                    (THUMB_PREFIX, ["GET"]),
                )
            ],
            Route("/healthz", healthz),
            Route("/readyz", readyz),
            Route("/internal/stats", stats),
            Route("/metrics", metrics_endpoint),
            *web.routes(),
        ],
        lifespan=lifespan,
    )
    app.state.router = router
    return app
