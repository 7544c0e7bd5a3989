"""``python -m loadtest.bench --quick`` end to end, as CI runs it (figures are not asserted:
the machines here are shared and noisy). It must report every figure of issue 8 and leave
no database, Redis key or process behind."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import orjson
import pymysql
import pytest
import redis

from loadtest.bench import REQUIRED_KEYS
from origin.store.urls import mysql_params
from tests.conftest import MYSQL_SERVER, ROOT


def run_bench(tmp_path: Path, *extra: str, allow_null: bool = False) -> dict[str, object]:
    out = tmp_path / "out.json"
    cmd = [sys.executable, "-m", "loadtest.bench", "--quick", "--json", str(out), *extra]
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        stdout, stderr = proc.communicate(timeout=600)
    except subprocess.TimeoutExpired:
        proc.terminate()  # SIGTERM: the benchmark stops its servers and drops what it made
        stdout, stderr = proc.communicate(timeout=120)
        pytest.fail("the quick benchmark took over 10 minutes: " + stderr.decode()[-3000:])
    assert proc.returncode == 0, stdout.decode()[-3000:] + stderr.decode()[-5000:]
    figures: dict[str, object] = orjson.loads(out.read_bytes())
    if allow_null:  # a given stack, some phases: what it reports is a figure, or null with a note
        for key, value in figures.items():
            if key in REQUIRED_KEYS and value is None:
                assert f"{key.split('.')[0]}.note" in figures, key
        return figures
    missing = [k for k in REQUIRED_KEYS if k not in figures]
    assert not missing, missing
    assert not [k for k in figures if k.endswith(".error")]
    return figures


def test_quick_bench_on_mariadb_and_redis(
    tmp_path: Path, mysql_shard_urls: list[str], redis_url: str
) -> None:
    figures = run_bench(tmp_path)
    assert figures["mode"] == "quick" and figures["stack"] == "mariadb+redis, a process each"
    assert figures["boot.large_users"] == 4000  # quick: the 32000 keys hold the largest size it ran
    assert figures["storm.origin_snapshot_loads"] == 1
    assert figures["fanout.connections"] == 300 and figures["fanout.paced_missing"] == 0
    run = figures["bench.run"]
    params = mysql_params(MYSQL_SERVER + "/mysql")
    params.pop("db")
    conn = pymysql.connect(**params)
    try:
        with conn.cursor() as cur:
            cur.execute(f"SHOW DATABASES LIKE 'flannel_bench_{run}%'")
            assert cur.fetchall() == ()
    finally:
        conn.close()
    client = redis.Redis.from_url(redis_url)
    assert list(client.scan_iter(match=f"flannelbench:{run}:*")) == []
    client.close()


def test_quick_bench_embedded_stack(tmp_path: Path) -> None:
    figures = run_bench(tmp_path, "--embedded")
    assert figures["stack"] == "sqlite+memory-log, one process"
    assert figures["changelog.backend"] == "sqlite+memory"
    assert figures["storm.origin_snapshot_loads"] == 1


def test_quick_bench_against_given_urls(
    tmp_path: Path, mysql_shard_urls: list[str], redis_url: str, redis_prefix: str
) -> None:
    """The benchmark measures a stack it did not start (here: one this test starts, on two
    shards): seeds through the given databases, takes its figures at the given URLs, skips or
    nulls what it cannot take (with a note), exits 0, and leaves the given databases alone."""
    from loadtest.stack import STORM_REGION, Stack, StackConfig

    stack = Stack(StackConfig(False, mysql_shard_urls, redis_url, redis_prefix, log_dir=tmp_path))
    try:
        stack.start()
        assert stack.router_url is not None
        cold = stack.cold_edge(STORM_REGION)
        urls = [x for u in mysql_shard_urls for x in ("--database-url", u)]
        edges = [x for u in stack.edge_urls for x in ("--edge-url", u)]
        args = [
            "--phases",
            "boot,connection,storm,freshness,routing",
            "--origin-url",
            stack.origin_url,
            *edges,
            "--router-url",
            stack.router_url,
            *urls,
            "--redis-url",
            redis_url,
            "--secret",
            stack.cfg.secret,
            "--storm-edge-url",
            cold.url,
            "--storm-region",
            STORM_REGION,
        ]
        figures = run_bench(tmp_path, *args, allow_null=True)
    finally:
        stack.stop()
    assert figures["stack"] == "given URLs (not started by the benchmark)"
    chosen = ("boot", "connection", "storm", "freshness", "routing")
    for key in (k for k in REQUIRED_KEYS if k.split(".")[0] in chosen):
        assert figures[key] is not None or f"{key.split('.')[0]}.note" in figures, key
    assert isinstance(figures["connection.idle_kib"], float)  # the edge's pid found from its port
    assert figures["storm.via"] == "router" and figures["storm.connected"] == 100
    assert figures["storm.origin_snapshot_loads"] == 1
    assert figures["freshness.p99_ms"] is not None
    for key in (k for k in REQUIRED_KEYS if k.split(".")[0] not in chosen):
        assert key not in figures  # phases not chosen are not reported
    params = mysql_params(MYSQL_SERVER + "/mysql")
    params.pop("db")
    conn = pymysql.connect(**params)
    try:
        with conn.cursor() as cur:
            for url in mysql_shard_urls:
                cur.execute("SHOW DATABASES LIKE %s", [url.rsplit("/", 1)[1]])
                assert cur.fetchall() != ()  # the given databases are never dropped
    finally:
        conn.close()


def test_given_urls_mode_nulls_what_it_cannot_measure(tmp_path: Path) -> None:
    """Without a cold edge the storm is skipped: its figures are null with a note, and the run
    still exits 0 (nothing serves the URLs here but a bare endpoint; seeding goes to SQLite)."""
    from loadtest.stack import Server, free_port

    port = free_port()
    server = Server("limit", ["-m", "loadtest.limit_server", "--port", str(port)], [port], tmp_path, None)
    server.start()
    db = tmp_path / "given.db"
    try:
        url = f"http://127.0.0.1:{port}"
        args = [
            "--phases",
            "storm",
            "--origin-url",
            url,
            "--edge-url",
            url,
            "--database-url",
            f"sqlite:///{db}",
            "--secret",
            "s",
        ]
        figures = run_bench(tmp_path, *args, allow_null=True)
    finally:
        server.stop()
    assert figures["storm.all_connected_s"] is None and "storm.note" in figures
    assert db.exists()
