"""A real origin and real edges (processes) sharing Redis, for the edge's integration tests;
and a throwaway redis-server to flush, kill and restart."""

from __future__ import annotations

import shutil
import subprocess
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import redis

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


class SpareRedis:
    """A redis-server of this test's own on a free loopback port, without persistence: it can
    be flushed, killed and restarted (empty, on the same port) without touching the shared one."""

    def __init__(self) -> None:
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        cmd = ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1"]
        cmd += ["--save", "", "--appendonly", "no", "--daemonize", "no"]
        self.proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        client = redis.Redis(port=self.port, socket_timeout=1)
        deadline = time.monotonic() + 10
        try:
            while True:
                try:
                    client.ping()
                    return
                except redis.ConnectionError:
                    if time.monotonic() > deadline or self.proc.poll() is not None:
                        raise
                    time.sleep(0.02)
        finally:
            client.close()

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()

    def flushall(self) -> None:
        client = redis.Redis(port=self.port, socket_timeout=1)
        try:
            client.flushall()
        finally:
            client.close()


@pytest.fixture
def spare_redis() -> Iterator[SpareRedis]:
    if shutil.which("redis-server") is None:
        pytest.skip("redis-server is not installed")
    server = SpareRedis()
    server.start()
    yield server
    server.kill()
