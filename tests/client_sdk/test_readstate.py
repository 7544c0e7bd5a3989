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
