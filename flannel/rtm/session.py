"""One WebSocket connection's state, without the socket: what it was sent, where it is, its limits.

Just-in-time users. A thin client has no user directory, so a message from (or mentioning) a
user this connection was never sent comes preceded by a ``{"type": "user_info", "users": [..]}``
frame holding those users' objects. It is a separate frame, not a ``users`` field inside the
event, so that the event's bytes stay identical for every connection (encoded once, see
``fanout.py``); the user_info frame itself is encoded once per distinct set of missing users.
A user counts as sent once a frame carrying its full object was queued: a user_info frame, the
hello's ``self``, or a ``user_change`` / ``team_join`` event. So a ``user_change`` does *not*
make the next message re-attach the user: every connection of the workspace was just sent the
new object in the user_change itself.

Resume. The session is registered with the fanout *before* the log is read, and holds the live
events it is routed until it starts; then it queues the hello, the missed events read from the
log, and the held live events, dropping by offset whatever it already queued. Events are read
from the log as they are now visible to the user (never more than it may see today). When the
log no longer reaches back (``TooOld``), cannot be read up to the edge's position without a
hole, or the client claims an offset the edge has not reached, the hello says ``resync`` and
carries the current offset instead. A replay too large for the send queue also resyncs:
overflowing would close the connection (4008) before it made any progress, forever.
"""

from __future__ import annotations

import itertools
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from changelog.log import TooOld
from flannel.rtm.frames import (
    CLOSE_ACCOUNT_INACTIVE,
    CLOSE_RATE_LIMITED,
    CLOSE_TOKEN_REVOKED,
    CLOSE_TOO_SLOW,
    encode,
)
from flannel.rtm.sendqueue import SendQueue

JSON = dict[str, Any]
Event = Mapping[str, Any]
UserLookup = Callable[[str], Mapping[str, Any] | None]
ReadAfter = Callable[[int], Awaitable[Sequence[Event]]]
"""Events with offset > the argument, in order, a page at a time; raises ``TooOld``."""


class UserInfo:
    """``user_info`` frames for one event, each distinct set of users encoded once."""

    __slots__ = ("_encode", "_frames", "_lookup")

    def __init__(self, lookup: UserLookup, encode_: Callable[[Any], bytes] = encode) -> None:
        self._lookup = lookup
        self._encode = encode_
        self._frames: dict[tuple[str, ...], tuple[bytes, tuple[str, ...]] | None] = {}

    def frame(self, ids: tuple[str, ...]) -> tuple[bytes, tuple[str, ...]] | None:
        """The frame for ``ids`` and the ids it holds (unknown users are left out), or None."""
        if ids not in self._frames:
            found = {uid: obj for uid in ids if (obj := self._lookup(uid)) is not None}
            self._frames[ids] = None
            if found:
                frame = self._encode({"type": "user_info", "users": list(found.values())})
                self._frames[ids] = (frame, tuple(found))
        return self._frames[ids]


@dataclass(frozen=True, slots=True)
class Delivery:
    """One outgoing frame, shared by every connection it goes to.

    ``needs``: users a client must know to render it; ``carries``: users whose full object it
    holds. ``offset`` is None for frames outside the change log (typing), which are ephemeral.
    """

    offset: int | None
    frame: bytes
    needs: tuple[str, ...] = ()
    carries: tuple[str, ...] = ()
    user_info: UserInfo | None = None
    ephemeral: bool = False


@dataclass(frozen=True, slots=True)
class RateLimit:
    """Client frames: ``per_s`` sustained, ``burst`` at once.

    A frame refused for want of a token still costs one: a client that keeps sending while
    limited digs into debt, and is closed (4029) once the debt exceeds ``close_debt``.
    """

    per_s: float = 20.0
    burst: float = 40.0
    close_debt: float = 40.0


@dataclass(frozen=True, slots=True)
class Admission:
    ok: bool
    retry_after: float = 0.0
    close_code: int | None = None


class TokenBucket:
    __slots__ = ("_last", "limit", "tokens")

    def __init__(self, limit: RateLimit, now: float) -> None:
        self.limit = limit
        self.tokens = limit.burst
        self._last = now

    def take(self, now: float) -> Admission:
        limit = self.limit
        if now > self._last:
            self.tokens = min(limit.burst, self.tokens + (now - self._last) * limit.per_s)
            self._last = now
        self.tokens -= 1.0
        if self.tokens >= 0.0:
            return Admission(True)
        retry_after = -self.tokens / limit.per_s
        if -self.tokens > limit.close_debt:
            return Admission(False, retry_after, CLOSE_RATE_LIMITED)
        return Admission(False, retry_after)


def build_hello(
    self_user: Mapping[str, Any],
    team: Mapping[str, Any],
    channels: Sequence[Mapping[str, Any]],
    offset: int,
    resync: bool = False,
    resume_from: int | None = None,
) -> JSON:
    """The thin hello: its size depends on the user's channels, never on the workspace's size."""
    return {
        "type": "hello",
        "self": dict(self_user),
        "team": dict(team),
        "channels": list(channels),
        "offset": offset,
        "resync": resync,
        "resume_from": resume_from,
    }


_ids = itertools.count(1)


class Session:
    """Per-connection state. ``deliver`` returns False once the connection must close."""

    def __init__(
        self,
        user_id: str,
        team_id: str,
        token_hash: str = "",
        *,
        queue: SendQueue | None = None,
        rate: RateLimit | None = None,
        now: float = 0.0,
    ) -> None:
        self.id = next(_ids)
        self.user_id = user_id
        self.team_id = team_id
        self.token_hash = token_hash
        self.queue = queue if queue is not None else SendQueue()
        self.known: set[str] = set()
        self.last_offset = 0  # the newest log offset queued or skipped; meaningful once started
        self.started = False
        self.duplicates = 0
        self.close_code: int | None = None
        self.close_reason = ""
        self._held: list[Delivery] = []
        self._bucket = TokenBucket(rate or RateLimit(), now)

    def __repr__(self) -> str:
        return f"<Session {self.id} {self.team_id}/{self.user_id}>"

    @property
    def closing(self) -> bool:
        return self.close_code is not None

    def close(self, code: int, reason: str) -> bool:
        """Mark the connection for closing (the first reason wins); always False."""
        if self.close_code is None:
            self.close_code, self.close_reason = code, reason
            self._held.clear()
        return False

    def admit(self, now: float) -> Admission:
        """Spend a token for one client frame; closes the session when it asks to."""
        admission = self._bucket.take(now)
        if admission.close_code is not None:
            self.close(admission.close_code, "rate limited")
        return admission

    def deliver(self, delivery: Delivery) -> bool:
        """Queue a live frame, or hold it until :meth:`start` when the hello is not out yet."""
        if self.close_code is not None:
            return False
        if self.started:
            return self._send(delivery)
        if delivery.offset is None:
            return True  # ephemeral, and stale by the time the hello is out
        if len(self._held) >= self.queue.capacity:
            return self.close(CLOSE_TOO_SLOW, "too slow, resume")
        self._held.append(delivery)
        return True

    def start(self, hello: Mapping[str, Any], position: int, replay: Sequence[Delivery] = ()) -> bool:
        """Queue the hello, the ``replay``, then the held live frames; live from then on.

        ``position`` is the offset the client is at: its ``resume_from`` when resuming, else the
        hello's offset (what the hello reflects). Anything at or below it is not sent again.
        """
        if self.started:
            raise RuntimeError("session already started")
        if self.close_code is not None:
            return False
        self.started = True
        self.last_offset = position
        if not self.queue.put(encode(hello)):
            return self._overflow()
        me = hello.get("self")
        if isinstance(me, Mapping) and isinstance(me.get("id"), str):
            self.known.add(me["id"])
        held, self._held = self._held, []
        held.sort(key=lambda d: d.offset or 0)
        for delivery in itertools.chain(replay, held):
            if not self._send(delivery):
                return False
        return True

    def _send(self, delivery: Delivery) -> bool:
        offset = delivery.offset
        if offset is not None:
            if offset <= self.last_offset:
                self.duplicates += 1
                return True
            self.last_offset = offset
        queue = self.queue
        if delivery.needs and delivery.user_info is not None:
            missing = tuple(u for u in delivery.needs if u not in self.known)
            info = delivery.user_info.frame(missing) if missing else None
            if info is not None:
                if not queue.put(info[0]):
                    return self._overflow()
                self.known.update(info[1])
        if not queue.put(delivery.frame, delivery.ephemeral):
            return self._overflow()
        self.known.update(delivery.carries)
        return True

    def _overflow(self) -> bool:
        return self.close(CLOSE_TOO_SLOW, "too slow, resume")


def close_for(session: Session, event: Event) -> tuple[int, str] | None:
    """Whether ``event`` ends ``session``: its token revoked, or its user deactivated."""
    kind = event.get("type")
    if kind == "token_revoked":
        if session.token_hash and event.get("token_hash") == session.token_hash:
            return CLOSE_TOKEN_REVOKED, "token_revoked"
    elif kind == "user_change":
        user = event.get("user")
        if isinstance(user, Mapping) and user.get("id") == session.user_id and user.get("deleted"):
            return CLOSE_ACCOUNT_INACTIVE, "account_inactive"
    return None


@dataclass(frozen=True, slots=True)
class Resumed:
    """How a connection started: ``reason`` says why it resynced ("" when it did not)."""

    resync: bool
    replayed: int = 0
    reason: str = ""


class _Resync(Exception):
    def __init__(self, reason: str) -> None:
        self.reason = reason


async def resume(
    session: Session,
    hello: Mapping[str, Any],
    head: int,
    resume_from: int | None,
    read_after: ReadAfter | None,
    *,
    visible: Callable[[Event], bool],
    prepare: Callable[[Event], Delivery],
    max_replay: int | None = None,
) -> Resumed:
    """Start ``session``: hello, then the events after ``resume_from`` it may see, then live.

    The session must already be registered with the fanout, and ``head`` must be the
    workspace's offset at that moment (read without awaiting in between): events up to
    ``head`` come from ``read_after``, later ones from the fanout, overlaps dropped by offset.
    ``hello`` is :func:`build_hello`'s; its ``offset``, ``resync`` and ``resume_from`` are set
    here. ``max_replay`` defaults to a quarter of the send queue, leaving room for the
    user_info frames and the live events held meanwhile.
    """
    if resume_from is None:
        session.start(_hello(hello, head, False, None), head)
        return Resumed(resync=False)
    if read_after is None:
        return _resync(session, hello, head, resume_from, "no_log")
    limit = max_replay if max_replay is not None else session.queue.capacity // 4
    replay: list[Delivery] = []
    try:
        if resume_from > head:
            raise _Resync("ahead")  # from another edge that is further along, or a bogus offset
        after = resume_from
        while after < head:
            page = await read_after(after)
            if not page:
                raise _Resync("gap")
            for event in page:
                if after >= head:
                    break  # past head the cache has not applied it: the live feed delivers it
                offset = event.get("offset")
                if offset != after + 1:
                    raise _Resync("gap")
                after = offset
                ended = close_for(session, event)
                if ended is not None:
                    session.close(*ended)
                    return Resumed(resync=False, reason=ended[1])
                if visible(event):
                    replay.append(prepare(event))
                    if len(replay) > limit:
                        raise _Resync("too_many")
    except TooOld:
        return _resync(session, hello, head, resume_from, "too_old")
    except _Resync as e:
        return _resync(session, hello, head, resume_from, e.reason)
    session.start(_hello(hello, head, False, resume_from), resume_from, replay)
    return Resumed(resync=False, replayed=len(replay))


def _hello(base: Mapping[str, Any], head: int, resync: bool, resume_from: int | None) -> JSON:
    return {**base, "offset": head, "resync": resync, "resume_from": resume_from}


def _resync(session: Session, hello: Mapping[str, Any], head: int, resume_from: int, reason: str) -> Resumed:
    session.start(_hello(hello, head, True, resume_from), head)
    return Resumed(resync=True, reason=reason)
