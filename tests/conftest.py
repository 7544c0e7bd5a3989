"""Shared fixtures: per-run MariaDB databases (two shards), a Redis key prefix, and real
server processes on free loopback ports.

``.ci/run`` sets ``FLANNEL_REQUIRE_SERVICES=1``: then an unreachable MariaDB or Redis fails
the run instead of skipping its tests.

Every test that starts processes (servers, the CLI, a throwaway Redis) is marked ``e2e`` here
at collection, so ``pytest -m "not e2e"`` is the fast inner loop; CI runs everything.
"""

from __future__ import annotations

import inspect
import os
import re
import secrets
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pymysql
import pytest

from loadtest.ports import free_port
from origin.store.shards import Store
from origin.store.urls import mysql_params
from tests.spare_redis import SpareRedis

REQUIRE = os.environ.get("FLANNEL_REQUIRE_SERVICES") == "1"
MYSQL_SERVER = os.environ.get("FLANNEL_TEST_MYSQL", "mysql://root@127.0.0.1:3306")
REDIS_URL = os.environ.get("FLANNEL_TEST_REDIS", "redis://127.0.0.1:6379/0")
ROOT = Path(__file__).resolve().parent.parent

#: Fixtures that start processes. ``origin``, ``stack`` and ``fleet`` start theirs through
#: ``start_server``, and pytest's fixture closure is transitive, so they need no entry here.
E2E_FIXTURES = frozenset({"start_server", "spare_redis", "stack_config"})
#: Modules whose tests start processes through helpers of their own.
E2E_MODULES = frozenset(
    {"tests/test_cli.py", "tests/loadtest/test_bench_quick.py", "tests/loadtest/test_locust.py"}
)
_SPAWNS = re.compile(r"\bsubprocess\.|create_subprocess_|\bPopen\(")


def starts_processes(item: pytest.Item) -> bool:
    """Whether ``item`` starts processes: by its fixtures, its module, or its own code."""
    if E2E_FIXTURES & set(getattr(item, "fixturenames", ())):
        return True
    try:
        module = Path(str(item.path)).resolve().relative_to(ROOT).as_posix()
    except ValueError:
        module = ""
    if module in E2E_MODULES:
        return True
    function = getattr(item, "function", None)
    try:
        source = inspect.getsource(function) if function is not None else ""
    except (OSError, TypeError):
        source = ""
    return _SPAWNS.search(source) is not None


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if starts_processes(item):
            item.add_marker(pytest.mark.e2e)


def unavailable(what: str, exc: BaseException) -> None:
    message = f"{what} is not reachable: {exc}"
    if REQUIRE:
        pytest.fail(message + " (FLANNEL_REQUIRE_SERVICES=1)", pytrace=False)
    pytest.skip(message)


def _admin_connect() -> pymysql.connections.Connection:  # type: ignore[type-arg]
    params = mysql_params(MYSQL_SERVER + "/mysql")
    params.pop("db")
    return pymysql.connect(autocommit=True, **params)


#: How long a search in this process waits for the index to apply the caller's own write.
SEARCH_WAIT_S = 10.0


@pytest.fixture(autouse=True)
def patient_search(monkeypatch: pytest.MonkeyPatch) -> None:
    """Searches by in-process origins wait up to :data:`SEARCH_WAIT_S` for the caller's own
    write (production: ``origin.search.indexer.WAIT_S``, 1 s). The MariaDB test databases are
    shared by the whole run, so every new index (each in-process origin keeps its own) starts by
    rebuilding every workspace earlier tests left there; a batch of those rebuilds can hold a
    waited-for event past 1 s on a slow machine (three tests failed so in a CI run). The tests
    check that the wait happens and finds the write, not how fast a busy index is."""
    import origin.service.search

    monkeypatch.setattr(origin.service.search, "WAIT_S", SEARCH_WAIT_S)


@pytest.fixture(scope="session")
def mysql_shard_urls() -> Iterator[list[str]]:
    """Two fresh databases for this run (two shards), dropped afterwards."""
    try:
        conn = _admin_connect()
    except pymysql.MySQLError as exc:
        unavailable("MariaDB", exc)
    run = secrets.token_hex(4)
    names = [f"flannel_test_{run}_s0", f"flannel_test_{run}_s1"]
    try:
        yield [f"{MYSQL_SERVER}/{name}" for name in names]
    finally:
        with conn.cursor() as cur:
            for name in names:
                cur.execute(f"DROP DATABASE IF EXISTS `{name}`")
        conn.close()


@pytest.fixture(scope="session")
def redis_url() -> str:
    import redis

    try:
        redis.Redis.from_url(REDIS_URL, socket_timeout=2).ping()
    except redis.RedisError as exc:
        unavailable("Redis", exc)
    return REDIS_URL


@pytest.fixture
def redis_prefix(redis_url: str) -> Iterator[str]:
    """A key prefix of this test's own; its keys are removed afterwards."""
    import redis

    prefix = f"flanneltest:{secrets.token_hex(4)}:"
    yield prefix
    client = redis.Redis.from_url(redis_url)
    keys = list(client.scan_iter(match=prefix + "*", count=1000))
    if keys:
        client.delete(*keys)
    client.close()


@pytest.fixture(params=["sqlite", "mysql"])
def database_urls(request: pytest.FixtureRequest, tmp_path: Path) -> list[str]:
    """The same tests on the embedded SQLite and on MariaDB with two shards."""
    if request.param == "sqlite":
        return [f"sqlite:///{tmp_path}/flannel.db"]
    urls: list[str] = request.getfixturevalue("mysql_shard_urls")
    return urls


@pytest.fixture
async def store(database_urls: list[str]) -> AsyncIterator[Store]:
    opened = await Store.open(database_urls)
    try:
        yield opened
    finally:
        await opened.close()


class ServerProcess:
    """A real ``flannel`` subcommand in its own process, on a free loopback port."""

    def __init__(self, args: list[str], port: int, env: dict[str, str] | None = None) -> None:
        self.port = port
        self.url = f"http://127.0.0.1:{port}"
        self.args = args
        self.env = {**os.environ, **(env or {})}
        self.proc: subprocess.Popen[bytes] | None = None
        self.log = Path(os.environ.get("TMPDIR", "/tmp")) / f"flannel-test-{port}.log"

    def start(self, timeout: float = 30.0) -> ServerProcess:
        cmd = [sys.executable, "-m", "flannel_cli.main", *self.args, "--port", str(self.port)]
        self._log_file = self.log.open("wb")
        self.proc = subprocess.Popen(
            cmd, cwd=ROOT, env=self.env, stdout=self._log_file, stderr=subprocess.STDOUT
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited: {self.log.read_text()[-3000:]}")
            try:
                if httpx.get(self.url + "/healthz", timeout=1).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"server did not start: {self.log.read_text()[-3000:]}")

    def stop(self, sig: int | None = None) -> int | None:
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            if sig is None:
                self.proc.terminate()
            else:
                self.proc.send_signal(sig)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._log_file.close()
        return self.proc.returncode

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


@pytest.fixture
def start_server() -> Iterator[type[ServerProcess]]:
    """Start server processes; all are stopped at the end of the test."""
    started: list[ServerProcess] = []

    class Tracked(ServerProcess):
        def start(self, timeout: float = 30.0) -> ServerProcess:
            started.append(self)
            return super().start(timeout)

    yield Tracked
    for server in started:
        server.stop()


@pytest.fixture
def spare_redis() -> Iterator[SpareRedis]:
    """A redis-server of the test's own (tests/spare_redis.py), killed after it."""
    server = SpareRedis(free_port())
    server.start()
    yield server
    server.kill()
