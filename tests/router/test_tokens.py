"""Token checks against a stand-in origin: cached, refusals cached briefly, revocation honoured."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import orjson
import pytest

from router.tokens import TokenChecker, domain_of, well_formed
from wire.errors import SlackError
from wire.http import SERVICE_HEADER
from wire.tokencheck import TOKEN_CHECK_PATH

GOOD = "xoxp-T1-U1-secret"
BOT = "xoxb-T1-U2-secret"


class Origin:
    """``auth.test`` as the origin answers it; ``answers`` overrides per token."""

    def __init__(self) -> None:
        self.calls = 0
        self.answers: dict[str, tuple[int, dict[str, Any]]] = {}
        self.delay = 0.0

    async def __call__(self, request: httpx.Request) -> httpx.Response:
        assert request.url.path == "/api/auth.test"
        self.calls += 1
        await asyncio.sleep(self.delay)
        token = request.headers["authorization"].removeprefix("Bearer ")
        status, body = self.answers.get(
            token,
            (
                200,
                {
                    "ok": True,
                    "url": "https://acme.flannel.test/",
                    "team": "Acme",
                    "user": "alice",
                    "team_id": "T1",
                    "user_id": "U1",
                    "is_enterprise_install": False,
                },
            ),
        )
        return httpx.Response(status, content=orjson.dumps(body), headers={"Retry-After": "7"})


def checker(origin: Origin, ttl_s: float = 10.0, failure_ttl_s: float = 5.0) -> TokenChecker:
    return TokenChecker("http://origin", ttl_s, failure_ttl_s, transport=httpx.MockTransport(origin))


async def test_identity_is_cached() -> None:
    origin = Origin()
    tokens = checker(origin)
    who = await tokens.check(GOOD)
    assert (who.team_id, who.user_id, who.user_name, who.team_name, who.domain) == (
        "T1",
        "U1",
        "alice",
        "Acme",
        "acme",
    )
    assert who.body["url"] == "https://acme.flannel.test/" and "ok" not in who.body
    assert GOOD not in repr(who)
    await tokens.check(GOOD)
    assert origin.calls == 1 and (tokens.hits, tokens.misses) == (1, 1)
    await tokens.close()


async def test_concurrent_misses_share_one_call() -> None:
    origin = Origin()
    origin.delay = 0.05
    tokens = checker(origin)
    await asyncio.gather(*(tokens.check(GOOD) for _ in range(20)))
    assert origin.calls == 1
    await tokens.close()


async def test_revocation_is_honoured_after_the_short_ttl() -> None:
    origin = Origin()
    tokens = checker(origin, ttl_s=0.1, failure_ttl_s=0.1)
    await tokens.check(GOOD)
    origin.answers[GOOD] = (200, {"ok": False, "error": "token_revoked"})
    await asyncio.sleep(0.15)
    for _ in range(3):
        with pytest.raises(SlackError) as refused:
            await tokens.check(GOOD)
        assert refused.value.code == "token_revoked"
    assert origin.calls == 2  # the refusal is cached too
    await tokens.close()


async def test_refusals_are_cached_briefly() -> None:
    origin = Origin()
    origin.answers[BOT] = (200, {"ok": False, "error": "invalid_auth"})
    tokens = checker(origin, failure_ttl_s=0.1)
    for _ in range(2):
        with pytest.raises(SlackError, match="invalid_auth"):
            await tokens.check(BOT)
    assert origin.calls == 1
    await asyncio.sleep(0.15)
    del origin.answers[BOT]
    assert (await tokens.check(BOT)).user_id == "U1"
    await tokens.close()


@pytest.mark.parametrize(
    "token, code",
    [
        (None, "not_authed"),
        ("", "not_authed"),
        ("nope", "invalid_auth"),
        ("xoxp-U1-T1-x", "invalid_auth"),
        ("xoxp-T1-U1-" + "x" * 300, "invalid_auth"),
    ],
)
async def test_malformed_tokens_never_reach_the_origin(token: str | None, code: str) -> None:
    origin = Origin()
    tokens = checker(origin)
    with pytest.raises(SlackError) as refused:
        await tokens.check(token)
    assert refused.value.code == code and origin.calls == 0
    await tokens.close()


@pytest.mark.parametrize("batched", [False, True])
async def test_origin_trouble_is_not_cached(batched: bool) -> None:
    origin = BatchOrigin()
    origin.answers[GOOD] = (500, {"ok": False, "error": "internal_error"})
    tokens = batching(origin) if batched else checker(origin)
    with pytest.raises(SlackError) as failed:
        await tokens.check(GOOD)
    assert (failed.value.code, failed.value.status) == ("service_unavailable", 503)
    origin.answers[GOOD] = (429, {"ok": False, "error": "ratelimited"})
    with pytest.raises(SlackError) as limited:
        await tokens.check(GOOD)
    assert (limited.value.code, limited.value.status, limited.value.retry_after) == ("ratelimited", 429, 7)
    del origin.answers[GOOD]
    assert (await tokens.check(GOOD)).team_id == "T1"
    await tokens.close()


async def test_unreachable_origin() -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused")

    tokens = TokenChecker("http://origin", transport=httpx.MockTransport(refuse))
    with pytest.raises(SlackError, match="service_unavailable"):
        await tokens.check(GOOD)
    await tokens.close()


def test_token_shape_and_domain() -> None:
    assert well_formed(GOOD) and well_formed(BOT)
    assert not well_formed("xoxa-T1-U1-s") and not well_formed("xoxp-T1--s")
    assert domain_of("https://acme.slack.com/") == "acme"
    assert domain_of("http://127.0.0.1:8000/") is None and domain_of("http://localhost:8000/") is None


class BatchOrigin(Origin):
    """The origin's batch endpoint too: each token answered as ``auth.test`` would; a token
    whose answer is not HTTP 200 makes the whole call answer that (trouble at the origin)."""

    def __init__(self, has_batch: bool = True) -> None:
        super().__init__()
        self.has_batch = has_batch
        self.batches: list[list[str]] = []

    async def __call__(self, request: httpx.Request) -> httpx.Response:
        if request.url.path != TOKEN_CHECK_PATH:
            return await super().__call__(request)
        if not self.has_batch:
            return httpx.Response(404, content=b"{}")
        assert request.headers[SERVICE_HEADER] == "s3cret"
        tokens = orjson.loads(request.content)["tokens"]
        self.batches.append(tokens)
        await asyncio.sleep(self.delay)
        results = []
        for token in tokens:
            status, body = self.answers.get(token, (200, {**ANSWER, "user_id": token.split("-")[2]}))
            if status != 200:
                return httpx.Response(status, content=orjson.dumps(body), headers={"Retry-After": "7"})
            results.append(body)
        return httpx.Response(200, content=orjson.dumps({"ok": True, "results": results}))


ANSWER = {"ok": True, "url": "https://acme.flannel.test/", "team": "Acme", "user": "u", "team_id": "T1"}


def batching(origin: BatchOrigin) -> TokenChecker:
    return TokenChecker("http://origin", transport=httpx.MockTransport(origin), secret="s3cret")


async def test_new_tokens_arriving_together_are_checked_in_one_call() -> None:
    origin = BatchOrigin()
    origin.delay = 0.02
    origin.answers["xoxp-T1-U7-x"] = (200, {"ok": False, "error": "token_revoked"})
    tokens = batching(origin)
    many = [f"xoxp-T1-U{i}-x" for i in range(60)]
    answers = await asyncio.gather(*(tokens.check(t) for t in many), return_exceptions=True)
    assert len(origin.batches) == 1 and sorted(origin.batches[0]) == sorted(many)
    assert tokens.origin_calls == 1 and origin.calls == 0  # no auth.test one by one
    for i, answer in enumerate(answers):
        if i == 7:
            assert isinstance(answer, SlackError) and answer.code == "token_revoked"
        else:
            assert not isinstance(answer, BaseException) and answer.user_id == f"U{i}"
    again = await asyncio.gather(*(tokens.check(t) for t in many), return_exceptions=True)
    assert [getattr(a, "user_id", None) for a in again] == [getattr(a, "user_id", None) for a in answers]
    assert len(origin.batches) == 1  # identities and the refusal both cached
    await tokens.close()


async def test_tokens_arriving_during_a_call_share_the_next_one() -> None:
    origin = BatchOrigin()
    origin.delay = 0.05
    tokens = batching(origin)
    tokens._batches.max_inflight = 1
    first = asyncio.create_task(tokens.check("xoxp-T1-U1-x"))
    await asyncio.sleep(0.01)  # the first call is out
    later = [f"xoxp-T1-U{i}-x" for i in range(2, 30)]
    rest = await asyncio.gather(*(tokens.check(t) for t in [*later, "xoxp-T1-U1-x"]))
    assert (await first).user_id == "U1" and rest[-1].user_id == "U1"  # single-flight
    assert [len(b) for b in origin.batches] == [1, len(later)]
    await tokens.close()


async def test_an_origin_without_the_batch_endpoint_is_asked_one_by_one() -> None:
    origin = BatchOrigin(has_batch=False)
    tokens = batching(origin)
    who = await asyncio.gather(tokens.check(GOOD), tokens.check(BOT))
    assert [w.user_id for w in who] == ["U1", "U1"] and origin.calls == 2
    await tokens.check("xoxp-T1-U9-x")
    assert origin.calls == 3  # from now on straight to auth.test
    await tokens.close()
