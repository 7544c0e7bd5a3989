"""Presence and typing end to end: a real origin, Redis, and two edges in two regions (``us``
and ``eu``) as processes; raw WebSockets and the official slack_sdk.

Timeouts are configured short (``--presence-ttl 3``, ``--presence-away-after``) so the bounds
can be seen within a test; no test asserts how fast anything is, only that it happens within
a generous bound and that what must not arrive does not.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from typing import Any

import orjson
import pytest
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from origin.store.shards import Store
from tests.conftest import ServerProcess, free_port
from tests.factories import make_team
from tests.flannel.conftest import Stack
from tests.flannel.test_slack_clients_e2e import connect

pytestmark = pytest.mark.e2e

JSON = dict[str, Any]
FAST = ["--presence-ttl", "3", "--presence-coalesce", "0.1", "--typing-expiry", "2"]


async def _stack(
    start_server: type[ServerProcess], database_urls: list[str], redis_url: str, prefix: str, *extra: str
) -> Stack:
    store = await Store.open(database_urls)
    team = await make_team(store)
    other = await make_team(store, ("dave", "erin", "frank"))
    args = ["origin", "--log-level", "warning", "--redis-url", redis_url, "--redis-prefix", prefix]
    for url in database_urls:
        args += ["--database-url", url]
    origin = start_server(args, free_port()).start()
    s = Stack(origin, [], store, team, other, redis_url, prefix, database_urls)
    s.start_edge(start_server, "us", None, *FAST, *extra)
    s.start_edge(start_server, "eu", None, *FAST, *extra)
    return s


@pytest.fixture
async def regions(
    start_server: type[ServerProcess], database_urls: list[str], redis_url: str, redis_prefix: str
) -> AsyncIterator[Stack]:
    s = await _stack(start_server, database_urls, redis_url, redis_prefix)
    try:
        yield s
    finally:
        await s.store.close()


@pytest.fixture
async def idle_regions(
    start_server: type[ServerProcess], database_urls: list[str], redis_url: str, redis_prefix: str
) -> AsyncIterator[Stack]:
    s = await _stack(start_server, database_urls, redis_url, redis_prefix, "--presence-away-after", "1.5")
    try:
        yield s
    finally:
        await s.store.close()


class Socket:
    """A client connection that keeps every frame it received, to look for (or not find) some."""

    def __init__(self, sock: Any) -> None:
        self.sock = sock
        self.frames: list[JSON] = []  # everything received
        self._unread: list[JSON] = []  # received, not taken by wait or drain yet

    @classmethod
    async def open(cls, s: Stack, token: str, edge: int) -> Socket:
        me = cls(await connect(s, token, edge))
        await me.wait(lambda f: f.get("type") == "hello")
        return me

    async def send(self, frame: JSON | str) -> None:
        await self.sock.send(frame if isinstance(frame, str) else orjson.dumps(frame).decode())

    async def wait(self, match: Callable[[JSON], bool], wait_s: float = 15.0) -> JSON:
        """The first frame not taken yet (received earlier, or from now on) that ``match``es."""

        async def find() -> JSON:
            while True:
                for i, frame in enumerate(self._unread):
                    if match(frame):
                        del self._unread[i]
                        return frame
                frame = orjson.loads(await self.sock.recv())
                self.frames.append(frame)
                self._unread.append(frame)

        return await asyncio.wait_for(find(), wait_s)

    async def drain(self, wait_s: float = 1.0) -> list[JSON]:
        """Every frame not taken yet, and everything that arrives within ``wait_s``."""
        try:
            while True:
                frame = orjson.loads(await asyncio.wait_for(self.sock.recv(), wait_s))
                self.frames.append(frame)
                self._unread.append(frame)
        except TimeoutError:
            got, self._unread = self._unread, []
            return got

    async def close(self) -> None:
        await self.sock.close()


def change(user: str, presence: str) -> Callable[[JSON], bool]:
    return lambda f: f.get("type") == "presence_change" and user in f["users"] and f["presence"] == presence


def mentions(frames: list[JSON], user: str) -> list[JSON]:
    return [f for f in frames if user in orjson.dumps(f).decode() and f.get("type") != "hello"]


def test_presence_and_typing_cross_edges_only_within_the_workspace(regions: Stack) -> None:
    s, team, other = regions, regions.team, regions.other

    async def scenario() -> None:
        bob = await Socket.open(s, team.bob.token, 1)
        dave = await Socket.open(s, other.alice.token, 1)  # another workspace, same edge
        dave_us = await Socket.open(s, other.bob.token, 0)
        await bob.send({"id": 1, "type": "presence_sub", "ids": [team.alice.id, team.carol.id]})
        ack = await bob.wait(lambda f: f.get("reply_to") == 1)
        assert ack["ok"] and ack["subscribed"] == 2
        await bob.wait(change(team.alice.id, "away"))  # the current presence, right away
        # dave tries to watch users of another workspace: they are not his to see.
        await dave.send({"id": 1, "type": "presence_sub", "ids": [team.alice.id, team.carol.id]})
        assert (await dave.wait(lambda f: f.get("reply_to") == 1))["subscribed"] == 0

        alice = await Socket.open(s, team.alice.token, 0)
        hello = alice.frames[0]
        assert hello["typing_expiry_s"] == 2
        await bob.wait(change(team.alice.id, "active"))
        await bob.send({"id": 2, "type": "presence_query", "ids": [team.alice.id, team.carol.id]})
        answer = await bob.wait(lambda f: f.get("reply_to") == 2)
        assert answer["presence"] == {team.alice.id: "active", team.carol.id: "away"}

        # typing: from the us edge to bob on the eu edge; at most one per channel per 3 s.
        carol = await Socket.open(s, team.carol.token, 1)
        await alice.send({"id": 3, "type": "typing", "channel": team.general})
        typing = await bob.wait(lambda f: f.get("type") == "user_typing")
        assert typing == {"type": "user_typing", "channel": team.general, "user": team.alice.id}
        await carol.wait(lambda f: f.get("type") == "user_typing" and f["user"] == team.alice.id)
        await alice.send({"id": 4, "type": "typing", "channel": team.general})  # within 3 s
        await alice.send({"id": 5, "type": "typing", "channel": team.private})  # carol: not a member
        private = await bob.wait(lambda f: f.get("type") == "user_typing")
        assert private["channel"] == team.private
        later = await bob.drain(1.5)
        assert not [f for f in later if f.get("type") == "user_typing"]  # the rate limit held
        assert not [f for f in await carol.drain(0.5) if f.get("channel") == team.private]

        # no stop frame: once alice stops typing, nothing more comes and bob's board expires.
        from wire.presence import TypingBoard

        board = TypingBoard(hello["typing_expiry_s"])
        board.saw(typing["channel"], typing["user"], 0.0)
        assert board.typing(team.general, 1.9) == [team.alice.id]
        assert board.typing(team.general, 2.0) == []

        await alice.close()
        await bob.wait(change(team.alice.id, "away"))

        # isolation: nothing of workspace A reached B's connections, on either edge.
        for sock in (dave, dave_us):
            await sock.drain(0.5)
            seen = sock.frames
            for user in (team.alice.id, team.bob.id, team.carol.id):
                assert not mentions(seen, user), seen
            assert not [f for f in seen if f.get("type") in ("user_typing", "presence_change")]
        for sock in (bob, dave, dave_us, carol):
            await sock.close()

    asyncio.run(scenario())


def test_bad_presence_frames_get_clear_errors(regions: Stack) -> None:
    s, team = regions, regions.team

    async def scenario() -> None:
        bob = await Socket.open(s, team.bob.token, 1)
        await bob.send({"id": 1, "type": "presence_sub", "ids": [f"U{i:09d}" for i in range(501)]})
        error = await bob.wait(lambda f: f.get("reply_to") == 1)
        assert error["type"] == "error" and error["error"]["code"] == "invalid_arguments"
        assert "500" in error["error"]["msg"] and "501" in error["error"]["msg"]
        await bob.send({"id": 2, "type": "presence_sub", "ids": team.alice.id})
        wrong = await bob.wait(lambda f: f.get("reply_to") == 2)
        assert wrong["error"]["code"] == "invalid_arguments" and "ids" in wrong["error"]["msg"]
        await bob.send({"id": 3, "type": "presence_query", "ids": [1, 2]})
        assert (await bob.wait(lambda f: f.get("reply_to") == 3))["error"]["code"] == "invalid_arguments"
        await bob.send({"id": 4, "type": "typing", "channel": 7})
        assert (await bob.wait(lambda f: f.get("reply_to") == 4))["error"]["code"] == "invalid_arguments"
        # the connection is still good: a valid subscription after the bad ones works
        await bob.send({"id": 5, "type": "presence_sub", "ids": [team.alice.id]})
        assert (await bob.wait(lambda f: f.get("reply_to") == 5))["ok"]
        await bob.close()

    asyncio.run(scenario())


def test_manual_away_survives_a_reconnect_and_slack_sdk_reads_it(regions: Stack) -> None:
    s, team = regions, regions.team
    alice_api = WebClient(token=team.alice.token, base_url=s.edge_api(0))
    bob_api = WebClient(token=team.bob.token, base_url=s.edge_api(1))

    async def scenario() -> None:
        bob = await Socket.open(s, team.bob.token, 1)
        await bob.send({"type": "presence_sub", "ids": [team.alice.id]})
        await bob.wait(change(team.alice.id, "away"))  # her current presence (offline) comes first
        alice = await Socket.open(s, team.alice.token, 0)
        await bob.wait(change(team.alice.id, "active"))
        mine = await asyncio.to_thread(alice_api.users_getPresence, user=team.alice.id)
        assert mine["presence"] == "active" and mine["online"] and not mine["manual_away"]
        assert mine["connection_count"] == 1 and not mine["auto_away"] and mine["last_activity"] > 0

        assert (await asyncio.to_thread(alice_api.users_setPresence, presence="away"))["ok"]
        manual = await alice.wait(lambda f: f.get("type") == "manual_presence_change")
        assert manual["presence"] == "away"
        await bob.wait(change(team.alice.id, "away"))
        mine = await asyncio.to_thread(alice_api.users_getPresence, user=team.alice.id)
        assert (mine["presence"], mine["manual_away"], mine["online"]) == ("away", True, True)
        theirs = await asyncio.to_thread(bob_api.users_getPresence, user=team.alice.id)
        assert {k: v for k, v in theirs.data.items() if k != "ok"} == {"presence": "away"}

        # reconnect, on the other edge: still away (stored at the origin), never flashes active
        await alice.close()
        alice = await Socket.open(s, team.alice.token, 1)
        mine = await asyncio.to_thread(alice_api.users_getPresence, user=team.alice.id)
        assert (mine["presence"], mine["manual_away"]) == ("away", True)
        await bob.send({"id": 9, "type": "presence_query", "ids": [team.alice.id]})
        assert (await bob.wait(lambda f: f.get("reply_to") == 9))["presence"] == {team.alice.id: "away"}
        assert not [f for f in await bob.drain(1.0) if change(team.alice.id, "active")(f)]

        assert (await asyncio.to_thread(alice_api.users_setPresence, presence="auto"))["ok"]
        await bob.wait(change(team.alice.id, "active"))
        assert (await alice.wait(lambda f: f.get("type") == "manual_presence_change"))["presence"] == "active"
        with pytest.raises(SlackApiError) as bad:
            await asyncio.to_thread(alice_api.users_setPresence, presence="busy")
        assert bad.value.response["error"] == "invalid_arguments"
        for sock in (alice, bob):
            await sock.close()

    asyncio.run(scenario())


def test_auto_away_after_the_configured_inactivity(idle_regions: Stack) -> None:
    s, team = idle_regions, idle_regions.team
    alice_api = WebClient(token=team.alice.token, base_url=s.edge_api(0))

    async def scenario() -> None:
        bob = await Socket.open(s, team.bob.token, 1)
        await bob.send({"type": "presence_sub", "ids": [team.alice.id]})
        await bob.wait(change(team.alice.id, "away"))  # her current presence (offline) comes first
        alice = await Socket.open(s, team.alice.token, 0)
        await bob.wait(change(team.alice.id, "active"))
        await bob.wait(change(team.alice.id, "away"))  # 1.5 s without activity (pings don't count)
        mine = await asyncio.to_thread(alice_api.users_getPresence, user=team.alice.id)
        assert (mine["presence"], mine["auto_away"], mine["online"]) == ("away", True, True)
        await alice.send({"type": "presence_active"})
        await bob.wait(change(team.alice.id, "active"))
        for sock in (alice, bob):
            await sock.close()

    asyncio.run(scenario())


def test_users_of_an_edge_killed_with_sigkill_go_away(regions: Stack) -> None:
    s, team = regions, regions.team
    bob_api = WebClient(token=team.bob.token, base_url=s.edge_api(1))

    async def scenario() -> None:
        bob = await Socket.open(s, team.bob.token, 1)
        await bob.send({"type": "presence_sub", "ids": [team.alice.id]})
        await bob.wait(change(team.alice.id, "away"))  # her current presence (offline) comes first
        await Socket.open(s, team.alice.token, 0)
        await bob.wait(change(team.alice.id, "active"))
        assert (await asyncio.to_thread(bob_api.users_getPresence, user=team.alice.id))[
            "presence"
        ] == "active"
        s.edges[0].kill()  # SIGKILL: no goodbye, no last report
        await bob.wait(change(team.alice.id, "away"), wait_s=15)  # within the 3 s TTL (and a beat)
        assert (await asyncio.to_thread(bob_api.users_getPresence, user=team.alice.id))["presence"] == "away"
        await bob.close()

    asyncio.run(scenario())
