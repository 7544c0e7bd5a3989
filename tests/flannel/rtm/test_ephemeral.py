"""``ephemeral_message`` (chat.postEphemeral) reaches its one recipient's connections, in
Slack's RTM shape, and nobody else: not the channel's other members, not another workspace."""

from __future__ import annotations

from flannel.rtm.fanout import Fanout
from flannel.rtm.frames import wire_event
from flannel.rtm.hello import build_hello
from flannel.rtm.resume import resume
from flannel.rtm.session import Session

from . import FakeWorkspace, drain, new_session

TEAM = "T1"


def workspace() -> FakeWorkspace:
    ws = FakeWorkspace()
    for uid in ("U1", "U2", "U3"):
        ws.add_user(uid)
    ws.add_channel("C1", ["U1", "U2", "U3"])
    ws.add_channel("G1", ["U1", "U2"], public=False)
    return ws


def connect(fanout: Fanout, ws: FakeWorkspace, uid: str, team: str = TEAM) -> Session:
    session = new_session(uid, team, "")
    fanout.add(session)
    session.start(build_hello(ws.users.get(uid, {"id": uid}), {"id": team}, [], 0), 0)
    drain(session)
    return session


def ephemeral(to: str, channel: str = "C1", offset: int = 7) -> dict[str, object]:
    return {
        "type": "ephemeral_message",
        "offset": offset,
        "team": TEAM,
        "event_ts": "1700000000.000100",
        "user": to,
        "channel": channel,
        "channel_type": "C",
        "message": {
            "type": "message",
            "user": "U1",
            "text": "only you can see this",
            "ts": "1700000000.000100",
            "team": TEAM,
            "is_ephemeral": True,
            "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": "hi"}}],
        },
    }


def frames_of(session: Session) -> list[dict[str, object]]:
    return drain(session)


def test_only_the_recipients_connections_get_it_in_slacks_shape() -> None:
    ws, fanout = workspace(), Fanout()
    u1, u2, u2_again, u3 = (connect(fanout, ws, u) for u in ("U1", "U2", "U2", "U3"))
    other_team = connect(fanout, ws, "U2", team="T2")
    routed = fanout.route(TEAM, ephemeral("U2"), ws)
    assert routed.delivered == 2
    assert frames_of(u1) == [] and frames_of(u3) == [] and frames_of(other_team) == []
    for session in (u2, u2_again):
        (got,) = [f for f in frames_of(session) if f["type"] != "user_info"]
        assert got["type"] == "message" and got["is_ephemeral"] is True
        assert (got["channel"], got["user"], got["text"]) == ("C1", "U1", "only you can see this")
        assert got["blocks"] == [{"type": "section", "text": {"type": "mrkdwn", "text": "hi"}}]
        assert "message" not in got


def test_a_recipient_who_can_no_longer_see_the_channel_gets_nothing() -> None:
    ws, fanout = workspace(), Fanout()
    u3 = connect(fanout, ws, "U3")
    assert fanout.route(TEAM, ephemeral("U3", "G1"), ws).delivered == 0
    assert frames_of(u3) == []
    assert not fanout.reaches("U3", ephemeral("U3", "G1"), ws)
    assert fanout.reaches("U2", ephemeral("U2", "G1"), ws)
    assert not fanout.reaches("U1", ephemeral("U2", "G1"), ws)  # the poster is not its recipient


def test_the_wire_shape_keeps_the_offset_for_resume() -> None:
    shaped = wire_event(ephemeral("U2", offset=9))
    assert shaped["offset"] == 9 and shaped["type"] == "message" and shaped["channel"] == "C1"


async def test_a_resuming_client_is_replayed_only_its_own_ephemeral_messages() -> None:
    ws, fanout = workspace(), Fanout()
    events = [ephemeral("U2", offset=1), ephemeral("U3", offset=2)]

    async def read_after(after: int) -> list[dict[str, object]]:
        return [e for e in events if int(str(e["offset"])) > after]

    replayed = []
    for uid in ("U2", "U3", "U1"):
        session = new_session(uid, TEAM, "")
        hello = build_hello(ws.users[uid], {"id": TEAM}, [], 0)
        await resume(
            session,
            hello,
            2,
            0,
            read_after,
            visible=lambda e, uid=uid: fanout.reaches(uid, e, ws),
            prepare=lambda e: fanout.prepare(e, ws),
        )
        replayed.append([f.get("offset") for f in frames_of(session) if f.get("is_ephemeral")])
    assert replayed == [[1], [2], []]
