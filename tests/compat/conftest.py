"""A real stack for the compatibility tests (origin with tight tier-2 limits, one edge, the
router), a request-counting proxy in front of the router, and the Node SDKs installed once."""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import threading
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest

from origin.store.shards import Store
from tests.conftest import REQUIRE, ROOT, ServerProcess, free_port
from tests.factories import Team, make_team

#: The Node SDK versions under test (one cached install per set, under .venv/).
NODE_PACKAGES = ("@slack/web-api@7.19.0", "@slack/rtm-api@7.0.4")
#: search.messages is a tier-2 method the edge forwards: the origin's limit is what a client meets.
ORIGIN_LIMITS = "2:10"


@dataclass
class Compat:
    team: Team
    store: Store
    origin: ServerProcess
    edge: ServerProcess
    router: ServerProcess

    @property
    def api(self) -> str:
        return self.router.url + "/api/"


@pytest.fixture
async def compat(
    start_server: type[ServerProcess], tmp_path: Path, redis_url: str, redis_prefix: str
) -> AsyncIterator[Compat]:
    urls = [f"sqlite:///{tmp_path}/compat.db"]
    store = await Store.open(urls)
    team = await make_team(store)
    shared = ["--log-level", "warning", "--redis-url", redis_url, "--redis-prefix", redis_prefix]
    origin = start_server(
        ["origin", *shared, "--database-url", urls[0], "--rate-limits", ORIGIN_LIMITS], free_port()
    ).start()
    edge_port = free_port()
    edge = start_server(
        [
            "edge",
            *shared,
            "--origin-url",
            origin.url,
            "--edge-id",
            f"edge-{edge_port}",
            "--drain-window",
            "1",
        ],
        edge_port,
    ).start()
    router = start_server(
        ["router", *shared, "--origin-url", origin.url, "--default-region", "local"], free_port()
    ).start()
    try:
        yield Compat(team, store, origin, edge, router)
    finally:
        await store.close()


class CountingProxy:
    """An HTTP proxy in front of ``target`` that counts requests by path: how many times a
    client really asked (an SDK retrying an error it should not retry shows up here)."""

    def __init__(self, target: str) -> None:
        self.counts: Counter[str] = Counter()
        proxy = self
        client = httpx.Client(base_url=target, timeout=60)

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def _relay(self) -> None:
                proxy.counts[self.path.split("?")[0]] += 1
                length = int(self.headers.get("content-length") or 0)
                body = self.rfile.read(length) if length else b""
                headers = {
                    k: v for k, v in self.headers.items() if k.lower() not in ("host", "content-length")
                }
                answer = client.request(self.command, self.path, content=body, headers=headers)
                self.send_response(answer.status_code)
                for name, value in answer.headers.items():
                    if name.lower() not in (
                        "content-length",
                        "transfer-encoding",
                        "connection",
                        "content-encoding",
                    ):
                        self.send_header(name, value)
                self.send_header("content-length", str(len(answer.content)))
                self.end_headers()
                self.wfile.write(answer.content)

            do_GET = do_POST = _relay

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self._thread.start()
        self._client = client

    def close(self) -> None:
        self.server.shutdown()
        self._client.close()


@pytest.fixture
def counting_proxy() -> Iterator[type[CountingProxy]]:
    made: list[CountingProxy] = []

    class Made(CountingProxy):
        def __init__(self, target: str) -> None:
            super().__init__(target)
            made.append(self)

    yield Made
    for proxy in made:
        proxy.close()


def node_sdk() -> Path:
    """A folder with the Node SDKs installed (cached under .venv/, keyed by their versions);
    skipped, or failed with FLANNEL_REQUIRE_SERVICES=1, when node/npm or the registry is out of reach."""
    if shutil.which("node") is None or shutil.which("npm") is None:
        unavailable_node("node and npm are not installed")
    key = hashlib.sha256(" ".join(NODE_PACKAGES).encode()).hexdigest()[:12]
    folder = ROOT / ".venv" / f"node-compat-{key}"
    marker = folder / ".installed"
    if marker.exists():
        return folder
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "package.json").write_text('{"name": "flannel-compat", "private": true, "type": "module"}\n')
    try:
        done = subprocess.run(
            ["npm", "install", "--no-audit", "--no-fund", "--loglevel", "error", *NODE_PACKAGES],
            cwd=folder,
            capture_output=True,
            text=True,
            timeout=300,
            env={**os.environ, "npm_config_update_notifier": "false"},
        )
    except subprocess.TimeoutExpired:
        unavailable_node("npm install timed out")
    if done.returncode != 0:
        unavailable_node(f"npm install failed: {done.stderr.strip()[-500:]}")
    marker.write_text(" ".join(NODE_PACKAGES) + "\n")
    return folder


def unavailable_node(why: str) -> None:
    if REQUIRE:
        pytest.fail(f"{why} (FLANNEL_REQUIRE_SERVICES=1)", pytrace=False)
    pytest.skip(why)
