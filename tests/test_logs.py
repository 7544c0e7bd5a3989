"""Services log one JSON object a line, with request ids, and never a token."""

from __future__ import annotations

from pathlib import Path

import httpx
import orjson

from origin.store.shards import Store
from tests.conftest import ServerProcess, free_port
from tests.factories import make_team


async def test_origin_logs_are_json_with_request_ids_and_no_tokens(
    start_server: type[ServerProcess], tmp_path: Path
) -> None:
    url = f"sqlite:///{tmp_path}/logs.db"
    store = await Store.open([url])
    team = await make_team(store)
    await store.close()
    server = start_server(["origin", "--log-level", "info", "--database-url", url], free_port()).start()
    token = team.alice.token
    async with httpx.AsyncClient(base_url=server.url + "/api/") as http:
        await http.post("auth.test", headers={"Authorization": f"Bearer {token}"})
        await http.get("conversations.info", params={"token": token, "channel": team.general})
        await http.post("no.such.method", data={"token": token})
    server.stop()
    text = server.log.read_text()
    assert token not in text and token.split("-")[-1] not in text
    lines = [orjson.loads(line) for line in text.splitlines() if line.strip()]
    access = [line for line in lines if line["logger"] == "flannel.origin.access"]
    paths = [line["msg"] for line in access]
    assert "POST /api/auth.test" in paths and "GET /api/conversations.info" in paths
    assert all(line["service"] == "origin" and len(line["request_id"]) == 12 for line in access)
    assert len({line["request_id"] for line in access}) == len(access)
    assert {line["status"] for line in access} >= {200, 404}
