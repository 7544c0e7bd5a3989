"""The edge's app in-process: Slack's HTTP conventions, local answers, forwarding, rtm.connect,
health, stats, metrics and the lifespan (over a fake origin, no processes)."""

from __future__ import annotations

import time
from urllib.parse import parse_qs, urlsplit

from changelog import MemoryLog
from flannel.app import create_app
from flannel.registry import EdgeRegistration, MemoryRegistryStore
from tests.flannel.cache import event
from tests.flannel.harness import EDGE_ID, SECRET, FakeOrigin, Lifespan, edge_over, serve, settings
from wire.http import SERVICE_HEADER
from wire.tickets import check
from wire.tokens import token_hash

BOB = {"Authorization": "Bearer xoxp-bob"}


async def test_reads_are_answered_from_memory_after_one_snapshot() -> None:
    async with serve() as env, env.http() as http:
        one = (await http.post("/api/users.info", data={"user": "U1"}, headers=BOB)).json()
        many = (await http.get("/api/users.info", params={"users": "U1,U3", "token": "xoxp-bob"})).json()
        found = (await http.post("/api/users.search", json={"query": "car"}, headers=BOB)).json()
    assert one["ok"] and one["user"]["name"] == "alice"
    assert [u["name"] for u in many["users"]] == ["alice", "carol"]
    assert [u["id"] for u in found["users"]] == ["U3"]
    assert env.origin.snapshots == 1
    assert env.origin.forwarded() == []  # nothing but token checks reached the origin


async def test_slack_errors_are_http_200_with_the_code() -> None:
    async with serve() as env, env.http() as http:
        missing = await http.post("/api/users.info", data={"user": "U9"}, headers=BOB)
        hidden = await http.post(
            "/api/conversations.info", data={"channel": "G1"}, headers={"Authorization": "Bearer xoxp-carol"}
        )
        no_token = await http.post("/api/users.info", data={"user": "U1"})
        bad_token = await http.post(
            "/api/users.info", data={"user": "U1"}, headers={"Authorization": "Bearer nope"}
        )
        bad_json = await http.post(
            "/api/users.info", content=b"{", headers={**BOB, "content-type": "application/json"}
        )
        too_big = await http.post("/api/users.info", data={"user": "x" * 1_100_000}, headers=BOB)
    assert all(r.status_code == 200 for r in (missing, hidden, no_token, bad_token, bad_json, too_big))
    assert missing.json() == {"ok": False, "error": "user_not_found"}
    assert hidden.json()["error"] == "channel_not_found"  # a private channel carol is not in
    assert no_token.json() == {"ok": False, "error": "not_authed"}
    assert bad_token.json() == {"ok": False, "error": "invalid_auth"}
    assert bad_json.json()["error"] == "invalid_json"
    assert too_big.json()["error"] == "request_too_large"


async def test_other_methods_are_forwarded_and_answered_verbatim() -> None:
    origin = FakeOrigin()
    origin.answers["chat.postMessage"] = (429, {"ok": False, "error": "ratelimited"}, {"Retry-After": "3"})
    async with serve(origin) as env, env.http() as http:
        history = await http.post("/api/conversations.history", data={"channel": "C1"}, headers=BOB)
        limited = await http.post("/api/chat.postMessage", json={"channel": "C1", "text": "hi"}, headers=BOB)
    assert history.json() == {"ok": True, "method": "conversations.history", "args": {"channel": "C1"}}
    assert limited.status_code == 429 and limited.headers["retry-after"] == "3"
    assert limited.json()["error"] == "ratelimited"
    forwarded = origin.forwarded()
    assert [c.method for c in forwarded] == ["conversations.history", "chat.postMessage"]
    assert forwarded[0].headers["authorization"] == "Bearer xoxp-bob"  # as the client called


async def test_an_unreachable_origin_is_a_502_slack_error() -> None:
    async with serve() as env, env.http() as http:
        env.origin.down = True
        answer = await http.post("/api/conversations.history", data={"channel": "C1"}, headers=BOB)
    assert answer.status_code == 502 and answer.json()["error"] == "origin_unreachable"


async def test_rtm_connect_signs_a_ticket_for_this_edge() -> None:
    async with serve() as env, env.http() as http:
        answer = (await http.post("/api/rtm.connect", data={"resume_from": "12"}, headers=BOB)).json()
        bad = (await http.post("/api/rtm.connect", data={"resume_from": "-1"}, headers=BOB)).json()
        dave = (await http.post("/api/rtm.connect", headers={"Authorization": "Bearer xoxp-dave"})).json()
    assert answer["ok"] and answer["self"] == {"id": "U2", "name": "bob"}
    assert answer["team"]["id"] == "T1" and answer["api_url"].endswith("/api/")
    url = urlsplit(answer["url"])
    assert url.path == "/rtm"
    ticket = check(SECRET, parse_qs(url.query)["ticket"][0], EDGE_ID, time.time())
    assert (ticket.user, ticket.team, ticket.resume_from) == ("U2", "T1", 12)
    assert ticket.token_hash == token_hash("xoxp-bob")
    assert bad["error"] == "invalid_arguments"
    assert dave == {"ok": False, "error": "account_inactive"}


async def test_a_brand_new_user_is_waited_for_not_refused() -> None:
    async with serve() as env, env.http() as http:
        await http.post("/api/auth.test", headers=BOB)  # the workspace is loaded, at offset 10
        env.origin.tokens["xoxp-newbie"] = "U9"
        newbie = {"id": "U9", "name": "newbie", "deleted": False, "profile": {}}
        pending = http.post("/api/auth.test", headers={"Authorization": "Bearer xoxp-newbie"})
        await env.append(event(11, "team_join", user=newbie))  # its team_join arrives meanwhile
        answer = (await pending).json()
    assert answer["ok"] and answer["user"] == "newbie"


async def test_health_readiness_stats_and_metrics() -> None:
    async with serve() as env, env.http() as http:
        assert (await http.get("/healthz")).json() == {"ok": True}
        assert (await http.get("/readyz")).status_code == 200
        await http.post("/api/users.info", data={"user": "U1"}, headers=BOB)
        await http.post("/api/users.info", data={"user": "U9"}, headers=BOB)
        stats = (await http.get("/internal/stats", headers={SERVICE_HEADER: SECRET})).json()
        metrics = (await http.get("/metrics")).text
        env.origin.down = True
        down = await http.get("/readyz")
        env.origin.down = False
        env.edge.draining = True
        draining = await http.get("/readyz")
        refused = (await http.post("/api/rtm.connect", headers=BOB)).json()
    assert stats["edge_id"] == EDGE_ID and stats["workspaces"] == 1 and stats["origin_snapshot_loads"] == 1
    assert 'flannel_edge_requests_total{error="",method="users.info"} 1.0' in metrics
    assert 'flannel_edge_requests_total{error="user_not_found",method="users.info"} 1.0' in metrics
    assert down.status_code == 503 and down.json()["error"] == "not_ready"
    assert draining.status_code == 503 and draining.json()["error"] == "draining"
    assert refused["error"] == "service_unavailable"


async def test_the_lifespan_registers_then_leaves_drains_and_closes_the_parts() -> None:
    origin = FakeOrigin()
    edge = edge_over(origin.transport(), MemoryLog())
    store = MemoryRegistryStore()
    registration = EdgeRegistration(settings(), lambda: edge.connections, lambda: edge.draining, store)
    closed: list[str] = []

    async def close_origin() -> None:
        closed.append("origin")
        await edge.origin.close()

    async def failing() -> None:
        closed.append("failing")
        raise RuntimeError("a part that fails to close")

    async def last() -> None:
        closed.append("last")

    app = create_app(edge, registration, [close_origin, failing, last])
    async with Lifespan(app) as served:
        assert [r["id"] for r in store.records()] == [EDGE_ID]
        assert served.state["edge"] is edge
        async with served.http() as http:
            assert (await http.get("/healthz")).status_code == 200
    assert store.records() == [] and edge.draining
    assert closed == ["origin", "failing", "last"]  # one failure does not keep the rest open
    try:
        await edge.cache.get("T1")
    except RuntimeError:
        pass
    else:
        raise AssertionError("the cache must be closed")


async def test_forwarded_error_bodies_name_their_error_in_metrics() -> None:
    origin = FakeOrigin()
    origin.answers["chat.postMessage"] = (200, {"ok": False, "error": "channel_not_found"}, {})
    async with serve(origin) as env, env.http() as http:
        await http.post("/api/chat.postMessage", json={"channel": "C9", "text": "x"}, headers=BOB)
        metrics = (await http.get("/metrics")).text
    assert 'error="channel_not_found",method="chat.postMessage"' in metrics
