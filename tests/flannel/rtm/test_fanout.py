"""Fanout: who receives what, isolation, encode once, revocation and slow consumers."""

from __future__ import annotations

from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from flannel.rtm.fanout import Fanout
from flannel.rtm.hello import build_hello
from flannel.rtm.session import Session
from wire.closecodes import ACCOUNT_INACTIVE, TOKEN_REVOKED, TOO_SLOW

from . import FakeWorkspace, drain, message, new_session

USERS = ("U1", "U2", "U3", "U4")


class Spy:
    def __init__(self) -> None:
        self.calls: list[Any] = []

    def __call__(self, obj: Any) -> bytes:
        self.calls.append(obj)
        return orjson.dumps(obj)


@pytest.fixture
def ws() -> FakeWorkspace:
    ws = FakeWorkspace()
    for uid in USERS:
        ws.add_user(uid)
    ws.add_channel("C1", ["U1", "U2"])  # public, U3 and U4 not members
    ws.add_channel("G1", ["U1", "U2"], public=False)
    ws.add_channel("D1", ["U1", "U3"], public=False)  # a DM
    return ws


def connect(fanout: Fanout, ws: FakeWorkspace, uid: str, team: str = "T1", token: str = "") -> Session:
    session = new_session(uid, team, token)
    fanout.add(session)
    session.start(build_hello(ws.users.get(uid, {"id": uid}), {"id": team}, [], 0), 0)
    drain(session)
    return session


def everyone(fanout: Fanout, ws: FakeWorkspace) -> dict[str, Session]:
    return {uid: connect(fanout, ws, uid) for uid in USERS}


def receivers(sessions: dict[str, Session]) -> set[str]:
    return {uid for uid, s in sessions.items() if drain(s)}


def test_channel_messages_reach_members_only(ws: FakeWorkspace) -> None:
    fanout = Fanout()
    sessions = everyone(fanout, ws)
    for offset, channel, members in (
        (1, "C1", {"U1", "U2"}),
        (2, "G1", {"U1", "U2"}),
        (3, "D1", {"U1", "U3"}),
    ):
        routed = fanout.route("T1", message(offset, channel, "U1"), ws)
        assert routed.delivered == 2 and not routed.closing
        assert receivers(sessions) == members, channel


def test_can_see_has_the_last_word(ws: FakeWorkspace) -> None:
    fanout = Fanout()
    sessions = everyone(fanout, ws)
    ws.members["G1"].add("U4")  # a member the visibility predicate still refuses
    ws.can_see = lambda user_id, channel_id: user_id != "U4"  # type: ignore[method-assign]
    fanout.route("T1", message(1, "G1", "U1"), ws)
    assert receivers(sessions) == {"U1", "U2"}


def test_other_workspaces_never_hear(ws: FakeWorkspace) -> None:
    fanout = Fanout()
    mine = connect(fanout, ws, "U1")
    twin = connect(fanout, ws, "U1", team="T2")  # same user id, another tenant
    fanout.route("T1", {"type": "user_change", "offset": 1, "user": ws.users["U2"]}, ws)
    fanout.route("T1", message(2, "C1", "U2"), ws)
    assert [f["type"] for f in drain(mine)] == ["user_change", "message"] and drain(twin) == []
    assert fanout.route("T9", message(3, "C1", "U2"), ws).delivered == 0


def test_reactions_and_edits_follow_the_channel(ws: FakeWorkspace) -> None:
    fanout = Fanout()
    sessions = everyone(fanout, ws)
    reaction = {
        "type": "reaction_added",
        "offset": 1,
        "user": "U3",
        "reaction": "+1",
        "item_user": "U1",
        "item": {"type": "message", "channel": "D1", "ts": "1.0"},
        "channel_type": "D",
    }
    fanout.route("T1", reaction, ws)
    assert receivers(sessions) == {"U1", "U3"}
    deleted = {
        "type": "message_deleted",
        "subtype": "message_deleted",
        "offset": 2,
        "channel": "G1",
        "deleted_ts": "1.0",
        "previous_message": {"user": "U1", "text": "secret"},
    }
    fanout.route("T1", deleted, ws)
    got = [drain(sessions[u]) for u in USERS]
    assert [len(g) for g in got] == [1, 1, 0, 0]
    assert got[0][0]["type"] == "message" and got[0][0]["subtype"] == "message_deleted"


def test_membership_events_reach_the_member_who_left(ws: FakeWorkspace) -> None:
    fanout = Fanout()
    sessions = everyone(fanout, ws)
    ws.members["G1"].discard("U2")  # routed after the cache applied the event
    left = {"type": "member_left_channel", "offset": 1, "channel": "G1", "user": "U2", "channel_type": "G"}
    fanout.route("T1", left, ws)
    assert receivers(sessions) == {"U1", "U2"}
    ws.members["G1"].add("U4")
    joined = {
        "type": "member_joined_channel",
        "offset": 2,
        "channel": "G1",
        "user": "U4",
        "channel_type": "G",
    }
    fanout.route("T1", joined, ws)
    assert receivers(sessions) == {"U1", "U4"}


def test_channel_metadata_follows_visibility(ws: FakeWorkspace) -> None:
    fanout = Fanout()
    sessions = everyone(fanout, ws)
    fanout.route("T1", {"type": "channel_rename", "offset": 1, "channel": {"id": "C1", "name": "x"}}, ws)
    assert receivers(sessions) == set(USERS)
    fanout.route("T1", {"type": "channel_archive", "offset": 2, "channel": "G1", "user": "U1"}, ws)
    assert receivers(sessions) == {"U1", "U2"}


def test_channel_created(ws: FakeWorkspace) -> None:
    fanout = Fanout()
    sessions = everyone(fanout, ws)
    public = {"id": "C2", "is_channel": True, "is_private": False, "is_im": False, "is_mpim": False}
    fanout.route("T1", {"type": "channel_created", "offset": 1, "channel": public, "members": ["U1"]}, ws)
    assert receivers(sessions) == set(USERS)
    private = {**public, "id": "G2", "is_private": True}
    fanout.route(
        "T1", {"type": "channel_created", "offset": 2, "channel": private, "members": ["U2", "U3"]}, ws
    )
    assert receivers(sessions) == {"U2", "U3"}
    dm = {**public, "id": "D2", "is_channel": False, "is_im": True}
    fanout.route("T1", {"type": "channel_created", "offset": 3, "channel": dm, "members": ["U4"]}, ws)
    assert receivers(sessions) == {"U4"}


def test_workspace_wide_and_personal_events(ws: FakeWorkspace) -> None:
    fanout = Fanout()
    sessions = everyone(fanout, ws)
    second = connect(fanout, ws, "U2")
    fanout.route("T1", {"type": "team_join", "offset": 1, "user": ws.add_user("U5")}, ws)
    assert receivers(sessions) == set(USERS) and drain(second)
    fanout.route(
        "T1", {"type": "channel_marked", "offset": 2, "channel": "C1", "user": "U2", "ts": "1.0"}, ws
    )
    assert receivers(sessions) == {"U2"} and drain(second)
    fanout.route("T1", {"type": "surprise", "offset": 3, "channel": "C1"}, ws)  # unknown: nobody
    assert receivers(sessions) == set()


def test_encode_once_for_every_connection(ws: FakeWorkspace) -> None:
    spy = Spy()
    fanout = Fanout(encode=spy)
    members = [f"M{i}" for i in range(200)]
    for uid in members:
        ws.add_user(uid)
    ws.add_channel("C9", ["U1", *members])
    sessions = [connect(fanout, ws, uid) for uid in members for _ in range(2)]
    spy.calls.clear()
    routed = fanout.route("T1", message(1, "C9", "U1"), ws)
    assert routed.delivered == 400
    # the event once, and the sender's user_info once: the same set was missing everywhere
    assert [c["type"] for c in spy.calls] == ["message", "user_info"]
    frames = [s.queue.pop_many() for s in sessions]
    assert all(f[1] is frames[0][1] and f[0] is frames[0][0] for f in frames)
    # now half of them know U1 and a mention of U2 is new to everyone: still one event encode,
    # one user_info per distinct missing set ({U2} and {U1, U2})
    for s in sessions[::2]:
        s.known.discard("U1")
    spy.calls.clear()
    fanout.route("T1", message(2, "C9", "U1", "hi <@U2>"), ws)
    assert sorted(c["type"] for c in spy.calls) == ["message", "user_info", "user_info"]


def test_no_encode_when_nobody_listens(ws: FakeWorkspace) -> None:
    spy = Spy()
    fanout = Fanout(encode=spy)
    connect(fanout, ws, "U4")
    spy.calls.clear()
    fanout.route("T1", message(1, "G1", "U1"), ws)
    assert spy.calls == []


def test_token_revocation_closes_that_tokens_connections_only(ws: FakeWorkspace) -> None:
    fanout = Fanout()
    web = connect(fanout, ws, "U1", token="h1")
    phone = connect(fanout, ws, "U1", token="h1")
    other = connect(fanout, ws, "U1", token="h2")
    elsewhere = connect(fanout, ws, "U1", team="T2", token="h1")
    bystander = connect(fanout, ws, "U2", token="h3")
    revoked = {
        "type": "token_revoked",
        "offset": 1,
        "user": "U1",
        "token_hash": "h1",
        "tokens": {"oauth": ["U1"], "bot": []},
    }
    routed = fanout.route("T1", revoked, ws)
    assert set(routed.closing) == {web, phone}
    assert web.close_code == phone.close_code == TOKEN_REVOKED
    assert other.close_code is None and elsewhere.close_code is None and bystander.close_code is None
    assert all(not drain(s) for s in (web, phone, other, bystander))  # the event itself goes nowhere
    assert fanout.route("T1", message(2, "C1", "U2"), ws).delivered == 2  # closing sessions skipped
    assert not web.queue and not phone.queue
    fanout.remove(web)
    fanout.remove(phone)
    assert len(fanout) == 3


def test_deactivation_closes_the_users_connections(ws: FakeWorkspace) -> None:
    fanout = Fanout()
    sessions = everyone(fanout, ws)
    gone = {**ws.users["U3"], "deleted": True}
    routed = fanout.route("T1", {"type": "user_change", "offset": 1, "user": gone}, ws)
    assert routed.closing == [sessions["U3"]] and sessions["U3"].close_code == ACCOUNT_INACTIVE
    assert receivers(sessions) == set(USERS)


def test_slow_consumer_is_closed_for_resume(ws: FakeWorkspace) -> None:
    fanout = Fanout()
    slow = new_session("U1", capacity=3)
    fanout.add(slow)
    slow.start({"type": "hello", "self": ws.users["U1"]}, 0)
    fast = connect(fanout, ws, "U2")
    closing = [fanout.route("T1", message(i, "C1", "U1"), ws).closing for i in range(1, 5)]
    assert closing == [[], [], [slow], []]
    assert slow.close_code == TOO_SLOW
    assert [f["type"] for f in drain(fast)] == ["user_info"] + ["message"] * 4


def test_typing_is_ephemeral_and_for_other_members(ws: FakeWorkspace) -> None:
    fanout = Fanout()
    sessions = everyone(fanout, ws)
    routed = fanout.typing("T1", "U1", "D1", ws)
    assert routed is not None and routed.delivered == 1
    assert drain(sessions["U3"]) == [{"type": "user_typing", "channel": "D1", "user": "U1"}]
    assert receivers(sessions) == set()
    assert fanout.typing("T1", "U4", "G1", ws) is None  # not a member
    assert fanout.typing("T1", "U4", "C1", ws) is None  # can see, but not a member


def test_registry() -> None:
    fanout = Fanout()
    a, b, c = new_session("U1"), new_session("U1"), new_session("U2", team="T2")
    for s in (a, b, c):
        fanout.add(s)
    assert len(fanout) == 3 and set(fanout.sessions("T1")) == {a, b} and len(fanout.sessions()) == 3
    for s in (a, b, c):
        fanout.remove(s)
        fanout.remove(s)  # idempotent
    assert len(fanout) == 0 and fanout.sessions() == [] and not fanout._teams and not fanout._tokens


EVENT_KINDS = (
    "message",
    "file_shared",
    "file_deleted",
    "file_change",
    "message_changed",
    "reaction_added",
    "member_joined_channel",
    "member_left_channel",
    "channel_topic",
    "channel_created",
    "user_change",
    "channel_marked",
    "token_revoked",
)


@settings(max_examples=200, deadline=None)
@given(
    memberships=st.dictionaries(st.sampled_from(["C1", "G1", "D1"]), st.sets(st.sampled_from(USERS))),
    kind=st.sampled_from(EVENT_KINDS),
    channel=st.sampled_from(["C1", "G1", "D1", "C404"]),
    subject=st.sampled_from(USERS),
)
def test_route_agrees_with_reaches(
    memberships: dict[str, set[str]], kind: str, channel: str, subject: str
) -> None:
    """Live routing and the replay filter apply the same rules; private data stays with members."""
    ws = FakeWorkspace()
    for uid in USERS:
        ws.add_user(uid)
    for cid in ("C1", "G1", "D1"):
        ws.add_channel(cid, memberships.get(cid, set()), public=cid == "C1")
    event: dict[str, Any] = {"type": kind, "offset": 1, "channel": channel, "user": subject}
    if kind == "reaction_added":
        event["item"] = {"type": "message", "channel": channel, "ts": "1.0"}
    if kind == "user_change":
        event["user"] = ws.users[subject]
    if kind == "channel_created":
        event["channel"] = {"id": channel, "is_channel": channel[0] != "D", "is_private": channel[0] != "C"}
        event["members"] = sorted(ws.members_of(channel))
    if kind == "message_changed":
        event["message"] = {"user": subject, "text": "x"}
    if kind in ("file_deleted", "file_change"):
        event = {"type": kind, "offset": 1, "file_id": "F1", "user_id": subject}
        if kind == "file_deleted":
            event["channel_ids"] = [channel]
    fanout = Fanout()
    sessions = {uid: connect(fanout, ws, uid) for uid in USERS}
    fanout.route("T1", event, ws)
    got = receivers(sessions)
    assert got == {uid for uid in USERS if fanout.reaches(uid, event, ws)}
    if channel[0] != "C" and kind not in ("user_change", "channel_marked"):
        own = kind.startswith("member_") or kind in ("file_deleted", "file_change")
        allowed = ws.members_of(channel) | ({subject} if own else set())
        assert got <= allowed


def test_file_events_reach_who_may_see_the_file(ws: FakeWorkspace) -> None:
    """file_shared follows its channel; file_deleted the channels it was shared in plus whoever
    deleted it; file_change only the user who changed it. Never a non-member of a private one."""
    fanout = Fanout()
    sessions = everyone(fanout, ws)
    shared = {"type": "file_shared", "offset": 1, "file_id": "F1", "channel": "G1", "user_id": "U1"}
    fanout.route("T1", shared, ws)
    assert receivers(sessions) == {"U1", "U2"}
    deleted = {
        "type": "file_deleted",
        "offset": 2,
        "file_id": "F1",
        "channel_ids": ["G1", "D1"],
        "user_id": "U4",
    }
    fanout.route("T1", deleted, ws)
    assert receivers(sessions) == {"U1", "U2", "U3", "U4"}
    deleted = {"type": "file_deleted", "offset": 3, "file_id": "F2", "channel_ids": ["G1"], "user_id": "U1"}
    fanout.route("T1", deleted, ws)
    assert receivers(sessions) == {"U1", "U2"}
    changed = {"type": "file_change", "offset": 4, "file_id": "F1", "file": {"id": "F1"}, "user_id": "U2"}
    fanout.route("T1", changed, ws)
    assert receivers(sessions) == {"U2"}
