"""The edge against a real origin, Redis and real clients (slack_sdk and raw WebSockets)."""

from __future__ import annotations

import asyncio
import threading
from typing import Any

import httpx
import orjson
import pytest
import websockets
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from tests.flannel.conftest import Stack
from tests.slackrtm import shut_down
from wire import closecodes
from wire.http import SERVICE_HEADER

SECRET = {SERVICE_HEADER: "dev-secret-change-me"}


async def connect(stack: Stack, token: str, edge: int = 0, resume_from: int | None = None) -> Any:
    async with httpx.AsyncClient() as http:
        data: dict[str, Any] = {}
        if resume_from is not None:
            data["resume_from"] = resume_from
        body = (
            await http.post(
                stack.edge_api(edge) + "rtm.connect", data=data, headers={"Authorization": f"Bearer {token}"}
            )
        ).json()
    assert body["ok"], body
    return await websockets.connect(body["url"])


async def next_of(sock: Any, kind: str, wait_s: float = 10) -> dict[str, Any]:
    async def find() -> dict[str, Any]:
        while True:
            frame = orjson.loads(await sock.recv())
            if frame.get("type") == kind:
                return frame

    return await asyncio.wait_for(find(), wait_s)


def test_webclient_at_the_edge_reads_from_memory_and_writes_through(stack: Stack) -> None:
    team = stack.team
    edge = WebClient(token=team.alice.token, base_url=stack.edge_api())
    assert edge.auth_test()["user_id"] == team.alice.id
    assert edge.users_info(user=team.bob.id)["user"]["name"] == "bob"
    batch = edge.api_call("users.info", params={"users": f"{team.bob.id},{team.carol.id}"})
    assert {u["name"] for u in batch["users"]} == {"bob", "carol"}
    found = edge.api_call("users.search", params={"query": "car"})
    assert [u["id"] for u in found["users"]] == [team.carol.id]
    channels = edge.conversations_list(types="public_channel,private_channel")
    assert {c["id"] for c in channels["channels"]} == {team.general, team.private}
    posted = edge.chat_postMessage(channel=team.general, text="through the edge")
    history = edge.conversations_history(channel=team.general)
    assert history["messages"][0]["ts"] == posted["ts"]
    carol = WebClient(token=team.carol.token, base_url=stack.edge_api())
    for call in (
        lambda: carol.conversations_info(channel=team.private),
        lambda: carol.conversations_members(channel=team.private),
        lambda: WebClient(token=stack.other.alice.token, base_url=stack.edge_api()).users_info(
            user=team.alice.id
        ),
        lambda: WebClient(token="xoxp-nope", base_url=stack.edge_api()).users_info(user=team.alice.id),
    ):
        with pytest.raises(SlackApiError):
            call()
    assert [c["id"] for c in carol.api_call("conversations.search", params={"query": "se"})["channels"]] == []


async def add_bot(stack: Stack) -> str:
    from origin.service import conversations, users
    from origin.service.auth import issue_token
    from origin.store.shards import Store

    store = await Store.open(stack.db_urls)
    try:
        bot = await users.create_user(store, stack.team.id, "helperbot", "Helper Bot", is_bot=True)
        await conversations.admin_add_member(store, stack.team.id, stack.team.general, bot["id"])
        return await issue_token(store, stack.team.id, bot["id"], bot=True)
    finally:
        await store.close()


def test_slack_sdk_rtm_client_receives_messages(stack: Stack) -> None:
    from slack_sdk.rtm_v2 import RTMClient

    team = stack.team
    got: list[dict[str, Any]] = []
    hello = threading.Event()
    done = threading.Event()
    # RTMClient (v2) is for bots: it drops events whose bot_id equals its own, None for users.
    bot_token = asyncio.run(add_bot(stack))
    rtm = RTMClient(token=bot_token, base_url=stack.edge_api())

    @rtm.on("hello")
    def on_hello(client: RTMClient, event: dict[str, Any]) -> None:
        hello.set()

    @rtm.on("message")
    def on_message(client: RTMClient, event: dict[str, Any]) -> None:
        got.append(event)
        done.set()

    rtm.connect()
    try:
        assert hello.wait(15)
        WebClient(token=team.alice.token, base_url=stack.origin.url + "/api/").chat_postMessage(
            channel=team.general, text="hello rtm"
        )
        assert done.wait(15)
        assert got[0]["text"] == "hello rtm" and got[0]["user"] == team.alice.id
    finally:
        shut_down(rtm)


async def test_events_reach_only_members_with_users_just_in_time(stack: Stack) -> None:
    team = stack.team
    bob = await connect(stack, team.bob.token)
    carol = await connect(stack, team.carol.token)
    hello = await next_of(bob, "hello")
    assert {c["id"] for c in hello["channels"]} == {team.general, team.private}
    assert len(orjson.dumps(hello)) < 2000
    await next_of(carol, "hello")
    alice = WebClient(token=team.alice.token, base_url=stack.origin.url + "/api/")
    await asyncio.to_thread(alice.chat_postMessage, channel=team.private, text="secret words")
    await asyncio.to_thread(alice.chat_postMessage, channel=team.general, text="public words")
    info = await next_of(bob, "user_info")
    assert [u["id"] for u in info["users"]] == [team.alice.id]
    first = await next_of(bob, "message")
    assert first["text"] == "secret words"
    assert (await next_of(bob, "message"))["text"] == "public words"
    carol_first = await next_of(carol, "message")
    assert carol_first["text"] == "public words"
    await bob.close()
    await carol.close()


async def test_resume_gets_exactly_the_missed_events(stack: Stack) -> None:
    team = stack.team
    bob = await connect(stack, team.bob.token)
    offset = (await next_of(bob, "hello"))["offset"]
    await bob.close()
    alice = WebClient(token=team.alice.token, base_url=stack.origin.url + "/api/")
    for i in range(5):
        await asyncio.to_thread(alice.chat_postMessage, channel=team.general, text=f"missed {i}")
    await asyncio.sleep(0.5)
    bob = await connect(stack, team.bob.token, resume_from=offset)
    hello = await next_of(bob, "hello")
    assert hello["resync"] is False
    texts = [(await next_of(bob, "message"))["text"] for _ in range(5)]
    assert texts == [f"missed {i}" for i in range(5)]
    await bob.close()
    stale = await connect(stack, team.bob.token, resume_from=10**9)
    assert (await next_of(stale, "hello"))["resync"] is True
    await stale.close()


async def test_many_concurrent_connects_to_a_cold_workspace_load_one_snapshot(stack: Stack) -> None:
    team = stack.team
    async with httpx.AsyncClient() as http:
        before = (await http.get(stack.origin.url + "/internal/stats", headers=SECRET)).json()
    socks = await asyncio.gather(*(connect(stack, team.users[i % 3].token) for i in range(100)))
    await asyncio.gather(*(next_of(s, "hello", 30) for s in socks))
    async with httpx.AsyncClient() as http:
        after = (await http.get(stack.origin.url + "/internal/stats", headers=SECRET)).json()
    assert after["snapshots_served"] - before["snapshots_served"] == 1
    await asyncio.gather(*(s.close() for s in socks))


async def test_revoked_token_closes_its_connections(stack: Stack) -> None:
    team = stack.team
    carol = await connect(stack, team.carol.token)
    await next_of(carol, "hello")
    async with httpx.AsyncClient() as http:
        await http.post(
            stack.origin.url + "/api/auth.revoke", headers={"Authorization": f"Bearer {team.carol.token}"}
        )
    with pytest.raises(websockets.ConnectionClosed) as closed:
        await asyncio.wait_for(next_of(carol, "never"), 5)
    assert closed.value.rcvd is not None and closed.value.rcvd.code == closecodes.TOKEN_REVOKED


async def test_ticket_issued_before_a_revocation_is_refused_after_it(stack: Stack) -> None:
    team = stack.team
    carol = await connect(stack, team.carol.token)  # the workspace is loaded on this edge
    await next_of(carol, "hello")
    async with httpx.AsyncClient() as http:
        auth = {"Authorization": f"Bearer {team.carol.token}"}
        ticket_url = (await http.post(stack.edge_api() + "rtm.connect", headers=auth)).json()["url"]
        await http.post(stack.origin.url + "/api/auth.revoke", headers=auth)
    with pytest.raises(websockets.ConnectionClosed):
        await asyncio.wait_for(next_of(carol, "never"), 5)
    late = await websockets.connect(ticket_url)
    error = orjson.loads(await late.recv())
    assert error["error"]["code"] == "token_revoked"
    with pytest.raises(websockets.ConnectionClosed) as closed:
        await late.recv()
    assert closed.value.rcvd is not None and closed.value.rcvd.code == closecodes.TOKEN_REVOKED
