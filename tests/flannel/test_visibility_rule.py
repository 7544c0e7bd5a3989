"""The one visibility rule at the edge (``wire.visibility``): a channel object that does not say
``is_private: false`` is private, in the cache's queries and in the fanout alike.

The edge's queries once treated such a channel as public and its fanout as private; the shared
rule fails closed for both.
"""

from __future__ import annotations

from typing import Any

import orjson

from flannel.access import WorkspaceAccess
from flannel.cache import Workspace
from flannel.rtm.fanout import Fanout
from flannel.rtm.hello import build_hello
from flannel.rtm.session import Session
from tests.flannel.cache import base_state, conversation, event, pages_of


def unsaid() -> dict[str, Any]:
    """A channel whose object does not say whether it is private."""
    channel = conversation("C9", "unsaid", members=("U1",))
    del channel["is_private"]
    return channel


def workspace() -> Workspace:
    state = base_state()
    state.channels["C9"] = unsaid()
    state.members["C9"] = {"U1"}
    return Workspace.from_pages(pages_of(state))


def test_queries_treat_a_channel_without_is_private_as_private() -> None:
    ws = workspace()
    assert not ws.can_see("U2", "C9") and ws.can_see("U1", "C9")
    listed = ws.list_conversations("U2", {"public_channel", "private_channel"}, False, 100)[0]
    assert "C9" not in [c["id"] for c in listed]
    mine = ws.list_conversations("U1", {"private_channel"}, False, 100)[0]
    assert "C9" in [c["id"] for c in mine]  # listed as private to its member
    assert ws.search_conversations("U2", "unsaid") == []
    hello = {c["id"]: c for c in ws.hello_channels("U1")}
    assert hello["C9"]["is_private"] is True


def started(fanout: Fanout, access: WorkspaceAccess, ws: Workspace, uid: str) -> Session:
    session = Session(uid, "T1", f"hash-{uid}")
    fanout.add(session)
    session.start(build_hello(ws.user(uid), ws.team, [], ws.offset), ws.offset)
    session.queue.pop_many(10)  # the hello
    return session


def test_fanout_treats_a_channel_without_is_private_as_private() -> None:
    ws = workspace()
    access = WorkspaceAccess(ws)
    fanout = Fanout()
    member, other = started(fanout, access, ws, "U1"), started(fanout, access, ws, "U2")
    created = event(11, "channel_created", channel={**unsaid(), "id": "C8"}, members=["U1"])
    assert ws.apply(created)
    fanout.route("T1", created, access)
    renamed = event(12, "channel_rename", channel={"id": "C9", "name": "renamed", "created": 1})
    assert ws.apply(renamed)
    fanout.route("T1", renamed, access)
    assert [orjson.loads(f)["type"] for f in member.queue.pop_many(10)] == [
        "channel_created",
        "channel_rename",
    ]
    assert other.queue.pop_many(10) == []
    assert not fanout.reaches("U2", created, access) and fanout.reaches("U1", created, access)
