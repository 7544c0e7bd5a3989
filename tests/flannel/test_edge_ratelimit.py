"""The origin's per-token tiers at the edge, for methods answered from memory and forwarded
alike: 429 with Retry-After (a ratelimited reply over the WebSocket)."""

from __future__ import annotations

import asyncio

from origin.api.registry import load_methods
from tests.flannel.harness import serve
from wire.ratelimit import DEFAULT_TIER, METHOD_TIERS, tier_of

BOB = {"Authorization": "Bearer xoxp-bob"}
ALICE = {"Authorization": "Bearer xoxp-alice"}


def test_the_origin_and_the_edge_take_every_tier_from_the_wire_contract() -> None:
    origin = {name: m.tier for name, m in load_methods().items()}
    assert {name: tier_of(name) for name in origin} == origin
    assert set(METHOD_TIERS) <= set(origin), "a tier for a method the origin does not have"
    assert (origin["rtm.start"], origin["users.list"], origin["auth.test"]) == (1, 2, 4)
    assert origin["conversations.history"] == tier_of("users.search") == DEFAULT_TIER


async def test_local_methods_are_limited_per_token_by_their_tier() -> None:
    async with serve(rate_limits={2: 3}) as env, env.http() as http:
        answers = await asyncio.gather(*(http.post("/api/users.list", headers=BOB) for _ in range(5)))
        statuses = sorted(a.status_code for a in answers)
        assert statuses == [200, 200, 200, 429, 429]
        limited = next(a for a in answers if a.status_code == 429)
        assert limited.json()["error"] == "ratelimited" and int(limited.headers["retry-after"]) >= 1
        # Another token has its own bucket; another tier is not touched.
        assert (await http.post("/api/users.list", headers=ALICE)).status_code == 200
        assert (await http.post("/api/users.info", data={"user": "U1"}, headers=BOB)).status_code == 200


async def test_forwarded_methods_are_limited_before_the_origin_is_asked() -> None:
    async with serve(rate_limits={2: 2}) as env, env.http() as http:
        for _ in range(2):
            assert (
                await http.post("/api/conversations.create", data={"name": "x"}, headers=BOB)
            ).status_code == 200
        refused = await http.post("/api/conversations.create", data={"name": "x"}, headers=BOB)
        assert refused.status_code == 429 and refused.headers["retry-after"]
        assert [c.method for c in env.origin.forwarded()].count("conversations.create") == 2


async def test_websocket_queries_get_a_ratelimited_reply() -> None:
    async with serve(rate_limits={2: 1}) as env, env.ws(env.url()) as bob:
        await bob.next_of("hello")
        await bob.send({"id": 1, "type": "query", "method": "users.list", "args": {}})
        await bob.send({"id": 2, "type": "query", "method": "users.list", "args": {}})
        replies = {}
        while len(replies) < 2:
            frame = await bob.recv()
            if "reply_to" in frame:
                replies[frame["reply_to"]] = frame
    assert replies[1]["ok"] is True
    assert replies[2]["ok"] is False and replies[2]["error"]["code"] == "ratelimited"
    assert replies[2]["retry_after"] >= 1
