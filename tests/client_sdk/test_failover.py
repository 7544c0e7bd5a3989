"""Against a scripted router and edges: a lost edge is named on the next rtm.connect, the first
retry is fast, and writes outlive their edge (sent again after rediscovery, until a deadline)."""

from __future__ import annotations

import asyncio
import time

import httpx
import pytest

from client_sdk import ApiError, ConnectionLost, Hello
from client_sdk.cache import Directory
from client_sdk.messages import Messages
from client_sdk.sockets import SocketClosed
from tests.client_sdk.fakes import FakeEdge, ScriptedSocket, hello, message
from tests.client_sdk.test_session import take


async def test_an_edge_lost_without_a_close_is_named_and_the_first_retry_is_fast() -> None:
    edge = FakeEdge()
    edge.ok(edges=["e1", "e2", "e3"])
    first = ScriptedSocket([hello(10), message(11), SocketClosed(None)])
    second = ScriptedSocket([hello(11, resume_from=11), SocketClosed(1011)])
    edge.sockets += [first, second, ScriptedSocket([hello(11)])]
    session, bus = edge.session()
    events = bus.subscribe()
    await session.start(5)
    await take(events, 3, Hello)
    assert edge.connects == [
        {"region": "eu"},
        {"region": "eu", "resume_from": 11, "failed_edge": "e1"},  # killed: say so
        {"region": "eu", "resume_from": 11},  # closed by a live edge (1011): nothing to report
    ]
    assert edge.sleeps[0] == 0.05  # soon(): jittered over base (0.1), not a growing backoff
    assert session.edge_id == "e3" and session.api_url == "http://e3/api/"
    await session.stop()


async def test_an_edge_that_cannot_be_reached_is_named_once() -> None:
    edge = FakeEdge()
    edge.ok(edges=["dead"])
    edge.discovery.append(httpx.Response(503, json={"ok": False, "error": "no_edge_available"}))
    edge.ok(edges=["dead", "live"])
    edge.sockets += [
        ConnectionLost("refused"),
        ConnectionLost("refused again"),
        ScriptedSocket([hello(1)]),
    ]
    session, _ = edge.session()
    await session.start(5)
    assert [c.get("failed_edge") for c in edge.connects] == [None, "dead", None, "dead"]
    assert session.edge_id == "live"
    await session.stop()


async def test_a_refusal_with_a_close_code_is_not_a_failed_edge() -> None:
    edge = FakeEdge()
    edge.ok(edges=["e1", "e1"])
    edge.sockets += [ScriptedSocket([SocketClosed(4003, "bad ticket")]), ScriptedSocket([hello(1)])]
    session, _ = edge.session()
    await session.start(5)
    assert [c.get("failed_edge") for c in edge.connects] == [None, None]
    await session.stop()


async def test_a_post_whose_edge_dies_is_sent_again_through_the_next_edge() -> None:
    edge = FakeEdge()
    edge.ok(edges=["dead", "live"])
    doomed = ScriptedSocket([hello(1)])
    edge.sockets += [doomed, ScriptedSocket([hello(1)])]
    edge.dead_hosts.add("dead")
    edge.api["chat.postMessage"] = {"ok": True, "channel": "C1", "ts": "5.000001", "message": {"text": "hi"}}
    session, _ = edge.session()
    await session.start(5)
    posting = asyncio.create_task(Messages(session, Directory()).post("C1", "hi"))
    await asyncio.wait_for(edge.http_called.wait(), 5)
    doomed.push(SocketClosed(None))  # the edge's socket goes too
    posted = await asyncio.wait_for(posting, 5)
    assert posted.ts == "5.000001" and posted.client_msg_id
    assert edge.http_hosts[0] == "dead" and edge.http_hosts[-1] == "live"
    sent = [args for method, args in edge.http_calls if method == "chat.postMessage"]
    assert len(sent) >= 2 and all(a == sent[0] for a in sent)  # the same client_msg_id each time
    assert sent[0]["client_msg_id"] == posted.client_msg_id and len(posted.client_msg_id) == 36
    await session.stop()


async def test_a_write_raises_only_after_its_deadline() -> None:
    edge = FakeEdge()
    edge.ok(edges=["dead"])
    edge.sockets.append(ScriptedSocket([hello(1)]))
    edge.dead_hosts.add("dead")
    session, _ = edge.session(write_deadline=0.5)
    await session.start(5)
    began = time.monotonic()
    with pytest.raises(ConnectionLost):
        await Messages(session, Directory()).post("C1", "lost", client_msg_id="mine")
    assert time.monotonic() - began >= 0.45 and len(edge.http_calls) > 2
    assert {args["client_msg_id"] for _, args in edge.http_calls} == {"mine"}
    await session.stop()


async def test_a_repeated_write_refused_as_already_done_succeeded() -> None:
    edge = FakeEdge()
    edge.ok(edges=["e1"])
    edge.sockets.append(ScriptedSocket([hello(1)]))
    edge.api["reactions.add"] = [
        {"ok": False, "error": "internal_error"},  # the first attempt's answer was lost
        {"ok": False, "error": "already_reacted"},
    ]
    edge.api["chat.delete"] = {"ok": False, "error": "message_not_found"}
    session, _ = edge.session()
    await session.start(5)
    messages = Messages(session, Directory())
    await messages.react("C1", "1.000001", ":tada:")
    assert [m for m, _ in edge.http_calls] == ["reactions.add", "reactions.add"]
    with pytest.raises(ApiError, match="message_not_found"):  # on the first attempt: a real no
        await messages.delete("C1", "1.000001")
    assert len(edge.http_calls) == 3
    await session.stop()
