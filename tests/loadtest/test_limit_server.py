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
