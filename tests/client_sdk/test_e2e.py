"""The client SDK against a real running stack: origin and edge processes sharing Redis."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from client_sdk import (
    ApiError,
    AuthError,
    CacheLimits,
    ChannelMarked,
    ClientClosed,
    Disconnected,
    Event,
    FlannelClient,
    Goodbye,
    Hello,
    Message,
    MessageChanged,
    MessageDeleted,
    ReactionAdded,
    ReactionRemoved,
    Resync,
)
from tests.client_sdk.conftest import (
    CountingTransport,
    Stack,
    counting_connector,
    discovery_url,
    fast_backoff,
)
from tests.conftest import ServerProcess


async def origin_post(stack: Stack, token: str, channel: str, text: str, **extra: Any) -> dict[str, Any]:
    """Post straight at the origin: independent of the edge under test."""
    async with httpx.AsyncClient() as http:
        resp = await http.post(
            stack.origin.url + "/api/chat.postMessage",
            json={"channel": channel, "text": text, **extra},
            headers={"Authorization": f"Bearer {token}"},
        )
    body: dict[str, Any] = resp.json()
    assert body["ok"], body
    return body


async def next_event(events: AsyncIterator[Event], kind: type[Event], wait_s: float = 15) -> Any:
    async def find() -> Event:
        async for event in events:
            if isinstance(event, kind):
                return event
        raise AssertionError("the events ended")

    return await asyncio.wait_for(find(), wait_s)


async def test_connect_lookup_post_receive_with_jit_users_and_page_history(stack: Stack) -> None:
    team = stack.team
    connector, queries = counting_connector()
    transport = CountingTransport()
    async with FlannelClient(
        discovery_url(stack), team.alice.token, connector=connector, http_transport=transport
    ) as alice:
        assert alice.self_user.name == "alice" and alice.team.id == team.id
        assert await alice.ping() < 5
        assert set(alice.channels.joined()) == {team.general, team.private}
        assert transport.calls["rtm.connect"] == 1

        found = await alice.users.search("car")
        assert [u.name for u in found] == ["carol"]
        assert [c.name for c in await alice.channels.search("gen")] == ["general"]
        assert queries["users.search"] == 1 and transport.calls["users.search"] == 0  # over the socket

        events = alice.events()
        posted = await alice.post(team.general, "hello from the sdk")
        mine = await next_event(events, Message)
        assert (mine.ts, mine.text, mine.sender.name) == (posted.ts, "hello from the sdk", "alice")

        assert alice.cache.users.peek(team.bob.id) is None
        await origin_post(stack, team.bob.token, team.general, f"hi <@{team.carol.id}> and alice")
        theirs = await next_event(events, Message)
        assert theirs.user == team.bob.id and theirs.sender is not None and theirs.sender.name == "bob"
        assert theirs.users[team.carol.id].name == "carol"
        assert queries["users.info"] == 0 and transport.calls["users.info"] == 0  # it came just in time
        assert alice.cache.users.peek(team.bob.id) is not None

        for i in range(5):
            await alice.post(team.general, f"page {i}")
        before = transport.calls["conversations.history"]
        texts = [m.text async for m in alice.history(team.general, page_size=2)]
        assert texts[:5] == [f"page {i}" for i in reversed(range(5))]
        assert len(texts) == 7
        assert transport.calls["conversations.history"] - before == 4  # 2 + 2 + 2 + 1
        first_two = [m.text async for m in alice.history(team.general, page_size=2, limit=2)]
        assert first_two == ["page 4", "page 3"]


@pytest.mark.parametrize("how", ["kill", "drain"])
async def test_edge_lost_mid_conversation_resumes_every_message_once_in_order(
    stack: Stack, start_server: type[ServerProcess], how: str
) -> None:
    """``kill``: the process dies (SIGKILL); ``drain``: SIGTERM, the edge says goodbye first."""
    team = stack.team
    port = stack.edges[0].port
    client = FlannelClient(discovery_url(stack), team.alice.token, backoff=fast_backoff())
    await client.connect()
    seen: list[str] = []
    hellos: list[Hello] = []
    other: list[Event] = []
    total = 30

    async def listen() -> None:
        async for event in client.events():
            if isinstance(event, Message):
                seen.append(event.text)
                if len(seen) == total:
                    return
            elif isinstance(event, Hello):
                hellos.append(event)
            else:
                other.append(event)

    listener = asyncio.create_task(listen())
    try:
        for i in range(10):
            await origin_post(stack, team.bob.token, team.general, f"m{i}")
        await asyncio.sleep(0.3)  # some delivered live before the kill
        if how == "kill":
            stack.edges[0].kill()
        else:
            await asyncio.to_thread(stack.edges[0].stop)
        for i in range(10, 20):
            await origin_post(stack, team.bob.token, team.general, f"m{i}")  # while no edge is up
        await asyncio.to_thread(stack.start_edge, start_server, "local", port)
        for i in range(20, 30):
            await origin_post(stack, team.bob.token, team.general, f"m{i}")
        await asyncio.wait_for(listener, 30)
    finally:
        listener.cancel()
        await client.close()
    assert seen == [f"m{i}" for i in range(total)]
    assert client.connections >= 2
    assert not hellos[0].reconnect  # held for the listener since connect()
    assert len(hellos) >= 2 and all(h.reconnect and h.resumed for h in hellos[1:])
    assert any(isinstance(e, Disconnected) and e.will_reconnect for e in other)
    assert not [e for e in other if isinstance(e, Resync)]
    assert any(isinstance(e, Goodbye) for e in other) == (how == "drain")


async def test_revoked_token_ends_the_session_without_a_reconnect_loop(stack: Stack) -> None:
    team = stack.team
    transport = CountingTransport()
    client = FlannelClient(
        discovery_url(stack), team.carol.token, http_transport=transport, backoff=fast_backoff()
    )
    await client.connect()
    events = client.events()
    async with httpx.AsyncClient() as http:
        await http.post(
            stack.origin.url + "/api/auth.revoke", headers={"Authorization": f"Bearer {team.carol.token}"}
        )
    with pytest.raises(AuthError) as ended:
        async with asyncio.timeout(15):
            async for _ in events:
                pass
    assert ended.value.code == "token_revoked"
    with pytest.raises(AuthError):
        await client.wait_closed()
    await asyncio.sleep(1)  # a reconnect loop would show up here
    assert transport.calls["rtm.connect"] == 1
    with pytest.raises(ClientClosed):
        await client.post(team.general, "still here?")
    await client.close()

    refused = FlannelClient(discovery_url(stack), team.carol.token, http_transport=transport)
    with pytest.raises(AuthError) as at_connect:
        await refused.connect()
    assert at_connect.value.code in ("invalid_auth", "token_revoked")
    assert transport.calls["rtm.connect"] == 2
    await refused.close()


async def test_the_cache_never_grows_past_its_bound(stack: Stack) -> None:
    team = stack.team
    limits = CacheLimits(users=2, channels=1, member_lists=1)
    async with FlannelClient(discovery_url(stack), team.alice.token, cache_limits=limits) as alice:
        cache = alice.cache

        def bounded() -> None:
            assert len(cache.users) <= 2 and len(cache.channels) <= 1 and len(cache.members) <= 1

        bounded()
        events = alice.events()
        for member in team.users:
            assert (await alice.users.get_one(member.id)).id == member.id
            bounded()
        got = await alice.users.get([m.id for m in team.users])
        assert set(got) == {m.id for m in team.users}  # answered even when they do not all fit
        bounded()
        for channel in (team.general, team.private):
            await alice.channels.get(channel)
            await alice.channels.members(channel)
            bounded()
        for member in (team.bob, team.carol):
            await origin_post(stack, member.token, team.general, f"from {member.name}")
            message = await next_event(events, Message)
            assert message.sender is not None and message.sender.id == member.id
            bounded()
        assert cache.users.evictions > 0


async def test_concurrent_lookups_of_one_user_make_one_request(stack: Stack) -> None:
    team = stack.team
    connector, queries = counting_connector()
    async with FlannelClient(discovery_url(stack), team.alice.token, connector=connector) as alice:
        users = await asyncio.gather(*(alice.users.get_one(team.bob.id) for _ in range(20)))
        assert {u.name for u in users} == {"bob"}
        assert queries["users.info"] == 1
        many = await asyncio.gather(*(alice.users.get([team.carol.id, "UNOSUCHUSER"]) for _ in range(10)))
        assert all(set(m) == {team.carol.id} for m in many)
        with pytest.raises(ApiError) as missing:
            await alice.users.get_one("UNOSUCHUSER")
        assert missing.value.code == "user_not_found"

    transport = CountingTransport()
    async with FlannelClient(
        discovery_url(stack), team.alice.token, http_transport=transport, reads_over_websocket=False
    ) as alice:
        await asyncio.gather(
            *(alice.users.get_one(team.bob.id) for _ in range(20)),
            *(alice.users.get_one(team.carol.id) for _ in range(20)),
        )
        assert transport.calls["users.info"] == 1  # both ids in one batch


async def test_channels_threads_edits_reactions_and_read_markers(stack: Stack) -> None:
    team = stack.team
    async with FlannelClient(discovery_url(stack), team.alice.token) as alice:
        general = await alice.channels.get(team.general)
        assert general.name == "general" and general.is_member and not general.partial
        assert set(await alice.channels.members(team.general)) == {m.id for m in team.users}
        with pytest.raises(ApiError) as hidden:
            await alice.channels.get("CNOSUCHCHANNEL")
        assert hidden.value.code == "channel_not_found"

        events = alice.events()
        root = await alice.post(team.general, "thread root")
        reply = await alice.post(team.general, "a reply", thread_ts=root.ts)
        assert reply.thread_ts == root.ts
        assert [m.text async for m in alice.replies(team.general, root.ts)] == ["thread root", "a reply"]

        await alice.edit(team.general, root.ts, "thread root (edited)")
        await alice.react(team.general, root.ts, ":tada:")
        await alice.unreact(team.general, root.ts, "tada")
        await alice.delete(team.general, reply.ts)
        await alice.mark_read(team.general, root.ts)
        changed = await next_event(events, MessageChanged)
        assert changed.message.text == "thread root (edited)" and changed.message.edited_ts
        added = await next_event(events, ReactionAdded)
        assert (added.reaction, added.ts, added.user) == ("tada", root.ts, team.alice.id)
        assert (await next_event(events, ReactionRemoved)).reaction == "tada"
        assert (await next_event(events, MessageDeleted)).deleted_ts == reply.ts
        assert (await next_event(events, ChannelMarked)).ts == root.ts


async def test_message_search_pages(stack: Stack) -> None:
    team = stack.team
    async with FlannelClient(discovery_url(stack), team.alice.token) as alice:
        for i in range(5):
            await alice.post(team.general, f"needle number {i}")
        await alice.post(team.private, "needle in private")
        try:
            hits = [m async for m in alice.search("needle", page_size=2)]
        except ApiError as exc:
            if exc.code in ("unknown_method", "method_not_found"):
                pytest.skip("search.messages is not served by the origin yet")
            raise
        assert len(hits) == 6
        assert {h.channel for h in hits} == {team.general, team.private}
        assert len([m async for m in alice.search("needle", page_size=2, limit=3)]) == 3
