"""client_sdk's presence and typing against the real stack (origin, Redis, an edge, the router)."""

from __future__ import annotations

import asyncio

import pytest

from client_sdk import FlannelClient, ManualPresenceChange, PresenceChange, UserTyping
from tests.client_sdk.conftest import Stack, discovery_url, stack
from tests.client_sdk.test_e2e import next_event

__all__ = ["stack"]
pytestmark = pytest.mark.e2e


async def test_subscribe_presence_typing_and_who_is_typing(stack: Stack) -> None:
    team = stack.team
    async with FlannelClient(discovery_url(stack), team.bob.token) as bob:
        events = bob.events()
        await bob.subscribe_presence([team.alice.id, team.carol.id])
        first = await next_event(events, PresenceChange)
        assert first.presence == "away" and set(first.users) == {team.alice.id, team.carol.id}
        async with FlannelClient(discovery_url(stack), team.alice.token) as alice:
            mine = alice.events()
            came = await next_event(events, PresenceChange)
            assert (came.users, came.presence) == ((team.alice.id,), "active")
            assert bob.presence(team.alice.id) == "active"
            await alice.typing(team.general)
            typed = await next_event(events, UserTyping)
            assert (typed.channel, typed.user) == (team.general, team.alice.id)
            assert bob.who_is_typing(team.general) == [team.alice.id]
            assert bob.typing_expiry_s == 5.0  # what the hello said
            await asyncio.sleep(bob.typing_expiry_s)  # no stop frame: it expires by itself
            assert bob.who_is_typing(team.general) == []
            await alice.set_presence("away")
            assert (await next_event(mine, ManualPresenceChange)).presence == "away"
            assert (await next_event(events, PresenceChange)).presence == "away"
            await alice.set_presence("auto")
            assert (await next_event(events, PresenceChange)).presence == "active"
        gone = await next_event(events, PresenceChange)
        assert (gone.users, gone.presence) == ((team.alice.id,), "away")
        with pytest.raises(ValueError):
            await bob.subscribe_presence([f"U{i:09d}" for i in range(501)])
