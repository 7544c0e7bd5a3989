"""Read-your-writes at the edge, over the real origin app in this process: the change log
lags behind every commit, and still a caller's read right after its own write sees it."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from changelog import MemoryLog
from changelog.log import Entry
from flannel.app import create_app
from flannel.edge import Edge
from origin.app import create_app as create_origin
from origin.settings import OriginSettings
from origin.store.shards import Store
from tests.factories import Team, make_team
from tests.flannel.harness import SECRET, Lifespan, WebSocketClient, edge_over
from tests.flannel.test_with_origin_in_process import Both
from wire.http import OFFSET_HEADER

LAG_S = 0.03


class LaggingLog(MemoryLog):
    """A change log whose appends arrive late, as a busy relay's do."""

    async def append(self, team_id: str, events: Sequence[Entry]) -> int:
        await asyncio.sleep(LAG_S)
        return await super().append(team_id, events)


@dataclass
class Lagging(Both):
    core: Edge


@pytest.fixture
async def lagging(tmp_path: Path) -> AsyncIterator[Lagging]:
    store = await Store.open([f"sqlite:///{tmp_path}/origin.db"])
    team: Team = await make_team(store)
    log = LaggingLog()
    origin_app = create_origin(OriginSettings(database_urls=[], secret=SECRET), store=store, changelog=log)
    try:
        async with Lifespan(origin_app) as origin:
            edge = edge_over(httpx.ASGITransport(app=origin), log)
            async with Lifespan(create_app(edge, closers=[edge.origin.close])) as served:
                yield Lagging(served, team, origin_app, edge)
    finally:
        await log.close()
        await store.close()


async def reply_to(client: WebSocketClient, frame_id: int) -> dict[str, Any]:
    while True:
        frame = await client.recv()
        if frame.get("reply_to") == frame_id:
            return frame


async def test_100_create_or_rename_then_read_pairs_are_never_stale(lagging: Lagging) -> None:
    team = lagging.team
    auth = lagging.auth(team.alice.token)
    stale: list[Any] = []
    async with lagging.edge.http() as http:
        await http.post("/api/users.list", headers=auth)  # the workspace is loaded, and followed
        for i in range(50):
            created = await http.post("/api/conversations.create", data={"name": f"ryw-{i}"}, headers=auth)
            assert created.json()["ok"], created.json()
            assert int(created.headers[OFFSET_HEADER]) > 0  # the origin said what it committed
            channel = created.json()["channel"]["id"]
            info = (
                await http.post("/api/conversations.info", data={"channel": channel}, headers=auth)
            ).json()
            if not info.get("ok") or info["channel"]["name"] != f"ryw-{i}":
                stale.append(("create", i, info))
            renamed = await http.post(
                "/api/conversations.rename", data={"channel": channel, "name": f"ryw-{i}-b"}, headers=auth
            )
            assert renamed.json()["ok"], renamed.json()
            info = (
                await http.post("/api/conversations.info", data={"channel": channel}, headers=auth)
            ).json()
            if not info.get("ok") or info["channel"]["name"] != f"ryw-{i}-b":
                stale.append(("rename", i, info))
    assert stale == []
    assert len(lagging.core.writes) <= 1  # applied writes are forgotten


async def test_writes_sent_as_websocket_frames_are_read_back_fresh(lagging: Lagging) -> None:
    team = lagging.team
    async with await lagging.connect(team.alice.token) as alice:
        await alice.next_of("hello")
        for i in range(10):
            await alice.send(
                {
                    "id": 2 * i + 1,
                    "type": "query",
                    "method": "conversations.create",
                    "args": {"name": f"ws-{i}"},
                }
            )
            created = await reply_to(alice, 2 * i + 1)
            assert created["ok"], created
            await alice.send(
                {
                    "id": 2 * i + 2,
                    "type": "query",
                    "method": "conversations.info",
                    "args": {"channel": created["channel"]["id"]},
                }
            )
            info = await reply_to(alice, 2 * i + 2)
            assert info["ok"] and info["channel"]["name"] == f"ws-{i}", info


async def test_a_copy_still_behind_after_the_wait_answers_from_the_origin(
    lagging: Lagging, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("flannel.edge.WAIT_S", 0.0)
    team = lagging.team
    auth = lagging.auth(team.alice.token)
    async with lagging.edge.http() as http:
        await http.post("/api/users.list", headers=auth)
        created = (await http.post("/api/conversations.create", data={"name": "slow"}, headers=auth)).json()
        info = (
            await http.post(
                "/api/conversations.info", data={"channel": created["channel"]["id"]}, headers=auth
            )
        ).json()
    assert info["ok"] and info["channel"]["name"] == "slow"
