"""The Grafana dashboard and Prometheus config that docker-compose mounts: every metric a panel
asks for is one a Flannel service exports, and Prometheus scrapes every Flannel service."""

from __future__ import annotations

import json
import re

import yaml

from tests.conftest import ROOT

DEPLOY = ROOT / "deploy"
SOURCES = ("flannel/metrics.py", "origin/metrics.py", "router/metrics.py")


def exported() -> set[str]:
    names: set[str] = set()
    for source in SOURCES:
        text = (ROOT / source).read_text()
        names |= set(re.findall(r'"(flannel_[a-z_]+)"', text))
        names |= {f"flannel_router_{n}" for n in re.findall(r'\(\s*"([a-z_]+)",\s*c\.', text)}
    return names


def test_every_panel_names_an_exported_metric() -> None:
    dashboard = json.loads((DEPLOY / "grafana" / "dashboards" / "flannel.json").read_text())
    known = exported()
    asked = {
        re.sub(r"_(total|bucket)$", "", name)
        for panel in dashboard["panels"]
        for target in panel["targets"]
        for name in re.findall(r"flannel_[a-z_]+", target["expr"])
    }
    assert len(dashboard["panels"]) >= 10
    assert asked - known == set()


def test_prometheus_scrapes_every_flannel_service() -> None:
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())["services"]
    flannel = {
        name for name, svc in compose.items() if svc.get("command", [""])[0] in ("origin", "edge", "router")
    }
    config = yaml.safe_load((DEPLOY / "prometheus.yml").read_text())
    targets = {
        t.split(":")[0]
        for job in config["scrape_configs"]
        for group in job["static_configs"]
        for t in group["targets"]
    }
    assert flannel and targets == flannel
    assert {"prometheus", "grafana"} <= set(compose)
