"""One base URL: Web API calls the router does not answer, passed to the caller's edge.

A client that sets one base URL (the Node SDK's WebClient beside its RTM client, slack_sdk's
RTMClient beside its WebClient) calls every method at the router. The router sends each call
to the edge a connection of the caller's workspace would be placed on (warm, so it answers
from memory) and streams the edge's answer back unchanged: status, body and headers, so the
edge's rate limits (429 + ``Retry-After``) and Slack errors reach the client as the edge said
them. An edge that cannot be reached (the request never got there, so it is safe to send
again) is reported, as a client's ``failed_edge`` is, and the call goes to the next choice.

The caller's last write offset (``x-flannel-offset`` on the edge's answer) is remembered per
token and sent with its next calls (``x-flannel-after``), so read-your-writes holds even when
the next call lands on another edge.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from typing import Any

import httpx

from router.origin_calls import call_origin
from router.service import Router
from wire.errors import SlackError
from wire.http import AFTER_HEADER, OFFSET_HEADER
from wire.offsets import header_offset

#: Request headers passed to the edge (everything else is the router's or hop-by-hop).
FORWARDED = ("authorization", "content-type", "user-agent", "accept", AFTER_HEADER)
#: Answer headers never passed back (hop-by-hop, or recomputed by the router's server; the
#: body is passed back decoded, so not its encoding either).
HOP_BY_HOP = frozenset(
    {
        "connection",
        "keep-alive",
        "transfer-encoding",
        "content-length",
        "content-encoding",
        "date",
        "server",
        "upgrade",
    }
)
#: Edges tried for one call before giving up (each failure is reported).
MAX_ATTEMPTS = 3


@dataclass
class Answer:
    """The edge's answer, its body still streaming (``chunks``); ``close`` releases it."""

    status: int
    headers: dict[str, str]
    response: httpx.Response
    edge_id: str

    async def chunks(self) -> AsyncIterator[bytes]:
        try:
            async for chunk in self.response.aiter_bytes():
                yield chunk
        finally:
            await self.response.aclose()


class Offsets:
    """The last change-log offset each token's writes committed (bounded, least recently
    used forgotten): sent with that token's next calls so any edge waits for it."""

    def __init__(self, max_keys: int = 100_000) -> None:
        self._max_keys = max_keys
        self._by_key: OrderedDict[str, int] = OrderedDict()

    def get(self, key: str) -> int | None:
        return self._by_key.get(key)

    def note(self, key: str, offset: int) -> None:
        best = max(offset, self._by_key.pop(key, 0))
        self._by_key[key] = best
        while len(self._by_key) > self._max_keys:
            self._by_key.popitem(last=False)


def edge_headers(headers: Mapping[str, str], after: int | None) -> dict[str, str]:
    """The headers an edge gets: :data:`FORWARDED`, with ``x-flannel-after`` the larger of the
    client's (when it is a well-formed offset; any other value is dropped) and ``after``."""
    out = {name: headers[name] for name in FORWARDED if name in headers}
    asked = header_offset(out.pop(AFTER_HEADER, None))
    best = max(asked or 0, after or 0)
    if asked is not None or after is not None:
        out[AFTER_HEADER] = str(best)
    return out


def answer_headers(headers: httpx.Headers) -> dict[str, str]:
    return {k: v for k, v in headers.items() if k.lower() not in HOP_BY_HOP}


def written(headers: httpx.Headers) -> int | None:
    """The offset a write committed, from the edge's (or origin's) answer."""
    return header_offset(headers.get(OFFSET_HEADER))


class EdgeClient:
    """The router's pooled HTTP client for edges (and the origin's ``rtm.start``)."""

    def __init__(self, transport: httpx.AsyncBaseTransport | None = None, timeout_s: float = 30.0) -> None:
        self._http = httpx.AsyncClient(
            timeout=httpx.Timeout(timeout_s, connect=2.0, pool=30.0),
            transport=transport
            or httpx.AsyncHTTPTransport(
                limits=httpx.Limits(max_connections=200, max_keepalive_connections=200)
            ),
        )

    async def close(self) -> None:
        await self._http.aclose()

    async def send(
        self, verb: str, url: str, query: bytes, headers: dict[str, str], body: bytes
    ) -> httpx.Response:
        """The answer with its body unread; ``Unreachable`` when the request never arrived."""
        target = f"{url}?{query.decode('latin-1')}" if query else url
        request = self._http.build_request(verb, target, headers=headers, content=body or None)
        try:
            return await self._http.send(request, stream=True)
        except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout) as exc:
            raise Unreachable(repr(exc)) from exc
        except httpx.HTTPError as exc:  # it may have arrived: never sent twice
            raise SlackError("service_unavailable", f"the edge did not answer: {exc!r}", 503) from exc

    async def call(self, url: str, token: str, args: Mapping[str, Any]) -> dict[str, Any]:
        """One JSON call (the origin's ``rtm.start``), decoded; 503 when it cannot answer."""
        return await call_origin(self._http, url, token, args)


class Unreachable(Exception):
    """The request never reached the edge: it may go to another."""


def no_edge(detail: str) -> SlackError:
    return SlackError("service_unavailable", f"no edge could be reached: {detail}", 503)


class Forwarder:
    """Web API calls to the caller's edge, with failover; ``rtm.start`` with a working URL."""

    def __init__(self, router: Router, client: EdgeClient, origin_url: str) -> None:
        self.router = router
        self.client = client
        self.origin_url = origin_url.rstrip("/")
        self.offsets = Offsets()

    async def forward(
        self,
        name: str,
        verb: str,
        query: bytes,
        headers: Mapping[str, str],
        body: bytes,
        token: str | None,
        region: str,
    ) -> Answer:
        """The answer of the edge the caller's workspace is placed on (another one if that
        edge cannot be reached). A call without a token still goes to an edge: its answer
        (``not_authed``, or a method that needs none) is the edge's."""
        team, reporter, key = "", "anonymous", ""
        if token:
            who = await self.router.tokens.check(token)
            team, reporter, key = who.team_id, f"{who.team_id}:{who.user_id}", who.token_hash
        sent = edge_headers(headers, self.offsets.get(key) if key else None)
        avoid: set[str] = set()
        last = "no edge tried"
        for _ in range(MAX_ATTEMPTS):
            record = await self.router.edge_for(team, region, frozenset(avoid))
            try:
                response = await self.client.send(verb, f"{record.http_url}/api/{name}", query, sent, body)
            except Unreachable as exc:
                self.router.report(record.id, reporter)
                avoid.add(record.id)
                last = f"{record.id}: {exc}"
                continue
            offset = written(response.headers)
            if offset is not None and key:
                self.offsets.note(key, offset)
            return Answer(response.status_code, answer_headers(response.headers), response, record.id)
        raise no_edge(last)

    async def rtm_start(self, token: str | None, address: str, args: Mapping[str, Any]) -> dict[str, Any]:
        """Slack's ``rtm.start``: the origin's fat payload (the baseline), plus a working
        ``url`` (a ticket for the edge ``rtm.connect`` would choose) and that edge's API base."""
        fat = await self.client.call(f"{self.origin_url}/api/rtm.start", token or "", args)
        if fat.get("ok") is not True:
            raise SlackError(str(fat.get("error") or "internal_error"), str(fat.get("detail") or ""))
        connect = await self.router.connect(token, address, args)
        body = {k: v for k, v in fat.items() if k != "ok"}
        for part in ("self", "team"):
            given = body.get(part)
            body[part] = {**connect[part], **given} if isinstance(given, dict) else connect[part]
        return {**body, **{k: connect[k] for k in ("url", "api_url", "edge", "failover")}}
