"""``/rtm`` and the connection adapter in-process: admission's refusals and their close codes,
the hello, queries and sends, events, typing, rate limits, drains and reloads."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any

import pytest

from flannel import edge as edge_module
from flannel.connection import Connection
from flannel.rtm.admission import Admit
from tests.flannel.cache import event, user
from tests.flannel.harness import serve
from wire import closecodes
from wire.http import ACTING_HEADER, SERVICE_HEADER
from wire.tokens import token_hash


def message(offset: int, channel: str, text: str, sender: str = "U1") -> dict[str, Any]:
    return event(offset, "message", channel=channel, user=sender, text=text, ts=f"1700000000.{offset:06d}")


async def test_the_hello_comes_first_then_queries_are_answered_from_memory() -> None:
    async with serve() as env, env.ws(env.url()) as bob:
        hello = await bob.recv()
        await bob.send({"id": 1, "type": "query", "method": "users.info", "args": {"user": "U3"}})
        reply = await bob.recv()
        await bob.send({"id": 2, "type": "ping", "time": 7})
        pong = await bob.recv()
        await bob.send("not json")
        bad = await bob.recv()
    assert hello["type"] == "hello" and hello["self"]["id"] == "U2" and hello["offset"] == 10
    assert {c["id"] for c in hello["channels"]} == {"C1", "G1", "D1", "G2"}
    assert reply["ok"] and reply["reply_to"] == 1 and reply["user"]["name"] == "carol"
    assert pong == {"type": "pong", "reply_to": 2, "time": 7}
    assert bad["type"] == "error" and bad["error"]["code"] == "invalid_json"
    assert env.origin.forwarded() == []


async def test_a_message_frame_is_posted_at_the_origin_as_the_user() -> None:
    async with serve() as env, env.ws(env.url()) as bob:
        await bob.next_of("hello")
        await bob.send({"id": 5, "type": "message", "channel": "C1", "text": "hi", "thread_ts": "1.2"})
        reply = await bob.recv()
        await bob.send(
            {"id": 6, "type": "query", "method": "conversations.history", "args": {"channel": "C1"}}
        )
        history = await bob.recv()
    assert reply["ok"] and reply["reply_to"] == 5 and reply["method"] == "chat.postMessage"
    assert history["reply_to"] == 6 and history["args"] == {"channel": "C1"}
    posted = env.origin.forwarded()[0]
    assert posted.args == {"channel": "C1", "text": "hi", "thread_ts": "1.2"}
    assert (
        posted.headers[ACTING_HEADER] == "T1:U2"
        and posted.headers[SERVICE_HEADER] == env.edge.settings.secret
    )
    assert "authorization" not in posted.headers


async def test_an_unreachable_origin_is_an_error_reply_not_a_closed_connection() -> None:
    async with serve() as env, env.ws(env.url()) as bob:
        await bob.next_of("hello")
        env.origin.down = True
        await bob.send({"id": 3, "type": "message", "channel": "C1", "text": "hi"})
        reply = await bob.recv()
        await bob.send({"id": 4, "type": "ping"})
        assert (await bob.recv())["type"] == "pong"
    # Slack's RTM shape for a failed send, which the Node RTM client reports as a Slack error.
    assert reply == {
        "ok": False,
        "reply_to": 3,
        "error": {"code": "origin_unreachable", "msg": "origin_unreachable"},
    }


async def test_events_reach_members_only_with_their_users_just_in_time() -> None:
    async with serve() as env, env.ws(env.url("U2")) as bob, env.ws(env.url("U3", "xoxp-carol")) as carol:
        await bob.next_of("hello")
        await carol.next_of("hello")
        await env.append(message(11, "G1", "secret"), message(12, "C1", "public"))
        info = await bob.recv()
        first, second = await bob.recv(), await bob.recv()
        carols = await carol.next_of("message")
    assert info == {"type": "user_info", "users": [env.origin.state.users["U1"]]}
    assert (first["text"], second["text"]) == ("secret", "public")
    assert carols["text"] == "public" and carols["offset"] == 12


async def test_typing_reaches_the_other_members_on_this_edge() -> None:
    async with serve() as env, env.ws(env.url("U2")) as bob, env.ws(env.url("U1", "xoxp-alice")) as alice:
        await bob.next_of("hello")
        await alice.next_of("hello")
        await alice.send({"id": 1, "type": "typing", "channel": "D1"})
        typing = await bob.recv()
    assert typing == {"type": "user_typing", "channel": "D1", "user": "U1"}


async def test_a_client_that_keeps_sending_while_limited_is_closed() -> None:
    async with serve(client_frames_per_s=1.0) as env, env.ws(env.url()) as bob:
        await bob.next_of("hello")
        for i in range(3):
            await bob.send({"id": i, "type": "ping"})
        frames = [await bob.recv() for _ in range(3)]
        assert frames[2]["type"] == "error" and frames[2]["reply_to"] == 2
        assert frames[2]["error"]["code"] == "ratelimited"
        for i in range(3, 60):
            await bob.send({"id": i, "type": "ping"})
        await bob.until_closed()
    assert bob.close_code == closecodes.RATE_LIMITED


@pytest.mark.parametrize(
    ("how", "code", "error"),
    [
        ("garbage", closecodes.BAD_TICKET, "invalid_auth"),
        ("other_edge", closecodes.BAD_TICKET, "wrong_edge"),
        ("bad_offset", closecodes.BAD_TICKET, "invalid_arguments"),
        ("revoked", closecodes.TOKEN_REVOKED, "token_revoked"),
        ("deactivated", closecodes.ACCOUNT_INACTIVE, "account_inactive"),
        ("unknown_user", closecodes.BAD_TICKET, "user_not_found"),
    ],
)
async def test_refused_connections_get_an_error_frame_then_the_contract_close_code(
    how: str, code: int, error: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(edge_module, "CATCH_UP_S", 0.05)
    async with serve() as env:
        url = {
            "garbage": "/rtm?ticket=nope",
            "other_edge": env.url(edge="edge-elsewhere"),
            "bad_offset": env.url() + "&resume_from=abc",
            "revoked": env.url(),
            "deactivated": env.url("U4", "xoxp-dave"),
            "unknown_user": env.url("U9", "xoxp-nobody"),
        }[how]
        if how == "revoked":
            env.edge.revoked[token_hash("xoxp-bob")] = 0.0
        async with env.ws(url) as client:
            frames = await client.until_closed()
    assert client.accepted
    assert [f["error"]["code"] for f in frames] == [error], frames
    assert client.close_code == code
    assert env.edge.connections == 0 and env.edge.cache.pins(env.team_id) == 0


async def test_a_ticket_is_single_use() -> None:
    async with serve() as env:
        url = env.url()
        async with env.ws(url) as first:
            assert (await first.recv())["type"] == "hello"
        async with env.ws(url) as again:
            frames = await again.until_closed()
    assert frames[0]["error"]["code"] == "ticket_used" and again.close_code == closecodes.BAD_TICKET


async def test_a_draining_edge_refuses_before_accepting_and_keeps_the_ticket() -> None:
    async with serve() as env:
        url = env.url()
        env.edge.draining = True
        async with env.ws(url) as refused:
            pass
        env.edge.draining = False
        async with env.ws(url) as later:
            hello = await later.recv()
    assert not refused.accepted and refused.close_code == closecodes.UNAVAILABLE
    assert hello["type"] == "hello"  # the refused attempt did not spend the ticket


async def test_revocation_and_deactivation_close_open_connections() -> None:
    async with serve() as env, env.ws(env.url("U2")) as bob, env.ws(env.url("U3", "xoxp-carol")) as carol:
        await bob.next_of("hello")
        await carol.next_of("hello")
        await env.append(event(11, "token_revoked", user="U2", token_hash=token_hash("xoxp-bob")))
        await bob.until_closed()
        gone = {**user("U3", "carol", "Carol Smithers", "cc"), "deleted": True}
        await env.append(event(12, "user_change", user=gone))
        await carol.until_closed()
    assert bob.close_code == closecodes.TOKEN_REVOKED
    assert carol.close_code == closecodes.ACCOUNT_INACTIVE


async def test_a_drain_says_goodbye_then_closes_going_away() -> None:
    async with serve() as env, env.ws(env.url()) as bob:
        await bob.next_of("hello")
        await env.edge.drain()
        frames = await bob.until_closed()
    assert frames == [{"type": "goodbye", "source": "drain"}]
    assert bob.close_code == closecodes.GOING_AWAY


async def test_a_cache_reload_tells_clients_to_resync() -> None:
    async with serve() as env, env.ws(env.url()) as bob:
        await bob.next_of("hello")
        await env.append(message(15, "C1", "after a hole"))  # 11..14 never came: the cache reloads
        frames = await bob.until_closed()
    assert frames[-1] == {"type": "resync", "reason": "edge_reloaded"}
    assert bob.close_code == closecodes.RESYNC


async def test_a_client_ahead_of_a_fresh_cache_waits_for_it_instead_of_resyncing() -> None:
    async with serve() as env:
        async with env.http() as http:  # the cache is loaded, at offset 10
            await http.post("/api/auth.test", headers={"Authorization": "Bearer xoxp-bob"})
        async with env.ws(env.url() + "&resume_from=12") as bob:
            await asyncio.sleep(0.05)  # the connection now waits for the cache to reach 12
            await env.append(message(11, "C1", "one"), message(12, "C1", "two"))
            hello = await bob.next_of("hello")
    assert hello["resync"] is False and hello["resume_from"] == 12 and hello["offset"] >= 12


async def test_resuming_replays_exactly_the_missed_events() -> None:
    async with serve() as env:
        await env.append(message(11, "C1", "one"), message(12, "G1", "secret"), message(13, "C1", "two"))
        async with env.ws(env.url("U3", "xoxp-carol", resume_from=10)) as carol:
            hello = await carol.recv()
            await env.caught_up(13)
            got = [await carol.next_of("message"), await carol.next_of("message")]
            await carol.send({"id": 1, "type": "ping"})
            assert (await carol.recv())["type"] == "pong"  # nothing else was queued in between
    assert hello["resync"] is False and hello["resume_from"] == 10
    assert [m["text"] for m in got] == ["one", "two"]  # not the private one, and none twice


class FakeSocket:
    """The adapter's whole view of a WebSocket: frames in, frames and a close out."""

    def __init__(self, incoming: list[str]) -> None:
        self.incoming = incoming
        self.sent: list[str] = []
        self.closed: tuple[int, str | None] | None = None

    async def receive(self) -> Mapping[str, Any]:
        if self.incoming:
            return {"type": "websocket.receive", "text": self.incoming.pop(0)}
        await asyncio.sleep(0.05)  # let the writer flush, then the client goes
        return {"type": "websocket.disconnect", "code": 1000}

    async def send_text(self, data: str) -> None:
        self.sent.append(data)

    async def close(self, code: int = 1000, reason: str | None = None) -> None:
        self.closed = (code, reason)


async def test_the_adapter_moves_frames_and_lets_go_of_the_workspace() -> None:
    async with serve() as env:
        socket = FakeSocket(['{"id": 1, "type": "ping"}'])
        session = env.edge.new_session(Admit("U2", "T1", token_hash("xoxp-bob"), None))
        await Connection(env.edge, socket, session).run(None)
    kinds = [s[:30] for s in socket.sent]
    assert kinds[0].startswith('{"type":"hello"') and '"pong"' in socket.sent[1]
    assert socket.closed == (closecodes.NORMAL, "bye")
    assert env.edge.connections == 0 and env.edge.cache.pins("T1") == 0 and env.edge.wakers == {}
