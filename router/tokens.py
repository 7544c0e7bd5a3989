"""Token checks: the origin's ``auth.test``, cached for a short TTL.

Every connect needs the caller's team (placement is keyed by it) and names for the answer, and
a reconnect storm must not become an ``auth.test`` storm at the origin; so answers are cached
(in-process, keyed by the token's SHA-256, never the token), and, given the service secret,
the tokens new at one moment are checked together: one call to the origin's batch endpoint
(:mod:`wire.tokencheck`) for up to 500 of them, at most two such calls at a time. The TTL is
short because the router does not follow the change log: a revoked token is refused again
within ``ttl_s``. A refusal (``invalid_auth``, ``token_revoked``, ...) is cached too, more
briefly, so a client retrying a dead token does not hammer the origin. Trouble at the origin
itself is never cached.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import httpx
import orjson

from router.origin_calls import call_origin
from wire.batching import BatchCalls
from wire.errors import RateLimited, SlackError
from wire.http import JSON_TYPE, SERVICE_HEADER
from wire.tokencheck import MAX_TOKENS, TOKEN_CHECK_PATH, check_answer
from wire.tokens import token_hash
from wire.ttlcache import TtlCache

#: ``auth.test`` errors that are the token's fault: final, cached as refusals.
REFUSALS = frozenset(
    {"not_authed", "invalid_auth", "token_revoked", "token_expired", "account_inactive", "no_permission"}
)
MAX_TOKEN_CHARS = 256


def well_formed(token: str) -> bool:
    """``xoxp-T...-U...-secret`` / ``xoxb-...``: anything else is refused without asking."""
    parts = token.split("-")
    return (
        len(token) <= MAX_TOKEN_CHARS
        and token.isascii()
        and token.isprintable()
        and len(parts) == 4
        and parts[0] in ("xoxp", "xoxb")
        and parts[1].startswith("T")
        and all(parts)
    )


def domain_of(url: str) -> str | None:
    """Slack's ``auth.test`` url is ``https://<domain>.slack.com/``: the domain is its first
    label. An origin answering with a bare host or address (a development origin) has none."""
    host = urlsplit(url).hostname or ""
    labels = host.split(".")
    if len(labels) < 3 or all(label.isdigit() for label in labels):
        return None
    return labels[0]


@dataclass(frozen=True)
class Identity:
    """Who a token is, from ``auth.test``; ``body`` is the origin's answer, served back as is."""

    team_id: str
    user_id: str
    user_name: str
    team_name: str
    domain: str | None
    token_hash: str
    body: dict[str, Any] = field(default_factory=dict, compare=False)


@dataclass(frozen=True)
class Refusal:
    code: str


class TokenChecker:
    """Who a token is, answered by the origin's ``auth.test`` and cached briefly.

    The router needs the workspace before it can place a connection, but must not turn a
    reconnect storm into an ``auth.test`` storm: answers are cached by token hash, concurrent
    misses of one token share one call, and refusals are cached too (more briefly). Trouble
    at the origin is never cached; it is ``service_unavailable`` (503) or ``ratelimited``.
    """

    def __init__(
        self,
        origin_url: str,
        ttl_s: float = 10.0,
        failure_ttl_s: float = 5.0,
        timeout_s: float = 5.0,
        transport: httpx.AsyncBaseTransport | None = None,
        secret: str | None = None,
        max_cached: int = 100_000,
    ) -> None:
        self.ttl_s = ttl_s
        self.failure_ttl_s = failure_ttl_s
        self.secret = secret  # given: new tokens are checked in batches
        # A connect storm queues for the pool (up to a minute) rather than failing at once.
        self._http = httpx.AsyncClient(
            base_url=origin_url.rstrip("/"),
            timeout=httpx.Timeout(timeout_s, read=max(timeout_s, 30.0), pool=60.0),
            transport=transport
            or httpx.AsyncHTTPTransport(  # retries failed connects; its own pool limits
                retries=3, limits=httpx.Limits(max_connections=100, max_keepalive_connections=100)
            ),
        )
        self._known: TtlCache[Identity] = TtlCache(ttl_s, max_cached)
        self._refused: TtlCache[Refusal] = TtlCache(failure_ttl_s, max_cached)
        self._inflight: dict[str, asyncio.Task[Identity | Refusal]] = {}
        self._batches: BatchCalls[str, Identity | Refusal | SlackError] = BatchCalls(
            self._ask_many, MAX_TOKENS, max_inflight=2
        )
        self.hits = 0
        self.misses = 0
        self._single_calls = 0
        self._batch_supported = True

    @property
    def origin_calls(self) -> int:
        """Round trips to the origin for token checks (one a batch, or one a token)."""
        return self._batches.calls + self._single_calls

    async def ping_origin(self) -> bool:
        """Whether the origin answers its health check (for the router's /readyz)."""
        try:
            resp = await self._http.get("/healthz", timeout=2.0)
        except httpx.HTTPError:
            return False
        return resp.status_code == 200

    async def close(self) -> None:
        await self._http.aclose()

    async def check(self, token: str | None) -> Identity:
        """The token's identity, or :class:`SlackError` with Slack's code (``not_authed``, ...)."""
        if not token:
            raise SlackError("not_authed")
        if not well_formed(token):
            raise SlackError("invalid_auth")
        key = token_hash(token)
        cached: Identity | Refusal | SlackError | None = self._known.get(key) or self._refused.get(key)
        if cached is not None:
            self.hits += 1
        else:
            self.misses += 1
            if self.secret is not None and self._batch_supported:
                cached = await self._batches.get(token)
            else:
                cached = await self._single_flight(key, token)
        if isinstance(cached, Refusal):
            raise SlackError(cached.code)
        if isinstance(cached, SlackError):  # shared by a batch's waiters: each raises its own
            raise SlackError(cached.code, cached.detail, cached.status)
        return cached

    async def _ask_many(self, tokens: list[str]) -> list[Identity | Refusal | SlackError]:
        """One call to the origin's batch endpoint for ``tokens``; each answer is cached as
        :meth:`_fetch` caches one. An origin without the endpoint (404) is asked one by one."""
        assert self.secret is not None
        try:
            resp = await self._http.post(
                TOKEN_CHECK_PATH,
                content=orjson.dumps({"tokens": tokens}),
                headers={SERVICE_HEADER: self.secret, "content-type": JSON_TYPE},
            )
        except httpx.HTTPError as exc:
            raise SlackError("service_unavailable", f"origin unreachable: {exc!r}", 503) from exc
        if resp.status_code == 404:
            self._batch_supported = False
            return list(await asyncio.gather(*(self._one_of_many(t) for t in tokens)))
        if resp.status_code == 429:
            wait = int(resp.headers.get("retry-after", "1") or 1)
            raise RateLimited(wait, f"retry after {wait}s")
        try:
            results = check_answer(orjson.loads(resp.content), len(tokens))
        except (orjson.JSONDecodeError, ValueError) as exc:
            raise SlackError(
                "service_unavailable", f"origin token check: HTTP {resp.status_code}", 503
            ) from exc
        out: list[Identity | Refusal | SlackError] = []
        for token, body in zip(tokens, results, strict=True):
            try:
                out.append(self._remember(token_hash(token), self._answer(token_hash(token), body)))
            except SlackError as exc:
                out.append(exc)
        return out

    async def _one_of_many(self, token: str) -> Identity | Refusal | SlackError:
        try:
            return await self._single_flight(token_hash(token), token)
        except SlackError as exc:
            return exc

    async def _single_flight(self, key: str, token: str) -> Identity | Refusal:
        """Concurrent misses of one token share one ``auth.test``, run in a task of its own so
        that a caller who goes away does not cancel it for the others."""
        task = self._inflight.get(key)
        if task is None:
            task = asyncio.create_task(self._fetch(key, token))
            self._inflight[key] = task
            task.add_done_callback(lambda done: self._settled(key, done))
        return await asyncio.shield(task)

    def _settled(self, key: str, task: asyncio.Task[Identity | Refusal]) -> None:
        self._inflight.pop(key, None)
        if not task.cancelled():
            task.exception()  # retrieved here, in case every waiter went away

    async def _fetch(self, key: str, token: str) -> Identity | Refusal:
        self._single_calls += 1
        return self._remember(key, await self._ask(key, token))

    def _remember(self, key: str, result: Identity | Refusal) -> Identity | Refusal:
        if isinstance(result, Identity):
            self._known.set(key, result)
        else:
            self._refused.set(key, result)
        return result

    async def _ask(self, key: str, token: str) -> Identity | Refusal:
        return self._answer(key, await call_origin(self._http, "/api/auth.test", token))

    def _answer(self, key: str, body: dict[str, Any]) -> Identity | Refusal:
        """``auth.test``'s answer as an identity, a refusal, or (trouble) SlackError."""
        if body.get("ok") is True and body.get("team_id") and body.get("user_id"):
            answer = {k: v for k, v in body.items() if k != "ok"}
            return Identity(
                team_id=str(body["team_id"]),
                user_id=str(body["user_id"]),
                user_name=str(body.get("user") or body["user_id"]),
                team_name=str(body.get("team") or body["team_id"]),
                domain=domain_of(str(body.get("url", ""))),
                token_hash=key,
                body=answer,
            )
        code = str(body.get("error", ""))
        if code in REFUSALS:
            return Refusal(code)
        raise SlackError("service_unavailable", f"origin auth.test failed: {code or 'no error code'}", 503)
