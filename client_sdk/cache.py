"""The client's partial copy of the workspace: users and channels it has needed, bounded.

A thin client never downloads the directory; it remembers what queries returned and what
arrived just in time, and keeps that current from events. Each map is an LRU with a fixed
number of entries, so a long-running bot in a 100K-user workspace holds at most
``CacheLimits.users`` users however many people write to it. Member lists are only cached
for channels the user is in: only those send the membership events that keep them exact.
"""

from __future__ import annotations

import dataclasses
from collections import OrderedDict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Generic, TypeVar

from client_sdk.events import (
    ChannelArchive,
    ChannelCreated,
    ChannelPurpose,
    ChannelRename,
    ChannelTopic,
    ChannelUnarchive,
    Event,
    Hello,
    MemberJoined,
    MemberLeft,
    TeamJoin,
    UserChange,
)
from client_sdk.models import Channel, User
from client_sdk.readstate import Badges

K = TypeVar("K")
V = TypeVar("V")


class LRU(Generic[K, V]):
    """A mapping of at most ``maxsize`` entries; the least recently used one goes first."""

    def __init__(self, maxsize: int) -> None:
        if maxsize < 1:
            raise ValueError("maxsize must be at least 1")
        self.maxsize = maxsize
        self.evictions = 0
        self._data: OrderedDict[K, V] = OrderedDict()

    def get(self, key: K) -> V | None:
        """The value (now the most recently used), or None."""
        value = self._data.get(key)
        if value is not None:
            self._data.move_to_end(key)
        return value

    def peek(self, key: K) -> V | None:
        """The value without touching the order."""
        return self._data.get(key)

    def put(self, key: K, value: V) -> None:
        self._data[key] = value
        self._data.move_to_end(key)
        while len(self._data) > self.maxsize:
            self._data.popitem(last=False)
            self.evictions += 1

    def pop(self, key: K) -> V | None:
        return self._data.pop(key, None)

    def clear(self) -> None:
        self._data.clear()

    def __len__(self) -> int:
        return len(self._data)

    def __contains__(self, key: object) -> bool:
        return key in self._data

    def __iter__(self) -> Iterator[K]:
        return iter(list(self._data))


@dataclass(frozen=True, slots=True)
class CacheLimits:
    """Entries per map. ``member_lists``: channels whose member ids are kept."""

    users: int = 5000
    channels: int = 1000
    member_lists: int = 50


class Directory:
    """Users, channels and member lists the client knows, kept current by :meth:`apply`."""

    def __init__(self, limits: CacheLimits | None = None) -> None:
        self.limits = limits or CacheLimits()
        self.users: LRU[str, User] = LRU(self.limits.users)
        self.channels: LRU[str, Channel] = LRU(self.limits.channels)
        self.members: LRU[str, frozenset[str]] = LRU(self.limits.member_lists)
        self.joined: set[str] = set()
        """Ids of the user's own conversations (from the hello): small, and never evicted."""
        self.self_id = ""
        self.reads = Badges()
        """Unread badges of the user's conversations (from the hello, then events)."""

    def clear(self) -> None:
        """Forget everything (a resync: what we hold may have missed changes)."""
        self.users.clear()
        self.channels.clear()
        self.members.clear()

    def put_users(self, users: Iterable[User]) -> None:
        for user in users:
            self.users.put(user.id, user)

    def put_channel(self, channel: Channel) -> None:
        """Store ``channel``, unless it is a compact entry and a full one is already held."""
        held = self.channels.peek(channel.id)
        if channel.partial and held is not None and not held.partial:
            return
        self.channels.put(channel.id, channel)

    def start(self, hello: Hello, *, stale: bool = False) -> None:
        """A connection began: the hello says who we are and which channels are ours.

        ``stale``: the hello comes from an edge behind what we already applied; its channel
        list is older than ours and the events that would correct it are dropped as seen.
        """
        self.self_id = hello.self_user.id
        self.users.put(hello.self_user.id, hello.self_user)
        if stale:
            return
        self.joined = {c.id for c in hello.channels}
        self.reads.start(hello.self_user.id, [c.raw for c in hello.channels])
        for channel in hello.channels:
            self.put_channel(channel)

    def apply(self, event: Event) -> None:
        """Keep the cache current with one event (unknown ones change nothing)."""
        self.reads.apply(event)
        if isinstance(event, UserChange | TeamJoin):
            self.users.put(event.user.id, event.user)
        elif isinstance(event, ChannelCreated):
            mine = self.self_id in event.members
            if mine:
                self.joined.add(event.channel.id)
                self.members.put(event.channel.id, frozenset(event.members))
            self.channels.put(event.channel.id, dataclasses.replace(event.channel, is_member=mine))
        elif isinstance(event, ChannelRename):
            self._update(event.channel, name=event.name)
        elif isinstance(event, ChannelArchive | ChannelUnarchive):
            self._update(event.channel, is_archived=isinstance(event, ChannelArchive))
        elif isinstance(event, ChannelTopic):
            self._update(event.channel, topic=event.value)
        elif isinstance(event, ChannelPurpose):
            self._update(event.channel, purpose=event.value)
        elif isinstance(event, MemberJoined | MemberLeft):
            self._membership(event.channel, event.user, isinstance(event, MemberJoined))

    def _membership(self, channel_id: str, user_id: str, joined: bool) -> None:
        members = self.members.peek(channel_id)
        if members is not None:
            self.members.put(channel_id, members | {user_id} if joined else members - {user_id})
        held = self.channels.peek(channel_id)
        if held is not None and held.num_members is not None:  # the log says it when it changes
            self._update(channel_id, num_members=max(0, held.num_members + (1 if joined else -1)))
        if user_id != self.self_id:
            return
        if joined:
            self.joined.add(channel_id)
        else:
            self.joined.discard(channel_id)
            self.members.pop(channel_id)  # no more membership events will keep it exact
        self._update(channel_id, is_member=joined)

    def _update(self, channel_id: str, **changes: object) -> None:
        held = self.channels.peek(channel_id)
        if held is not None:
            self.channels.put(channel_id, dataclasses.replace(held, **changes))  # type: ignore[arg-type]
