"""The running edge: the workspace cache, the sessions it feeds, and the flows between them."""

from __future__ import annotations

import asyncio
import logging
import time
import weakref
from collections.abc import AsyncIterator, Callable, Iterable
from typing import Any

import orjson

from changelog import LogReader, TailableLog
from ephemeral import Bus, OnlineStore
from ephemeral.memory import MemoryBus, MemoryOnline
from flannel.access import WorkspaceAccess
from flannel.auth import EdgeCaller, TokenAuth
from flannel.cache import Workspace, WorkspaceCache
from flannel.cache.history import HistoryCache
from flannel.methods import LOCAL, Who, answer
from flannel.origin_client import NoBatchCheck, OriginClient, decoded
from flannel.presence.hub import PresenceHub
from flannel.presence.settings import PresenceSettings
from flannel.read_methods import HISTORY, history, history_users
from flannel.regional import RegionalSnapshots
from flannel.rtm import admission, frames
from flannel.rtm.admission import Admit, Refuse
from flannel.rtm.drain import Drainer
from flannel.rtm.fanout import Fanout
from flannel.rtm.frames import PresenceActive, PresenceFrame, PresenceQuery, PresenceSub
from flannel.rtm.heads import HeadReads
from flannel.rtm.hello import build_hello
from flannel.rtm.ratelimit import RateLimit
from flannel.rtm.sendqueue import SendQueue
from flannel.rtm.session import Session
from flannel.settings import EdgeSettings
from flannel.writes import WAIT_S, OwnWrites, user_key
from wire import closecodes
from wire.args import Args
from wire.batching import BatchCalls
from wire.errors import SlackError
from wire.presence import MAX_MANUAL_BATCH
from wire.ratelimit import RateLimiter, tier_of
from wire.tickets import NonceStore, Ticket, TicketError, verify

#: How long a connecting user's manual-away lookup waits for others to share its call.
MANUAL_WINDOW_S = 0.01

JSON = dict[str, Any]
log = logging.getLogger("flannel.edge")
#: How long a connection or a call waits for the cache to catch up (a fresh snapshot behind
#: the client's offset, a brand-new user whose ``team_join`` is still on its way).
CATCH_UP_S = 2.0
#: How long a revoked token hash is remembered (longer than any ticket lives).
REVOKED_TTL_S = 300.0


def caller_keys(caller: EdgeCaller) -> tuple[str, str]:
    """An HTTP caller's ids among :attr:`Edge.writes`: its token's hash and ``TEAM:USER``."""
    return caller.token_hash, user_key(caller.team_id, caller.user_id)


class Edge:
    """One edge: a regional cache of workspaces that answers reads and pushes events.

    Clients' reads are answered from :class:`WorkspaceCache`, kept current by the change log;
    writes and everything else go to the origin. Three flows join the parts: an event the cache
    applied is routed to the sessions that may see it (encoded once); a cache reload closes the
    workspace's sessions so their clients resume or resync; a revoked token or a deactivated
    user closes its sessions and drops its cached token checks.

    Its I/O (the origin client, the change log, the ticket nonce store, the regional snapshot
    copies) is injected: the composition root (``flannel_cli.edge.build_edge``) builds it from
    the settings, and closes it; tests hand in in-process parts. The edge builds and closes only
    its own logic: the cache, the log reader, the fanout, the token checks, the presence hub.

    Presence and typing cross edges over the ephemeral ``bus`` (see :mod:`flannel.presence`),
    with per-edge connection counts in ``online``; both default to in-process ones, which
    join the edges of one process only.
    """

    def __init__(
        self,
        settings: EdgeSettings,
        *,
        origin: OriginClient,
        changelog: TailableLog,
        nonces: NonceStore,
        regional: RegionalSnapshots,
        bus: Bus | None = None,
        online: OnlineStore | None = None,
        presence: PresenceSettings | None = None,
    ) -> None:
        self.settings = settings
        self.origin = origin
        self.changelog = changelog
        self.nonces = nonces
        self.regional = regional
        self.auth = TokenAuth(origin, settings.token_ttl_s)
        self.reader = LogReader(changelog)
        self.loaded_once: set[str] = set()
        self.cache = WorkspaceCache(
            self._load,
            self.reader.subscribe,
            max_bytes=int(settings.cache_mb * 1024 * 1024),
            on_event=self._on_event,
            on_resync=self._on_resync,
            freeze_gc=settings.gc_freeze,
        )
        self.fanout = Fanout()
        self.bus: Bus = bus if bus is not None else MemoryBus()
        self._manual_batched = hasattr(self.origin, "manual_away")
        # A background lookup (the hub counts a user once it knows): a 10 ms window, far inside
        # the hub's report window, lets a storm spread over seconds make few, full calls.
        self._manual_batches: BatchCalls[tuple[str, str], bool] = BatchCalls(
            self._ask_manual, MAX_MANUAL_BATCH, 1, window_s=MANUAL_WINDOW_S
        )
        self.presence = PresenceHub(
            settings.edge_id,
            presence or PresenceSettings(),
            self.bus,
            online if online is not None else MemoryOnline(),
            manual_of=self._manual_away,
            on_typing=self._remote_typing,
            wake=self.wake,
        )
        self.writes = OwnWrites()  # read-your-writes: each caller's last committed offset
        self.history = HistoryCache()  # channels' latest pages, until their next event
        self.limits = RateLimiter(settings.rate_limits)  # the origin's tiers, per token
        self.wakers: dict[int, asyncio.Event] = {}
        self.hang_ups: dict[int, Callable[[], None]] = {}  # a session's connection, told to go
        self._sweeper: asyncio.Task[None] | None = None
        self.draining = False
        # Token hashes revoked lately: a ticket signed (by a router whose token cache had not
        # heard yet) just before a revocation must not open a session after it.
        self.revoked: dict[str, float] = {}
        # Loaded copies seen caught up with the log's head (see :meth:`caught_up`).
        self._at_head: weakref.WeakSet[Workspace] = weakref.WeakSet()
        # The log-head reads of the sessions admitted in one loop turn, made once (a storm).
        self._heads = HeadReads(lambda team_id: self.changelog.last_offset(team_id))

    @property
    def connections(self) -> int:
        return len(self.fanout)

    # -- the cache and the log -----------------------------------------------------------

    async def _load(self, team_id: str) -> AsyncIterator[JSON]:
        """A first load may come from the regional snapshot; a reload (after "too old") must
        come from the origin, since the regional copy may be what was too old."""
        source = self.origin.snapshot if team_id in self.loaded_once else self.regional.pages
        self.loaded_once.add(team_id)
        async for page in source(team_id):
            if page.get("type") == "header":
                now = time.time()
                for hashed in page.get("revoked_tokens", ()):
                    self.revoked[str(hashed)] = now
            yield page

    def access(self, team_id: str) -> WorkspaceAccess | None:
        ws = self.cache.peek(team_id)
        return WorkspaceAccess(ws) if ws is not None else None

    def wake(self, sessions: list[Session]) -> None:
        """Tell the connections of ``sessions`` that they have frames to write."""
        for session in sessions:
            waker = self.wakers.get(session.id)
            if waker is not None:
                waker.set()

    async def _on_event(self, team_id: str, event: JSON, more: bool = False) -> None:
        self.history.apply(team_id, event)  # before any await: no read sees a page it changed
        kind = event.get("type")
        if kind == "token_revoked":
            hashed = str(event.get("token_hash", ""))
            await self.auth.revoke(hashed)
            now = time.time()
            self.revoked = {h: t for h, t in self.revoked.items() if now - t < REVOKED_TTL_S}
            self.revoked[hashed] = now
        elif kind == "user_change" and event.get("user", {}).get("deleted"):
            await self.auth.forget_user(team_id, str(event["user"]["id"]))
        access = self.access(team_id)
        if access is None:
            return
        # The last event of a read goes straight out to idle connections; the ones before it
        # are queued, so that each connection gets one write for the whole read.
        routed = self.fanout.route(team_id, event, access, straight=not more)
        self.wake(routed.woken)  # only the sessions the event was queued for
        for session in routed.closing:
            if session.stalled(time.monotonic(), self.settings.write_stall_s):
                self.evict(session)  # its queue overflowed: out now, not once its writer returns
            else:
                self.wake([session])

    async def _on_resync(self, team_id: str) -> None:
        """The cache had to reload: its clients may have missed events, so they reconnect and
        resume (or are told to resync) through the ordinary path."""
        self.history.drop_team(team_id)  # events may have been missed (entries name their copy too)
        sessions = self.fanout.sessions(team_id)
        for session in sessions:
            session.hold_outlet()
            session.queue.put(frames.resync("edge_reloaded"))
            session.close(closecodes.RESYNC, "resync")
        self.wake(sessions)

    async def read_after(self, team_id: str, after: int) -> list[JSON]:
        """A page of the log after ``after``, for a resuming session."""
        entries = await self.changelog.read(team_id, after, 500)
        return [orjson.loads(payload) for _, payload in entries]

    # -- callers -------------------------------------------------------------------------

    async def authenticate(self, token: str | None) -> EdgeCaller:
        """The token's caller. A cached check is only trusted while the workspace is loaded
        (and so following the log, where revocations arrive); else the origin is asked again."""
        caller = await self.auth.check(token)
        if self.cache.peek(caller.team_id) is None:
            caller = await self.auth.check(token, fresh=True)
        return caller

    def known_caller(self, token: str | None, count: bool = True) -> EdgeCaller | None:
        """:meth:`authenticate` when it need not await: the token's cached check while its
        workspace is loaded; None otherwise (then :meth:`authenticate` decides). ``count=False``
        only looks (see :func:`flannel.webapi.answer_now`)."""
        if not token:
            return None
        caller = self.auth.cached(token, count)
        if caller is None or self.cache.peek(caller.team_id) is None:
            return None
        return caller

    async def user_of(self, team_id: str, user_id: str, wait_s: float = CATCH_UP_S) -> JSON | None:
        """The user from the cache, waiting briefly for a brand-new one."""
        ws = await self.cache.wait_until(team_id, lambda ws: ws.find_user(user_id) is not None, wait_s)
        return ws.find_user(user_id)

    async def call_as(self, who: Who, method: str, args: JSON) -> JSON:
        """A Web API call made over the WebSocket, answered as Slack would (``{"ok": ...}``):
        from memory when the edge holds the method, else by the origin acting for ``who``."""
        key = user_key(who.team_id, who.user_id)
        self.presence.touch(who.team_id, who.user_id)  # a query or a send: client activity
        wait = self.limits.check(key, tier_of(method))
        if wait:
            return {"ok": False, "error": "ratelimited", "retry_after": wait}
        if method == "users.setActive":  # activity is per connection: this one just had some
            return {"ok": True}
        local = LOCAL.get(method)
        try:
            if local is not None:
                ws = await self.fresh(who.team_id, (key,))
                if ws is not None:
                    return {"ok": True, **answer(local, ws, who, Args(args))}
            if method == HISTORY:  # a channel's latest page may be kept here (flannel.read_methods)
                ws = await self.fresh(who.team_id, (key,))
                got = await history(
                    self.history,
                    ws,
                    who.user_id,
                    (key,),
                    args,
                    lambda: self.origin.forward(method, None, args, acting=key),
                )
                if isinstance(got, dict):
                    return {"ok": True, **got}
                return decoded(got)
            forwarded = await self.origin.forward(method, None, args, acting=key)
            self.writes.note(key, forwarded.offset)
            if forwarded.offset is None:  # a group-committed write says no offset: see HistoryCache
                self.history.wrote(key, method, time.monotonic())
            return decoded(forwarded)
        except SlackError as exc:
            return {"ok": False, "error": exc.code, **({"detail": exc.detail} if exc.detail else {})}
        except Exception as exc:  # the origin is unreachable: say so, keep the connection
            return {"ok": False, "error": getattr(exc, "code", "internal_error")}

    def fresh_now(self, caller: EdgeCaller, after: int = 0, count: bool = True) -> Workspace | None:
        """:meth:`fresh` for an HTTP caller when it need not wait (the common case), without a
        coroutine: the loaded workspace, counted as a cache hit, once it has applied ``after``
        and the caller's own writes; None when it is not loaded or still behind (then
        :meth:`fresh` waits, or loads it). The caller's keys are built only when some write
        is remembered at all. ``count=False`` only looks."""
        ws = self.cache.hit(caller.team_id, count)
        if ws is None or after > ws.offset:
            return None
        if self.writes and self.writes.target(caller_keys(caller), ws.offset):
            return None
        return ws

    def reply_users(self, session: Session, method: str, answer: JSON) -> bytes | None:
        """The ``user_info`` frame that goes just ahead of a history page over ``session``'s
        socket: the users it shows that the connection was not sent (then counted as sent);
        None when there are none (see :func:`flannel.read_methods.history_users`)."""
        ws = self.cache.peek(session.team_id) if method == HISTORY else None
        if ws is None:
            return None
        users = history_users(ws, session.known, answer)
        if not users:
            return None
        session.known.update(u["id"] for u in users)
        return frames.user_info(users)

    async def fresh(self, team_id: str, keys: Iterable[str], after: int = 0) -> Workspace | None:
        """The workspace once it has applied the caller's own writes (``keys``: the caller's
        ids in :attr:`writes`) and ``after``; None when it is still behind after
        :data:`flannel.writes.WAIT_S`: then the origin answers (read-your-writes)."""
        ws = await self.cache.get(team_id)
        target = max(after, self.writes.target(keys, ws.offset))
        if target <= ws.offset:
            return ws
        ws = await self.cache.wait_until(team_id, lambda ws: ws.offset >= target, WAIT_S)
        return ws if ws.offset >= target else None

    # -- sessions ------------------------------------------------------------------------

    async def redeem(self, ticket: str) -> Ticket | TicketError:
        """The ticket of a connection, checked and spent (or why not)."""
        s = self.settings
        try:
            return await verify(s.secret, ticket, s.edge_id, time.time(), self.nonces)
        except TicketError as exc:
            return exc
        except Exception as exc:  # the nonce store is unreachable: nobody can vouch for it
            log.warning("redeeming a ticket failed: %r", exc)
            return TicketError(admission.STORE_DOWN, "the ticket store is unreachable; connect again")

    def new_session(self, admit: Admit) -> Session:
        s = self.settings
        rate = RateLimit(per_s=s.client_frames_per_s, burst=int(s.client_frames_per_s * 2))
        queue = SendQueue(s.send_queue)
        return Session(
            admit.user_id, admit.team_id, admit.token_hash, queue=queue, rate=rate, now=time.monotonic()
        )

    async def open(
        self,
        session: Session,
        resume_from: int | None,
        waker: asyncio.Event,
        hang_up: Callable[[], None] | None = None,
    ) -> Refuse | None:
        """Start ``session``: hello, the events after ``resume_from``, then live; or why not.

        ``waker`` is set when the session has frames to write; ``hang_up`` ends its
        connection at once (see :meth:`evict`). Pins the workspace until :meth:`leave`. A freshly
        loaded snapshot (a regional copy) may still be catching up on the log: admission waits
        briefly for it (see :meth:`caught_up`), and so does a client resuming from a newer
        offset, rather than resyncing.
        """
        team_id, user_id = session.team_id, session.user_id
        self.wakers[session.id] = waker
        if hang_up is not None:
            self.hang_ups[session.id] = hang_up
        if self._sweeper is None:
            self._sweeper = asyncio.create_task(self._sweep(), name="flannel-stalled-writers")
        self.cache.pin(team_id)
        ws = await self.caught_up(team_id, user_id, resume_from or 0)
        # From here to the fanout's registration there is no await: a deactivation or a
        # revocation applied before this point refuses the session, one after it closes it.
        refusal = admission.on_workspace(session.token_hash, self.revoked, ws.find_user(user_id))
        if refusal is not None:
            return refusal
        hello = self.hello_of(ws, user_id)

        async def read_after(after: int) -> list[JSON]:
            return await self.read_after(team_id, after)

        await self.fanout.open(session, WorkspaceAccess(ws), hello, ws.offset, resume_from, read_after)
        me = ws.find_user(user_id) or {}
        await self.presence.open(session, bot=bool(me.get("is_bot")))
        return None

    def hello_of(self, ws: Workspace, user_id: str) -> JSON:
        """The hello of ``user_id``, not positioned yet (offset 0): what a session starts with,
        and what a page's first screen inlines (:mod:`flannel.first_screen`)."""
        expiry = self.presence.settings.typing_expiry_s
        return build_hello(ws.user(user_id), ws.team, ws.hello_channels(user_id), 0, typing_expiry_s=expiry)

    async def caught_up(self, team_id: str, user_id: str, offset: int = 0) -> Workspace:
        """The workspace once it applied the log up to its head (and ``offset``) and knows
        ``user_id``, or as it is after :data:`CATCH_UP_S`.

        A cold edge may have loaded an older regional snapshot: admission must not decide on
        it, or a client whose token was revoked (or whose user was deactivated) since would
        get a hello before its refusal. Once a loaded copy reached the head, later sessions
        skip the read: it is followed live from then on.
        """
        head: int | None = None
        ws = self.cache.peek(team_id)
        if ws is None or ws not in self._at_head:
            try:
                head = await self._heads.get(team_id)
            except Exception as exc:  # the log is unreachable: decide on what the cache has
                log.debug("reading the log head of %s failed: %r", team_id, exc)
        target = max(head or 0, offset)
        ws = await self.cache.wait_until(
            team_id, lambda ws: ws.offset >= target and ws.find_user(user_id) is not None, CATCH_UP_S
        )
        if head is not None and ws.offset >= head:
            self._at_head.add(ws)
        return ws

    def leave(self, session: Session) -> None:
        """The connection of ``session`` is gone (after :meth:`open`, whatever it answered)."""
        self.fanout.remove(session)
        self.presence.leave(session)
        self.wakers.pop(session.id, None)
        self.hang_ups.pop(session.id, None)
        self.cache.unpin(session.team_id)

    def evict(self, session: Session) -> None:
        """Stop serving ``session`` now, without waiting for its writer (which may never
        return): out of the fanout and the edge's load at once, its connection told to hang
        up (4008 if the socket still carries it). Its client resumes from its last offset."""
        session.close(closecodes.TOO_SLOW, "too slow, resume")
        self.fanout.remove(session)
        self.presence.leave(session)
        hang_up = self.hang_ups.pop(session.id, None)
        if hang_up is not None:
            hang_up()

    async def _sweep(self) -> None:
        """Evict the sessions whose writes stalled: a client that stopped reading."""
        stall_s = self.settings.write_stall_s
        while True:
            await asyncio.sleep(min(1.0, stall_s / 4))
            now = time.monotonic()
            for session in self.fanout.sessions():
                if session.stalled(now, stall_s):
                    log.info("session %s stopped reading; dropping it", session.id)
                    self.evict(session)

    def typing(self, session: Session, channel_id: str) -> None:
        """A client's ``typing``: to the channel's other members here, and over the bus to every
        other edge; at most one per channel per interval per connection, none above the cap."""
        team_id, user_id = session.team_id, session.user_id
        self.presence.touch(team_id, user_id)
        access = self.access(team_id)
        if access is None or not access.can_see(user_id, channel_id):
            return
        members = access.members_of(channel_id)
        if user_id not in members or self.presence.allow_typing(session, channel_id, len(members)):
            return
        woken: list[Session] = []
        self.fanout.typing(team_id, user_id, channel_id, access, woken)
        self.wake(woken)
        self.presence.publish_typing(team_id, channel_id, user_id)

    def _remote_typing(self, team_id: str, channel_id: str, user_id: str) -> None:
        """Another edge's typist: this edge's connections of the channel's other members."""
        access = self.access(team_id)
        if access is None:
            return
        if len(access.members_of(channel_id)) > self.presence.settings.typing_member_cap:
            return
        woken: list[Session] = []
        self.fanout.typing(team_id, user_id, channel_id, access, woken)
        self.wake(woken)

    def presence_frame(self, session: Session, frame: PresenceFrame) -> None:
        """``presence_sub`` / ``presence_query`` / ``presence_active`` from a client."""
        hub = self.presence
        hub.touch(session.team_id, session.user_id)
        if isinstance(frame, PresenceSub | PresenceQuery):
            ws = self.cache.peek(session.team_id)
            # Only users of the connection's own workspace: anyone else's presence is not theirs.
            ids = [u for u in frame.ids if ws is not None and ws.find_user(u) is not None]
            if isinstance(frame, PresenceSub):
                if frame.id is not None:  # the answer first, then the subscribed users' presence
                    self._reply(session, frames.reply_ok(frame.id, {"subscribed": len(ids)}))
                hub.subscribe(session, ids)
            elif frame.id is not None:
                self._reply(session, frames.reply_ok(frame.id, {"presence": hub.query(session, ids)}))
            else:
                hub.send_current(session, ids)
        elif isinstance(frame, PresenceActive) and frame.id is not None:
            self._reply(session, frames.reply_ok(frame.id))

    def _reply(self, session: Session, frame: bytes) -> None:
        if session.send(frame):
            self.wake([session])
        else:
            self.evict(session)

    async def _manual_away(self, team_id: str, user_id: str) -> bool:
        """Whether ``user_id`` set manual away (stored at the origin). The users connecting at
        one moment (a storm brings hundreds) are asked for in one batch call; an origin
        without the batch endpoint is asked ``users.getPresence`` per user from then on."""
        if self._manual_batched:
            try:
                return await self._manual_batches.get((team_id, user_id))
            except NoBatchCheck:
                self._manual_batched = False
        body = await self.origin.call("users.getPresence", None, {}, acting=user_key(team_id, user_id))
        return bool(body.get("manual_away"))

    async def _ask_manual(self, pairs: list[tuple[str, str]]) -> list[bool]:
        return await self.origin.manual_away(pairs)

    async def drain(self) -> None:
        """Stop new sessions; send ``goodbye`` to the connected ones, spread over the window."""
        self.draining = True
        t0 = time.monotonic()
        schedule = Drainer(self.settings.drain_window_s).schedule(self.fanout.sessions())
        for delay, session in schedule:
            await asyncio.sleep(max(0.0, t0 + delay - time.monotonic()))
            session.hold_outlet()
            session.queue.put(frames.goodbye("drain"))
            session.close(closecodes.GOING_AWAY, "draining")
            self.wake([session])

    async def close(self) -> None:
        """Stop the cache and the log reader (the injected parts are the composition root's)."""
        if self._sweeper is not None:
            self._sweeper.cancel()
            await asyncio.gather(self._sweeper, return_exceptions=True)
        await self.presence.close()
        await self.cache.close()
        await self.reader.close()
