"""``python -m loadtest.bench``: the benchmark, printed as a table and written as flat JSON.

Phases built so far: ``changelog`` (outbox + relay + log throughput, commit-to-reader
latency). The edge, router, fanout, storm and search phases arrive with their issues.
By default it measures the real components: MariaDB at 127.0.0.1:3306 and Redis at
127.0.0.1:6379, in a throwaway database and key prefix; ``--embedded`` uses SQLite and the
in-process log instead.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import secrets
import sys
import time
from typing import Any

import orjson


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m loadtest.bench", description=__doc__)
    p.add_argument("--quick", action="store_true", help="a small run that finishes in minutes")
    p.add_argument("--embedded", action="store_true", help="SQLite and in-process log")
    p.add_argument("--mysql", default=os.environ.get("FLANNEL_TEST_MYSQL", "mysql://root@127.0.0.1:3306"))
    p.add_argument("--redis-url", default=os.environ.get("FLANNEL_TEST_REDIS", "redis://127.0.0.1:6379/0"))
    p.add_argument("--json", dest="json_path", help="write the figures as one flat JSON object")
    return p.parse_args(argv)


async def main_async(args: argparse.Namespace) -> dict[str, Any]:
    from loadtest import changelog_phase
    from origin.store.mysql import drop_database
    from origin.store.urls import mysql_params

    run = secrets.token_hex(4)
    results: dict[str, Any] = {"machine.cores": os.cpu_count(), "mode": "quick" if args.quick else "full"}
    events = 2000 if args.quick else 20000
    if args.embedded:
        import tempfile

        with tempfile.TemporaryDirectory() as tmp:
            results |= await changelog_phase.run([f"sqlite:///{tmp}/bench.db"], None, "", events)
        return results
    urls = [f"{args.mysql}/flannel_bench_{run}"]
    try:
        print(f"changelog: {events} events through MariaDB outbox, relay and Redis ...", file=sys.stderr)
        results |= await changelog_phase.run(urls, args.redis_url, f"flannelbench:{run}:", events)
    finally:
        for url in urls:
            await drop_database(mysql_params(url))
        import redis.asyncio as redis

        client = redis.Redis.from_url(args.redis_url)
        keys = [k async for k in client.scan_iter(match=f"flannelbench:{run}:*")]
        if keys:
            await client.delete(*keys)
        await client.aclose()
    return results


def table(results: dict[str, Any]) -> str:
    width = max(len(k) for k in results)
    return "\n".join(f"{k.ljust(width)}  {v}" for k, v in results.items())


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    t0 = time.perf_counter()
    results = asyncio.run(main_async(args))
    results["bench.seconds"] = round(time.perf_counter() - t0, 1)
    print(table(results))
    if args.json_path:
        with open(args.json_path, "wb") as fh:
            fh.write(orjson.dumps(results, option=orjson.OPT_INDENT_2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
