"""Reading and writing messages: history, threads, search, post, edit, delete, reactions.

These go over HTTP to the edge's ``api_url`` (which forwards them to the origin): they are
the origin's work either way, HTTP carries Slack's ``429 Retry-After`` for writes, and an
HTTP request is not cut off by a WebSocket that is reconnecting.

Writes survive the death of the edge they went to (:meth:`Session.write
<client_sdk.session.Session.write>`): sent again through the edge the router gives next, until
a deadline. Every post carries a ``client_msg_id`` (Slack's, a UUID) that the origin
deduplicates on, so a post whose answer was lost is not posted twice.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Mapping
from typing import Any

from client_sdk.cache import Directory
from client_sdk.events import Message
from client_sdk.models import JSON, Posted, SearchMatch, User
from client_sdk.paging import cursor_items, page_items
from client_sdk.session import Session
from wire.mentions import referenced_users


class Messages:
    def __init__(self, session: Session, directory: Directory) -> None:
        self._session = session
        self._directory = directory

    def _message(self, obj: JSON, channel: str) -> Message:
        users: dict[str, User] = {}
        for uid in referenced_users({**obj, "type": "message"}):
            user = self._directory.users.peek(uid)
            if user is not None:
                users[uid] = user
        return Message.from_json(obj, channel, users)

    async def history(
        self,
        channel: str,
        *,
        oldest: str | None = None,
        latest: str | None = None,
        inclusive: bool = False,
        limit: int | None = None,
        page_size: int = 100,
    ) -> AsyncIterator[Message]:
        args: JSON = {"channel": channel, "inclusive": inclusive}
        if oldest is not None:
            args["oldest"] = oldest
        if latest is not None:
            args["latest"] = latest
        async for obj in cursor_items(
            self._call("conversations.history"), args, "messages", page_size=page_size, limit=limit
        ):
            if isinstance(obj, dict):
                yield self._message(obj, channel)

    async def replies(
        self, channel: str, thread_ts: str, *, limit: int | None = None, page_size: int = 100
    ) -> AsyncIterator[Message]:
        args = {"channel": channel, "ts": thread_ts}
        async for obj in cursor_items(
            self._call("conversations.replies"), args, "messages", page_size=page_size, limit=limit
        ):
            if isinstance(obj, dict):
                yield self._message(obj, channel)

    async def search(
        self,
        query: str,
        *,
        sort: str = "score",
        sort_dir: str = "desc",
        limit: int | None = None,
        page_size: int = 20,
    ) -> AsyncIterator[SearchMatch]:
        args = {"query": query, "sort": sort, "sort_dir": sort_dir}
        async for obj in page_items(
            self._call("search.messages"), args, "messages", page_size=page_size, limit=limit
        ):
            if isinstance(obj, dict):
                yield SearchMatch.from_json(obj)

    def _call(self, method: str) -> Any:
        async def call(args: Mapping[str, Any]) -> JSON:
            return await self._session.call(method, args)

        return call

    async def post(
        self, channel: str, text: str, thread_ts: str | None = None, client_msg_id: str | None = None
    ) -> Posted:
        msg_id = client_msg_id or str(uuid.uuid4())
        args: JSON = {"channel": channel, "text": text, "client_msg_id": msg_id}
        if thread_ts is not None:
            args["thread_ts"] = thread_ts
        body = await self._session.write("chat.postMessage", args)
        return _posted(body, channel, text, thread_ts, msg_id)

    async def edit(self, channel: str, ts: str, text: str) -> Posted:
        body = await self._session.write("chat.update", {"channel": channel, "ts": ts, "text": text})
        return _posted(body, channel, text, None)

    async def delete(self, channel: str, ts: str) -> None:
        await self._session.write("chat.delete", {"channel": channel, "ts": ts})

    async def react(self, channel: str, ts: str, name: str) -> None:
        await self._session.write(
            "reactions.add", {"channel": channel, "timestamp": ts, "name": name.strip(":")}
        )

    async def unreact(self, channel: str, ts: str, name: str) -> None:
        await self._session.write(
            "reactions.remove", {"channel": channel, "timestamp": ts, "name": name.strip(":")}
        )

    async def mark_read(self, channel: str, ts: str) -> None:
        await self._session.write("conversations.mark", {"channel": channel, "ts": ts})


def _posted(
    body: Mapping[str, Any], channel: str, text: str, thread_ts: str | None, msg_id: str | None = None
) -> Posted:
    message = body.get("message")
    msg: Mapping[str, Any] = message if isinstance(message, Mapping) else {}
    thread = msg.get("thread_ts")
    sent_id = msg.get("client_msg_id")
    return Posted(
        channel=str(body.get("channel") or channel),
        ts=str(body.get("ts") or msg.get("ts") or ""),
        text=str(msg.get("text", body.get("text", text))),
        thread_ts=thread if isinstance(thread, str) else thread_ts,
        client_msg_id=sent_id if isinstance(sent_id, str) else msg_id,
    )
