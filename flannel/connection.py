"""One WebSocket connection: the adapter between a socket and a sans-I/O ``Session``.

A reader task parses client frames (queries, Slack RTM sends, pings, typing) and a writer
task empties the session's send queue whenever the edge wakes it. Closing follows the
session: a revoked token, a slow client (4008, resume) or a drain (``goodbye``).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from typing import Any

import orjson
from starlette.websockets import WebSocket, WebSocketDisconnect

from flannel.cache import CacheError, Workspace
from flannel.edge import Edge
from flannel.methods import LOCAL, Who, answer
from flannel.rtm import (
    CLOSE_ACCOUNT_INACTIVE,
    CLOSE_TOKEN_REVOKED,
    BadFrame,
    Ping,
    Query,
    RateLimit,
    Send,
    SendQueue,
    Session,
    Typing,
    build_hello,
    parse,
    reply_error,
    reply_ok,
)
from wire.args import Args
from wire.errors import SlackError


class Connection:
    def __init__(self, edge: Edge, socket: WebSocket, session: Session) -> None:
        self.edge = edge
        self.socket = socket
        self.session = session
        self.wake = asyncio.Event()
        self.who = Who(session.team_id, session.user_id)

    @classmethod
    def new_session(cls, edge: Edge, user: str, team: str, token_hash: str) -> Session:
        settings = edge.settings
        rate = RateLimit(per_s=settings.client_frames_per_s, burst=int(settings.client_frames_per_s * 2))
        return Session(
            user, team, token_hash, queue=SendQueue(settings.send_queue), rate=rate, now=time.monotonic()
        )

    async def run(self, resume_from: int | None) -> None:
        edge, session = self.edge, self.session
        edge.wakers[session.id] = self.wake
        edge.cache.pin(session.team_id)
        try:
            ws = await edge.cache.get(session.team_id)
            # A freshly loaded snapshot (e.g. a regional copy) may still be catching up on the
            # log; a client resuming from a newer offset waits briefly rather than resyncing.
            deadline = time.monotonic() + 2.0
            while resume_from is not None and ws.offset < resume_from and time.monotonic() < deadline:
                await asyncio.sleep(0.02)
                ws = await edge.cache.get(session.team_id)
            await edge.user_of(session.team_id, session.user_id)
            ws = await edge.cache.get(session.team_id)
            # From here to fanout.open's registration there is no await: a deactivation or a
            # revocation applied before this point refuses the session, one after it closes it.
            refusal = self._refusal(ws)
            if refusal is not None:
                await self._refuse(*refusal)
                return
            access = edge.access(session.team_id)
            assert access is not None
            hello = build_hello(ws.user(session.user_id), ws.team, ws.hello_channels(session.user_id), 0)
            head = ws.offset
            await edge.fanout.open(session, access, hello, head, resume_from, self._read_after)
            self.wake.set()
            writer = asyncio.create_task(self._writer())
            try:
                await self._reader()
            finally:
                session.close(session.close_code or 1000, session.close_reason or "bye")
                self.wake.set()
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(writer, 5)
                writer.cancel()
        finally:
            edge.fanout.remove(session)
            edge.wakers.pop(session.id, None)
            edge.cache.unpin(session.team_id)

    def _refusal(self, ws: Workspace) -> tuple[int, str] | None:
        session = self.session
        if session.token_hash and session.token_hash in self.edge.revoked:
            return CLOSE_TOKEN_REVOKED, "token_revoked"
        try:
            user = ws.user(session.user_id)
        except CacheError:
            return 4003, "user_not_found"
        if user.get("deleted"):
            return CLOSE_ACCOUNT_INACTIVE, "account_inactive"
        return None

    async def _refuse(self, code: int, error: str) -> None:
        with contextlib.suppress(Exception):
            await self.socket.send_text(orjson.dumps({"type": "error", "error": {"code": error}}).decode())
            await self.socket.close(code, error)

    async def _read_after(self, after: int) -> list[dict[str, Any]]:
        entries = await self.edge.changelog.read(self.session.team_id, after, 500)
        return [orjson.loads(payload) for _, payload in entries]

    async def _writer(self) -> None:
        session, socket = self.session, self.socket
        while True:
            await self.wake.wait()
            self.wake.clear()
            while frames := session.queue.pop_many(64):
                for frame in frames:
                    await socket.send_text(frame.decode())
            if session.closing:
                with contextlib.suppress(Exception):
                    await socket.close(session.close_code or 1000, session.close_reason)
                return

    async def _reader(self) -> None:
        settings = self.edge.settings
        while not self.session.closing:
            try:
                message = await self.socket.receive()
            except WebSocketDisconnect:
                return
            if message["type"] == "websocket.disconnect":
                return
            data = message.get("text") if message.get("text") is not None else message.get("bytes")
            if data is None:
                continue
            admission = self.session.admit(time.monotonic())
            if not admission.ok:
                frame = parse(data, settings.max_frame_bytes)
                reply_to = getattr(frame, "id", None) if not isinstance(frame, BadFrame) else frame.reply_to
                self._send(
                    orjson.dumps(
                        {
                            "type": "error",
                            "reply_to": reply_to,
                            "error": {
                                "code": "ratelimited",
                                "msg": f"retry after {admission.retry_after:.1f}s",
                            },
                        }
                    )
                )
                continue
            await self._handle(parse(data, settings.max_frame_bytes))

    def _send(self, frame: bytes) -> None:
        if not self.session.queue.put(frame):
            self.session.close(4008, "too slow, resume")
        self.wake.set()

    async def _handle(self, frame: Any) -> None:
        if isinstance(frame, BadFrame):
            self._send(frame.reply())
        elif isinstance(frame, Ping):
            self._send(frame.pong())
        elif isinstance(frame, Query):
            self._send(await self._query(frame.id, frame.method, dict(frame.args)))
        elif isinstance(frame, Send):
            args: dict[str, Any] = {"channel": frame.channel, "text": frame.text}
            if frame.thread_ts:
                args["thread_ts"] = frame.thread_ts
            self._send(await self._query(frame.id, "chat.postMessage", args))
        elif isinstance(frame, Typing):
            access = self.edge.access(self.session.team_id)
            if access is not None:
                self.edge.fanout.typing(self.session, frame.channel, access)
                self.edge.wake(self.edge.fanout.sessions(self.session.team_id))

    async def _query(self, reply_to: int | None, method: str, args: dict[str, Any]) -> bytes:
        rid = reply_to if reply_to is not None else 0
        local = LOCAL.get(method)
        try:
            if local is not None:
                ws = await self.edge.cache.get(self.session.team_id)
                return reply_ok(rid, answer(local, ws, self.who, Args(args)))
            body = await self.edge.origin.call(
                method, None, args, acting=f"{self.who.team_id}:{self.who.user_id}"
            )
        except SlackError as exc:
            return reply_error(rid, exc.code, {"detail": exc.detail} if exc.detail else None)
        except Exception as exc:  # the origin is unreachable: say so, keep the connection
            return reply_error(rid, getattr(exc, "code", "internal_error"))
        if body.get("ok"):
            return reply_ok(rid, {k: v for k, v in body.items() if k != "ok"})
        return reply_error(
            rid,
            str(body.get("error", "internal_error")),
            {k: v for k, v in body.items() if k not in ("ok", "error")},
        )
