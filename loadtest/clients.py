"""Load generators in their own processes, pinned away from the servers they measure.

A phase starts :class:`Workers`: K spawned processes, each running one job coroutine
(``loadtest.load_http``, ``loadtest.load_rtm``) on uvloop, pinned to the client CPUs. Parent
and job talk over a pipe in small steps (``ready`` -> ``go`` -> results), so that several
workers start their load at the same instant and the parent can post messages while they
listen. Times cross processes as ``time.monotonic()``: CLOCK_MONOTONIC is system-wide on
Linux, so a timestamp taken by the poster means the same in a receiver.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import traceback
from collections.abc import Callable, Coroutine
from multiprocessing.connection import Connection
from typing import Any

Job = Callable[..., Coroutine[Any, Any, Any]]


def split_cpus(pin: bool) -> tuple[set[int] | None, set[int] | None]:
    """(server CPUs, client CPUs): the first half serves, the second half generates load."""
    cpus = sorted(os.sched_getaffinity(0))
    if not pin or len(cpus) < 2:
        return None, None
    half = len(cpus) // 2
    return set(cpus[:half]), set(cpus[half:])


def describe(cpus: set[int] | None) -> str:
    return f"{len(cpus)} ({','.join(map(str, sorted(cpus)))})" if cpus else f"{os.cpu_count()} shared"


class Link:
    """The job's end of the pipe."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def send(self, kind: str, value: Any = None) -> None:
        self.conn.send((kind, value))

    async def recv(self) -> tuple[str, Any]:
        kind, value = await asyncio.to_thread(self.conn.recv)
        return str(kind), value


def _jobs() -> dict[str, Job]:
    from loadtest import load_http, load_rtm

    return {
        "http_load": load_http.http_load,
        "boot_probe": load_http.boot_probe,
        "rtm_clients": load_rtm.rtm_clients,
    }


def _worker(conn: Connection, cpus: set[int] | None, job: str, kwargs: dict[str, Any]) -> None:
    if cpus:
        os.sched_setaffinity(0, cpus)
    try:
        import uvloop

        result: Any = uvloop.run(_jobs()[job](Link(conn), **kwargs))
        conn.send(("done", result))
    except BaseException:  # report, whatever it was: the parent must not hang
        conn.send(("error", traceback.format_exc()))
    finally:
        conn.close()


class WorkerError(RuntimeError):
    pass


class Workers:
    """One job in K processes; ``kwargs`` per worker."""

    def __init__(self, job: str, kwargs: list[dict[str, Any]], cpus: set[int] | None) -> None:
        ctx = multiprocessing.get_context("spawn")
        self.conns: list[Connection] = []
        self.procs: list[Any] = []
        for kw in kwargs:
            parent, child = ctx.Pipe()
            proc = ctx.Process(target=_worker, args=(child, cpus, job, kw), daemon=True)
            proc.start()
            child.close()
            self.conns.append(parent)
            self.procs.append(proc)

    def send(self, kind: str, value: Any = None) -> None:
        for conn in self.conns:
            conn.send((kind, value))

    async def recv(self, expect: str, limit_s: float = 600.0) -> list[Any]:
        """One message from every worker; each must be ``expect`` (or ``done``)."""

        async def one(conn: Connection) -> Any:
            kind, value = await asyncio.wait_for(asyncio.to_thread(_recv, conn, limit_s), limit_s + 5)
            if kind == "error":
                raise WorkerError(value)
            if kind not in (expect, "done"):
                raise WorkerError(f"expected {expect}, got {kind}")
            return value

        return list(await asyncio.gather(*(one(c) for c in self.conns)))

    async def ask(self, kind: str, expect: str, value: Any = None, limit_s: float = 600.0) -> list[Any]:
        self.send(kind, value)
        return await self.recv(expect, limit_s)

    def close(self) -> None:
        for proc in self.procs:
            proc.join(10)
            if proc.is_alive():
                proc.kill()
                proc.join()
        for conn in self.conns:
            conn.close()


def _recv(conn: Connection, timeout: float) -> Any:
    try:
        if not conn.poll(timeout):
            return ("error", f"no answer from a load worker within {timeout:.0f}s")
        return conn.recv()
    except EOFError:
        return ("error", "a load worker exited without an answer")


def spread(items: list[Any], k: int) -> list[list[Any]]:
    """Deal ``items`` out to ``k`` workers, round robin."""
    return [items[i::k] for i in range(k)]
