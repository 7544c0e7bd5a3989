"""The Web API over HTTP: Slack's answers become the right exceptions; 429 waits Retry-After."""

from __future__ import annotations

import httpx
import pytest

from client_sdk import ApiError, AuthError, ConnectionLost, RateLimited
from client_sdk.http import WebApi, api_base


def test_api_base_accepts_what_people_paste() -> None:
    for url in (
        "http://r:1",
        "http://r:1/",
        "http://r:1/api",
        "http://r:1/api/",
        "http://r:1/api/rtm.connect",
    ):
        assert api_base(url) == "http://r:1/api/"


async def test_answers_become_errors_with_slack_codes() -> None:
    answers = {
        "a": httpx.Response(200, json={"ok": False, "error": "channel_not_found"}),
        "b": httpx.Response(200, json={"ok": False, "error": "invalid_auth"}),
        "c": httpx.Response(502, text="<html>bad gateway</html>"),
        "d": httpx.Response(200, json={"ok": True, "x": 1}),
    }
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return answers[request.url.path.rsplit("/", 1)[-1]]

    web = WebApi("xoxp-1", transport=httpx.MockTransport(handler))
    with pytest.raises(ApiError) as not_found:
        await web.call("http://e/api/", "a")
    assert not_found.value.code == "channel_not_found" and not isinstance(not_found.value, AuthError)
    with pytest.raises(AuthError):
        await web.call("http://e/api/", "b")
    with pytest.raises(ApiError) as down:
        await web.call("http://e/api/", "c")
    assert (down.value.code, down.value.status) == ("service_unavailable", 502)
    assert (await web.call("http://e/api/", "d", {"k": "v"}))["x"] == 1
    assert seen[-1].headers["authorization"] == "Bearer xoxp-1" and seen[-1].content == b'{"k":"v"}'
    await web.aclose()


async def test_429_waits_retry_after_then_gives_up_with_rate_limited() -> None:
    sleeps: list[float] = []
    count = 0

    async def sleep(seconds: float) -> None:
        sleeps.append(seconds)

    def handler(request: httpx.Request) -> httpx.Response:
        nonlocal count
        count += 1
        return httpx.Response(429, headers={"Retry-After": "2"}, json={"ok": False, "error": "ratelimited"})

    web = WebApi("t", transport=httpx.MockTransport(handler), retries=2, sleep=sleep)
    with pytest.raises(RateLimited) as limited:
        await web.call("http://e/api/", "chat.postMessage")
    assert limited.value.retry_after == 2.0 and sleeps == [2.0, 2.0] and count == 3
    await web.aclose()


async def test_unreachable_is_connection_lost_and_discovery_parses() -> None:
    def down(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    web = WebApi("t", transport=httpx.MockTransport(down))
    with pytest.raises(ConnectionLost):
        await web.call("http://e/api/", "users.info")
    await web.aclose()

    asked: list[bytes] = []

    def router(request: httpx.Request) -> httpx.Response:
        asked.append(request.content)
        return httpx.Response(
            200,
            json={
                "ok": True,
                "url": "ws://edge/rtm?ticket=t",
                "api_url": "http://edge/api",
                "self": {"id": "U1", "name": "a"},
                "team": {"id": "T1"},
                "edge": {"id": "edge-eu-1", "region": "eu"},
                "failover": True,
            },
        )

    web = WebApi("t", transport=httpx.MockTransport(router))
    found = await web.rtm_connect("http://router", "eu", 7)
    assert (found.url, found.api_url, found.self_user["id"]) == (
        "ws://edge/rtm?ticket=t",
        "http://edge/api/",
        "U1",
    )
    assert (found.edge_id, found.failover) == ("edge-eu-1", True)
    await web.rtm_connect("http://router", None, None, failed_edge="edge-eu-0")
    assert asked == [b'{"region":"eu","resume_from":7}', b'{"failed_edge":"edge-eu-0"}']
    await web.aclose()
