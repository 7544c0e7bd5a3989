"""What to do with each client frame, decided without I/O.

:func:`dispatch` spends the frame against the client's rate limit, parses it, and answers with
one action for the connection adapter to carry out: a frame to send back at once (an error, a
pong, "rate limited"), a Web API call to make and answer with ``reply_to`` (a ``query``, or a
Slack RTM ``message`` that becomes ``chat.postMessage``), a ``typing`` notice to fan out, or a
presence frame (``presence_sub``, ``presence_query``, ``presence_active``) for the edge's
presence hub. Every frame but a ping (and a refused one) is client activity: it ends auto-away;
the edge counts it where it carries the action out.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from flannel.rtm import frames
from flannel.rtm.frames import (
    BadFrame,
    Ping,
    PresenceActive,
    PresenceFrame,
    PresenceQuery,
    PresenceSub,
    Query,
    Send,
    Typing,
)
from flannel.rtm.session import Session


@dataclass(frozen=True, slots=True)
class Reply:
    """Send ``frame`` back on this connection."""

    frame: bytes


@dataclass(frozen=True, slots=True)
class Call:
    """Call ``method`` as the connection's user, and reply with its answer."""

    reply_to: int
    method: str
    args: dict[str, Any]


@dataclass(frozen=True, slots=True)
class Notify:
    """The user is typing in ``channel``: tell the channel's other members on this edge."""

    channel: str


@dataclass(frozen=True, slots=True)
class Presence:
    """A presence frame: the edge's presence hub answers it (and counts it as activity)."""

    frame: PresenceFrame


Action = Reply | Call | Notify | Presence


def dispatch(session: Session, data: str | bytes, now: float, max_frame_bytes: int) -> Action | None:
    """The action for one client frame (text or binary message) arriving at ``now``."""
    allowance = session.allow(now)
    frame = frames.parse(data, max_frame_bytes)
    if not allowance.ok:
        reply_to = frame.reply_to if isinstance(frame, BadFrame) else frame.id
        return Reply(frames.rate_limited(reply_to, allowance.retry_after))
    if isinstance(frame, BadFrame):
        return Reply(frame.reply())
    if isinstance(frame, Ping):
        return Reply(frame.pong())
    if isinstance(frame, Query):
        return Call(frame.id, frame.method, dict(frame.args))
    if isinstance(frame, Send):
        args: dict[str, Any] = {"channel": frame.channel, "text": frame.text}
        if frame.thread_ts:
            args["thread_ts"] = frame.thread_ts
        return Call(frame.id, "chat.postMessage", args)
    if isinstance(frame, Typing):
        return Notify(frame.channel)
    if isinstance(frame, PresenceSub | PresenceQuery | PresenceActive):
        return Presence(frame)
    return None
