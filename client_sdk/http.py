"""The Web API over HTTP: Slack's conventions, one place that turns answers into errors.

Requests are ``POST /api/<method>`` with a JSON body and ``Authorization: Bearer``. An
``{"ok": false}`` answer raises the matching :class:`~client_sdk.errors.ApiError`; HTTP 429
raises :class:`~client_sdk.errors.RateLimited` with the server's ``Retry-After``, after
``retries`` waits of that length (a request refused with 429 was not applied, so it is safe
to send again, even a post). The httpx transport is injectable, which is how tests count
requests and fake servers.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

import httpx
import orjson

from client_sdk.errors import ApiError, ConnectionLost, RateLimited, RequestTimeout, api_error
from client_sdk.models import JSON

Sleep = Callable[[float], Awaitable[None]]
MAX_RETRY_AFTER = 60.0
"""Longer waits are not taken silently: the caller gets RateLimited and decides."""


def api_base(url: str) -> str:
    """``http://host:port`` or ``.../api`` or ``.../api/rtm.connect`` -> ``.../api/``."""
    url = url.rstrip("/")
    if url.endswith("/rtm.connect"):
        url = url[: -len("/rtm.connect")]
    if not url.endswith("/api"):
        url += "/api"
    return url + "/"


@dataclass(frozen=True, slots=True)
class Discovery:
    """``rtm.connect``'s answer: the WebSocket URL (with its one-use ticket), the API base, and
    the edge's id (named as ``failed_edge`` when it cannot be reached; None from an edge that
    answers for itself without saying)."""

    url: str
    api_url: str
    self_user: JSON
    team: JSON
    edge_id: str | None = None
    failover: bool = False

    @classmethod
    def from_json(cls, body: Mapping[str, Any], fallback_api: str) -> Discovery:
        url = body.get("url")
        if not isinstance(url, str) or not url:
            raise ApiError("invalid_response", {"detail": "rtm.connect returned no url"})
        api = body.get("api_url")
        me, team, edge = body.get("self"), body.get("team"), body.get("edge")
        edge_id = edge.get("id") if isinstance(edge, Mapping) else None
        return cls(
            url=url,
            api_url=api_base(api) if isinstance(api, str) and api else fallback_api,
            self_user=dict(me) if isinstance(me, Mapping) else {},
            team=dict(team) if isinstance(team, Mapping) else {},
            edge_id=edge_id if isinstance(edge_id, str) and edge_id else None,
            failover=body.get("failover") is True,
        )


class WebApi:
    """Calls Web API methods with one token; owns one pooled ``httpx.AsyncClient``."""

    def __init__(
        self,
        token: str,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        timeout: float = 10.0,
        retries: int = 2,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        self.retries = retries
        self._sleep = sleep
        self._http = httpx.AsyncClient(
            transport=transport,
            timeout=timeout,
            headers={"Authorization": f"Bearer {token}", "User-Agent": "flannel-client-sdk/0.1"},
        )

    async def call(
        self, base_url: str, method: str, args: Mapping[str, Any] | None = None, *, retries: int | None = None
    ) -> JSON:
        """``method`` at ``base_url``: the ``{"ok": true, ...}`` body, or the matching error."""
        left = self.retries if retries is None else retries
        while True:
            try:
                return await self._once(base_url, method, args or {})
            except RateLimited as exc:
                if left <= 0 or exc.retry_after > MAX_RETRY_AFTER:
                    raise
                left -= 1
                await self._sleep(exc.retry_after)

    async def _once(self, base_url: str, method: str, args: Mapping[str, Any]) -> JSON:
        try:
            resp = await self._http.post(
                base_url + method,
                content=orjson.dumps(dict(args)),
                headers={"Content-Type": "application/json"},
            )
        except httpx.TimeoutException as exc:
            raise RequestTimeout(f"{method}: no answer in time") from exc
        except httpx.HTTPError as exc:
            raise ConnectionLost(f"{method}: {exc!r}") from exc
        try:
            body = orjson.loads(resp.content)
        except orjson.JSONDecodeError:
            body = None
        if resp.status_code == 429:
            raise RateLimited(_retry_after(resp), body if isinstance(body, dict) else None)
        if not isinstance(body, dict):
            code = "service_unavailable" if resp.status_code >= 500 else "invalid_response"
            raise ApiError(code, {"detail": f"HTTP {resp.status_code}"}, status=resp.status_code)
        if not body.get("ok"):
            raise api_error(str(body.get("error") or "unknown_error"), body, resp.status_code)
        return body

    async def rtm_connect(
        self,
        router_url: str,
        region: str | None,
        resume_from: int | None,
        *,
        failed_edge: str | None = None,
    ) -> Discovery:
        """Discovery: which edge to connect to, with a ticket that resumes at ``resume_from``;
        ``failed_edge``: the edge we were given last and could not reach (or lost)."""
        args: JSON = {}
        if region:
            args["region"] = region
        if resume_from is not None:
            args["resume_from"] = resume_from
        if failed_edge:
            args["failed_edge"] = failed_edge
        base = api_base(router_url)
        body = await self.call(base, "rtm.connect", args, retries=0)
        return Discovery.from_json(body, base)

    async def aclose(self) -> None:
        await self._http.aclose()


def _retry_after(resp: httpx.Response) -> float:
    try:
        return max(0.0, float(resp.headers.get("retry-after", "1")))
    except ValueError:
        return 1.0
