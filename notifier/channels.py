"""The notifier's cache of conversations (kind, name, members), so a message in a 32,000-member
channel does not read 32,000 membership rows from the origin each time.

Membership is what lets a user see a private channel's text, so the cache is exactly as fresh
as the change log the notifier has applied: every event that changes a conversation's kind,
name or members (``channel_created``, ``member_joined_channel``, ``member_left_channel``,
``channel_rename``, ``channel_archive``, ``channel_unarchive``) drops its entry when it is
applied, before any later message of that workspace is decided (one workspace's events are
applied in order, one at a time). A workspace that lost events (``TooOld``) is forgotten whole.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Mapping
from typing import Any

from notifier.decide import Channel
from notifier.ports import Source

INVALIDATING = frozenset(
    {
        "channel_created",
        "member_joined_channel",
        "member_left_channel",
        "channel_rename",
        "channel_archive",
        "channel_unarchive",
    }
)


def invalidated_channel(event: Mapping[str, Any]) -> str | None:
    """The conversation whose cached entry ``event`` makes stale, or None."""
    if event.get("type") not in INVALIDATING:
        return None
    channel = event.get("channel")
    if isinstance(channel, dict):  # channel_created and channel_rename carry an object
        channel = channel.get("id")
    return channel if isinstance(channel, str) else None


class ChannelCache:
    """Conversations by ``(team, channel)``, read through from ``source``; at most
    ``max_members`` member ids held in all (a large channel counts for its size)."""

    def __init__(self, source: Source, max_members: int = 2_000_000) -> None:
        self.source = source
        self.max_members = max_members
        self._entries: OrderedDict[tuple[str, str], Channel | None] = OrderedDict()
        self._held = 0
        self._generation: dict[tuple[str, str], int] = {}
        self._team_generation: dict[str, int] = {}
        self.hits = 0
        self.loads = 0

    def __len__(self) -> int:
        return len(self._entries)

    async def channel(self, team_id: str, channel_id: str) -> Channel | None:
        key = (team_id, channel_id)
        if key in self._entries:
            self._entries.move_to_end(key)
            self.hits += 1
            return self._entries[key]
        before = self._gen(key)
        self.loads += 1
        found = await self.source.channel(team_id, channel_id)
        if self._gen(key) == before:
            self._store(key, found)
        return found

    def observe(self, team_id: str, event: Mapping[str, Any]) -> bool:
        """Apply one change-log event: True when it made an entry stale."""
        channel = invalidated_channel(event)
        if channel is None:
            return False
        key = (team_id, channel)
        self._drop(key)
        self._generation[key] = self._generation.get(key, 0) + 1
        return True

    def forget_team(self, team_id: str) -> None:
        for key in [k for k in self._entries if k[0] == team_id]:
            self._drop(key)
        self._team_generation[team_id] = self._team_generation.get(team_id, 0) + 1

    def _gen(self, key: tuple[str, str]) -> tuple[int, int]:
        return self._team_generation.get(key[0], 0), self._generation.get(key, 0)

    def _drop(self, key: tuple[str, str]) -> None:
        gone = self._entries.pop(key, None)
        if gone is not None:
            self._held -= len(gone.members)

    def _store(self, key: tuple[str, str], channel: Channel | None) -> None:
        size = len(channel.members) if channel is not None else 0
        if size > self.max_members:
            return
        self._drop(key)
        self._entries[key] = channel
        self._held += size
        while self._held > self.max_members and self._entries:
            oldest = next(iter(self._entries))
            self._drop(oldest)
