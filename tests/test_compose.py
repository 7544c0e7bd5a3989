"""docker-compose.yml: accepted by docker-compose, and every Flannel service runs a command
line the ``flannel`` CLI itself accepts (the same subcommands the tests start)."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from flannel_cli.main import build_parser
from tests.conftest import REQUIRE, ROOT

COMPOSE = Path(ROOT) / "docker-compose.yml"


def test_docker_compose_accepts_the_file() -> None:
    exe = shutil.which("docker-compose")
    if exe is None:
        message = "docker-compose is not installed (Debian package docker-compose)"
        if REQUIRE:
            pytest.fail(message)
        pytest.skip(message)
    env = {**os.environ, "FLANNEL_SECRET": "a-long-random-test-secret"}
    out = subprocess.run([exe, "-f", str(COMPOSE), "config", "-q"], capture_output=True, timeout=60, env=env)
    assert out.returncode == 0, out.stderr.decode()
    unset = {k: v for k, v in os.environ.items() if k != "FLANNEL_SECRET"}
    refused = subprocess.run(
        [exe, "-f", str(COMPOSE), "config", "-q"], capture_output=True, timeout=60, env=unset
    )
    assert refused.returncode != 0 and b"FLANNEL_SECRET" in refused.stderr  # no default secret to forget


def test_every_service_command_parses_with_the_flannel_cli() -> None:
    spec = yaml.safe_load(COMPOSE.read_text())
    services = spec["services"]
    assert {"mariadb", "redis", "origin", "router", "locust-master", "locust-worker"} <= set(services)
    edges = [name for name, svc in services.items() if svc.get("command", [None])[0] == "edge"]
    regions = {services[e]["command"][services[e]["command"].index("--region") + 1] for e in edges}
    assert len(edges) == 4 and regions == {"us", "eu"}
    parser = build_parser()
    for name, svc in services.items():
        if "build" not in svc and "<<" not in svc and svc.get("image") != "flannel:latest":
            continue
        if svc.get("entrypoint"):
            continue  # locust
        parser.parse_args(svc["command"])  # exits (fails the test) on an unknown flag
        assert "healthcheck" in svc or svc.get("restart") == "no", name
