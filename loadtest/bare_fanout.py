"""``python -m loadtest.bare_fanout --port P``: the floor for fanout in Python on this machine.

A bare WebSocket server with no Flannel logic (no routing, no sessions, no queues): the
``websockets`` library's sans-I/O protocol for the handshake under a plain ``asyncio``
protocol, on uvloop as the edges run. Every connection to ``/rtm`` gets a hello; each text
frame that arrives on ``/control`` is wrapped as a message event of the size an edge sends,
framed once, and written as it is to every ``/rtm`` transport. ``GET /healthz`` answers 200.

The fanout phase drives it with the same clients, the same marks and the same pacing as the
edges (``fanout.bare_*``), so ``fanout.over_limit`` is how close the edges come to it.
"""

from __future__ import annotations

import argparse
import asyncio
import time
from typing import cast

from websockets.frames import Frame, Opcode
from websockets.http11 import Request
from websockets.server import ServerProtocol

HEALTHY = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok"
HELLO = b'{"type":"hello"}'


def framed(payload: bytes) -> bytes:
    """One unmasked, final text frame (RFC 6455 5.2)."""
    n = len(payload)
    if n < 126:
        return bytes((0x81, n)) + payload
    if n < 65536:
        return b"\x81\x7e" + n.to_bytes(2, "big") + payload
    return b"\x81\x7f" + n.to_bytes(8, "big") + payload


class Hub:
    def __init__(self) -> None:
        self.clients: set[asyncio.Transport] = set()
        self.seq = 0

    def broadcast(self, text: bytes) -> None:
        self.seq += 1
        ts = f"{time.time():.6f}".encode()
        payload = (
            b'{"type":"message","channel":"C0000000001","user":"U0000000001","text":"fanout '
            + text
            + b'","ts":"'
            + ts
            + b'","team":"T0000000001","offset":'
            + str(self.seq).encode()
            + b',"event_ts":"'
            + ts
            + b'","channel_type":"C"}'
        )
        wire = framed(payload)
        for transport in self.clients:
            transport.write(wire)


class Bare(asyncio.Protocol):
    def __init__(self, hub: Hub) -> None:
        self.hub = hub
        self.conn = ServerProtocol()
        self.transport: asyncio.Transport | None = None
        self.control = False
        self.started = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's are not subclasses

    def connection_lost(self, exc: Exception | None) -> None:
        if self.transport is not None:
            self.hub.clients.discard(self.transport)

    def data_received(self, data: bytes) -> None:
        transport = self.transport
        assert transport is not None
        if not self.started:
            self.started = True
            if data.startswith(b"GET /healthz"):
                transport.write(HEALTHY)
                transport.close()
                return
        self.conn.receive_data(data)
        for event in self.conn.events_received():
            if isinstance(event, Request):
                self.conn.send_response(self.conn.accept(event))
                self.control = event.path.startswith("/control")
                transport.write(b"".join(self.conn.data_to_send()))
                if not self.control:
                    transport.write(framed(HELLO))
                    self.hub.clients.add(transport)
            elif isinstance(event, Frame) and event.opcode is Opcode.TEXT and self.control:
                self.hub.broadcast(bytes(event.data))
        out = self.conn.data_to_send()
        if out:
            transport.write(b"".join(out))
        if self.conn.close_expected():
            transport.close()


async def serve(host: str, port: int) -> None:
    hub = Hub()
    server = await asyncio.get_running_loop().create_server(lambda: Bare(hub), host, port, backlog=4096)
    async with server:
        await server.serve_forever()


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(prog="python -m loadtest.bare_fanout", description=__doc__)
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, required=True)
    args = p.parse_args(argv)
    try:
        import uvloop

        uvloop.run(serve(args.host, args.port))
    except ImportError:  # pragma: no cover - uvloop is a dependency of every server
        asyncio.run(serve(args.host, args.port))


if __name__ == "__main__":
    main()
