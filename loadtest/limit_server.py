"""``python -m loadtest.limit_server --port P``: a bare Starlette endpoint returning a constant.

Served by uvicorn with the settings the origin and edges use (``flannel_cli.serve.config``),
it is the ceiling of this stack on this machine: whatever the edge answers per second is
judged against what uvicorn and Starlette can do at all.
"""

from __future__ import annotations

import argparse

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

BODY = b'{"ok":true}'


def create_app() -> Starlette:
    async def constant(request: Request) -> Response:
        return Response(BODY, media_type="application/json")

    async def healthz(request: Request) -> Response:
        return Response(BODY, media_type="application/json")

    return Starlette(routes=[Route("/api/limit", constant), Route("/healthz", healthz)])


def main(argv: list[str] | None = None) -> None:
    from flannel_cli.serve import config, run, serve_all

    p = argparse.ArgumentParser(prog="python -m loadtest.limit_server", description=__doc__)
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--log-level", default="warning")
    args = p.parse_args(argv)
    run(serve_all([config(create_app(), args.host, args.port, args.log_level)]))


if __name__ == "__main__":
    main()
