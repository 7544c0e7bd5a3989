"""Session: just-in-time users, the thin hello, held live frames, the client rate limit."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from flannel.rtm.delivery import Delivery
from flannel.rtm.fanout import Fanout
from flannel.rtm.hello import build_hello
from flannel.rtm.ratelimit import RateLimit
from flannel.rtm.sendqueue import SendQueue
from flannel.rtm.session import Session
from wire.closecodes import RATE_LIMITED, TOO_SLOW

from . import FakeWorkspace, drain, message, new_session


@pytest.fixture
def ws() -> FakeWorkspace:
    ws = FakeWorkspace()
    for uid in ("U1", "U2", "U3", "U4"):
        ws.add_user(uid)
    ws.add_channel("C1", ["U1", "U2", "U3", "U4"])
    return ws


def started(ws: FakeWorkspace, uid: str = "U1", head: int = 0) -> Session:
    session = new_session(uid)
    assert ws.users[uid]
    session.start(build_hello(ws.users[uid], {"id": "T1"}, [], head), head)
    assert drain(session)[0]["type"] == "hello"
    return session


def deliver(
    fanout: Fanout, ws: FakeWorkspace, session: Session, event: dict[str, object]
) -> list[dict[str, Any]]:
    assert session.deliver(fanout.prepare(event, ws))
    return drain(session)


def test_first_message_from_a_user_attaches_it_then_never_again(ws: FakeWorkspace) -> None:
    fanout, session = Fanout(), started(ws)
    first = deliver(fanout, ws, session, message(1, "C1", "U2"))
    assert [f["type"] for f in first] == ["user_info", "message"]
    assert first[0]["users"] == [ws.users["U2"]]
    assert [f["type"] for f in deliver(fanout, ws, session, message(2, "C1", "U2"))] == ["message"]


def test_own_messages_never_attach_self(ws: FakeWorkspace) -> None:
    fanout, session = Fanout(), started(ws)
    assert [f["type"] for f in deliver(fanout, ws, session, message(1, "C1", "U1"))] == ["message"]


def test_mentions_attach_only_the_missing_users(ws: FakeWorkspace) -> None:
    fanout, session = Fanout(), started(ws)
    deliver(fanout, ws, session, message(1, "C1", "U2"))
    frames = deliver(fanout, ws, session, message(2, "C1", "U2", "cc <@U3|carol> <@U1> <@U2> <@U4>"))
    assert frames[0] == {"type": "user_info", "users": [ws.users["U3"], ws.users["U4"]]}
    assert frames[1]["text"].startswith("cc ")
    again = deliver(fanout, ws, session, message(3, "C1", "U4", "<@U3>"))
    assert [f["type"] for f in again] == ["message"]


def test_unknown_users_are_skipped_and_stay_unknown(ws: FakeWorkspace) -> None:
    fanout, session = Fanout(), started(ws)
    assert [f["type"] for f in deliver(fanout, ws, session, message(1, "C1", "U9"))] == ["message"]
    ws.add_user("U9")
    assert [f["type"] for f in deliver(fanout, ws, session, message(2, "C1", "U9"))] == [
        "user_info",
        "message",
    ]


def test_user_change_counts_as_sent(ws: FakeWorkspace) -> None:
    """Decision: a user_change carries the new object to every connection, so the next
    message from that user does not attach it again (and team_join likewise)."""
    fanout, session = Fanout(), started(ws)
    renamed = {**ws.users["U2"], "name": "bobby"}
    ws.users["U2"] = renamed
    frames = deliver(fanout, ws, session, {"type": "user_change", "offset": 1, "user": renamed})
    assert frames == [{"type": "user_change", "offset": 1, "user": renamed}]
    assert [f["type"] for f in deliver(fanout, ws, session, message(2, "C1", "U2"))] == ["message"]
    joined = ws.add_user("U5")
    deliver(fanout, ws, session, {"type": "team_join", "offset": 3, "user": joined})
    assert [f["type"] for f in deliver(fanout, ws, session, message(4, "C1", "U5"))] == ["message"]


def test_message_changed_attaches_the_new_text_mentions(ws: FakeWorkspace) -> None:
    fanout, session = Fanout(), started(ws)
    deliver(fanout, ws, session, message(1, "C1", "U2"))
    edit = {
        "type": "message_changed",
        "subtype": "message_changed",
        "offset": 2,
        "channel": "C1",
        "message": {"user": "U2", "text": "now with <@U3>"},
        "previous_message": {"user": "U2"},
    }
    frames = deliver(fanout, ws, session, edit)
    assert frames[0] == {"type": "user_info", "users": [ws.users["U3"]]}
    assert frames[1]["type"] == "message" and frames[1]["subtype"] == "message_changed"


def test_each_connection_tracks_its_own_users(ws: FakeWorkspace) -> None:
    fanout = Fanout()
    a, b = started(ws, "U1"), started(ws, "U3")
    deliver(fanout, ws, a, message(1, "C1", "U2"))
    delivery = fanout.prepare(message(2, "C1", "U2"), ws)
    a.deliver(delivery), b.deliver(delivery)
    a_frames, b_frames = a.queue.pop_many(), b.queue.pop_many()
    assert len(a_frames) == 1 and len(b_frames) == 2
    assert a_frames[0] is b_frames[1] is delivery.frame  # the very same bytes


def test_hello_shape() -> None:
    hello = build_hello({"id": "U1"}, {"id": "T1", "name": "Acme"}, [{"id": "C1"}], 17, True, 3)
    assert hello == {
        "type": "hello",
        "self": {"id": "U1"},
        "team": {"id": "T1", "name": "Acme"},
        "channels": [{"id": "C1"}],
        "offset": 17,
        "resync": True,
        "resume_from": 3,
    }


def test_hello_size_depends_only_on_the_users_channels() -> None:
    def hello_bytes(others: int) -> bytes:
        ws = FakeWorkspace()
        me = ws.add_user("U1")
        ws.add_channel("C1", ["U1"])
        for i in range(others):
            ws.add_user(f"U{i + 100}")
            ws.add_channel(f"C{i + 100}", [f"U{i + 100}"], public=i % 2 == 0)
        mine = [
            {"id": c, "name": c.lower()} for c in ws.members if ws.can_see("U1", c) and "U1" in ws.members[c]
        ]
        return orjson.dumps(build_hello(me, {"id": "T1"}, mine, 5))

    assert hello_bytes(0) == hello_bytes(5000)


def test_start_queues_hello_then_held_live_frames_once() -> None:
    session = new_session("U1")
    frame = {"type": "message", "offset": 0}
    for offset in (5, 7, 6, 7):  # held while the hello is not out; 7 twice
        session.deliver(Delivery(offset, orjson.dumps({**frame, "offset": offset})))
    session.deliver(Delivery(None, b'{"type":"user_typing"}', ephemeral=True))  # stale: dropped
    session.start(build_hello({"id": "U1"}, {"id": "T1"}, [], 5), 5)
    assert [f.get("offset") for f in drain(session)] == [5, 6, 7]  # hello (offset 5), then 6, 7
    assert session.duplicates == 2 and session.last_offset == 7
    with pytest.raises(RuntimeError):
        session.start({}, 0)


def test_holding_too_much_before_start_closes() -> None:
    session = Session("U1", "T1", queue=SendQueue(capacity=3))
    for offset in range(1, 4):
        assert session.deliver(Delivery(offset, b"{}"))
    assert not session.deliver(Delivery(4, b"{}"))
    assert session.close_code == TOO_SLOW
    assert not session.start({"type": "hello"}, 0)


def test_rate_limit_burst_refill_and_close() -> None:
    session = Session("U1", "T1", rate=RateLimit(per_s=10, burst=5, close_debt=3), now=0.0)
    assert all(session.allow(0.0).ok for _ in range(5))
    refused = session.allow(0.0)
    assert not refused.ok and refused.retry_after == pytest.approx(0.1) and refused.close_code is None
    assert session.allow(0.25).ok  # 2.5 tokens came back, minus the debt of the refused frame
    # Flooding while limited digs the debt deeper, then closes.
    results = [session.allow(0.25) for _ in range(5)]
    assert [r.ok for r in results] == [False] * 5
    assert results[-1].close_code == RATE_LIMITED
    assert results[-2].retry_after < results[-1].retry_after
    assert session.close_code == RATE_LIMITED


def test_rate_limit_sustained_at_the_rate_is_fine() -> None:
    session = Session("U1", "T1", rate=RateLimit(per_s=10, burst=2, close_debt=2), now=0.0)
    assert all(session.allow(i * 0.1).ok for i in range(1000))
