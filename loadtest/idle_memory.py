"""``python -m loadtest.idle_memory [N]``: what one idle ``/rtm`` connection holds, by tracemalloc.

A real uvicorn edge (the edge's own ``ws`` protocol, :class:`flannel.transport.DroppableWebSockets`,
on uvloop) over the tests' in-memory fake origin and log (``tests/flannel/harness.py``, so run it
from a checkout), one warm client, then ``N`` idle clients (default 400) in a child process.
Prints the Python heap it grew by per connection, and where, largest first. The benchmark's
``connection.idle_kib`` is the RSS view of the same thing.
"""

from __future__ import annotations

import asyncio
import gc
import importlib
import os
import subprocess
import sys
import tracemalloc
from typing import Any

CLIENT = r"""
import asyncio, sys
from loadtest import rawws
async def main():
    held = []
    for url in open(sys.argv[1]).read().split():
        client = await rawws.connect(url)
        await client.first
        held.append(client)
    print("connected", flush=True)
    await asyncio.sleep(3600)
asyncio.run(main())
"""


async def measure(n: int, top: int, workdir: str) -> None:
    import uvicorn

    from changelog import MemoryLog
    from flannel.app import create_app
    from flannel.transport import DroppableWebSockets
    from wire.tickets import issue
    from wire.tokens import token_hash

    # The tests' fake origin (by name: the tests are not part of the typed packages).
    harness: Any = importlib.import_module("tests.flannel.harness")
    EDGE_ID, SECRET = harness.EDGE_ID, harness.SECRET
    origin = harness.FakeOrigin()
    edge = harness.edge_over(origin.transport(), MemoryLog())
    app = create_app(edge, closers=[edge.origin.close])
    cfg = uvicorn.Config(app, host="127.0.0.1", port=0, ws=DroppableWebSockets, log_level="warning")
    server = uvicorn.Server(cfg)
    serving = asyncio.create_task(server.serve())
    while not server.started:  # noqa: ASYNC110 - uvicorn offers a flag, not an event
        await asyncio.sleep(0.05)
    port = server.servers[0].sockets[0].getsockname()[1]

    def clients(name: str, count: int) -> subprocess.Popen[bytes]:
        path = os.path.join(workdir, f"urls_{name}")
        with open(path, "w") as f:
            for _ in range(count):
                ticket = issue(SECRET, "U2", origin.team_id, EDGE_ID, token_hash=token_hash("xoxp-bob"))
                f.write(f"ws://127.0.0.1:{port}/rtm?ticket={ticket}\n")
        proc = subprocess.Popen([sys.executable, "-c", CLIENT, path], stdout=subprocess.PIPE)
        assert proc.stdout is not None
        proc.stdout.readline()  # in a thread: "connected" once every client has its hello
        return proc

    warm = await asyncio.to_thread(clients, "warm", 1)
    await asyncio.sleep(0.5)
    gc.collect()
    tracemalloc.start(12)
    before = tracemalloc.take_snapshot()
    idle = await asyncio.to_thread(clients, "idle", n)
    await asyncio.sleep(1.0)
    gc.collect()
    after = tracemalloc.take_snapshot()
    tracemalloc.stop()
    stats = after.compare_to(before, "traceback")
    total = sum(s.size_diff for s in stats)
    print(f"{edge.connections} connections; heap grew {total / 1024:.0f} KiB: {total / n:.0f} bytes each")
    for stat in sorted(stats, key=lambda s: -s.size_diff)[:top]:
        where = " <- ".join(
            f"{os.path.basename(f.filename)}:{f.lineno}" for f in list(stat.traceback)[-5:][::-1]
        )
        print(f"{stat.size_diff / n:8.0f} B {stat.count_diff / n:5.1f} blocks  {where}")
    idle.kill()
    warm.kill()
    server.should_exit = True
    await serving


def main(argv: list[str] | None = None) -> None:
    import tempfile

    import uvloop

    args = sys.argv[1:] if argv is None else argv
    n = int(args[0]) if args else 400
    with tempfile.TemporaryDirectory() as workdir:
        uvloop.run(measure(n, 25, workdir))


if __name__ == "__main__":
    main()
