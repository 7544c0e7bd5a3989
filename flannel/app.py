"""The edge's ASGI application: Web API (``/api/<method>``), ``/rtm`` WebSocket, health."""

from __future__ import annotations

import contextlib
import logging
import re
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import orjson
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route, WebSocketRoute
from starlette.websockets import WebSocket

from changelog import ChangeLog
from flannel.auth import AuthError
from flannel.connection import Connection
from flannel.edge import Edge
from flannel.methods import LOCAL, Who, answer
from flannel.metrics import EdgeMetrics
from flannel.origin_client import OriginError
from flannel.registry import EdgeRegistration, RegistryStore
from flannel.rtm import TicketError, issue, verify
from flannel.settings import EdgeSettings
from origin.api.http import bearer, error_response, json_response, read_args
from wire.args import Args
from wire.errors import SlackError

log = logging.getLogger("flannel.edge")


@dataclass
class Running:
    edge: Edge
    metrics: EdgeMetrics


def _error_of(body: bytes) -> str | None:
    try:
        decoded = orjson.loads(body)
    except orjson.JSONDecodeError:
        return "origin_error"
    return str(decoded.get("error")) if isinstance(decoded, dict) and not decoded.get("ok") else None


def create_app(
    settings: EdgeSettings, changelog: ChangeLog | None = None, registry: RegistryStore | None = None
) -> Starlette:
    holder: list[Running] = []

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        edge = Edge(settings, changelog)
        holder.append(Running(edge, EdgeMetrics(edge)))
        app.state.edge = edge
        registration = EdgeRegistration(settings, lambda: len(edge.fanout), lambda: edge.draining, registry)
        app.state.registration = registration
        await registration.start()
        try:
            yield
        finally:
            await registration.stop()  # routers stop sending sessions here before the goodbyes
            await edge.drain()
            await edge.close()

    async def api(request: Request) -> Response:
        name = request.path_params["method"]
        started = time.perf_counter()
        response, error = await dispatch(request, name)
        holder[0].metrics.observe(name, error, time.perf_counter() - started)
        return response

    async def dispatch(request: Request, name: str) -> tuple[Response, str | None]:
        edge = holder[0].edge
        try:
            values = await read_args(request)
            token = bearer(request, values)
            if name == "rtm.connect":
                return json_response({"ok": True, **await rtm_connect(edge, token, values)}), None
            local = LOCAL.get(name)
            if local is None:
                forwarded = await edge.origin.forward(name, token, values)
                headers = {"Retry-After": forwarded.retry_after} if forwarded.retry_after else None
                error = None if b'"ok":true' in forwarded.body[:20] else _error_of(forwarded.body)
                return Response(
                    forwarded.body, forwarded.status, headers, media_type="application/json"
                ), error
            caller = await edge.authenticate(token)
            if name == "auth.test":
                await edge.user_of(caller.team_id, caller.user_id)
            ws = await edge.cache.get(caller.team_id)
            result = answer(local, ws, Who(caller.team_id, caller.user_id), Args(values))
        except AuthError as exc:
            return error_response(SlackError(exc.code)), exc.code
        except SlackError as exc:
            return error_response(exc), exc.code
        except OriginError as exc:
            return error_response(SlackError(exc.code, exc.detail, 502)), exc.code
        except Exception:
            log.exception("edge method %s failed", name)
            return json_response({"ok": False, "error": "internal_error"}, 500), "internal_error"
        return json_response({"ok": True, **result}), None

    async def rtm(socket: WebSocket) -> None:
        edge = holder[0].edge
        if edge.draining:
            await socket.close(1013, "draining")
            return
        try:
            ticket = await verify(
                settings.secret,
                socket.query_params.get("ticket", ""),
                settings.edge_id,
                time.time(),
                edge.nonces,
            )
        except TicketError as exc:
            await socket.accept()
            await socket.send_text(orjson.dumps({"type": "error", "error": {"code": exc.code}}).decode())
            await socket.close(4003, exc.code)
            return
        if ticket.token_hash and ticket.token_hash in edge.revoked:
            await socket.accept()
            await socket.send_text(
                orjson.dumps({"type": "error", "error": {"code": "token_revoked"}}).decode()
            )
            await socket.close(4001, "token_revoked")
            return
        await socket.accept()
        try:
            resume = parse_offset(socket.query_params.get("resume_from"))
        except SlackError:
            error = {"code": "invalid_arguments", "msg": "resume_from must be a non-negative integer"}
            await socket.send_text(orjson.dumps({"type": "error", "error": error}).decode())
            await socket.close(4003, "invalid_arguments")
            return
        session = Connection.new_session(edge, ticket.user, ticket.team, ticket.token_hash or "")
        try:
            await Connection(edge, socket, session).run(resume if resume is not None else ticket.resume_from)
        except Exception:
            log.exception("session %s failed", session.id)
            with contextlib.suppress(Exception):
                await socket.close(1011, "internal_error")

    async def healthz(request: Request) -> Response:
        return json_response({"ok": True})

    async def readyz(request: Request) -> Response:
        """Ready: not draining, and the origin and the change log (Redis) answer."""
        edge = holder[0].edge
        if edge.draining:
            return json_response({"ok": False, "error": "draining"}, 503)
        try:
            await edge.origin.ping()
            await edge.changelog.last_offset("T0")
        except Exception as exc:  # any failure means not ready
            return json_response({"ok": False, "error": "not_ready", "detail": str(exc)}, 503)
        return json_response({"ok": True})

    async def metrics_endpoint(request: Request) -> Response:
        return Response(await holder[0].metrics.render(), media_type="text/plain; version=0.0.4")

    async def stats(request: Request) -> Response:
        edge = holder[0].edge
        s = edge.cache.stats
        return json_response(
            {
                "ok": True,
                "edge_id": settings.edge_id,
                "region": settings.region,
                "connections": len(edge.fanout),
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


_OFFSET = re.compile(r"[0-9]{1,18}")


def parse_offset(value: Any) -> int | None:
    """A client's ``resume_from``: absent, or a non-negative integer (ASCII digits only)."""
    if value is None or value == "":
        return None
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return value
    if isinstance(value, str) and _OFFSET.fullmatch(value):
        return int(value)
    raise SlackError("invalid_arguments", "resume_from must be a non-negative integer offset")


async def rtm_connect(edge: Edge, token: str | None, values: dict[str, Any]) -> dict[str, Any]:
    """Slack's ``rtm.connect`` answered by this edge for itself (the router does it for a
    fleet): the URL carries a short-lived, single-use signed ticket."""
    if edge.draining:
        raise SlackError("service_unavailable", "this edge is draining", 503)
    caller = await edge.authenticate(token)
    resume_from = parse_offset(values.get("resume_from"))
    me = await edge.user_of(caller.team_id, caller.user_id)
    if me is None or me.get("deleted"):
        raise SlackError("account_inactive" if me else "user_not_found")
    ws = await edge.cache.get(caller.team_id)
    settings = edge.settings
    ticket = issue(
        settings.secret,
        caller.user_id,
        caller.team_id,
        settings.edge_id,
        resume_from=resume_from,
        token_hash=caller.token_hash,
    )
    team = ws.team
    return {
        "url": f"{settings.ws_url}?ticket={ticket}",
        "self": {"id": me["id"], "name": me["name"]},
        "team": {"id": team["id"], "name": team.get("name"), "domain": team.get("domain")},
        "api_url": f"{settings.http_url}/api/",
    }
