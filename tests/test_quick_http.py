"""The HTTP protocol's quick path (flannel_cli.http_protocol.QuickHttp) answers as uvicorn's
ASGI path does, byte for byte: two edges, alike, each served by a real uvicorn on loopback
under the edges' settings (access log included), one with the quick path and one without,
are sent the same table of requests (hits, misses, Slack errors, an unknown method, a
rate-limited 429, HEAD, bodies, a wait for ``x-flannel-after``, what must never be held), then
the same pipelined batch and the closing kinds; their answers (the ``date`` header's value
aside), metric counts, cache and token-check counts and access lines are the same, and the
table's hits were answered without the ASGI app."""

from __future__ import annotations

import asyncio
import logging
import re
from dataclasses import dataclass, field
from typing import Any

import uvicorn

from flannel.app import create_app
from flannel.edge import Edge
from flannel.webapi import WebApi
from flannel_cli.http_protocol import OneWriteHttp, QuickHttp, quick_parts, response_bytes
from flannel_cli.serve import config
from tests.conftest import free_port
from tests.flannel.harness import FakeOrigin, edge_over
from tests.flannel.test_webapi_direct import CountingApi
from wire.ratelimit import DEFAULT_TIERS

BOB = b"authorization: Bearer xoxp-bob\r\n"
CAROL = b"authorization: Bearer xoxp-carol\r\n"
PAD = b"x" * 20_000


def get(path: bytes, headers: bytes = BOB, method: bytes = b"GET") -> bytes:
    return method + b" " + path + b" HTTP/1.1\r\nhost: edge.test\r\n" + headers + b"\r\n"


def post(
    path: bytes, body: bytes, ctype: bytes = b"application/x-www-form-urlencoded", extra: bytes = b""
) -> bytes:
    head = b"POST " + path + b" HTTP/1.1\r\nhost: edge.test\r\n" + BOB + extra
    return head + b"content-type: " + ctype + b"\r\ncontent-length: %d\r\n\r\n" % len(body) + body


CHUNKED = (
    b"POST /api/users.info HTTP/1.1\r\nhost: edge.test\r\n" + BOB + b"content-type: application/x-www-form-"
    b"urlencoded\r\ntransfer-encoding: chunked\r\n\r\n6\r\nuser=U\r\n1\r\n2\r\n0\r\n\r\n"
)

#: (request, answered by the quick path) on one keep-alive connection, in order.
TABLE: list[tuple[bytes, bool]] = [
    (get(b"/api/users.info?users=U1,U2"), False),  # the token's first check: the origin's
    (get(b"/api/users.info?users=U1,U2"), True),
    (get(b"/api/users.search?query=smi&limit=10"), True),
    (get(b"/api/users.info?users=U1%2CU3"), True),  # an escape in the query: the parser's
    (get(b"/api/users.info?user=U9"), True),  # user_not_found
    (get(b"/api/users.search?query=a&limit=0"), True),  # invalid_arguments
    (get(b"/api/users.info?user=U2&token=xoxp-bob", b""), True),  # the token as an argument
    (post(b"/api/users.info", b"user=U1"), True),
    (post(b"/api/users.search?limit=1", b"query=ca"), True),  # query string and body
    (post(b"/api/users.info", b'{"user":"U2"}', b"application/json"), True),
    (post(b"/api/users.info", b"{", b"application/json"), False),  # invalid_json: left to ASGI
    (get(b"/api/users.info?user=U2", b"authorization: Bearer xoxp-nobody\r\n"), False),  # invalid_auth
    (get(b"/api/no.such.method"), False),  # forwarded: unknown_method
    (get(b"/api/auth.test"), False),
    (get(b"/api/users.info?user=U2", method=b"HEAD"), False),
    (get(b"/api/users.info?user=U2", BOB + b"x-flannel-after: 0\r\n"), True),
    (get(b"/api/users.info?user=U2", BOB + b"x-flannel-after: 999999\r\n"), False),  # waits, then origin
    (get(b"/api/users.list", CAROL), False),  # carol's first check
    (get(b"/api/users.list", CAROL), True),
    (get(b"/api/users.list", CAROL), True),  # tier 2 spent: 429 with Retry-After
    (get(b"/api/users%2Einfo?user=U2"), False),  # an escape: uvicorn unquotes it
    (CHUNKED, False),
    (post(b"/api/users.info", b"user=U2", extra=b"expect: 100-continue\r\n"), False),
    (post(b"/api/users.info", b"user=U2&pad=" + PAD), False),  # a large body
    (get(b"/healthz"), False),
]
PIPELINED = [
    get(b"/api/users.info?user=U1"),
    get(b"/api/no.such.method"),  # the origin's, in flight while the next come in
    get(b"/api/users.info?user=U2"),
    get(b"/api/users.search?query=ca"),
]
CLOSING = [
    b"GET /api/users.info?user=U1 HTTP/1.0\r\n" + BOB + b"\r\n",
    get(b"/api/users.info?user=U1", BOB + b"connection: close\r\n"),
]
DATE = re.compile(rb"\r\ndate: [^\r]*")


async def response(reader: asyncio.StreamReader, head: bool) -> bytes:
    """One response's bytes (an interim ``100 Continue`` with it)."""
    got = b""
    while True:
        start = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10)
        got += start
        if not start.startswith(b"HTTP/1.1 100 "):
            break
    length = re.search(rb"\r\ncontent-length: (\d+)", start)
    if length and not head:
        got += await asyncio.wait_for(reader.readexactly(int(length.group(1))), 10)
    return DATE.sub(b"\r\ndate: -", got)


class Lines(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.lines: list[tuple[str, Any, list[str]]] = []

    def emit(self, record: logging.LogRecord) -> None:
        extra = sorted(k for k in record.__dict__ if k in ("status", "ms"))
        self.lines.append((record.getMessage(), getattr(record, "status", None), extra))


@dataclass
class Seen:
    answers: list[bytes] = field(default_factory=list)
    calls: list[str] = field(default_factory=list)
    counts: tuple[int, ...] = ()
    lines: list[tuple[str, Any, list[str]]] = field(default_factory=list)
    asgi_served: int = 0


async def exchange(quick: bool) -> Seen:
    origin = FakeOrigin(methods=frozenset({"users.info"}))
    edge: Edge = edge_over(origin.transport(), rate_limits={**DEFAULT_TIERS, 2: 2})
    app = create_app(edge, closers=[edge.origin.close])
    assert app.web_api is not None
    counting = app.web_api = CountingApi(app.web_api.edge, app.web_api.metrics)
    port = free_port()
    cfg = config(app, "127.0.0.1", port, "warning", service="edge")
    if not quick:
        cfg.http = OneWriteHttp  # uvicorn's ASGI path for every request
    access = logging.getLogger("flannel.edge.access")
    lines, level = Lines(), access.level
    access.addHandler(lines)
    access.setLevel(logging.INFO)
    server = uvicorn.Server(cfg)
    serving = asyncio.create_task(server.serve())
    while not server.started:  # noqa: ASYNC110 (uvicorn's server has no event for it)
        await asyncio.sleep(0.01)
    seen = Seen()
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        for raw, _ in TABLE:
            writer.write(raw)
            seen.answers.append(await response(reader, raw.startswith(b"HEAD")))
        seen.asgi_served = counting.served
        writer.write(b"".join(PIPELINED))
        for _ in PIPELINED:
            seen.answers.append(await response(reader, False))
        writer.close()
        for raw in CLOSING:
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.write(raw)
            seen.answers.append(DATE.sub(b"\r\ndate: -", await asyncio.wait_for(reader.read(), 10)))
            writer.close()
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(get(b"/metrics", b""))
        metrics = (await response(reader, False)).decode()
        writer.close()
        counted = ("flannel_edge_requests_total", "flannel_edge_request_seconds_count")
        seen.calls = sorted(x for x in metrics.splitlines() if x.startswith(counted))  # not timings
        seen.counts = (edge.cache.stats.hits, edge.cache.stats.misses, edge.auth.hits, edge.auth.misses)
        seen.lines = lines.lines
    finally:
        server.should_exit = True
        await serving
        access.removeHandler(lines)
        access.setLevel(level)
    return seen


async def test_the_quick_path_answers_as_the_asgi_path() -> None:
    quick, asgi = await exchange(quick=True), await exchange(quick=False)
    for i, (got, expected) in enumerate(zip(quick.answers, asgi.answers, strict=True)):
        assert got == expected, (i, got, expected)
    assert quick.calls == asgi.calls and quick.counts == asgi.counts
    assert quick.lines == asgi.lines
    api_calls = sum(1 for raw, _ in TABLE if b" /api/" in raw[:40] and not raw.startswith(b"HEAD"))
    assert asgi.asgi_served == api_calls  # HEAD takes the Starlette route
    assert quick.asgi_served == asgi.asgi_served - sum(answered for _, answered in TABLE)
    statuses = [a.split(b" ", 2)[1] for a in quick.answers]
    assert b"429" in statuses and b"retry-after: 30" in quick.answers[19]
    assert b'"error":"user_not_found"' in quick.answers[4]
    assert b"connection: close" in quick.answers[-1]


def test_a_reply_is_written_as_uvicorn_writes_it() -> None:
    defaults = [(b"Server", b"uvicorn"), (b"date", b"Tue, 01 Dec 2026 00:00:00 GMT")]
    headers = [(b"content-length", b"2"), (b"content-type", b"application/json"), (b"retry-after", b"3")]
    assert response_bytes(429, defaults, headers, b"{}") == (
        b"HTTP/1.1 429 Too Many Requests\r\nserver: uvicorn\r\ndate: Tue, 01 Dec 2026 00:00:00 GMT\r\n"
        b"content-length: 2\r\ncontent-type: application/json\r\nretry-after: 3\r\n\r\n{}"
    )


def test_the_quick_answers_are_found_below_the_access_log_only() -> None:
    """The quick path is the app's only while nothing but the access log and uvicorn's proxy
    headers wrap it (whatever else wraps it must see every call), and not with middleware."""
    edge = edge_over(FakeOrigin().transport())
    app = create_app(edge)
    cfg = config(app, "127.0.0.1", 0, "warning", service="edge")
    cfg.load()
    quick, access = quick_parts(cfg.loaded_app)
    assert quick is not None and quick is app.quick and access is not None
    assert quick_parts(lambda *a: None) == (None, None)
    assert isinstance(app.web_api, WebApi) and cfg.http_protocol_class is QuickHttp
    app.add_middleware(CountingMiddleware)
    assert quick_parts(cfg.loaded_app) == (None, None)


class CountingMiddleware:
    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        await self.app(scope, receive, send)
