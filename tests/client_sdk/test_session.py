"""The session loop against a scripted edge: resume, dedupe, resync, close codes, Retry-After."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from client_sdk import AuthError, ConnectionLost, Disconnected, Event, Goodbye, Hello, Message, Resync
from client_sdk.dispatch import Subscription
from client_sdk.sockets import SocketClosed
from tests.client_sdk.fakes import FakeEdge, ScriptedSocket, hello, message


async def take(events: Subscription, n: int, kind: type[Event] = Message) -> list[Event]:
    out: list[Event] = []

    async def collect() -> None:
        async for event in events:
            if isinstance(event, kind):
                out.append(event)
                if len(out) == n:
                    return

    await asyncio.wait_for(collect(), 5)
    return out


def texts(events: list[Event]) -> list[str]:
    return [e.text for e in events if isinstance(e, Message)]


async def test_reconnects_resumes_and_drops_what_it_already_gave() -> None:
    edge = FakeEdge()
    edge.ok(2)
    first = ScriptedSocket([hello(10), message(11), message(12), SocketClosed(None)])
    # The second edge replays from the resume point, overlapping what the first one sent.
    second = ScriptedSocket([hello(14, resume_from=12), message(12), message(13), message(14), message(15)])
    edge.sockets += [first, second]
    session, bus = edge.session()
    events = bus.subscribe()
    await session.start(5)
    got = await take(events, 5)
    assert texts(got) == ["m11", "m12", "m13", "m14", "m15"]
    assert edge.connects == [{"region": "eu"}, {"region": "eu", "resume_from": 12}]
    assert session.last_offset == 15 and session.connections == 2
    await session.stop()


async def test_a_resync_hello_drops_the_cache_and_says_so() -> None:
    edge = FakeEdge()
    edge.ok(2)
    edge.sockets += [
        ScriptedSocket(
            [
                hello(10),
                {"type": "user_info", "users": [{"id": "U2", "name": "bob"}]},
                message(11),
                SocketClosed(1006),
            ]
        ),
        ScriptedSocket([hello(50, resync=True, resume_from=11), message(51)]),
    ]
    session, bus = edge.session()
    events = bus.subscribe()
    await session.start(5)
    seen: list[Event] = []
    async for event in events:
        seen.append(event)
        if isinstance(event, Message) and event.offset == 51:
            break
    kinds = [type(e).__name__ for e in seen]
    assert kinds == ["Hello", "Message", "Disconnected", "Resync", "Hello", "Message"]
    resync = seen[3]
    assert isinstance(resync, Resync) and (resync.reason, resync.position) == ("resume_failed", 50)
    assert session.directory.users.peek("U2") is None  # dropped
    assert isinstance(seen[4], Hello) and not seen[4].resumed
    await session.stop()


async def test_a_resync_from_an_edge_behind_us_loses_nothing() -> None:
    edge = FakeEdge()
    edge.ok(2)
    joined = {"type": "member_joined_channel", "channel": "C5", "user": "UME", "offset": 12}
    edge.sockets += [
        ScriptedSocket([hello(10), message(11), joined, SocketClosed(1006)]),
        # A restarted edge, loaded from an older snapshot: its hello predates our C5 join.
        ScriptedSocket(
            [hello(9, resync=True, resume_from=12), message(10), message(11), joined, message(13)]
        ),
    ]
    session, bus = edge.session()
    events = bus.subscribe()
    await session.start(5)
    got = await take(events, 2)
    assert texts(got) == ["m11", "m13"]
    assert session.directory.joined == {"C1", "C5"}  # the stale hello did not undo the join
    assert session.directory.users.peek("UME") is not None
    await session.stop()


async def test_edge_reloaded_resyncs_the_cache_and_resumes() -> None:
    edge = FakeEdge()
    edge.ok(2)
    edge.sockets += [
        ScriptedSocket(
            [
                hello(10),
                message(11),
                {"type": "resync", "reason": "edge_reloaded"},
                SocketClosed(4010, "resync"),
            ]
        ),
        ScriptedSocket([hello(12, resume_from=11), message(12)]),
    ]
    session, bus = edge.session()
    events = bus.subscribe()
    await session.start(5)
    resync = (await take(events, 1, Resync))[0]
    assert isinstance(resync, Resync) and resync.reason == "edge_reloaded"
    assert texts(await take(events, 1)) == ["m12"]
    assert edge.connects[1]["resume_from"] == 11
    assert edge.sleeps == [0.05]  # soon: jittered over base, not a backoff
    await session.stop()


@pytest.mark.parametrize(("code", "error"), [(4001, "token_revoked"), (4002, "account_inactive")])
async def test_revoked_or_inactive_ends_the_session_with_no_reconnect(code: int, error: str) -> None:
    edge = FakeEdge()
    edge.ok(5)
    edge.sockets.append(ScriptedSocket([hello(10), message(11), SocketClosed(code, error)]))
    session, bus = edge.session()
    events = bus.subscribe()
    await session.start(5)
    seen: list[Event] = []
    with pytest.raises(AuthError) as ended:
        async for event in events:
            seen.append(event)
    assert ended.value.code == error
    assert [type(e) for e in seen] == [Hello, Message, Disconnected]
    assert isinstance(seen[2], Disconnected) and not seen[2].will_reconnect
    assert len(edge.connects) == 1 and edge.sleeps == []
    await session.done.wait()
    assert session.error is ended.value


async def test_invalid_auth_at_discovery_fails_connect_at_once() -> None:
    edge = FakeEdge()
    edge.discovery.append(httpx.Response(200, json={"ok": False, "error": "invalid_auth"}))
    session, _ = edge.session()
    with pytest.raises(AuthError) as refused:
        await session.start(5)
    assert refused.value.code == "invalid_auth" and len(edge.connects) == 1


async def test_retry_after_is_honoured_and_failures_back_off() -> None:
    edge = FakeEdge()
    edge.discovery += [
        httpx.Response(429, headers={"Retry-After": "3"}, json={"ok": False, "error": "ratelimited"}),
        httpx.Response(503, json={"ok": False, "error": "service_unavailable"}),
        httpx.Response(503, text="bad gateway"),
    ]
    edge.ok()
    edge.sockets.append(ScriptedSocket([hello(1)]))
    session, _ = edge.session()
    await session.start(5)
    # Retry-After 3 (+ jitter 0.5 * base), then full-jitter backoff: 0.5 * min(cap, base * 2^n).
    assert edge.sleeps == [3.05, 0.1, 0.2]
    await session.stop()


async def test_goodbye_moves_on_promptly() -> None:
    edge = FakeEdge()
    edge.ok(2)
    edge.sockets += [
        ScriptedSocket([hello(10), {"type": "goodbye", "source": "drain"}, SocketClosed(1001, "draining")]),
        ScriptedSocket([hello(10, resume_from=10), message(11)]),
    ]
    session, bus = edge.session()
    events = bus.subscribe()
    await session.start(5)
    goodbye = await take(events, 1, Goodbye)
    assert isinstance(goodbye[0], Goodbye) and goodbye[0].source == "drain"
    assert texts(await take(events, 1)) == ["m11"]
    assert edge.sleeps == [0.05]
    await session.stop()


async def test_users_arrive_just_in_time_with_their_messages() -> None:
    edge = FakeEdge()
    edge.ok()
    bob = {"id": "U2", "name": "bob", "profile": {"display_name": "Bobby"}}
    edge.sockets.append(
        ScriptedSocket([hello(1), {"type": "user_info", "users": [bob]}, message(2, "hi <@UME>")])
    )
    session, bus = edge.session()
    events = bus.subscribe()
    await session.start(5)
    got = (await take(events, 1))[0]
    assert isinstance(got, Message) and got.sender is not None and got.sender.label == "Bobby"
    assert set(got.users) == {"U2", "UME"}
    await session.stop()


async def test_queries_go_over_the_socket_and_errors_carry_slack_codes() -> None:
    edge = FakeEdge()
    edge.ok()

    def reply(frame: dict[str, object]) -> dict[str, object] | None:
        args = frame.get("args")
        assert isinstance(args, dict)
        if frame.get("method") == "conversations.info":
            return {"ok": False, "reply_to": frame["id"], "error": "channel_not_found"}
        if frame.get("method") == "users.search":
            return {
                "type": "error",
                "reply_to": frame["id"],
                "error": {"code": "ratelimited", "msg": "retry after 0.5s"},
            }
        return {"ok": True, "reply_to": frame["id"], "users": [{"id": "U2", "name": "bob"}]}

    socket = ScriptedSocket([hello(1)], reply)
    edge.sockets.append(socket)
    edge.api["users.search"] = {"ok": True, "users": []}
    session, _ = edge.session()
    await session.start(5)
    assert (await session.read("users.info", {"users": "U2"}))["users"][0]["name"] == "bob"
    with pytest.raises(Exception) as missing:
        await session.read("conversations.info", {"channel": "C9"})
    assert getattr(missing.value, "code", None) == "channel_not_found"
    assert await session.read("users.search", {"query": "b"}) == {"ok": True, "users": []}  # via HTTP
    assert [m for m, _ in edge.http_calls] == ["users.search"]
    assert [f["method"] for f in socket.sent] == ["users.info", "conversations.info", "users.search"]
    await session.stop()


async def test_connect_gives_up_after_its_timeout_when_no_edge_answers() -> None:
    edge = FakeEdge()  # every rtm.connect: 503
    session, _ = edge.session()
    with pytest.raises(ConnectionLost, match="could not connect"):
        await session.start(0.2)
    assert len(edge.connects) > 1 and session.backoff.attempt > 1


async def test_an_edge_that_drops_every_connection_at_once_gets_growing_delays() -> None:
    edge = FakeEdge()
    edge.ok(5)
    edge.sockets += [ScriptedSocket([hello(1), SocketClosed(1011)]) for _ in range(4)]
    edge.sockets.append(ScriptedSocket([hello(1)]))
    session, bus = edge.session(stable_after=60)
    events = bus.subscribe()
    await session.start(5)
    await take(events, 5, Hello)
    assert edge.sleeps == [0.05, 0.1, 0.2, 0.4]  # 0.5 * base * 2^n: backing off, not a tight loop
    await session.stop()
