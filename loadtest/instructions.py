"""Instructions per request of the query phase's mix, counted by callgrind (deterministic,
unlike a shared host's rates): ``python -m loadtest.instructions``.

A warm edge over an in-process origin (the tests' fake one, a workspace of ``--users``
generated users, tokens checked once) is served by uvicorn under the edges' own settings
(``flannel_cli.edge.server_config``: the access log, the HTTP protocol) in a child process
run under ``valgrind --tool=callgrind --instr-atstart=no``; this process warms it with the
mix, switches counting on (``callgrind_control -i on``), sends ``--requests`` of the mix
(users.info of 10 users and users.search, half and half, on 4 keep-alive connections), then
switches it off and reads the count. ``--target limit`` / ``limit_protocol`` count
``loadtest.limit_server``'s ASGI and protocol-level constants the same way.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import os
import random
import re
import subprocess
import sys
import tempfile
import time

from loadtest.rawhttp import request

TOKENS = [f"xoxp-user-{i}" for i in range(50)]


def names(count: int) -> list[str]:
    rng = random.Random(7)
    return ["".join(rng.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(8)) for _ in range(count)]


def serve_edge(port: int, users: int, asgi: bool) -> None:
    """The child: the edge over a fake origin of ``users`` users, served until killed."""
    from flannel.app import create_app
    from flannel_cli.edge import server_config
    from flannel_cli.http_protocol import OneWriteHttp
    from flannel_cli.logs import configure
    from flannel_cli.serve import run, serve_all

    # The fake origin and its builders are the tests' (imported by name: not a package mypy checks).
    cache = importlib.import_module("tests.flannel.cache")
    harness = importlib.import_module("tests.flannel.harness")
    base_state, user = cache.base_state, cache.user
    FakeOrigin, edge_over, settings = harness.FakeOrigin, harness.edge_over, harness.settings

    state = base_state()
    for i, name in enumerate(names(users)):
        state.users[f"U{1000 + i}"] = user(f"U{1000 + i}", name, f"{name.title()} Person")
    tokens = {t: f"U{1000 + i}" for i, t in enumerate(TOKENS)}
    origin = FakeOrigin(state=state, tokens=tokens)
    edge = edge_over(origin.transport())
    configure("edge", "warning")
    cfg = server_config(create_app(edge), settings(host="127.0.0.1", port=port), "warning")
    if asgi:
        cfg.http = OneWriteHttp
    run(serve_all([cfg]))


def mix(users: int, count: int = 2000) -> list[bytes]:
    rng, all_names = random.Random(1), names(users)
    ids = [f"U{1000 + i}" for i in range(users)]
    out = []
    for i in range(count):
        token = TOKENS[i % len(TOKENS)]
        if i % 2 == 0:
            out.append(request("GET", "/api/users.info", token, {"users": ",".join(rng.sample(ids, 10))}))
        else:
            prefix = rng.choice(all_names)[:3]
            out.append(request("GET", "/api/users.search", token, {"query": prefix, "limit": "10"}))
    return out


async def send_all(port: int, requests: list[bytes], connections: int = 4) -> None:
    async def one(part: list[bytes]) -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        for raw in part:
            writer.write(raw)
            head = await reader.readuntil(b"\r\n\r\n")
            assert head.startswith(b"HTTP/1.1 200"), head[:60]
            length = re.search(rb"content-length: (\d+)", head, re.IGNORECASE)
            await reader.readexactly(int(length.group(1)) if length else 0)
        writer.close()

    await asyncio.gather(*(one(requests[i::connections]) for i in range(connections)))


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(prog="python -m loadtest.instructions", description=__doc__)
    p.add_argument("--target", choices=["edge", "edge_asgi", "limit", "limit_protocol"], default="edge")
    p.add_argument("--requests", type=int, default=2000)
    p.add_argument("--users", type=int, default=4000)
    p.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--port", type=int, default=0, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.serve:
        serve_edge(args.port, args.users, args.target == "edge_asgi")
        return
    from loadtest.ports import free_port

    port = free_port()
    out = tempfile.mkdtemp(prefix="instr-")
    if args.target.startswith("edge"):
        child: list[str] = ["-m", "loadtest.instructions", "--serve", "--port", str(port)]
        child += ["--users", str(args.users), "--target", args.target]
        requests = mix(args.users, args.requests)
    else:
        # The limit's ASGI constant on its plain port, the protocol-level one on its own.
        child = ["-m", "loadtest.limit_server", "--port", str(free_port()), "--protocol-port", str(port)]
        if args.target == "limit":
            child[3] = str(port)
            child[5] = str(free_port())
        path = "/api/limit" if args.target == "limit" else "/api/limit_protocol"
        requests = [request("GET", path)] * args.requests
    cmd = ["valgrind", "--tool=callgrind", "--instr-atstart=no", f"--callgrind-out-file={out}/cg.%p"]
    proc = subprocess.Popen([*cmd, sys.executable, *child], stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 600
        while True:
            try:
                asyncio.run(send_all(port, requests))  # warm: tokens checked, users' JSON kept
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(1)
        pid = str(proc.pid)
        subprocess.run(["callgrind_control", "-i", "on", pid], check=True, capture_output=True)
        asyncio.run(send_all(port, requests))
        subprocess.run(["callgrind_control", "-d", pid], check=True, capture_output=True)
        subprocess.run(["callgrind_control", "-i", "off", pid], check=True, capture_output=True)
        total = 0
        for name in os.listdir(out):  # the dump: only what ran while counting was on
            with open(os.path.join(out, name)) as f:
                for line in f:
                    if line.startswith(("summary:", "totals:")):
                        total = max(total, int(line.split()[1]))
    finally:
        proc.terminate()
        proc.wait(120)
    print(f"{args.target}: {total / args.requests:,.0f} instructions per request ({args.requests} requests)")


if __name__ == "__main__":
    main()
