"""Resume replays only up to the cache's head: later log entries are judged by the live feed,
after the cache has applied them (regression: a kicked user got a private message, and an
event after a join was lost)."""

from __future__ import annotations

import asyncio
from typing import Any

import orjson

from flannel.access import WorkspaceAccess
from flannel.cache.workspace import Workspace
from flannel.rtm.fanout import Fanout
from flannel.rtm.hello import build_hello
from flannel.rtm.session import Session
from tests.flannel.cache import base_state, event, pages_of


def msg(offset: int, channel: str, text: str, user: str = "U1") -> dict[str, Any]:
    return event(offset, "message", channel=channel, user=user, text=text, ts=f"17000000{offset}.000100")


async def replayed(ahead: list[dict[str, Any]]) -> list[dict[str, Any]]:
    ws = Workspace.from_pages(pages_of(base_state()))  # offset 10
    access = WorkspaceAccess(ws)
    log = [msg(11, "C1", "before")]
    assert ws.apply(log[0])  # the cache's head is 11
    log += ahead  # already in the log, not yet applied by the cache

    async def read_after(after: int) -> list[dict[str, Any]]:
        await asyncio.sleep(0)
        return [e for e in log if e["offset"] > after][:500]

    fanout, session = Fanout(), Session("U2", "T1", "h")
    hello = build_hello(ws.user("U2"), ws.team, ws.hello_channels("U2"), 0)
    await fanout.open(session, access, hello, ws.offset, 10, read_after)
    for e in ahead:  # the cache catches up and routes them live
        assert ws.apply(e)
        fanout.route("T1", e, access)
    frames = [orjson.loads(f) for f in session.queue.pop_many(100)]
    return [f for f in frames if "offset" in f and f.get("type") != "hello"]


async def test_a_user_kicked_after_head_gets_nothing_more_from_the_channel() -> None:
    got = await replayed(
        [
            event(12, "member_left_channel", channel="G1", user="U2", channel_type="G"),
            msg(13, "G1", "SECRET after the kick"),
        ]
    )
    assert [f.get("text") for f in got] == ["before", None]
    assert [f["offset"] for f in got] == [11, 12]


async def test_a_user_who_joined_after_head_gets_the_channels_next_message() -> None:
    got = await replayed(
        [
            event(12, "member_joined_channel", channel="C2", user="U2", channel_type="C"),
            msg(13, "C2", "first in C2", user="U3"),
            msg(14, "C1", "later"),
        ]
    )
    assert [f["offset"] for f in got] == [11, 12, 13, 14]
