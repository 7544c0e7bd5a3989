"""Server frames -> typed events; unknown shapes never raise."""

from __future__ import annotations

from client_sdk import (
    ChannelCreated,
    ChannelRename,
    MemberJoined,
    Message,
    MessageChanged,
    MessageDeleted,
    ReactionAdded,
    ReactionRemoved,
    Unknown,
    User,
    UserChange,
)
from client_sdk.decode import parse_event
from wire.mentions import referenced_users


def test_messages_edits_and_deletions_in_slacks_shapes() -> None:
    bob = User(id="U2", name="bob")
    frame = {
        "type": "message",
        "channel": "C1",
        "user": "U2",
        "text": "hi <@U3|carol>",
        "ts": "1.000001",
        "thread_ts": "0.5",
        "offset": 9,
        "reactions": [{"name": "tada", "count": 1, "users": ["U3"]}],
    }
    event = parse_event(frame, {"U2": bob})
    assert isinstance(event, Message)
    assert (event.offset, event.sender, event.is_reply, event.reactions[0].users) == (9, bob, True, ("U3",))
    assert referenced_users(frame) == ("U2", "U3")
    changed = parse_event(
        {
            "type": "message",
            "subtype": "message_changed",
            "channel": "C1",
            "offset": 10,
            "message": {"user": "U2", "text": "new", "ts": "1.000001", "edited": {"user": "U2", "ts": "2.0"}},
            "previous_message": {"user": "U2", "text": "old", "ts": "1.000001"},
        }
    )
    assert isinstance(changed, MessageChanged)
    assert (changed.message.text, changed.message.edited_ts, changed.message.channel) == ("new", "2.0", "C1")
    assert changed.previous is not None and changed.previous.text == "old"
    deleted = parse_event(
        {
            "type": "message",
            "subtype": "message_deleted",
            "channel": "C1",
            "deleted_ts": "1.000001",
            "offset": 11,
        }
    )
    assert isinstance(deleted, MessageDeleted) and deleted.deleted_ts == "1.000001"
    assert referenced_users(deleted.raw) == ()


def test_referenced_users_are_the_sender_then_each_mention_once() -> None:
    frame = {"type": "message", "user": "U2", "text": "<@U2> <@W3|x> <@U3> <@W3> <!here> <@u4>"}
    assert referenced_users(frame) == ("U2", "W3", "U3")
    edited = {"type": "message", "subtype": "message_changed", "message": {"user": "U1", "text": 7}}
    assert referenced_users(edited) == ("U1",)


def test_other_events() -> None:
    item = {"type": "message", "channel": "C1", "ts": "1.0"}
    added = parse_event(
        {"type": "reaction_added", "user": "U1", "reaction": "tada", "item": item, "offset": 3}
    )
    removed = parse_event({"type": "reaction_removed", "user": "U1", "reaction": "tada", "item": item})
    assert isinstance(added, ReactionAdded) and (added.channel, added.ts, added.offset) == ("C1", "1.0", 3)
    assert isinstance(removed, ReactionRemoved) and not isinstance(removed, ReactionAdded)
    change = parse_event({"type": "user_change", "user": {"id": "U1", "name": "a", "deleted": True}})
    assert isinstance(change, UserChange) and change.user.deleted
    rename = parse_event({"type": "channel_rename", "channel": {"id": "C1", "name": "x"}})
    assert isinstance(rename, ChannelRename) and (rename.channel, rename.name) == ("C1", "x")
    created = parse_event(
        {"type": "channel_created", "channel": {"id": "C2", "name": "y"}, "members": ["U1"]}
    )
    assert isinstance(created, ChannelCreated) and created.members == ("U1",)
    joined = parse_event({"type": "member_joined_channel", "channel": "C1", "user": "U1", "inviter": "U2"})
    assert isinstance(joined, MemberJoined) and joined.inviter == "U2"
    odd = parse_event({"type": "brand_new_thing", "offset": 4, "x": 1})
    assert isinstance(odd, Unknown) and (odd.event_type, odd.offset, odd.raw["x"]) == (
        "brand_new_thing",
        4,
        1,
    )
    assert isinstance(parse_event({"type": "user_change", "user": "not an object"}), Unknown)
    assert isinstance(parse_event({"no": "type"}), Unknown)
