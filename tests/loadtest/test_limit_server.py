"""The limit server: ``/api/limit`` (bare ASGI) and ``/api/limit_starlette`` (Starlette's full
stack) answer the same constant with the same status and headers; ``/healthz`` answers too."""

from __future__ import annotations

from typing import Any

import pytest

from loadtest.limit_server import BODY, create_app


async def call(path: str) -> tuple[int, dict[bytes, bytes], bytes]:
    app = create_app()
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [(b"host", b"bench")],
        "client": ("127.0.0.1", 1),
        "server": ("127.0.0.1", 2),
    }
    await app(scope, receive, send)
    start, *bodies = sent
    return start["status"], dict(start["headers"]), b"".join(m.get("body", b"") for m in bodies)


@pytest.mark.parametrize("path", ["/api/limit", "/api/limit_starlette", "/healthz"])
async def test_the_constant(path: str) -> None:
    status, headers, body = await call(path)
    assert (status, body) == (200, BODY)
    assert headers[b"content-length"] == b"%d" % len(BODY)
    assert headers[b"content-type"] == b"application/json"


async def test_anything_else_is_starlettes_404() -> None:
    status, _, _ = await call("/api/other")
    assert status == 404
