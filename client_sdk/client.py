"""``FlannelClient``: the one object an application holds.

It wires the parts: :class:`~client_sdk.session.Session` keeps the connection,
:class:`~client_sdk.cache.Directory` the local cache, :class:`~client_sdk.dispatch.EventBus`
the events, and the ``users``/``channels`` namespaces and message methods the queries.

Transports, per method (the choice is made here, once):

=========================================================  ==============================
users.info / users.search / conversations.info / .members  WebSocket query while
/ .search                                                  connected (the edge answers from
                                                           memory), HTTP otherwise
history, replies, search.messages, post, edit, delete,     HTTP to the edge's ``api_url``
reactions, mark_read                                       (forwarded to the origin)
=========================================================  ==============================
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Sequence
from types import TracebackType
from typing import Any, TypeVar

import httpx

from client_sdk.cache import CacheLimits, Directory
from client_sdk.dispatch import EventBus, Subscription
from client_sdk.errors import ClientClosed, FlannelError
from client_sdk.events import Message
from client_sdk.http import WebApi
from client_sdk.messages import Messages
from client_sdk.models import JSON, Posted, SearchMatch, Team, User
from client_sdk.policy import Backoff
from client_sdk.queries import Channels, Users
from client_sdk.readstate import ReadState
from client_sdk.session import Session
from client_sdk.sockets import Connector, websockets_connector
from wire.presence import MAX_PRESENCE_SUB

H = TypeVar("H", bound=Callable[..., object])


class FlannelClient:
    """A thin client of one workspace, as one user: the one object an application holds.

    Why thin: it never downloads the workspace. It asks the router for the edge most likely
    warm, gets a small hello, and fetches users and channels only when it needs them, keeping
    them in a bounded local cache the event stream keeps current. It hides the connection's
    life from the application: reconnects with backoff, resumes from the last event's offset
    (each event exactly once, in order) and says when the cache had to be dropped (``Resync``).

    ``router_url`` is a URL that answers ``rtm.connect`` (the router in production; an edge
    answers it for itself too): ``http://host:port`` or its ``/api/`` base. ``region`` is a
    placement hint for the router. Use it as ``async with FlannelClient(url, token) as c:``,
    or call :meth:`connect` and :meth:`close`.

    Options: ``cache_limits`` bounds the local cache; ``timeout`` is per request;
    ``connect_timeout`` bounds :meth:`connect` (None: retry forever); ``write_deadline`` is
    how long a write (post, edit, react...) keeps being sent again while its edge fails over
    before it raises; ``backoff`` sets the reconnect delays; ``reads_over_websocket=False``
    sends every query over HTTP; ``batch_window`` is how long ``users.get`` gathers ids into
    one request; ``max_backlog`` bounds the events held while nothing listens.
    ``http_transport`` (an httpx transport) and ``connector`` (opens an
    :class:`~client_sdk.sockets.RtmSocket`) replace the network, for tests and instrumentation.
    """

    def __init__(
        self,
        router_url: str,
        token: str,
        region: str | None = None,
        *,
        cache_limits: CacheLimits | None = None,
        timeout: float = 10.0,
        connect_timeout: float | None = 30.0,
        write_deadline: float = 30.0,
        backoff: Backoff | None = None,
        reads_over_websocket: bool = True,
        batch_window: float = 0.002,
        max_backlog: int = 10_000,
        http_transport: httpx.AsyncBaseTransport | None = None,
        connector: Connector | None = None,
    ) -> None:
        self.connect_timeout = connect_timeout
        self.cache = Directory(cache_limits)
        """The local cache (read it; the client keeps it current)."""
        self._bus = EventBus(max_backlog)
        self._web = WebApi(token, transport=http_transport, timeout=timeout)
        self._session = Session(
            router_url=router_url,
            region=region,
            web=self._web,
            connector=connector or websockets_connector(),
            directory=self.cache,
            bus=self._bus,
            backoff=backoff or Backoff(),
            timeout=timeout,
            reads_over_websocket=reads_over_websocket,
            write_deadline=write_deadline,
        )
        self.users = Users(self._session, self.cache, window=batch_window)
        """Lookups of users: ``get(ids)``, ``get_one(id)``, ``search(prefix)``."""
        self.channels = Channels(self._session, self.cache)
        """Lookups of channels: ``get(id)``, ``search(prefix)``, ``members(id)``, ``joined()``."""
        self._messages = Messages(self._session, self.cache)
        self._started = False
        self._closed = False

    # -- lifecycle -------------------------------------------------------------------------

    async def connect(self) -> None:
        """Discover an edge and connect; returns after the hello.

        Retries (with backoff) until ``connect_timeout``; raises at once on an
        :class:`~client_sdk.errors.AuthError`.
        """
        if self._started:
            raise FlannelError("connect() was already called; make a new client to reconnect")
        self._started = True
        self._bus.start()
        await self._session.start(self.connect_timeout)

    async def close(self) -> None:
        """Disconnect for good. ``events()`` iterators end; pending requests fail.

        Handlers get a few seconds to finish the events already received.
        """
        if self._closed:
            return
        self._closed = True
        await self._session.stop()
        await self._bus.aclose()
        await self.users.batcher.aclose()
        await self.channels.batcher.aclose()
        await self._web.aclose()

    async def __aenter__(self) -> FlannelClient:
        try:
            await self.connect()
        except BaseException:
            await self.close()
            raise
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()

    async def wait_closed(self) -> None:
        """Until the session ends: returns after :meth:`close`, raises the error that ended it."""
        await self._session.done.wait()
        await self._bus.drain_handlers()
        if self._session.error is not None:
            raise self._session.error

    # -- state -----------------------------------------------------------------------------

    @property
    def connected(self) -> bool:
        return self._session.rtm is not None

    @property
    def self_user(self) -> User:
        if self._session.self_user is None:
            raise ClientClosed("not connected yet")
        return self._session.self_user

    @property
    def team(self) -> Team:
        if self._session.team is None:
            raise ClientClosed("not connected yet")
        return self._session.team

    @property
    def edge_id(self) -> str | None:
        """The edge the router placed this client on last (None when its answer did not say)."""
        return self._session.edge_id

    @property
    def offset(self) -> int | None:
        """Offset of the last event given to the application: where a reconnect resumes."""
        return self._session.last_offset

    @property
    def error(self) -> FlannelError | None:
        """Why the session ended, if it ended on its own."""
        return self._session.error

    @property
    def connections(self) -> int:
        """WebSocket connections that reached their hello (1 + reconnects)."""
        return self._session.connections

    # -- events ----------------------------------------------------------------------------

    def events(self) -> Subscription:
        """Every event from now on (plus any held since connect), in order, each once.

        Ends after :meth:`close`; raises the error (e.g. :class:`~client_sdk.errors.AuthError`)
        that ended the session, after the events before it.
        """
        return self._bus.subscribe()

    def on(self, kind: str) -> Callable[[H], H]:
        """Decorator: ``@client.on("message")`` runs the function (sync or async) per event."""
        return self._bus.on(kind)

    # -- messages --------------------------------------------------------------------------

    def history(
        self,
        channel: str,
        *,
        oldest: str | None = None,
        latest: str | None = None,
        inclusive: bool = False,
        limit: int | None = None,
        page_size: int = 100,
    ) -> AsyncIterator[Message]:
        """The channel's messages, newest first, fetched a page at a time as you iterate."""
        return self._messages.history(
            channel, oldest=oldest, latest=latest, inclusive=inclusive, limit=limit, page_size=page_size
        )

    def replies(
        self, channel: str, thread_ts: str, *, limit: int | None = None, page_size: int = 100
    ) -> AsyncIterator[Message]:
        """A thread, its parent first, fetched a page at a time."""
        return self._messages.replies(channel, thread_ts, limit=limit, page_size=page_size)

    def search(
        self,
        query: str,
        *,
        sort: str = "score",
        sort_dir: str = "desc",
        limit: int | None = None,
        page_size: int = 20,
    ) -> AsyncIterator[SearchMatch]:
        """Messages matching ``query`` (Slack's syntax: ``in:#c from:@u "exact" -not``)."""
        return self._messages.search(query, sort=sort, sort_dir=sort_dir, limit=limit, page_size=page_size)

    async def post(
        self, channel: str, text: str, thread_ts: str | None = None, *, client_msg_id: str | None = None
    ) -> Posted:
        """Post ``text``; ``thread_ts`` replies in that thread.

        Survives the edge dying mid-call (sent again through the next edge, until
        ``write_deadline``) and is posted once: ``client_msg_id`` (a fresh UUID unless given)
        is the idempotency key the origin deduplicates on. Give your own to make a retry of
        your own, after a crash say, safe too.
        """
        return await self._messages.post(channel, text, thread_ts, client_msg_id)

    async def edit(self, channel: str, ts: str, text: str) -> Posted:
        return await self._messages.edit(channel, ts, text)

    async def delete(self, channel: str, ts: str) -> None:
        await self._messages.delete(channel, ts)

    async def react(self, channel: str, ts: str, name: str) -> None:
        """Add the emoji ``name`` (``"thumbsup"`` or ``":thumbsup:"``) to a message."""
        await self._messages.react(channel, ts, name)

    async def unreact(self, channel: str, ts: str, name: str) -> None:
        await self._messages.unreact(channel, ts, name)

    async def mark_read(self, channel: str, ts: str) -> None:
        """Move the read marker of ``channel`` to ``ts`` (your other devices hear it)."""
        await self._messages.mark_read(channel, ts)

    async def mark(self, channel: str, ts: str, *, unread: bool = False) -> None:
        """``conversations.mark``: read up to ``ts``; ``unread=True`` may move it back ("mark
        unread"), which a plain mark never does."""
        args: dict[str, Any] = {"channel": channel, "ts": ts}
        if unread:
            args["mark_unread"] = True
        await self._session.write("conversations.mark", args)

    async def counts(self) -> dict[str, ReadState]:
        """``client.counts`` at the edge: every conversation of yours with its read state
        (also kept as :meth:`read_state`)."""
        body = await self._session.call("client.counts", {})
        states = [
            ReadState.from_json(item)
            for group in ("channels", "mpims", "ims")
            for item in body.get(group) or ()
            if isinstance(item, dict)
        ]
        self.cache.reads.put(states)
        return {s.channel: s for s in states}

    def read_state(self, channel: str) -> ReadState | None:
        """The badge of one of your conversations, as the hello and later events left it."""
        return self.cache.reads.get(channel)

    # -- presence and typing ---------------------------------------------------------------

    async def subscribe_presence(self, user_ids: Sequence[str]) -> None:
        """Hear :class:`~client_sdk.events.PresenceChange` for these users (at most 500; the
        list replaces the previous one, and follows the client across reconnects). Their
        current presence arrives at once as PresenceChange events."""
        ids = list(dict.fromkeys(user_ids))
        if len(ids) > MAX_PRESENCE_SUB:
            raise ValueError(f"at most {MAX_PRESENCE_SUB} users, got {len(ids)}")
        self._session.presence_ids = ids
        rtm = self._session.rtm
        if rtm is None:
            return  # sent once connected
        await rtm.request({"type": "presence_sub", "ids": ids})  # an error frame raises ApiError

    def presence(self, user_id: str) -> str | None:
        """The last presence heard for a subscribed user (``active``/``away``), if any."""
        return self._session.presences.get(user_id)

    async def set_presence(self, presence: str) -> None:
        """``away`` (manual away, on every client of yours, until ``auto``) or ``auto``."""
        await self._session.call("users.setPresence", {"presence": presence})

    async def typing(self, channel: str) -> None:
        """Say you are typing in ``channel``. Call it again while you keep typing (the edge
        forwards at most one per channel every 3 s; others stop showing you after ~5 s)."""
        rtm = self._session.rtm
        if rtm is None:
            raise ClientClosed("not connected")
        await rtm.send({"type": "typing", "channel": channel})

    def who_is_typing(self, channel: str) -> list[str]:
        """The user ids typing in ``channel`` now (each shown ``typing_expiry_s`` after their
        last :class:`~client_sdk.events.UserTyping`, or until they post)."""
        return self._session.typing.typing(channel, asyncio.get_running_loop().time())

    @property
    def typing_expiry_s(self) -> float:
        return self._session.typing.expiry_s

    async def call(self, method: str, **args: Any) -> JSON:
        """Any Web API method over HTTP, for what this library does not wrap."""
        return await self._session.call(method, args)

    async def ping(self) -> float:
        """Round trip over the WebSocket, in seconds."""
        rtm = self._session.rtm
        if rtm is None:
            raise ClientClosed("not connected")
        loop = asyncio.get_running_loop()
        start = loop.time()
        await rtm.request({"type": "ping"})
        return loop.time() - start
