"""Locust, headless, both user classes against a running stack (``python -m loadtest.stack``,
embedded) at a small scale: every request succeeds, and both clients did their work."""

from __future__ import annotations

import csv
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import ROOT


@pytest.fixture
def stack_config(tmp_path: Path) -> Iterator[Path]:
    config = tmp_path / "stack.json"
    log = (tmp_path / "stack.log").open("wb")
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "loadtest.stack",
            "--embedded",
            "--users",
            "200",
            "--tokens",
            "20",
            "--config-out",
            str(config),
        ],
        cwd=ROOT,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 90
        while not config.exists():
            assert proc.poll() is None, (tmp_path / "stack.log").read_text()
            assert time.monotonic() < deadline, "the stack did not come up"
            time.sleep(0.2)
        yield config
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


def test_both_user_classes_run_without_failures(stack_config: Path, tmp_path: Path) -> None:
    prefix = tmp_path / "locust"
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "locust",
            "-f",
            str(ROOT / "loadtest" / "locustfile.py"),
            "--headless",
            "-u",
            "8",
            "-r",
            "4",
            "-t",
            "12s",
            "--csv",
            str(prefix),
            "--only-summary",
            "--flannel-config",
            str(stack_config),
            "ThinClientUser",
            "FatClientUser",
        ],
        cwd=tmp_path,
        capture_output=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr.decode()[-4000:]
    rows = {row["Name"]: row for row in csv.DictReader(prefix.with_name("locust_stats.csv").open())}
    assert int(rows["Aggregated"]["Failure Count"]) == 0
    for name in (
        "thin boot: rtm.connect + hello",
        "fat boot: rtm.start",
        "WS users.info batch",
        "users.info (per id)",
        "WS event message",
    ):
        assert int(rows[name]["Request Count"]) > 0, name
