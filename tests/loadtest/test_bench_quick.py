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


def run_bench(tmp_path: Path, *extra: str) -> dict[str, object]:
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
