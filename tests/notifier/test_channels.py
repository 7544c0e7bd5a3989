"""The notifier's conversation cache: read through, invalidated by every membership event, never
re-filled with an answer older than an invalidation, bounded by members held."""

from __future__ import annotations

import asyncio
from collections.abc import Collection, Mapping

from notifier.channels import ChannelCache, invalidated_channel
from notifier.decide import Channel
from notifier.ports import Person


class Conversations:
    """A Source over a dict the test edits (what the origin's store would answer now)."""

    def __init__(self, channels: dict[str, Channel]) -> None:
        self.table = channels
        self.reads = 0
        self.gate: asyncio.Event | None = None
        self.entered = asyncio.Event()

    async def teams(self) -> list[str]:
        return ["T1"]

    async def head(self, team_id: str) -> int:
        return 0

    async def team_name(self, team_id: str) -> str:
        return "Team One"

    async def channel(self, team_id: str, channel_id: str) -> Channel | None:
        self.reads += 1
        answer = self.table.get(channel_id)
        self.entered.set()
        if self.gate is not None:
            await self.gate.wait()
        return answer

    async def people(self, team_id: str, user_ids: Collection[str]) -> Mapping[str, Person]:
        return {}


def chan(cid: str, *members: str) -> Channel:
    return Channel(cid, "channel", frozenset(members), is_private=True, name=cid.lower())


async def test_membership_events_drop_the_entry_before_the_next_message() -> None:
    src = Conversations({"C1": chan("C1", "UA", "UB"), "C2": chan("C2", "UA")})
    cache = ChannelCache(src)
    assert (await cache.channel("T1", "C1")) == chan("C1", "UA", "UB")
    await cache.channel("T1", "C1")
    await cache.channel("T1", "C2")
    assert src.reads == 2 and cache.hits == 1
    events = [
        {"type": "member_left_channel", "channel": "C1", "user": "UB"},
        {"type": "member_joined_channel", "channel": "C1", "user": "UC"},
        {"type": "channel_created", "channel": {"id": "C1", "name": "c1"}, "members": ["UA"]},
        {"type": "channel_rename", "channel": {"id": "C1", "name": "new"}},
        {"type": "channel_archive", "channel": "C1", "user": "UA"},
        {"type": "channel_unarchive", "channel": "C1", "user": "UA"},
    ]
    for i, event in enumerate(events):
        src.table["C1"] = chan("C1", "UA", f"U{i}")
        assert cache.observe("T1", event), event
        assert (await cache.channel("T1", "C1")).members == {"UA", f"U{i}"}  # type: ignore[union-attr]
    await cache.channel("T1", "C2")
    assert src.reads == 2 + len(events)  # C2 untouched throughout
    for event in ({"type": "message", "channel": "C2"}, {"type": "channel_topic", "channel": "C2"}):
        assert not cache.observe("T1", event)
    assert not cache.observe("T2", {"type": "member_left_channel", "channel": {"id": 3}})
    assert invalidated_channel({"type": "member_left_channel"}) is None


async def test_a_read_in_flight_during_a_leave_is_not_kept() -> None:
    src = Conversations({"C1": chan("C1", "UA", "UB")})
    cache = ChannelCache(src)
    src.gate = asyncio.Event()
    slow = asyncio.create_task(cache.channel("T1", "C1"))
    await src.entered.wait()
    src.table["C1"] = chan("C1", "UA")
    cache.observe("T1", {"type": "member_left_channel", "channel": "C1", "user": "UB"})
    src.gate.set()
    await slow
    src.gate = None
    assert (await cache.channel("T1", "C1")).members == {"UA"}  # type: ignore[union-attr]


async def test_bounded_by_members_held_and_a_lost_workspace_is_forgotten() -> None:
    big = chan("C9", *(f"U{i}" for i in range(10)))
    src = Conversations({"C1": chan("C1", "UA", "UB"), "C2": chan("C2", "UA", "UB", "UC"), "C9": big})
    cache = ChannelCache(src, max_members=5)
    await cache.channel("T1", "C1")
    await cache.channel("T1", "C2")
    assert len(cache) == 2
    await cache.channel("T1", "C9")  # larger than the whole budget: answered, never held
    assert len(cache) == 2
    src.table["C3"] = chan("C3", "UA")
    await cache.channel("T1", "C3")  # 2 + 3 + 1 > 5: the oldest (C1) goes
    await cache.channel("T1", "C1")
    assert src.reads == 5
    cache.forget_team("T1")
    assert len(cache) == 0
    assert await cache.channel("T1", "C404") is None  # unknown: remembered as such
    await cache.channel("T1", "C404")
    assert src.reads == 6
