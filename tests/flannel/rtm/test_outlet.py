"""A live event written straight out while it is routed (``Session.push`` through the
connection's outlet): only when nothing is queued before it, in order, and the connections it
went out on are not woken again."""

from __future__ import annotations

from typing import Any

import orjson

from flannel.rtm.fanout import Fanout
from flannel.rtm.session import CLOSING, QUEUED, WRITTEN, Session
from tests.flannel.rtm.test_fanout import connect
from tests.flannel.rtm.test_preframed import parse

from . import FakeWorkspace, drain, message


class Outlet:
    """A connection's outlet: takes frames while ``open``, records what it was given."""

    def __init__(self, open: bool = True) -> None:
        self.open = open
        self.writes: list[bytes] = []

    def take(self, data: bytes) -> bool:
        if not self.open:
            return False
        self.writes.append(data)
        return True

    def frames(self) -> list[dict[str, Any]]:
        return [orjson.loads(f.data) for f in parse(b"".join(self.writes))]


def workspace() -> FakeWorkspace:
    ws = FakeWorkspace()
    for uid in ("U1", "U2", "U3"):
        ws.add_user(uid)
    ws.add_channel("C1", ["U1", "U2", "U3"])
    return ws


def with_outlet(fanout: Fanout, ws: FakeWorkspace, uid: str, outlet: Outlet) -> Session:
    session = connect(fanout, ws, uid)
    session.outlet = outlet
    return session


def test_an_idle_connection_gets_the_event_written_and_is_not_woken() -> None:
    ws, fanout = workspace(), Fanout()
    outlets = {uid: Outlet() for uid in ("U2", "U3")}
    sessions = {uid: with_outlet(fanout, ws, uid, o) for uid, o in outlets.items()}
    sessions["U2"].known.add("U1")  # U3 has not been sent U1: a user_info frame goes first
    routed = fanout.route("T1", message(5, "C1", "U1"), ws)
    assert routed.delivered == 2 and routed.written == 1
    assert routed.woken == [sessions["U3"]]  # queued: user_info, then the event
    assert [f["type"] for f in outlets["U2"].frames()] == ["message"]
    assert outlets["U3"].writes == []
    assert [f["type"] for f in drain(sessions["U3"])] == ["user_info", "message"]
    assert sessions["U3"].outlet is None  # it queued: the connection offers it again once flushed
    assert sessions["U2"].outlet is outlets["U2"]
    assert sessions["U2"].last_offset == 5 and len(sessions["U2"].queue) == 0


def test_frames_queued_before_an_event_keep_it_behind_them() -> None:
    ws, fanout = workspace(), Fanout()
    outlet = Outlet()
    session = with_outlet(fanout, ws, "U2", outlet)
    session.known.add("U1")
    session.send(orjson.dumps({"type": "pong", "reply_to": 1}))  # queued, not flushed yet
    routed = fanout.route("T1", message(5, "C1", "U1"), ws)
    assert routed.written == 0 and routed.woken == [session]
    assert outlet.writes == []
    assert [f["type"] for f in drain(session)] == ["pong", "message"]


def test_an_outlet_that_cannot_take_it_now_leaves_the_event_queued() -> None:
    ws, fanout = workspace(), Fanout()
    outlet = Outlet(open=False)  # backlogged, closing, or this turn's flush is pending
    session = with_outlet(fanout, ws, "U2", outlet)
    session.known.add("U1")
    routed = fanout.route("T1", message(5, "C1", "U1"), ws)
    assert routed.written == 0 and routed.woken == [session]
    assert [f["offset"] for f in drain(session)] == [5]
    assert session.outlet is None


def test_events_with_more_to_follow_are_queued_for_one_write() -> None:
    ws, fanout = workspace(), Fanout()
    outlet = Outlet()
    session = with_outlet(fanout, ws, "U2", outlet)
    session.known.add("U1")
    assert fanout.route("T1", message(5, "C1", "U1"), ws, straight=False).woken == [session]
    assert fanout.route("T1", message(6, "C1", "U1"), ws).written == 0  # behind offset 5
    assert outlet.writes == [] and [f["offset"] for f in drain(session)] == [5, 6]


def test_push_says_how_and_duplicates_never_go_out_twice() -> None:
    ws, fanout = workspace(), Fanout()
    outlet = Outlet()
    session = with_outlet(fanout, ws, "U2", outlet)
    session.known.add("U1")
    first = fanout.prepare(message(5, "C1", "U1"), ws, "T1")
    assert session.push(first) == WRITTEN
    assert session.push(first) == QUEUED and session.duplicates == 1  # nothing queued either
    assert len(session.queue) == 0 and len(outlet.writes) == 1
    session.close(4000, "test")
    assert session.push(fanout.prepare(message(6, "C1", "U1"), ws, "T1")) == CLOSING
    assert len(outlet.writes) == 1


def test_a_session_before_its_hello_holds_the_event_and_never_writes_it_early() -> None:
    ws, fanout = workspace(), Fanout()
    outlet = Outlet()
    session = Session("U2", "T1", "hash-U2")
    session.outlet = outlet
    fanout.add(session)
    assert fanout.route("T1", message(5, "C1", "U1"), ws).written == 0
    assert outlet.writes == []  # held until the hello is out
    session.start({"type": "hello", "self": {"id": "U2"}}, 0)
    assert [f["type"] for f in drain(session)] == ["hello", "user_info", "message"]
