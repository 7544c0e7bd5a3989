"""A real origin and real edges (processes) sharing Redis, for the edge's integration tests;
and a throwaway redis-server to flush, kill and restart."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from origin.store.shards import Store
from tests.conftest import ServerProcess, free_port
from tests.factories import Team, make_team


@dataclass
class Stack:
    origin: ServerProcess
    edges: list[ServerProcess]
    store: Store
    team: Team
    other: Team
    redis_url: str
    prefix: str
    db_urls: list[str]
    router: ServerProcess | None = None

    def router_api(self) -> str:
        assert self.router is not None
        return self.router.url + "/api/"

    def edge_api(self, i: int = 0) -> str:
        return self.edges[i].url + "/api/"

    def start_edge(
        self, start_server: type[ServerProcess], region: str = "local", port: int | None = None, *extra: str
    ) -> ServerProcess:
        port = port or free_port()
        edge = start_server(
            [
                "edge",
                "--log-level",
                "warning",
                "--origin-url",
                self.origin.url,
                "--redis-url",
                self.redis_url,
                "--redis-prefix",
                self.prefix,
                "--region",
                region,
                "--edge-id",
                f"edge-{port}",
                "--drain-window",
                "1",
                *extra,
            ],
            port,
        ).start()
        self.edges.append(edge)
        return edge


@pytest.fixture
async def stack(
    start_server: type[ServerProcess], tmp_path: Path, redis_url: str, redis_prefix: str
) -> AsyncIterator[Stack]:
    urls = [f"sqlite:///{tmp_path}/edge.db"]
    store = await Store.open(urls)
    team = await make_team(store)
    other = await make_team(store, ("dave", "erin", "frank"))
    args = [
        "origin",
        "--log-level",
        "warning",
        "--redis-url",
        redis_url,
        "--redis-prefix",
        redis_prefix,
        "--database-url",
        urls[0],
    ]
    origin = start_server(args, free_port()).start()
    s = Stack(origin, [], store, team, other, redis_url, redis_prefix, urls)
    s.start_edge(start_server)
    s.router = start_server(
        [
            "router",
            "--log-level",
            "warning",
            "--origin-url",
            origin.url,
            "--redis-url",
            redis_url,
            "--redis-prefix",
            redis_prefix,
            "--default-region",
            "local",
        ],
        free_port(),
    ).start()
    try:
        yield s
    finally:
        await store.close()
