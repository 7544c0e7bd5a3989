"""Reconnect storm: N clients of one workspace reconnect at once to a cold edge.

A cold edge is a fresh process in a region of its own (embedded stack: an edge started with
the others and used by nothing until now), so neither its cache nor a regional snapshot holds
the workspace. All clients start at the same instant, with ``resume_from=0`` (the workspace
has not changed since), and count as connected when their hello arrives. The origin's
``snapshots_served`` before and after says what the storm cost it: single-flight means one
snapshot load, not N.

Three storms, each on its own cold edge:

- ``storm.*``: as in the design, through the router: every client calls ``rtm.connect`` at
  the router (a new HTTP connection each, ``region=storm``), which checks the token at the
  origin (cached per token; the tokens new at one moment in one batch call:
  ``storm.token_check_round_trips``, ``storm.tokens_per_round_trip``), places it on the cold
  edge (the only edge of region ``storm``) and signs a ticket; the client then opens the
  WebSocket at the edge with it.
- ``storm.ticketed.*``: the router's work done beforehand: the benchmark signs the tickets
  itself with the shared secret and the clients go straight to the WebSocket (the edge's
  part alone).
- ``storm.edge_connect.*``: no router: every client calls ``rtm.connect`` at the cold edge
  on a new HTTP connection, so the edge checks each token at the origin.

- ``storm.workers1.*`` / ``storm.workers2.*``: the ticketed storm again, on ``flannel edge
  --workers 1`` and ``--workers 2`` (one edge process per core, each registered as its own
  edge), both started without the servers' CPU pinning so that two workers can use both
  cores; the tickets are dealt out over the workers (``storm.workers2.per_worker``). Each
  worker process loads the workspace once (``origin_snapshot_loads`` 2 with two workers).

Against a stack given by its URLs only the edge the user names as cold (``--storm-edge-url``)
can be used: through the router when ``--router-url`` and ``--storm-region`` are given, else
with ``rtm.connect`` at that edge; without one the phase is skipped (``storm.note``).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from loadtest.phases import Context
from loadtest.phases.fanout import cpu_s
from loadtest.phases.listeners import Listeners
from loadtest.stack import STORM_REGION, EdgeProc, Server, Stack, free_port
from loadtest.stats import percentile
from wire.tickets import issue
from wire.tokens import token_hash as hash_token

KEYS = ("storm.clients", "storm.origin_snapshot_loads", "storm.all_connected_s")


def tickets(ctx: Context, edge: EdgeProc | list[EdgeProc], n: int) -> list[str]:
    """Client i's WebSocket URL with a ticket for ``edge`` (or the i-th of ``edge`` in turn)."""
    ws = ctx.storm
    edges = edge if isinstance(edge, list) else [edge]
    bases = [e.url.replace("http://", "ws://", 1) + "/rtm?ticket=" for e in edges]
    return [
        bases[i % len(edges)]
        + issue(
            ctx.stack.cfg.secret,
            user,
            ws.team_id,
            edges[i % len(edges)].edge_id,
            ttl_s=300,
            resume_from=0,
            token_hash=hash_token(token),
        )
        for i, (user, token) in enumerate(zip(ws.client_users[:n], ws.client_tokens[:n], strict=True))
    ]


def consecutive_ports(k: int) -> int:
    """A free port whose next ``k - 1`` are free too."""
    import socket

    for _ in range(100):
        port = free_port()
        try:
            for i in range(1, k):
                with socket.socket() as probe:
                    probe.bind(("127.0.0.1", port + i))
        except OSError:
            continue
        return port
    raise RuntimeError(f"no {k} consecutive free ports")


def start_workers(stack: Stack, workers: int) -> tuple[Server, list[EdgeProc]]:
    """``flannel edge --workers N`` in a region of its own, not pinned (it may use every core)."""
    cfg = stack.cfg
    assert cfg.redis_url is not None
    port = consecutive_ports(workers)
    region = f"workers{workers}"
    edge_id = f"edge-{region}-{port}"
    cmd = ["-m", "flannel_cli.main", "edge", "--origin-url", stack.origin_url, "--redis-url", cfg.redis_url]
    cmd += ["--redis-prefix", cfg.prefix, "--region", region, "--edge-id", edge_id, "--secret", cfg.secret]
    cmd += ["--drain-window", "1", "--log-level", "warning", "--port", str(port), "--workers", str(workers)]
    ports = [port + i for i in range(workers)]
    server = Server(f"edge-{region}", cmd, ports, cfg.log_dir, None)
    stack.servers.append(server)
    server.start()  # RuntimeError when one of its ports was taken meanwhile (see on_workers)
    ids = [f"{edge_id}-{i}" for i in range(workers)] if workers > 1 else [edge_id]
    return server, [EdgeProc(f"http://127.0.0.1:{p}", None, e) for p, e in zip(ports, ids, strict=True)]


async def on_workers(ctx: Context, workers: int) -> dict[str, Any]:
    """The ticketed storm over the workers of one ``flannel edge --workers N``; each worker's
    live sessions (its ``/internal/stats``) at the end."""
    for attempt in range(3):  # a probed port may be taken (an outgoing connection's) before a worker binds it
        try:
            server, edges = start_workers(ctx.stack, workers)
            break
        except RuntimeError:
            if attempt == 2:
                raise
    per: list[int] = []

    async def sessions() -> None:
        per.extend([int((await ctx.stack.stats(e.url))["connections"]) for e in edges])

    try:
        got = await one(ctx, edges, "ticketed", before_close=sessions)
        return {"processes": workers, **got, "per_worker": per}
    finally:
        server.stop()


def storm_servers(stack: Stack, edge: EdgeProc | list[EdgeProc], how: str) -> dict[str, list[int]]:
    """The processes a storm runs on, by role (those whose pids this host can see)."""
    edges = edge if isinstance(edge, list) else [edge]
    roles = {"origin": [s.pid for s in stack.servers if s.name == "origin" and s.proc is not None]}
    if all(e.pid is not None for e in edges):
        roles["edge"] = [e.pid for e in edges if e.pid is not None]
    if how == "router":
        roles["router"] = [s.pid for s in stack.servers if s.name == "router" and s.proc is not None]
    return {name: pids for name, pids in roles.items() if pids and not stack.cfg.embedded}


def spent(before: float | None, after: float | None) -> float | None:
    return None if before is None or after is None else round(after - before, 2)


async def one(
    ctx: Context,
    edge: EdgeProc | list[EdgeProc],
    how: str,
    region: str | None = None,
    before_close: Callable[[], Awaitable[None]] | None = None,
) -> dict[str, Any]:
    """``how``: ``router`` (rtm.connect at the router, placed in ``region``), ``ticketed``
    (tickets signed here, for ``edge`` or dealt out over the edges given) or ``edge``
    (rtm.connect at the edge)."""
    stack, n = ctx.stack, ctx.plan.storm_clients
    tokens = ctx.storm.client_tokens[:n]
    first = edge[0] if isinstance(edge, list) else edge
    servers = storm_servers(stack, edge, how)
    if how == "router":
        assert stack.router_url is not None
        listeners = Listeners(
            ctx, [stack.router_url], tokens, concurrency=None, fresh_http=True, resume_from=0, region=region
        )
    else:
        ws_urls = tickets(ctx, edge, n) if how == "ticketed" else None
        listeners = Listeners(
            ctx, [first.url], tokens, ws_urls=ws_urls, concurrency=None, fresh_http=True, resume_from=0
        )
    try:
        await listeners.workers.recv("ready", 120)
        listeners.ready = True
        stats = await stack.stats(stack.origin_url)
        before = stats["snapshots_served"]
        calls0, checked0 = stats.get("token_check_calls", 0), stats.get("tokens_checked", 0)
        said = {
            "router": f"each calling rtm.connect at the router (region {region})",
            "ticketed": "with tickets signed by the benchmark",
            "edge": "each calling rtm.connect at the edge",
        }[how]
        ctx.say(
            f"storm: {n} clients of a {ctx.storm.users}-user workspace at once on a cold edge, {said} ..."
        )
        cpu0 = {name: cpu_s(pids) for name, pids in servers.items()}
        got = await listeners.connect(delay=0.5)
        cpu = {name: cpu_s(pids) for name, pids in servers.items()}
        stats = await stack.stats(stack.origin_url)
        after = stats["snapshots_served"]
        calls = stats.get("token_check_calls", 0) - calls0
        checked = stats.get("tokens_checked", 0) - checked0
        if got["failed"]:
            ctx.say(f"storm: {got['failed']} failed, e.g. {got['errors'][:2]}")
        if before_close is not None:  # while the clients are still connected
            await before_close()
        return {
            "connected": got["ok"],
            "failed": got["failed"],
            "origin_snapshot_loads": after - before,
            "all_connected_s": round(got["all_connected_s"], 2),
            "hello_p50_ms": round(percentile(got["hello_ms"], 50), 1),
            # the origin's batch token checks: round trips, and tokens they carried
            "token_check_round_trips": calls,
            "tokens_per_round_trip": round(checked / calls, 1) if calls else None,
            # CPU seconds the servers spent on the storm (user + system, from /proc): the
            # robust figure on a shared host, where the wall time swings with the neighbours
            **{f"{name}_cpu_s": spent(cpu0[name], cpu[name]) for name in servers},
        }
    finally:
        await listeners.close()


async def run(ctx: Context) -> dict[str, Any]:
    stack, n = ctx.stack, ctx.plan.storm_clients
    if stack.external:
        return await given(ctx)
    cold = stack.cold_edge(STORM_REGION)
    await stack.wait_routable(cold)
    main = await one(ctx, cold, "router", STORM_REGION)
    ticketed = await one(ctx, stack.cold_edge(), "ticketed")
    direct = await one(ctx, stack.cold_edge(), "edge")
    multi: dict[str, Any] = {}
    if not stack.cfg.embedded:  # processes of their own: not in the one-process stack
        for workers in (1, 2):
            try:
                got = await on_workers(ctx, workers)
            except RuntimeError as exc:  # recorded; the storms above keep their figures
                multi[f"storm.workers{workers}.error"] = f"{exc}"[:500]
                continue
            multi |= {f"storm.workers{workers}.{k}": v for k, v in got.items()}
    return {
        "storm.clients": n,
        "storm.via": "router",
        **{f"storm.{k}": v for k, v in main.items()},
        **{f"storm.ticketed.{k}": v for k, v in ticketed.items()},
        **{f"storm.edge_connect.{k}": v for k, v in direct.items()},
        **multi,
    }


async def given(ctx: Context) -> dict[str, Any]:
    stack, n = ctx.stack, ctx.plan.storm_clients
    region = getattr(stack, "storm_region", None)
    try:
        edge = stack.cold_edge()
    except RuntimeError:
        return {
            **dict.fromkeys(KEYS),
            "storm.note": "skipped: the storm needs a cold edge the benchmark "
            "starts itself; pass --storm-edge-url (an edge known to be cold) to use one",
        }
    via = "router" if stack.router_url and region else "edge"
    got = await one(ctx, edge, via, region)
    note = (
        f"through the router (region {region}) to the given cold edge {edge.url}"
        if via == "router"
        else f"rtm.connect at the given cold edge {edge.url} (no router: pass --router-url and "
        "--storm-region to go through it)"
    )
    return {
        "storm.clients": n,
        "storm.via": via,
        "storm.note": note,
        **{f"storm.{k}": v for k, v in got.items()},
    }
