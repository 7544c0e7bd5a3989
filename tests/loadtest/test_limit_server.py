"""The limit server: ``/api/limit`` (bare ASGI) and ``/api/limit_starlette`` (Starlette's full
stack) answer the same constant with the same status and headers; ``/healthz`` answers too."""

from __future__ import annotations

import pytest

from loadtest.limit_server import BODY, create_app
from tests.asgi import call, http_scope


async def get(path: str) -> tuple[int, dict[bytes, bytes], bytes]:
    scope = http_scope("GET", path, [(b"host", b"bench")], server=("127.0.0.1", 2))
    start, *bodies = await call(
        create_app(), scope, [{"type": "http.request", "body": b"", "more_body": False}]
    )
    return start["status"], dict(start["headers"]), b"".join(m.get("body", b"") for m in bodies)


@pytest.mark.parametrize("path", ["/api/limit", "/api/limit_starlette", "/healthz"])
async def test_the_constant(path: str) -> None:
    status, headers, body = await get(path)
    assert (status, body) == (200, BODY)
    assert headers[b"content-length"] == b"%d" % len(BODY)
    assert headers[b"content-type"] == b"application/json"


async def test_anything_else_is_starlettes_404() -> None:
    status, _, _ = await get("/api/other")
    assert status == 404


async def test_the_protocol_level_constant_is_the_asgi_ones_bytes() -> None:
    """``/api/limit_protocol`` is answered by the HTTP protocol's quick path, with the bytes
    the ASGI constant gets from uvicorn (the ``date`` header's value aside)."""
    import asyncio
    import re

    import uvicorn

    from flannel_cli.serve import config
    from tests.conftest import free_port

    port = free_port()
    server = uvicorn.Server(config(create_app(), "127.0.0.1", port, "warning"))
    serving = asyncio.create_task(server.serve())
    while not server.started:  # noqa: ASYNC110 (uvicorn's server has no event for it)
        await asyncio.sleep(0.01)
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        answers = []
        for path in (b"/api/limit_protocol", b"/api/limit"):
            writer.write(b"GET " + path + b" HTTP/1.1\r\nhost: bench\r\n\r\n")
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
            answers.append(re.sub(rb"\r\ndate: [^\r]*", b"", head) + await reader.readexactly(len(BODY)))
        writer.close()
    finally:
        server.should_exit = True
        await serving
    assert answers[0] == answers[1] and answers[0].endswith(b"\r\n\r\n" + BODY)
