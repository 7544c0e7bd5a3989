"""One WebSocket connection's state, without the socket: what it was sent, where it is, its limits.

A user counts as sent (``known``) once a frame carrying its full object was queued: a user_info
frame, the hello's ``self``, or a ``user_change`` / ``team_join`` event. So a ``user_change``
does *not* make the next message re-attach the user: every connection of the workspace was just
sent the new object in the user_change itself.

Live events routed to a session before its hello is out are held, then queued after the hello
and the replay, dropping by offset whatever was already queued (see ``resume.py``).
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from typing import Any, Protocol

from flannel.rtm import frames
from flannel.rtm.delivery import Delivery
from flannel.rtm.ratelimit import Allowance, RateLimit, TokenBucket
from flannel.rtm.sendqueue import SendQueue
from wire import closecodes

Event = Mapping[str, Any]


class Outlet(Protocol):
    """The connection's transport, offered while the connection is idle (see :attr:`Session.outlet`)."""

    def take(self, data: bytes) -> bool:
        """Write ``data`` (WebSocket frames, already framed) to the transport now; False, and
        nothing written, when the transport is closing or closed."""
        ...


#: What :meth:`Session.push` did with a frame: the connection must now close, the frame is
#: queued (wake the connection), or it went straight out (nothing to wake).
CLOSING, QUEUED, WRITTEN = 0, 1, 2

_ids = itertools.count(1)


class Session:
    """Per-connection state. ``deliver`` returns False once the connection must close."""

    # Slots: routing reads a few of these per connection per event, from one block of memory.
    __slots__ = (
        "_bucket",
        "_held",
        "close_code",
        "close_reason",
        "duplicates",
        "id",
        "known",
        "last_offset",
        "outlet",
        "queue",
        "started",
        "team_id",
        "token_hash",
        "user_id",
        "writing_since",
    )

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
        self.writing_since: float | None = None  # when the write in flight began (the adapter's)
        # The connection's transport while it is idle: set by the connection when nothing is
        # queued, no flush is pending and the transport is below its high-water mark; cleared
        # by the connection when that ends, and by this session whenever it queues a frame (so
        # a frame written through it never overtakes one queued before it).
        self.outlet: Outlet | None = None
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

    def stalled(self, now: float, stall_s: float) -> bool:
        """Whether to stop waiting for this connection's writer and drop it: its queue overflowed
        (it is closing ``TOO_SLOW``), or a write has not completed for ``stall_s`` (a client
        that stopped reading fills the TCP window, and the write never returns)."""
        if self.close_code == closecodes.TOO_SLOW:
            return True
        return self.writing_since is not None and now - self.writing_since >= stall_s

    def allow(self, now: float) -> Allowance:
        """Spend a token for one client frame; closes the session when it asks to."""
        allowance = self._bucket.take(now)
        if allowance.close_code is not None:
            self.close(allowance.close_code, "rate limited")
        return allowance

    def hold_outlet(self) -> None:
        """Stop writing through the outlet: whoever queues on :attr:`queue` directly calls this
        first (the connection offers it again once it has flushed the queue)."""
        self.outlet = None

    def send(self, frame: bytes) -> bool:
        """Queue a frame of this connection's own (a reply, a pong); False when it must close."""
        self.outlet = None
        if not self.queue.put(frame):
            return bool(self._overflow())
        return True

    def deliver(self, delivery: Delivery) -> bool:
        """Send or queue a live frame, or hold it until :meth:`start` when the hello is not out
        yet; False when the connection must now close."""
        return self.push(delivery) != CLOSING

    def push(self, delivery: Delivery, straight: bool = True) -> int:
        """:meth:`deliver`, telling how: :data:`WRITTEN` when the frame went straight out
        through the :attr:`outlet` (the queue was empty and the transport could take it: the
        common case of a live event, written while routing it, with no second pass over the
        connections to wake and flush them), :data:`QUEUED` (wake the connection), or
        :data:`CLOSING`. Not ``straight``: queued in any case (more frames follow at once)."""
        if self.close_code is not None:
            return CLOSING
        if self.started:
            return self._send(delivery, straight)
        if delivery.offset is None:
            return QUEUED  # ephemeral, and stale by the time the hello is out
        if len(self._held) >= self.queue.capacity:
            return self._overflow()
        self._held.append(delivery)
        return QUEUED

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
        self.outlet = None
        if not self.queue.put(frames.encode(hello)):
            return bool(self._overflow())
        me = hello.get("self")
        if isinstance(me, Mapping) and isinstance(me.get("id"), str):
            self.known.add(me["id"])
        held, self._held = self._held, []
        held.sort(key=lambda d: d.offset or 0)
        for delivery in itertools.chain(replay, held):
            if self._send(delivery) == CLOSING:
                return False
        return True

    def _send(self, delivery: Delivery, straight: bool = False) -> int:
        offset = delivery.offset
        if offset is not None:
            if offset <= self.last_offset:
                self.duplicates += 1
                return QUEUED
            self.last_offset = offset
        queue = self.queue
        needs, known = delivery.needs, self.known
        # Once per connection per event: ``issuperset`` (one C call) before any generator.
        if needs and delivery.user_info is not None and not known.issuperset(needs):
            info = delivery.user_info.frame(tuple(u for u in needs if u not in known))
            if info is not None:
                self.outlet = None
                if not queue.put(info[0], False, info[2]):
                    return self._overflow()
                known.update(info[1])
        # Straight out while the connection is idle (nothing queued, no flush pending).
        outlet = self.outlet
        if outlet is not None:
            if straight and outlet.take(delivery.wire):
                if delivery.carries:
                    known.update(delivery.carries)
                return WRITTEN
            self.outlet = None
        if not queue.put(delivery.frame, delivery.ephemeral, delivery.wire):
            return self._overflow()
        if delivery.carries:
            known.update(delivery.carries)
        return QUEUED

    def _overflow(self) -> int:
        self.close(closecodes.TOO_SLOW, "too slow, resume")
        return CLOSING


def close_for(session: Session, event: Event) -> tuple[int, str] | None:
    """Whether ``event`` ends ``session``: its token revoked, or its user deactivated."""
    kind = event.get("type")
    if kind == "token_revoked":
        if session.token_hash and event.get("token_hash") == session.token_hash:
            return closecodes.TOKEN_REVOKED, "token_revoked"
    elif kind == "user_change":
        user = event.get("user")
        if isinstance(user, Mapping) and user.get("id") == session.user_id and user.get("deleted"):
            return closecodes.ACCOUNT_INACTIVE, "account_inactive"
    return None
