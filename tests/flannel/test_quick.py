"""Which calls the edge answers without an await (flannel.quick.QuickApi, the HTTP protocol's
quick path), with what, and that a call it leaves to the ASGI path has changed nothing: no
token or workspace hit counted, no rate-limit spent, no call tallied."""

from __future__ import annotations

from typing import Any

import orjson

from flannel.app import EdgeApp
from flannel.edge import caller_keys
from flannel.quick import QuickApi, api_name
from tests.flannel.harness import InProcess, serve
from wire.ratelimit import DEFAULT_TIERS

BOB = [(b"authorization", b"Bearer xoxp-bob")]


def quick_of(env: InProcess) -> QuickApi:
    app = env.app.app
    assert isinstance(app, EdgeApp)
    quick = app.quick_answers()
    assert quick is not None
    return quick


def counts(env: InProcess) -> tuple[Any, ...]:
    edge = env.edge
    app = env.app.app
    assert isinstance(app, EdgeApp) and app.web_api is not None
    tally = app.web_api.metrics.calls.counts
    return edge.auth.hits, edge.cache.stats.hits, dict(edge.limits._buckets), dict(tally)


async def test_a_cached_caller_of_a_caught_up_workspace_is_answered_as_over_asgi() -> None:
    async with serve() as env, env.http() as client:
        quick = quick_of(env)
        before = counts(env)
        assert quick.answer("GET", "/api/users.info", b"user=U1", BOB, b"") is None  # not checked yet
        assert counts(env) == before
        over_asgi = await client.get("/api/users.info?user=U1", headers={"authorization": "Bearer xoxp-bob"})
        hits = env.edge.auth.hits
        reply = quick.answer("GET", "/api/users.info", b"user=U1", BOB, b"")
        assert reply is not None
        status, headers, body = reply
        assert (status, body) == (200, over_asgi.content)
        assert headers == [(b"content-length", b"%d" % len(body)), (b"content-type", b"application/json")]
        assert env.edge.auth.hits == hits + 1  # counted once, as dispatch counts it
        urlencoded = [*BOB, (b"content-type", b"application/x-www-form-urlencoded")]
        form = quick.answer("POST", "/api/users.search", b"limit=1", urlencoded, b"query=ca")
        assert form is not None and orjson.loads(form[2])["ok"] is True
        failed = quick.answer("GET", "/api/users.info", b"user=U9", BOB, b"")
        assert failed is not None and orjson.loads(failed[2])["error"] == "user_not_found"


async def test_what_needs_an_await_is_left_alone_and_counts_nothing() -> None:
    async with serve() as env, env.http() as client:
        quick = quick_of(env)
        await client.get("/api/users.info?user=U1", headers={"authorization": "Bearer xoxp-bob"})
        caller = env.edge.known_caller("xoxp-bob")
        assert caller is not None
        before = counts(env)
        json = [*BOB, (b"content-type", b"application/json")]
        for method, path, query, headers, body in [
            ("GET", "/api/auth.test", b"", BOB, b""),  # may wait for a brand-new user
            ("GET", "/api/chat.postMessage", b"", BOB, b""),  # the origin's
            ("GET", "/api/rtm.connect", b"", BOB, b""),
            ("POST", "/api/files.upload", b"", BOB, b""),
            ("HEAD", "/api/users.info", b"user=U1", BOB, b""),
            ("GET", "/healthz", b"", BOB, b""),
            ("GET", "/api/users.info", b"user=U1", [(b"authorization", b"Bearer xoxp-nobody")], b""),
            ("GET", "/api/users.info", b"user=U1", [], b""),  # no token: not_authed is dispatch's
            ("GET", "/api/users.info", b"user=U1", [*BOB, (b"x-flannel-after", b"99999")], b""),
            ("POST", "/api/users.info", b"", json, b"{"),  # invalid_json: dispatch's
        ]:
            assert quick.answer(method, path, query, headers, body) is None, path
        env.edge.writes.note(caller_keys(caller)[0], 99999)  # bob's own write, not applied yet
        assert quick.answer("GET", "/api/users.info", b"user=U1", BOB, b"") is None
        assert counts(env) == before


async def test_a_spent_tier_is_answered_429_with_retry_after() -> None:
    async with serve(rate_limits={**DEFAULT_TIERS, 2: 2}) as env, env.http() as client:
        quick = quick_of(env)
        await client.get("/api/users.list", headers={"authorization": "Bearer xoxp-bob"})
        assert quick.answer("GET", "/api/users.list", b"", BOB, b"") is not None
        limited = quick.answer("GET", "/api/users.list", b"", BOB, b"")
        assert limited is not None
        status, headers, body = limited
        assert status == 429 and (b"retry-after", b"30") in headers
        assert orjson.loads(body)["error"] == "ratelimited"


def test_the_method_named_by_a_path() -> None:
    assert api_name("/api/users.info") == "users.info"
    for path in ("/api/", "/api/users.info/", "/apix/users.info", "/api/files.upload", "/healthz"):
        assert api_name(path) is None, path
