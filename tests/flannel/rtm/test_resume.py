"""Resume: the missed events exactly, in order, once; or a resync hello; never a gap."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from changelog.log import TooOld
from flannel.rtm.fanout import Fanout
from flannel.rtm.hello import build_hello
from flannel.rtm.session import Event, Session
from wire.closecodes import TOKEN_REVOKED

from . import FakeWorkspace, drain, message, new_session


class World:
    """A workspace, its change log and an edge fanout: events are appended and routed live."""

    def __init__(self, page: int = 1000) -> None:
        self.ws = FakeWorkspace()
        for uid in ("U1", "U2"):
            self.ws.add_user(uid)
        self.ws.add_channel("C1", ["U1", "U2"])  # U1's
        self.ws.add_channel("G1", ["U2"], public=False)  # not U1's
        self.log: list[dict[str, Any]] = []
        self.floor = 1
        self.page = page
        self.fanout = Fanout()
        self.reads = 0

    @property
    def head(self) -> int:
        return len(self.log)

    def emit(self, channel: str, user: str = "U2") -> dict[str, Any]:
        event = message(self.head + 1, channel, user)
        self.log.append(event)
        self.fanout.route("T1", event, self.ws)
        return event

    async def read_after(self, after: int) -> Sequence[Event]:
        self.reads += 1
        if after + 1 < self.floor:
            raise TooOld("T1", after, self.floor)
        await asyncio.sleep(0)
        return self.log[after : after + self.page]

    def hello(self, uid: str = "U1") -> dict[str, Any]:
        return build_hello(self.ws.users[uid], {"id": "T1"}, [{"id": "C1"}], self.head)

    async def connect(self, resume_from: int | None, session: Session | None = None, **kw: Any) -> Any:
        session = session or new_session("U1")
        got = await self.fanout.open(
            session, self.ws, self.hello(), self.head, resume_from, self.read_after, **kw
        )
        return session, got


def offsets(frames: list[dict[str, Any]]) -> list[int]:
    return [f["offset"] for f in frames if f["type"] == "message"]


async def test_exactly_the_missed_visible_events_in_order() -> None:
    w = World(page=2)
    for channel in ("C1", "G1", "C1", "C1", "G1", "C1"):
        w.emit(channel)
    session, got = await w.connect(resume_from=1)
    assert (got.resync, got.replayed, got.reason) == (False, 3, "")
    frames = drain(session)
    hello = frames[0]
    assert (hello["type"], hello["resync"], hello["resume_from"], hello["offset"]) == ("hello", False, 1, 6)
    assert offsets(frames) == [3, 4, 6]
    assert frames[1] == {"type": "user_info", "users": [w.ws.users["U2"]]}  # JIT across replay
    w.emit("C1")
    w.emit("G1")
    assert offsets(drain(session)) == [7]


async def test_resume_at_head_replays_nothing() -> None:
    w = World()
    w.emit("C1")
    session, got = await w.connect(resume_from=1)
    assert (got.resync, got.replayed) == (False, 0)
    assert [f["type"] for f in drain(session)] == ["hello"]
    assert w.reads == 0


async def test_fresh_connect_is_live_from_head() -> None:
    w = World()
    w.emit("C1")
    session, got = await w.connect(resume_from=None)
    assert not got.resync
    hello = drain(session)[0]
    assert (hello["offset"], hello["resync"], hello["resume_from"]) == (1, False, None)
    w.emit("C1")
    assert offsets(drain(session)) == [2]


async def test_too_old_resyncs_then_goes_live() -> None:
    w = World()
    for _ in range(5):
        w.emit("C1")
    w.floor = 4
    session, got = await w.connect(resume_from=1)
    assert (got.resync, got.reason) == (True, "too_old")
    frames = drain(session)
    assert [f["type"] for f in frames] == ["hello"]
    assert (frames[0]["resync"], frames[0]["offset"], frames[0]["resume_from"]) == (True, 5, 1)
    w.emit("C1")
    assert offsets(drain(session)) == [6]


@pytest.mark.parametrize(
    ("resume_from", "mangle", "reason"),
    [
        (9, None, "ahead"),  # an offset this edge never reached
        (1, "hole", "gap"),  # the log skips an offset
        (1, "short", "gap"),  # the log cannot reach the edge's position
    ],
)
async def test_never_a_silent_gap(resume_from: int, mangle: str | None, reason: str) -> None:
    w = World()
    for _ in range(4):
        w.emit("C1")
    if mangle == "hole":
        del w.log[2]
    if mangle == "short":
        real = w.read_after

        async def short(after: int) -> Sequence[Event]:
            return [e for e in await real(after) if e["offset"] <= 2]

        w.read_after = short  # type: ignore[method-assign]
    session, got = await w.connect(resume_from=resume_from)
    assert (got.resync, got.reason) == (True, reason)
    frames = drain(session)
    assert [f["type"] for f in frames] == ["hello"] and frames[0]["resync"]


async def test_too_many_missed_events_resync_instead_of_overflowing() -> None:
    w = World()
    for _ in range(30):
        w.emit("C1")
    session, got = await w.connect(resume_from=0, session=new_session("U1", capacity=40))
    assert (got.resync, got.reason) == (True, "too_many")  # 30 > 40 // 4
    session, got = await w.connect(resume_from=0, session=new_session("U1", capacity=40), max_replay=30)
    assert (got.resync, got.replayed) == (False, 30)
    assert offsets(drain(session)) == list(range(1, 31))


async def test_no_log_means_resync() -> None:
    w = World()
    w.emit("C1")
    session = new_session("U1")
    got = await w.fanout.open(session, w.ws, w.hello(), w.head, resume_from=0, read_after=None)
    assert (got.resync, got.reason) == (True, "no_log")


async def test_revoked_while_away_closes_instead_of_replaying() -> None:
    w = World()
    w.emit("C1")
    w.log.append({"type": "token_revoked", "offset": 2, "token_hash": "hash-U1", "user": "U1"})
    w.emit("C1")
    session, got = await w.connect(resume_from=0)
    assert got.reason == "token_revoked"
    assert session.close_code == TOKEN_REVOKED
    assert len(session.queue) == 0


async def test_live_events_during_the_replay_are_neither_lost_nor_doubled() -> None:
    """The race: events keep arriving, live, while the log is being read."""
    w = World(page=2)
    for _ in range(4):
        w.emit("C1")
    real = w.read_after

    async def busy(after: int) -> Sequence[Event]:
        w.emit("C1")  # arrives live (held by the session) and is also in the log
        w.emit("G1")
        return await real(after)

    w.read_after = busy  # type: ignore[method-assign]
    session, got = await w.connect(resume_from=1)
    assert not got.resync
    expected = [e["offset"] for e in w.log if e["channel"] == "C1" and e["offset"] > 1]
    assert offsets(drain(session)) == expected
    assert session.duplicates == 0  # the replay stops at head: later events come only live


@settings(max_examples=300, deadline=None)
@given(
    before=st.lists(st.booleans(), max_size=12),
    during=st.lists(st.lists(st.booleans(), max_size=3), max_size=8),
    after=st.lists(st.booleans(), max_size=5),
    resume_at=st.integers(0, 12),
    page=st.integers(1, 4),
    floor=st.integers(1, 6),
)
def test_any_interleaving_delivers_each_visible_event_once_in_order(
    before: list[bool],
    during: list[list[bool]],
    after: list[bool],
    resume_at: int,
    page: int,
    floor: int,
) -> None:
    """Events (True: visible to U1) before connecting, arriving during each log read, after."""

    async def run() -> None:
        w = World(page=page)
        for visible in before:
            w.emit("C1" if visible else "G1")
        w.floor = min(floor, w.head + 1)
        resume_from = min(resume_at, w.head)
        real, arrivals = w.read_after, iter(during)

        async def racing(after_offset: int) -> Sequence[Event]:
            for visible in next(arrivals, []):
                w.emit("C1" if visible else "G1")
            return await real(after_offset)

        w.read_after = racing  # type: ignore[method-assign,assignment]
        head = w.head
        session, got = await w.connect(resume_from=resume_from)
        for visible in after:
            w.emit("C1" if visible else "G1")
        frames = drain(session)
        assert frames[0]["type"] == "hello"
        start = head if got.resync else resume_from
        assert got.resync == (resume_from + 1 < w.floor and resume_from < head)
        expected = [e["offset"] for e in w.log if e["channel"] == "C1" and e["offset"] > start]
        assert offsets(frames) == expected
        assert frames[0]["offset"] == head

    asyncio.run(run())
