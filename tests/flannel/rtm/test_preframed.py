"""Frames built once: WebSocket framing of a payload, the send queue's pre-framed bytes, each
user's JSON encoded once for user_info frames, and only the routed sessions woken."""

from __future__ import annotations

import orjson
import pytest
from websockets.frames import Frame, Opcode
from websockets.streams import StreamReader

from flannel.rtm import frames
from flannel.rtm.delivery import Delivery, UserInfo, UserJson
from flannel.rtm.fanout import Fanout
from flannel.rtm.hello import build_hello
from flannel.rtm.sendqueue import SendQueue
from flannel.rtm.session import Session

from . import FakeWorkspace, drain, message, new_session


def parse(data: bytes) -> list[Frame]:
    """WebSocket frames as a client parses them (unmasked, server to client)."""
    reader = StreamReader()
    reader.feed_data(data)
    reader.feed_eof()
    out = []
    while reader.buffer:
        parser = Frame.parse(reader.read_exact, mask=False)
        try:
            while True:
                next(parser)
        except StopIteration as done:
            out.append(done.value)
    return out


@pytest.mark.parametrize("size", [0, 1, 125, 126, 127, 65535, 65536, 70000])
def test_a_payload_is_one_final_text_frame_of_any_length(size: int) -> None:
    payload = b"x" * size
    (frame,) = parse(frames.ws_text(payload))
    assert frame.opcode is Opcode.TEXT and frame.fin and frame.data == payload
    assert not (frame.rsv1 or frame.rsv2 or frame.rsv3)


def test_frames_queued_one_after_another_parse_back_in_order() -> None:
    q = SendQueue()
    delivery = Delivery(offset=1, frame=b'{"type":"message","offset":1}')
    q.put(b'{"type":"hello"}')  # framed when written
    q.put(delivery.frame, False, delivery.wire)  # framed once, shared
    q.put(b'{"type":"user_typing"}', True)
    wires = q.pop_wire()
    assert wires[1] is delivery.wire and len(q) == 0 and q.nbytes == 0
    assert [f.data for f in parse(b"".join(wires))] == [
        b'{"type":"hello"}',
        b'{"type":"message","offset":1}',
        b'{"type":"user_typing"}',
    ]


def test_pre_framed_bytes_stay_with_their_frame_when_ephemeral_ones_are_purged() -> None:
    q = SendQueue(capacity=3)
    assert q.put(b"typing-1", True) and q.put(b"event-1", False, frames.ws_text(b"event-1"))
    assert q.put(b"typing-2", True)
    assert q.put(b"event-2", False, frames.ws_text(b"event-2"))  # full: the ephemeral go
    assert q.dropped_ephemeral == 2
    assert [f.data for f in parse(b"".join(q.pop_wire()))] == [b"event-1", b"event-2"]


def test_a_delivery_is_framed_once_when_built() -> None:
    delivery = Delivery(offset=None, frame=b'{"type":"user_typing"}', ephemeral=True)
    assert delivery.wire == frames.ws_text(delivery.frame)


def test_user_info_from_kept_json_is_byte_for_byte_the_encoded_frame() -> None:
    ws = FakeWorkspace()
    alice, bob = ws.add_user("U1"), ws.add_user("U2")
    alice["profile"]["title"] = "ünïcode ✓"
    kept = UserJson()
    joined = UserInfo(ws.user, encoded=kept.lookup("T1", ws.user)).frame(("U1", "U2", "U9"))
    whole = UserInfo(ws.user).frame(("U1", "U2", "U9"))
    assert joined is not None and whole is not None
    assert joined[0] == whole[0] == orjson.dumps({"type": "user_info", "users": [alice, bob]})
    assert joined[1] == ("U1", "U2") and joined[2] == frames.ws_text(joined[0])


def test_a_users_json_is_encoded_once_until_the_user_changes() -> None:
    calls: list[object] = []

    def encode(obj: object) -> bytes:
        calls.append(obj)
        return orjson.dumps(obj)

    ws = FakeWorkspace()
    user = ws.add_user("U1")
    kept = UserJson(encode)
    first = kept.encoded("T1", user)
    assert kept.encoded("T1", user) is first and len(calls) == 1
    ws.users["U1"] = {**user, "name": "renamed"}  # the cache replaces the object on user_change
    assert orjson.loads(kept.encoded("T1", ws.users["U1"]))["name"] == "renamed"
    kept.forget("T1", "U1")
    kept.encoded("T1", ws.users["U1"])
    assert len(calls) == 3
    assert kept.encoded("T2", ws.users["U1"]) and len(kept) == 2  # per workspace


def test_the_fanout_encodes_a_user_once_across_events_and_sees_their_changes() -> None:
    ws = FakeWorkspace()
    for uid in ("U1", "U2", "U3"):
        ws.add_user(uid)
    ws.add_channel("C1", ["U1", "U2", "U3"])
    fanout = Fanout()
    sessions = [_connect(fanout, ws, uid) for uid in ("U2", "U3")]
    fanout.route("T1", message(1, "C1", "U1"), ws)
    first = [drain(s) for s in sessions]
    assert all(f[0] == {"type": "user_info", "users": [ws.users["U1"]]} for f in first)
    renamed = {**ws.users["U1"], "name": "alice2"}
    ws.users["U1"] = renamed
    fanout.route("T1", {"type": "user_change", "offset": 2, "user": renamed}, ws)
    newcomer = _connect(fanout, ws, "U3")
    fanout.route("T1", message(3, "C1", "U1"), ws)
    got = drain(newcomer)
    assert got[0] == {"type": "user_info", "users": [renamed]} and got[1]["offset"] == 3


def test_only_the_sessions_an_event_reaches_are_woken() -> None:
    ws = FakeWorkspace()
    for uid in ("U1", "U2", "U3", "U4"):
        ws.add_user(uid)
    ws.add_channel("G1", ["U1", "U2"], public=False)
    fanout = Fanout()
    sessions = {uid: _connect(fanout, ws, uid) for uid in ("U1", "U2", "U3", "U4")}
    routed = fanout.route("T1", message(1, "G1", "U1"), ws)
    assert sorted(s.user_id for s in routed.woken) == ["U1", "U2"] and routed.delivered == 2
    assert all(len(sessions[u].queue) == 0 for u in ("U3", "U4"))


def _connect(fanout: Fanout, ws: FakeWorkspace, uid: str) -> Session:
    session = new_session(uid)
    fanout.add(session)
    session.start(build_hello(ws.users[uid], {"id": "T1"}, [], 0), 0)
    drain(session)
    return session
