"""The client's badges: from the hello's counts, moved by messages and marks (pure)."""

from __future__ import annotations

from client_sdk.decode import parse_event
from client_sdk.events import ChannelMarked
from client_sdk.readstate import Badges


def test_badges_from_hello_messages_and_marks() -> None:
    badges = Badges()
    hello = {
        "id": "C1",
        "last_read": "1.000000",
        "unread_count": 1,
        "unread_count_display": 1,
        "mention_count": 0,
    }
    badges.start("U1", [hello, {"id": "C2"}])
    assert badges.get("C2") is None
    for frame in (
        {"type": "message", "channel": "C1", "ts": "2.000000", "user": "U2", "text": "<@U1>", "offset": 5},
        {"type": "message", "channel": "C1", "ts": "3.000000", "user": "U1", "text": "mine", "offset": 6},
        {
            "type": "message",
            "channel": "C1",
            "ts": "4.0",
            "thread_ts": "2.000000",
            "user": "U2",
            "text": "<!here>",
            "offset": 7,
        },
    ):
        badges.apply(parse_event(frame))
    c1 = badges.get("C1")
    assert c1 is not None
    assert (c1.unread_count, c1.unread_count_display, c1.mention_count, c1.latest) == (3, 2, 2, "3.000000")
    mark = parse_event(
        {
            "type": "group_marked",
            "channel": "C1",
            "ts": "4.0",
            "unread_count_display": 0,
            "mention_count": 0,
            "offset": 8,
        }
    )
    assert isinstance(mark, ChannelMarked) and mark.kind == "group_marked"
    badges.apply(mark)
    c1 = badges.get("C1")
    assert c1 is not None and not c1.has_unreads and c1.last_read == "4.0"


def _frames(badges: Badges, *frames: dict[str, object]) -> None:
    for frame in frames:
        badges.apply(parse_event(frame))


def test_deleting_unread_messages_takes_them_off_the_badge() -> None:
    badges = Badges()
    badges.start("U1", [{"id": "C1", "last_read": "1.000000", "unread_count": 0, "mention_count": 0}])
    first = {"type": "message", "channel": "C1", "ts": "2.000000", "user": "U2", "text": "<@U1> hi"}
    second = {"type": "message", "channel": "C1", "ts": "3.000000", "user": "U2", "text": "plain"}
    _frames(badges, {**first, "offset": 1}, {**second, "offset": 2})
    deleted = {"type": "message", "subtype": "message_deleted", "channel": "C1", "hidden": True}
    _frames(badges, {**deleted, "deleted_ts": "3.000000", "previous_message": second, "offset": 3})
    c1 = badges.get("C1")
    assert c1 is not None
    assert (c1.unread_count, c1.unread_count_display, c1.mention_count, c1.latest) == (1, 1, 1, "2.000000")
    _frames(badges, {**deleted, "deleted_ts": "2.000000", "previous_message": first, "offset": 4})
    c1 = badges.get("C1")
    assert c1 is not None and (c1.unread_count, c1.unread_count_display, c1.mention_count) == (0, 0, 0)
    assert not c1.has_unreads


def test_a_deleted_message_already_read_changes_no_count() -> None:
    badges = Badges()
    badges.start("U1", [{"id": "C1", "last_read": "5.000000", "unread_count": 1, "unread_count_display": 1}])
    old = {"type": "message", "channel": "C1", "ts": "4.000000", "user": "U2", "text": "<!channel>"}
    deleted = {"type": "message", "subtype": "message_deleted", "channel": "C1", "deleted_ts": "4.000000"}
    _frames(badges, {**deleted, "previous_message": old, "offset": 9})
    c1 = badges.get("C1")
    assert c1 is not None and (c1.unread_count, c1.unread_count_display, c1.mention_count) == (1, 1, 0)


def test_an_edit_counts_once_with_its_mentions_as_they_are_now() -> None:
    badges = Badges()
    badges.start("U1", [{"id": "C1", "last_read": "1.000000", "unread_count": 0, "mention_count": 0}])
    plain = {"type": "message", "channel": "C1", "ts": "2.000000", "user": "U2", "text": "hello"}
    mentioning = {**plain, "text": "hello <@U1>"}
    changed = {"type": "message", "subtype": "message_changed", "channel": "C1", "hidden": True}
    _frames(badges, {**plain, "offset": 1})
    _frames(badges, {**changed, "message": mentioning, "previous_message": plain, "offset": 2})
    c1 = badges.get("C1")
    assert c1 is not None and (c1.unread_count, c1.unread_count_display, c1.mention_count) == (1, 1, 1)
    _frames(
        badges, {**changed, "message": {**plain, "text": "bye"}, "previous_message": mentioning, "offset": 3}
    )
    c1 = badges.get("C1")
    assert c1 is not None and (c1.unread_count, c1.unread_count_display, c1.mention_count) == (1, 1, 0)
    # an event of a conversation the hello gave no badge for is ignored
    _frames(
        badges, {**changed, "message": mentioning, "previous_message": plain, "offset": 4, "channel": "C9"}
    )
    assert badges.get("C9") is None
