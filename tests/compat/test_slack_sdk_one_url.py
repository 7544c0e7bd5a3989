"""slack_sdk's RTMClient and WebClient sharing one base URL, the router's: every method the
WebClient calls is forwarded to the caller's edge, and the RTMClient connects through it."""

from __future__ import annotations

import asyncio
import threading
from typing import Any

import pytest
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.rtm_v2 import RTMClient

from origin.service import conversations, users
from origin.service.auth import issue_token
from tests.compat.conftest import Compat
from tests.slackrtm import shut_down


async def add_bot(compat: Compat) -> str:
    team = compat.team
    bot = await users.create_user(compat.store, team.id, "helperbot", "Helper Bot", is_bot=True)
    await conversations.admin_add_member(compat.store, team.id, team.general, bot["id"])
    return await issue_token(compat.store, team.id, bot["id"], bot=True)


def test_web_and_rtm_clients_share_the_routers_base_url(compat: Compat) -> None:
    team = compat.team
    bot_token = asyncio.run(add_bot(compat))
    web = WebClient(token=bot_token, base_url=compat.api)
    rtm = RTMClient(token=bot_token, base_url=compat.api, web_client=web)
    hello, heard = threading.Event(), threading.Event()
    got: list[dict[str, Any]] = []

    @rtm.on("hello")
    def on_hello(client: RTMClient, event: dict[str, Any]) -> None:
        hello.set()

    @rtm.on("message")
    def on_message(client: RTMClient, event: dict[str, Any]) -> None:
        if event.get("text") == "one url":
            got.append(event)
            heard.set()

    rtm.connect()
    try:
        assert hello.wait(15)
        alice = WebClient(token=team.alice.token, base_url=compat.api)
        assert {u["name"] for u in alice.users_list()["members"]} >= {"alice", "bob"}
        alice.chat_postMessage(channel=team.general, text="one url")
        assert heard.wait(15) and got[0]["user"] == team.alice.id
        # Read-your-writes through the router: a channel just created is there at once.
        for i in range(10):
            created = alice.conversations_create(name=f"one-url-{i}")["channel"]
            assert alice.conversations_info(channel=created["id"])["channel"]["name"] == f"one-url-{i}"
        with pytest.raises(SlackApiError) as unknown:
            alice.api_call("nope.nope")
        assert (
            unknown.value.response.status_code == 200 and unknown.value.response["error"] == "unknown_method"
        )
        started = alice.rtm_start()
        assert started["url"].startswith("ws") and started["users"]
    finally:
        shut_down(rtm)
