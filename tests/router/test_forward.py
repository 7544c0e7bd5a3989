"""One base URL: the router forwards every other Web API call to the caller's edge, streams
its answer back unchanged, fails over when an edge cannot be reached, and answers rtm.start."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import orjson
import pytest

from router.app import create_app
from tests.router.test_router_app import ALICE, BOB, SECRET, Env, origin
from wire.http import AFTER_HEADER, OFFSET_HEADER
from wire.tickets import check


class Edges:
    """The edges (and the origin's rtm.start) behind the router, as one mock transport."""

    def __init__(self) -> None:
        self.calls: list[httpx.Request] = []
        self.down: set[str] = set()
        self.answers: dict[str, httpx.Response] = {}

    def handle(self, request: httpx.Request) -> httpx.Response:
        host = request.url.host
        if host in self.down:
            raise httpx.ConnectError("refused", request=request)
        self.calls.append(request)
        method = request.url.path.removeprefix("/api/")
        if method == "rtm.start":  # the origin's fat payload
            return httpx.Response(
                200,
                json={"ok": True, "self": {"id": "U1", "prefs": {}}, "users": [{"id": "U1"}], "channels": []},
            )
        if method in self.answers:
            return self.answers[method]
        return httpx.Response(200, json={"ok": True, "edge": host, "method": method})


@pytest.fixture
async def fwd() -> AsyncIterator[tuple[Env, Edges]]:
    env = Env()
    edges = Edges()
    env.app = create_app(
        env.settings, env.registry, httpx.MockTransport(origin), httpx.MockTransport(edges.handle)
    )
    env.http = httpx.AsyncClient(transport=httpx.ASGITransport(app=env.app), base_url="http://router")
    yield env, edges
    await env.http.aclose()
    await env.app.state.router.close()


def auth(token: str = ALICE) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def test_a_call_goes_to_the_edge_a_connect_would_choose_and_comes_back_unchanged(
    fwd: tuple[Env, Edges],
) -> None:
    env, edges = fwd
    for i in range(4):
        await env.edge(f"us-{i}")
    connected = (await env.connect(ALICE)).json()["edge"]["id"]
    got = await env.http.post("/api/users.list?limit=2", data={"cursor": "x"}, headers=auth())
    assert got.status_code == 200 and got.json() == {"ok": True, "edge": connected, "method": "users.list"}
    sent = edges.calls[-1]
    assert sent.url.path == "/api/users.list" and sent.url.query == b"limit=2"
    assert sent.content == b"cursor=x" and sent.headers["authorization"] == f"Bearer {ALICE}"
    stats = await env.stats()
    assert stats["placements"] == 1  # a forwarded call is not a connection


async def test_rate_limits_and_errors_of_the_edge_pass_through_as_they_are(fwd: tuple[Env, Edges]) -> None:
    env, edges = fwd
    await env.edge("us-1")
    edges.answers["users.list"] = httpx.Response(
        429, headers={"Retry-After": "7"}, json={"ok": False, "error": "ratelimited"}
    )
    edges.answers["nope.nope"] = httpx.Response(200, json={"ok": False, "error": "unknown_method"})
    limited = await env.http.get("/api/users.list", headers=auth())
    assert (limited.status_code, limited.headers["retry-after"], limited.json()["error"]) == (
        429,
        "7",
        "ratelimited",
    )
    unknown = await env.http.post("/api/nope.nope", headers=auth())
    assert (unknown.status_code, unknown.json()["error"]) == (200, "unknown_method")
    assert [c.url.path for c in edges.calls] == ["/api/users.list", "/api/nope.nope"]  # once each


async def test_an_unreachable_edge_is_reported_and_the_call_fails_over(fwd: tuple[Env, Edges]) -> None:
    env, edges = fwd
    await env.edge("us-1")
    await env.edge("us-2")
    first = (await env.http.post("/api/conversations.list", headers=auth())).json()["edge"]
    edges.down.add(first)
    moved = await env.http.post("/api/conversations.list", headers=auth())
    assert moved.status_code == 200 and moved.json()["edge"] not in (first, None)
    assert (await env.stats())["failed_edge_reports"] == 1
    edges.down.update({"us-1", "us-2"})
    gone = await env.http.post("/api/conversations.list", headers=auth())
    assert gone.status_code == 503 and gone.json()["error"] in ("service_unavailable", "no_edge_available")


async def test_a_refused_token_is_answered_by_the_router_without_an_edge(fwd: tuple[Env, Edges]) -> None:
    env, edges = fwd
    await env.edge("us-1")
    refused = await env.http.post("/api/users.list", headers=auth("xoxp-T1-U7-nobody"))
    assert (refused.status_code, refused.json()["error"]) == (200, "invalid_auth") and not edges.calls


async def test_a_write_offset_is_sent_with_the_callers_next_calls(fwd: tuple[Env, Edges]) -> None:
    env, edges = fwd
    await env.edge("us-1")
    edges.answers["conversations.create"] = httpx.Response(
        200, headers={OFFSET_HEADER: "42"}, json={"ok": True, "channel": {"id": "C9"}}
    )
    created = await env.http.post("/api/conversations.create", data={"name": "x"}, headers=auth())
    assert created.headers[OFFSET_HEADER] == "42"
    await env.http.post("/api/conversations.info", data={"channel": "C9"}, headers=auth())
    await env.http.post("/api/conversations.info", data={"channel": "C9"}, headers=auth(BOB))
    assert edges.calls[-2].headers[AFTER_HEADER] == "42"
    assert AFTER_HEADER not in edges.calls[-1].headers  # bob wrote nothing


async def test_rtm_start_carries_a_working_url_and_the_origins_fat_payload(fwd: tuple[Env, Edges]) -> None:
    env, edges = fwd
    await env.edge("us-1")
    body: dict[str, Any] = (await env.http.post("/api/rtm.start", headers=auth())).json()
    assert body["ok"] is True and body["users"] == [{"id": "U1"}]
    assert body["self"] == {"id": "U1", "name": "alice", "prefs": {}} and body["team"]["id"] == "T1"
    url = urlsplit(body["url"])
    assert (url.scheme, url.netloc, url.path) == ("ws", "us-1", "/rtm")
    ticket = check(SECRET, parse_qs(url.query)["ticket"][0], "us-1", time.time())
    assert (ticket.user, ticket.team) == ("U1", "T1")
    assert body["api_url"] == "http://us-1/api/"
    assert orjson.loads(edges.calls[-1].content) == {}
