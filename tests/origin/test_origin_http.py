"""The origin over HTTP: concurrent posts, the internal snapshot endpoint, deactivation."""

from __future__ import annotations

import asyncio
import itertools

import httpx
import orjson

from origin.service import users
from tests.origin.conftest import Origin
from wire.ids import parse_ts


async def test_200_concurrent_posts_get_distinct_increasing_ts(origin: Origin) -> None:
    team = origin.team
    tokens = [u.token for u in team.users]
    limits = httpx.Limits(max_connections=50)
    async with httpx.AsyncClient(base_url=origin.api, limits=limits, timeout=60) as client:

        async def post(i: int) -> str:
            resp = await client.post(
                "chat.postMessage",
                json={"channel": team.general, "text": f"concurrent {i}"},
                headers={"Authorization": f"Bearer {tokens[i % len(tokens)]}"},
            )
            body = resp.json()
            assert body["ok"], body
            return str(body["ts"])

        stamps = await asyncio.gather(*(post(i) for i in range(200)))
        assert len(set(stamps)) == 200
        history: list[str] = []
        cursor = ""
        while True:
            body = (
                await client.get(
                    "conversations.history",
                    params={"channel": team.general, "limit": 90, "cursor": cursor},
                    headers={"Authorization": f"Bearer {team.alice.token}"},
                )
            ).json()
            history += [m["ts"] for m in body["messages"]]
            cursor = body["response_metadata"]["next_cursor"]
            if not cursor:
                break
    ordered = [parse_ts(t) for t in reversed(history)]
    assert len(ordered) == 200 and set(history) == set(stamps)
    assert all(a < b for a, b in itertools.pairwise(ordered))


async def test_snapshot_endpoint_needs_the_service_secret_and_streams_pages(origin: Origin) -> None:
    url = f"{origin.url}/internal/snapshot/{origin.team.id}"
    async with httpx.AsyncClient() as client:
        assert (await client.get(url)).json()["error"] == "not_authed"
        wrong = await client.get(url, headers={"x-flannel-service-secret": "nope"})
        assert wrong.status_code == 401 and wrong.json()["error"] == "invalid_auth"
        resp = await client.get(url, headers={"x-flannel-service-secret": "dev-secret-change-me"})
        pages = [orjson.loads(line) for line in resp.content.splitlines()]
        missing = await client.get(
            f"{origin.url}/internal/snapshot/TNOSUCHTEAM",
            headers={"x-flannel-service-secret": "dev-secret-change-me"},
        )
    assert pages[0]["type"] == "header" and pages[0]["team"]["id"] == origin.team.id
    assert pages[-1] == {"type": "end", "users": 3, "channels": 2, "members": 5}
    assert missing.json()["error"] == "team_not_found"


async def test_deactivated_user_tokens_stop_working(origin: Origin) -> None:
    team = origin.team
    await users.set_deleted(origin.store, team.id, team.carol.id, True)
    async with httpx.AsyncClient(base_url=origin.api) as client:
        body = (
            await client.post("auth.test", headers={"Authorization": f"Bearer {team.carol.token}"})
        ).json()
    assert body == {"ok": False, "error": "account_inactive"}
