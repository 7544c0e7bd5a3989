"""The router's HTTP API in-process: an in-process registry and a stand-in origin."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import orjson
import pytest

from router.app import create_app
from router.registry import MemoryRegistry
from router.settings import RouterSettings, parse_region_preference
from wire.http import MAX_BODY, SERVICE_HEADER
from wire.tickets import check
from wire.tokencheck import TOKEN_CHECK_PATH

SECRET = "router-test-secret"
ALICE = "xoxp-T1-U1-alice"
BOB = "xoxp-T1-U2-bob"
DAVE = "xoxp-T2-U9-dave"
REVOKED = "xoxp-T1-U3-revoked"
BOT = "xoxb-T1-U4-bot"


def origin_answer(token: str) -> dict[str, Any]:
    if token == REVOKED:
        return {"ok": False, "error": "token_revoked"}
    team, user = token.split("-")[1:3]
    known = {ALICE: "alice", BOB: "bob", DAVE: "dave", BOT: "helperbot"}
    if token not in known:
        return {"ok": False, "error": "invalid_auth"}
    bot = {"bot_id": "B4"} if token == BOT else {}
    return {
        "ok": True,
        **bot,
        "url": "https://acme.flannel.test/",
        "team": f"Team {team}",
        "user": known[token],
        "team_id": team,
        "user_id": user,
    }


def origin(request: httpx.Request) -> httpx.Response:
    if request.url.path == "/healthz":
        return httpx.Response(200, content=b'{"ok":true}')
    if request.url.path == TOKEN_CHECK_PATH:  # the batch check: auth.test for each token
        assert request.headers[SERVICE_HEADER] == SECRET
        tokens = orjson.loads(request.content)["tokens"]
        return httpx.Response(
            200, content=orjson.dumps({"ok": True, "results": [origin_answer(t) for t in tokens]})
        )
    token = request.headers["authorization"].removeprefix("Bearer ")
    return httpx.Response(200, content=orjson.dumps(origin_answer(token)))


class Env:
    def __init__(self, **overrides: Any) -> None:
        self.registry = MemoryRegistry()
        values: dict[str, Any] = {
            "secret": SECRET,
            "default_region": "us",
            "region_preference": parse_region_preference("us:eu;eu:us"),
            "connects_per_token": 6000,
            "connect_burst_per_token": 1000,
            "calls_per_address": 6000,
            "call_burst_per_address": 1000,
        }
        self.settings = RouterSettings(**{**values, **overrides})
        self.app = create_app(self.settings, self.registry, httpx.MockTransport(origin))
        self.http = httpx.AsyncClient(transport=httpx.ASGITransport(app=self.app), base_url="http://router")

    async def edge(
        self,
        edge_id: str,
        region: str = "us",
        connections: int = 0,
        capacity: int = 1000,
        draining: bool = False,
        started: float | None = None,
        updated: float | None = None,
    ) -> None:
        now = time.time()
        await self.registry.heartbeat(
            {
                "id": edge_id,
                "region": region,
                "ws_url": f"ws://{edge_id}/rtm",
                "http_url": f"http://{edge_id}",
                "connections": connections,
                "capacity": capacity,
                "draining": draining,
                "started": now - 60 if started is None else started,
                "updated": now if updated is None else updated,
                "heartbeat_s": 1.0,
            },
            ttl_s=30,
        )

    async def connect(self, token: str | None = ALICE, **args: Any) -> httpx.Response:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return await self.http.post("/api/rtm.connect", data=args, headers=headers)

    async def stats(self) -> dict[str, Any]:
        body: dict[str, Any] = (
            await self.http.get("/internal/stats", headers={SERVICE_HEADER: SECRET})
        ).json()
        return body


@pytest.fixture
async def env() -> AsyncIterator[Env]:
    e = Env()
    yield e
    await e.http.aclose()
    await e.app.state.router.close()


def edge_of(body: dict[str, Any]) -> str:
    return str(body["edge"]["id"])


async def test_connect_answers_like_slack_with_a_ticket_for_the_chosen_edge(env: Env) -> None:
    await env.edge("us-1")
    await env.edge("us-2")
    resp = await env.connect(ALICE, resume_from="42")
    body = resp.json()
    assert resp.status_code == 200 and body["ok"] is True
    assert body["self"] == {"id": "U1", "name": "alice"}
    assert body["team"] == {"id": "T1", "name": "Team T1", "domain": "acme"}
    edge = edge_of(body)
    assert body["api_url"] == f"http://{edge}/api/" and body["edge"]["region"] == "us"
    url = urlsplit(body["url"])
    assert f"{url.scheme}://{url.netloc}{url.path}" == f"ws://{edge}/rtm"
    ticket = check(SECRET, parse_qs(url.query)["ticket"][0], edge, time.time())
    assert (ticket.user, ticket.team, ticket.resume_from) == ("U1", "T1", 42)
    assert ticket.token_hash is not None and len(ticket.token_hash) == 64


async def test_a_workspace_sticks_to_its_edge_and_is_recorded_warm(env: Env) -> None:
    for i in range(4):
        await env.edge(f"us-{i}", connections=100)  # busy enough that one more is under the bound
    first = edge_of((await env.connect(ALICE)).json())
    assert edge_of((await env.connect(BOB)).json()) == first  # keyed by workspace, not user
    assert set(await env.registry.warm("T1")) == {first}
    stats = await env.stats()
    assert (stats["placements"], stats["warm_hits"], stats["failovers"]) == (2, 1, 0)


async def test_bounded_loads_spill_a_busy_workspace_over() -> None:
    env = Env(load_floor=0.0)
    await env.edge("us-1")
    await env.edge("us-2")
    seen = [edge_of((await env.connect(ALICE)).json()) for _ in range(20)]
    counts = sorted(seen.count(e) for e in set(seen))
    assert counts == [7, 13]  # ceil(1.25 * 20 / 2) = 13: the first edge stops at its bound
    assert (await env.stats())["spill_overs"] == 7
    await env.http.aclose()


async def test_idle_edges_keep_a_workspace_together_up_to_the_load_floor(env: Env) -> None:
    """Ten connects onto two idle edges used to land on both (bounds of 1 or 2 at tiny loads)."""
    await env.edge("us-1", capacity=10_000)
    await env.edge("us-2", capacity=10_000)
    seen = {edge_of((await env.connect(token)).json()) for token in [ALICE, BOB] * 5}
    assert len(seen) == 1 and (await env.stats())["spill_overs"] == 0
    # over the floor (2% of 100) the bound applies again: 3 > ceil(1.25 * 3 / 2) = 2
    await env.edge("eu-1", region="eu", capacity=100, connections=2)
    await env.edge("eu-2", region="eu", capacity=100)
    assert {edge_of((await env.connect(DAVE, region="eu")).json()) for _ in range(6)} == {"eu-1", "eu-2"}


async def test_draining_full_and_gone_edges_get_no_sessions(env: Env) -> None:
    await env.edge("us-draining", draining=True)
    await env.edge("us-full", connections=5, capacity=5)
    await env.edge("us-ok")
    assert {edge_of((await env.connect(t)).json()) for t in (ALICE, DAVE, BOB)} == {"us-ok"}
    await env.registry.remove("us-ok")
    resp = await env.connect(ALICE)
    assert resp.status_code == 503 and resp.json()["error"] == "no_edge_available"


async def test_a_region_without_edges_fails_over_along_the_preference(env: Env) -> None:
    await env.edge("eu-1", region="eu")
    body = (await env.connect(ALICE)).json()
    assert (edge_of(body), body["edge"]["region"]) == ("eu-1", "eu")
    await env.edge("us-1")
    assert edge_of((await env.connect(ALICE)).json()) == "us-1"  # back home once it can
    assert edge_of((await env.connect(ALICE, region="eu")).json()) == "eu-1"
    body = (await env.connect(ALICE, region="mars")).json()  # unknown: the default region's list
    assert edge_of(body) == "us-1"
    stats = await env.stats()
    assert stats["failovers"] == 2 and stats["placements"] == 4


async def test_a_router_with_defaults_places_on_edges_of_any_region() -> None:
    """The defect: default region ``local``, no preference, edges in ``us``: no_edge_available."""
    env = Env(default_region="local", region_preference={})
    await env.edge("us-1")
    await env.edge("eu-1", region="eu", connections=500)
    body = (await env.connect(ALICE)).json()
    assert body["ok"] and (edge_of(body), body["failover"]) == ("us-1", True)  # the least loaded
    body = (await env.connect(ALICE, region="eu")).json()
    assert (edge_of(body), body["failover"]) == ("eu-1", False)
    await env.registry.remove("us-1")
    await env.registry.remove("eu-1")
    resp = await env.connect(ALICE)
    assert resp.status_code == 503 and resp.json()["error"] == "no_edge_available"
    await env.http.aclose()


async def test_a_client_is_never_sent_back_to_the_edge_it_reports(env: Env) -> None:
    await env.edge("us-1")
    await env.edge("us-2")
    first = edge_of((await env.connect(ALICE)).json())
    other = ({"us-1", "us-2"} - {first}).pop()
    assert {edge_of((await env.connect(ALICE, failed_edge=first)).json()) for _ in range(3)} == {other}
    assert edge_of((await env.connect(BOB)).json()) == first  # one user's reports: still placed
    await env.registry.remove(other)
    resp = await env.connect(ALICE, failed_edge=first)  # the only edge left is the one it failed
    assert resp.status_code == 503 and resp.json()["error"] == "no_edge_available"
    assert (await env.connect(ALICE)).json()["ok"]
    assert (await env.stats())["failed_edge_reports"] == 4
    for bad in (["a", "b"], "x" * 300):
        refused = (await env.http.post("/api/rtm.connect", json={"token": ALICE, "failed_edge": bad})).json()
        assert refused["error"] == "invalid_arguments"


async def test_an_edge_several_clients_report_is_left_out_until_it_heartbeats(env: Env) -> None:
    await env.edge("us-1")
    await env.edge("us-2")
    dead = edge_of((await env.connect(ALICE)).json())
    await env.connect(ALICE, failed_edge=dead)
    await env.connect(BOB, failed_edge=dead)
    assert edge_of((await env.connect(ALICE)).json()) == dead  # two clients are not enough
    await env.connect(BOT, failed_edge=dead)
    assert {edge_of((await env.connect(t)).json()) for t in (ALICE, BOB, DAVE) * 3} == {"us-1", "us-2"} - {
        dead
    }
    assert [e["suspended"] for e in (await env.stats())["edges"] if e["id"] == dead] == [True]
    await env.edge(dead)  # a newer heartbeat: it is alive after all
    assert edge_of((await env.connect(ALICE)).json()) == dead


async def test_one_report_suffices_when_the_heartbeat_is_late(env: Env) -> None:
    await env.edge("us-1", updated=time.time() - 5)  # beats every 1 s: 5 s is late
    await env.edge("us-2", updated=time.time() - 5)
    dead = edge_of((await env.connect(ALICE)).json())
    assert edge_of((await env.connect(BOB)).json()) == dead  # late alone is not enough
    await env.connect(ALICE, failed_edge=dead)
    assert {edge_of((await env.connect(t)).json()) for t in (BOB, DAVE) * 3} == {"us-1", "us-2"} - {dead}
    await env.connect(ALICE, failed_edge="no-such-edge")  # unknown edges are ignored
    assert (await env.stats())["failed_edge_reports"] == 1


async def test_a_restarted_edge_is_not_counted_warm(env: Env) -> None:
    await env.edge("us-1")
    await env.connect(ALICE)
    await env.edge("us-1", started=time.time() + 1)
    await env.connect(ALICE)
    assert (await env.stats())["warm_hits"] == 0


@pytest.mark.parametrize(
    "token, args, status, error",
    [
        (None, {}, 200, "not_authed"),
        ("xoxp-T1-U1-wrong", {}, 200, "invalid_auth"),
        ("garbage", {}, 200, "invalid_auth"),
        (REVOKED, {}, 200, "token_revoked"),
        (ALICE, {"resume_from": "abc"}, 200, "invalid_arguments"),
        (ALICE, {"resume_from": "-1"}, 200, "invalid_arguments"),
        (ALICE, {"region": "no such/region"}, 200, "invalid_arguments"),
    ],
)
async def test_bad_input_gets_clear_slack_errors(
    env: Env, token: str | None, args: dict[str, str], status: int, error: str
) -> None:
    await env.edge("us-1")
    resp = await env.connect(token, **args)
    assert (resp.status_code, resp.json()["ok"], resp.json()["error"]) == (status, False, error)
    stats = await env.stats()
    assert (stats["rejections"], stats["rejected"], stats["placements"]) == (1, {error: 1}, 0)


async def test_other_request_shapes(env: Env) -> None:
    await env.edge("us-1")
    by_get = await env.http.get("/api/rtm.connect", params={"token": ALICE, "region": "us"})
    by_json = await env.http.post(
        "/api/rtm.connect", json={"resume_from": 3}, headers={"Authorization": f"Bearer {ALICE}"}
    )
    by_multipart = await env.http.post(
        "/api/rtm.connect", data={"token": ALICE, "resume_from": "5"}, files={"f": ("a.txt", b"x")}
    )
    assert by_get.json()["ok"] and by_json.json()["ok"] and by_multipart.json()["ok"]
    bad_json = await env.http.post(
        "/api/rtm.connect",
        content=b"[1]",
        headers={"content-type": "application/json", "Authorization": f"Bearer {ALICE}"},
    )
    assert (bad_json.status_code, bad_json.json()["error"]) == (200, "invalid_json")


async def test_errors_carry_their_detail_like_the_origins(env: Env) -> None:
    await env.edge("us-1")
    body = (await env.connect(ALICE, resume_from="abc")).json()
    assert body["error"] == "invalid_arguments" and "resume_from" in body["detail"]
    assert body["response_metadata"] == {"messages": [f"[ERROR] {body['detail']}"]}


async def test_a_body_over_the_shared_limit_is_request_too_large_with_http_200(env: Env) -> None:
    await env.edge("us-1")
    headers = {"Authorization": f"Bearer {ALICE}", "content-type": "application/json"}
    big = await env.http.post("/api/rtm.connect", content=b" " * (MAX_BODY + 1), headers=headers)
    assert (big.status_code, big.json()["error"]) == (200, "request_too_large")
    under = await env.http.post("/api/rtm.connect", content=b" " * (MAX_BODY - 10), headers=headers)
    assert under.json()["ok"] is True  # the limit is wire's, the same at origin and edges


async def test_auth_test_is_answered(env: Env) -> None:
    body = (await env.http.post("/api/auth.test", headers={"Authorization": f"Bearer {BOT}"})).json()
    assert body["ok"] and (body["user_id"], body["bot_id"], body["team_id"]) == ("U4", "B4", "T1")
    refused = (await env.http.post("/api/auth.test", data={"token": REVOKED})).json()
    assert refused == {"ok": False, "error": "token_revoked"}


async def test_connects_are_rate_limited_per_token() -> None:
    env = Env(connects_per_token=60, connect_burst_per_token=2)
    await env.edge("us-1")
    assert [(await env.connect(ALICE)).status_code for _ in range(2)] == [200, 200]
    limited = await env.connect(ALICE)
    assert limited.status_code == 429 and limited.headers["Retry-After"] == "1"
    assert limited.json()["ok"] is False and limited.json()["error"] == "ratelimited"
    assert limited.json()["detail"] == "retry after 1s"
    assert (await env.connect(BOB)).status_code == 200  # another token, same address
    assert (await env.stats())["rejected"] == {"ratelimited": 1}
    await env.http.aclose()


async def test_calls_are_rate_limited_per_address() -> None:
    env = Env(calls_per_address=6, call_burst_per_address=3)
    await env.edge("us-1")
    codes = [(await env.connect(t)).status_code for t in (ALICE, BOB, DAVE, "xoxp-T5-U5-new")]
    assert codes == [200, 200, 200, 429]
    limited = await env.http.post("/api/auth.test", headers={"Authorization": f"Bearer {ALICE}"})
    assert limited.status_code == 429 and limited.headers["Retry-After"] == "10"
    await env.http.aclose()


async def test_health_readiness_and_stats(env: Env) -> None:
    await env.edge("us-1", connections=3)
    assert (await env.http.get("/healthz")).json() == {"ok": True}
    assert (await env.http.get("/readyz")).json() == {"ok": True}
    stats = await env.stats()
    assert stats["edges"] == [
        {
            "id": "us-1",
            "region": "us",
            "connections": 3,
            "capacity": 1000,
            "draining": False,
            "suspended": False,
        }
    ]
    assert {"placements", "warm_hits", "spill_overs", "failovers", "rejections"} <= set(stats)
