"""Pins reach the channel's members, DM open/close its one user, emoji and user groups the
whole workspace; nothing reaches a connection that may not see the channel."""

from __future__ import annotations

from flannel.rtm.fanout import Fanout
from flannel.rtm.hello import build_hello
from flannel.rtm.session import Session

from . import FakeWorkspace, drain, new_session

TEAM = "T1"


def setup() -> tuple[FakeWorkspace, Fanout, dict[str, Session]]:
    ws, fanout = FakeWorkspace(), Fanout()
    for uid in ("U1", "U2", "U3"):
        ws.add_user(uid)
    ws.add_channel("C1", ["U1", "U2", "U3"])
    ws.add_channel("G1", ["U1", "U2"], public=False)
    sessions = {}
    for uid in ("U1", "U2", "U3"):
        session = new_session(uid, TEAM, "")
        fanout.add(session)
        session.start(build_hello(ws.users[uid], {"id": TEAM}, [], 0), 0)
        drain(session)
        sessions[uid] = session
    return ws, fanout, sessions


def receivers(event: dict[str, object]) -> set[str]:
    ws, fanout, sessions = setup()
    fanout.route(TEAM, {"offset": 5, "team": TEAM, **event}, ws)
    return {uid for uid, session in sessions.items() if drain(session)}


def test_pins_reach_the_members_of_the_channel_only() -> None:
    item = {"type": "message", "channel": "G1", "message": {"ts": "1.000001"}}
    pinned = {"type": "pin_added", "user": "U1", "channel": "G1", "channel_id": "G1", "item": item}
    assert receivers(pinned) == {"U1", "U2"}
    assert receivers({**pinned, "type": "pin_removed", "has_pins": False}) == {"U1", "U2"}
    assert receivers({**pinned, "channel": "C1", "channel_id": "C1"}) == {"U1", "U2", "U3"}


def test_dm_open_and_close_reach_only_that_user() -> None:
    for kind in ("im_open", "im_close", "mpim_open", "mpim_close"):
        assert receivers({"type": kind, "user": "U2", "channel": "D1"}) == {"U2"}


def test_emoji_and_user_groups_reach_the_workspace() -> None:
    assert receivers({"type": "emoji_changed", "subtype": "add", "name": "party", "value": "x"}) == {
        "U1",
        "U2",
        "U3",
    }
    assert receivers({"type": "subteam_created", "subteam": {"id": "S1"}}) == {"U1", "U2", "U3"}


def test_an_unknown_event_reaches_nobody() -> None:
    assert receivers({"type": "something_new", "channel": "C1", "user": "U1"}) == set()


def test_dnd_reaches_the_user_with_the_snooze_and_the_workspace_without() -> None:
    status = {"dnd_enabled": True, "next_dnd_start_ts": 1, "next_dnd_end_ts": 2}
    assert receivers({"type": "dnd_updated", "user": "U2", "dnd_status": status}) == {"U2"}
    assert receivers({"type": "dnd_updated_user", "user": "U2", "dnd_status": status}) == {"U1", "U2", "U3"}
    assert receivers({"type": "notification_prefs_changed", "user": "U2"}) == set()
