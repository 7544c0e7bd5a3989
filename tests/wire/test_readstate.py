"""The read-state core: counts from a window of recent messages and last_read cursors."""

from __future__ import annotations

from typing import Any

from wire.ids import ts_str
from wire.readstate import ReadState, page_items

JSON = dict[str, Any]


class Log:
    def __init__(self, reads: ReadState) -> None:
        self.reads = reads

    def post(self, ts: int, user: str, text: str = "hi", thread: int | None = None, **extra: Any) -> None:
        event: JSON = {
            "type": "message",
            "channel": "C1",
            "ts": ts_str(ts),
            "user": user,
            "text": text,
            **extra,
        }
        if thread is not None:
            event["thread_ts"] = ts_str(thread)
        self.reads.apply(event)

    def mark(self, user: str, ts: int) -> None:
        self.reads.apply({"type": "channel_marked", "channel": "C1", "user": user, "ts": ts_str(ts)})


def test_counts_display_and_own_messages() -> None:
    log = Log(ReadState())
    log.post(1, "U1")
    log.post(2, "U2")
    log.post(3, "U2", subtype="channel_join")
    c = log.reads.counts("C1", "U1")
    assert (c.unread_count, c.unread_count_display, c.mention_count) == (3, 1, 0)
    assert c.has_unreads and not c.is_floor
    assert c.latest is not None and c.latest.ts == 3
    log.mark("U1", 2)
    c = log.reads.counts("C1", "U1")
    assert (c.unread_count, c.unread_count_display, c.has_unreads) == (1, 0, False)
    assert c.fields()["last_read"] == ts_str(2)


def test_mentions_specials_and_threads() -> None:
    log = Log(ReadState())
    log.post(1, "U2", "hey <@U1|alice>")
    log.post(2, "U2", "<!here> all")
    log.post(3, "U2", "<!channel>", subtype="channel_topic")  # system: no mention
    log.post(4, "U1", "<@U1> note to self")
    log.post(5, "U2", "in thread <@U1>", thread=1)  # reply: a mention, not a channel unread
    log.post(6, "U2", "broadcast", thread=1, subtype="thread_broadcast")
    c = log.reads.counts("C1", "U1")
    assert c.mention_count == 3
    assert c.unread_count == 5 and c.unread_count_display == 3
    assert c.latest is not None and c.latest.ts == 6
    assert log.reads.counts("C1", "U3").mention_count == 1  # only <!here>


def test_edit_counts_once_and_delete_stops_counting() -> None:
    log = Log(ReadState())
    log.post(1, "U2", "plain")
    log.reads.apply(
        {
            "type": "message_changed",
            "channel": "C1",
            "message": {"ts": ts_str(1), "user": "U2", "text": "<@U1>"},
        }
    )
    c = log.reads.counts("C1", "U1")
    assert (c.unread_count, c.mention_count) == (1, 1)
    assert c.latest is not None and c.latest.preview == "<@U1>"
    log.reads.apply({"type": "message_deleted", "channel": "C1", "deleted_ts": ts_str(1)})
    c = log.reads.counts("C1", "U1")
    assert (c.unread_count, c.mention_count, c.latest) == (0, 0, None)


def test_floor_past_the_window() -> None:
    log = Log(ReadState(window=3))
    for ts in range(1, 6):
        log.post(ts, "U2", "<@U1>")
    c = log.reads.counts("C1", "U1")
    assert (c.unread_count, c.mention_count, c.is_floor) == (3, 3, True)
    assert c.fields()["unread_count_is_floor"] is True
    log.mark("U1", 1)  # ts 2 left the window: still a floor
    assert log.reads.counts("C1", "U1").is_floor
    log.mark("U1", 2)  # the window holds everything after 2: exact
    assert not log.reads.counts("C1", "U1").is_floor
    log.mark("U1", 4)
    c = log.reads.counts("C1", "U1")
    assert (c.unread_count, c.is_floor) == (1, False)
    assert "unread_count_is_floor" not in c.fields()


def test_membership_resets_the_cursor() -> None:
    log = Log(ReadState())
    log.post(1, "U2")
    log.mark("U1", 1)
    assert log.reads.cursor("C1", "U1") == 1
    log.reads.apply({"type": "member_left_channel", "channel": "C1", "user": "U1"})
    assert log.reads.cursor("C1", "U1") == 0 and "C1" not in log.reads.last_read


def test_a_joiner_starts_at_the_cursor_the_event_carries() -> None:
    log = Log(ReadState())
    log.post(1_000_000, "U2")
    log.post(2_000_000, "U2", f"<@{'U1'}> before you came")
    joined = {"type": "member_joined_channel", "channel": "C1", "user": "U1", "channel_type": "C"}
    log.reads.apply({**joined, "last_read": ts_str(2_000_000)})
    assert log.reads.cursor("C1", "U1") == 2_000_000
    counts = log.reads.counts("C1", "U1")
    assert (counts.unread_count, counts.mention_count) == (0, 0)
    log.post(3_000_000, "U2")
    assert log.reads.counts("C1", "U1").unread_count == 1
    # without the field (an import's membership) or with a bad one: 0, the whole window unread
    for extra in ({}, {"last_read": "soon"}, {"last_read": 7}):
        log.reads.apply({**joined, **extra})
        assert log.reads.cursor("C1", "U1") == 0
        assert log.reads.counts("C1", "U1").unread_count == 3


def test_snapshot_pages_round_trip() -> None:
    rows = [
        (5, "U2", None, 1, "reply <@U1>"),
        (4, "U2", "channel_join", None, ""),
        (3, "U3", None, 3, "x" * 300),
    ]
    floor, entries = page_items(rows, 2)
    assert floor == 3 and [e[0] for e in entries] == [4, 5]
    reads = ReadState()
    reads.add_page({"type": "reads", "items": [{"channel": "C1", "floor": floor, "messages": entries}]})
    reads.add_page({"type": "last_read", "items": [["C1", "U1", 1]]})
    c = reads.counts("C1", "U1")
    assert (c.unread_count, c.unread_count_display, c.mention_count, c.is_floor) == (1, 0, 1, True)
    assert c.latest is not None and c.latest.ts == 4
    assert not reads.add_page({"type": "users", "items": []})
