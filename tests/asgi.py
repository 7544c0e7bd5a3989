"""Shared by the hardening tests of every server (origin, edge, router, the benchmark's limit
server): the table of malformed request bodies each must answer with a Slack error and HTTP 200,
and an ASGI call made by hand, for what no HTTP client can send (a client hanging up mid-body)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

FORM = "application/x-www-form-urlencoded"

Asgi = Callable[[dict[str, Any], Any, Any], Awaitable[None]]


def many_fields(n: int) -> bytes:
    """A form of ``n`` fields (the parsers' limit is 1,000)."""
    return "&".join(f"f{i}=1" for i in range(n)).encode()


def malformed_bodies(field: str, value: str) -> list[tuple[str, str, bytes, str]]:
    """(what, content type, body, Slack error) for every way a body can be broken; ``field`` and
    ``value`` name an argument the server's methods take, so only the breakage is wrong."""
    return [
        ("over 1,000 form fields", FORM, many_fields(1500), "invalid_form_data"),
        ("multipart without a boundary", "multipart/form-data", b"--x\r\n\r\n--x--", "invalid_form_data"),
        ("multipart that is not", "multipart/form-data; boundary=zz", b"garbage", "invalid_form_data"),
        (
            "a part's charset the codec machinery refuses",
            "multipart/form-data; boundary=zz",
            f'--zz\r\nContent-Disposition: form-data; name="{field}"\r\n'.encode()
            + b'Content-Type: text/plain; charset="\x00"\r\n\r\n'
            + value.encode()
            + b"\r\n--zz--\r\n",
            "invalid_form_data",
        ),
        ("a form that is not UTF-8", FORM, f"{field}=%ff".encode() + b"\xff", "invalid_form_data"),
        ("bad JSON", "application/json", f'{{"{field}": '.encode(), "invalid_json"),
        ("JSON that is not an object", "application/json", b"[1, 2]", "invalid_json"),
        ("an unsupported content type", "text/plain", b"hello", "invalid_form_data"),
        ("a body over the limit", FORM, f"{field}=".encode() + b"x" * 1_100_000, "request_too_large"),
    ]


def http_scope(
    method: str, path: str, headers: list[tuple[bytes, bytes]], server: tuple[str, int] = ("server.test", 80)
) -> dict[str, Any]:
    """An ASGI HTTP scope as uvicorn builds it."""
    return {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": headers,
        "client": ("127.0.0.1", 50000),
        "server": server,
    }


async def call(
    app: Asgi, scope: dict[str, Any], messages: list[dict[str, Any]]
) -> list[MutableMapping[str, Any]]:
    """Run ``app`` on ``scope``, receiving ``messages`` in order; what it sent."""
    pending = list(messages)
    sent: list[MutableMapping[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return pending.pop(0)

    async def send(message: MutableMapping[str, Any]) -> None:
        sent.append(message)

    await app(scope, receive, send)
    return sent


def hang_up_mid_body(first_part: bytes) -> list[dict[str, Any]]:
    """A client that sends ``first_part`` of its body, promises more, then disconnects."""
    return [{"type": "http.request", "body": first_part, "more_body": True}, {"type": "http.disconnect"}]
