"""The origin's /metrics: counters move as the API is used."""

from __future__ import annotations

import httpx

from tests.origin.conftest import Origin


def sample(text: str, name: str) -> float:
    for line in text.splitlines():
        if line.startswith(name + " ") or line.startswith(name + "{"):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


async def test_metrics_count_requests_errors_and_snapshots(origin: Origin) -> None:
    team = origin.team
    auth = {"Authorization": f"Bearer {team.alice.token}"}
    async with httpx.AsyncClient(base_url=origin.url) as http:
        before = (await http.get("/metrics")).text
        await http.post("/api/chat.postMessage", json={"channel": team.general, "text": "hi"}, headers=auth)
        await http.post("/api/conversations.info", data={"channel": "CNOPE"}, headers=auth)
        await http.get(
            f"/internal/snapshot/{team.id}", headers={"x-flannel-service-secret": "dev-secret-change-me"}
        )
        after = (await http.get("/metrics")).text
    ok = 'flannel_origin_requests_total{error="",method="chat.postMessage"}'
    missing = 'flannel_origin_requests_total{error="channel_not_found",method="conversations.info"}'
    assert sample(after, ok) == sample(before, ok) + 1
    assert sample(after, missing) == sample(before, missing) + 1
    assert sample(after, "flannel_origin_snapshots_served_total") == 1
    assert "flannel_origin_request_seconds_bucket" in after
    assert "flannel_origin_relay_backlog" in after
