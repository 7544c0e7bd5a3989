"""The edge's HTTP client for the origin: pooled, with timeouts, errors passed through.

Snapshots arrive as NDJSON pages and are yielded one page at a time, so a large workspace
is never held as one payload; forwarded Web API calls return the origin's answer verbatim
(status, body and ``Retry-After``), so a client sees the origin's own error codes. Many new
tokens are checked in one call (:meth:`OriginClient.check_tokens`, :mod:`wire.tokencheck`), and
many users' manual away is read in one (:meth:`OriginClient.manual_away`, :mod:`wire.presence`).

A storm's requests wait for a connection in an :class:`asyncio.Semaphore` (FIFO, constant
cost a waiter), not in httpx's pool: httpcore scans every queued request against every pooled
connection (a readability poll of each idle socket) each time a request arrives or ends, so
with a thousand queued requests (a connect storm's manual-away lookups) over 100 connections
the pool itself was most of the edge's CPU. The pool is small (32) for the same reason: one
origin process gains nothing from more requests in flight from one edge.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import httpx
import orjson

from wire.http import ACTING_HEADER, JSON_TYPE, OFFSET_HEADER, SERVICE_HEADER
from wire.presence import MANUAL_AWAY_PATH, manual_answer
from wire.tokencheck import TOKEN_CHECK_PATH, check_answer

T = TypeVar("T")


class NoBatchCheck(Exception):
    """The origin has no such batch endpoint (404): ask per item (``auth.test`` per token,
    ``users.getPresence`` per user)."""


class OriginError(Exception):
    """The origin could not be reached or answered something that is not Slack-shaped."""

    def __init__(self, code: str, detail: str = "") -> None:
        super().__init__(f"{code}: {detail}" if detail else code)
        self.code = code
        self.detail = detail


@dataclass
class Forwarded:
    status: int
    body: bytes
    retry_after: str | None
    offset: int | None = None  # the change-log offset a write committed (x-flannel-offset)


class OriginClient:
    """Everything the edge asks of the origin: snapshots, token checks, forwarded calls.

    One pooled HTTP client per edge, so a reconnect storm queues for connections instead of
    opening thousands. ``transport`` is httpx's: production uses a retrying pool, tests an
    ``httpx.MockTransport`` or an ``httpx.ASGITransport`` over an in-process origin app.
    """

    def __init__(
        self,
        base_url: str,
        secret: str,
        timeout_s: float = 10.0,
        max_connections: int = 32,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.secret = secret
        self.snapshot_loads = 0
        self._gate = asyncio.Semaphore(max_connections)  # see the module docstring
        self._http = httpx.AsyncClient(
            base_url=self.base_url,
            timeout=httpx.Timeout(timeout_s, read=max(timeout_s, 60.0), pool=60.0),  # storms queue, not fail
            transport=transport
            or httpx.AsyncHTTPTransport(  # retries failed connects; its own pool limits
                retries=3,
                limits=httpx.Limits(
                    max_connections=max_connections, max_keepalive_connections=max_connections
                ),
            ),
        )

    async def close(self) -> None:
        await self._http.aclose()

    async def ping(self) -> None:
        """Raise unless the origin answers its health check."""
        resp = await self._http.get("/healthz", timeout=2.0)
        resp.raise_for_status()

    async def snapshot(self, team_id: str) -> AsyncIterator[dict[str, Any]]:
        """The workspace's snapshot pages; raises OriginError if the stream is cut short."""
        self.snapshot_loads += 1
        try:
            async with (
                self._gate,
                self._http.stream(
                    "GET", f"/internal/snapshot/{team_id}", headers={SERVICE_HEADER: self.secret}
                ) as resp,
            ):
                if resp.status_code != 200:
                    body = orjson.loads(await resp.aread())
                    raise OriginError(str(body.get("error", "origin_error")), str(body.get("detail", "")))
                ended = False
                async for line in ndjson_lines(resp):
                    if not line.strip():
                        continue
                    page = orjson.loads(line)
                    ended = page.get("type") == "end"
                    yield page
                if not ended:
                    raise OriginError("snapshot_truncated", team_id)
        except httpx.HTTPError as exc:
            raise OriginError("origin_unreachable", str(exc)) from exc

    async def forward(
        self, method: str, token: str | None, args: dict[str, Any], acting: str | None = None
    ) -> Forwarded:
        """Call ``method`` at the origin as the client would; return its answer as is.

        ``acting`` (``TEAM:USER``) calls as that user with the service secret instead of a
        token: how WebSocket queries, which carry no token, reach the origin.
        """
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        if acting:
            headers = {SERVICE_HEADER: self.secret, ACTING_HEADER: acting}
        try:
            async with self._gate:
                resp = await self._http.post(
                    f"/api/{method}",
                    content=orjson.dumps(args),
                    headers={**headers, "content-type": JSON_TYPE},
                )
        except httpx.HTTPError as exc:
            raise OriginError("origin_unreachable", repr(exc)) from exc
        committed = resp.headers.get(OFFSET_HEADER, "")
        offset = int(committed) if committed.isdigit() else None
        return Forwarded(resp.status_code, resp.content, resp.headers.get("retry-after"), offset)

    async def check_tokens(self, tokens: list[str]) -> list[dict[str, Any]]:
        """``auth.test``'s answer for each token, in one call to the origin's batch endpoint;
        :class:`NoBatchCheck` when the origin has none, OriginError on trouble."""
        status, answer = await self._batch_post(TOKEN_CHECK_PATH, {"tokens": tokens}, "token check")
        return self._parsed(lambda: check_answer(answer, len(tokens)), status, "token check")

    async def manual_away(self, pairs: list[tuple[str, str]]) -> list[bool]:
        """Whether each (team_id, user_id) set manual away, in one call to the origin's batch
        endpoint; :class:`NoBatchCheck` when the origin has none, OriginError on trouble."""
        payload = {"users": [list(p) for p in pairs]}
        status, answer = await self._batch_post(MANUAL_AWAY_PATH, payload, "manual away")
        return self._parsed(lambda: manual_answer(answer, len(pairs)), status, "manual away")

    async def _batch_post(self, path: str, payload: dict[str, Any], what: str) -> tuple[int, Any]:
        """POST ``payload`` to one of the origin's batch endpoints with the service secret:
        (status, decoded JSON); :class:`NoBatchCheck` on 404 (an origin without it)."""
        try:
            async with self._gate:
                resp = await self._http.post(
                    path,
                    content=orjson.dumps(payload),
                    headers={SERVICE_HEADER: self.secret, "content-type": JSON_TYPE},
                )
        except httpx.HTTPError as exc:
            raise OriginError("origin_unreachable", repr(exc)) from exc
        if resp.status_code == 404:
            raise NoBatchCheck(path)
        try:
            return resp.status_code, orjson.loads(resp.content)
        except orjson.JSONDecodeError as exc:
            raise OriginError("origin_error", f"{what}: HTTP {resp.status_code}") from exc

    @staticmethod
    def _parsed(parse: Callable[[], T], status: int, what: str) -> T:
        """``parse()``, with a malformed answer (ValueError) reported as OriginError."""
        try:
            return parse()
        except ValueError as exc:
            raise OriginError("origin_error", f"{what}: HTTP {status}") from exc

    async def call(
        self, method: str, token: str | None, args: dict[str, Any], acting: str | None = None
    ) -> dict[str, Any]:
        """Call ``method`` and decode its JSON answer."""
        return decoded(await self.forward(method, token, args, acting))


def decoded(answer: Forwarded) -> dict[str, Any]:
    """A forwarded answer's JSON body; OriginError when it is not JSON."""
    try:
        body = orjson.loads(answer.body)
    except orjson.JSONDecodeError as exc:
        raise OriginError("origin_error", f"HTTP {answer.status}") from exc
    if not isinstance(body, dict):
        raise OriginError("origin_error", f"HTTP {answer.status}")
    return body


async def ndjson_lines(resp: httpx.Response) -> AsyncIterator[bytes]:
    """The lines of an NDJSON stream, split at ``\\n`` only: httpx's ``aiter_lines`` also splits
    at U+2028, U+2029 and U+0085, which JSON carries unescaped inside strings (a message
    with a line separator in its text would cut a snapshot page in two)."""
    line = bytearray()  # a page's line may span many chunks: appended, never re-copied
    async for chunk in resp.aiter_bytes():
        start = 0
        while (end := chunk.find(b"\n", start)) >= 0:
            line += chunk[start:end]
            yield bytes(line)
            line.clear()
            start = end + 1
        line += chunk[start:]
    if line:
        yield bytes(line)
