"""Server frames -> typed events (:func:`parse_event`), tolerant of whatever the server adds.

Slack's shapes: edits and deletions arrive as ``type: message`` with a ``subtype``; reactions
name their message in ``item``; channel events carry the channel as an id or an object.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from client_sdk.events import (
    ChannelArchive,
    ChannelCreated,
    ChannelMarked,
    ChannelPurpose,
    ChannelRename,
    ChannelTopic,
    ChannelUnarchive,
    Event,
    Goodbye,
    ManualPresenceChange,
    MemberJoined,
    MemberLeft,
    Message,
    MessageChanged,
    MessageDeleted,
    PresenceChange,
    ReactionAdded,
    ReactionRemoved,
    TeamJoin,
    Unknown,
    UserChange,
    UserTyping,
    _Reaction,
    _UserEvent,
)
from client_sdk.models import JSON, Channel, User


def _str(obj: Mapping[str, Any], key: str) -> str:
    value = obj.get(key)
    return value if isinstance(value, str) else ""


def _opt(obj: Mapping[str, Any], key: str) -> str | None:
    value = obj.get(key)
    return value if isinstance(value, str) else None


def _offset(obj: Mapping[str, Any]) -> int | None:
    value = obj.get("offset")
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _channel_id(obj: Mapping[str, Any]) -> str:
    channel = obj.get("channel")
    if isinstance(channel, Mapping):
        return _str(channel, "id")
    return channel if isinstance(channel, str) else ""


def _message(frame: JSON, users: Mapping[str, User]) -> Event:
    channel, offset = _channel_id(frame), _offset(frame)
    subtype = frame.get("subtype")
    previous = frame.get("previous_message")
    prev = Message.from_json(previous, channel) if isinstance(previous, Mapping) else None
    if subtype == "message_changed" and isinstance(frame.get("message"), Mapping):
        new = Message.from_json(frame["message"], channel, users)
        return MessageChanged(channel=channel, message=new, previous=prev, offset=offset, raw=frame)
    if subtype == "message_deleted":
        deleted = _str(frame, "deleted_ts") or (prev.ts if prev else "")
        return MessageDeleted(channel=channel, deleted_ts=deleted, previous=prev, offset=offset, raw=frame)
    return Message.from_json(frame, channel, users)


def _reaction(frame: JSON, cls: type[_Reaction]) -> Event:
    item = frame.get("item")
    it: Mapping[str, Any] = item if isinstance(item, Mapping) else {}
    return cls(
        user=_str(frame, "user"),
        reaction=_str(frame, "reaction"),
        channel=_str(it, "channel"),
        ts=_str(it, "ts"),
        item_user=_opt(frame, "item_user"),
        offset=_offset(frame),
        raw=frame,
    )


def _user(frame: JSON, cls: type[_UserEvent]) -> Event:
    user = frame.get("user")
    if not isinstance(user, Mapping):
        return Unknown(event_type=cls.type, offset=_offset(frame), raw=frame)
    return cls(user=User.from_json(user), offset=_offset(frame), raw=frame)


def _created(frame: JSON) -> Event:
    channel = frame.get("channel")
    members = frame.get("members")
    return ChannelCreated(
        channel=Channel.from_json(channel if isinstance(channel, Mapping) else {"id": channel}),
        members=tuple(m for m in members if isinstance(m, str)) if isinstance(members, list) else (),
        offset=_offset(frame),
        raw=frame,
    )


def _rename(frame: JSON) -> Event:
    channel = frame.get("channel")
    name = _str(channel, "name") if isinstance(channel, Mapping) else _str(frame, "name")
    return ChannelRename(channel=_channel_id(frame), name=name, offset=_offset(frame), raw=frame)


def _text_field(frame: JSON, key: str) -> str:
    value = frame.get(key)
    return _str(value, "value") if isinstance(value, Mapping) else (value if isinstance(value, str) else "")


_PARSERS: dict[str, Callable[[JSON], Event]] = {
    "reaction_added": lambda f: _reaction(f, ReactionAdded),
    "reaction_removed": lambda f: _reaction(f, ReactionRemoved),
    "user_change": lambda f: _user(f, UserChange),
    "team_join": lambda f: _user(f, TeamJoin),
    "channel_created": _created,
    "channel_rename": _rename,
    "channel_archive": lambda f: ChannelArchive(
        channel=_channel_id(f), user=_opt(f, "user"), offset=_offset(f), raw=f
    ),
    "channel_unarchive": lambda f: ChannelUnarchive(
        channel=_channel_id(f), user=_opt(f, "user"), offset=_offset(f), raw=f
    ),
    "channel_topic": lambda f: ChannelTopic(
        channel=_channel_id(f), value=_text_field(f, "topic"), offset=_offset(f), raw=f
    ),
    "channel_purpose": lambda f: ChannelPurpose(
        channel=_channel_id(f), value=_text_field(f, "purpose"), offset=_offset(f), raw=f
    ),
    "member_joined_channel": lambda f: MemberJoined(
        channel=_channel_id(f),
        user=_str(f, "user"),
        channel_type=_str(f, "channel_type"),
        inviter=_opt(f, "inviter"),
        offset=_offset(f),
        raw=f,
    ),
    "member_left_channel": lambda f: MemberLeft(
        channel=_channel_id(f),
        user=_str(f, "user"),
        channel_type=_str(f, "channel_type"),
        offset=_offset(f),
        raw=f,
    ),
    "channel_marked": lambda f: _marked(f),
    "group_marked": lambda f: _marked(f),
    "im_marked": lambda f: _marked(f),
    "user_typing": lambda f: UserTyping(channel=_channel_id(f), user=_str(f, "user"), raw=f),
    "presence_change": lambda f: PresenceChange(
        users=_presence_users(f), presence=_str(f, "presence"), raw=f
    ),
    "manual_presence_change": lambda f: ManualPresenceChange(presence=_str(f, "presence"), raw=f),
    "goodbye": lambda f: Goodbye(source=_str(f, "source"), raw=f),
}


def _presence_users(f: JSON) -> tuple[str, ...]:
    """Slack's batch shape (``users``), or its older one-user shape (``user``)."""
    users = f.get("users")
    if isinstance(users, list):
        return tuple(u for u in users if isinstance(u, str))
    user = f.get("user")
    return (user,) if isinstance(user, str) else ()


def _marked(f: JSON) -> ChannelMarked:
    counts = {k: f[k] for k in ("unread_count_display", "mention_count") if isinstance(f.get(k), int)}
    kind = str(f.get("type") or "channel_marked")
    return ChannelMarked(
        channel=_channel_id(f), ts=_str(f, "ts"), kind=kind, offset=_offset(f), raw=f, **counts
    )


def parse_event(frame: JSON, users: Mapping[str, User] | None = None) -> Event:
    """A server frame -> its typed event; ``users``: what a message's sender and mentions are."""
    kind = frame.get("type")
    if kind == "message":
        return _message(frame, users or {})
    parser = _PARSERS.get(kind) if isinstance(kind, str) else None
    if parser is None:
        return Unknown(event_type=str(kind), offset=_offset(frame), raw=frame)
    return parser(frame)
