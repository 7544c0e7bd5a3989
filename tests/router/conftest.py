"""A real fleet: origin, edges in two regions and a router (processes) sharing Redis."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from origin.store.shards import Store
from tests.conftest import ServerProcess, free_port
from tests.factories import Team, make_team

HEARTBEAT_S = 0.3


@dataclass
class Fleet:
    origin: ServerProcess
    router: ServerProcess | None
    store: Store
    team: Team
    redis_url: str
    prefix: str
    db_urls: list[str]
    start: Callable[[list[str], int], ServerProcess]
    edges: dict[str, ServerProcess] = field(default_factory=dict)
    regions: dict[str, str] = field(default_factory=dict)

    @property
    def api(self) -> str:
        assert self.router is not None
        return self.router.url + "/api/"

    def shared(self) -> list[str]:
        return ["--log-level", "warning", "--redis-url", self.redis_url, "--redis-prefix", self.prefix]

    def start_edge(self, region: str, heartbeat: float = HEARTBEAT_S) -> str:
        """An edge of ``region``; ``heartbeat`` 2 is the edge's default (its record outlives a
        kill -9 by up to three of them)."""
        port = free_port()
        edge_id = f"edge-{region}-{port}"
        self.edges[edge_id] = self.start(
            [
                "edge",
                *self.shared(),
                "--origin-url",
                self.origin.url,
                "--region",
                region,
                "--edge-id",
                edge_id,
                "--heartbeat",
                str(heartbeat),
                "--drain-window",
                "1",
            ],
            port,
        )
        self.regions[edge_id] = region
        return edge_id

    def start_router(self, *extra: str) -> ServerProcess:
        self.router = self.start(
            [
                "router",
                *self.shared(),
                "--origin-url",
                self.origin.url,
                "--default-region",
                "us",
                "--region-preference",
                "us:us,eu;eu:eu,us",
                "--connects-per-token",
                "60000",
                "--connect-burst",
                "10000",
                "--calls-per-address",
                "600000",
                "--address-burst",
                "100000",
                *extra,
            ],
            free_port(),
        )
        return self.router

    async def add_bot(self) -> str:
        """A bot user in #general and its token (slack_sdk's RTMClient v2 is for bots)."""
        from origin.service import conversations, users
        from origin.service.auth import issue_token

        bot = await users.create_user(self.store, self.team.id, "helperbot", "Helper Bot", is_bot=True)
        await conversations.admin_add_member(self.store, self.team.id, self.team.general, bot["id"])
        return await issue_token(self.store, self.team.id, bot["id"], bot=True)


@pytest.fixture
async def fleet(
    start_server: type[ServerProcess], tmp_path: Path, redis_url: str, redis_prefix: str
) -> AsyncIterator[Fleet]:
    """Origin and a seeded team; the test starts the edges and the router it needs."""
    urls = [f"sqlite:///{tmp_path}/router.db"]
    store = await Store.open(urls)
    team = await make_team(store)

    def start(args: list[str], port: int) -> ServerProcess:
        return start_server(args, port).start()

    origin = start(
        [
            "origin",
            "--log-level",
            "warning",
            "--redis-url",
            redis_url,
            "--redis-prefix",
            redis_prefix,
            "--database-url",
            urls[0],
        ],
        free_port(),
    )
    try:
        yield Fleet(origin, None, store, team, redis_url, redis_prefix, urls, start)
    finally:
        await store.close()
