"""The system under test, started as real processes on loopback ports.

Default: ``flannel origin`` on MariaDB and Redis, two ``flannel edge`` processes (regions
``a`` and ``b``) sharing that Redis, and ``flannel router`` (default region ``a``) placing
clients on the edges that registered in Redis; a cold edge (a fresh process, in a region of its
own so no regional snapshot helps it, e.g. ``storm``, where the router can only place clients on
it) is started on demand for the reconnect storm. ``--embedded``: SQLite and the in-process log,
so origin, edges and router live in ONE process (``python -m loadtest.embedded``, the router
sharing an in-process registry with the edges), the storm's cold edges started with them and
left untouched until the storm. Either way a bare ASGI endpoint (``loadtest.limit_server``)
runs beside them.

:class:`ExternalStack` stands for a stack the benchmark did not start (``--origin-url`` and
friends): only the bare endpoint is started; an edge's pid is looked up from its port when it
listens on this host (:func:`local_pid`), and no cold edge can be started.

Servers are pinned to ``server_cpus`` and load generators to the other CPUs (see
``loadtest.clients``), so the table can say how many cores each side had.

``python -m loadtest.stack`` starts a stack with one seeded workspace, writes a JSON file
naming its URLs and tokens (what ``loadtest/locustfile.py`` reads) and runs until stopped.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import ctypes
import os
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import orjson

from loadtest.ports import free_port

__all__ = ["free_port"]  # re-exported: the phases take it from here

ROOT = Path(__file__).resolve().parent.parent
PR_SET_PDEATHSIG = 1
UNLIMITED = "1:0,2:0,3:0,4:0"  # rate limits off: the benchmark measures capacity, not policy
#: The router's limits, as good as off (it has no "unlimited"): a storm comes from one address.
ROUTER_UNLIMITED = [
    "--calls-per-address",
    "1e9",
    "--address-burst",
    "1000000",
    "--connects-per-token",
    "1e9",
    "--connect-burst",
    "1000",
]
STORM_REGION = "storm"  # the storm's cold edge, alone in its region: the router must place there


def local_pid(url: str) -> int | None:
    """The pid of the process listening on ``url``'s port, when that is a loopback address of
    this host and the process is visible to us (psutil, else ``/proc``); else None."""
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    if parts.hostname not in ("127.0.0.1", "localhost", "::1", "0.0.0.0") or parts.port is None:
        return None
    port = parts.port
    try:
        import psutil  # type: ignore[import-untyped]

        for conn in psutil.net_connections(kind="tcp"):
            if conn.status == psutil.CONN_LISTEN and conn.laddr and conn.laddr.port == port and conn.pid:
                return int(conn.pid)
    except Exception:  # psutil missing, or not allowed to list every socket: try /proc
        pass
    inodes: set[str] = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with contextlib.suppress(OSError):
            for line in Path(table).read_text().splitlines()[1:]:
                fields = line.split()
                if fields[3] == "0A" and int(fields[1].rsplit(":", 1)[1], 16) == port:
                    inodes.add(f"socket:[{fields[9]}]")
    if not inodes:
        return None
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        with contextlib.suppress(OSError):
            for fd in (proc / "fd").iterdir():
                with contextlib.suppress(OSError):
                    if os.readlink(fd) in inodes:
                        return int(proc.name)
    return None


def rss_kib(pid: int) -> int:
    """Resident memory of a process, from ``/proc``."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError(f"no VmRSS for {pid}")


class Server:
    """One server process: pinned, logging to a file, healthy on each of its ports."""

    def __init__(
        self, name: str, cmd: list[str], ports: list[int], log_dir: Path, cpus: set[int] | None
    ) -> None:
        self.name, self.cmd, self.ports, self.cpus = name, cmd, ports, cpus
        self.log_path = log_dir / f"{name}.log"
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def start(self, timeout: float = 60.0) -> Server:
        cpus = self.cpus

        def pin() -> None:  # in the child, before exec
            if cpus:
                os.sched_setaffinity(0, cpus)
            with contextlib.suppress(OSError, AttributeError):  # die with the benchmark, even killed
                ctypes.CDLL("libc.so.6").prctl(PR_SET_PDEATHSIG, signal.SIGTERM)

        with self.log_path.open("wb") as log:
            self.proc = subprocess.Popen(
                [sys.executable, *self.cmd], cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, preexec_fn=pin
            )
        deadline = time.monotonic() + timeout
        pending = list(self.ports)
        while pending:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.name} exited: {self.tail()}")
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"{self.name} did not start: {self.tail()}")
            try:
                if httpx.get(f"http://127.0.0.1:{pending[0]}/healthz", timeout=1).status_code == 200:
                    pending.pop(0)
                    continue
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        return self

    def tail(self) -> str:
        return self.log_path.read_text(errors="replace")[-3000:] if self.log_path.exists() else ""

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGINT)  # uvicorn's graceful stop; edges drain quickly
        try:
            self.proc.wait(20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


@dataclass
class StackConfig:
    embedded: bool
    database_urls: list[str]
    redis_url: str | None
    prefix: str
    secret: str = field(default_factory=lambda: secrets.token_hex(16))
    server_cpus: set[int] | None = None
    log_dir: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="flannel-bench-")))


def _url(port: int) -> str:
    return f"http://127.0.0.1:{port}"


@dataclass(frozen=True)
class EdgeProc:
    url: str
    pid: int | None  # None: not a process of this host we can see
    edge_id: str  # what a ticket for this edge must name ("" when unknown)


class Stack:
    def __init__(self, cfg: StackConfig) -> None:
        self.cfg = cfg
        self.servers: list[Server] = []
        self.origin_url = ""
        self.edges: list[EdgeProc] = []
        self.limit_url = ""
        self.limit_protocol_url = ""  # the same server's quick-path port (``/api/limit_protocol``)
        self.router_url: str | None = None
        self.external = False
        self._spares: dict[str, EdgeProc] = {}  # embedded: cold edges by region, started unused
        self._cold = 0

    @property
    def edge_urls(self) -> list[str]:
        return [e.url for e in self.edges]

    @property
    def mode(self) -> str:
        return "sqlite+memory-log, one process" if self.cfg.embedded else "mariadb+redis, a process each"

    def _limit(self) -> tuple[str, str]:
        """The limit server started: its ASGI port's URL and its quick-path port's."""
        limit, protocol = free_port(), free_port()
        cmd = ["-m", "loadtest.limit_server", "--port", str(limit), "--protocol-port", str(protocol)]
        self._server("limit", cmd, [limit, protocol])
        return _url(limit), _url(protocol)

    def _server(self, name: str, cmd: list[str], ports: list[int]) -> Server:
        server = Server(name, cmd, ports, self.cfg.log_dir, self.cfg.server_cpus)
        self.servers.append(server)
        return server.start()

    def _edge(self, name: str, region: str) -> EdgeProc:
        cfg, port = self.cfg, free_port()
        assert cfg.redis_url is not None
        edge_id = f"edge-{region}-{port}"
        cmd = [
            "-m",
            "flannel_cli.main",
            "edge",
            "--origin-url",
            self.origin_url,
            "--redis-url",
            cfg.redis_url,
            "--redis-prefix",
            cfg.prefix,
            "--region",
            region,
            "--edge-id",
            edge_id,
            "--secret",
            cfg.secret,
            "--drain-window",
            "1",
            "--log-level",
            "warning",
            "--port",
            str(port),
        ]
        return EdgeProc(_url(port), self._server(name, cmd, [port]).pid, edge_id)

    def start(self) -> Stack:
        cfg = self.cfg
        self.limit_url, self.limit_protocol_url = self._limit()
        if cfg.embedded:
            regions = ["a", "b", STORM_REGION, "cold1", "cold2"]  # edges a and b, three spares
            origin, router, *ports = (free_port() for _ in range(2 + len(regions)))
            edge_args = [
                x
                for p, r in zip(ports, regions, strict=True)
                for x in ("--edge-port", str(p), "--edge-region", r)
            ]
            cmd = [
                "-m",
                "loadtest.embedded",
                "--database-url",
                cfg.database_urls[0],
                "--origin-port",
                str(origin),
                "--router-port",
                str(router),
                "--secret",
                cfg.secret,
                *edge_args,
            ]
            pid = self._server("embedded", cmd, [origin, router, *ports]).pid
            self.origin_url, self.router_url = _url(origin), _url(router)
            edges = [
                EdgeProc(_url(p), pid, f"edge-{r}-{p}") for p, r in zip(ports, regions, strict=True)
            ]  # as embedded names them
            self.edges = edges[:2]
            self._spares = {r: e for r, e in zip(regions[2:], edges[2:], strict=True)}
            return self
        origin = free_port()
        assert cfg.redis_url is not None
        urls = [x for u in cfg.database_urls for x in ("--database-url", u)]
        cmd = [
            "-m",
            "flannel_cli.main",
            "origin",
            *urls,
            "--redis-url",
            cfg.redis_url,
            "--redis-prefix",
            cfg.prefix,
            "--secret",
            cfg.secret,
            "--rate-limits",
            UNLIMITED,
            "--file-store",
            f"file://{(cfg.log_dir / 'files').resolve()}",  # uploads under the stack's temp dir
            "--log-level",
            "warning",
            "--port",
            str(origin),
        ]
        self._server("origin", cmd, [origin])
        self.origin_url = _url(origin)
        self.edges = [self._edge(f"edge-{region}", region) for region in ("a", "b")]
        router = free_port()
        cmd = [
            "-m",
            "flannel_cli.main",
            "router",
            "--origin-url",
            self.origin_url,
            "--redis-url",
            cfg.redis_url,
            "--redis-prefix",
            cfg.prefix,
            "--secret",
            cfg.secret,
            "--default-region",
            "a",
            *ROUTER_UNLIMITED,
            "--log-level",
            "warning",
            "--port",
            str(router),
        ]
        self._server("router", cmd, [router])
        self.router_url = _url(router)
        return self

    def cold_edge(self, region: str | None = None) -> EdgeProc:
        """An edge that has loaded nothing, in a region of its own (``region``, e.g.
        :data:`STORM_REGION` for one the router must place a storm on)."""
        if self.cfg.embedded:
            if region is None:
                region = next(r for r in self._spares if r != STORM_REGION)
            return self._spares.pop(region)
        self._cold += 1
        region = region or f"cold{self._cold}"
        return self._edge(f"edge-cold{self._cold}", region)

    async def wait_routable(self, edge: EdgeProc, limit_s: float = 30.0) -> None:
        """Until the router lists ``edge`` (it registers itself by heartbeat)."""
        assert self.router_url is not None
        deadline = time.monotonic() + limit_s
        while True:
            ids = [e["id"] for e in (await self.stats(self.router_url))["edges"]]
            if edge.edge_id in ids:
                return
            if time.monotonic() > deadline:
                raise RuntimeError(f"the router never listed {edge.edge_id} (it has {ids})")
            await asyncio.sleep(0.1)

    def stop(self) -> None:
        for server in reversed(self.servers):
            server.stop()

    async def stats(self, url: str) -> dict[str, Any]:
        async with httpx.AsyncClient(timeout=30) as http:
            answer = await http.get(
                url + "/internal/stats", headers={"x-flannel-service-secret": self.cfg.secret}
            )
        body: dict[str, Any] = answer.json()
        return body


class ExternalStack(Stack):
    """A running stack given by its URLs (``python -m loadtest.bench --origin-url ...``).

    Only the bare endpoint is started here. Edges' pids are found from their ports when they
    listen on this host; ``storm_edge_url`` is an edge the user vouches is cold (nothing starts
    one here), reached through the router with ``storm_region`` when both are given."""

    def __init__(
        self,
        cfg: StackConfig,
        origin_url: str,
        edge_urls: list[str],
        router_url: str | None = None,
        storm_edge_url: str | None = None,
        storm_region: str | None = None,
    ) -> None:
        super().__init__(cfg)
        self.external = True
        self.origin_url = origin_url.rstrip("/")
        self.edges = [EdgeProc(u.rstrip("/"), local_pid(u), "") for u in edge_urls]
        self.router_url = router_url.rstrip("/") if router_url else None
        self.storm_edge_url = storm_edge_url.rstrip("/") if storm_edge_url else None
        self.storm_region = storm_region

    @property
    def mode(self) -> str:
        return "given URLs (not started by the benchmark)"

    def start(self) -> Stack:
        self.limit_url, self.limit_protocol_url = self._limit()
        return self

    def cold_edge(self, region: str | None = None) -> EdgeProc:
        if self.storm_edge_url is None:
            raise RuntimeError("no cold edge: pass --storm-edge-url")
        return EdgeProc(self.storm_edge_url, local_pid(self.storm_edge_url), "")


# -- python -m loadtest.stack: a running stack for locust -------------------------------------


async def _serve(args: argparse.Namespace, say: Callable[[str], None]) -> None:
    from loadtest import workspace
    from origin.store.shards import Store

    run = secrets.token_hex(4)
    tmp = Path(tempfile.mkdtemp(prefix="flannel-stack-"))
    urls = [f"sqlite:///{tmp}/stack.db"] if args.embedded else [f"{args.mysql}/flannel_stack_{run}"]
    prefix = f"flannelstack:{run}:"
    cfg = StackConfig(args.embedded, urls, None if args.embedded else args.redis_url, prefix, log_dir=tmp)
    store = await Store.open(urls)
    stack = Stack(cfg)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        ws = await workspace.seed(store, args.users, max(5, args.users // 30), args.users, "Locust", say)
        await workspace.issue_tokens(store, ws, args.tokens)
        await store.close()
        stack.start()
        config = {
            "origin_url": stack.origin_url,
            "edge_urls": stack.edge_urls,
            "router_url": stack.router_url,
            "team_id": ws.team_id,
            "channel": ws.general,
            "tokens": ws.client_tokens,
            "user_ids": [p.id for p in ws.people[:1000]],
            "mode": stack.mode,
        }
        Path(args.config_out).write_bytes(orjson.dumps(config, option=orjson.OPT_INDENT_2))
        say(
            f"stack: up ({stack.mode}); origin {stack.origin_url}, edges {' '.join(stack.edge_urls)}, "
            f"router {stack.router_url}; "
            f"config in {args.config_out}"
        )
        await stop.wait()
    finally:
        stack.stop()
        if not args.embedded:
            await workspace.drop_databases(urls)
            await workspace.delete_prefix(args.redis_url, prefix)
        shutil.rmtree(tmp, ignore_errors=True)
        say("stack: stopped and cleaned up")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        prog="python -m loadtest.stack",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--embedded", action="store_true", help="SQLite and in-process log, one process")
    p.add_argument("--mysql", default=os.environ.get("FLANNEL_TEST_MYSQL", "mysql://root@127.0.0.1:3306"))
    p.add_argument("--redis-url", default=os.environ.get("FLANNEL_TEST_REDIS", "redis://127.0.0.1:6379/0"))
    p.add_argument("--users", type=int, default=2000, help="users in the seeded workspace")
    p.add_argument("--tokens", type=int, default=200, help="tokens issued (one per simulated client)")
    p.add_argument("--config-out", default="flannel-stack.json", help="where to write URLs and tokens")
    args = p.parse_args(argv)
    asyncio.run(_serve(args, lambda line: print(line, file=sys.stderr, flush=True)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
