"""``flannel edge --workers 2``: two edge processes on one host, each registered as its own edge
(``<edge-id>-0`` on ``--port``, ``<edge-id>-1`` on ``--port`` + 1); the router places
connections on both, and each worker serves the sessions placed on it. Plus the pure parts:
the workers' settings and CPUs."""

from __future__ import annotations

import asyncio
import signal
import socket
import time
from collections import Counter

import httpx
import pytest

from client_sdk import FlannelClient
from flannel.settings import EdgeSettings
from flannel_cli.edge import worker_cpus, worker_settings
from tests.conftest import free_port
from tests.router.conftest import HEARTBEAT_S, Fleet
from wire.http import SERVICE_HEADER

SERVICE = {SERVICE_HEADER: "dev-secret-change-me"}


def test_each_worker_gets_its_own_port_id_and_public_url() -> None:
    base = EdgeSettings(
        edge_id="edge-eu-9000", region="eu", port=9000, public_url="https://e1.example:9000/x"
    )
    one, two = worker_settings(base, 2)
    assert (one.port, one.edge_id, one.public_url) == (9000, "edge-eu-9000-0", "https://e1.example:9000/x")
    assert (two.port, two.edge_id, two.public_url) == (9001, "edge-eu-9000-1", "https://e1.example:9001/x")
    assert two.region == "eu" and two.secret == base.secret
    assert worker_settings(base, 1) == [base]  # one worker: the edge as configured


def test_workers_that_cannot_be_told_apart_are_refused() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        worker_settings(EdgeSettings(), 0)
    with pytest.raises(ValueError, match="explicit port"):
        worker_settings(EdgeSettings(public_url="https://edge.example/"), 2)
    with pytest.raises(ValueError, match="fixed --port"):
        worker_settings(EdgeSettings(port=0), 2)


def test_workers_are_pinned_one_per_cpu_only_when_there_are_enough() -> None:
    assert worker_cpus(2, {3, 1}) == [{1}, {3}]
    assert worker_cpus(3, {0, 1}) == [None, None, None]
    assert worker_cpus(1, {0, 1}) == [None]


def two_free_ports() -> int:
    """A port whose next one is free too."""
    for _ in range(50):
        port = free_port()
        with socket.socket() as probe:
            try:
                probe.bind(("127.0.0.1", port + 1))
            except OSError:
                continue
        return port
    raise RuntimeError("no two consecutive free ports")


async def registered(fleet: Fleet, wanted: set[str], limit_s: float = 15.0) -> dict[str, dict[str, object]]:
    assert fleet.router is not None
    deadline = time.monotonic() + limit_s
    async with httpx.AsyncClient(timeout=10) as http:
        while True:
            stats = (await http.get(fleet.router.url + "/internal/stats", headers=SERVICE)).json()
            edges = {e["id"]: e for e in stats["edges"]}
            if wanted <= set(edges) or time.monotonic() > deadline:
                return edges
            await asyncio.sleep(0.1)


async def test_two_workers_register_apart_and_the_router_connects_clients_to_both(fleet: Fleet) -> None:
    port = two_free_ports()
    args = [*fleet.shared(), "--origin-url", fleet.origin.url, "--region", "us", "--edge-id", "multi"]
    args += ["--heartbeat", str(HEARTBEAT_S), "--drain-window", "0.2", "--workers", "2"]
    workers = fleet.start(["edge", *args], port)  # healthy on --port: worker 0
    async with httpx.AsyncClient(timeout=10) as http:  # worker 1, on the next port
        for _ in range(100):
            try:
                if (await http.get(f"http://127.0.0.1:{port + 1}/healthz")).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            await asyncio.sleep(0.1)
        assert (await http.get(f"http://127.0.0.1:{port + 1}/healthz")).status_code == 200
    # no load floor, tight bound: one workspace's clients spread over both workers
    fleet.start_router("--load-floor", "0", "--c", "1.0")
    edges = await registered(fleet, {"multi-0", "multi-1"})
    assert {"multi-0", "multi-1"} <= set(edges)
    assert edges["multi-1"]["connections"] == 0
    clients = [FlannelClient(fleet.api, m.token) for m in fleet.team.users * 2]
    try:
        for client in clients:
            await client.connect()
        on = Counter(str(c.edge_id) for c in clients)
        assert set(on) == {"multi-0", "multi-1"}, on
        # each worker serves its own sessions: a query over each one's WebSocket answers
        for client in clients:
            users = await client.users.get([client.self_user.id])
            assert users[client.self_user.id].id == client.self_user.id
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:  # each worker's heartbeat counts its own sessions
            edges = await registered(fleet, set())
            if all(edges[e]["connections"] == n for e, n in on.items()):
                break
            await asyncio.sleep(0.1)
        assert {e: edges[e]["connections"] for e in on} == dict(on)
    finally:
        for client in clients:
            await client.close()
    assert workers.proc is not None
    workers.proc.send_signal(signal.SIGTERM)  # passed on to both workers: each drains and exits
    assert await asyncio.to_thread(workers.proc.wait, 20) == 0
    gone = await registered(fleet, set())
    assert not {"multi-0", "multi-1"} & set(gone)  # each left the registry on its way out
    for worker_port in (port, port + 1):
        with socket.socket() as probe:  # nothing listens there any more
            assert probe.connect_ex(("127.0.0.1", worker_port)) != 0
