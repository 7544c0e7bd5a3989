"""The per-delivery path kept lean (``sendqueue``, ``session``, ``fanout``): the same answers
as the plain model of each, for any sequence, with nothing allocated per frame."""

from __future__ import annotations

from collections import deque
from typing import Any

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from flannel.access import WorkspaceAccess
from flannel.cache import Workspace
from flannel.rtm import frames
from flannel.rtm.delivery import Delivery, UserInfo
from flannel.rtm.fanout import Fanout
from flannel.rtm.sendqueue import SendQueue
from tests.flannel.cache import base_state, conversation, pages_of

from . import FakeWorkspace, drain, message, new_session

# -- the send queue against a model ------------------------------------------------------------


class ModelQueue:
    """The send queue's rules as plainly as they can be written (a deque of tuples)."""

    def __init__(self, capacity: int, max_bytes: int) -> None:
        self.capacity, self.max_bytes = capacity, max_bytes
        self.items: deque[tuple[bytes, bool]] = deque()
        self.overflowed = False
        self.dropped = self.refused = 0

    def nbytes(self) -> int:
        return sum(len(f) for f, _ in self.items)

    def fits(self, frame: bytes) -> bool:
        return len(self.items) < self.capacity and self.nbytes() + len(frame) <= self.max_bytes

    def put(self, frame: bytes, ephemeral: bool) -> bool:
        if self.overflowed:
            if ephemeral:
                self.dropped += 1
            else:
                self.refused += 1
            return False
        if not self.fits(frame):
            kept = deque(item for item in self.items if not item[1])
            self.dropped += len(self.items) - len(kept)
            self.items = kept
            if not self.fits(frame):
                if ephemeral:
                    self.dropped += 1
                    return True
                self.overflowed = True
                self.refused += 1
                return False
        self.items.append((frame, ephemeral))
        return True


OPS = st.lists(
    st.one_of(
        st.tuples(st.just("put"), st.binary(min_size=1, max_size=9), st.booleans(), st.booleans()),
        st.tuples(st.just("pop"), st.integers(1, 3)),
        st.tuples(st.just("take")),
        st.tuples(st.just("wires")),
        st.tuples(st.just("clear")),
    ),
    max_size=200,
)


@settings(max_examples=300, deadline=None)
@given(ops=OPS, capacity=st.integers(1, 90), max_bytes=st.integers(9, 400))
def test_the_queue_is_the_model(ops: list[tuple[Any, ...]], capacity: int, max_bytes: int) -> None:
    """Any mix of puts (framed already or not, ephemeral or not), pops one at a time (the
    lists compacted behind), whole takes and clears: what comes out, the counters and the
    bounds are the model's."""
    q, model = SendQueue(capacity, max_bytes), ModelQueue(capacity, max_bytes)
    for op in ops:
        if op[0] == "put":
            _, frame, ephemeral, framed = op
            wire = frames.ws_text(frame) if framed else None
            assert q.put(frame, ephemeral, wire) == model.put(frame, ephemeral)
        elif op[0] == "pop":
            want = [model.items.popleft()[0] for _ in range(min(op[1], len(model.items)))]
            assert q.pop_many(op[1]) == want
        elif op[0] == "take":
            assert q.take_wire() == b"".join(frames.ws_text(f) for f, _ in model.items)
            model.items.clear()
        elif op[0] == "wires":
            assert q.pop_wire() == [frames.ws_text(f) for f, _ in model.items]
            model.items.clear()
        else:
            q.clear()
            model.items.clear()
        assert q.queued() == list(model.items)
        assert (len(q), q.nbytes) == (len(model.items), model.nbytes())
        assert len(q) <= capacity and q.nbytes <= max_bytes
        assert (q.overflowed, q.dropped_ephemeral, q.refused) == (
            model.overflowed,
            model.dropped,
            model.refused,
        )


def test_one_frame_is_written_as_the_shared_bytes_and_the_lists_are_kept() -> None:
    """The pre-framed path: one event's frame goes out as the very object every connection
    shares (no copy, no join), and the queue's lists outlive it, emptied in place."""
    q = SendQueue()
    delivery = Delivery(offset=1, frame=b'{"type":"message"}')
    q.put(delivery.frame, False, delivery.wire)
    lists = (q._frames, q._wires)
    assert q.take_wire() is delivery.wire
    assert len(q) == 0 and q.nbytes == 0 and q.take_wire() == b""
    q.put(b"x")
    assert (q._frames, q._wires) == ([b"x"], [frames.ws_text(b"x")])
    assert q._frames is lists[0] and q._wires is lists[1]


# -- sessions: users already known cost no user_info ------------------------------------------


def test_user_info_only_for_the_users_not_sent_yet() -> None:
    ws = FakeWorkspace()
    for uid in ("U1", "U2", "U3"):
        ws.add_user(uid)
    session = new_session("U3")
    session.start({"type": "hello", "self": {"id": "U3"}}, 0)
    drain(session)
    info = UserInfo(ws.user)

    def deliver(offset: int, needs: tuple[str, ...]) -> list[dict[str, Any]]:
        frame = frames.encode(message(offset, "C1", needs[0]))
        assert session.deliver(Delivery(offset, frame, needs=needs, user_info=info))
        return drain(session)

    first = deliver(1, ("U1", "U3"))  # U3 is the session's own user, sent in the hello
    assert [f["type"] for f in first] == ["user_info", "message"]
    assert [u["id"] for u in first[0]["users"]] == ["U1"]
    assert [f["type"] for f in deliver(2, ("U1", "U3"))] == ["message"]  # all known now
    again = deliver(3, ("U1", "U2"))
    assert [u["id"] for u in again[0]["users"]] == ["U2"]  # only the one not sent yet


# -- routing: a public channel checked once per event -----------------------------------------


class Shortcut(FakeWorkspace):
    """A workspace that also says at once whether a channel is visible to every user."""

    def __init__(self) -> None:
        super().__init__()
        self.asked = 0

    def visible_to_all(self, channel_id: str) -> bool:
        self.asked += 1
        return self.public.get(channel_id, False)

    def can_see(self, user_id: str, channel_id: str) -> bool:
        self.asked += 1
        return super().can_see(user_id, channel_id)


@pytest.mark.parametrize("channel", ["C1", "G1", "C404"])
def test_routing_with_the_shortcut_reaches_the_same_sessions(channel: str) -> None:
    plain, short = FakeWorkspace(), Shortcut()
    for ws in (plain, short):
        for uid in ("U1", "U2", "U3", "U4"):
            ws.add_user(uid)
        ws.add_channel("C1", ["U1", "U2", "U3"])
        ws.add_channel("G1", ["U1", "U2"], public=False)
    got = []
    for ws in (plain, short):
        fanout = Fanout()
        sessions = {uid: new_session(uid) for uid in ("U1", "U2", "U3", "U4")}
        for s in sessions.values():
            fanout.add(s)
            s.start({"type": "hello"}, 0)
            drain(s)
        fanout.route("T1", message(1, channel, "U1"), ws)
        fanout.route("T1", {"type": "channel_rename", "offset": 2, "channel": {"id": channel}}, ws)
        got.append({uid: [f["type"] for f in drain(s)] for uid, s in sessions.items()})
    assert got[0] == got[1]
    if channel == "C1":
        assert short.asked == 2  # once per event, not once per member


def test_the_workspaces_shortcut_is_its_visibility_rule() -> None:
    """``WorkspaceAccess.visible_to_all`` is true exactly for the channels every user may see,
    whatever the channel object says or does not say (a missing ``is_private`` is private)."""
    state = base_state()
    unsaid = conversation("C9", "unsaid", members=("U1",))
    del unsaid["is_private"]
    state.channels["C9"] = unsaid
    state.members["C9"] = {"U1"}
    ws = Workspace.from_pages(pages_of(state))
    access = WorkspaceAccess(ws)
    users = [*state.users, "U404"]
    for channel_id in [*state.channels, "C404"]:
        everyone = all(ws.can_see(uid, channel_id) for uid in users)
        assert access.visible_to_all(channel_id) == everyone, channel_id
    assert access.visible_to_all("C1") and not access.visible_to_all("G1") and not access.visible_to_all("C9")


# -- routing: a channel's recipients kept between its messages ---------------------------------

PEOPLE = ("U1", "U2", "U3", "U4")
CHANNELS = ("C1", "C2", "G1")
op = st.one_of(
    st.tuples(st.just("connect"), st.sampled_from(PEOPLE)),
    st.tuples(st.just("leave_edge"), st.sampled_from(PEOPLE)),
    st.tuples(st.just("join"), st.sampled_from(PEOPLE), st.sampled_from(CHANNELS)),
    st.tuples(st.just("part"), st.sampled_from(PEOPLE), st.sampled_from(CHANNELS)),
    st.tuples(st.just("message"), st.sampled_from(CHANNELS)),
    st.tuples(st.just("reaction"), st.sampled_from(CHANNELS)),
    st.tuples(
        st.just("reload"),
    ),
)


def small_workspace() -> FakeWorkspace:
    ws = FakeWorkspace()
    for uid in PEOPLE:
        ws.add_user(uid)
    ws.add_channel("C1", ["U1", "U2"])
    ws.add_channel("C2", ["U3"])
    ws.add_channel("G1", ["U1", "U4"], public=False)
    return ws


@settings(max_examples=300, deadline=None)
@given(st.lists(op, max_size=40))
@example([("connect", "U3"), ("message", "C1"), ("join", "U3", "C1"), ("message", "C1")])
@example([("connect", "U1"), ("message", "G1"), ("part", "U1", "G1"), ("reaction", "G1")])
@example([("connect", "U2"), ("message", "C1"), ("connect", "U2"), ("message", "C1")])
@example([("connect", "U2"), ("message", "C1"), ("reload",), ("message", "C1")])
def test_kept_routes_reach_exactly_who_working_them_out_reaches(ops: list[tuple[Any, ...]]) -> None:
    ws = small_workspace()
    fanouts = [Fanout(keep_routes=True), Fanout(keep_routes=False)]
    sessions: list[dict[str, list[Any]]] = [{}, {}]
    offset = 0
    for o in ops:
        offset += 1
        kind = o[0]
        if kind == "reload":  # a resync: a new workspace object, whose snapshot differs (U2 in C1)
            fresh = small_workspace()
            fresh.members = {c: set(m) for c, m in ws.members.items()}
            fresh.members["C1"] ^= {"U2"}
            ws = fresh
            continue
        if kind in ("connect", "leave_edge"):
            for fanout, mine in zip(fanouts, sessions, strict=True):
                if kind == "connect":
                    s = new_session(o[1])
                    fanout.add(s)
                    s.start({"type": "hello"}, offset)
                    drain(s)
                    mine.setdefault(o[1], []).append(s)
                elif mine.get(o[1]):
                    fanout.remove(mine[o[1]].pop())
            continue
        if kind in ("join", "part"):
            members = ws.members[o[2]]
            (members.add if kind == "join" else members.discard)(o[1])  # applied, then routed
            event: dict[str, Any] = {
                "type": "member_joined_channel" if kind == "join" else "member_left_channel",
                "offset": offset,
                "channel": o[2],
                "user": o[1],
            }
        elif kind == "message":
            event = message(offset, o[1], "U1")
        else:
            event = {
                "type": "reaction_added",
                "offset": offset,
                "user": "U2",
                "reaction": "tada",
                "item": {"type": "message", "channel": o[1], "ts": "1700000000.000001"},
            }
        got = []
        for fanout, mine in zip(fanouts, sessions, strict=True):
            fanout.route("T1", event, ws)
            got.append(
                sorted(
                    (uid, [(f["type"], f.get("offset", 0)) for f in drain(s)])
                    for uid, ss in mine.items()
                    for s in ss
                )
            )
        assert got[0] == got[1], o
