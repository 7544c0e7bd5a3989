"""The edge's Web API served without Starlette (issue 14): the user methods answered as bytes
joined from each user's JSON kept, identical to encoding the method's result, fresh after a
``user_change``; the direct ASGI path and the Starlette route answering alike; which requests
take which way; the call tally exposed as prometheus_client's counter and histogram would be."""

from __future__ import annotations

from typing import Any

import orjson
import pytest
from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from starlette.middleware import Middleware
from starlette.types import ASGIApp, Receive, Scope, Send

from flannel.app import EdgeApp, api_method
from flannel.cache import Workspace
from flannel.edge import Edge
from flannel.methods import BODIES, LOCAL, Who, answer, answer_body
from flannel.metrics import CallTally, EdgeMetrics
from flannel.webapi import WebApi
from tests.flannel.cache import base_state, event, pages_of, user
from tests.flannel.harness import FakeOrigin, serve
from wire import http
from wire.args import Args
from wire.errors import SlackError

ALICE = Who("T1", "U1")
BOB = {"Authorization": "Bearer xoxp-bob"}

CALLS: list[tuple[str, dict[str, Any]]] = [
    ("users.info", {"user": "U2"}),
    ("users.info", {"users": "U3,U1,U3"}),
    ("users.info", {"users": "U4"}),  # deactivated: still answered
    ("users.search", {"query": "smi"}),
    ("users.search", {"query": "ca", "limit": "1"}),
    ("users.search", {"query": "zzz"}),
    ("users.list", {}),
    ("users.list", {"limit": "2"}),
    ("users.list", {"limit": "2", "channel": "C2"}),
    ("client.counts", {}),
]


@pytest.fixture
def ws() -> Workspace:
    return Workspace.from_pages(pages_of(base_state()))


@pytest.mark.parametrize(("method", "args"), CALLS)
def test_bodies_are_the_encoded_results(ws: Workspace, method: str, args: dict[str, Any]) -> None:
    expected = http.ok_body(answer(LOCAL[method], ws, ALICE, Args(args)))
    assert answer_body(BODIES[method], ws, ALICE, Args(args)) == expected
    assert answer_body(BODIES[method], ws, ALICE, Args(args)) == expected  # from the kept bytes


@pytest.mark.parametrize(
    ("method", "args"),
    [
        ("users.info", {"user": "U9"}),
        ("users.info", {"users": "U1,U8"}),
        ("users.search", {"query": "a", "limit": "0"}),
        ("users.list", {"limit": "x"}),
    ],
)
def test_bodies_fail_as_the_methods_do(ws: Workspace, method: str, args: dict[str, Any]) -> None:
    with pytest.raises(SlackError) as expected:
        answer(LOCAL[method], ws, ALICE, Args(args))
    with pytest.raises(SlackError) as got:
        answer_body(BODIES[method], ws, ALICE, Args(args))
    assert (got.value.code, got.value.detail) == (expected.value.code, expected.value.detail)


def test_a_user_change_is_answered_at_once(ws: Workspace) -> None:
    before = answer_body(BODIES["users.info"], ws, ALICE, Args({"user": "U2"}))
    renamed = user("U2", "bobby", "Bob Jones")
    assert ws.apply(event(ws.offset + 1, "user_change", user=renamed))
    after = answer_body(BODIES["users.info"], ws, ALICE, Args({"user": "U2"}))
    assert orjson.loads(before)["user"]["name"] == "bob"
    assert orjson.loads(after)["user"]["name"] == "bobby"
    assert after == http.ok_body(answer(LOCAL["users.info"], ws, ALICE, Args({"user": "U2"})))


def test_kept_user_json_is_the_workspaces_own(ws: Workspace) -> None:
    """Each user's JSON is kept by the workspace (one get by id), dropped when the workspace
    replaces that user's object, and counted in its memory estimate."""
    before = ws.estimate_bytes()
    found, missing = ws.users_json(["U2", "U9", "U1", "U2"])
    bob, alice = orjson.dumps(ws.user("U2")), orjson.dumps(ws.user("U1"))
    assert (found, missing) == ([bob, alice, bob], ["U9"])  # in order, as asked
    assert ws.estimate_bytes() > before + sum(map(len, found[:2]))
    kept = ws.users_json(["U2"])[0][0]
    assert ws.users_json(["U2"])[0][0] is kept  # encoded once
    assert ws.apply(event(ws.offset + 1, "user_change", user=user("U2", "bobby", "Bob Jones")))
    renamed = ws.users_json(["U2"])[0][0]
    assert renamed is not kept and orjson.loads(renamed)["name"] == "bobby"
    assert ws.apply(event(ws.offset + 1, "team_join", user=user("U7", "gus", "Gus Grey")))
    assert ws.users_json(["U7"]) == ([orjson.dumps(ws.user("U7"))], [])


def scope(method: str, path: str) -> Scope:
    return {"type": "http", "method": method, "path": path, "root_path": ""}


def test_which_requests_are_served_directly() -> None:
    assert api_method(scope("GET", "/api/users.info")) == "users.info"
    assert api_method(scope("POST", "/api/chat.postMessage")) == "chat.postMessage"
    assert api_method({**scope("GET", "/edge/api/users.info"), "root_path": "/edge"}) == "users.info"
    for method, path in [
        ("POST", "/api/files.upload"),  # may stream a multipart body: the Starlette route
        ("HEAD", "/api/users.info"),
        ("PUT", "/api/users.info"),
        ("GET", "/api/"),
        ("GET", "/api/users.info/"),
        ("GET", "/apix/users.info"),
        ("GET", "/healthz"),
    ]:
        assert api_method(scope(method, path)) is None, (method, path)


class Passthrough:
    """A middleware that changes nothing: with it, every request takes Starlette's routes."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self.app(scope, receive, send)


REQUESTS: list[tuple[str, str, dict[str, Any]]] = [
    ("GET", "/api/users.info?users=U1,U2", {}),
    ("POST", "/api/users.search", {"data": {"query": "smi"}}),
    ("POST", "/api/users.info", {"json": {"user": "U9"}}),
    ("POST", "/api/users.info", {"content": b"{", "headers": {"content-type": "application/json"}}),
    ("POST", "/api/conversations.list", {"data": {"types": "public_channel,private_channel"}}),
    ("POST", "/api/chat.postMessage", {"json": {"channel": "C1", "text": "hi"}}),
    ("GET", "/api/users.info?user=U2", {"headers": {"Authorization": "Bearer xoxp-nobody"}}),
]


PASSED = ("content-type", "content-length", "x-flannel-offset")


class CountingApi(WebApi):
    """The direct path, counting the calls it serves."""

    __slots__ = ("served",)

    def __init__(self, edge: Edge, metrics: EdgeMetrics) -> None:
        super().__init__(edge, metrics)
        self.served = 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send, name: str) -> None:
        self.served += 1
        await super().__call__(scope, receive, send, name)


async def answers(middleware: bool) -> list[tuple[int, bytes, dict[str, str]]]:
    origin = FakeOrigin(
        answers={"chat.postMessage": (200, {"ok": True, "ts": "1.2"}, {"x-flannel-offset": "11"})}
    )
    out = []
    async with serve(origin) as env, env.http() as client:
        app = env.app.app
        assert isinstance(app, EdgeApp) and app.web_api is not None
        counting = app.web_api = CountingApi(app.web_api.edge, app.web_api.metrics)
        if middleware:
            app.user_middleware.insert(0, Middleware(Passthrough))
            app.middleware_stack = None  # rebuilt with it on the next call
        for method, url, kwargs in REQUESTS:
            rest = dict(kwargs)
            headers = {**BOB, **rest.pop("headers", {})}
            got = await client.request(method, url, headers=headers, **rest)
            kept = {k: v for k, v in got.headers.items() if k in PASSED}
            out.append((got.status_code, got.content, kept))
        metrics = (await client.get("/metrics")).text
        assert counting.served == (0 if middleware else len(REQUESTS))
    calls = [line for line in metrics.splitlines() if line.startswith("flannel_edge_requests_total")]
    out.append((0, "\n".join(sorted(calls)).encode(), {}))
    return out


async def test_the_direct_path_answers_as_the_starlette_route() -> None:
    direct, routed = await answers(middleware=False), await answers(middleware=True)
    assert direct == routed
    statuses = [status for status, _, _ in direct[:-1]]
    assert statuses == [200] * len(REQUESTS)
    assert direct[5][2]["x-flannel-offset"] == "11"  # a write's offset is passed on
    assert b'error="invalid_json",method="users.info"' in direct[-1][1]


def test_the_tally_is_exposed_as_prometheus_client_would() -> None:
    buckets = (0.001, 0.01, 0.1)
    ours, theirs = CollectorRegistry(), CollectorRegistry()
    tally = CallTally(buckets)
    ours.register(tally)
    counter = Counter(
        "flannel_edge_requests",
        "Web API calls by method and error code",
        ["method", "error"],
        registry=theirs,
    )
    histogram = Histogram(
        "flannel_edge_request_seconds", "Web API call latency", ["method"], buckets=buckets, registry=theirs
    )
    tally.declare("users.list")
    counter.labels("users.list", "")
    histogram.labels("users.list")
    for method, error, seconds in [("a", "", 0.0005), ("a", "", 0.001), ("a", "x", 0.05), ("b", "", 7.0)]:
        tally.observe(method, error, seconds)
        counter.labels(method, error).inc()
        histogram.labels(method).observe(seconds)

    def samples(registry: CollectorRegistry) -> list[str]:
        return sorted(
            line for line in generate_latest(registry).decode().splitlines() if "_created" not in line
        )

    assert samples(ours) == samples(theirs)
