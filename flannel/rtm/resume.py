"""Starting a connection: the hello, then exactly the events it missed, then live.

The session is registered with the fanout *before* the log is read, and holds the live events
it is routed until it starts; then it queues the hello, the missed events read from the log,
and the held live events, dropping by offset whatever it already queued. Events are read from
the log as they are now visible to the user (never more than it may see today). When the log
no longer reaches back (``TooOld``), cannot be read up to the edge's position without a hole,
or the client claims an offset the edge has not reached, the hello says ``resync`` and carries
the current offset instead. A replay too large for the send queue also resyncs: overflowing
would close the connection (``TOO_SLOW``) before it made any progress, forever.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from changelog import TooOld
from flannel.rtm.delivery import Delivery
from flannel.rtm.hello import positioned
from flannel.rtm.session import Event, Session, close_for

ReadAfter = Callable[[int], Awaitable[Sequence[Event]]]
"""Events with offset > the argument, in order, a page at a time; raises ``TooOld``."""


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
    ``hello`` is :func:`~flannel.rtm.hello.build_hello`'s; its ``offset``, ``resync`` and
    ``resume_from`` are set here. ``max_replay`` defaults to a quarter of the send queue,
    leaving room for the user_info frames and the live events held meanwhile.
    """
    if resume_from is None:
        session.start(positioned(hello, head, False, None), head)
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
    session.start(positioned(hello, head, False, resume_from), resume_from, replay)
    return Resumed(resync=False, replayed=len(replay))


def _resync(session: Session, hello: Mapping[str, Any], head: int, resume_from: int, reason: str) -> Resumed:
    session.start(positioned(hello, head, True, resume_from), head)
    return Resumed(resync=True, reason=reason)
