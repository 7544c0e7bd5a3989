"""Typed events: what ``client.events()`` yields and ``@client.on(type)`` handlers receive.

Each class names its ``type`` (the string ``on`` takes). Change-log events carry the
``offset`` the client resumes from; connection events (:class:`Hello`, :class:`Resync`,
:class:`Goodbye`, :class:`Disconnected`) and ephemeral ones (:class:`UserTyping`) do not.
An event this library does not know becomes :class:`Unknown`, never an error: servers add
event types before clients learn them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

from client_sdk.models import JSON, Channel, Reaction, Team, User


@dataclass(frozen=True, slots=True, kw_only=True)
class Event:
    """Base of every event. ``raw`` is the frame as received."""

    type: ClassVar[str] = "event"
    offset: int | None = None
    raw: JSON = field(default_factory=dict, repr=False, compare=False)


@dataclass(frozen=True, slots=True, kw_only=True)
class Hello(Event):
    """A connection is up. ``reconnect``: not the first; ``resumed``: no event was lost since."""

    type: ClassVar[str] = "hello"
    self_user: User
    team: Team
    channels: tuple[Channel, ...] = ()
    position: int = 0
    reconnect: bool = False
    resumed: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class Message(Event):
    """A message: live (with ``offset``) or read from history and search (``offset`` None).

    ``users`` holds the user objects of the sender and the people it mentions that the client
    had when it arrived (the edge sends unknown ones just in time); use :attr:`sender`.
    """

    type: ClassVar[str] = "message"
    channel: str
    ts: str
    user: str | None = None
    text: str = ""
    thread_ts: str | None = None
    subtype: str | None = None
    edited_ts: str | None = None
    reply_count: int = 0
    reactions: tuple[Reaction, ...] = ()
    client_msg_id: str | None = None
    """The id its poster sent it with (what ``post`` returned as ``Posted.client_msg_id``)."""
    users: Mapping[str, User] = field(default_factory=dict, repr=False, compare=False)

    @property
    def sender(self) -> User | None:
        return self.users.get(self.user) if self.user else None

    @property
    def is_reply(self) -> bool:
        return self.thread_ts is not None and self.thread_ts != self.ts

    @classmethod
    def from_json(
        cls, obj: Mapping[str, Any], channel: str | None = None, users: Mapping[str, User] | None = None
    ) -> Message:
        edited = obj.get("edited")
        reactions = obj.get("reactions")
        replies = obj.get("reply_count")
        offset = obj.get("offset")
        return cls(
            channel=channel or _str(obj, "channel"),
            ts=_str(obj, "ts"),
            user=_opt(obj, "user"),
            text=_str(obj, "text"),
            thread_ts=_opt(obj, "thread_ts"),
            subtype=_opt(obj, "subtype"),
            edited_ts=_opt(edited, "ts") if isinstance(edited, Mapping) else None,
            reply_count=replies if isinstance(replies, int) else 0,
            reactions=tuple(Reaction.from_json(r) for r in reactions if isinstance(r, Mapping))
            if isinstance(reactions, list)
            else (),
            client_msg_id=_opt(obj, "client_msg_id"),
            users=dict(users or {}),
            offset=offset if isinstance(offset, int) else None,
            raw=dict(obj),
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class MessageChanged(Event):
    """A message was edited: ``message`` is the new version."""

    type: ClassVar[str] = "message_changed"
    channel: str
    message: Message
    previous: Message | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class MessageDeleted(Event):
    type: ClassVar[str] = "message_deleted"
    channel: str
    deleted_ts: str
    previous: Message | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class _Reaction(Event):
    """``user`` put (or took back) ``reaction`` on the message ``ts`` of ``channel``."""

    user: str
    reaction: str
    channel: str
    ts: str
    item_user: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class ReactionAdded(_Reaction):
    type: ClassVar[str] = "reaction_added"


@dataclass(frozen=True, slots=True, kw_only=True)
class ReactionRemoved(_Reaction):
    type: ClassVar[str] = "reaction_removed"


@dataclass(frozen=True, slots=True, kw_only=True)
class _UserEvent(Event):
    user: User


@dataclass(frozen=True, slots=True, kw_only=True)
class UserChange(_UserEvent):
    """A profile changed, or the user was deactivated (``user.deleted``)."""

    type: ClassVar[str] = "user_change"


@dataclass(frozen=True, slots=True, kw_only=True)
class TeamJoin(_UserEvent):
    """A user was created."""

    type: ClassVar[str] = "team_join"


@dataclass(frozen=True, slots=True, kw_only=True)
class ChannelCreated(Event):
    type: ClassVar[str] = "channel_created"
    channel: Channel
    members: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class ChannelRename(Event):
    type: ClassVar[str] = "channel_rename"
    channel: str
    name: str


@dataclass(frozen=True, slots=True, kw_only=True)
class _ChannelBy(Event):
    channel: str
    user: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class ChannelArchive(_ChannelBy):
    type: ClassVar[str] = "channel_archive"


@dataclass(frozen=True, slots=True, kw_only=True)
class ChannelUnarchive(_ChannelBy):
    type: ClassVar[str] = "channel_unarchive"


@dataclass(frozen=True, slots=True, kw_only=True)
class _ChannelText(Event):
    channel: str
    value: str


@dataclass(frozen=True, slots=True, kw_only=True)
class ChannelTopic(_ChannelText):
    type: ClassVar[str] = "channel_topic"


@dataclass(frozen=True, slots=True, kw_only=True)
class ChannelPurpose(_ChannelText):
    type: ClassVar[str] = "channel_purpose"


@dataclass(frozen=True, slots=True, kw_only=True)
class MemberJoined(Event):
    type: ClassVar[str] = "member_joined_channel"
    channel: str
    user: str
    channel_type: str = ""
    inviter: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class MemberLeft(Event):
    type: ClassVar[str] = "member_left_channel"
    channel: str
    user: str
    channel_type: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class ChannelMarked(Event):
    """You read ``channel`` up to ``ts`` (on any of your devices)."""

    type: ClassVar[str] = "channel_marked"
    channel: str
    ts: str
    kind: str = "channel_marked"
    """Slack's name for it: ``channel_marked``, ``group_marked`` (private, group DM) or ``im_marked``."""
    unread_count_display: int = 0
    mention_count: int = 0


@dataclass(frozen=True, slots=True, kw_only=True)
class UserTyping(Event):
    """``user`` is typing in ``channel``: show it for ``client.typing_expiry_s`` unless another
    arrives (there is no stop event; :meth:`FlannelClient.who_is_typing` does the expiry)."""

    type: ClassVar[str] = "user_typing"
    channel: str
    user: str


@dataclass(frozen=True, slots=True, kw_only=True)
class PresenceChange(Event):
    """``users`` (among those you subscribed to with ``subscribe_presence``) are now
    ``presence``: ``"active"`` or ``"away"``."""

    type: ClassVar[str] = "presence_change"
    users: tuple[str, ...]
    presence: str


@dataclass(frozen=True, slots=True, kw_only=True)
class ManualPresenceChange(Event):
    """You set (``"away"``) or cleared (``"active"``) manual away, from any of your clients."""

    type: ClassVar[str] = "manual_presence_change"
    presence: str


@dataclass(frozen=True, slots=True, kw_only=True)
class Resync(Event):
    """The local cache was dropped.

    ``reason`` "resume_failed": the server could not replay what was missed, so events
    between the last one you saw and ``position`` were not delivered (re-read history if you
    need them). "edge_reloaded": the edge reloaded its copy; the client resumes, no event is
    lost, but cached users and channels may be stale, so they were dropped.
    """

    type: ClassVar[str] = "resync"
    reason: str
    position: int = 0


@dataclass(frozen=True, slots=True, kw_only=True)
class Goodbye(Event):
    """The server is going away (draining); the client moves to another edge by itself."""

    type: ClassVar[str] = "goodbye"
    source: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class Disconnected(Event):
    """The connection closed. ``will_reconnect`` False means the session is over."""

    type: ClassVar[str] = "disconnected"
    code: int | None = None
    reason: str = ""
    will_reconnect: bool = True


@dataclass(frozen=True, slots=True, kw_only=True)
class Unknown(Event):
    """An event type this library does not model; everything is in ``raw``."""

    type: ClassVar[str] = "unknown"
    event_type: str = ""


def _str(obj: Mapping[str, Any], key: str) -> str:
    value = obj.get(key)
    return value if isinstance(value, str) else ""


def _opt(obj: Mapping[str, Any], key: str) -> str | None:
    value = obj.get(key)
    return value if isinstance(value, str) else None


EVENT_TYPES: frozenset[str] = frozenset(
    cls.type
    for cls in (
        Hello,
        Message,
        MessageChanged,
        MessageDeleted,
        ReactionAdded,
        ReactionRemoved,
        UserChange,
        TeamJoin,
        ChannelCreated,
        ChannelRename,
        ChannelArchive,
        ChannelUnarchive,
        ChannelTopic,
        ChannelPurpose,
        MemberJoined,
        MemberLeft,
        ChannelMarked,
        UserTyping,
        PresenceChange,
        ManualPresenceChange,
        Resync,
        Goodbye,
        Disconnected,
        Unknown,
    )
)
"""The names ``client.on`` accepts (plus ``"*"`` for every event)."""
