"""Loopback ports for servers that a test or the benchmark starts as processes.

A port is chosen free, released, and bound again by the server a moment later. Meanwhile a
port-0 bind elsewhere (the origin's notifier child listens on any free port) could take it and
then answer the health check in the server's place. Ports are therefore chosen below the
kernel's ephemeral range, which is where port-0 binds are served from.
"""

from __future__ import annotations

import secrets
import socket
from pathlib import Path


def _ephemeral_start() -> int:
    try:
        return int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 0


#: Where ports are chosen: from 20000 to the ephemeral range (empty: any free port).
_EPHEMERAL_START = _ephemeral_start()
_OWN_PORTS = range(20000, min(_EPHEMERAL_START, 32768)) if _EPHEMERAL_START > 21000 else range(0)


def free_port() -> int:
    """A loopback port free now, below the ephemeral range when the kernel's allows it."""
    for _ in range(200):
        port = _OWN_PORTS.start + secrets.randbelow(len(_OWN_PORTS)) if _OWN_PORTS else 0
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
            chosen: int = sock.getsockname()[1]
            return chosen
    raise RuntimeError("no free loopback port")
