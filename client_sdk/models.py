"""Typed views of Slack's JSON objects: users, channels, the team, search matches.

Each model keeps the server's object in ``raw``, so a field this library does not name is
still one lookup away, and parsing never fails on a field it does not know.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

JSON = dict[str, Any]


def _str(obj: Mapping[str, Any], key: str, default: str = "") -> str:
    value = obj.get(key)
    return value if isinstance(value, str) else default


def _opt_str(obj: Mapping[str, Any], key: str) -> str | None:
    value = obj.get(key)
    return value if isinstance(value, str) else None


def _value(obj: Mapping[str, Any], key: str) -> str:
    """A topic or purpose: Slack's ``{"value": ...}`` object, or a bare string."""
    item = obj.get(key)
    if isinstance(item, Mapping):
        return _str(item, "value")
    return item if isinstance(item, str) else ""


@dataclass(frozen=True, slots=True, kw_only=True)
class User:
    """A workspace member (``users.info``'s ``user``)."""

    id: str
    name: str
    real_name: str = ""
    display_name: str = ""
    deleted: bool = False
    is_bot: bool = False
    is_admin: bool = False
    tz: str | None = None
    updated: int = 0
    raw: JSON = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def from_json(cls, obj: Mapping[str, Any]) -> User:
        profile = obj.get("profile")
        prof: Mapping[str, Any] = profile if isinstance(profile, Mapping) else {}
        updated = obj.get("updated")
        return cls(
            id=_str(obj, "id"),
            name=_str(obj, "name"),
            real_name=_str(obj, "real_name") or _str(prof, "real_name"),
            display_name=_str(prof, "display_name"),
            deleted=bool(obj.get("deleted")),
            is_bot=bool(obj.get("is_bot")),
            is_admin=bool(obj.get("is_admin")),
            tz=_opt_str(obj, "tz"),
            updated=updated if isinstance(updated, int) else 0,
            raw=dict(obj),
        )

    @property
    def label(self) -> str:
        """What a client shows: the display name, else the username."""
        return self.display_name or self.name


@dataclass(frozen=True, slots=True, kw_only=True)
class Channel:
    """A conversation: public or private channel, DM (``is_im``) or group DM (``is_mpim``).

    ``partial`` marks the compact entries of the hello (no topic, purpose or member count):
    :meth:`client.channels.get <client_sdk.channels.Channels.get>` fetches the full object.
    """

    id: str
    name: str | None = None
    is_private: bool = False
    is_im: bool = False
    is_mpim: bool = False
    is_archived: bool = False
    is_member: bool | None = None
    user: str | None = None
    topic: str = ""
    purpose: str = ""
    num_members: int | None = None
    created: int = 0
    partial: bool = False
    raw: JSON = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def from_json(cls, obj: Mapping[str, Any], *, partial: bool = False) -> Channel:
        members = obj.get("num_members")
        created = obj.get("created")
        is_member = obj.get("is_member")
        return cls(
            id=_str(obj, "id"),
            name=_opt_str(obj, "name"),
            is_private=bool(obj.get("is_private")),
            is_im=bool(obj.get("is_im")),
            is_mpim=bool(obj.get("is_mpim")),
            is_archived=bool(obj.get("is_archived")),
            is_member=is_member if isinstance(is_member, bool) else (True if partial else None),
            user=_opt_str(obj, "user"),
            topic=_value(obj, "topic"),
            purpose=_value(obj, "purpose"),
            num_members=members if isinstance(members, int) else None,
            created=created if isinstance(created, int) else 0,
            partial=partial,
            raw=dict(obj),
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class Team:
    """The workspace, as the hello and ``rtm.connect`` describe it."""

    id: str
    name: str = ""
    domain: str = ""
    raw: JSON = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def from_json(cls, obj: Mapping[str, Any]) -> Team:
        return cls(id=_str(obj, "id"), name=_str(obj, "name"), domain=_str(obj, "domain"), raw=dict(obj))


@dataclass(frozen=True, slots=True, kw_only=True)
class Reaction:
    """One emoji on a message: who added it, how many."""

    name: str
    count: int
    users: tuple[str, ...] = ()

    @classmethod
    def from_json(cls, obj: Mapping[str, Any]) -> Reaction:
        users = obj.get("users")
        count = obj.get("count")
        ids = tuple(u for u in users if isinstance(u, str)) if isinstance(users, list) else ()
        return cls(name=_str(obj, "name"), count=count if isinstance(count, int) else len(ids), users=ids)


@dataclass(frozen=True, slots=True, kw_only=True)
class SearchMatch:
    """One hit of ``search.messages``: the message, its channel, and a link to it."""

    channel: str
    channel_name: str | None
    ts: str
    user: str | None
    username: str
    text: str
    thread_ts: str | None = None
    permalink: str = ""
    score: float = 0.0
    raw: JSON = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def from_json(cls, obj: Mapping[str, Any]) -> SearchMatch:
        chan = obj.get("channel")
        channel: Mapping[str, Any] = chan if isinstance(chan, Mapping) else {"id": chan}
        score = obj.get("score")
        return cls(
            channel=_str(channel, "id"),
            channel_name=_opt_str(channel, "name"),
            ts=_str(obj, "ts"),
            user=_opt_str(obj, "user"),
            username=_str(obj, "username"),
            text=_str(obj, "text"),
            thread_ts=_opt_str(obj, "thread_ts"),
            permalink=_str(obj, "permalink"),
            score=float(score) if isinstance(score, int | float) else 0.0,
            raw=dict(obj),
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class Posted:
    """What ``post`` and ``edit`` return: where the message is, to edit, delete or react to it.
    ``client_msg_id``: the post's idempotency key (Slack's), the one it was sent with."""

    channel: str
    ts: str
    text: str = ""
    thread_ts: str | None = None
    client_msg_id: str | None = None
