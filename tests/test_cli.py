"""The ``flannel`` command as a user runs it: admin commands print JSON, ``up`` serves a demo."""

from __future__ import annotations

import json
import re
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import orjson
import pytest
from websockets.sync.client import connect as connect_ws

from tests.conftest import ROOT, free_port


def free_block(n: int) -> int:
    """A port p with p .. p+n-1 all free now (flannel up takes consecutive ports)."""
    for _ in range(50):
        base = free_port()
        socks = []
        try:
            for offset in range(n):
                sock = socket.socket()
                sock.bind(("127.0.0.1", base + offset))
                socks.append(sock)
            return base
        except OSError:
            continue
        finally:
            for sock in socks:
                sock.close()
    raise RuntimeError("no block of free ports")


def flannel(*args: str) -> dict:
    out = subprocess.run(
        [sys.executable, "-m", "flannel_cli.main", *args], cwd=ROOT, capture_output=True, timeout=120
    )
    assert out.returncode == 0, out.stderr.decode()[-2000:]
    return json.loads(out.stdout)


def test_admin_commands_print_one_json_object(tmp_path: Path) -> None:
    db = ["--database-url", f"sqlite:///{tmp_path}/admin.db"]
    team = flannel("admin", "create-workspace", "--name", "Acme", *db)["team"]
    alice = flannel("admin", "create-user", "--team", team["id"], "--name", "alice", *db)["user"]
    bob = flannel("admin", "create-user", "--team", team["id"], "--name", "bob", *db)["user"]
    chan = flannel(
        "admin",
        "create-channel",
        "--team",
        team["id"],
        "--creator",
        alice["id"],
        "--name",
        "ops",
        "--private",
        *db,
    )["channel"]
    joined = flannel("admin", "join", "--team", team["id"], "--user", bob["id"], "--channel", chan["id"], *db)
    assert joined["channel"]["num_members"] == 2
    token = flannel("admin", "issue-token", "--team", team["id"], "--user", bob["id"], *db)["token"]
    assert token.startswith("xoxp-")
    assert flannel("admin", "revoke-token", "--token", token, *db)["revoked"] is True


@pytest.mark.parametrize("servers", ["embedded", "real"])
def test_flannel_up_serves_a_demo_workspace(
    tmp_path: Path, servers: str, request: pytest.FixtureRequest
) -> None:
    port = free_block(4)  # origin, two edges, router
    extra: list[str] = []
    if servers == "real":  # the same topology on MariaDB and Redis
        urls: list[str] = request.getfixturevalue("mysql_shard_urls")
        prefix: str = request.getfixturevalue("redis_prefix")
        extra = ["--redis-url", request.getfixturevalue("redis_url"), "--redis-prefix", prefix]
        for url in urls:
            extra += ["--database-url", url]
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "flannel_cli.main",
            "up",
            "--port",
            str(port),
            "--data-dir",
            str(tmp_path),
            "--demo-users",
            "50",
            "--log-level",
            "info",  # uvicorn's own WebSocket lines are logged: none may carry the ticket
            *extra,
        ],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        assert proc.stdout is not None
        text = ""
        deadline = time.monotonic() + 120
        while "Press Ctrl-C" not in text and time.monotonic() < deadline:
            line = proc.stdout.readline().decode()
            if not line and proc.poll() is not None:
                break
            text += line
        token = re.search(r"demo token:\s+(\S+)", text)
        assert token, text
        base = f"http://127.0.0.1:{port}/api/"
        for _ in range(100):
            try:
                body = httpx.post(base + "auth.test", headers={"Authorization": f"Bearer {token[1]}"}).json()
                break
            except httpx.HTTPError:
                time.sleep(0.1)
        assert body["ok"] is True
        users = httpx.get(base + "users.list", params={"token": token[1], "limit": 1000}).json()
        assert len(users["members"]) == 50
        for edge_port in (port + 1, port + 2):  # two edges, two regions, answering from memory
            edge = f"http://127.0.0.1:{edge_port}/api/"
            found = httpx.get(edge + "users.list", params={"token": token[1], "limit": 1000}).json()
            assert found["members"] == users["members"]
            connect = httpx.post(edge + "rtm.connect", headers={"Authorization": f"Bearer {token[1]}"}).json()
            assert connect["ok"] and connect["url"].startswith(f"ws://127.0.0.1:{edge_port}/rtm?ticket=")
        router = f"http://127.0.0.1:{port + 3}/api/rtm.connect"
        for region, edge_port in (("us", port + 1), ("eu", port + 2)):
            placed = httpx.post(
                router, data={"region": region}, headers={"Authorization": f"Bearer {token[1]}"}
            )
            assert placed.json()["url"].startswith(f"ws://127.0.0.1:{edge_port}/rtm?ticket="), placed.text
        ticket_url = placed.json()["url"]
        with connect_ws(ticket_url, open_timeout=10) as ws:  # a real session: hello, then goodbye
            assert orjson.loads(ws.recv(timeout=10))["type"] == "hello"
    finally:
        proc.terminate()
        assert proc.wait(30) == 0  # SIGTERM: drain, stop, exit 0
    assert proc.stdout is not None
    text += proc.stdout.read().decode()
    ticket = ticket_url.split("ticket=", 1)[1]
    logs = [line for line in text.splitlines() if line.startswith("{")]
    assert any('"WebSocket' in line or "/rtm" in line for line in logs), "the session was logged"
    assert not [line for line in logs if ticket in line or token[1] in line]  # no credential, anywhere
