"""Fixtures for the client SDK: the real stack (origin + edge processes, Redis), and spies.

``discovery_url`` is the router: clients only ever need its URL.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import httpx
import orjson

from client_sdk import Backoff
from client_sdk.sockets import Connector, RtmSocket, websockets_connector
from tests.flannel.conftest import Stack, stack

__all__ = ["CountingSocket", "CountingTransport", "Stack", "counting_connector", "discovery_url", "stack"]


def discovery_url(s: Stack) -> str:
    """The URL that answers ``rtm.connect``: the router, which places the client on an edge."""
    return s.router_api()


def fast_backoff() -> Backoff:
    return Backoff(base=0.05, cap=0.5)


class CountingTransport(httpx.AsyncBaseTransport):
    """A real HTTP transport that counts requests by Web API method."""

    def __init__(self) -> None:
        self.inner = httpx.AsyncHTTPTransport()
        self.calls: Counter[str] = Counter()

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.calls[request.url.path.rsplit("/", 1)[-1]] += 1
        return await self.inner.handle_async_request(request)

    async def aclose(self) -> None:
        await self.inner.aclose()


class CountingSocket:
    """Wraps a real socket; counts the query frames sent, by method."""

    def __init__(self, inner: RtmSocket, queries: Counter[str]) -> None:
        self.inner = inner
        self.queries = queries

    async def send(self, text: str) -> None:
        frame: dict[str, Any] = orjson.loads(text)
        if frame.get("type") == "query":
            self.queries[str(frame.get("method"))] += 1
        await self.inner.send(text)

    async def recv(self) -> str | bytes:
        return await self.inner.recv()

    async def close(self, code: int = 1000, reason: str = "") -> None:
        await self.inner.close(code, reason)


def counting_connector() -> tuple[Connector, Counter[str]]:
    queries: Counter[str] = Counter()
    real = websockets_connector()

    async def connect(url: str) -> RtmSocket:
        return CountingSocket(await real(url), queries)

    return connect, queries
