"""In-process edges for tests: no processes, no sockets, one event loop.

- :class:`Lifespan` runs an ASGI app's lifespan and hands its state to every request, as
  uvicorn does (``httpx.ASGITransport`` alone runs no lifespan);
- :class:`WebSocketClient` talks WebSocket to an ASGI app in raw ASGI messages;
- :class:`FakeOrigin` is an ``httpx.MockTransport`` handler standing in for the origin: tokens,
  snapshot pages of a :class:`~wire.state.WorkspaceState`, forwarded calls recorded;
- :func:`edge_over` builds an :class:`~flannel.edge.Edge` over any origin transport and log.
"""

from __future__ import annotations

import asyncio
import copy
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import httpx
import orjson

from changelog import MemoryLog, TailableLog
from flannel.app import create_app
from flannel.edge import Edge
from flannel.origin_client import OriginClient
from flannel.regional import RegionalSnapshots
from flannel.settings import EdgeSettings
from tests.flannel.cache import base_state, pages_of
from wire.http import ACTING_HEADER as ACTING
from wire.presence import MANUAL_AWAY_PATH
from wire.state import WorkspaceState
from wire.tickets import MemoryNonceStore, NonceStore, issue
from wire.tokencheck import TOKEN_CHECK_PATH
from wire.tokens import token_hash

JSON = dict[str, Any]
ASGIApp = Callable[..., Any]
SECRET = "test-secret"
EDGE_ID = "edge-test"
TOKENS = {"xoxp-alice": "U1", "xoxp-bob": "U2", "xoxp-carol": "U3", "xoxp-dave": "U4"}


class Lifespan:
    """``async with Lifespan(app) as served``: ``app`` started; ``served`` is the app as a
    server runs it, each request given a copy of the lifespan state."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.state: dict[str, Any] = {}
        self._in: asyncio.Queue[JSON] = asyncio.Queue()
        self._out: asyncio.Queue[JSON] = asyncio.Queue()
        self._task: asyncio.Task[None] | None = None

    async def __aenter__(self) -> Lifespan:
        scope = {"type": "lifespan", "asgi": {"version": "3.0", "spec_version": "2.0"}, "state": self.state}
        self._task = asyncio.create_task(self.app(scope, self._in.get, self._out.put))
        await self._in.put({"type": "lifespan.startup"})
        started = await self._out.get()
        assert started["type"] == "lifespan.startup.complete", started
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self._in.put({"type": "lifespan.shutdown"})
        stopped = await asyncio.wait_for(self._out.get(), 30)
        assert stopped["type"] == "lifespan.shutdown.complete", stopped
        assert self._task is not None
        await self._task

    async def __call__(self, scope: JSON, receive: Any, send: Any) -> None:
        await self.app({**scope, "state": dict(self.state)}, receive, send)

    def http(self, base_url: str = "http://edge.test") -> httpx.AsyncClient:
        return httpx.AsyncClient(transport=httpx.ASGITransport(app=self), base_url=base_url)


class Closed(Exception):
    def __init__(self, code: int, reason: str) -> None:
        super().__init__(f"closed {code} {reason}")
        self.code = code
        self.reason = reason


class WebSocketClient:
    """A WebSocket conversation with an ASGI app: ``accepted`` is False when the app closed
    before accepting (a server answers that with HTTP 403)."""

    def __init__(self, app: ASGIApp, url: str) -> None:
        parts = urlsplit(url)
        self.app = app
        self.scope: JSON = {
            "type": "websocket",
            "asgi": {"version": "3.0"},
            "scheme": "ws",
            "path": parts.path,
            "raw_path": parts.path.encode(),
            "query_string": parts.query.encode(),
            "headers": [],
            "client": ("127.0.0.1", 50000),
            "server": ("edge.test", 80),
            "subprotocols": [],
        }
        self._in: asyncio.Queue[JSON] = asyncio.Queue()
        self._out: asyncio.Queue[JSON] = asyncio.Queue()
        self._task: asyncio.Task[None] | None = None
        self.accepted = False
        self.close_code: int | None = None
        self.close_reason = ""

    async def __aenter__(self) -> WebSocketClient:
        self._task = asyncio.create_task(self.app(self.scope, self._in.get, self._out.put))
        await self._in.put({"type": "websocket.connect"})
        first = await asyncio.wait_for(self._out.get(), 10)
        if first["type"] == "websocket.accept":
            self.accepted = True
        else:
            self._closed(first)
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self.close_code is None:
            await self._in.put({"type": "websocket.disconnect", "code": 1000})
        assert self._task is not None
        await asyncio.wait_for(self._task, 10)

    def _closed(self, message: JSON) -> None:
        assert message["type"] == "websocket.close", message
        self.close_code = int(message.get("code", 1000))
        self.close_reason = str(message.get("reason") or "")
        self._in.put_nowait({"type": "websocket.disconnect", "code": self.close_code})  # the handshake

    async def send(self, frame: JSON | str) -> None:
        text = frame if isinstance(frame, str) else orjson.dumps(frame).decode()
        await self._in.put({"type": "websocket.receive", "text": text})

    async def recv(self, wait_s: float = 5.0) -> JSON:
        """The next frame; :class:`Closed` once the app closed."""
        if self.close_code is not None:
            raise Closed(self.close_code, self.close_reason)
        message = await asyncio.wait_for(self._out.get(), wait_s)
        if message["type"] == "websocket.close":
            self._closed(message)
            raise Closed(self.close_code or 1000, self.close_reason)
        assert message["type"] == "websocket.send", message
        frame: JSON = orjson.loads(message.get("text") or message["bytes"])
        return frame

    async def next_of(self, kind: str, wait_s: float = 5.0) -> JSON:
        while True:
            frame = await self.recv(wait_s)
            if frame.get("type") == kind:
                return frame

    async def until_closed(self, wait_s: float = 5.0) -> list[JSON]:
        """Every frame up to the close (then ``close_code`` is set)."""
        frames: list[JSON] = []
        try:
            while True:
                frames.append(await self.recv(wait_s))
        except Closed:
            return frames


@dataclass
class Call:
    method: str
    args: JSON
    headers: httpx.Headers


@dataclass
class FakeOrigin:
    """The origin, as an ``httpx.MockTransport`` handler over one workspace's state.

    ``answers`` overrides a method's answer: ``(status, body, headers)``. With ``methods``
    given, any other name is answered ``unknown_method``, as the origin does.
    """

    state: WorkspaceState = field(default_factory=base_state)
    tokens: dict[str, str] = field(default_factory=lambda: dict(TOKENS))
    answers: dict[str, tuple[int, JSON, dict[str, str]]] = field(default_factory=dict)
    revoked_tokens: list[str] = field(default_factory=list)
    calls: list[Call] = field(default_factory=list)
    methods: frozenset[str] | None = None
    snapshots: int = 0
    down: bool = False

    @property
    def team_id(self) -> str:
        return str(self.state.team["id"])

    def transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(self.handle)

    async def handle(self, request: httpx.Request) -> httpx.Response:
        if self.down:
            raise httpx.ConnectError("the origin is down", request=request)
        path = request.url.path
        if path == "/healthz":
            return httpx.Response(200, json={"ok": True})
        if path.startswith("/internal/snapshot/"):
            self.snapshots += 1
            pages = pages_of(copy.deepcopy(self.state))
            pages[0]["revoked_tokens"] = list(self.revoked_tokens)
            return httpx.Response(200, content=b"\n".join(orjson.dumps(p) for p in pages) + b"\n")
        if path == TOKEN_CHECK_PATH:  # the batch check: each token as its own auth.test call
            tokens = orjson.loads(request.content)["tokens"]
            for token in tokens:
                self.calls.append(Call("auth.test", {}, httpx.Headers({"authorization": f"Bearer {token}"})))
            return httpx.Response(200, json={"ok": True, "results": [self.auth_test(t) for t in tokens]})
        if path == MANUAL_AWAY_PATH:  # the batch manual away: each user as users.getPresence
            pairs = orjson.loads(request.content)["users"]
            for team_id, user_id in pairs:
                acting = httpx.Headers({ACTING: f"{team_id}:{user_id}"})
                self.calls.append(Call("users.getPresence", {}, acting))
            return httpx.Response(200, json={"ok": True, "away": [False for _ in pairs]})
        method = path.removeprefix("/api/")
        args = orjson.loads(request.content) if request.content else {}
        self.calls.append(Call(method, args, request.headers))
        if method == "auth.test":
            token = request.headers.get("authorization", "").removeprefix("Bearer ")
            return httpx.Response(200, json=self.auth_test(token))
        if self.methods is not None and method not in self.methods and method != "auth.test":
            return httpx.Response(200, json={"ok": False, "error": "unknown_method"})
        if method in self.answers:
            status, body, headers = self.answers[method]
            return httpx.Response(status, json=body, headers=headers)
        return httpx.Response(200, json={"ok": True, "method": method, "args": args})

    def auth_test(self, token: str) -> JSON:
        user = self.tokens.get(token)
        if user is None:
            return {"ok": False, "error": "invalid_auth"}
        return {"ok": True, "team_id": self.team_id, "user_id": user}

    def forwarded(self) -> list[Call]:
        """Calls other than the edge's own: token checks, and the manual away of a user who
        connects (``users.getPresence``, asked before the edge counts them as active)."""
        return [c for c in self.calls if c.method not in ("auth.test", "users.getPresence")]


def settings(**overrides: Any) -> EdgeSettings:
    values: JSON = {"edge_id": EDGE_ID, "secret": SECRET, "drain_window_s": 0.0, "heartbeat_s": 0.05}
    return EdgeSettings(**{**values, **overrides})


def edge_over(
    transport: httpx.AsyncBaseTransport,
    log: TailableLog | None = None,
    nonces: NonceStore | None = None,
    regional: Any = None,
    **overrides: Any,
) -> Edge:
    """An edge whose origin is ``transport``, following ``log``, remembering nonces in memory
    (or in ``nonces``); ``regional`` stands in for the region's snapshot cache."""
    origin = OriginClient("http://origin.test", SECRET, transport=transport)
    return Edge(
        settings(**overrides),
        origin=origin,
        changelog=log if log is not None else MemoryLog(),
        nonces=nonces if nonces is not None else MemoryNonceStore(),
        regional=RegionalSnapshots(regional, origin.snapshot),
    )


def event_entry(event: JSON) -> tuple[int, bytes]:
    return int(event["offset"]), orjson.dumps(event)


@dataclass
class InProcess:
    """A served edge, its fake origin and its change log."""

    edge: Edge
    app: Lifespan
    origin: FakeOrigin
    log: MemoryLog

    @property
    def team_id(self) -> str:
        return self.origin.team_id

    def http(self) -> httpx.AsyncClient:
        return self.app.http()

    def ws(self, url: str) -> WebSocketClient:
        return WebSocketClient(self.app, url)

    def url(self, user: str = "U2", token: str = "xoxp-bob", edge: str = EDGE_ID, **claims: Any) -> str:
        """``/rtm?ticket=..``: a ticket signed as a router (or this edge) would."""
        ticket = issue(SECRET, user, self.team_id, edge, token_hash=token_hash(token), **claims)
        return f"/rtm?ticket={ticket}"

    async def append(self, *events: JSON) -> None:
        await self.log.append(self.team_id, [event_entry(e) for e in events])

    async def caught_up(self, offset: int) -> None:
        """Wait until the edge's cache has applied ``offset``."""
        await self.edge.cache.wait_until(self.team_id, lambda ws: ws.offset >= offset, 5.0)
        assert self.edge.cache.offset(self.team_id) == offset


@asynccontextmanager
async def serve(
    origin: FakeOrigin | None = None, log: MemoryLog | None = None, **overrides: Any
) -> AsyncIterator[InProcess]:
    """An edge app over a :class:`FakeOrigin` and a :class:`MemoryLog`, lifespan running;
    ``overrides``: settings, or :func:`edge_over`'s ``nonces`` and ``regional``."""
    origin = origin or FakeOrigin()
    log = log if log is not None else MemoryLog()
    edge = edge_over(origin.transport(), log, **overrides)
    async with Lifespan(create_app(edge, closers=[edge.origin.close, log.close])) as app:
        yield InProcess(edge, app, origin, log)
