"""``python -m loadtest.limit_server --port P [--protocol-port Q]``: the cheapest endpoint here.

Served by uvicorn with the settings the origin and edges use (``flannel_cli.serve.config``),
it is the ceiling of this stack on this machine: whatever the edge answers per second is
judged against what uvicorn can do at all. ``/api/limit`` is a bare ASGI app answering
constant bytes (no routing, no request or response objects: less than the edge's Web API,
itself a bare ASGI handler, does); ``/api/limit_starlette`` answers the same through
Starlette's full stack (routing, ``Request``, ``Response``), the limit the benchmark used
before the edge's Web API left Starlette, kept for comparison; ``/api/limit_protocol``
answers the same bytes from the HTTP protocol itself (:class:`ProtocolConstant`, through
the quick path of ``flannel_cli.http_protocol`` the edge's calls take when they need no
await): the like-for-like limit of an edge answering there.

On ``--port`` the app is served with the servers' settings but uvicorn's plain ASGI path
(``OneWriteHttp``, the protocol every server had before the quick path), so the ASGI
constants pay nothing for a quick path they never take and ``query.edge_over_limit`` is
judged against the same baseline as before; on ``--protocol-port`` the same app is served
exactly as the edges are (``QuickHttp``), for ``/api/limit_protocol``.
"""

from __future__ import annotations

import argparse
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

BODY = b'{"ok":true}'
BARE_PATH = "/api/limit"
_HEADERS = [(b"content-length", b"%d" % len(BODY)), (b"content-type", b"application/json")]
START = {"type": "http.response.start", "status": 200, "headers": _HEADERS}
ANSWER = {"type": "http.response.body", "body": BODY}


def starlette_app() -> Starlette:
    async def constant(request: Request) -> Response:
        return Response(BODY, media_type="application/json")

    return Starlette(routes=[Route("/api/limit_starlette", constant), Route("/healthz", constant)])


PROTOCOL_PATH = "/api/limit_protocol"


class ProtocolConstant:
    """``/api/limit_protocol``'s constant, answered by the HTTP protocol's quick path; every
    other request is left to the ASGI path, and not even held for it (``paths``)."""

    paths = frozenset({PROTOCOL_PATH.encode()})

    def answer(
        self, method: str, path: str, query: bytes, headers: list[tuple[bytes, bytes]], body: bytes
    ) -> tuple[int, list[tuple[bytes, bytes]], bytes] | None:
        return (200, _HEADERS, BODY) if path == PROTOCOL_PATH else None


class LimitApp:
    """``/api/limit`` answered directly (two ASGI messages, built once); the rest (lifespan,
    ``/healthz``, ``/api/limit_starlette``) by Starlette."""

    def __init__(self) -> None:
        self.rest = starlette_app()
        self.constant = ProtocolConstant()

    def quick_answers(self) -> ProtocolConstant:
        """What the HTTP protocol answers itself (see :class:`ProtocolConstant`)."""
        return self.constant

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"] == BARE_PATH:
            await send(START)
            await send(ANSWER)
            return
        await self.rest(scope, receive, send)


def create_app() -> Any:
    return LimitApp()


def main(argv: list[str] | None = None) -> None:
    from flannel_cli.http_protocol import OneWriteHttp
    from flannel_cli.serve import config, run, serve_all

    p = argparse.ArgumentParser(prog="python -m loadtest.limit_server", description=__doc__)
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, required=True, help="the ASGI constants (no quick path)")
    p.add_argument("--protocol-port", type=int, help="the same app under the servers' own protocol")
    p.add_argument("--log-level", default="warning")
    args = p.parse_args(argv)
    app = create_app()
    plain = config(app, args.host, args.port, args.log_level)
    plain.http = OneWriteHttp  # uvicorn's ASGI path for every request, not even a look
    configs = [plain]
    if args.protocol_port:
        configs.append(config(app, args.host, args.protocol_port, args.log_level))
    run(serve_all(configs))


if __name__ == "__main__":
    main()
