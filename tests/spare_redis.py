"""A redis-server of a test's own, for tests that kill, restart or flush Redis.

On a free loopback port, without persistence: it can be flushed, killed and started again
(empty, on the same port) without touching the shared Redis the other tests use. The
``spare_redis`` fixture (tests/conftest.py) gives one per test.
"""

from __future__ import annotations

import shutil
import subprocess
import time

import redis


class SpareRedis:
    def __init__(self, port: int) -> None:
        self.port = port
        self.url = f"redis://127.0.0.1:{port}/0"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        """Start it (again, empty, on the same port) and wait until it answers a ping."""
        binary = shutil.which("redis-server")
        if binary is None:  # every machine has it (scripts/bootstrap): a failure, not a skip
            raise RuntimeError("redis-server is not installed")
        cmd = [binary, "--port", str(self.port), "--bind", "127.0.0.1"]
        cmd += ["--save", "", "--appendonly", "no", "--daemonize", "no"]
        self.proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        client = redis.Redis(port=self.port, socket_timeout=1)
        deadline = time.monotonic() + 10
        try:
            while True:
                try:
                    client.ping()
                    return
                except redis.ConnectionError:
                    if time.monotonic() > deadline or self.proc.poll() is not None:
                        raise
                    time.sleep(0.02)
        finally:
            client.close()

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()

    def flushall(self) -> None:
        client = redis.Redis(port=self.port, socket_timeout=1)
        try:
            client.flushall()
        finally:
            client.close()
