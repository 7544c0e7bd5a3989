"""Operations: /metrics counters move on every service; /readyz follows the database and Redis."""

from __future__ import annotations

import asyncio

import httpx
import websockets

from origin.store.shards import Store
from tests.conftest import MYSQL_SERVER, ServerProcess, free_port
from tests.factories import make_team
from tests.flannel.conftest import Stack
from tests.proxy import TcpProxy
from tests.spare_redis import SpareRedis


def sample(text: str, prefix: str) -> float:
    return sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines() if line.startswith(prefix))


async def test_edge_and_router_metrics_move(stack: Stack) -> None:
    team = stack.team
    assert stack.router is not None
    async with httpx.AsyncClient() as http:
        edge_before = (await http.get(stack.edges[0].url + "/metrics")).text
        router_before = (await http.get(stack.router.url + "/metrics")).text
        auth = {"Authorization": f"Bearer {team.alice.token}"}
        placed = (await http.post(stack.router_api() + "rtm.connect", headers=auth)).json()
        await http.post(stack.edge_api() + "users.info", data={"user": team.bob.id}, headers=auth)
        await http.post(stack.edge_api() + "users.info", data={"user": "UNOPE"}, headers=auth)
        sock = await websockets.connect(placed["url"])
        await sock.recv()
        edge_after = (await http.get(stack.edges[0].url + "/metrics")).text
        router_after = (await http.get(stack.router.url + "/metrics")).text
        await sock.close()
    ok = 'flannel_edge_requests_total{error="",method="users.info"}'
    missing = 'flannel_edge_requests_total{error="user_not_found",method="users.info"}'
    assert sample(edge_after, ok) == sample(edge_before, ok) + 1
    assert sample(edge_after, missing) == sample(edge_before, missing) + 1
    assert sample(edge_after, "flannel_edge_connections ") == 1
    assert sample(edge_after, "flannel_edge_cache_workspaces ") == 1
    assert sample(edge_after, "flannel_edge_cache_bytes ") > 0
    assert "flannel_edge_snapshot_loads_total" in edge_after and "flannel_edge_log_lag" in edge_after
    assert (
        sample(router_after, "flannel_router_placements_total")
        == sample(router_before, "flannel_router_placements_total") + 1
    )


async def wait_ready(url: str, want: int, wait_s: float = 20) -> None:
    async with httpx.AsyncClient(timeout=5) as http:
        for _ in range(int(wait_s * 10)):
            try:
                if (await http.get(url + "/readyz")).status_code == want:
                    return
            except httpx.HTTPError:
                pass
            await asyncio.sleep(0.1)
    raise AssertionError(f"{url}/readyz never answered {want}")


async def test_readyz_follows_the_database_and_redis(
    start_server: type[ServerProcess], mysql_shard_urls: list[str], spare_redis: SpareRedis
) -> None:
    host, port = MYSQL_SERVER.rsplit("/", 1)[-1].split("@")[-1].split(":")
    proxy = await TcpProxy(host, int(port)).start()
    db_url = mysql_shard_urls[0].replace(f"{host}:{port}", f"127.0.0.1:{proxy.port}")
    store = await Store.open([db_url])
    await make_team(store)
    await store.close()
    redis = spare_redis
    try:
        # Started from a thread: the proxy serves the origin's database connections on this loop.
        origin_args = ["origin", "--database-url", db_url, "--redis-url", redis.url]
        origin = await asyncio.to_thread(start_server(origin_args, free_port()).start)
        edge_args = ["edge", "--origin-url", origin.url, "--redis-url", redis.url]
        edge = await asyncio.to_thread(start_server(edge_args, free_port()).start)
        await wait_ready(origin.url, 200)
        await wait_ready(edge.url, 200)
        await proxy.cut()  # the database goes away
        await wait_ready(origin.url, 503)
        await proxy.start()  # and comes back on the same port
        await wait_ready(origin.url, 200)
        redis.kill()  # Redis goes away
        await wait_ready(origin.url, 503)
        await wait_ready(edge.url, 503)
        redis.start()
        await wait_ready(origin.url, 200)
        await wait_ready(edge.url, 200)
    finally:
        await proxy.cut()
