"""``client.users`` and ``client.channels``: lookups that fill and use the local cache.

These are the reads the edge answers from memory, so they go over the WebSocket while it is
up (no HTTP round trip, no new TCP connection) and over HTTP otherwise; see
:meth:`Session.read <client_sdk.session.Session.read>`.
"""

from __future__ import annotations

from collections.abc import Iterable

from client_sdk.batching import Coalescer
from client_sdk.cache import Directory
from client_sdk.errors import ApiError
from client_sdk.models import Channel, User
from client_sdk.paging import cursor_items
from client_sdk.session import Session


class Users:
    """Users by id (batched, coalesced, cached) and by name prefix."""

    def __init__(
        self, session: Session, directory: Directory, *, window: float = 0.002, max_batch: int = 100
    ) -> None:
        self._session = session
        self._directory = directory
        self.batcher: Coalescer[User] = Coalescer(self._fetch, window=window, max_batch=max_batch)

    async def get(self, ids: Iterable[str]) -> dict[str, User]:
        """The users of ``ids`` that exist, by id; the cache first, then one batched request.

        Concurrent calls for the same id share one request.
        """
        wanted = list(dict.fromkeys(ids))
        found: dict[str, User] = {}
        missing = []
        for uid in wanted:
            cached = self._directory.users.get(uid)
            if cached is not None:
                found[uid] = cached
            else:
                missing.append(uid)
        if missing:
            found.update(await self.batcher.get(missing))
        return {uid: found[uid] for uid in wanted if uid in found}

    async def get_one(self, user_id: str) -> User:
        """One user; :class:`~client_sdk.errors.ApiError` ``user_not_found`` if there is none."""
        user = (await self.get([user_id])).get(user_id)
        if user is None:
            raise ApiError("user_not_found", {"detail": user_id})
        return user

    def cached(self, user_id: str) -> User | None:
        """The cached user, without a request (None when not cached)."""
        return self._directory.users.peek(user_id)

    async def search(self, prefix: str, limit: int = 10) -> list[User]:
        """Active users whose names start with ``prefix``, best first (the quick switcher)."""
        body = await self._session.read("users.search", {"query": prefix, "limit": limit})
        users = [User.from_json(u) for u in body.get("users") or () if isinstance(u, dict)]
        self._directory.put_users(users)
        return users

    async def _fetch(self, ids: list[str]) -> dict[str, User]:
        while ids:
            try:
                body = await self._session.read("users.info", {"users": ",".join(ids)})
            except ApiError as exc:
                gone = set(str(exc.response.get("detail") or "").split(",")) & set(ids)
                if exc.code != "users_not_found" or not gone:
                    raise
                ids = [i for i in ids if i not in gone]
                continue
            users = [User.from_json(u) for u in body.get("users") or () if isinstance(u, dict)]
            self._directory.put_users(users)
            return {u.id: u for u in users}
        return {}


class Channels:
    """Conversations the user may see: by id, by name prefix, their members."""

    def __init__(self, session: Session, directory: Directory) -> None:
        self._session = session
        self._directory = directory
        self.batcher: Coalescer[Channel] = Coalescer(self._fetch, window=0.0, max_batch=1)

    async def get(self, channel_id: str) -> Channel:
        """The full channel object (cached); ``channel_not_found`` when it is not visible."""
        cached = self._directory.channels.get(channel_id)
        if cached is not None and not cached.partial:
            return cached
        found = (await self.batcher.get([channel_id])).get(channel_id)
        if found is None:
            raise ApiError("channel_not_found", {"detail": channel_id})
        return found

    def cached(self, channel_id: str) -> Channel | None:
        return self._directory.channels.peek(channel_id)

    def joined(self) -> list[str]:
        """Ids of the conversations the user is in (from the hello, kept current by events)."""
        return sorted(self._directory.joined)

    async def search(self, prefix: str, limit: int = 10) -> list[Channel]:
        """Named conversations the user may see whose names start with ``prefix``."""
        body = await self._session.read("conversations.search", {"query": prefix, "limit": limit})
        channels = [Channel.from_json(c) for c in body.get("channels") or () if isinstance(c, dict)]
        for channel in channels:
            self._directory.put_channel(channel)
        return channels

    async def members(self, channel_id: str) -> list[str]:
        """Member ids, every page. Cached for the user's own channels (events keep those exact)."""
        cached = self._directory.members.get(channel_id)
        if cached is not None:
            return sorted(cached)
        ids = [
            m
            async for m in cursor_items(
                lambda a: self._session.read("conversations.members", a),
                {"channel": channel_id},
                "members",
                page_size=1000,
            )
        ]
        if channel_id in self._directory.joined:
            self._directory.members.put(channel_id, frozenset(ids))
        return ids

    async def _fetch(self, ids: list[str]) -> dict[str, Channel]:
        try:
            body = await self._session.read("conversations.info", {"channel": ids[0]})
        except ApiError as exc:
            if exc.code == "channel_not_found":
                return {}
            raise
        obj = body.get("channel")
        if not isinstance(obj, dict):
            return {}
        channel = Channel.from_json(obj)
        self._directory.put_channel(channel)
        return {channel.id: channel}
