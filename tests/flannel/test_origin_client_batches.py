"""The edge's two batch calls to the origin (token checks, manual away) share one POST: what
each makes of a good answer, an origin without the endpoint, and a malformed answer."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import orjson
import pytest

from flannel.origin_client import NoBatchCheck, OriginClient, OriginError
from wire.http import SERVICE_HEADER
from wire.presence import MANUAL_AWAY_PATH
from wire.tokencheck import TOKEN_CHECK_PATH


def client(answer: Callable[[httpx.Request], httpx.Response], seen: list[httpx.Request]) -> OriginClient:
    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return answer(request)

    return OriginClient("http://origin", "s3cret", transport=httpx.MockTransport(handler))


def json_answer(body: Any, status: int = 200) -> Callable[[httpx.Request], httpx.Response]:
    return lambda _request: httpx.Response(status, content=orjson.dumps(body))


async def test_token_check_posts_every_token_once_with_the_secret() -> None:
    seen: list[httpx.Request] = []
    results = [{"ok": True, "user_id": "U1"}, {"ok": False, "error": "invalid_auth"}]
    origin = client(json_answer({"ok": True, "results": results}), seen)
    assert await origin.check_tokens(["xoxp-1", "xoxp-2"]) == results
    (request,) = seen
    assert request.url.path == TOKEN_CHECK_PATH
    assert request.headers[SERVICE_HEADER] == "s3cret"
    assert orjson.loads(request.content) == {"tokens": ["xoxp-1", "xoxp-2"]}
    await origin.close()


async def test_manual_away_posts_the_pairs_and_reads_one_flag_each() -> None:
    seen: list[httpx.Request] = []
    origin = client(json_answer({"ok": True, "away": [True, False]}), seen)
    assert await origin.manual_away([("T1", "U1"), ("T1", "U2")]) == [True, False]
    assert seen[0].url.path == MANUAL_AWAY_PATH
    assert orjson.loads(seen[0].content) == {"users": [["T1", "U1"], ["T1", "U2"]]}
    await origin.close()


@pytest.mark.parametrize(
    "call",
    [
        lambda origin: origin.check_tokens(["xoxp-1"]),
        lambda origin: origin.manual_away([("T1", "U1")]),
    ],
)
async def test_an_origin_without_the_endpoint_says_so(call: Any) -> None:
    origin = client(json_answer({"ok": False, "error": "unknown_method"}, 404), [])
    with pytest.raises(NoBatchCheck):
        await call(origin)
    await origin.close()


@pytest.mark.parametrize(
    "answer",
    [
        lambda _r: httpx.Response(500, content=b"<html>oops</html>"),  # not JSON
        json_answer({"ok": True, "results": []}),  # wrong length
        json_answer({"ok": True, "away": ["yes"]}),  # wrong type
        json_answer({"ok": False, "error": "not_authed"}, 403),
    ],
)
@pytest.mark.parametrize("method", ["check_tokens", "manual_away"])
async def test_a_malformed_answer_is_an_origin_error(answer: Any, method: str) -> None:
    origin = client(answer, [])
    with pytest.raises(OriginError) as caught:
        if method == "check_tokens":
            await origin.check_tokens(["xoxp-1"])
        else:
            await origin.manual_away([("T1", "U1")])
    assert caught.value.code == "origin_error"
    await origin.close()


async def test_an_unreachable_origin_is_an_origin_error() -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    origin = client(refuse, [])
    with pytest.raises(OriginError) as caught:
        await origin.check_tokens(["xoxp-1"])
    assert caught.value.code == "origin_unreachable"
    await origin.close()
