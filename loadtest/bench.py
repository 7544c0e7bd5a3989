"""``python -m loadtest.bench``: the benchmark, printed as a table and written as flat JSON.

It starts what it measures (``loadtest.stack``): the origin on MariaDB with Redis, two
edges and the router as real processes on loopback, or with ``--embedded`` SQLite and the
in-process log (origin, edges and router in one process). It seeds its workspaces into a
throwaway database, pins the servers to half the CPUs and its load generators
(``loadtest.clients``) to the other half, runs the phases (``loadtest.phases``) and removes
the databases and Redis keys it made. ``--quick`` is the small version for CI (minutes on two
cores); the default is the full run.

Given ``--origin-url`` (with ``--edge-url`` twice, ``--database-url`` and ``--secret``) it
measures that running stack instead: it seeds its workspaces through the given databases
(never dropped: the workspaces stay), skips what needs processes it did not start (a figure
it cannot take is null, with a ``<phase>.note``) and exits 0 despite them.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import functools
import os
import platform
import secrets
import shutil
import signal
import sys
import tempfile
import time
import traceback
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import orjson

from loadtest.phases import Context, progress
from loadtest.plan import FULL, QUICK, Plan

STACK_PHASES = ("boot", "query", "connection", "fanout", "freshness", "storm", "failover", "readstate", "web")
PHASES = (*STACK_PHASES, "changelog", "routing", "search", "transfer", "notify", "files", "presence")
STRATEGIES = ("random", "hash", "bounded", "bounded_warm")
ROUTING_METRICS = ("max_over_mean", "moved_per_change_x_n", "warm_share")
#: The figures issue 8 asks for; every run reports them (``None`` for a skipped phase).
REQUIRED_KEYS = (
    *(f"boot.{k}_{n}" for n in (1500, 32000) for k in ("thin_bytes", "fat_bytes", "bytes_ratio")),
    "boot.time_ratio_32000",
    "web.content_visible_ms_32000",
    "web.fat_content_visible_ms_32000",
    "web.over_fat",
    "web.switcher_ms",
    "readstate.hello_bytes_32000",
    "readstate.hello_ratio_32000",
    "readstate.counts_edge_over_origin",
    "readstate.post_cost",
    "query.edge_qps",
    "query.origin_qps",
    "query.edge_over_origin",
    "query.limit_qps",
    "query.edge_over_limit",
    "query.edge_p99_ms",
    "fanout.connections",
    "fanout.deliveries_per_s",
    "fanout.p50_ms",
    "fanout.p99_ms",
    "fanout.edge_cpu_us_per_delivery_burst",
    "fanout.bare_cpu_us_per_delivery",
    "fanout.over_limit",
    "fanout.cpu_over_limit",
    "connection.idle_kib",
    "storm.clients",
    "storm.origin_snapshot_loads",
    "storm.all_connected_s",
    "failover.reconnect_p99_s",
    "failover.missing",
    "freshness.p50_ms",
    "freshness.p99_ms",
    "changelog.events_per_s",
    "changelog.p99_ms",
    *(f"routing.{s}.{m}" for s in STRATEGIES for m in ROUTING_METRICS),
    "search.p50_ms",
    "search.p99_ms",
    "search.messages",
    "search.previous_p50_ms",
    "search.previous_p99_ms",
    "search.over_previous",
    "search.index_msgs_per_s",
    "search.index_lag_p99_ms",
    "search.index_bytes_per_million",
    "import.messages_per_s",
    "export.messages_per_s",
    "notify.decide_per_s",
    "notify.email_p99_ms",
    "notify.lag_p99_ms",
    "files.upload_mb_per_s",
    "files.peak_rss_mib",
    "presence.change_p99_ms",
    "presence.events_per_client",
    "presence.baseline_events_per_client",
    "presence.fewer_x",
    "presence.bus_msgs_per_s",
    "typing.p99_ms",
)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        prog="python -m loadtest.bench",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--quick", action="store_true", help="a small run that finishes in minutes")
    p.add_argument("--embedded", action="store_true", help="SQLite and in-process log, one server process")
    p.add_argument("--mysql", default=os.environ.get("FLANNEL_TEST_MYSQL", "mysql://root@127.0.0.1:3306"))
    p.add_argument("--redis-url", default=os.environ.get("FLANNEL_TEST_REDIS", "redis://127.0.0.1:6379/0"))
    p.add_argument("--json", dest="json_path", help="write the figures as one flat JSON object")
    p.add_argument("--phases", default=",".join(PHASES), help=f"comma-separated subset of {','.join(PHASES)}")
    p.add_argument("--no-pin", action="store_true", help="let servers and load generators share all CPUs")
    p.add_argument("--client-procs", type=int, help="load-generator processes (default: one per client CPU)")
    p.add_argument("--search-messages", type=int, help="messages the search phase seeds (overrides the plan)")
    p.add_argument("--search-queries", type=int, help="queries the search phase runs (overrides the plan)")
    p.add_argument(
        "--storm-clients",
        type=int,
        help="clients the storm connects at once (overrides the plan; its workspace: twice as many users)",
    )
    g = p.add_argument_group("measuring a running stack (instead of starting one)")
    g.add_argument("--origin-url", help="the running origin; switches to this mode")
    g.add_argument("--edge-url", action="append", default=[], help="a running edge (give two)")
    g.add_argument("--router-url", help="the running router (used by the storm with --storm-region)")
    g.add_argument(
        "--database-url",
        action="append",
        default=[],
        help="the origin's database URLs, all shards, in its order (seeded there)",
    )
    g.add_argument("--secret", help="the stack's shared secret (origin stats)")
    g.add_argument("--storm-edge-url", help="an edge known to be cold, for the storm (else it is skipped)")
    g.add_argument(
        "--storm-region", help="the cold edge's region, alone in it: the storm goes via the router"
    )
    args = p.parse_args(argv)
    if args.origin_url:
        if args.embedded:
            p.error("--embedded starts a stack; it does not go with --origin-url")
        if not args.edge_url or not args.database_url or not args.secret:
            p.error("--origin-url needs --edge-url, --database-url and --secret too")
    elif args.edge_url or args.router_url or args.database_url or args.storm_edge_url or args.storm_region:
        p.error("--edge-url, --router-url, --database-url and --storm-* go with --origin-url")
    return args


def machine() -> dict[str, Any]:
    meminfo = Path("/proc/meminfo").read_text() if Path("/proc/meminfo").exists() else ""
    kib = next((int(line.split()[1]) for line in meminfo.splitlines() if line.startswith("MemTotal:")), 0)
    cpuinfo = Path("/proc/cpuinfo").read_text() if Path("/proc/cpuinfo").exists() else ""
    models = [line.split(":", 1)[1].strip() for line in cpuinfo.splitlines() if line.startswith("model name")]
    return {
        "machine.cores": os.cpu_count(),
        "machine.ram_gib": round(kib / 1024 / 1024, 1),
        "machine.cpu": models[0] if models else platform.processor(),
        "machine.python": platform.python_version(),
        "machine.loadavg_start": [round(x, 2) for x in os.getloadavg()],  # the host is shared
    }


class Run:
    """One benchmark run: its throwaway names, and the cleanup they need."""

    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.id = secrets.token_hex(4)
        self.tmp = Path(tempfile.mkdtemp(prefix="flannel-bench-"))
        self.prefix = f"flannelbench:{self.id}:"
        self.databases: list[str] = []

    def database(self, suffix: str) -> str:
        if self.args.embedded:
            return f"sqlite:///{self.tmp}/{suffix}.db"
        url = f"{self.args.mysql}/flannel_bench_{self.id}_{suffix}"
        self.databases.append(url)
        return url

    async def cleanup(self, keep_logs: bool) -> None:
        """Drop the databases and Redis keys; remove the work directory (server logs, SQLite
        files) unless something failed, when its logs are worth reading."""
        from loadtest.workspace import delete_prefix, drop_databases

        await drop_databases(self.databases)  # its own throwaway ones: never the given ones
        if not self.args.embedded:
            try:
                await delete_prefix(self.args.redis_url, self.prefix)
            except Exception as exc:  # a given stack's Redis may not be reachable from here
                if not self.args.origin_url:
                    raise
                progress(f"cleanup: Redis keys {self.prefix}* not removed: {exc}")
        if keep_logs:
            for db in self.tmp.glob("*.db*"):
                db.unlink()
            progress(f"server logs kept in {self.tmp}")
        else:
            shutil.rmtree(self.tmp, ignore_errors=True)


async def guarded(
    results: dict[str, Any],
    name: str,
    phase: Callable[[], Awaitable[dict[str, Any]]],
    limit_s: float = 1800.0,
) -> None:
    """Run one phase; a failure or a phase over ``limit_s`` is recorded (``<phase>.error``) and
    the others still run."""
    started = time.perf_counter()
    try:
        async with asyncio.timeout(limit_s):
            results |= await phase()
    except Exception as exc:
        traceback.print_exc()
        results[f"{name}.error"] = f"{type(exc).__name__}: {exc}"[:500]
    progress(f"{name}: done in {time.perf_counter() - started:.1f}s")


async def stack_phases(
    run: Run,
    plan: Plan,
    chosen: list[str],
    cpus: tuple[set[int] | None, set[int] | None],
    procs: int,
    results: dict[str, Any],
) -> None:
    from loadtest import workspace
    from loadtest.phases import boot, connection, failover, fanout, freshness, query, readstate, storm, web
    from loadtest.stack import ExternalStack, Stack, StackConfig
    from origin.store.shards import Store

    args = run.args
    urls = list(args.database_url) if args.origin_url else [run.database("stack")]
    store = await Store.open(urls)
    try:
        progress(f"seeding: {plan.small_users}, {plan.large_users} and {plan.storm_users} users ...")
        small = await workspace.seed(store, plan.small_users, plan.small_channels, 1000, "Small", progress)
        large = await workspace.seed(store, plan.large_users, plan.large_channels, 2000, "Large", progress)
        storm_ws = await workspace.seed(store, plan.storm_users, 20, 200, "Storm", progress)
        await workspace.issue_tokens(
            store,
            large,
            max(plan.fanout_connections, plan.fanout_large_connections, plan.idle_connections + 1),
        )
        await workspace.issue_tokens(store, storm_ws, plan.storm_clients)
    finally:
        await store.close()
    cfg = StackConfig(
        args.embedded,
        urls,
        None if args.embedded else args.redis_url,
        run.prefix,
        server_cpus=cpus[0],
        log_dir=run.tmp,
    )
    if args.origin_url:
        cfg.secret = args.secret
        stack: Stack = ExternalStack(
            cfg, args.origin_url, args.edge_url, args.router_url, args.storm_edge_url, args.storm_region
        )
        results |= {
            "stack.origin_url": stack.origin_url,
            "stack.edge_urls": stack.edge_urls,
            "stack.router_url": stack.router_url,
        }
    else:
        stack = Stack(cfg)
    try:
        progress(f"stack: starting ({stack.mode}) ...")
        stack.start()
        results["stack"] = stack.mode
        ctx = Context(plan, stack, small, large, storm_ws, cpus[1], procs)
        runs = {
            "boot": boot.run,
            "query": query.run,
            "connection": connection.run,
            "fanout": fanout.run,
            "freshness": freshness.run,
            "storm": storm.run,
            "failover": failover.run,
            "readstate": readstate.run,
            "web": web.run,
        }
        for name in STACK_PHASES:
            if name in chosen:
                await guarded(results, name, functools.partial(runs[name], ctx), plan.phase_limit_s)
    finally:
        stack.stop()


async def main_async(args: argparse.Namespace) -> dict[str, Any]:
    from loadtest.clients import describe, split_cpus
    from loadtest.phases import changelog, files, notify, presence, routing, search, transfer

    plan = QUICK if args.quick else FULL
    if args.search_messages or args.search_queries:
        plan = dataclasses.replace(
            plan,
            search_messages=args.search_messages or plan.search_messages,
            search_queries=args.search_queries or plan.search_queries,
        )
    if args.storm_clients:
        n = args.storm_clients
        plan = dataclasses.replace(plan, storm_clients=n, storm_users=max(plan.storm_users, 2 * n))
    chosen = [p.strip() for p in args.phases.split(",") if p.strip()]
    unknown = set(chosen) - set(PHASES)
    if unknown:
        raise SystemExit(f"unknown phases: {', '.join(sorted(unknown))}")
    server_cpus, client_cpus = split_cpus(not args.no_pin)
    if client_cpus:
        os.sched_setaffinity(0, client_cpus)  # this process posts and observes: a client too
    procs = args.client_procs or len(client_cpus or os.sched_getaffinity(0))
    results: dict[str, Any] = {
        "mode": plan.name,
        **machine(),
        "cores.servers": describe(server_cpus),
        "cores.clients": describe(client_cpus),
        "clients.processes": procs,
        "cores.note": "MariaDB and Redis are not pinned (they run as system services)",
    }
    run = Run(args)
    results["bench.run"] = run.id
    try:
        if set(chosen) & set(STACK_PHASES):
            await stack_phases(run, plan, chosen, (server_cpus, client_cpus), procs, results)
        if "changelog" in chosen:
            redis = None if args.embedded else args.redis_url
            url = run.database("changelog")
            progress(f"changelog: {plan.changelog_events} events through outbox, relay and log ...")
            events = plan.changelog_events
            phase = lambda: changelog.run([url], redis, run.prefix + "cl:", events)  # noqa: E731
            await guarded(results, "changelog", phase, plan.phase_limit_s)
        if "routing" in chosen:
            progress(
                f"routing: simulating {plan.routing_workspaces} workspaces on {plan.routing_edges} edges ..."
            )
            await guarded(
                results, "routing", lambda: routing.run(plan.routing_workspaces, plan.routing_edges)
            )
        if "search" in chosen:
            url = run.database("search")
            progress(f"search: {plan.search_messages} messages, {plan.search_queries} queries ...")
            phase = lambda: search.run([url], plan.search_messages, plan.search_queries, progress)  # noqa: E731
            await guarded(results, "search", phase, 2 * plan.phase_limit_s)
        if "transfer" in chosen:
            url = run.database("transfer")
            progress(f"transfer: import and export of {plan.transfer_messages} messages ...")
            n = plan.transfer_messages
            phase = lambda: transfer.run([url], run.tmp, n, progress)  # noqa: E731
            await guarded(results, "transfer", phase, 2 * plan.phase_limit_s)
        if "notify" in chosen:
            redis = None if args.embedded else args.redis_url
            url = run.database("notify")
            emails = 100 if args.quick else 500
            progress(f"notify: decisions for 32,000 members; {emails} mentions emailed through SMTP ...")
            phase = lambda: notify.run([url], redis, run.prefix + "nt:", emails)  # noqa: E731
            await guarded(results, "notify", phase, plan.phase_limit_s)
        if "files" in chosen:
            megabytes = 100 if args.quick else 500  # the quick run uploads 100 MB, the full 500 MB
            phase = lambda: files.run(run.tmp, megabytes, progress)  # noqa: E731
            await guarded(results, "files", phase, plan.phase_limit_s)
        if "presence" in chosen:
            redis = None if args.embedded else args.redis_url
            seconds = 15.0 if args.quick else 60.0  # 2,000 users churn over it; scaled per minute
            progress(f"presence: 2,000 of 32,000 users churn over {seconds:g} s on two edges, twice ...")
            phase = lambda: presence.run(redis, run.prefix + "pr:", 2000, seconds)  # noqa: E731
            await guarded(results, "presence", phase, plan.phase_limit_s)
    finally:
        await run.cleanup(keep_logs=any(k.endswith(".error") for k in results))
    return results


def table(results: dict[str, Any]) -> str:
    width = max(len(k) for k in results)
    lines: list[str] = []
    section = ""
    for key, value in results.items():
        head = key.split(".", 1)[0]
        if head != section and lines:
            lines.append("")
        section = head
        shown = orjson.dumps(value).decode() if isinstance(value, dict | list) else value
        lines.append(f"{key.ljust(width)}  {shown}")
    return "\n".join(lines)


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt  # SIGTERM: unwind like Ctrl-C, so servers stop and cleanup runs


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    signal.signal(signal.SIGTERM, _interrupt)
    t0 = time.perf_counter()
    results = asyncio.run(main_async(args))
    results["bench.seconds"] = round(time.perf_counter() - t0, 1)
    results["bench.loadavg_end"] = [round(x, 2) for x in os.getloadavg()]
    results["bench.command"] = "python -m loadtest.bench " + " ".join(
        argv if argv is not None else sys.argv[1:]
    )
    chosen = set(args.phases.split(","))
    missing = [k for k in REQUIRED_KEYS if k.split(".")[0] in chosen and k not in results]
    if missing and args.origin_url:  # a given stack: what it could not measure is null, with why
        for key in missing:
            results[key] = None
            phase = key.split(".")[0]
            reason = results.get(f"{phase}.error")
            results.setdefault(
                f"{phase}.note",
                f"not measured: {reason}" if reason else "not measured against a stack given by its URLs",
            )
        missing = []
    if missing:
        results["bench.missing"] = missing
    print(table(results))
    if args.json_path:
        with open(args.json_path, "wb") as fh:
            fh.write(orjson.dumps(results, option=orjson.OPT_INDENT_2))
    if args.origin_url:  # a given stack: phase errors are reported (``<phase>.error``), not fatal
        return 0
    return 1 if missing or any(k.endswith(".error") for k in results) else 0


if __name__ == "__main__":
    sys.exit(main())
