"""The pure presence and typing decisions, without sockets."""

from __future__ import annotations

import math

import pytest

from flannel.presence.coalesce import Coalescer, plan
from flannel.presence.local import LocalPresence
from flannel.presence.subscriptions import Subscriptions
from flannel.presence.table import PresenceTable
from flannel.presence.typing_gate import CAP, RATE, TypingGate
from flannel.rtm import frames
from wire import bus
from wire.bus import BusError, Counts
from wire.presence import ACTIVE, AWAY, MAX_PRESENCE_SUB, TypingBoard, parse_ids

# -- the bus envelopes -------------------------------------------------------------------------


def test_envelopes_round_trip() -> None:
    envelopes: list[bus.Envelope] = [
        bus.Presence("T1", "edge-a", "edge-a", 9.0, {"U1": Counts(1, 2, 10.5), "U2": None}, full=True),
        bus.Presence("T1", "origin", manual={"U1": True}),
        bus.Typing("T1", "edge-a", "C1", "U1"),
        bus.UserFrame("T1", "notifier", "U1", {"type": "desktop_notification", "title": "hi"}),
    ]
    for envelope in envelopes:
        assert bus.decode(bus.encode(envelope)) == envelope


def test_channel_is_per_workspace() -> None:
    assert bus.channel("T1") != bus.channel("T2")
    assert bus.team_of(bus.channel("T1")) == "T1"
    assert bus.team_of("flannel:other") is None


@pytest.mark.parametrize(
    "raw",
    [
        b"not json",
        b"[]",
        b'{"v": 2, "kind": "typing", "team": "T1", "sender": "", "channel": "C1", "user": "U1"}',
        b'{"v": 1, "kind": "shout", "team": "T1", "sender": ""}',
        b'{"v": 1, "kind": "typing", "team": "T1", "sender": "", "channel": 5, "user": "U1"}',
        b'{"v": 1, "kind": "user_frame", "team": "T1", "sender": "", "user": "U1", "frame": {}}',
        b'{"v": 1, "kind": "presence", "team": "T1", "sender": "", "users": {"U1": [2, 1, 0]}}',
        b'{"v": 1, "kind": "presence", "team": "T1", "sender": "", "ttl_s": -1}',
        b'{"v": 1, "kind": "presence", "team": "", "sender": ""}',
    ],
)
def test_malformed_envelopes_are_refused(raw: bytes) -> None:
    with pytest.raises(BusError):
        bus.decode(raw)


# -- local counts ------------------------------------------------------------------------------


def test_local_counts_wait_for_manual_then_report_changes() -> None:
    local = LocalPresence(away_after_s=60)
    assert local.connect("U1", 1, now=0.0) is True
    assert local.take_dirty(0.0) == {}  # manual away not known yet: nothing reported
    local.set_manual("U1", False)
    assert local.take_dirty(0.0) == {"U1": Counts(1, 1, 0.0)}
    assert local.connect("U1", 2, now=1.0) is False
    assert local.take_dirty(1.0) == {"U1": Counts(2, 2, 1.0)}
    local.touch("U1", 2.0)  # already active: no report for every frame
    assert local.take_dirty(2.0) == {}


def test_auto_away_after_inactivity_and_back() -> None:
    local = LocalPresence(away_after_s=60)
    local.connect("U1", 1, now=0.0)
    local.set_manual("U1", False)
    local.take_dirty(0.0)
    local.sweep(30.0)
    assert local.take_dirty(30.0) == {}
    local.sweep(61.0)
    assert local.take_dirty(61.0) == {"U1": Counts(0, 1, 0.0)}
    local.touch("U1", 70.0)
    assert local.take_dirty(70.0) == {"U1": Counts(1, 1, 70.0)}


def test_bots_stay_active_and_manual_away_counts_nothing() -> None:
    local = LocalPresence(away_after_s=60)
    local.connect("B1", 1, now=0.0, bot=True)
    local.set_manual("B1", False)
    local.connect("U1", 2, now=0.0)
    local.set_manual("U1", True)
    assert local.take_dirty(0.0) == {"B1": Counts(1, 1, 0.0), "U1": Counts(0, 1, 0.0)}
    local.sweep(1000.0)
    assert local.take_dirty(1000.0) == {}
    local.set_manual("U1", False)
    assert local.take_dirty(1000.0) == {}  # idle since 0: still away, nothing new to say
    assert LocalPresence(60, bots_always_active=False).counts("B1", 0) is None


def test_last_disconnect_reports_none_and_forgets() -> None:
    local = LocalPresence(away_after_s=60)
    local.connect("U1", 1, now=0.0)
    local.set_manual("U1", False)
    local.take_dirty(0.0)
    local.disconnect("U1", 1)
    assert local.take_dirty(1.0) == {"U1": None}
    assert "U1" not in local


# -- the aggregate over edges ------------------------------------------------------------------


def test_active_when_any_live_edge_has_an_active_connection() -> None:
    table = PresenceTable()
    assert table.report("a", {"U1": Counts(0, 1)}) == {}
    assert table.presence("U1") == AWAY
    assert table.report("b", {"U1": Counts(1, 1)}, expires=10.0) == {"U1": ACTIVE}
    assert table.report("a", {"U1": Counts(1, 1)}) == {}
    assert table.report("b", {"U1": None}, expires=10.0) == {}
    assert table.report("a", {"U1": None}) == {"U1": AWAY}


def test_a_dead_edge_stops_counting_when_its_report_expires() -> None:
    table = PresenceTable()
    table.report("a", {"U1": Counts(1, 1)}, expires=math.inf)
    table.report("dead", {"U2": Counts(1, 1), "U1": Counts(1, 1)}, expires=10.0)
    table.heartbeat("dead", 20.0)
    assert table.expire(15.0) == {}
    assert table.expire(20.0) == {"U2": AWAY}  # U1 is still active on edge a
    assert table.presence("U1") == ACTIVE
    assert table.edges() == ["a"]


def test_a_full_report_replaces_the_edge_report() -> None:
    table = PresenceTable()
    table.report("b", {"U1": Counts(1, 1), "U2": Counts(1, 1)}, expires=10.0)
    assert table.report("b", {"U2": Counts(1, 1)}, expires=10.0, full=True) == {"U1": AWAY}


# -- subscriptions and coalescing --------------------------------------------------------------


def test_subscriptions_replace_and_index() -> None:
    subs = Subscriptions()
    assert subs.replace(1, ["U1", "U2"]) == ["U1", "U2"]
    assert subs.replace(1, ["U2", "U3"]) == ["U3"]
    assert subs.subscribers("U1") == set()
    assert subs.subscribers("U2") == {1}
    subs.drop(1)
    assert subs.subscribers("U2") == set() and len(subs) == 0


def test_coalescing_batches_and_drops_flaps() -> None:
    co = Coalescer(window_s=0.25)
    co.add({"U1": AWAY}, now=0.0)
    co.add({"U2": AWAY, "U3": ACTIVE}, now=0.1)
    co.add({"U1": ACTIVE}, now=0.2)  # back before the window closed: never sent
    assert not co.due(0.2)
    assert co.due(0.25)
    assert co.flush() == {AWAY: ["U2"], ACTIVE: ["U3"]}
    assert not co.due(10.0)


def test_plan_sends_each_subscriber_only_whom_it_watches_encoded_once() -> None:
    subs = Subscriptions()
    subs.replace(1, ["U1", "U2"])
    subs.replace(2, ["U1", "U2"])
    subs.replace(3, ["U2"])
    subs.replace(4, ["U9"])
    planned = plan({AWAY: ["U1", "U2"]}, subs)
    assert planned == {(AWAY, ("U1", "U2")): [1, 2], (AWAY, ("U2",)): [3]}


def test_presence_change_is_slacks_batch_shape() -> None:
    assert frames.presence_change(["U1", "U2"], AWAY) == (
        b'{"type":"presence_change","users":["U1","U2"],"presence":"away"}'
    )


# -- typing ------------------------------------------------------------------------------------


def test_typing_once_per_channel_per_interval_per_connection() -> None:
    gate = TypingGate(interval_s=3.0, member_cap=1000)
    assert gate.check(1, "C1", 10, now=0.0) is None
    assert gate.check(1, "C1", 10, now=2.9) == RATE
    assert gate.check(1, "C2", 10, now=2.9) is None
    assert gate.check(2, "C1", 10, now=2.9) is None  # another connection
    assert gate.check(1, "C1", 10, now=3.0) is None
    assert gate.check(1, "C3", 1001, now=0.0) == CAP
    gate.drop(1)
    assert gate.check(1, "C1", 10, now=3.1) is None


def test_typing_board_expires_without_a_stop() -> None:
    board = TypingBoard(expiry_s=5.0)
    board.saw("C1", "U1", 0.0)
    board.saw("C1", "U2", 1.0)
    assert board.typing("C1", 4.9) == ["U1", "U2"]
    assert board.typing("C1", 5.0) == ["U2"]
    board.saw("C1", "U2", 5.5)  # typed again: shown again
    assert board.typing("C1", 10.0) == ["U2"]
    assert board.typing("C1", 10.5) == []
    board.saw("C2", "U1", 0.0)
    board.stopped("C2", "U1")
    assert board.channels(0.0) == {}


# -- client frames -----------------------------------------------------------------------------


def test_presence_sub_ids_are_checked() -> None:
    assert parse_ids(["U1", "U2", "U1"]) == ["U1", "U2"]
    assert parse_ids([f"U{i}" for i in range(MAX_PRESENCE_SUB)]) == [f"U{i}" for i in range(500)]
    assert "at most 500" in str(parse_ids([f"U{i}" for i in range(501)]))
    assert isinstance(parse_ids("U1"), str)
    assert isinstance(parse_ids([1, 2]), str)
    assert isinstance(parse_ids([""]), str)


def test_presence_frames_parse_or_say_why_not() -> None:
    assert frames.parse(b'{"type": "presence_sub", "ids": ["U1"]}') == frames.PresenceSub(None, ("U1",))
    assert frames.parse(b'{"id": 3, "type": "presence_query", "ids": []}') == frames.PresenceQuery(3, ())
    assert frames.parse(b'{"type": "presence_active"}') == frames.PresenceActive(None)
    too_many = frames.parse(
        ('{"id": 4, "type": "presence_sub", "ids": %s}' % [f"U{i}" for i in range(501)]).replace("'", '"')
    )
    assert isinstance(too_many, frames.BadFrame)
    assert too_many.code == "invalid_arguments" and "501" in too_many.msg and too_many.reply_to == 4
    wrong = frames.parse(b'{"type": "presence_sub", "ids": "U1"}')
    assert isinstance(wrong, frames.BadFrame) and wrong.code == "invalid_arguments"
